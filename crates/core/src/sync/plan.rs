//! [`plan()`]: what bringing the index up to date would do, decided without writing anything.
//!
//! The comparison is pure: the index is given as a list of [`Known`] files and the file system as a [`Disk`], so
//! the tests below check plans against a made-up disk.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use avx_index::{FileMeta, FileStatus};

use super::{content_hash, Stat, Walk};

/// What the planner needs to know about an indexed file.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub path: PathBuf,
    pub stat: Stat,
    pub content_hash: Option<u128>,
    /// The file failed to embed last time (it is retried only on request).
    pub failed: bool,
    /// It failed because an earlier avx could not decode its codec, which this one decodes
    /// ([`avx_embed::decode::now_decodable`]): retried unasked.
    pub newly_supported: bool,
}

impl From<&FileMeta> for Known {
    fn from(f: &FileMeta) -> Known {
        Known {
            path: f.path.clone(),
            stat: Stat {
                size: f.size,
                mtime_ns: f.mtime_ns,
            },
            content_hash: f.content_hash,
            failed: f.status != FileStatus::Ok,
            newly_supported: newly_supported(f.status, f.error.as_deref()),
        }
    }
}

/// Whether a file failed because an earlier avx could not decode its codec, which this one decodes.
fn newly_supported(status: FileStatus, error: Option<&str>) -> bool {
    status != FileStatus::Ok && error.is_some_and(avx_embed::decode::now_decodable)
}

/// The file system as the planner sees it.
pub trait Disk {
    fn stat(&self, path: &Path) -> std::io::Result<Stat>;
    fn exists(&self, path: &Path) -> bool;
    fn content_hash(&self, path: &Path) -> std::io::Result<u128>;
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealDisk;

impl Disk for RealDisk {
    fn stat(&self, path: &Path) -> std::io::Result<Stat> {
        Stat::of(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn content_hash(&self, path: &Path) -> std::io::Result<u128> {
        content_hash(path)
    }
}

/// Why a file is to be embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not in the index.
    New,
    /// In the index with another size or modification time.
    Changed,
    /// Unchanged, but it failed last time and a retry was asked for.
    RetryFailed,
}

/// A file to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct Embed {
    pub path: PathBuf,
    pub stat: Stat,
    pub reason: Reason,
    /// Already computed while looking for moves (else the storing side computes it).
    pub content_hash: Option<u128>,
}

/// An indexed file that vanished and reappeared, with the same content, at a new path.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub from: PathBuf,
    pub to: PathBuf,
    pub stat: Stat,
}

/// What [`apply`](super::apply()) will do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Files to embed, in walk order.
    pub embed: Vec<Embed>,
    pub moves: Vec<Move>,
    /// Indexed files under the walk's roots that no longer exist.
    pub remove: Vec<PathBuf>,
    pub unchanged: u64,
    /// The unchanged files with their content hash (a sound print missing for one is made without re-embedding).
    pub unchanged_files: Vec<(PathBuf, u128)>,
    /// Unchanged files that failed last time and are not retried.
    pub skipped_failed: u64,
    /// Files found by the walk that could not be examined, with a message naming the file.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl Plan {
    /// Whether applying the plan needs the model.
    pub fn needs_model(&self) -> bool {
        !self.embed.is_empty()
    }

    /// One line per decision, for tests and debugging: `new PATH`, `changed PATH`, `retry PATH`,
    /// `move FROM -> TO`, `remove PATH`, `unreadable PATH`, then the `unchanged` and `skipped_failed` counts.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for e in &self.embed {
            let what = match e.reason {
                Reason::New => "new",
                Reason::Changed => "changed",
                Reason::RetryFailed => "retry",
            };
            let _ = writeln!(s, "{what} {}", e.path.display());
        }
        for m in &self.moves {
            let _ = writeln!(s, "move {} -> {}", m.from.display(), m.to.display());
        }
        for p in &self.remove {
            let _ = writeln!(s, "remove {}", p.display());
        }
        for (p, _) in &self.unreadable {
            let _ = writeln!(s, "unreadable {}", p.display());
        }
        let _ = write!(
            s,
            "unchanged {}, skipped_failed {}",
            self.unchanged, self.skipped_failed
        );
        s
    }
}

/// Compares the `walk` with the `indexed` files. New paths are hashed only when some indexed file under the
/// roots has vanished (a move is then possible); `retry_failed` embeds unchanged files that failed last time.
pub fn plan(
    walk: &Walk,
    indexed: impl IntoIterator<Item = Known>,
    disk: &dyn Disk,
    retry_failed: bool,
) -> Plan {
    let indexed: HashMap<PathBuf, Known> =
        indexed.into_iter().map(|k| (k.path.clone(), k)).collect();
    let mut plan = Plan::default();
    let mut seen: HashSet<&Path> = HashSet::new();
    for path in &walk.files {
        let stat = match disk.stat(path) {
            Ok(s) => s,
            Err(e) => {
                plan.unreadable
                    .push((path.clone(), format!("{}: {e}", path.display())));
                continue;
            }
        };
        seen.insert(path);
        let reason = match indexed.get(path) {
            Some(k) if k.stat == stat => {
                if !k.failed {
                    plan.unchanged += 1;
                    if let Some(h) = k.content_hash {
                        plan.unchanged_files.push((path.clone(), h));
                    }
                    continue;
                } else if retry_failed || k.newly_supported {
                    Reason::RetryFailed
                } else {
                    plan.skipped_failed += 1;
                    continue;
                }
            }
            Some(_) => Reason::Changed,
            None => Reason::New,
        };
        plan.embed.push(Embed {
            path: path.clone(),
            stat,
            reason,
            content_hash: None,
        });
    }

    // Indexed files under these roots that are gone.
    let mut missing: Vec<&Known> = indexed
        .values()
        .filter(|k| {
            walk.roots.iter().any(|r| k.path.starts_with(r))
                && !seen.contains(k.path.as_path())
                && !disk.exists(&k.path)
        })
        .collect();
    missing.sort_by(|a, b| a.path.cmp(&b.path));

    // Moved files: a new path whose content hash is a missing file's (the first missing file in path order).
    let mut gone_by_hash: HashMap<u128, &Path> = HashMap::new();
    for k in missing.iter().rev() {
        if let Some(h) = k.content_hash {
            gone_by_hash.insert(h, &k.path);
        }
    }
    let mut moved_from: HashSet<&Path> = HashSet::new();
    if !gone_by_hash.is_empty() {
        let mut keep = Vec::with_capacity(plan.embed.len());
        for mut e in std::mem::take(&mut plan.embed) {
            if e.reason == Reason::New {
                if let Ok(h) = disk.content_hash(&e.path) {
                    if let Some(from) = gone_by_hash.remove(&h) {
                        moved_from.insert(from);
                        plan.moves.push(Move {
                            from: from.to_path_buf(),
                            to: e.path,
                            stat: e.stat,
                        });
                        continue;
                    }
                    e.content_hash = Some(h);
                }
            }
            keep.push(e);
        }
        plan.embed = keep;
    }
    plan.remove = missing
        .iter()
        .map(|k| k.path.as_path())
        .filter(|p| !moved_from.contains(p))
        .map(Path::to_path_buf)
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of the made-up disk: size, mtime and content hash; `None` cannot be read.
    type FakeFile = Option<(u64, i64, u128)>;

    /// A made-up disk.
    #[derive(Default)]
    struct FakeDisk(HashMap<PathBuf, FakeFile>);

    impl FakeDisk {
        fn with(files: &[(&str, FakeFile)]) -> FakeDisk {
            FakeDisk(files.iter().map(|(p, f)| (PathBuf::from(p), *f)).collect())
        }
    }

    impl Disk for FakeDisk {
        fn stat(&self, path: &Path) -> std::io::Result<Stat> {
            match self.0.get(path) {
                Some(Some((size, mtime_ns, _))) => Ok(Stat {
                    size: *size,
                    mtime_ns: *mtime_ns,
                }),
                _ => Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
            }
        }
        fn exists(&self, path: &Path) -> bool {
            self.0.contains_key(path)
        }
        fn content_hash(&self, path: &Path) -> std::io::Result<u128> {
            match self.0.get(path) {
                Some(Some((_, _, h))) => Ok(*h),
                _ => Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
            }
        }
    }

    fn known(path: &str, size: u64, mtime_ns: i64, hash: u128, failed: bool) -> Known {
        Known {
            path: path.into(),
            stat: Stat { size, mtime_ns },
            content_hash: Some(hash),
            failed,
            newly_supported: false,
        }
    }

    /// Plans the walk of `files` (every file on the fake disk under `/lib` that the walk would find) under the
    /// root `/lib` and compares the plan's description with `expected`.
    fn check(disk: &FakeDisk, indexed: Vec<Known>, retry: bool, expected: &str) {
        let mut files: Vec<PathBuf> = disk
            .0
            .keys()
            .filter(|p| p.starts_with("/lib"))
            .cloned()
            .collect();
        files.sort();
        let walk = Walk {
            roots: vec!["/lib".into()],
            files,
        };
        let got = plan(&walk, indexed, disk, retry).describe();
        assert_eq!(
            got, expected,
            "\n--- got:\n{got}\n--- expected:\n{expected}"
        );
    }

    #[test]
    fn empty_index_embeds_everything_new() {
        let disk = FakeDisk::with(&[
            ("/lib/a.wav", Some((1, 1, 10))),
            ("/lib/b.wav", Some((2, 2, 20))),
        ]);
        check(
            &disk,
            vec![],
            false,
            "new /lib/a.wav\nnew /lib/b.wav\nunchanged 0, skipped_failed 0",
        );
    }

    #[test]
    fn same_size_and_mtime_is_unchanged_and_others_changed() {
        let disk = FakeDisk::with(&[
            ("/lib/a.wav", Some((1, 1, 10))),
            ("/lib/b.wav", Some((2, 3, 20))),
        ]);
        check(
            &disk,
            vec![
                known("/lib/a.wav", 1, 1, 10, false),
                known("/lib/b.wav", 2, 2, 20, false),
            ],
            false,
            "changed /lib/b.wav\nunchanged 1, skipped_failed 0",
        );
    }

    #[test]
    fn a_failure_an_earlier_avx_could_not_decode_is_retried_unasked() {
        let disk = FakeDisk::with(&[
            ("/lib/a.opus", Some((1, 1, 10))),
            ("/lib/b.wma", Some((1, 1, 11))),
        ]);
        // What avx before Opus decoding recorded, and what it still records for WMA.
        let opus = "/lib/a.opus: unsupported: Opus audio";
        let wma = "/lib/b.wma: unsupported: unrecognised container format (expected WAV, ...)";
        assert!(newly_supported(FileStatus::Failed, Some(opus)));
        assert!(!newly_supported(FileStatus::Failed, Some(wma)));
        assert!(!newly_supported(FileStatus::Ok, Some(opus)));
        let mut a = known("/lib/a.opus", 1, 1, 10, true);
        a.newly_supported = true;
        let idx = vec![a, known("/lib/b.wma", 1, 1, 11, true)];
        check(
            &disk,
            idx,
            false,
            "retry /lib/a.opus\nunchanged 0, skipped_failed 1",
        );
    }

    #[test]
    fn failed_files_are_skipped_unless_retried() {
        let disk = FakeDisk::with(&[("/lib/a.wav", Some((1, 1, 10)))]);
        let idx = || vec![known("/lib/a.wav", 1, 1, 10, true)];
        check(&disk, idx(), false, "unchanged 0, skipped_failed 1");
        check(
            &disk,
            idx(),
            true,
            "retry /lib/a.wav\nunchanged 0, skipped_failed 0",
        );
    }

    #[test]
    fn a_vanished_file_with_the_hash_of_a_new_path_is_a_move() {
        let disk = FakeDisk::with(&[
            ("/lib/new/a.wav", Some((1, 5, 10))),
            ("/lib/c.wav", Some((3, 3, 30))),
        ]);
        check(
            &disk,
            vec![known("/lib/old/a.wav", 1, 1, 10, false), known("/lib/b.wav", 2, 2, 20, false)],
            false,
            "new /lib/c.wav\nmove /lib/old/a.wav -> /lib/new/a.wav\nremove /lib/b.wav\nunchanged 0, skipped_failed 0",
        );
    }

    #[test]
    fn two_copies_of_a_vanished_file_move_once_and_the_other_is_new() {
        let disk = FakeDisk::with(&[
            ("/lib/x.wav", Some((1, 5, 10))),
            ("/lib/y.wav", Some((1, 5, 10))),
        ]);
        check(
            &disk,
            vec![known("/lib/old.wav", 1, 1, 10, false)],
            false,
            "new /lib/y.wav\nmove /lib/old.wav -> /lib/x.wav\nunchanged 0, skipped_failed 0",
        );
    }

    #[test]
    fn files_outside_the_roots_or_still_on_disk_are_kept() {
        // /other is not under the walked root; /lib/excluded.wav exists but the walk left it out (an --exclude).
        let mut disk = FakeDisk::with(&[("/lib/a.wav", Some((1, 1, 10)))]);
        check(
            &disk,
            vec![
                known("/lib/a.wav", 1, 1, 10, false),
                known("/other/b.wav", 2, 2, 20, false),
            ],
            false,
            "unchanged 1, skipped_failed 0",
        );
        disk.0.insert("/outside-walk".into(), Some((9, 9, 90)));
        let walk = Walk {
            roots: vec!["/".into()],
            files: vec!["/lib/a.wav".into()],
        };
        let p = plan(
            &walk,
            vec![
                known("/lib/a.wav", 1, 1, 10, false),
                known("/outside-walk", 9, 9, 90, false),
            ],
            &disk,
            false,
        );
        assert_eq!(p.describe(), "unchanged 1, skipped_failed 0");
    }

    #[test]
    fn an_unreadable_file_is_listed_and_not_removed() {
        let disk = FakeDisk::with(&[("/lib/a.wav", None)]);
        let walk = Walk {
            roots: vec!["/lib".into()],
            files: vec!["/lib/a.wav".into()],
        };
        let p = plan(
            &walk,
            vec![known("/lib/a.wav", 1, 1, 10, false)],
            &disk,
            false,
        );
        assert_eq!(
            p.describe(),
            "unreadable /lib/a.wav\nunchanged 0, skipped_failed 0"
        );
        assert!(
            p.unreadable[0].1.starts_with("/lib/a.wav: "),
            "{:?}",
            p.unreadable
        );
    }

    #[test]
    fn new_paths_are_hashed_only_when_a_move_is_possible() {
        let disk = FakeDisk::with(&[("/lib/a.wav", Some((1, 1, 10)))]);
        let walk = Walk {
            roots: vec!["/lib".into()],
            files: vec!["/lib/a.wav".into()],
        };
        let p = plan(&walk, vec![], &disk, false);
        assert_eq!(p.embed[0].content_hash, None);
        let p = plan(
            &walk,
            vec![known("/lib/gone.wav", 5, 5, 50, false)],
            &disk,
            false,
        );
        assert_eq!(p.embed[0].content_hash, Some(10));
        assert_eq!(p.remove, vec![PathBuf::from("/lib/gone.wav")]);
    }
}
