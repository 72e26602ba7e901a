//! Opening a writer: the lock, recovery from an interrupted commit (redb's own recovery, then a
//! fresh seal of `meta.sum`), truncation of uncommitted rows, deletion of unreferenced files, and the
//! creation of a new index.

use super::*;

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
    pub(super) fn collect_garbage(&self) -> Result<()> {
        let mut keep = self.state.referenced_files();
        keep.extend(crate::codes::codes_in_use(&self.dir, &self.state));
        let mut removed = false;
        for entry in io(&self.dir, fs::read_dir(&self.dir))? {
            let entry = io(&self.dir, entry)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = (name.starts_with("vectors-") && name.ends_with(".f32"))
                || (name.starts_with("windows-") && name.ends_with(".f32"))
                || (name.starts_with("graph-") && name.ends_with(".hnsw"))
                || (name.starts_with("graph-") && name.ends_with(".i8"))
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
}

/// Checks a graph file in full against the manifest: a reader's open checks its header, footer and node rows
/// only, and a writer must not carry a damaged graph into a commit it seals.
fn check_graph(dir: &Path, level: Level, g: &GraphRef) -> Result<()> {
    g.open(dir, level, true).map(drop)
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
