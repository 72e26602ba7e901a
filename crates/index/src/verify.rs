//! Full verification: every checksum and every cross-reference, reported as a list of problems.
//! Never writes to the index (redb's integrity check runs on a scratch copy) and never panics.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableMultimapTable, ReadableTable, ReadableTableMetadata};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::IndexError;
use crate::graph::GraphView;
use crate::meta::{read_meta, FileEntry, FileStatus, MetaPaths, BATCHES, FILES, HASHES, PATHS};
use crate::vectors::{Level, RowHeader, RowMap, HEADER_LEN};

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.what)
    }
}

/// The result of [`verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Damage or inconsistencies; empty for a sound index.
    pub problems: Vec<Problem>,
    /// Harmless findings (an interrupted commit's uncommitted rows, stray files).
    pub notes: Vec<String>,
    pub files: u64,
    /// Rows checked per level (file, window).
    pub rows: [u64; 2],
    /// Bytes covered by checksums that were recomputed.
    pub bytes_checked: u64,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, path: &Path, what: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_path_buf(),
            what: what.into(),
        });
    }

    fn error(&mut self, e: IndexError) {
        let path = match &e {
            IndexError::Io { path, .. }
            | IndexError::Corrupt { path, .. }
            | IndexError::NewerFormat { path, .. }
            | IndexError::Database { path, .. }
            | IndexError::NotFound { path } => path.clone(),
            _ => PathBuf::new(),
        };
        self.problem(&path, e.to_string());
    }
}

/// Checks an index directory: the manifest against `meta.sum` and redb's own page checksums,
/// every row-file header and row batch checksum, every graph file, and every cross-reference
/// between files, rows, windows, paths and hashes.
pub fn verify(dir: &Path) -> VerifyReport {
    let mut r = VerifyReport::default();
    let res = catch_unwind(AssertUnwindSafe(|| verify_inner(dir, &mut r)));
    if res.is_err() {
        r.problem(dir, "verification stopped on an unexpected internal error");
    }
    r
}

struct Tables {
    batches: Vec<((u32, u64), (u64, u64))>,
    paths: Vec<(Vec<u8>, u64)>,
    hashes: Vec<(u128, u64)>,
    raw_files: usize,
}

fn read_tables(db: &impl ReadableDatabase, path: &Path) -> Result<Tables, String> {
    let s = |e: &dyn fmt::Display| e.to_string();
    let tx = db.begin_read().map_err(|e| s(&e))?;
    let b = tx.open_table(BATCHES).map_err(|e| s(&e))?;
    let mut batches = Vec::new();
    for item in b.iter().map_err(|e| s(&e))? {
        let (k, v) = item.map_err(|e| s(&e))?;
        batches.push((k.value(), v.value()));
    }
    let p = tx.open_table(PATHS).map_err(|e| s(&e))?;
    let mut paths = Vec::new();
    for item in p.iter().map_err(|e| s(&e))? {
        let (k, v) = item.map_err(|e| s(&e))?;
        paths.push((k.value().to_vec(), v.value()));
    }
    let h = tx.open_multimap_table(HASHES).map_err(|e| s(&e))?;
    let mut hashes = Vec::new();
    for item in h.iter().map_err(|e| s(&e))? {
        let (k, vs) = item.map_err(|e| s(&e))?;
        for v in vs {
            hashes.push((k.value(), v.map_err(|e| s(&e))?.value()));
        }
    }
    let f = tx.open_table(FILES).map_err(|e| s(&e))?;
    let raw_files = f.len().map_err(|e| s(&e))? as usize;
    let _ = read_meta(&tx.open_table(crate::meta::META).map_err(|e| s(&e))?, path)
        .map_err(|e| s(&e))?;
    Ok(Tables {
        batches,
        paths,
        hashes,
        raw_files,
    })
}

fn check_redb_copy(db: &Path, r: &mut VerifyReport) {
    let scratch = std::env::temp_dir().join(format!(
        "avx-verify-{}-{}.redb",
        std::process::id(),
        xxh3_64(db.as_os_str().as_encoded_bytes())
    ));
    if let Err(e) = fs::copy(db, &scratch) {
        r.problem(db, format!("cannot copy for redb's integrity check: {e}"));
        return;
    }
    let res = catch_unwind(AssertUnwindSafe(|| -> Result<bool, String> {
        let mut d = redb::Database::open(&scratch).map_err(|e| e.to_string())?;
        d.check_integrity().map_err(|e| e.to_string())
    }));
    let _ = fs::remove_file(&scratch);
    match res {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => r.problem(db, "redb's integrity check found damaged pages"),
        Ok(Err(e)) => r.problem(db, format!("redb's integrity check failed: {e}")),
        Err(_) => r.problem(db, "redb failed on the database file"),
    }
}

fn verify_inner(dir: &Path, r: &mut VerifyReport) {
    let paths = MetaPaths::new(dir);
    if !paths.db.exists() {
        r.problem(&paths.db, "missing: this is not an index directory");
        return;
    }
    // 1. meta.redb against the checksum sealed by the last commit, and redb's own checks.
    let sidecar = paths.read_sidecar();
    let interrupted = matches!(sidecar, Ok(Some(ref s)) if s.in_commit);
    match sidecar {
        Ok(Some(s)) if s.in_commit => r.notes.push(
            "meta.sum: a commit was interrupted; the next writer recovers it (whole-file checksum not checked)".into(),
        ),
        Ok(Some(s)) => match paths.matches(&s) {
            Ok(true) => {}
            Ok(false) => r.problem(
                &paths.db,
                "contents differ from the checksum recorded in meta.sum at the last commit",
            ),
            Err(e) => r.error(e),
        },
        Ok(None) => r.problem(&paths.sum, "missing (the whole-file checksum of meta.redb cannot be checked)"),
        Err(e) => r.error(e),
    }
    if let Ok(m) = fs::metadata(&paths.db) {
        r.bytes_checked += m.len();
    }
    check_redb_copy(&paths.db, r);

    // 2. The manifest contents.
    let loaded = match paths.load() {
        Ok(l) => l,
        Err(e) => {
            r.error(e);
            return;
        }
    };
    let tables = {
        // After an interrupted commit redb must repair the file before reading it, which a read-only open may
        // not do: read a repaired copy in memory, as readers do (`MetaPaths::load`).
        let opened = catch_unwind(AssertUnwindSafe(|| {
            match redb::Builder::new().open_read_only(&paths.db) {
                Ok(db) => read_tables(&db, &paths.db),
                Err(_) if interrupted => crate::meta::recovered_in_memory(&paths.db)
                    .map_err(|e| e.to_string())
                    .and_then(|db| read_tables(&db, &paths.db)),
                Err(e) => Err(e.to_string()),
            }
        }));
        match opened {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                r.problem(&paths.db, format!("cannot read the manifest tables: {e}"));
                return;
            }
            Err(_) => {
                r.problem(&paths.db, "redb failed while reading the manifest tables");
                return;
            }
        }
    };
    let state = &loaded.state;
    let dim = loaded.settings.dim;
    r.files = loaded.files.len() as u64;
    if tables.raw_files != loaded.files.len() {
        r.problem(&paths.db, "file table length disagrees with its contents");
    }

    // 3. Row files: header, length, batch checksums.
    let mut maps: [Option<RowMap>; 2] = [None, None];
    for level in [Level::File, Level::Window] {
        let i = level.code() as usize;
        let ls = state.level(level);
        let p = dir.join(level.row_file_name(ls.generation));
        r.rows[i] = ls.rows;
        let head = fs::File::open(&p).and_then(|f| {
            use std::io::Read;
            let len = f.metadata()?.len();
            let mut head = Vec::with_capacity(HEADER_LEN);
            f.take(HEADER_LEN as u64).read_to_end(&mut head)?;
            Ok((len, head))
        });
        match head {
            Err(e) => {
                r.problem(&p, format!("cannot read: {e}"));
                continue;
            }
            Ok((len, head)) => match RowHeader::decode(&head, &p) {
                Err(e) => {
                    r.error(e);
                    continue;
                }
                Ok(h) => {
                    if h.generation != ls.generation {
                        r.problem(
                            &p,
                            "header generation differs from the file name and manifest",
                        );
                    }
                    let want = h.file_len(ls.rows);
                    if len > want {
                        r.notes.push(format!(
                            "{}: {} bytes past the committed rows (an interrupted commit; the next writer truncates them)",
                            p.display(),
                            len - want
                        ));
                    }
                }
            },
        }
        match RowMap::open(&p, dim, level, ls.rows) {
            Ok(m) => maps[i] = Some(m),
            Err(e) => r.error(e),
        }
        let Some(map) = &maps[i] else { continue };
        let mut next = 0u64;
        for &((l, first), (n, sum)) in tables.batches.iter().filter(|b| b.0 .0 == i as u32) {
            let _ = l;
            if first != next {
                r.problem(&p, format!("row batches leave a gap or overlap at row {next} (next batch starts at {first})"));
            }
            match map.row_bytes(first, n) {
                Some(bytes) => {
                    r.bytes_checked += bytes.len() as u64;
                    if xxh3_64(bytes) != sum {
                        r.problem(
                            &p,
                            format!("checksum mismatch in rows {first}..{}", first + n),
                        );
                    }
                }
                None => r.problem(
                    &p,
                    format!("batch {first}..{} runs past the committed rows", first + n),
                ),
            }
            next = first + n;
        }
        if next != ls.rows {
            r.problem(
                &p,
                format!(
                    "row batches cover {next} rows, the manifest commits {}",
                    ls.rows
                ),
            );
        }
        if tables.batches.iter().any(|b| b.0 .0 > 1) {
            r.problem(&paths.db, "batch table names an unknown level");
        }
    }

    // 4. Cross-references between files, rows, windows, paths and hashes.
    let mut owners: [HashMap<u64, u64>; 2] = [HashMap::new(), HashMap::new()];
    let mut want_paths: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let mut want_hashes: BTreeSet<(u128, u64)> = BTreeSet::new();
    for (id, e) in &loaded.files {
        let (id, e): (u64, &FileEntry) = (*id, e);
        if id >= state.next_file_id {
            r.problem(
                &paths.db,
                format!("file {id} is not below next_file_id {}", state.next_file_id),
            );
        }
        if want_paths.insert(e.path.clone(), id).is_some() {
            r.problem(
                &paths.db,
                format!("two file records share the path of file {id}"),
            );
        }
        if let Some(h) = e.content_hash {
            want_hashes.insert((h, id));
        }
        if e.status == FileStatus::Failed && (e.vector_row.is_some() || !e.windows.is_empty()) {
            r.problem(&paths.db, format!("failed file {id} has vectors"));
        }
        let mut claim = |i: usize, row: u64, r: &mut VerifyReport| {
            if row >= state.levels[i].rows {
                r.problem(
                    &paths.db,
                    format!("file {id} refers to row {row} past the committed rows of level {i}"),
                );
            } else if let Some(other) = owners[i].insert(row, id) {
                r.problem(
                    &paths.db,
                    format!("row {row} of level {i} is claimed by files {other} and {id}"),
                );
            }
        };
        if let Some(row) = e.vector_row {
            claim(0, row, r);
        }
        if e.windows.len() as u64 > state.levels[1].rows {
            r.problem(
                &paths.db,
                format!("file {id} has more windows than there are window rows"),
            );
        } else {
            for row in e.window_rows() {
                claim(1, row, r);
            }
        }
        for &(s, t) in &e.windows {
            if !(s.is_finite() && t.is_finite() && s <= t) {
                r.problem(
                    &paths.db,
                    format!("file {id} has a window with bad times {s}..{t}"),
                );
                break;
            }
        }
    }
    let got_paths: BTreeMap<Vec<u8>, u64> = tables.paths.iter().cloned().collect();
    if got_paths != want_paths {
        r.problem(&paths.db, "path table disagrees with the file records");
    }
    let got_hashes: BTreeSet<(u128, u64)> = tables.hashes.iter().copied().collect();
    if got_hashes != want_hashes {
        r.problem(
            &paths.db,
            "content-hash table disagrees with the file records",
        );
    }

    // 5. Graphs.
    for level in [Level::File, Level::Window] {
        let ls = state.level(level);
        let Some(g) = ls.graph else { continue };
        let p = dir.join(level.graph_file_name(g.generation));
        match GraphView::open(&p, false) {
            Err(e) => r.error(e),
            Ok(v) => {
                r.bytes_checked += g.file_len;
                if v.codes_file().is_some() {
                    r.bytes_checked += crate::codes::CODES_HEADER as u64 + v.points * v.dim as u64;
                }
                for what in v.deep_check(ls.rows) {
                    r.problem(&p, what);
                }
                if v.checksum() != g.checksum
                    || v.points != g.points
                    || v.rows_covered != g.rows_covered
                    || v.level != level
                    || v.dim != dim
                {
                    r.problem(&p, "graph header or footer disagrees with the manifest");
                }
                if let Ok(m) = fs::metadata(&p) {
                    if m.len() != g.file_len {
                        r.problem(&p, "graph file length disagrees with the manifest");
                    }
                }
                // Every graph node must be a row that was live when... at least a committed row;
                // live rows below rows_covered must all be in the graph.
                let nodes: BTreeSet<u64> = v.rows().iter().map(|&x| x as u64).collect();
                let missing = owners[level.code() as usize]
                    .keys()
                    .filter(|&&row| row < g.rows_covered && !nodes.contains(&row))
                    .count();
                if missing > 0 {
                    r.problem(&p, format!("{missing} live rows below the covered count are missing from the graph"));
                }
            }
        }
    }

    // 6. Stray files.
    if let Ok(rd) = fs::read_dir(dir) {
        // `cache/`: derived data of avx_core (loudness, map), never part of a commit (index-format.md, "Caches");
        // `prints.avp`: the sound prints `avx index` writes beside the index, with their own checksums and
        // never part of a commit either (index-format.md, "Sound prints").
        let mut known = state.referenced_files();
        known.extend(crate::codes::codes_in_use(dir, state));
        known.insert("cache".to_string());
        known.insert("prints.avp".to_string());
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !known.contains(&name) {
                r.notes.push(format!("{name}: not part of the last commit (left by an interrupted run; the next writer deletes it)"));
            }
        }
    }
}
