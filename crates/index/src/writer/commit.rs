//! The commit protocol (`index-format.md`, "Commit protocol"): staged rows appended and synced,
//! `meta.sum` marked, one redb transaction (the commit point), `meta.sum` sealed.

use super::*;

impl Writer {
    /// Runs `f` in one redb write transaction, marking `meta.sum` before and sealing it after.
    pub(super) fn transact(
        &mut self,
        f: impl FnOnce(&WriteTransaction) -> Result<()>,
    ) -> Result<()> {
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

    pub(super) fn commit_staged(&mut self) -> Result<CommitReport> {
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
            put_batches_and_state(tx, &db_path, &batches, &st)
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
}

/// A row batch's manifest entry: (level code, first row, row count, xxh3-64 of the rows' bytes).
pub(super) type Batch = (u32, u64, u64, u64);

/// Adds `batches` to the `batches` table and replaces the `state` record, in `tx`.
pub(super) fn put_batches_and_state(
    tx: &WriteTransaction,
    db_path: &Path,
    batches: &[Batch],
    state: &State,
) -> Result<()> {
    let mut b = tx.open_table(BATCHES).map_err(dbe(db_path))?;
    for &(level, first, n, sum) in batches {
        b.insert((level, first), (n, sum)).map_err(dbe(db_path))?;
    }
    let mut meta = tx.open_table(META).map_err(dbe(db_path))?;
    meta.insert(KEY_STATE, encode(state).as_slice())
        .map_err(dbe(db_path))?;
    Ok(())
}
