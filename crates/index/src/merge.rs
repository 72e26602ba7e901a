//! [`merge`]: several indexes (typically the shards of `avx index --shard I/N`) into one, for users without a
//! database. Every input must have the same settings (model, front end, dimension); files, failures, vectors
//! and windows are copied as they are (no re-embedding), so merging the N shards of a library gives the same
//! content as indexing it in one run.

use std::path::{Path, PathBuf};

use crate::error::{IndexError, Result};
use crate::index::{Index, OpenOptions};
use crate::meta::FileStatus;
use crate::writer::{FileRecord, MaintenancePolicy, WindowRecord, Writer};

/// What [`merge`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Embedded files written.
    pub files: u64,
    /// Failed files carried over (so they are not retried).
    pub failed: u64,
    /// Paths found in more than one input (the last input listed wins).
    pub conflicts: u64,
}

/// Files written between commits.
const COMMIT_EVERY: u64 = 10_000;

/// Merges `inputs` into the index at `out` (created when missing; an existing one must have the same
/// settings). `progress` gets (files done, files total).
pub fn merge(
    out: &Path,
    inputs: &[PathBuf],
    progress: &mut dyn FnMut(u64, u64),
) -> Result<MergeReport> {
    let indexes = inputs
        .iter()
        .map(|p| Index::open(p, OpenOptions::default()))
        .collect::<Result<Vec<_>>>()?;
    let Some(first) = indexes.first() else {
        return Ok(MergeReport::default());
    };
    let settings = first.settings().clone();
    for (ix, p) in indexes.iter().zip(inputs).skip(1) {
        if let Some((found, expected)) = ix.settings().difference(&settings) {
            return Err(IndexError::ModelMismatch {
                path: p.clone(),
                found,
                expected: format!("{expected} (as {})", inputs[0].display()),
            });
        }
    }
    let mut w = Writer::open(out, Some(settings), false)?;
    let policy = *w.policy();
    w.set_policy(MaintenancePolicy {
        enabled: false,
        ..policy
    });
    let total: u64 = indexes.iter().map(|i| i.files().count() as u64).sum();
    let mut report = MergeReport::default();
    let mut seen = std::collections::HashSet::new();
    let mut done = 0u64;
    for ix in &indexes {
        for f in ix.files() {
            if !seen.insert(f.path.clone()) {
                report.conflicts += 1;
            }
            match (f.status, ix.file_vector(f)) {
                (FileStatus::Ok, Some(v)) => {
                    w.upsert(FileRecord {
                        path: f.path.clone(),
                        size: f.size,
                        mtime_ns: f.mtime_ns,
                        content_hash: f.content_hash.unwrap_or(0),
                        duration_s: f.duration_s,
                        sample_rate: f.sample_rate,
                        channels: f.channels,
                        codec: f.codec.clone(),
                        vector: v.to_vec(),
                        windows: ix
                            .window_vectors_of(f)
                            .into_iter()
                            .map(|((start_s, end_s), v)| WindowRecord {
                                start_s,
                                end_s,
                                vector: v.to_vec(),
                            })
                            .collect(),
                    })?;
                    report.files += 1;
                }
                _ => {
                    let error = f.error.as_deref().unwrap_or("failed");
                    w.record_failure(&f.path, f.size, f.mtime_ns, error)?;
                    report.failed += 1;
                }
            }
            done += 1;
            if done.is_multiple_of(COMMIT_EVERY) {
                w.commit()?;
                progress(done, total);
            }
        }
    }
    w.commit()?;
    // Maintenance once, at the end: compaction and graph builds as after an indexing run.
    w.set_policy(policy);
    w.commit()?;
    progress(done, total);
    Ok(report)
}
