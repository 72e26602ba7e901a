//! Maintenance, each step its own commit: compaction (row files rewritten without dead rows, as a new
//! generation) and graph builds over a level's live rows.

use super::commit::{put_batches_and_state, Batch};
use super::*;

impl Writer {
    pub(super) fn dead_rows(&self, i: usize) -> u64 {
        self.state.levels[i].rows - self.live[i]
    }

    pub(super) fn maintain(&mut self, report: &mut CommitReport) -> Result<()> {
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
            let Some(g) = ls.graph else {
                report.graphs[i] = self.rebuild_graph(level)?;
                continue;
            };
            let tail = ls.rows - g.rows_covered;
            if tail as f64 <= p.graph_tail_fraction * g.rows_covered as f64 {
                continue;
            }
            // The tail's live rows: inserted into the graph unless they would outnumber its points by
            // more than the policy allows (then one build from scratch, in parallel from the start).
            let live_tail = self.live_rows_from(level, g.rows_covered).len();
            if live_tail as f64 > p.graph_insert_max_fraction * g.points as f64 {
                report.graphs[i] = self.rebuild_graph(level)?;
            } else {
                report.graphs[i] = self.extend_graph(level)?;
            }
        }
        Ok(())
    }

    pub(super) fn map(&self, level: Level) -> Result<RowMap> {
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
        let mut new_batches: Vec<Batch> = Vec::new();
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
                    new_batches.push(append_batch(&mut out, level, buf_first, &buf, stride)?);
                    buf_first = next;
                    buf.clear();
                }
            }
            if !buf.is_empty() {
                new_batches.push(append_batch(&mut out, level, buf_first, &buf, stride)?);
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
            tx.open_table(BATCHES)
                .map_err(dbe(&db_path))?
                .retain(|_, _| false)
                .map_err(dbe(&db_path))?;
            put_batches_and_state(tx, &db_path, batches, &st)
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
                crate::codes::remove_graph(&**storage, &self.dir, level, g.generation, None);
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
        let map = self.map(level)?;
        let rows = self.live_rows_from(level, 0);
        let covered = self.state.level(level).rows;
        let built = (!rows.is_empty()).then(|| {
            GraphData::build(
                level,
                self.settings.dim,
                covered,
                &rows,
                |r| map.row(r),
                self.policy.build,
            )
        });
        self.install_graph(level, built, None)
    }

    /// Inserts a level's live rows past its graph into that graph (committing staged changes first) and
    /// switches to the result, a new generation written and committed exactly as by
    /// [`Writer::rebuild_graph`] (see `crate::extend`). Builds from scratch when the level has no graph,
    /// or when its graph file fails its checks.
    pub fn extend_graph(&mut self, level: Level) -> Result<Option<GraphReport>> {
        self.check_usable()?;
        if self.has_pending() {
            self.commit_staged()?;
        }
        let ls = self.state.level(level);
        let Some(old) = ls.graph else {
            return self.rebuild_graph(level);
        };
        // `deep_check_links` hashes the graph file: opening it does not hash it a second time. The int8 code
        // file of a version 3 graph is not hashed again: its segments were hashed when this writer opened the
        // index (`check_graph`), and their checksums carry over to the new generation, which appends to it.
        let view = match old.open(&self.dir, level, false) {
            Ok(v) if v.deep_check_links(ls.rows).is_empty() => std::sync::Arc::new(v),
            _ => return self.rebuild_graph(level),
        };
        let base = crate::extend::CodesBase::of(&view);
        let map = self.map(level)?;
        let new_rows = self.live_rows_from(level, old.rows_covered);
        let (g, rep) =
            GraphData::extend_from(&view, ls.rows, &new_rows, |r| map.row(r), self.policy.build);
        drop(view);
        self.install_graph(level, Some((g, rep)), base)
    }

    /// The level's live committed rows at or past `from`, ascending.
    fn live_rows_from(&self, level: Level, from: u64) -> Vec<u64> {
        let mut rows: Vec<u64> = match level {
            Level::File => self
                .entries
                .values()
                .filter_map(|e| e.vector_row)
                .filter(|&r| r >= from)
                .collect(),
            Level::Window => self
                .entries
                .values()
                .flat_map(|e| e.window_rows())
                .filter(|&r| r >= from)
                .collect(),
        };
        rows.sort_unstable();
        rows
    }

    /// Writes `built` as the level's next graph generation and fsyncs it (`graph-written`; its int8 codes
    /// appended to `base`, the code file of the generation it extends, or written to a new one), records it
    /// in `state` in one transaction (`graph-committed`), then deletes the old graph file (and its code file
    /// unless the new generation uses it); `None` drops the level's graph.
    fn install_graph(
        &mut self,
        level: Level,
        built: Option<(GraphData, GraphReport)>,
        base: Option<crate::extend::CodesBase>,
    ) -> Result<Option<GraphReport>> {
        let i = level.code() as usize;
        let old = self.state.levels[i].graph;
        let mut state = self.state.clone();
        state.commits += 1;
        let mut report = None;
        let mut keep_codes = None;
        match built {
            None => state.levels[i].graph = None,
            Some((g, rep)) => {
                let generation = state.commits;
                let path = self.dir.join(level.graph_file_name(generation));
                let (len, sum) = crate::extend::write_generation(
                    &*self.paths.storage,
                    &self.dir,
                    &g,
                    generation,
                    base,
                )?;
                keep_codes = crate::codes::codes_generation_of(&path);
                state.levels[i].graph = Some(GraphRef {
                    generation,
                    rows_covered: g.rows_covered,
                    points: g.rows.len() as u64,
                    file_len: len,
                    checksum: sum,
                });
                report = Some(rep);
            }
        }
        let db_path = self.paths.db.clone();
        let st = state.clone();
        self.transact(|tx| put_batches_and_state(tx, &db_path, &[], &st))?;
        self.state = state;
        if let Some(g) = old {
            crate::codes::remove_graph(
                &*self.paths.storage,
                &self.dir,
                level,
                g.generation,
                keep_codes,
            );
        }
        Ok(report)
    }
}

/// Appends the rows in `buf` (starting at row `first`) to `out`; returns their manifest entry.
fn append_batch(
    out: &mut RowAppender,
    level: Level,
    first: u64,
    buf: &[u8],
    stride: u64,
) -> Result<Batch> {
    out.append(buf)?;
    Ok((
        level_key(level),
        first,
        buf.len() as u64 / stride,
        xxh3_64(buf),
    ))
}
