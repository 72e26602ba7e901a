//! [`walk`]: the audio files under the roots avx is asked to index.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::error::{CoreError, Result};

/// File name extensions avx looks at when walking a directory. Formats avx cannot decode (WMA) are listed
/// so that they are reported as unsupported rather than silently ignored.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "aif", "aiff", "aifc", "flac", "mp3", "mp2", "m4a", "mp4", "aac", "adts",
    "alac", "caf", "ogg", "oga", "mka", "opus", "wma", "webm",
];

/// What to walk.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions<'a> {
    /// Files and directories; each is made absolute (canonical).
    pub paths: &'a [PathBuf],
    /// Globs matched against the absolute path and the path relative to its root.
    pub exclude: &'a [String],
    pub follow_links: bool,
    /// Keep only the files of this shard.
    pub shard: Option<avx_index::Shard>,
}

/// The result of a walk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Walk {
    /// The canonical roots: indexed files under them that have vanished are removed from the index.
    pub roots: Vec<PathBuf>,
    /// Every audio file found, sorted, without duplicates.
    pub files: Vec<PathBuf>,
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn excludes(globs: &[String]) -> Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        let glob = Glob::new(g)
            .map_err(|e| CoreError::Invalid(format!("bad --exclude glob '{g}': {e}")))?;
        b.add(glob);
    }
    b.build()
        .map_err(|e| CoreError::Invalid(format!("bad --exclude globs: {e}")))
}

/// Every audio file under the roots (of `opts.shard` only, when given). An unreadable directory entry is passed to
/// `warn` and skipped; a root that does not exist is an error naming it.
pub fn walk(opts: &WalkOptions, warn: &mut dyn FnMut(String)) -> Result<Walk> {
    let ex = excludes(opts.exclude)?;
    let mut roots = Vec::new();
    let mut found = Vec::new();
    for p in opts.paths {
        let root = p.canonicalize().map_err(|e| CoreError::io(p, e))?;
        if root.is_file() {
            found.push(root.clone());
        } else {
            for entry in walkdir::WalkDir::new(&root).follow_links(opts.follow_links) {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        warn(format!("{e}"));
                        continue;
                    }
                };
                let path = entry.path();
                if !(entry.file_type().is_file() || opts.follow_links && path.is_file()) {
                    continue;
                }
                let rel = path.strip_prefix(&root).unwrap_or(path);
                if ex.is_match(path) || ex.is_match(rel) || !is_audio(path) {
                    continue;
                }
                found.push(path.to_path_buf());
            }
        }
        roots.push(root);
    }
    if let Some(shard) = opts.shard {
        found.retain(|p| shard.contains(p));
    }
    found.sort();
    found.dedup();
    Ok(Walk {
        roots,
        files: found,
    })
}
