//! [`Writer`]: the single writer of an index. Stages upserts, removals and relinks in memory and
//! makes them durable with [`Writer::commit`], following the commit protocol of
//! `index-format.md`: rows appended and synced first, then one redb transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{ReadableTable, WriteTransaction};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{IndexError, Result};
use crate::graph::{BuildParams, GraphData, GraphReport, GraphView};
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
    /// Rebuild when rows past the graph exceed this fraction of the rows it covers.
    pub graph_tail_fraction: f64,
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
            graph_tail_fraction: 0.2,
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
    /// Opens (creating it when `settings` are given and it does not exist) the index in `dir`
    /// for writing: takes the lock, recovers from an interrupted commit, truncates uncommitted
    /// rows and deletes files left over by interrupted compactions and graph builds.
    pub fn open(dir: &Path, settings: Option<IndexSettings>, wait: bool) -> Result<Writer> {
        Writer::open_with_storage(dir, settings, wait, Arc::new(FileSystem))
    }

    /// [`Writer::open`] with every write, sync, rename and deletion of the index directory going
    /// through `storage` (tests model crashes with it; see [`crate::storage`]).
    pub fn open_with_storage(
        dir: &Path,
        settings: Option<IndexSettings>,
        wait: bool,
        storage: Arc<dyn Storage>,
    ) -> Result<Writer> {
        if !dir.exists() {
            if settings.is_none() {
                return Err(IndexError::NotFound {
                    path: dir.to_path_buf(),
                });
            }
            io(dir, fs::create_dir_all(dir))?;
        }
        let lock = WriterLock::acquire(&dir.join("LOCK"), wait)?;
        let paths = MetaPaths::with_storage(dir, storage.clone());
        let db_len = fs::metadata(&paths.db).map(|m| m.len()).ok();
        let side = paths.read_sidecar()?;
        match (db_len, side) {
            // meta.sum is written only after meta.redb's first commit: an index that has it has lost its
            // manifest. Starting afresh here would throw its rows away and seal the loss as a good index.
            (None | Some(0), Some(_)) => {
                return Err(IndexError::corrupt(
                    &paths.db,
                    "missing or empty while meta.sum says the index was committed: restore meta.redb from a \
                     backup, or remove the index directory and index again",
                ));
            }
            (None | Some(0), None) => {
                // Never created, or creation interrupted before its first commit.
                let Some(s) = &settings else {
                    return Err(IndexError::NotFound {
                        path: dir.to_path_buf(),
                    });
                };
                if db_len.is_some() {
                    io(&paths.db, storage.remove(&paths.db))?;
                }
                initialise(dir, &paths, s)?;
            }
            (Some(_), Some(s)) if !s.in_commit => {
                if !paths.matches(&s)? {
                    return Err(IndexError::corrupt(
                        &paths.db,
                        "contents differ from the checksum recorded in meta.sum at the last commit",
                    ));
                }
            }
            (Some(_), side) => {
                // A commit was interrupted (or creation, before meta.sum): let redb recover.
                let db = paths.open_write(false)?;
                let initialised = is_initialised(&db, &paths.db)?;
                drop(db);
                if !initialised {
                    let Some(s) = &settings else {
                        return Err(IndexError::NotFound {
                            path: dir.to_path_buf(),
                        });
                    };
                    io(&paths.db, storage.remove(&paths.db))?;
                    initialise(dir, &paths, s)?;
                } else {
                    // meta.sum exists from the first seal on (replaced by rename, never removed): an index with
                    // commits but no meta.sum has lost it, and sealing now would vouch for unchecked contents.
                    if side.is_none() && paths.load()?.state.commits > 0 {
                        return Err(IndexError::corrupt(
                            &paths.sum,
                            "missing although the index has commits: restore it from a backup, or check the \
                             index with `avx verify` and index into a new directory",
                        ));
                    }
                    paths.seal()?;
                }
            }
        }
        let loaded = paths.load()?;
        if let Some(s) = &settings {
            s.check_against(&loaded.settings, dir)?;
        }
        let state = loaded.state.clone();
        for level in [Level::File, Level::Window] {
            if let Some(g) = state.level(level).graph {
                check_graph(dir, level, &g)?;
            }
        }
        let dim = loaded.settings.dim;
        let mk = |level: Level| -> Result<RowAppender> {
            let ls = state.level(level);
            RowAppender::open(
                &*storage,
                &dir.join(level.row_file_name(ls.generation)),
                RowHeader::new(dim, level, ls.generation),
                ls.rows,
            )
        };
        let appenders = [mk(Level::File)?, mk(Level::Window)?];
        let mut entries = HashMap::with_capacity(loaded.files.len());
        let mut by_path = HashMap::with_capacity(loaded.files.len());
        let mut live = [0u64; 2];
        for (id, e) in loaded.files {
            live[0] += e.vector_row.is_some() as u64;
            live[1] += e.windows.len() as u64;
            by_path.insert(e.path.clone(), id);
            entries.insert(id, e);
        }
        let w = Writer {
            dir: dir.to_path_buf(),
            paths,
            _lock: lock,
            settings: loaded.settings,
            state,
            entries,
            by_path,
            dirty: BTreeSet::new(),
            removed: BTreeSet::new(),
            pending: [Vec::new(), Vec::new()],
            pending_rows: [0, 0],
            appenders,
            live,
            policy: MaintenancePolicy::default(),
            poisoned: false,
        };
        w.collect_garbage()?;
        Ok(w)
    }

    /// Deletes files no commit refers to: row and graph files of other generations, temporaries.
    fn collect_garbage(&self) -> Result<()> {
        let keep = self.state.referenced_files();
        let mut removed = false;
        for entry in io(&self.dir, fs::read_dir(&self.dir))? {
            let entry = io(&self.dir, entry)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = (name.starts_with("vectors-") && name.ends_with(".f32"))
                || (name.starts_with("windows-") && name.ends_with(".f32"))
                || (name.starts_with("graph-") && name.ends_with(".hnsw"))
                || name.ends_with(".tmp");
            if ours && !keep.contains(&name) {
                io(&entry.path(), self.paths.storage.remove(&entry.path()))?;
                removed = true;
            }
        }
        if removed {
            sync_dir(&*self.paths.storage, &self.dir)?;
        }
        Ok(())
    }

    pub fn settings(&self) -> &IndexSettings {
        &self.settings
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

    /// Runs `f` in one redb write transaction, marking `meta.sum` before and sealing it after.
    fn transact(&mut self, f: impl FnOnce(&WriteTransaction) -> Result<()>) -> Result<()> {
        let db_path = self.paths.db.clone();
        self.paths.mark_in_commit()?;
        let db = self.paths.open_write(false)?;
        let tx = db.begin_write().map_err(|e| db_error(&db_path, e))?;
        f(&tx)?;
        tx.commit().map_err(|e| db_error(&db_path, e))?;
        drop(db);
        self.paths.seal()?;
        Ok(())
    }

    /// Makes every staged change durable, atomically: after a crash the index holds either all
    /// of them or none. Then runs maintenance (compaction, graph builds) per the policy.
    pub fn commit(&mut self) -> Result<CommitReport> {
        self.check_usable()?;
        let r = self.commit_staged();
        if r.is_err() {
            self.poisoned = true;
            for (i, a) in self.appenders.iter_mut().enumerate() {
                let _ = a.rollback(self.state.levels[i].rows);
            }
        }
        let mut report = r?;
        if self.policy.enabled {
            self.maintain(&mut report)?;
        }
        Ok(report)
    }

    fn commit_staged(&mut self) -> Result<CommitReport> {
        let mut report = CommitReport::default();
        if !self.has_pending() {
            return Ok(report);
        }
        let mut batches = Vec::new();
        for i in 0..2 {
            if self.pending_rows[i] > 0 {
                let first = self.state.levels[i].rows;
                self.appenders[i].append(&self.pending[i])?;
                batches.push((
                    i as u32,
                    first,
                    self.pending_rows[i],
                    xxh3_64(&self.pending[i]),
                ));
            }
        }
        for a in &self.appenders {
            a.sync()?;
        }
        let mut state = self.state.clone();
        for i in 0..2 {
            state.levels[i].rows += self.pending_rows[i];
        }
        state.commits += 1;
        let dirty: Vec<(u64, FileEntry)> = self
            .dirty
            .iter()
            .filter_map(|id| self.entries.get(id).map(|e| (*id, e.clone())))
            .collect();
        let removed: Vec<u64> = self.removed.iter().copied().collect();
        let db_path = self.paths.db.clone();
        let st = state.clone();
        self.transact(|tx| {
            let mut files = tx.open_table(FILES).map_err(dbe(&db_path))?;
            let mut paths = tx.open_table(PATHS).map_err(dbe(&db_path))?;
            let mut hashes = tx.open_multimap_table(HASHES).map_err(dbe(&db_path))?;
            let mut drop_keys = |id: u64, files: &mut redb::Table<u64, &[u8]>| -> Result<()> {
                let old = files.remove(id).map_err(dbe(&db_path))?;
                if let Some(old) = old {
                    let old: FileEntry = crate::meta::decode(old.value(), &db_path, "file record")?;
                    if paths
                        .get(old.path.as_slice())
                        .map_err(dbe(&db_path))?
                        .map(|v| v.value())
                        == Some(id)
                    {
                        paths.remove(old.path.as_slice()).map_err(dbe(&db_path))?;
                    }
                    if let Some(h) = old.content_hash {
                        hashes.remove(h, id).map_err(dbe(&db_path))?;
                    }
                }
                Ok(())
            };
            for &id in &removed {
                drop_keys(id, &mut files)?;
            }
            for (id, _) in &dirty {
                drop_keys(*id, &mut files)?;
            }
            for (id, entry) in &dirty {
                files
                    .insert(*id, encode(entry).as_slice())
                    .map_err(dbe(&db_path))?;
                paths
                    .insert(entry.path.as_slice(), *id)
                    .map_err(dbe(&db_path))?;
                if let Some(h) = entry.content_hash {
                    hashes.insert(h, *id).map_err(dbe(&db_path))?;
                }
            }
            let mut b = tx.open_table(BATCHES).map_err(dbe(&db_path))?;
            for &(level, first, n, sum) in &batches {
                b.insert((level, first), (n, sum)).map_err(dbe(&db_path))?;
            }
            let mut meta = tx.open_table(META).map_err(dbe(&db_path))?;
            meta.insert(KEY_STATE, encode(&st).as_slice())
                .map_err(dbe(&db_path))?;
            Ok(())
        })?;
        report.rows_added = self.pending_rows;
        report.files_written = dirty.len() as u64;
        report.files_removed = removed.len() as u64;
        self.state = state;
        self.dirty.clear();
        self.removed.clear();
        self.pending = [Vec::new(), Vec::new()];
        self.pending_rows = [0, 0];
        Ok(report)
    }

    fn dead_rows(&self, i: usize) -> u64 {
        self.state.levels[i].rows - self.live[i]
    }

    fn maintain(&mut self, report: &mut CommitReport) -> Result<()> {
        let p = self.policy;
        let needs_compaction = (0..2).any(|i| {
            let dead = self.dead_rows(i);
            dead >= p.min_dead_rows
                && dead as f64 > p.compact_dead_fraction * self.state.levels[i].rows as f64
        });
        if needs_compaction {
            self.compact()?;
            report.compacted = true;
        }
        for level in [Level::File, Level::Window] {
            let i = level.code() as usize;
            let ls = self.state.levels[i];
            if self.live[i] < p.graph_min_rows {
                continue;
            }
            let covered = ls.graph.map_or(0, |g| g.rows_covered);
            let tail = ls.rows - covered;
            if ls.graph.is_none() || tail as f64 > p.graph_tail_fraction * covered as f64 {
                report.graphs[i] = self.rebuild_graph(level)?;
            }
        }
        Ok(())
    }

    fn map(&self, level: Level) -> Result<RowMap> {
        let ls = self.state.level(level);
        RowMap::open(
            &self.dir.join(level.row_file_name(ls.generation)),
            self.settings.dim,
            level,
            ls.rows,
        )
    }

    /// Rewrites the row files without dead rows (new generation) and switches to them in one
    /// commit; graphs are rebuilt afterwards if the policy asks for them. Commits staged changes
    /// first.
    pub fn compact(&mut self) -> Result<()> {
        self.check_usable()?;
        if self.has_pending() {
            self.commit_staged()?;
        }
        let maps = [self.map(Level::File)?, self.map(Level::Window)?];
        let dim = self.settings.dim;
        let stride = stride_for(dim) as u64;
        let mut ids: Vec<u64> = self.entries.keys().copied().collect();
        ids.sort_unstable();
        let mut new_entries: BTreeMap<u64, FileEntry> = BTreeMap::new();
        let mut state = self.state.clone();
        let mut new_batches: Vec<(u32, u64, u64, u64)> = Vec::new();
        let mut new_appenders = Vec::new();
        for level in [Level::File, Level::Window] {
            let i = level.code() as usize;
            let generation = self.state.levels[i].generation + 1;
            let path = self.dir.join(level.row_file_name(generation));
            if path.exists() {
                io(&path, self.paths.storage.remove(&path))?;
            }
            let mut out = RowAppender::open(
                &*self.paths.storage,
                &path,
                RowHeader::new(dim, level, generation),
                0,
            )?;
            let mut buf: Vec<u8> = Vec::new();
            let mut buf_first = 0u64;
            let mut next = 0u64;
            const BATCH_BYTES: usize = 8 << 20;
            for &id in &ids {
                let e = new_entries
                    .entry(id)
                    .or_insert_with(|| self.entries[&id].clone());
                let (old_first, n) = match level {
                    Level::File => match e.vector_row {
                        Some(r) => (r, 1),
                        None => continue,
                    },
                    Level::Window => (e.window_first_row, e.windows.len() as u64),
                };
                if n == 0 {
                    continue;
                }
                let bytes = maps[i].row_bytes(old_first, n).ok_or_else(|| {
                    IndexError::corrupt(
                        maps[i].path(),
                        "file record points past the committed rows",
                    )
                })?;
                buf.extend_from_slice(bytes);
                match level {
                    Level::File => e.vector_row = Some(next),
                    Level::Window => e.window_first_row = next,
                }
                next += n;
                if buf.len() >= BATCH_BYTES {
                    out.append(&buf)?;
                    new_batches.push((
                        level_key(level),
                        buf_first,
                        buf.len() as u64 / stride,
                        xxh3_64(&buf),
                    ));
                    buf_first = next;
                    buf.clear();
                }
            }
            if !buf.is_empty() {
                out.append(&buf)?;
                new_batches.push((
                    level_key(level),
                    buf_first,
                    buf.len() as u64 / stride,
                    xxh3_64(&buf),
                ));
            }
            out.sync()?;
            state.levels[i] = crate::meta::LevelState {
                generation,
                rows: next,
                graph: None,
            };
            new_appenders.push(out);
        }
        sync_dir(&*self.paths.storage, &self.dir)?;
        state.commits += 1;
        let db_path = self.paths.db.clone();
        let st = state.clone();
        let entries = &new_entries;
        let batches = &new_batches;
        self.transact(|tx| {
            let mut files = tx.open_table(FILES).map_err(dbe(&db_path))?;
            for (id, entry) in entries {
                files
                    .insert(*id, encode(entry).as_slice())
                    .map_err(dbe(&db_path))?;
            }
            let mut b = tx.open_table(BATCHES).map_err(dbe(&db_path))?;
            b.retain(|_, _| false).map_err(dbe(&db_path))?;
            for &(level, first, n, sum) in batches {
                b.insert((level, first), (n, sum)).map_err(dbe(&db_path))?;
            }
            let mut meta = tx.open_table(META).map_err(dbe(&db_path))?;
            meta.insert(KEY_STATE, encode(&st).as_slice())
                .map_err(dbe(&db_path))?;
            Ok(())
        })?;
        let old = std::mem::replace(&mut self.state, state);
        self.entries = new_entries.into_iter().collect();
        let mut it = new_appenders.into_iter();
        self.appenders = [it.next().unwrap(), it.next().unwrap()];
        drop(maps);
        for level in [Level::File, Level::Window] {
            let ls = old.level(level);
            let storage = &self.paths.storage;
            let _ = storage.remove(&self.dir.join(level.row_file_name(ls.generation)));
            if let Some(g) = ls.graph {
                let _ = storage.remove(&self.dir.join(level.graph_file_name(g.generation)));
            }
        }
        sync_dir(&*self.paths.storage, &self.dir)?;
        Ok(())
    }

    /// Builds a level's graph over its live committed rows (committing staged changes first),
    /// writes it as a new generation and switches to it in one commit. `Ok(None)` when the level
    /// has no live rows (any old graph is dropped).
    pub fn rebuild_graph(&mut self, level: Level) -> Result<Option<GraphReport>> {
        self.check_usable()?;
        if self.has_pending() {
            self.commit_staged()?;
        }
        let i = level.code() as usize;
        let map = self.map(level)?;
        let mut rows: Vec<u64> = match level {
            Level::File => self.entries.values().filter_map(|e| e.vector_row).collect(),
            Level::Window => self
                .entries
                .values()
                .flat_map(|e| e.window_rows())
                .collect(),
        };
        rows.sort_unstable();
        let covered = self.state.levels[i].rows;
        let old = self.state.levels[i].graph;
        let mut state = self.state.clone();
        state.commits += 1;
        let mut report = None;
        if rows.is_empty() {
            state.levels[i].graph = None;
        } else {
            let (g, rep) = GraphData::build(
                level,
                self.settings.dim,
                covered,
                &rows,
                |r| map.row(r),
                self.policy.build,
            );
            let generation = state.commits;
            let path = self.dir.join(level.graph_file_name(generation));
            let (len, sum) = g.write(&*self.paths.storage, &path)?;
            state.levels[i].graph = Some(GraphRef {
                generation,
                rows_covered: covered,
                points: rows.len() as u64,
                file_len: len,
                checksum: sum,
            });
            report = Some(rep);
        }
        let db_path = self.paths.db.clone();
        let st = state.clone();
        self.transact(|tx| {
            let mut meta = tx.open_table(META).map_err(dbe(&db_path))?;
            meta.insert(KEY_STATE, encode(&st).as_slice())
                .map_err(dbe(&db_path))?;
            Ok(())
        })?;
        self.state = state;
        if let Some(g) = old {
            let _ = self
                .paths
                .storage
                .remove(&self.dir.join(level.graph_file_name(g.generation)));
        }
        Ok(report)
    }
}

/// Checks a graph file in full against the manifest: a reader's open checks its header, footer and node rows
/// only, and a writer must not carry a damaged graph into a commit it seals.
fn check_graph(dir: &Path, level: Level, g: &GraphRef) -> Result<()> {
    let p = dir.join(level.graph_file_name(g.generation));
    let view = GraphView::open(&p, true)?;
    if view.checksum() != g.checksum
        || view.points != g.points
        || view.rows_covered != g.rows_covered
        || view.level != level
    {
        return Err(IndexError::corrupt(
            &p,
            "graph file does not match the manifest",
        ));
    }
    Ok(())
}

/// Creates the files of a new, empty index: row files with their headers, then the manifest.
fn initialise(dir: &Path, paths: &MetaPaths, settings: &IndexSettings) -> Result<()> {
    let state = State {
        next_file_id: 1,
        levels: [
            crate::meta::LevelState {
                generation: 1,
                rows: 0,
                graph: None,
            },
            crate::meta::LevelState {
                generation: 1,
                rows: 0,
                graph: None,
            },
        ],
        commits: 0,
    };
    for level in [Level::File, Level::Window] {
        let p = dir.join(level.row_file_name(1));
        if p.exists() {
            io(&p, paths.storage.remove(&p))?;
        }
        RowAppender::open(
            &*paths.storage,
            &p,
            RowHeader::new(settings.dim, level, 1),
            0,
        )?;
    }
    let db = paths.open_write(true)?;
    let db_path = paths.db.clone();
    let tx = db.begin_write().map_err(dbe(&db_path))?;
    {
        let mut meta = tx.open_table(META).map_err(dbe(&db_path))?;
        meta.insert(KEY_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())
            .map_err(dbe(&db_path))?;
        let json = serde_json::to_vec(settings).expect("settings serialize");
        meta.insert(KEY_SETTINGS, json.as_slice())
            .map_err(dbe(&db_path))?;
        meta.insert(KEY_STATE, encode(&state).as_slice())
            .map_err(dbe(&db_path))?;
        tx.open_table(FILES).map_err(dbe(&db_path))?;
        tx.open_table(PATHS).map_err(dbe(&db_path))?;
        tx.open_multimap_table(HASHES).map_err(dbe(&db_path))?;
        tx.open_table(BATCHES).map_err(dbe(&db_path))?;
    }
    tx.commit().map_err(dbe(&db_path))?;
    drop(db);
    paths.seal()?;
    sync_dir(&*paths.storage, dir)
}

/// Whether a database has been initialised (has its `meta` table with a format record).
pub(crate) fn is_initialised(db: &redb::Database, path: &Path) -> Result<bool> {
    use redb::ReadableDatabase;
    let tx = db.begin_read().map_err(|e| db_error(path, e))?;
    match tx.open_table(META) {
        Ok(t) => Ok(t.get(KEY_FORMAT).map_err(|e| db_error(path, e))?.is_some()),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(false),
        Err(e) => Err(db_error(path, e)),
    }
}
