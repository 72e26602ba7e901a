//! Bringing an index up to date with the files on disk, in three steps that `avx index`, `examples/library.rs`
//! and any future caller share:
//!
//! 1. [`walk`]: the audio files under some roots (excludes, `--shard`, symlinks), sorted.
//! 2. [`plan()`]: a pure comparison of that walk with what the index holds: which files are new, changed, moved
//!    (a new path with a vanished file's content hash), gone, or unchanged. Nothing is written.
//! 3. [`apply()`]: relinks the moves, embeds what needs embedding (the model is loaded only then), commits in
//!    batches from a storing thread (content hashes and commits stay off the inference thread), removes what is
//!    gone, and runs index maintenance once at the end.

mod apply;
mod plan;
mod walk;

pub use apply::{apply, ApplyOptions, Progress, Report};
pub use plan::{plan, Disk, Embed, Known, Move, Plan, RealDisk, Reason};
pub use walk::{walk, Walk, WalkOptions, AUDIO_EXTENSIONS};

use std::path::Path;

use avx_index::FileMeta;

/// Size and modification time of a file on disk: what says a file is unchanged since it was indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    /// Nanoseconds since the Unix epoch (0 when the platform gives no modification time).
    pub mtime_ns: i64,
}

impl Stat {
    /// The size and modification time of `path` (following symlinks).
    pub fn of(path: &Path) -> std::io::Result<Stat> {
        let m = std::fs::metadata(path)?;
        let mtime_ns = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        Ok(Stat {
            size: m.len(),
            mtime_ns,
        })
    }

    /// Whether the indexed file `f` was indexed from a file of this size and modification time.
    pub fn matches(&self, f: &FileMeta) -> bool {
        f.size == self.size && f.mtime_ns == self.mtime_ns
    }
}

/// xxh3-128 of a file's bytes: the content hash that recognises moved files.
pub fn content_hash(path: &Path) -> std::io::Result<u128> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.digest128())
}
