//! [`Writer`]: the single writer of an index. Stages upserts, removals and relinks in memory (this
//! file) and makes them durable with [`Writer::commit`], following the commit protocol of
//! `index-format.md`: rows appended and synced first, then one redb transaction.
//!
//! * `recovery`: [`Writer::open`], which takes the lock and recovers from an interrupted commit;
//! * `commit`: the commit protocol;
//! * `maintenance`: compaction and graph builds, each its own commit.

mod commit;
mod maintenance;
mod recovery;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{ReadableTable, WriteTransaction};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{IndexError, Result};
use crate::graph::{BuildParams, GraphData, GraphReport};
use crate::index::EXACT_BELOW_ROWS;
use crate::lock::WriterLock;
use crate::meta::{
    db_error, dbe, encode, level_key, path_bytes, FileEntry, FileStatus, GraphRef, IndexSettings,
    MetaPaths, State, BATCHES, FILES, FORMAT_VERSION, HASHES, KEY_FORMAT, KEY_SETTINGS, KEY_STATE,
    META, PATHS,
};
use crate::storage::{FileSystem, Storage};
use crate::vectors::{encode_rows, stride_for, sync_dir, Level, RowAppender, RowHeader, RowMap};

/// One window of a file: its time span and its vector.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRecord {
    pub start_s: f32,
    pub end_s: f32,
    pub vector: Vec<f32>,
}

/// Everything stored for one embedded file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub content_hash: u128,
    pub duration_s: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub codec: String,
    /// The file-level vector (L2-normalised).
    pub vector: Vec<f32>,
    pub windows: Vec<WindowRecord>,
}

/// When [`Writer::commit`] compacts and rebuilds graphs by itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaintenancePolicy {
    /// Compact when dead rows exceed this fraction of a level's rows (and `min_dead_rows`).
    pub compact_dead_fraction: f64,
    pub min_dead_rows: u64,
    /// Build a level's graph once it has this many live rows.
    pub graph_min_rows: u64,
    /// Update a level's graph when rows past it (its tail, scanned exactly by every search) exceed this
    /// fraction of the rows it covers: by inserting the tail's live rows into it
    /// ([`Writer::extend_graph`]), or by a build from scratch ([`Writer::rebuild_graph`]) when they
    /// outnumber `graph_insert_max_fraction` times its points.
    pub graph_tail_fraction: f64,
    /// Past this many live tail rows per graph point, the graph is built from scratch instead of extended.
    /// A compaction (which renumbers rows) always drops the graph, so the next one is built from scratch.
    pub graph_insert_max_fraction: f64,
    /// Graph construction parameters.
    pub build: BuildParams,
    /// Whether commit runs maintenance at all (bulk loads turn it off and call
    /// [`Writer::compact`] / [`Writer::rebuild_graph`] at the end).
    pub enabled: bool,
}

impl Default for MaintenancePolicy {
    fn default() -> Self {
        MaintenancePolicy {
            compact_dead_fraction: 0.25,
            min_dead_rows: 64,
            graph_min_rows: EXACT_BELOW_ROWS,
            graph_tail_fraction: 0.005,
            graph_insert_max_fraction: 1.0,
            build: BuildParams::default(),
            enabled: true,
        }
    }
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitReport {
    /// Rows appended per level (file, window).
    pub rows_added: [u64; 2],
    pub files_written: u64,
    pub files_removed: u64,
    pub compacted: bool,
    /// Graph builds run by maintenance, per level.
    pub graphs: [Option<GraphReport>; 2],
}

/// The single writer of an index; holds `LOCK` until dropped.
#[derive(Debug)]
pub struct Writer {
    dir: PathBuf,
    paths: MetaPaths,
    _lock: WriterLock,
    settings: IndexSettings,
    state: State,
    entries: HashMap<u64, FileEntry>,
    by_path: HashMap<Vec<u8>, u64>,
    dirty: BTreeSet<u64>,
    removed: BTreeSet<u64>,
    pending: [Vec<u8>; 2],
    pending_rows: [u64; 2],
    appenders: [RowAppender; 2],
    live: [u64; 2],
    policy: MaintenancePolicy,
    poisoned: bool,
}

fn io<T>(p: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| IndexError::io(p, e))
}

impl Writer {
    pub fn settings(&self) -> &IndexSettings {
        &self.settings
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index directory and the held `LOCK` file.
    pub fn lock_path(&self) -> &Path {
        self._lock.path()
    }

    /// Replaces the maintenance policy used by [`Writer::commit`].
    pub fn set_policy(&mut self, policy: MaintenancePolicy) {
        self.policy = policy;
    }

    pub fn policy(&self) -> &MaintenancePolicy {
        &self.policy
    }

    fn check_usable(&self) -> Result<()> {
        if self.poisoned {
            return Err(IndexError::Invalid {
                path: self.dir.clone(),
                detail:
                    "a previous commit failed; open a new writer (nothing uncommitted was kept)"
                        .into(),
            });
        }
        Ok(())
    }

    fn check_vector(&self, path: &Path, v: &[f32]) -> Result<()> {
        if v.len() != self.settings.dim as usize {
            return Err(IndexError::DimensionMismatch {
                path: path.to_path_buf(),
                found: v.len(),
                expected: self.settings.dim as usize,
            });
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(IndexError::NonFinite {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }

    /// Drops an entry's rows from the live counts.
    fn forget_rows(&mut self, e: &FileEntry) {
        self.live[0] -= e.vector_row.is_some() as u64;
        self.live[1] -= e.windows.len() as u64;
    }

    fn id_for(&mut self, key: &[u8]) -> u64 {
        match self.by_path.get(key) {
            Some(&id) => {
                if let Some(old) = self.entries.remove(&id) {
                    self.forget_rows(&old);
                }
                id
            }
            None => {
                let id = self.state.next_file_id;
                self.state.next_file_id += 1;
                self.by_path.insert(key.to_vec(), id);
                id
            }
        }
    }

    /// Adds or replaces the file at `rec.path` (its old vectors become dead rows). Returns its id.
    pub fn upsert(&mut self, rec: FileRecord) -> Result<u64> {
        self.check_usable()?;
        let key = path_bytes(&rec.path)?;
        self.check_vector(&rec.path, &rec.vector)?;
        for w in &rec.windows {
            self.check_vector(&rec.path, &w.vector)?;
        }
        let id = self.id_for(&key);
        let dim = self.settings.dim;
        let vector_row = self.state.levels[0].rows + self.pending_rows[0];
        self.pending[0].extend(encode_rows(dim, [rec.vector.as_slice()]));
        self.pending_rows[0] += 1;
        let window_first_row = self.state.levels[1].rows + self.pending_rows[1];
        self.pending[1].extend(encode_rows(
            dim,
            rec.windows.iter().map(|w| w.vector.as_slice()),
        ));
        self.pending_rows[1] += rec.windows.len() as u64;
        let e = FileEntry {
            path: key,
            size: rec.size,
            mtime_ns: rec.mtime_ns,
            content_hash: Some(rec.content_hash),
            duration_s: rec.duration_s,
            sample_rate: rec.sample_rate,
            channels: rec.channels,
            codec: rec.codec,
            status: FileStatus::Ok,
            error: None,
            vector_row: Some(vector_row),
            window_first_row,
            windows: rec.windows.iter().map(|w| (w.start_s, w.end_s)).collect(),
        };
        self.live[0] += 1;
        self.live[1] += e.windows.len() as u64;
        self.entries.insert(id, e);
        self.dirty.insert(id);
        self.removed.remove(&id);
        Ok(id)
    }

    /// Records that `path` could not be embedded, so that unchanged failures are not retried.
    pub fn record_failure(
        &mut self,
        path: &Path,
        size: u64,
        mtime_ns: i64,
        error: &str,
    ) -> Result<u64> {
        self.check_usable()?;
        let key = path_bytes(path)?;
        let id = self.id_for(&key);
        let e = FileEntry {
            path: key,
            size,
            mtime_ns,
            content_hash: None,
            duration_s: 0.0,
            sample_rate: 0,
            channels: 0,
            codec: String::new(),
            status: FileStatus::Failed,
            error: Some(error.to_string()),
            vector_row: None,
            window_first_row: 0,
            windows: Vec::new(),
        };
        self.entries.insert(id, e);
        self.dirty.insert(id);
        self.removed.remove(&id);
        Ok(id)
    }

    /// Removes the file at `path` (its rows become tombstones until compaction). Returns whether
    /// it was indexed.
    pub fn remove(&mut self, path: &Path) -> Result<bool> {
        self.check_usable()?;
        let key = path_bytes(path)?;
        let Some(id) = self.by_path.remove(&key) else {
            return Ok(false);
        };
        if let Some(old) = self.entries.remove(&id) {
            self.forget_rows(&old);
        }
        self.dirty.remove(&id);
        self.removed.insert(id);
        Ok(true)
    }

    /// Moves a file's record to a new path without re-embedding (a renamed or moved file), with
    /// the size and modification time seen at the new path. A record already at `new_path` is
    /// replaced. Returns whether `old_path` was indexed.
    pub fn relink(
        &mut self,
        old_path: &Path,
        new_path: &Path,
        size: u64,
        mtime_ns: i64,
    ) -> Result<bool> {
        self.check_usable()?;
        let old_key = path_bytes(old_path)?;
        let new_key = path_bytes(new_path)?;
        let Some(&id) = self.by_path.get(&old_key) else {
            return Ok(false);
        };
        if old_key != new_key {
            self.remove(new_path)?;
            self.by_path.remove(&old_key);
            self.by_path.insert(new_key.clone(), id);
        }
        if let Some(e) = self.entries.get_mut(&id) {
            e.path = new_key;
            e.size = size;
            e.mtime_ns = mtime_ns;
        }
        self.dirty.insert(id);
        Ok(true)
    }

    /// Whether there are staged changes.
    pub fn has_pending(&self) -> bool {
        !self.dirty.is_empty() || !self.removed.is_empty() || self.pending_rows != [0, 0]
    }

    /// Rows referenced by a file, per level (file, window), staged changes included.
    pub fn live_rows(&self) -> [u64; 2] {
        self.live
    }
}
