//! HNSW graphs: built by avx's own parallel insertion (`build`), stored in our own flat,
//! checksummed file format (`graph-<level>-<gen>.hnsw`), memory-mapped and searched by our own
//! beam search.
//!
//! A search descends the upper layers with a beam of up to [`UPPER_EF`] (not hnswlib's greedy walk), then
//! runs a beam of `ef` on layer 0.
//!
//! After a build every point is searched for itself ([`check_beams`], each search stopping as soon as it
//! reaches its point, the points taken in a depth-first order along the links so that consecutive searches
//! read the same memory); the few points that cannot be found get reverse edges from their nearest reachable
//! neighbours, and the counts and the time it took are reported in [`GraphReport`]. An insertion into a
//! graph searches for its new points and for the old ones left with few links back, in node order, and finds
//! the points no edge reaches with a breadth-first walk ([`GraphData::disconnected`]).
//!
//! Since graph format version 2 the file also holds an int8 copy of every node's vector in node order
//! ([`QuantRows`]): the build and the beam search walk the graph on those (a quarter of the bytes of the f32
//! rows), and a search re-scores its best candidates exactly on the f32 rows, so results and scores stay
//! exact. Version 1 graphs (no int8 copy) are searched on the f32 rows as before.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{IndexError, Result};
use crate::exact::dot;
use crate::kernel::{code_sum, dot_i8_query, quantize};
use crate::lists::Lists;
use crate::storage::Storage;
use crate::vectors::{sync_dir, u32_at, u64_at, Level};

/// Magic number at offset 0 of a graph file.
pub const GRAPH_MAGIC: [u8; 8] = *b"AVXHNSW\0";
/// Magic number closing a graph file.
pub const GRAPH_END: [u8; 8] = *b"AVXHEND\0";
/// Graph-file format version written by this build.
/// Version 2 added the int8 rows section after the layers; version 1 files (without it) still open.
pub const GRAPH_VERSION: u32 = 3;
/// Quantised-rows kind: none (version 1 files, or a graph written without them).
const QUANT_NONE: u64 = 0;
/// Quantised-rows kind: int8 codes per node with one f32 step per node (`kernel::quantize`).
const QUANT_I8: u64 = 1;
/// Int8 rows kind: steps here, codes in an int8 code file (`crate::codes`, version 3).
const QUANT_SIDECAR: u64 = 2;
const HEADER: usize = 64;
const FOOTER: usize = 24;

/// Construction parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildParams {
    /// Links per point on layers above 0 (layer 0 keeps up to `2 * m`).
    pub m: usize,
    pub ef_construction: usize,
    /// Beam width of the self-search reachability check.
    pub check_ef: usize,
}

impl Default for BuildParams {
    fn default() -> Self {
        BuildParams {
            m: 16,
            ef_construction: 200,
            check_ef: 64,
        }
    }
}

/// What a graph build found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GraphReport {
    /// Points in the graph (live rows covered).
    pub points: u64,
    /// Of `points`, those inserted into the previous generation's graph (0: built from scratch).
    pub inserted: u64,
    /// Points not reachable from the entry point by following edges, as inserted.
    pub disconnected: u64,
    /// Points searched for with their own vector after insertion: the inserted ones and the old ones
    /// with few links back from their neighbours (see `GraphData::check_and_repair`).
    pub checked: u64,
    /// Of `checked`, points that the search did not find, as inserted.
    pub unreachable: u64,
    /// Of those and of the disconnected points (and of the points next to the repair's links that a search
    /// misses after it), points linked in (found by a self-search) after the repair.
    pub repaired: u64,
    /// Points still not found by a self-search after repair (reported, searchable exactly).
    pub still_unreachable: u64,
    /// Build time in milliseconds (insertion, check and repair).
    pub build_ms: u64,
    /// Of `build_ms`, the self-search check and the repair.
    pub check_ms: u64,
}

/// The order of a build's self-searches ([`GraphData::check_and_repair`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckOrder {
    /// A depth-first walk along the links ([`GraphData::reach_order`]): consecutive searches read the same
    /// rows and lists. For a build, which searches for every node.
    Links,
    /// Node order: for an insertion into a graph, whose few searches would not repay a walk over it.
    Ids,
}

/// Read access to adjacency lists, shared by the in-memory graph and the mapped file.
pub(crate) trait Adjacency: Sync {
    fn len(&self) -> usize;
    fn entry(&self) -> Option<u32>;
    fn top_layer(&self) -> usize;
    /// Neighbours of `node` on `layer` (empty when the node is not on that layer).
    fn neighbours(&self, layer: usize, node: u32) -> &[u32];
    fn row(&self, node: u32) -> Option<u64>;
    /// The int8 copy of the nodes' vectors, when the graph has one.
    fn quant(&self) -> Option<QuantRows<'_>>;
}

/// Int8 copies of a graph's vectors in node order, `dim` codes per node, and `dot(a, b)` is approximated by
/// `dot_i8(codes_a, codes_b) * steps[a] * steps[b]` (see `kernel::quantize`). The codes are one slice, or two:
/// those of the first nodes, then the rest (a graph extended in memory reads its old nodes' codes from the
/// mapped generation it extends, [`GraphData::mapped`]).
#[derive(Debug, Clone, Copy)]
pub struct QuantRows<'a> {
    pub dim: usize,
    head: &'a [i8],
    tail: &'a [i8],
    pub steps: &'a [f32],
}

impl<'a> QuantRows<'a> {
    /// `None` when the slices do not describe the same number of rows of `dim` codes.
    pub fn new(dim: usize, codes: &'a [i8], steps: &'a [f32]) -> Option<Self> {
        Self::in_two(dim, codes, &[], steps)
    }

    /// The codes of the first `head.len() / dim` nodes in `head`, the others' in `tail`; `None` when they
    /// do not describe whole rows of `dim` codes, as many as `steps`.
    pub fn in_two(dim: usize, head: &'a [i8], tail: &'a [i8], steps: &'a [f32]) -> Option<Self> {
        (dim > 0 && head.len().is_multiple_of(dim) && head.len() + tail.len() == steps.len() * dim)
            .then_some(QuantRows {
                dim,
                head,
                tail,
                steps,
            })
    }

    /// Codes of `node` (empty when out of range).
    #[inline]
    pub fn codes(&self, node: u32) -> &'a [i8] {
        let a = node as usize * self.dim;
        match a.checked_sub(self.head.len()) {
            None => &self.head[a..a + self.dim],
            Some(t) => self.tail.get(t..t + self.dim).unwrap_or(&[]),
        }
    }

    /// The codes of the nodes from `node` on, one after the other (copied only when they span both slices).
    pub fn codes_from(&self, node: usize) -> std::borrow::Cow<'a, [i8]> {
        let a = (node * self.dim).min(self.head.len() + self.tail.len());
        match a.checked_sub(self.head.len()) {
            Some(t) => self.tail[t..].into(),
            None if self.tail.is_empty() => self.head[a..].into(),
            None => [&self.head[a..], self.tail].concat().into(),
        }
    }

    #[inline]
    pub fn step(&self, node: u32) -> f32 {
        self.steps.get(node as usize).copied().unwrap_or(0.0)
    }

    /// Hints the CPU to load what [`QuantRows::score`] reads of `node`: its codes and its step, a scattered
    /// load of its own in a large graph (prefetching the step too: searches of a 300k graph 0.65x to 0.96x the
    /// p50 at ef 32 to 96, two builds alternated; 1M: 0.76x to 0.83x at ef 64 to 400, one run each;
    /// `docs/performance.md`).
    #[inline(always)]
    pub(crate) fn prefetch(&self, node: u32) {
        prefetch_codes(self.codes(node));
        if let Some(s) = self.steps.get(node as usize) {
            prefetch_lines(std::ptr::from_ref(s).cast(), 1);
        }
    }

    /// Approximate similarity of the query `(codes, step)` to `node`; `sum` is the query's
    /// [`code_sum`] (see [`dot_i8_query`]).
    #[inline]
    pub(crate) fn score(&self, codes: &[i8], sum: i32, step: f32, node: u32) -> f32 {
        let c = self.codes(node);
        if c.len() != codes.len() {
            return f32::NEG_INFINITY;
        }
        dot_i8_query(codes, sum, c) as f32 * step * self.step(node)
    }

    /// Quantises the vectors of `nodes` with `kernel::quantize`, in parallel.
    pub fn quantize_rows<'v, F>(
        dim: usize,
        nodes: std::ops::Range<usize>,
        vec_of: &F,
    ) -> (Vec<i8>, Vec<f32>)
    where
        F: Fn(u32) -> &'v [f32] + Sync,
    {
        let n = nodes.len();
        let mut codes = vec![0i8; n * dim];
        let mut steps = vec![0f32; n];
        if dim > 0 {
            codes
                .par_chunks_mut(dim)
                .zip(steps.par_iter_mut())
                .enumerate()
                .with_min_len(1024)
                .for_each(|(i, (c, s))| *s = quantize(vec_of((nodes.start + i) as u32), c));
        }
        (codes, steps)
    }
}

/// A graph held in memory, as built; serialised by [`GraphData::to_bytes`].
#[derive(Debug, Clone, PartialEq)]
pub struct GraphData {
    pub level: Level,
    pub dim: u32,
    pub m: u32,
    pub rows_covered: u64,
    /// Node -> row number in the row file.
    pub rows: Vec<u32>,
    /// Node -> highest layer it is on.
    pub levels: Vec<u8>,
    pub entry: u32,
    /// Every node's layer-0 neighbours.
    pub layer0: Lists,
    /// `upper[layer - 1][node]` for layers 1 and up; only nodes with `levels[node] >= layer` have lists.
    pub upper: Vec<Vec<Vec<u32>>>,
    /// Int8 codes of every node's vector in node order (`points * dim`), or empty: see [`QuantRows`]. With
    /// [`GraphData::mapped`], those of the nodes after the mapped ones.
    pub codes: Vec<i8>,
    /// The codes of the first nodes, read in place from the mapped graph this one extends
    /// ([`GraphData::extend_from`]), or `None`.
    pub mapped: Option<MappedCodes>,
    /// Per node, the step of its codes (empty when `codes` is).
    pub steps: Vec<f32>,
}

impl Adjacency for GraphData {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn entry(&self) -> Option<u32> {
        (!self.rows.is_empty()).then_some(self.entry)
    }
    fn top_layer(&self) -> usize {
        self.upper.len()
    }
    #[inline]
    fn neighbours(&self, layer: usize, node: u32) -> &[u32] {
        if layer == 0 {
            return self.layer0.get(node as usize);
        }
        self.upper
            .get(layer - 1)
            .and_then(|l| l.get(node as usize))
            .map_or(&[], |v| v.as_slice())
    }
    fn row(&self, node: u32) -> Option<u64> {
        self.rows.get(node as usize).map(|&r| r as u64)
    }
    fn quant(&self) -> Option<QuantRows<'_>> {
        if self.steps.len() != self.rows.len() {
            return None;
        }
        let head = self.mapped.as_ref().map_or(&[][..], MappedCodes::codes);
        QuantRows::in_two(self.dim as usize, head, &self.codes, &self.steps)
    }
}

/// The int8 codes of the nodes of a mapped graph generation, shared with a graph made from it.
#[derive(Debug, Clone)]
pub struct MappedCodes(std::sync::Arc<GraphView>);

impl MappedCodes {
    fn codes(&self) -> &[i8] {
        self.0.quant().map_or(&[], |q| q.head)
    }

    fn nodes(&self, dim: usize) -> usize {
        self.codes().len() / dim.max(1)
    }
}

/// Equal when the codes are.
impl PartialEq for MappedCodes {
    fn eq(&self, o: &Self) -> bool {
        self.codes() == o.codes()
    }
}

impl GraphData {
    /// Builds a graph over `rows` (row numbers, ascending), checks that every point finds itself
    /// and repairs the points that do not.
    pub fn build<'a, F>(
        level: Level,
        dim: u32,
        rows_covered: u64,
        rows: &[u64],
        vector: F,
        params: BuildParams,
    ) -> (GraphData, GraphReport)
    where
        F: Fn(u64) -> &'a [f32] + Sync,
    {
        let mut g = GraphData {
            level,
            dim,
            m: params.m as u32,
            rows_covered,
            rows: Vec::new(),
            levels: Vec::new(),
            entry: 0,
            layer0: Lists::default(),
            upper: Vec::new(),
            codes: Vec::new(),
            mapped: None,
            steps: Vec::new(),
        };
        let report = g.extend(rows, rows_covered, vector, params);
        (g, report)
    }

    /// Inserts `rows` (ascending, each above every row already in the graph) into this graph with the
    /// insertion [`GraphData::build`] uses, without rebuilding what is there, and sets `rows_covered`. Then
    /// checks that every new point is found by a search for itself (and that every point is connected) and
    /// repairs as `build` does; the report's `points` counts every point, `inserted` the new ones (0 when the
    /// graph was empty: a build). A graph without int8 rows (format 1)
    /// gets them for every node first. Uses the graph's own `m`; `params` gives the beams.
    ///
    /// # Panics
    /// If `rows` is not ascending or does not start above the graph's last row (a bug of the caller).
    pub fn extend<'a, F>(
        &mut self,
        rows: &[u64],
        rows_covered: u64,
        vector: F,
        params: BuildParams,
    ) -> GraphReport
    where
        F: Fn(u64) -> &'a [f32] + Sync,
    {
        let t0 = std::time::Instant::now();
        if rows.is_empty() {
            self.rows_covered = rows_covered;
            return GraphReport {
                points: self.rows.len() as u64,
                ..GraphReport::default()
            };
        }
        let (old, lost) = self.insert_rows(rows, rows_covered, &vector, params);
        let n = self.rows.len() as u32;
        let mut report = GraphReport {
            points: n as u64,
            inserted: if old > 0 { rows.len() as u64 } else { 0 },
            ..GraphReport::default()
        };
        // The new nodes, and the old ones that lost links towards them and have few left from their own
        // neighbours: a screen over the losers' lists instead of a search per old node.
        let mut check = few_links_back(self, lost);
        check.extend(old as u32..n);
        // A build checks every node, in an order that follows the links; an insertion into a large graph
        // checks a few, whose order matters less than the whole graph's depth-first walk costs.
        let order = if old == 0 {
            CheckOrder::Links
        } else {
            CheckOrder::Ids
        };
        self.check_and_repair(check, &vector, params, order, &mut report);
        report.build_ms = t0.elapsed().as_millis() as u64;
        report
    }

    /// The insertion of [`GraphData::extend`] without its check: inserts `rows` and returns how many nodes
    /// the graph had before, and which of them lost a layer-0 link towards them.
    pub(crate) fn insert_rows<'a, F>(
        &mut self,
        rows: &[u64],
        rows_covered: u64,
        vector: &F,
        params: BuildParams,
    ) -> (usize, Vec<u32>)
    where
        F: Fn(u64) -> &'a [f32] + Sync,
    {
        let last = self.rows.last().map(|&r| r as u64);
        assert!(
            rows.windows(2).all(|w| w[0] < w[1])
                && rows.first().is_none_or(|&r| last.is_none_or(|l| l < r)),
            "GraphData::extend: rows must be ascending and above the graph's rows"
        );
        let old = self.rows.len();
        // A graph without int8 rows (format 1) gets them for every node; one with them, for the new ones.
        let from = if self.quant().is_some() { old } else { 0 };
        if from == 0 {
            self.mapped = None;
        }
        let own_from = from
            - self
                .mapped
                .as_ref()
                .map_or(0, |c| c.nodes(self.dim as usize));
        self.rows.extend(rows.iter().map(|&r| r as u32));
        self.rows_covered = rows_covered;
        let n = self.rows.len();
        let dim = self.dim as usize;
        let lost;
        {
            let node_rows = &self.rows;
            let vec_of = |node: u32| vector(node_rows[node as usize] as u64);
            let (codes, steps) = QuantRows::quantize_rows(dim, from..n, &vec_of);
            self.codes.truncate(own_from * dim);
            self.steps.truncate(from);
            self.codes.extend(codes);
            self.steps.extend(steps);
            let prev = crate::build::Built {
                levels: std::mem::take(&mut self.levels),
                entry: self.entry,
                layer0: std::mem::take(&mut self.layer0),
                upper: std::mem::take(&mut self.upper),
                lost: Vec::new(),
            };
            let (m, ef) = (self.m as usize, params.ef_construction);
            let built = match self.quant() {
                Some(quant) => crate::build::extend(prev, n, m, ef, &quant),
                None => crate::build::extend(prev, n, m, ef, &vec_of),
            };
            self.levels = built.levels;
            self.entry = built.entry;
            self.layer0 = built.layer0;
            self.upper = built.upper;
            lost = built.lost;
        }
        (old, lost)
    }

    /// Searches for each node of `nodes` with its own vector, and repairs the ones not found and every node
    /// no edge reaches from the entry point; fills `report`'s counts and `check_ms`.
    ///
    /// The searches widen step by step ([`check_beams`]: beam [`UPPER_EF`], then `check_ef`), each searching
    /// only the nodes the narrower one missed, and a search stops as soon as it reaches its node. `order` says
    /// whether they go along the links (a build) or in node order (an insertion, [`CheckOrder`]). A structural screen alone
    /// does not do: measured at 100k points, 5 of the 15 nodes a search at `check_ef` missed had no link
    /// back from their neighbours (orphans: [`few_links_back`] catches those), the other 10 had 8 to 19, so a
    /// build searches for every node.
    pub(crate) fn check_and_repair<'a, F>(
        &mut self,
        mut nodes: Vec<u32>,
        vector: &F,
        params: BuildParams,
        order: CheckOrder,
        report: &mut GraphReport,
    ) where
        F: Fn(u64) -> &'a [f32] + Sync,
    {
        let t_check = std::time::Instant::now();
        let g = self;
        // Per node, its place in the order the searches take (empty: node order).
        let (rank, disconnected) = match order {
            CheckOrder::Links => {
                let rank = g.reach_order();
                let disconnected: Vec<u32> = (0..rank.len() as u32)
                    .filter(|&i| rank[i as usize] == u32::MAX)
                    .collect();
                (rank, disconnected)
            }
            CheckOrder::Ids => (Vec::new(), g.disconnected()),
        };
        report.disconnected = disconnected.len() as u64;
        nodes.sort_unstable();
        nodes.dedup();
        report.checked = nodes.len() as u64;
        // Linked nodes one after the other: each thread's searches then read the same rows and lists.
        if !rank.is_empty() {
            nodes.sort_by_key(|&u| rank[u as usize]);
        }
        let vec_of = |node: u32| vector(g.rows[node as usize] as u64);
        let mut unfound = nodes;
        for ef in check_beams(params.check_ef) {
            unfound = self_misses(g, ef, &vec_of, unfound, true);
        }
        report.unreachable = unfound.len() as u64;
        // Points that no edge reaches are repaired too, even when a search for one "finds" it through an exact
        // duplicate of its vector.
        let mut todo = unfound;
        todo.extend(disconnected);
        todo.sort_unstable();
        todo.dedup();
        let mut to_repair = todo.len() as u64;
        let mut still = Vec::new();
        for round in 0..2 {
            let mut touched = Vec::new();
            for fan in [4usize, 16, 64] {
                if todo.is_empty() {
                    break;
                }
                touched.extend(g.repair(&todo, fan, params.check_ef, vector));
                let vec_of = |node: u32| vector(g.rows[node as usize] as u64);
                todo = self_misses(g, params.check_ef, &vec_of, todo, true);
            }
            still.append(&mut todo);
            if round == 1 || touched.is_empty() {
                break;
            }
            // The links added change the walks that pass by them, and a search that found its point before
            // may now miss it: search once more for the nodes next to those links.
            let mut near = touched.clone();
            for &v in &touched {
                near.extend_from_slice(g.layer0.get(v as usize));
            }
            near.sort_unstable();
            near.dedup();
            near.sort_by_key(|&u| rank.get(u as usize).copied().unwrap_or(u32::MAX));
            let vec_of = |node: u32| vector(g.rows[node as usize] as u64);
            for ef in check_beams(params.check_ef) {
                near = self_misses(g, ef, &vec_of, near, true);
            }
            to_repair += near.len() as u64;
            todo = near;
        }
        report.still_unreachable = still.len() as u64;
        report.repaired = to_repair - report.still_unreachable;
        report.check_ms = t_check.elapsed().as_millis() as u64;
    }

    /// The nodes that a search (beam `ef`) for their own vector does not return, over the whole graph: the
    /// build's check with whole searches (not stopped when they reach their node), for tests and tools.
    /// `vector(row)` gives a row's unit vector.
    pub fn self_search_misses<'a, F>(&self, ef: usize, vector: F) -> Vec<u32>
    where
        F: Fn(u64) -> &'a [f32] + Sync,
    {
        let vec_of = |node: u32| vector(self.rows[node as usize] as u64);
        self_misses(
            self,
            ef,
            &vec_of,
            (0..self.rows.len() as u32).collect(),
            false,
        )
    }

    /// Nodes not reachable from the entry point along edges of any layer.
    ///
    /// A breadth-first walk that marks the nodes it reaches in a bitset (128 KB at 1M nodes), each level's
    /// nodes taken in node order so that their lists are read in address order: on a 1M graph 0.11 to 0.13 s,
    /// where the depth-first `reach_order` (lists read at random) takes 0.5 to 0.6 s (2-core AMD EPYC).
    pub fn disconnected(&self) -> Vec<u32> {
        let n = self.rows.len();
        if n == 0 {
            return Vec::new();
        }
        let mut seen = vec![0u64; n.div_ceil(64)];
        let mut mark = |v: u32| {
            let (w, b) = (v as usize / 64, 1u64 << (v % 64));
            let new = seen[w] & b == 0;
            seen[w] |= b;
            new
        };
        mark(self.entry);
        let mut frontier = vec![self.entry];
        let mut next = Vec::new();
        while !frontier.is_empty() {
            frontier.sort_unstable();
            for &u in &frontier {
                for v in self.links_on_its_layers(u) {
                    if (v as usize) < n && mark(v) {
                        next.push(v);
                    }
                }
            }
            std::mem::swap(&mut frontier, &mut next);
            next.clear();
        }
        (0..n as u32)
            .filter(|&v| seen[v as usize / 64] & (1u64 << (v % 64)) == 0)
            .collect()
    }

    /// Per node, its rank in a depth-first walk along layer-0 edges from the entry point (then the upper
    /// layers' edges for what layer 0 does not reach); `u32::MAX` for the nodes no edge reaches. Nodes close
    /// in this order are linked to each other, so their self-searches read the same rows and lists.
    pub(crate) fn reach_order(&self) -> Vec<u32> {
        let n = self.rows.len();
        let mut rank = vec![u32::MAX; n];
        if n == 0 {
            return rank;
        }
        let mut next = 0u32;
        let mut stack = vec![self.entry];
        rank[self.entry as usize] = 0;
        while let Some(u) = stack.pop() {
            for v in self.links_on_its_layers(u) {
                if rank[v as usize] == u32::MAX {
                    next += 1;
                    rank[v as usize] = next;
                    stack.push(v);
                }
            }
        }
        rank
    }

    /// `u`'s neighbours on every layer it is on, the top one first. Only those layers: a lookup on every layer
    /// reads a list header per node and layer (the depth-first order over a 1M graph: 0.35 to 0.46 s against
    /// 0.52 to 0.53 s, 2-core AMD EPYC).
    fn links_on_its_layers(&self, u: u32) -> impl Iterator<Item = u32> + '_ {
        let top = self.top_layer();
        let level = self
            .levels
            .get(u as usize)
            .map_or(top, |&l| usize::from(l).min(top));
        (0..=level)
            .rev()
            .flat_map(move |layer| self.neighbours(layer, u).iter().copied())
    }

    /// Adds layer-0 edges towards each node in `todo` from the `fan` nearest nodes a search for
    /// it reaches, and from it to them; returns the nodes given a link.
    fn repair<'a, F>(&mut self, todo: &[u32], fan: usize, ef: usize, vector: &F) -> Vec<u32>
    where
        F: Fn(u64) -> &'a [f32] + Sync,
    {
        let vec_of = |node: u32| vector(self.rows[node as usize] as u64);
        let links: Vec<(u32, Vec<u32>)> = todo
            .par_iter()
            .map(|&u| {
                let found = search(self, vec_of(u), ef.max(fan), &vec_of);
                let near: Vec<u32> = found
                    .iter()
                    .map(|c| c.node)
                    .filter(|&v| v != u)
                    .take(fan)
                    .collect();
                (u, near)
            })
            .collect();
        let mut touched = Vec::new();
        // Links to add as (node, neighbour), in the order found; each once, and none a list already has.
        let mut added = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut add = |node: u32, to: u32, layer0: &Lists| {
            let new = !layer0.get(node as usize).contains(&to) && seen.insert((node, to));
            if new {
                added.push((node, to));
            }
            new
        };
        for (u, near) in links {
            for v in near {
                if add(v, u, &self.layer0) {
                    touched.push(v);
                }
                add(u, v, &self.layer0);
            }
        }
        self.layer0 = self.layer0.with_added(&mut added);
        touched
    }

    /// Serialises to the on-disk format (see `index-format.md`, "Graph files") as one self-contained file,
    /// its int8 rows inside (version 2; the writer writes version 3, [`GraphData::to_bytes_sidecar`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.serialise(2, 0, |out, quant| match quant {
            Some(qr) => {
                out.extend_from_slice(&QUANT_I8.to_le_bytes());
                out.extend_from_slice(&(qr.dim as u64).to_le_bytes());
                for s in qr.steps {
                    out.extend_from_slice(&s.to_le_bytes());
                }
                pad_to(out, 64);
                out.extend(qr.codes_from(0).iter().map(|&c| c as u8));
                pad8(out);
            }
            None => {
                out.extend_from_slice(&QUANT_NONE.to_le_bytes());
                out.extend_from_slice(&0u64.to_le_bytes());
            }
        })
    }

    /// Serialises as a version 3 graph file whose int8 codes are in code file `codes_gen` (`crate::codes`),
    /// listed as `segments`: the file holds the steps and the segments' checksums, not the codes.
    ///
    /// # Panics
    /// If the graph has no int8 rows (a bug of the caller: the writer quantises every graph).
    pub(crate) fn to_bytes_sidecar(
        &self,
        codes_gen: u64,
        segments: &[crate::codes::Segment],
    ) -> Vec<u8> {
        self.serialise(3, codes_gen, |out, quant| {
            let qr = quant.expect("to_bytes_sidecar: a graph without int8 rows");
            out.extend_from_slice(&QUANT_SIDECAR.to_le_bytes());
            out.extend_from_slice(&(qr.dim as u64).to_le_bytes());
            out.extend_from_slice(&(segments.len() as u64).to_le_bytes());
            for s in qr.steps {
                out.extend_from_slice(&s.to_le_bytes());
            }
            pad8(out);
            for s in segments {
                for x in [s.first, s.count, s.checksum] {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
        })
    }

    /// The file layout up to the int8 section, which `quant` appends, then the footer.
    fn serialise<Q>(&self, version: u32, codes_gen: u64, quant: Q) -> Vec<u8>
    where
        Q: FnOnce(&mut Vec<u8>, Option<QuantRows<'_>>),
    {
        let n = self.rows.len() as u64;
        // Reserved once (padding aside): the int8 rows alone are `n * dim` bytes.
        let layers = self.upper.len() + 1;
        let links = self.layer0.edges() + self.upper.iter().flatten().map(Vec::len).sum::<usize>();
        let per_node = 4 + 1 + 4 + self.dim as usize + layers * (8 + 4);
        let mut out = Vec::with_capacity(
            HEADER + FOOTER + 256 + 64 * layers + n as usize * per_node + links * 4,
        );
        let mut h = [0u8; HEADER];
        h[0..8].copy_from_slice(&GRAPH_MAGIC);
        h[8..12].copy_from_slice(&version.to_le_bytes());
        h[12..16].copy_from_slice(&self.level.code().to_le_bytes());
        h[16..24].copy_from_slice(&n.to_le_bytes());
        h[24..28].copy_from_slice(&(layers as u32).to_le_bytes());
        h[28..32].copy_from_slice(&self.entry.to_le_bytes());
        h[32..36].copy_from_slice(&self.dim.to_le_bytes());
        h[36..40].copy_from_slice(&self.m.to_le_bytes());
        h[40..48].copy_from_slice(&self.rows_covered.to_le_bytes());
        h[48..56].copy_from_slice(&codes_gen.to_le_bytes());
        let s = xxh3_64(&h[0..56]);
        h[56..64].copy_from_slice(&s.to_le_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(u32_bytes(&self.rows));
        pad8(&mut out);
        out.extend_from_slice(&self.levels);
        pad8(&mut out);
        // Layer 0: every node, so no node ids; its offsets and links are the file's, copied whole.
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(self.layer0.edges() as u64).to_le_bytes());
        out.extend_from_slice(u64_bytes(self.layer0.offsets()));
        out.extend_from_slice(u32_bytes(self.layer0.links()));
        pad8(&mut out);
        for (i, lists) in self.upper.iter().enumerate() {
            let layer = i + 1;
            let nodes: Vec<u32> = (0..n as u32)
                .filter(|&i| self.levels[i as usize] as usize >= layer)
                .collect();
            let edges: u64 = nodes.iter().map(|&i| lists[i as usize].len() as u64).sum();
            out.extend_from_slice(&(nodes.len() as u64).to_le_bytes());
            out.extend_from_slice(&edges.to_le_bytes());
            out.extend_from_slice(u32_bytes(&nodes));
            pad8(&mut out);
            let mut off = 0u64;
            out.extend_from_slice(&off.to_le_bytes());
            for &i in &nodes {
                off += lists[i as usize].len() as u64;
                out.extend_from_slice(&off.to_le_bytes());
            }
            for &i in &nodes {
                out.extend_from_slice(u32_bytes(&lists[i as usize]));
            }
            pad8(&mut out);
        }
        quant(&mut out, self.quant());
        let sum = xxh3_64(&out);
        let total = out.len() as u64 + FOOTER as u64;
        out.extend_from_slice(&sum.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&GRAPH_END);
        out
    }

    /// Writes the graph to `path` through `storage` and syncs it and its directory; returns (file length,
    /// footer checksum).
    pub fn write(&self, storage: &dyn Storage, path: &Path) -> Result<(u64, u64)> {
        write_synced(storage, path, &self.to_bytes())
    }
}

/// Writes graph file `bytes` to `path` through `storage` and syncs it and its directory; returns (file
/// length, footer checksum).
pub(crate) fn write_synced(storage: &dyn Storage, path: &Path, bytes: &[u8]) -> Result<(u64, u64)> {
    let f = storage
        .open(path, true)
        .map_err(|e| IndexError::io(path, e))?;
    f.set_len(0).map_err(|e| IndexError::io(path, e))?;
    f.write_at(bytes, 0).map_err(|e| IndexError::io(path, e))?;
    f.sync().map_err(|e| IndexError::io(path, e))?;
    if let Some(d) = path.parent() {
        sync_dir(storage, d)?;
    }
    let n = bytes.len();
    Ok((n as u64, u64_at(bytes, n - FOOTER)))
}

/// Nodes with fewer of their own layer-0 neighbours linking back to them than this are searched for after
/// an insertion: see [`few_links_back`].
pub(crate) const SUSPECT_BELOW: usize = 4;

/// Of `nodes`, those a search for their own vector may miss: fewer than [`SUSPECT_BELOW`] of their own
/// layer-0 neighbours link back to them. A search for a point's vector reaches the point's nearest
/// neighbours (those its insertion linked it to); when the heuristic has pruned their links back to it, only
/// a link from elsewhere can lead the search there. O(M^2) list lookups per node, on the rayon pool.
pub(crate) fn few_links_back<A: Adjacency + ?Sized>(g: &A, nodes: Vec<u32>) -> Vec<u32> {
    nodes
        .into_par_iter()
        .with_min_len(1024)
        .filter(|&u| {
            let back = g
                .neighbours(0, u)
                .iter()
                .filter(|&&v| g.neighbours(0, v).contains(&u))
                .take(SUSPECT_BELOW)
                .count();
            back < SUSPECT_BELOW
        })
        .collect()
}

/// The nodes of `nodes` that a search (beam `ef`) for their own vector does not return (or an exact duplicate
/// of it). Presence among the walk's `ef` candidates is what counts, so the walk skips the re-scoring; with
/// `stop`, a search ends as soon as it scores its node (nothing scores above a point's own vector but an
/// exact duplicate of it, so the node would stay among the candidates).
pub(crate) fn self_misses<'a, A, F>(
    g: &A,
    ef: usize,
    vec_of: &F,
    nodes: Vec<u32>,
    stop: bool,
) -> Vec<u32>
where
    A: Adjacency + ?Sized,
    F: Fn(u32) -> &'a [f32] + Sync,
{
    nodes
        .into_par_iter()
        .filter(|&u| {
            let q = vec_of(u);
            let found = walk(g, q, ef, vec_of, 0, |_| true, stop.then_some(u));
            !(found.iter().any(|c| c.node == u) || found.iter().any(|c| vec_of(c.node) == q))
        })
        .collect()
}

/// The bytes of `v` as the file stores them (little-endian, the only target: see `vectors`), one copy per
/// list instead of one per link when serialising.
fn u32_bytes(v: &[u32]) -> &[u8] {
    // SAFETY: u8 has no alignment or validity requirement; the length is the same memory in bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), v.len() * 4) }
}

fn u64_bytes(v: &[u64]) -> &[u8] {
    // SAFETY: as in `u32_bytes`.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), v.len() * 8) }
}

fn pad8(v: &mut Vec<u8>) {
    pad_to(v, 8);
}

fn pad_to(v: &mut Vec<u8>, align: usize) {
    while !v.len().is_multiple_of(align) {
        v.push(0);
    }
}

/// Bytes backing a [`GraphView`]: a file map, or an 8-byte aligned buffer (tests).
#[derive(Debug)]
enum Backing {
    Map(Mmap),
    Owned(Vec<u64>, usize),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m,
            Backing::Owned(v, len) => {
                // SAFETY: a u64 buffer viewed as its bytes, `len` <= 8 * v.len().
                unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), *len) }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct LayerSpan {
    count: usize,
    /// Byte offset of the sorted node ids (layers above 0).
    nodes: usize,
    offsets: usize,
    neigh: usize,
    edges: usize,
}

/// A graph file, mapped and validated structurally enough that searching it cannot go out of
/// bounds (every access is checked; a damaged list reads as empty).
#[derive(Debug)]
pub struct GraphView {
    path: PathBuf,
    data: Backing,
    pub level: Level,
    pub dim: u32,
    pub points: u64,
    pub rows_covered: u64,
    pub m: u32,
    entry: u32,
    rows_at: usize,
    levels_at: usize,
    layers: Vec<LayerSpan>,
    /// Byte offsets of the int8 section's steps and codes, when the file has one (codes unused with a
    /// `codes` file).
    quant_at: Option<(usize, usize)>,
    /// Version 3: the int8 code file holding the codes.
    codes: Option<crate::codes::CodesFile>,
    checksum: u64,
}

impl GraphView {
    /// Maps and checks a graph file: header, footer, section bounds and (if `full`) the checksum.
    pub fn open(path: &Path, full: bool) -> Result<GraphView> {
        let f = File::open(path).map_err(|e| IndexError::io(path, e))?;
        // SAFETY: graph files are written once, synced and never modified; see `RowMap::open`.
        let map = unsafe { Mmap::map(&f) }.map_err(|e| IndexError::io(path, e))?;
        Self::parse(path, Backing::Map(map), full)
    }

    /// Parses graph bytes held in memory (tests and tools).
    pub fn from_bytes(bytes: &[u8], full: bool) -> Result<GraphView> {
        let mut v = vec![0u64; bytes.len().div_ceil(8)];
        for (i, c) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            v[i] = u64::from_le_bytes(w);
        }
        Self::parse(Path::new("<memory>"), Backing::Owned(v, bytes.len()), full)
    }

    fn parse(path: &Path, data: Backing, full: bool) -> Result<GraphView> {
        let b = data.bytes();
        let bad = |d: &str| IndexError::corrupt(path, d.to_string());
        if b.len() < HEADER + FOOTER {
            return Err(bad("graph file shorter than header and footer"));
        }
        if b[0..8] != GRAPH_MAGIC {
            return Err(bad("bad magic number in graph header"));
        }
        let version = u32_at(b, 8);
        if version > GRAPH_VERSION {
            return Err(IndexError::NewerFormat {
                path: path.to_path_buf(),
                found: version,
                supported: GRAPH_VERSION,
            });
        }
        if u64_at(b, 56) != xxh3_64(&b[0..56]) {
            return Err(bad("graph header checksum mismatch"));
        }
        let end = b.len() - FOOTER;
        if b[end + 16..] != GRAPH_END || u64_at(b, end + 8) != b.len() as u64 {
            return Err(bad("bad graph footer (truncated or extended file)"));
        }
        let checksum = u64_at(b, end);
        if full && xxh3_64(&b[..end]) != checksum {
            return Err(bad("graph checksum mismatch"));
        }
        let level = Level::from_code(u32_at(b, 12)).ok_or_else(|| bad("unknown level"))?;
        let points = u64_at(b, 16);
        let n_layers = u32_at(b, 24) as usize;
        let entry = u32_at(b, 28);
        if points > u32::MAX as u64 || n_layers == 0 || n_layers > 64 || version == 0 {
            return Err(bad("inconsistent graph header fields"));
        }
        if points > 0 && entry as u64 >= points {
            return Err(bad("graph entry point out of range"));
        }
        let n = points as usize;
        let mut at = HEADER;
        let take = |at: &mut usize, bytes: usize| -> Result<usize> {
            let start = *at;
            let e = start
                .checked_add(bytes)
                .map(|e| e.div_ceil(8) * 8)
                .filter(|&e| e <= end)
                .ok_or_else(|| bad("graph section runs past the end of the file"))?;
            *at = e;
            Ok(start)
        };
        let rows_at = take(&mut at, n * 4)?;
        let levels_at = take(&mut at, n)?;
        let mut layers = Vec::with_capacity(n_layers);
        for layer in 0..n_layers {
            let head = take(&mut at, 16)?;
            let count = u64_at(b, head);
            let edges = u64_at(b, head + 8);
            if count > points || (layer == 0 && count != points) || edges > (end as u64) / 4 {
                return Err(bad("inconsistent graph layer counts"));
            }
            let (count, edges) = (count as usize, edges as usize);
            let nodes = take(&mut at, if layer == 0 { 0 } else { count * 4 })?;
            let offsets = take(&mut at, (count + 1) * 8)?;
            let neigh = take(&mut at, edges * 4)?;
            layers.push(LayerSpan {
                count,
                nodes,
                offsets,
                neigh,
                edges,
            });
        }
        let mut quant_at = None;
        let mut sidecar = None;
        if version >= 2 {
            let head = take(&mut at, 16)?;
            match u64_at(b, head) {
                QUANT_NONE => {}
                QUANT_I8 => {
                    if u64_at(b, head + 8) != u32_at(b, 32) as u64 || u32_at(b, 32) == 0 {
                        return Err(bad("graph int8 rows do not match the dimension"));
                    }
                    let dim = u32_at(b, 32) as usize;
                    let steps = take(&mut at, n * 4)?;
                    at = at.div_ceil(64) * 64;
                    let codes = take(&mut at, n * dim)?;
                    quant_at = Some((steps, codes));
                }
                QUANT_SIDECAR if version >= 3 => {
                    let dim = u32_at(b, 32);
                    let nsegs = u64_at(b, take(&mut at, 8)?);
                    if u64_at(b, head + 8) != dim as u64 || dim == 0 || nsegs > points {
                        return Err(bad("graph int8 rows do not match the dimension"));
                    }
                    let steps = take(&mut at, n * 4)?;
                    let table = take(&mut at, nsegs as usize * 24)?;
                    let segments = (0..nsegs as usize)
                        .map(|i| crate::codes::Segment {
                            first: u64_at(b, table + i * 24),
                            count: u64_at(b, table + i * 24 + 8),
                            checksum: u64_at(b, table + i * 24 + 16),
                        })
                        .collect();
                    let dir = path.parent().unwrap_or(Path::new("."));
                    sidecar = Some((steps, dir.to_path_buf(), segments));
                    quant_at = Some((steps, 0));
                }
                _ => return Err(bad("unknown kind of graph int8 rows")),
            }
        }
        if at != end {
            return Err(bad("graph sections do not fill the file"));
        }
        let codes = match sidecar {
            Some((_, dir, segments)) => Some(crate::codes::CodesFile::open(
                &dir,
                level,
                u32_at(b, 32),
                u64_at(b, 48),
                points,
                segments,
                full,
            )?),
            None => None,
        };
        Ok(GraphView {
            path: path.to_path_buf(),
            level,
            dim: u32_at(b, 32),
            points,
            rows_covered: u64_at(b, 40),
            m: u32_at(b, 36),
            entry,
            rows_at,
            levels_at,
            layers,
            quant_at,
            codes,
            checksum,
            data,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Version 3: the int8 code file holding the nodes' codes.
    pub(crate) fn codes_file(&self) -> Option<&crate::codes::CodesFile> {
        self.codes.as_ref()
    }

    /// The footer checksum (recorded in the manifest as well).
    pub fn checksum(&self) -> u64 {
        self.checksum
    }

    fn u32s(&self, at: usize, n: usize) -> &[u32] {
        let b = &self.data.bytes()[at..at + n * 4];
        // SAFETY: sections start at multiples of 8 of an 8-aligned buffer (page-aligned map or a
        // u64 vector), bounds were checked at parse time, every bit pattern is a valid u32, and
        // the target is little-endian.
        unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<u32>(), n) }
    }

    fn u64s(&self, at: usize, n: usize) -> &[u64] {
        let b = &self.data.bytes()[at..at + n * 8];
        // SAFETY: as for `u32s`.
        unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<u64>(), n) }
    }

    /// Levels per node.
    pub fn levels(&self) -> &[u8] {
        &self.data.bytes()[self.levels_at..self.levels_at + self.points as usize]
    }

    /// Node -> row numbers.
    pub fn rows(&self) -> &[u32] {
        self.u32s(self.rows_at, self.points as usize)
    }

    /// Neighbours of `node` on `layer` (empty if absent or damaged).
    pub fn neighbours_of(&self, layer: usize, node: u32) -> &[u32] {
        self.neighbours(layer, node)
    }

    /// Layer 0's lists, copied whole from the file when its offsets are in order (they are in any file that
    /// passed its checksum), else list by list as searches read them (a damaged list reads as empty).
    fn layer0(&self) -> Lists {
        let s = self.layers[0];
        let offsets = self.u64s(s.offsets, s.count + 1).to_vec();
        let links = self.u32s(s.neigh, s.edges).to_vec();
        Lists::from_parts(offsets, links).unwrap_or_else(|| {
            let mut lists = Lists::default();
            for i in 0..s.count as u32 {
                lists.push(self.neighbours(0, i));
            }
            lists
        })
    }

    /// Copies the graph back into memory (tests and tools).
    pub fn to_data(&self) -> GraphData {
        let mut g = self.lists_to_data();
        if let Some(q) = self.quant() {
            g.codes = q.codes_from(0).into_owned();
            g.steps = q.steps.to_vec();
        }
        g
    }

    /// The graph in memory to extend: its lists copied, its int8 codes read in place from `view`'s map.
    pub(crate) fn to_data_mapped(view: &std::sync::Arc<GraphView>) -> GraphData {
        let mut g = view.lists_to_data();
        if let Some(q) = view.quant() {
            g.steps = q.steps.to_vec();
            g.mapped = Some(MappedCodes(view.clone()));
        }
        g
    }

    /// The graph in memory without its int8 codes.
    fn lists_to_data(&self) -> GraphData {
        let n = self.points as usize;
        let upper = (1..self.layers.len())
            .map(|l| {
                // Only the layer's own nodes have lists: no search of its node list per node.
                let mut lists = vec![Vec::new(); n];
                let s = self.layers[l];
                for &node in self.u32s(s.nodes, s.count) {
                    if let Some(list) = lists.get_mut(node as usize) {
                        *list = self.neighbours(l, node).to_vec();
                    }
                }
                lists
            })
            .collect();
        GraphData {
            level: self.level,
            dim: self.dim,
            m: self.m,
            rows_covered: self.rows_covered,
            rows: self.rows().to_vec(),
            levels: self.levels().to_vec(),
            entry: self.entry,
            layer0: self.layer0(),
            upper,
            codes: Vec::new(),
            mapped: None,
            steps: Vec::new(),
        }
    }

    /// Checks everything `parse` does not: the checksum, offsets, neighbour ids, node lists and
    /// row numbers. Returns the problems found.
    pub fn deep_check(&self, committed_rows: u64) -> Vec<String> {
        let mut out = self.deep_check_links(committed_rows);
        if let Some(p) = self.codes.as_ref().and_then(|c| c.damaged(self.dim)) {
            out.push(p);
        }
        out
    }

    /// [`GraphView::deep_check`] of the graph file alone: a version 3 graph's int8 code file, whose
    /// segments' checksums the graph file lists, is not hashed (an extension appends to it and relies on
    /// them, `crate::extend`).
    pub fn deep_check_links(&self, committed_rows: u64) -> Vec<String> {
        let mut out = Vec::new();
        let b = self.data.bytes();
        let end = b.len() - FOOTER;
        if xxh3_64(&b[..end]) != self.checksum {
            out.push("graph checksum mismatch".to_string());
        }
        let n = self.points as usize;
        if let Some(bad) = self
            .rows()
            .iter()
            .position(|&r| r as u64 >= committed_rows.min(self.rows_covered))
        {
            out.push(format!("node {bad} points at a row past the covered rows"));
        }
        if self.rows().windows(2).any(|w| w[0] >= w[1]) {
            out.push("node rows are not strictly ascending".to_string());
        }
        for (l, s) in self.layers.iter().enumerate() {
            let offs = self.u64s(s.offsets, s.count + 1);
            if offs[0] != 0
                || offs[s.count] != s.edges as u64
                || offs.windows(2).any(|w| w[0] > w[1])
            {
                out.push(format!("layer {l}: bad offsets"));
            }
            if self.u32s(s.neigh, s.edges).iter().any(|&v| v as usize >= n) {
                out.push(format!("layer {l}: neighbour id out of range"));
            }
            if l > 0 {
                let nodes = self.u32s(s.nodes, s.count);
                if nodes.windows(2).any(|w| w[0] >= w[1]) || nodes.iter().any(|&v| v as usize >= n)
                {
                    out.push(format!("layer {l}: bad node list"));
                } else if nodes
                    .iter()
                    .any(|&v| (self.levels()[v as usize] as usize) < l)
                {
                    out.push(format!("layer {l}: node above its level"));
                }
            }
        }
        if self
            .levels()
            .iter()
            .any(|&x| x as usize >= self.layers.len())
        {
            out.push("node level above the top layer".to_string());
        }
        out
    }
}

impl Adjacency for GraphView {
    fn len(&self) -> usize {
        self.points as usize
    }
    fn entry(&self) -> Option<u32> {
        (self.points > 0).then_some(self.entry)
    }
    fn top_layer(&self) -> usize {
        self.layers.len() - 1
    }
    fn neighbours(&self, layer: usize, node: u32) -> &[u32] {
        let Some(s) = self.layers.get(layer) else {
            return &[];
        };
        let idx = if layer == 0 {
            node as usize
        } else {
            match self.u32s(s.nodes, s.count).binary_search(&node) {
                Ok(i) => i,
                Err(_) => return &[],
            }
        };
        if idx >= s.count {
            return &[];
        }
        let offs = self.u64s(s.offsets + idx * 8, 2);
        let (a, z) = (offs[0] as usize, offs[1] as usize);
        if a > z || z > s.edges {
            return &[];
        }
        &self.u32s(s.neigh, s.edges)[a..z]
    }
    fn row(&self, node: u32) -> Option<u64> {
        self.rows().get(node as usize).map(|&r| r as u64)
    }
    fn quant(&self) -> Option<QuantRows<'_>> {
        let (steps_at, codes_at) = self.quant_at?;
        let n = self.points as usize;
        let dim = self.dim as usize;
        let b = self.data.bytes();
        // SAFETY: as for `u32s` (the steps start at a multiple of 8, f32 has no invalid bit patterns); the
        // codes are bytes, bounds checked at parse time.
        let steps = unsafe {
            std::slice::from_raw_parts(b[steps_at..steps_at + n * 4].as_ptr().cast::<f32>(), n)
        };
        let codes = match &self.codes {
            Some(c) => c.codes(),
            None => unsafe {
                std::slice::from_raw_parts(
                    b[codes_at..codes_at + n * dim].as_ptr().cast::<i8>(),
                    n * dim,
                )
            },
        };
        QuantRows::new(dim, codes, steps)
    }
}

/// A candidate in a graph search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cand {
    pub score: f32,
    pub node: u32,
}

impl Eq for Cand {}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.score
            .total_cmp(&o.score)
            .then_with(|| o.node.cmp(&self.node))
    }
}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

#[derive(Default)]
pub(crate) struct Visited {
    marks: Vec<u32>,
    epoch: u32,
    /// Scratch list of the not yet visited neighbours of the node being expanded.
    fresh: Vec<u32>,
}

impl Visited {
    pub(crate) fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.epoch = 1;
        }
    }
    /// Marks `i`; true if it was not marked yet.
    #[inline]
    pub(crate) fn insert(&mut self, i: u32) -> bool {
        match self.marks.get_mut(i as usize) {
            Some(m) if *m != self.epoch => {
                *m = self.epoch;
                true
            }
            _ => false,
        }
    }
}

thread_local! {
    pub(crate) static VISITED: RefCell<Visited> = RefCell::new(Visited::default());
}

/// Hints the CPU to load the first cache lines of `v`; a no-op off x86-64.
#[inline(always)]
pub(crate) fn prefetch(v: &[f32]) {
    prefetch_lines(v.as_ptr().cast(), (v.len() / 16).min(4));
}

/// Hints the CPU to load the whole of an int8 code row (at most 16 cache lines).
#[inline(always)]
fn prefetch_codes(v: &[i8]) {
    prefetch_lines(v.as_ptr().cast(), v.len().div_ceil(64).min(16));
}

#[inline(always)]
fn prefetch_lines(p: *const i8, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in 0..lines {
            // SAFETY: prefetching is a hint and never faults; callers pass lines inside their slice.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(line * 64)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, lines);
}

/// HNSW search: greedy descent through the upper layers, then a beam of width `ef` on layer 0.
/// Returns up to `ef` candidates, best first, with exact scores (`dot` on the f32 rows of `vec_of`).
///
/// With an int8 copy of the rows ([`Adjacency::quant`]) the walk scores on it and the final candidates are
/// re-scored on the f32 rows; without one, it scores on the f32 rows throughout.
pub(crate) fn search<'a, A, F>(g: &A, q: &[f32], ef: usize, vec_of: &F) -> Vec<Cand>
where
    A: Adjacency + ?Sized,
    F: Fn(u32) -> &'a [f32] + ?Sized,
{
    search_where(g, q, ef, ef, vec_of, |_| true)
}

/// [`search`] returning only nodes for which `keep` holds (dead rows, a path filter), as hnswlib's
/// filtered search: the walk goes through every node, the `ef` best kept nodes bound the beam, and it
/// stops only once it holds `ef` of them (or runs out of nodes). Only the `rerank` best of the walk's
/// candidates (by their int8 scores) are re-scored on the f32 rows and returned: [`rerank_for`] gives how
/// many a top k needs.
pub(crate) fn search_where<'a, A, F, K>(
    g: &A,
    q: &[f32],
    ef: usize,
    rerank: usize,
    vec_of: &F,
    keep: K,
) -> Vec<Cand>
where
    A: Adjacency + ?Sized,
    F: Fn(u32) -> &'a [f32] + ?Sized,
    K: Fn(u32) -> bool,
{
    walk(g, q, ef, vec_of, rerank.max(1), keep, None)
}

/// The walk's candidates a top `k` re-scores exactly (see [`search_where`]): `RERANK_PER_HIT * k`, at
/// least [`RERANK_MIN`].
pub(crate) fn rerank_for(k: usize) -> usize {
    (RERANK_PER_HIT * k).max(RERANK_MIN)
}

/// Candidates re-scored per hit wanted. Measured at 100k (bench data, k 10, beams 16 to 64): the top 20
/// of the int8 walk hold every exact top-10 hit that all `ef` candidates hold (same recall), the top 10 do
/// not (recall 0.9667 against 0.9836 at ef 32).
const RERANK_PER_HIT: usize = 2;
/// Fewest candidates re-scored, for small k.
const RERANK_MIN: usize = 16;

/// [`search_where`], with the final re-scoring on the f32 rows of the `rerank` best candidates (0: none;
/// the scores and order are then the int8 walk's when the graph has int8 rows, and all `ef` candidates
/// are returned). With a `target`, the walk stops as soon as it reaches that node and returns it alone.
fn walk<'a, A, F, K>(
    g: &A,
    q: &[f32],
    ef: usize,
    vec_of: &F,
    rerank: usize,
    keep: K,
    target: Option<u32>,
) -> Vec<Cand>
where
    A: Adjacency + ?Sized,
    F: Fn(u32) -> &'a [f32] + ?Sized,
    K: Fn(u32) -> bool,
{
    let Some(quant) = g.quant().filter(|qr| qr.dim == q.len()) else {
        let score = |v| dot(q, vec_of(v));
        return beam(g, ef, score, |v| prefetch(vec_of(v)), keep, target);
    };
    QUERY_CODES.with(|codes| {
        let mut codes = codes.borrow_mut();
        // A self-search (the build's check) takes its node's own codes: `quantize` made them from the same
        // vector, and its f32 row is then not read at all.
        let (codes, step) = match target.filter(|_| rerank == 0) {
            Some(t) if quant.codes(t).len() == q.len() => (quant.codes(t), quant.step(t)),
            _ => {
                codes.resize(q.len(), 0);
                let step = quantize(q, &mut codes);
                (&codes[..], step)
            }
        };
        let sum = code_sum(codes);
        let mut out = beam(
            g,
            ef,
            |v| quant.score(codes, sum, step, v),
            |v| quant.prefetch(v),
            keep,
            target,
        );
        if rerank == 0 {
            return out;
        }
        out.truncate(rerank);
        for c in &out {
            prefetch(vec_of(c.node));
        }
        for c in &mut out {
            c.score = dot(q, vec_of(c.node));
        }
        out.sort_by(|a, b| b.cmp(a));
        out
    })
}

/// The `ef` best candidates of a beam search so far (a min-heap on score, worst on top).
struct Best {
    heap: BinaryHeap<std::cmp::Reverse<Cand>>,
    ef: usize,
}

impl Best {
    fn new(ef: usize) -> Self {
        Best {
            heap: BinaryHeap::with_capacity(ef + 1),
            ef,
        }
    }

    /// The worst score kept (minus infinity while empty).
    #[inline(always)]
    fn worst(&self) -> f32 {
        self.heap.peek().map_or(f32::NEG_INFINITY, |w| w.0.score)
    }

    /// Whether a candidate of score `s` would be kept (fewer than `ef` kept, or better than the worst).
    #[inline(always)]
    fn admits(&self, s: f32) -> bool {
        self.heap.len() < self.ef || s > self.worst()
    }

    /// Whether a walk whose best next candidate scores `s` can stop: `ef` kept, all better than it.
    #[inline(always)]
    fn done(&self, s: f32) -> bool {
        s < self.worst() && self.heap.len() >= self.ef
    }

    /// Keeps `c`, dropping the worst when more than `ef` are kept.
    #[inline(always)]
    fn push(&mut self, c: Cand) {
        self.heap.push(std::cmp::Reverse(c));
        if self.heap.len() > self.ef {
            self.heap.pop();
        }
    }

    /// The kept candidates, best first.
    fn into_sorted(self) -> Vec<Cand> {
        let mut out: Vec<Cand> = self.heap.into_iter().map(|r| r.0).collect();
        out.sort_by(|a, b| b.cmp(a));
        out
    }
}

thread_local! {
    /// The query's int8 codes (one buffer per thread, reused).
    static QUERY_CODES: RefCell<Vec<i8>> = const { RefCell::new(Vec::new()) };
}

/// The search proper, on any scoring: `score(node)` is the similarity to the query, `fetch(node)` a
/// prefetch hint for the data `score` will read; only nodes for which `keep` holds are returned. Scoring
/// `target` ends the search with that node alone.
#[inline(always)]
fn beam<A, S, P, K>(g: &A, ef: usize, score: S, fetch: P, keep: K, target: Option<u32>) -> Vec<Cand>
where
    A: Adjacency + ?Sized,
    S: Fn(u32) -> f32,
    P: Fn(u32),
    K: Fn(u32) -> bool,
{
    let Some(cur) = g.entry() else {
        return Vec::new();
    };
    let n = g.len();
    let ef = ef.max(1);
    let mut eps = vec![Cand {
        score: score(cur),
        node: cur,
    }];
    for layer in (1..=g.top_layer()).rev() {
        let links = |node, buf: &mut Vec<u32>| {
            buf.clear();
            buf.extend_from_slice(g.neighbours(layer, node));
        };
        eps = layer_beam(n, &eps, ef.min(UPPER_EF), links, &score, &fetch);
    }
    if let Some(t) = eps.iter().find(|c| target == Some(c.node)) {
        return vec![*t];
    }
    VISITED.with(|vis| {
        let mut vis = vis.borrow_mut();
        vis.reset(n);
        // `cands`: max-heap (best next); `best`: min-heap of the ef best so far.
        let mut cands = BinaryHeap::with_capacity(ef * 2);
        let mut best = Best::new(ef);
        for &start in &eps {
            vis.insert(start.node);
            cands.push(start);
            if keep(start.node) {
                best.push(start);
            }
        }
        while let Some(c) = cands.pop() {
            if best.done(c.score) {
                break;
            }
            // Vectors are scattered over a large map: ask for the head of every unvisited
            // neighbour's row before scoring the first, so that the memory latencies overlap.
            let mut fresh = std::mem::take(&mut vis.fresh);
            fresh.clear();
            // The next candidate's link list, while this one's neighbours are scored.
            if let Some(next) = cands.peek() {
                let l = g.neighbours(0, next.node);
                prefetch_lines(l.as_ptr().cast(), l.len().div_ceil(16).min(4));
            }
            for &v in g.neighbours(0, c.node) {
                if target == Some(v) {
                    // Scoring it would end the walk: skip the other neighbours' scores.
                    return vec![Cand {
                        score: score(v),
                        node: v,
                    }];
                }
                if (v as usize) < n && vis.insert(v) {
                    fetch(v);
                    fresh.push(v);
                }
            }
            for &v in &fresh {
                let s = score(v);
                if target == Some(v) {
                    return vec![Cand { score: s, node: v }];
                }
                if best.admits(s) {
                    let cand = Cand { score: s, node: v };
                    cands.push(cand);
                    if keep(v) {
                        best.push(cand);
                    }
                }
            }
            vis.fresh = fresh;
        }
        best.into_sorted()
    })
}

/// The beams of a build's check, narrowest first, each searching only the points the narrower one missed:
/// [`UPPER_EF`], then `check_ef`. None is narrower than [`UPPER_EF`]: a search that narrow also descends the
/// upper layers with a narrower beam, and lands elsewhere than the searches users run (`ef` 96 by default).
/// Measured on the bench's 1M set: a check from beam 2 (2, 8, 64) passed 153 points that a search at beam 96
/// for their own vector misses (11 at beam 400), found only by the beam-2 walk. A `check_ef` of [`UPPER_EF`] or
/// less is one beam (a second search at the same beam would miss the same points again).
pub(crate) fn check_beams(check_ef: usize) -> Vec<usize> {
    if check_ef > UPPER_EF {
        vec![UPPER_EF, check_ef]
    } else {
        vec![check_ef]
    }
}

/// Widest beam on the layers above 0 (a search's own `ef` when narrower). A greedy descent (beam 1, as
/// hnswlib's) lands in the wrong cluster for some points on the bench's 1M set, whose clusters of 1000 points
/// are linked to each other only on the upper layers: measured on 200k points in clusters of 1000, 278 of the
/// 365 points a beam-64 search for themselves missed had been led into another cluster by the greedy descent.
pub(crate) const UPPER_EF: usize = 8;

/// Beam search of width `ef` from `eps` over `n` nodes on one layer, best first: `links(node, buf)` puts
/// a node's neighbours in `buf`, `score(node)` is the similarity to the query, `fetch(node)` a prefetch hint.
/// The descent of [`beam`] on the upper layers, and the build's insertion on every layer.
pub(crate) fn layer_beam<L, S, P>(
    n: usize,
    eps: &[Cand],
    ef: usize,
    mut links: L,
    score: S,
    fetch: P,
) -> Vec<Cand>
where
    L: FnMut(u32, &mut Vec<u32>),
    S: Fn(u32) -> f32,
    P: Fn(u32),
{
    VISITED.with(|vis| {
        let mut vis = vis.borrow_mut();
        vis.reset(n);
        let mut cands: BinaryHeap<Cand> = BinaryHeap::with_capacity(ef * 2);
        let mut best = Best::new(ef);
        let mut buf = std::mem::take(&mut vis.fresh);
        for &e in eps {
            if vis.insert(e.node) {
                cands.push(e);
                best.push(e);
            }
        }
        while let Some(c) = cands.pop() {
            if best.done(c.score) {
                break;
            }
            links(c.node, &mut buf);
            // Only unvisited neighbours are scored: ask for their data all at once first.
            buf.retain(|&v| (v as usize) < n && vis.insert(v));
            for &v in &buf {
                fetch(v);
            }
            for &v in &buf {
                let s = score(v);
                if best.admits(s) {
                    let cand = Cand { score: s, node: v };
                    cands.push(cand);
                    best.push(cand);
                }
            }
        }
        vis.fresh = buf;
        best.into_sorted()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Rng;

    #[test]
    fn the_check_searches_each_beam_once() {
        assert_eq!(check_beams(96), vec![UPPER_EF, 96]);
        assert_eq!(check_beams(UPPER_EF + 1), vec![UPPER_EF, UPPER_EF + 1]);
        assert_eq!(check_beams(UPPER_EF), vec![UPPER_EF]);
        assert_eq!(check_beams(4), vec![4]);
    }

    #[test]
    fn disconnected_nodes_are_those_the_depth_first_walk_does_not_reach() {
        let (dim, n) = (16, 600);
        let mut r = Rng::new(11);
        let vs: Vec<Vec<f32>> = (0..n)
            .map(|_| {
                let v: Vec<f32> = (0..dim).map(|_| r.gaussian() as f32).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect();
        let rows: Vec<u64> = (0..n as u64).collect();
        let vector = |row: u64| vs[row as usize].as_slice();
        let (mut g, _) = GraphData::build(
            Level::File,
            dim as u32,
            n as u64,
            &rows,
            vector,
            BuildParams::default(),
        );
        assert!(g.disconnected().is_empty());
        // Every link towards these nodes dropped, on every layer: they, and whatever only they lead to, are
        // cut off; one of them is on an upper layer, so its own links there lead on. The entry point keeps no
        // layer-0 links: every other node is reached through the upper layers.
        let upper_node = (0..n as u32)
            .find(|&v| g.levels[v as usize] >= 1 && v != g.entry)
            .expect("a node above layer 0");
        let cut: Vec<u32> = [3u32, 77, 301, upper_node]
            .into_iter()
            .filter(|&v| v != g.entry)
            .collect();
        let mut layer0 = Lists::default();
        for (u, list) in g.layer0.iter().enumerate() {
            let kept: Vec<u32> = list.iter().copied().filter(|v| !cut.contains(v)).collect();
            layer0.push(if u as u32 == g.entry { &[] } else { &kept });
        }
        g.layer0 = layer0;
        for layer in &mut g.upper {
            for list in layer.iter_mut() {
                list.retain(|v| !cut.contains(v));
            }
        }
        let rank = g.reach_order();
        let by_rank: Vec<u32> = (0..n as u32)
            .filter(|&v| rank[v as usize] == u32::MAX)
            .collect();
        let found = g.disconnected();
        assert_eq!(found, by_rank);
        assert!(found.len() < n / 10, "{} of {n} cut off", found.len());
        for v in &cut {
            assert!(found.contains(v), "node {v} has no link towards it");
        }
    }

    #[test]
    fn quant_rows_in_two_slices_read_as_one() {
        let dim = 3;
        let all: Vec<i8> = (0..15).collect();
        let steps = [1.0f32; 5];
        let one = QuantRows::new(dim, &all, &steps).unwrap();
        let two = QuantRows::in_two(dim, &all[..6], &all[6..], &steps).unwrap();
        for node in 0..6 {
            assert_eq!(one.codes(node), two.codes(node), "node {node}");
        }
        assert!(two.codes(5).is_empty());
        for from in 0..=6 {
            assert_eq!(one.codes_from(from), two.codes_from(from), "from {from}");
        }
        assert!(QuantRows::in_two(dim, &all[..5], &all[5..], &steps).is_none());
        assert!(QuantRows::in_two(dim, &all[..6], &all[6..12], &steps).is_none());
    }

    #[test]
    fn a_graph_extended_from_a_map_reads_the_old_codes_in_place() {
        let (dim, old, new) = (16, 300, 100);
        let mut r = Rng::new(3);
        let vs: Vec<Vec<f32>> = (0..old + new)
            .map(|_| {
                let v: Vec<f32> = (0..dim).map(|_| r.gaussian() as f32).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect();
        let vector = |row: u64| vs[row as usize].as_slice();
        let rows: Vec<u64> = (0..old as u64).collect();
        let params = BuildParams::default();
        let (built, _) =
            GraphData::build(Level::File, dim as u32, old as u64, &rows, vector, params);
        let view = std::sync::Arc::new(GraphView::from_bytes(&built.to_bytes(), true).unwrap());
        let new_rows: Vec<u64> = (old as u64..(old + new) as u64).collect();
        let (g, rep) = GraphData::extend_from(&view, (old + new) as u64, &new_rows, vector, params);
        assert_eq!(rep.inserted, new as u64);
        // Only the new nodes' codes are held; every node reads its own vector's codes.
        assert!(g.mapped.is_some());
        assert_eq!(g.codes.len(), new * dim);
        let q = g.quant().unwrap();
        for (node, v) in vs.iter().enumerate() {
            let mut codes = vec![0i8; dim];
            let step = quantize(v, &mut codes);
            assert_eq!(q.codes(node as u32), codes, "node {node}");
            assert_eq!(q.step(node as u32), step, "node {node}");
        }
        assert!(g.self_search_misses(64, vector).is_empty());
        // Written out, the graph holds every node's codes in one piece.
        let back = GraphView::from_bytes(&g.to_bytes(), true)
            .unwrap()
            .to_data();
        assert_eq!(back.quant().unwrap().codes_from(0), q.codes_from(0));
        assert!(back.mapped.is_none());
    }
}
