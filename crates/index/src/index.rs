//! [`Index`]: a read-only, in-memory snapshot of the last commit, with mapped vectors and graphs.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::error::{IndexError, Result};
use crate::exact::{scan, scan_range, Scored, TopK};
use crate::graph::{self, Adjacency, GraphView};
use crate::meta::{into_path, FileEntry, FileStatus, IndexSettings, Loaded, MetaPaths, State};
use crate::vectors::{Level, RowMap};
use crate::writer::Writer;

/// Below this many candidate rows a search scans exactly (measured crossover, see
/// `index-format.md`, "Search"): the scan is then as fast as the graph and exact.
pub const EXACT_BELOW_ROWS: u64 = 20_000;
/// Default beam width of graph searches (recall@10 >= 0.99 on the benchmark data).
pub const DEFAULT_EF: usize = 96;
/// Widest beam tried before a filtered search falls back to an exact scan.
const MAX_EF: usize = 4096;
/// Scored neighbours per node a filtered graph walk expands (about half of layer 0's `2 * m`), for the
/// choice between a filtered walk and an exact scan of a path filter's selection.
const FILTER_WALK_COST: usize = 16;
const DEAD: u32 = u32::MAX;

/// How to open an index.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Open for writing: create the index if missing, and allow [`Index::writer`].
    pub write: bool,
    /// When another process writes, wait for it instead of failing with [`IndexError::Locked`].
    pub wait: bool,
    /// The settings of the vectors about to be stored or searched; a mismatch with the stored
    /// settings is [`IndexError::ModelMismatch`]. Required to create an index.
    pub settings: Option<IndexSettings>,
}

/// Metadata of one indexed (or failed) file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileMeta {
    pub id: u64,
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub content_hash: Option<u128>,
    pub duration_s: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub codec: String,
    pub status: FileStatus,
    pub error: Option<String>,
    /// Row of the file vector in the file-level row file.
    pub vector_row: Option<u64>,
    /// Rows of the window vectors in the window-level row file.
    pub window_rows: Range<u64>,
    /// (start_s, end_s) of each window, in row order.
    pub windows: Vec<(f32, f32)>,
}

impl FileMeta {
    pub(crate) fn from_entry(id: u64, e: FileEntry) -> FileMeta {
        let window_rows = e.window_rows();
        FileMeta {
            id,
            path: into_path(e.path),
            size: e.size,
            mtime_ns: e.mtime_ns,
            content_hash: e.content_hash,
            duration_s: e.duration_s,
            sample_rate: e.sample_rate,
            channels: e.channels,
            codec: e.codec,
            status: e.status,
            error: e.error,
            vector_row: e.vector_row,
            window_rows,
            windows: e.windows,
        }
    }
}

/// Options of [`Index::search`].
#[derive(Debug, Clone, Copy)]
pub struct SearchOptions<'a> {
    /// Number of hits wanted.
    pub k: usize,
    pub level: Level,
    /// Scan every row instead of walking the graph.
    pub exact: bool,
    /// Graph beam width; `None` is [`DEFAULT_EF`].
    pub ef: Option<usize>,
    /// Only files under this path (component-wise prefix, as `Path::starts_with`).
    pub path_prefix: Option<&'a Path>,
    /// Never return this file (e.g. the query file itself).
    pub exclude_path: Option<&'a Path>,
    /// Scan exactly when the filter selects fewer rows than this (the crossover; default
    /// [`EXACT_BELOW_ROWS`]; 0 always walks the graph when there is one).
    pub exact_below_rows: u64,
}

impl Default for SearchOptions<'_> {
    fn default() -> Self {
        SearchOptions {
            k: 10,
            level: Level::File,
            exact: false,
            ef: None,
            path_prefix: None,
            exclude_path: None,
            exact_below_rows: EXACT_BELOW_ROWS,
        }
    }
}

/// A search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub file_id: u64,
    pub path: PathBuf,
    /// Cosine similarity (dot product of normalised vectors).
    pub score: f32,
    /// Row in the level's row file.
    pub row: u64,
    /// (start_s, end_s) for window-level hits.
    pub window: Option<(f32, f32)>,
}

/// Which file (and window) a stored vector belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorRef {
    pub file_id: u64,
    pub row: u64,
    pub window: Option<(f32, f32)>,
}

/// Counts describing an index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub files: u64,
    pub failed: u64,
    /// Committed rows per level (file, window), dead ones included.
    pub rows: [u64; 2],
    /// Rows referenced by a file, per level.
    pub live_rows: [u64; 2],
    /// Points in each level's graph (0: no graph).
    pub graph_points: [u64; 2],
    /// Rows past each level's graph, scanned exactly.
    pub tail_rows: [u64; 2],
    pub commits: u64,
}

/// A read-only snapshot of an index: the state of the last commit when it was opened.
#[derive(Debug)]
pub struct Index {
    dir: PathBuf,
    opts: OpenOptions,
    settings: IndexSettings,
    state: State,
    /// In id order: a file's slot is found by binary search on its id.
    files: Vec<FileMeta>,
    /// Slots in `files` in path order (as [`key`] orders paths), sorted on first use: one-off
    /// searches without a path filter never pay for the sort.
    by_path: OnceLock<Vec<u32>>,
    /// Per level, the vector rows of the files before each position of path order (one more entry than
    /// files): a path filter's selection is counted from its ranges' ends, not file by file.
    rows_before: OnceLock<[Vec<u64>; 2]>,
    owner: [Vec<u32>; 2],
    live: [u64; 2],
    maps: [Option<RowMap>; 2],
    graphs: [Option<GraphView>; 2],
    by_hash: OnceLock<HashMap<u128, Vec<u32>>>,
}

/// Path separators, as bytes of [`key`].
const SEPARATORS: &[u8] = if cfg!(windows) { b"\\/" } else { b"/" };

/// The key of a path filter: trailing separators dropped (`Path::starts_with` ignores them), except the
/// root's.
/// The graph part of [`Index::search`]: the best `k` of a walk (beam `ef`, widened 4 times at a time until
/// it returns `want` hits) over the nodes for which `keep` holds, merged with `tail` (the rows after the
/// graph, scanned). `None` once the beam would pass [`MAX_EF`]: the caller scans exactly.
#[allow(clippy::too_many_arguments)]
fn walk_graph<'a>(
    g: &GraphView,
    query: &[f32],
    mut ef: usize,
    k: usize,
    want: usize,
    tail: &[Scored],
    vec_of: &impl Fn(u32) -> &'a [f32],
    keep: impl Fn(u32) -> bool + Copy,
) -> Option<Vec<Scored>> {
    loop {
        if ef > MAX_EF {
            return None;
        }
        let mut top = TopK::new(k);
        let rerank = graph::rerank_for(k);
        for c in graph::search_where(g, query, ef, rerank, vec_of, keep) {
            if let Some(r) = g.row(c.node) {
                top.push(r, c.score);
            }
        }
        for s in tail {
            top.push(s.id, s.score);
        }
        let got = top.into_sorted();
        if got.len() >= want || ef >= g.points as usize {
            return Some(got);
        }
        ef *= 4;
    }
}

fn dir_key(p: &Path) -> &[u8] {
    let mut k = key(p);
    while k.len() > 1 && SEPARATORS.contains(&k[k.len() - 1]) {
        k = &k[..k.len() - 1];
    }
    k
}

/// A path's bytes, ordered as path order is (`OsStr`'s order is that of its encoded bytes), so a
/// byte prefix selects a contiguous range of it.
fn key(p: &Path) -> &[u8] {
    p.as_os_str().as_encoded_bytes()
}

impl Index {
    /// Opens the index in `dir` (creating it when `opts.write` and it is missing).
    ///
    /// Cheap (see `index-format.md`, "Verification"): reads the manifest with every file record, the
    /// row-file headers and the graph files' headers, footers and node rows, enough that damage is an
    /// error or harmless, never a panic; whole-file checksums are [`crate::verify`]'s (and the writer's).
    /// Never takes `LOCK` and never writes.
    /// Nothing is sorted: path order is built on first use (see [`Index::files`]).
    pub fn open(dir: impl AsRef<Path>, opts: OpenOptions) -> Result<Index> {
        let dir = dir.as_ref();
        if opts.write {
            let meta_exists = dir.join("meta.redb").exists();
            if !meta_exists {
                // Creates and initialises, then releases the lock.
                drop(Writer::open(dir, opts.settings.clone(), opts.wait)?);
            }
        } else if !dir.join("meta.redb").exists() {
            return Err(IndexError::NotFound {
                path: dir.to_path_buf(),
            });
        }
        let paths = MetaPaths::new(dir);
        let mut last = None;
        for _ in 0..8 {
            let loaded = paths.load_map(&FileMeta::from_entry)?;
            if let Some(s) = &opts.settings {
                s.check_against(&loaded.settings, dir)?;
            }
            match Index::assemble(dir, opts.clone(), loaded) {
                Ok(ix) => return Ok(ix),
                // A compaction or graph rebuild switched generations under us: read again.
                Err(IndexError::Io { source, path })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    last = Some(IndexError::Io { source, path });
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(IndexError::NotFound {
            path: dir.to_path_buf(),
        }))
    }

    fn assemble(dir: &Path, opts: OpenOptions, loaded: Loaded<FileMeta>) -> Result<Index> {
        let Loaded {
            settings,
            state,
            files,
        } = loaded;
        // `load_map` returns the records in id order (the `files` table's key); `slot_of` relies on it. Only a
        // damaged manifest breaks it (a flipped key byte that redb's page checksums do not cover).
        if !files.is_sorted_by_key(|f| f.id) {
            return Err(IndexError::corrupt(
                dir.join("meta.redb"),
                "file records out of id order: run `avx verify`, restore or rebuild the index",
            ));
        }
        let mut owner = [
            vec![DEAD; state.levels[0].rows as usize],
            vec![DEAD; state.levels[1].rows as usize],
        ];
        let mut live = [0u64; 2];
        let manifest = dir.join("meta.redb");
        for (slot, f) in files.iter().enumerate() {
            if let Some(r) = f.vector_row {
                let o = owner[0].get_mut(r as usize).ok_or_else(|| {
                    IndexError::corrupt(
                        &manifest,
                        format!("file {} points past the committed rows", f.id),
                    )
                })?;
                *o = slot as u32;
                live[0] += 1;
            }
            if !f.window_rows.is_empty() {
                let o = owner[1]
                    .get_mut(f.window_rows.start as usize..f.window_rows.end as usize)
                    .ok_or_else(|| {
                        IndexError::corrupt(
                            &manifest,
                            format!("file {} points past the committed window rows", f.id),
                        )
                    })?;
                o.iter_mut().for_each(|x| *x = slot as u32);
                live[1] += f.window_rows.end - f.window_rows.start;
            }
        }
        let mut maps = [None, None];
        let mut graphs = [None, None];
        for level in [Level::File, Level::Window] {
            let ls = state.level(level);
            let p = dir.join(level.row_file_name(ls.generation));
            if ls.rows > 0 || p.exists() {
                maps[level.code() as usize] = Some(RowMap::open(&p, settings.dim, level, ls.rows)?);
            }
            if let Some(g) = ls.graph {
                let gp = dir.join(level.graph_file_name(g.generation));
                let view = g.open(dir, level, false)?;
                if g.rows_covered > ls.rows {
                    return Err(IndexError::corrupt(
                        &gp,
                        "graph file does not match the manifest",
                    ));
                }
                if view.rows().iter().any(|&r| r as u64 >= g.rows_covered) {
                    return Err(IndexError::corrupt(
                        &gp,
                        "graph node points past its covered rows",
                    ));
                }
                graphs[level.code() as usize] = Some(view);
            }
        }
        Ok(Index {
            dir: dir.to_path_buf(),
            opts,
            settings,
            state,
            files,
            by_path: OnceLock::new(),
            rows_before: OnceLock::new(),
            owner,
            live,
            maps,
            graphs,
            by_hash: OnceLock::new(),
        })
    }

    /// Re-reads the last commit (after a [`Writer::commit`], or to follow another process).
    pub fn refresh(&mut self) -> Result<()> {
        *self = Index::open(&self.dir, self.opts.clone())?;
        Ok(())
    }

    /// Takes the writer lock (waiting if the index was opened with `wait`).
    pub fn writer(&self) -> Result<Writer> {
        Writer::open(&self.dir, Some(self.settings.clone()), self.opts.wait)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn settings(&self) -> &IndexSettings {
        &self.settings
    }

    pub fn stats(&self) -> IndexStats {
        let mut s = IndexStats {
            files: self.files.len() as u64,
            failed: self
                .files
                .iter()
                .filter(|f| f.status == FileStatus::Failed)
                .count() as u64,
            commits: self.state.commits,
            live_rows: self.live,
            ..IndexStats::default()
        };
        for l in [Level::File, Level::Window] {
            let i = l.code() as usize;
            let ls = self.state.level(l);
            s.rows[i] = ls.rows;
            let covered = ls.graph.map_or(0, |g| {
                s.graph_points[i] = g.points;
                g.rows_covered
            });
            s.tail_rows[i] = ls.rows - covered;
        }
        s
    }

    /// Every file record (embedded and failed), in path order. The first call (of this, of
    /// [`Index::file_by_path`] or of a search with a path filter) sorts the paths.
    pub fn files(&self) -> impl Iterator<Item = &FileMeta> + '_ {
        self.path_order().iter().map(|&s| &self.files[s as usize])
    }

    /// Every file record in id order, without sorting anything.
    pub fn files_by_id(&self) -> impl Iterator<Item = &FileMeta> + '_ {
        self.files.iter()
    }

    /// Slots of `files` in path order, sorted on first use. Ids are given in the order files are
    /// first indexed (`avx index` sorts them), so the records are often in order already;
    /// otherwise both cores share the sort.
    fn path_order(&self) -> &[u32] {
        self.by_path.get_or_init(|| {
            let files = &self.files;
            if files.is_sorted_by(|a, b| key(&a.path) <= key(&b.path)) {
                return (0..files.len() as u32).collect();
            }
            // (path, slot) pairs side by side: a comparison reads the two paths' bytes and nothing
            // else (sorting slots alone also fetches each record: 190 ms against 110 ms at 1M files).
            let mut pairs: Vec<(&[u8], u32)> = files
                .iter()
                .enumerate()
                .map(|(s, f)| (key(&f.path), s as u32))
                .collect();
            pairs.par_sort_unstable_by(|a, b| a.0.cmp(b.0));
            pairs.into_iter().map(|(_, s)| s).collect()
        })
    }

    /// The prefix sums of `level`: `out[i]` is the number of `level` rows of the files at path-order positions
    /// below `i` (built on first use, with the path order).
    fn rows_before(&self, level: Level) -> &[u64] {
        &self.rows_before.get_or_init(|| {
            let order = self.path_order();
            let mut file = Vec::with_capacity(order.len() + 1);
            let mut window = Vec::with_capacity(order.len() + 1);
            let (mut f, mut w) = (0u64, 0u64);
            file.push(0);
            window.push(0);
            for &s in order {
                let meta = &self.files[s as usize];
                f += meta.vector_row.is_some() as u64;
                w += meta.window_rows.end - meta.window_rows.start;
                file.push(f);
                window.push(w);
            }
            [file, window]
        })[level.code() as usize]
    }

    pub fn file_by_path(&self, path: &Path) -> Option<&FileMeta> {
        let order = self.path_order();
        order
            .binary_search_by(|&s| key(&self.files[s as usize].path).cmp(key(path)))
            .ok()
            .map(|i| &self.files[order[i] as usize])
    }

    /// The files under `p` (component-wise, as `Path::starts_with`) as ranges of positions in path order
    /// ([`Index::path_order`]), found by binary search: the file named `p` itself, and those whose path
    /// continues `p` with a separator (a sibling such as `p-old` or `p.wav` sorts between them, and is in
    /// neither).
    fn under(&self, p: &Path) -> Vec<Range<usize>> {
        let order = self.path_order();
        let path = |s: &u32| key(&self.files[*s as usize].path);
        let starting = |k: &[u8]| {
            let lo = order.partition_point(|s| path(s) < k);
            lo..lo + order[lo..].partition_point(|s| path(s).starts_with(k))
        };
        let k = dir_key(p);
        // The root (or an empty prefix): every path that starts with it.
        let mut out = Vec::with_capacity(1 + SEPARATORS.len());
        if k.last().is_none_or(|c| SEPARATORS.contains(c)) {
            out.push(starting(k));
            return out;
        }
        let lo = order.partition_point(|s| path(s) < k);
        out.push(lo..lo + order.get(lo).is_some_and(|s| path(s) == k) as usize);
        for &sep in SEPARATORS {
            let mut dir = k.to_vec();
            dir.push(sep);
            out.push(starting(&dir));
        }
        out
    }

    fn slot_of(&self, id: u64) -> Option<u32> {
        self.files
            .binary_search_by_key(&id, |f| f.id)
            .ok()
            .map(|i| i as u32)
    }

    pub fn file_by_id(&self, id: u64) -> Option<&FileMeta> {
        self.slot_of(id).map(|s| &self.files[s as usize])
    }

    /// Files with this content hash (moved or copied files).
    pub fn find_by_hash(&self, hash: u128) -> Vec<&FileMeta> {
        let m = self.by_hash.get_or_init(|| {
            let mut m: HashMap<u128, Vec<u32>> = HashMap::new();
            for (i, f) in self.files.iter().enumerate() {
                if let Some(h) = f.content_hash {
                    m.entry(h).or_default().push(i as u32);
                }
            }
            m
        });
        m.get(&hash)
            .map(|v| v.iter().map(|&i| &self.files[i as usize]).collect())
            .unwrap_or_default()
    }

    fn map(&self, level: Level) -> Option<&RowMap> {
        self.maps[level.code() as usize].as_ref()
    }

    /// The file-level vector of a file.
    pub fn file_vector(&self, f: &FileMeta) -> Option<&[f32]> {
        let r = f.vector_row?;
        let m = self.map(Level::File)?;
        (r < m.rows()).then(|| m.row(r))
    }

    /// The window vectors of a file with their (start_s, end_s).
    pub fn window_vectors_of(&self, f: &FileMeta) -> Vec<((f32, f32), &[f32])> {
        let Some(m) = self.map(Level::Window) else {
            return Vec::new();
        };
        f.window_rows
            .clone()
            .zip(&f.windows)
            .filter(|(r, _)| *r < m.rows())
            .map(|(r, w)| (*w, m.row(r)))
            .collect()
    }

    fn vector_ref(&self, level: Level, row: u64) -> Option<VectorRef> {
        let slot = *self.owner[level.code() as usize].get(row as usize)?;
        if slot == DEAD {
            return None;
        }
        let f = &self.files[slot as usize];
        let window = match level {
            Level::File => None,
            Level::Window => f.windows.get((row - f.window_rows.start) as usize).copied(),
        };
        Some(VectorRef {
            file_id: f.id,
            row,
            window,
        })
    }

    /// Every live vector of a level, in row order (for duplicate finding and clustering).
    pub fn vectors(&self, level: Level) -> impl Iterator<Item = (VectorRef, &[f32])> + '_ {
        let m = self.map(level);
        let rows = m.map_or(0, |m| m.rows());
        (0..rows).filter_map(move |r| {
            let v = self.vector_ref(level, r)?;
            Some((v, m?.row(r)))
        })
    }

    /// Number of live vectors of a level.
    pub fn live_rows(&self, level: Level) -> u64 {
        self.live[level.code() as usize]
    }

    /// Finds the `k` nearest stored vectors of a level (cosine similarity, best first).
    pub fn search(&self, query: &[f32], opts: &SearchOptions) -> Result<Vec<Hit>> {
        if query.len() != self.settings.dim as usize {
            return Err(IndexError::DimensionMismatch {
                path: self.dir.clone(),
                found: query.len(),
                expected: self.settings.dim as usize,
            });
        }
        let level = opts.level;
        let (Some(map), true) = (self.map(level), opts.k > 0) else {
            return Ok(Vec::new());
        };
        let li = level.code() as usize;
        let owner = &self.owner[li];
        // Files under the prefix filter, as a few contiguous ranges of path order.
        let prefix_key = opts.path_prefix.map(|p| (p, dir_key(p)));
        let prefix: Option<Vec<Range<usize>>> = opts.path_prefix.map(|p| self.under(p));
        let excluded = |f: &FileMeta| {
            opts.exclude_path
                .is_some_and(|p| f.path.as_os_str() == p.as_os_str())
        };
        let slot_ok = |slot: u32| -> bool {
            // `DEAD` (a row no file owns) is past every slot.
            let Some(f) = self.files.get(slot as usize) else {
                return false;
            };
            // The byte prefix first: it rejects most candidates of a selective filter cheaply.
            !excluded(f)
                && prefix_key
                    .as_ref()
                    .is_none_or(|(p, k)| key(&f.path).starts_with(k) && f.path.starts_with(p))
        };
        let keep = |row: u64| owner.get(row as usize).is_some_and(|&s| slot_ok(s));
        let row_of = |r: u64| map.row(r);
        let k = opts.k;

        let exact_rows = |prefix_ranges: Option<&[Range<usize>]>| -> Vec<Scored> {
            match prefix_ranges {
                Some(ranges) => {
                    // The ranges hold exactly the files under the prefix (`Index::under`): only an
                    // excluded file is left out (a `Path::starts_with` per file was 15 % of a 1 % filter's
                    // search at 1M files).
                    let order = self.path_order();
                    let mut ids = Vec::new();
                    for &slot in ranges.iter().flat_map(|r| &order[r.clone()]) {
                        let f = &self.files[slot as usize];
                        if excluded(f) {
                            continue;
                        }
                        match level {
                            Level::File => ids.extend(f.vector_row),
                            Level::Window => ids.extend(f.window_rows.clone()),
                        }
                    }
                    scan(query, &ids, k, row_of)
                }
                None => scan_range(query, 0, map.rows(), k, row_of, keep),
            }
        };

        let selected: u64 = match &prefix {
            None => self.live[li],
            // From the ranges' ends: counting file by file read every selected record (a filter selecting all
            // of 1M files searched in 16 ms with it, 0.9 ms without).
            Some(ranges) => {
                let before = self.rows_before(level);
                ranges.iter().map(|r| before[r.end] - before[r.start]).sum()
            }
        };
        if selected == 0 {
            return Ok(Vec::new());
        }
        let graph = self.graphs[li].as_ref();
        let ef = opts.ef.unwrap_or(DEFAULT_EF).max(k);
        // A filtered walk visits about `ef / selectivity` nodes at about `FILTER_WALK_COST` scored
        // neighbours each; an exact scan of the selection scores `selected` rows. The scan wins below
        // `selected = sqrt(FILTER_WALK_COST * ef * live)` (39,000 of 1M rows at ef 96).
        let scan_below = match &prefix {
            Some(_) if opts.exact_below_rows > 0 => opts
                .exact_below_rows
                .max(((FILTER_WALK_COST * ef) as f64 * self.live[li] as f64).sqrt() as u64),
            _ => opts.exact_below_rows,
        };
        let scored = match graph {
            Some(g) if !opts.exact && selected >= scan_below => {
                let tail = scan_range(query, g.rows_covered, map.rows(), k, row_of, keep);
                let vec_of = |node: u32| map.row(g.row(node).unwrap_or(0));
                let want = k.min(selected as usize);
                // Without a path filter, an excluded file or a dead row, every node is kept: the walk then
                // reads no file record (three scattered loads per candidate that enters the beam, 14 % of a
                // query's time at 100k rows).
                let all_live = self.live[li] == owner.len() as u64;
                let walked = if prefix.is_none() && opts.exclude_path.is_none() && all_live {
                    walk_graph(g, query, ef, k, want, &tail, &vec_of, |_| true)
                } else {
                    // Dead rows and filtered-out files are walked through, never returned.
                    walk_graph(g, query, ef, k, want, &tail, &vec_of, |node| {
                        g.row(node).is_some_and(keep)
                    })
                };
                walked.unwrap_or_else(|| exact_rows(prefix.as_deref()))
            }
            _ => exact_rows(prefix.as_deref()),
        };
        Ok(scored
            .into_iter()
            .filter_map(|s| {
                let v = self.vector_ref(level, s.id)?;
                Some(Hit {
                    file_id: v.file_id,
                    path: self.file_by_id(v.file_id)?.path.clone(),
                    score: s.score,
                    row: s.id,
                    window: v.window,
                })
            })
            .collect())
    }

    /// Searches the level's graph for every point's own vector (beam `ef`, as the build's check) and returns
    /// the rows not found, dead or alive (`None` without a graph): the build's check with whole searches, for
    /// tests and the bench.
    pub fn graph_self_misses(&self, level: Level, ef: usize) -> Option<Vec<u64>> {
        let (g, map) = (
            self.graphs[level.code() as usize].as_ref()?,
            self.map(level)?,
        );
        let vec_of = |node: u32| map.row(g.row(node).unwrap_or(0));
        // The build check's first beam finds most points; only the rest are searched at `ef`.
        let mut missed = (0..g.points as u32).collect();
        for beam in graph::check_beams(ef) {
            missed = graph::self_misses(g, beam, &vec_of, missed, false);
        }
        Some(missed.iter().filter_map(|&node| g.row(node)).collect())
    }

    /// Checks every checksum and cross-reference of this index (see [`crate::verify`]).
    pub fn verify(&self) -> crate::VerifyReport {
        crate::verify(&self.dir)
    }
}
