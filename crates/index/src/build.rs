//! avx's own HNSW construction (Malkov and Yashunin's algorithm, with hnswlib's insertion and
//! its neighbour-selection heuristic, `getNeighborsByHeuristic2`), parallel on the rayon pool.
//!
//! Every node has one lock over its adjacency lists (all layers); a search during insertion
//! copies a node's list under its lock and releases it before scoring, so no thread holds two
//! node locks at once. The entry point sits behind one more lock, held for a whole insertion
//! only by a node that raises the top layer (about one node in `m` per layer above the top).
//! Levels come from a seeded hash of the node number, so they do not depend on thread timing;
//! the links do (insertions race), as in hnswlib.
//!
//! Above a node's level the insertion descends with a beam of up to `UPPER_EF` nodes, not hnswlib's
//! greedy walk. After the insertions, [`patch_in_links`] gives every layer-0 node a few links towards it from
//! its own neighbours (the heuristic can prune every one), without a search.
//!
//! Every similarity the build needs is between two nodes ([`Space::sim`]): the graph module passes the
//! nodes' int8 codes (`QuantRows`, a quarter of the bytes of the f32 rows), or the f32 rows themselves.
//! [`extend`] inserts more nodes into an already built graph with the same insertion.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rayon::prelude::*;

use crate::exact::dot;
use crate::graph::{layer_beam, prefetch, Cand, QuantRows, UPPER_EF};
use crate::kernel::dot_i8;
use crate::lists::{Lists, Slots};

/// The similarity the build scores with: between nodes, by number.
pub(crate) trait Space: Sync {
    fn sim(&self, a: u32, b: u32) -> f32;
    /// A hint that `node`'s data is about to be read.
    fn prefetch(&self, node: u32);
}

/// f32 rows, `vec_of(node)`.
impl<'a, F> Space for F
where
    F: Fn(u32) -> &'a [f32] + Sync,
{
    #[inline]
    fn sim(&self, a: u32, b: u32) -> f32 {
        dot(self(a), self(b))
    }
    #[inline]
    fn prefetch(&self, node: u32) {
        prefetch(self(node));
    }
}

impl Space for QuantRows<'_> {
    #[inline]
    fn sim(&self, a: u32, b: u32) -> f32 {
        dot_i8(self.codes(a), self.codes(b)) as f32 * self.step(a) * self.step(b)
    }
    #[inline]
    fn prefetch(&self, node: u32) {
        QuantRows::prefetch(self, node);
    }
}

/// Highest layer a node can be drawn on (layers are counted in a `u8`).
const MAX_LEVEL: usize = 15;

/// A graph as built: per node its level, its lists (layer 0, then `upper[layer - 1][node]`), and the entry
/// point.
#[derive(Debug, Clone, Default)]
pub(crate) struct Built {
    pub levels: Vec<u8>,
    pub entry: u32,
    pub layer0: Lists,
    pub upper: Vec<Vec<Vec<u32>>>,
    /// After [`extend`]: the nodes of the graph it extended that lost a layer-0 link towards them (a
    /// neighbour's list re-selected by the heuristic without them), ascending.
    pub lost: Vec<u32>,
}

/// Adjacency lists of every node, one lock per node. Layer 0 (every node, the lists searched most) is one
/// flat array as in hnswlib, `stride` slots per node: the count, then the links; the layers above are small
/// per-node vectors behind the node's lock, which also guards its layer-0 slots. The slots are atomics only
/// so that they can be shared without `unsafe`: every access holds the node's lock, which orders them.
struct Links {
    l0: Vec<AtomicU32>,
    stride: usize,
    /// Per node, its lists on layers `1..=level` (index 0 is layer 1).
    upper: Vec<Mutex<Vec<Vec<u32>>>>,
}

impl Links {
    /// Empty lists for nodes of `levels`, then the previous graph's (`prev0` on layer 0,
    /// `prev_upper[layer - 1][node]` above) where given; layer-0 slots for at least `cap0` links (more when a
    /// previous list is longer).
    fn new(
        levels: &[u8],
        cap0: usize,
        upper_cap: usize,
        prev0: &Lists,
        prev_upper: &mut [Vec<Vec<u32>>],
    ) -> Links {
        let longest = prev0.iter().map(<[u32]>::len).max().unwrap_or(0);
        let stride = cap0.max(longest) + 1;
        // Filled before they are shared: no locks, one pass over the old lists.
        let l0 = Slots::from_lists(prev0, levels.len(), stride);
        let l0 = l0.data.into_iter().map(AtomicU32::new).collect();
        let upper = levels
            .iter()
            .enumerate()
            .map(|(node, &l)| {
                let lists = (1..=l as usize)
                    .map(|layer| {
                        let mut list = Vec::with_capacity(upper_cap + 1);
                        if let Some(had) =
                            prev_upper.get_mut(layer - 1).and_then(|a| a.get_mut(node))
                        {
                            list.append(had);
                        }
                        list
                    })
                    .collect();
                Mutex::new(lists)
            })
            .collect();
        Links { l0, stride, upper }
    }

    fn lock(&self, node: u32) -> MutexGuard<'_, Vec<Vec<u32>>> {
        // A panic elsewhere cannot leave a list half-written (lists are replaced whole).
        self.upper[node as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Copies the neighbours of `node` on `layer` into `buf` (`upper` is the node's locked guard).
    fn load(&self, upper: &[Vec<u32>], node: u32, layer: usize, buf: &mut Vec<u32>) {
        buf.clear();
        if layer == 0 {
            let base = node as usize * self.stride;
            let len = (self.l0[base].load(Relaxed) as usize).min(self.stride - 1);
            buf.extend(
                self.l0[base + 1..base + 1 + len]
                    .iter()
                    .map(|a| a.load(Relaxed)),
            );
        } else if let Some(l) = upper.get(layer - 1) {
            buf.extend_from_slice(l);
        }
    }

    /// Replaces the layer-0 neighbours of `node` (`_held` is the node's locked guard); a list longer than
    /// the slots is cut (callers keep lists within their caps).
    fn store0(&self, _held: &MutexGuard<'_, Vec<Vec<u32>>>, node: u32, list: &[u32]) {
        let base = node as usize * self.stride;
        let len = list.len().min(self.stride - 1);
        for (slot, &v) in self.l0[base + 1..base + 1 + len].iter().zip(list) {
            slot.store(v, Relaxed);
        }
        self.l0[base].store(len as u32, Relaxed);
    }

    /// Copies the neighbours of `node` on `layer` into `buf`.
    fn read(&self, node: u32, layer: usize, buf: &mut Vec<u32>) {
        let g = self.lock(node);
        self.load(&g, node, layer, buf);
    }

    fn len(&self) -> usize {
        self.upper.len()
    }
}

/// Draws a node's level: `floor(-ln(u) / ln(m))` for a uniform `u` hashed from the node number.
fn level_of(node: usize, m: usize) -> u8 {
    let mut z = (node as u64 ^ 0x5EED_A5C0_FFEE_u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let level = (-u.ln() / (m.max(2) as f64).ln()).floor() as usize;
    level.min(MAX_LEVEL) as u8
}

/// Inserts nodes `prev.levels.len()..n` (scored by `space`) into the graph `prev` (built over the nodes
/// before them with the same `m`; `Built::default()` to build from nothing): `m` links per node on upper
/// layers, `2 * m` on layer 0, beam `ef_construction` while inserting. Returns the graph over `0..n`.
pub(crate) fn extend<S: Space>(
    prev: Built,
    n: usize,
    m: usize,
    ef_construction: usize,
    space: &S,
) -> Built {
    let m = m.max(2);
    let old = prev.levels.len().min(n);
    let mut levels = prev.levels;
    levels.truncate(old);
    levels.extend((old..n).map(|i| level_of(i, m)));
    let mut prev_upper = prev.upper;
    let links = Links::new(&levels, cap(0, m), cap(1, m), &prev.layer0, &mut prev_upper);
    drop((prev.layer0, prev_upper));
    let start = (old > 0).then(|| (prev.entry, levels[prev.entry as usize] as usize));
    let entry: Mutex<Option<(u32, usize)>> = Mutex::new(start);
    let lost: Vec<AtomicBool> = (0..old).map(|_| AtomicBool::new(false)).collect();
    let ins = Inserter {
        links: &links,
        m,
        ef: ef_construction.max(m),
        space,
        lost: &lost,
    };
    (old as u32..n as u32)
        .into_par_iter()
        .with_min_len(64)
        .for_each(|node| ins.insert(node, levels[node as usize] as usize, &entry));
    let top = levels.iter().copied().max().unwrap_or(0) as usize;
    let entry = entry
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .map_or(0, |(e, _)| e);
    let mut upper = vec![vec![Vec::new(); n]; top];
    for (node, lists) in links.upper.into_iter().enumerate() {
        let lists = lists.into_inner().unwrap_or_else(PoisonError::into_inner);
        for (layer, list) in lists.into_iter().enumerate() {
            upper[layer][node] = list;
        }
    }
    let mut slots = Slots {
        data: links.l0.into_iter().map(AtomicU32::into_inner).collect(),
        stride: links.stride,
    };
    for w in patch_in_links(&mut slots, MIN_IN_LINKS, cap(0, m)) {
        if let Some(flag) = lost.get(w as usize) {
            flag.store(true, Relaxed);
        }
    }
    let lost = (0..old as u32)
        .filter(|&v| lost[v as usize].load(Relaxed))
        .collect();
    Built {
        levels,
        entry,
        layer0: slots.to_lists(),
        upper,
        lost,
    }
}

/// Links towards each layer-0 node that [`patch_in_links`] makes sure of after an insertion.
const MIN_IN_LINKS: usize = 3;

/// Most links a node keeps on `layer`.
fn cap(layer: usize, m: usize) -> usize {
    if layer == 0 {
        2 * m
    } else {
        m
    }
}

struct Inserter<'l, 's, S> {
    links: &'l Links,
    m: usize,
    ef: usize,
    space: &'s S,
    /// Per node of the graph being extended, whether it lost a layer-0 link towards it.
    lost: &'l [AtomicBool],
}

impl<S: Space> Inserter<'_, '_, S> {
    fn insert(&self, node: u32, level: usize, entry: &Mutex<Option<(u32, usize)>>) {
        let mut global = entry.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((ep, top)) = *global else {
            *global = Some((node, level));
            return;
        };
        // Keep the entry lock for the whole insertion only when this node becomes the new top.
        let hold = if level > top {
            Some(global)
        } else {
            drop(global);
            None
        };
        let q = node;
        let cur = Cand {
            score: self.space.sim(q, ep),
            node: ep,
        };
        // A beam, not a greedy walk, above the node's level: see `UPPER_EF`.
        let mut eps = vec![cur];
        for layer in (level + 1..=top).rev() {
            eps = self.search_layer(q, &eps, layer, UPPER_EF);
        }
        for layer in (0..=level.min(top)).rev() {
            let mut found = self.search_layer(q, &eps, layer, self.ef);
            // A racing insertion may already have linked to this node through a layer above.
            found.retain(|c| c.node != node);
            let chosen = select(&found, self.m, self.space);
            let ids: Vec<u32> = chosen.iter().map(|c| c.node).collect();
            {
                // Released before linking back: a thread never holds two node locks.
                let mut g = self.links.lock(node);
                if layer == 0 {
                    self.links.store0(&g, node, &ids);
                } else {
                    g[layer - 1] = ids;
                }
            }
            for c in &chosen {
                self.connect(c.node, node, c.score, layer);
            }
            eps = found;
        }
        if let Some(mut g) = hold {
            *g = Some((node, level));
        }
    }

    /// Beam search of width `ef` on `layer` from `eps`; best first.
    fn search_layer(&self, q: u32, eps: &[Cand], layer: usize, ef: usize) -> Vec<Cand> {
        layer_beam(
            self.links.len(),
            eps,
            ef,
            |node, buf| self.links.read(node, layer, buf),
            |v| self.space.sim(q, v),
            |v| self.space.prefetch(v),
        )
    }

    /// Adds the link `from -> to` on `layer` (`score` = their similarity); when `from`'s list
    /// is full, re-selects it with the heuristic over the old links and the new one.
    fn connect(&self, from: u32, to: u32, score: f32, layer: usize) {
        let limit = cap(layer, self.m);
        let mut g = self.links.lock(from);
        if layer > g.len() || from == to {
            return;
        }
        let mut list = Vec::with_capacity(self.links.stride);
        self.links.load(&g, from, layer, &mut list);
        if list.contains(&to) {
            return;
        }
        if list.len() < limit {
            list.push(to);
        } else {
            let mut cands: Vec<Cand> = list
                .iter()
                .map(|&v| Cand {
                    score: self.space.sim(from, v),
                    node: v,
                })
                .collect();
            cands.push(Cand { score, node: to });
            cands.sort_by(|a, b| b.cmp(a));
            let kept: Vec<u32> = select(&cands, limit, self.space)
                .iter()
                .map(|c| c.node)
                .collect();
            if layer == 0 {
                for v in list.iter().filter(|v| !kept.contains(v)) {
                    if let Some(flag) = self.lost.get(*v as usize) {
                        flag.store(true, Relaxed);
                    }
                }
            }
            list = kept;
        }
        if layer == 0 {
            self.links.store0(&g, from, &list);
        } else {
            g[layer - 1] = list;
        }
    }
}

/// Gives every layer-0 node with fewer than `min_in` links towards it links from its own neighbours, first
/// listed first (the insertion lists them best first; links added later go at the end). A neighbour whose
/// list is full (`limit`) gives up its link to the node with the most links towards it, if that node keeps
/// at least `min_in`. No search: one pass over the lists. Returns the nodes that lost a link that way.
///
/// The heuristic re-selects a full list without regard to the nodes it drops, so some nodes end with no
/// link towards them (measured on 200k points in clusters of 1000: 205 with none, 418 with one, 741 with
/// two), and a search for them can only miss them: most of the points the check had to repair there.
pub(crate) fn patch_in_links(adj0: &mut Slots, min_in: usize, limit: usize) -> Vec<u32> {
    let n = adj0.len();
    let mut indeg = vec![0u32; n];
    for u in 0..n {
        for &v in adj0.list(u) {
            if let Some(d) = indeg.get_mut(v as usize) {
                *d += 1;
            }
        }
    }
    let min_in = min_in as u32;
    let mut evicted = Vec::new();
    for u in 0..n {
        let mut i = 0;
        while indeg[u] < min_in && i < adj0.list(u).len() {
            let v = adj0.list(u)[i] as usize;
            i += 1;
            if v == u || v >= n || adj0.list(v).contains(&(u as u32)) {
                continue;
            }
            if adj0.list(v).len() >= limit || !adj0.push(v, u as u32) {
                let Some((slot, &w)) = adj0
                    .list(v)
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, &w)| indeg.get(w as usize).copied().unwrap_or(0))
                else {
                    continue;
                };
                if indeg.get(w as usize).is_none_or(|&d| d <= min_in) {
                    continue;
                }
                adj0.set(v, slot, u as u32);
                indeg[w as usize] -= 1;
                evicted.push(w);
            }
            indeg[u] += 1;
        }
    }
    evicted
}

/// hnswlib's neighbour heuristic: from candidates sorted best first, keep a candidate only if it
/// is closer to the query than to every candidate already kept, up to `m`.
fn select<S: Space>(cands: &[Cand], m: usize, space: &S) -> Vec<Cand> {
    if cands.len() <= m {
        return cands.to_vec();
    }
    let mut kept: Vec<Cand> = Vec::with_capacity(m);
    for &c in cands {
        if kept.len() >= m {
            break;
        }
        if kept.iter().all(|k| space.sim(c.node, k.node) <= c.score) {
            kept.push(c);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Rng;
    use crate::graph::{search, GraphData};
    use crate::vectors::Level;

    fn build<S: Space>(n: usize, m: usize, ef_construction: usize, space: &S) -> Built {
        extend(Built::default(), n, m, ef_construction, space)
    }

    /// `n` clustered unit vectors of dimension `dim`.
    fn data(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut r = Rng::new(seed);
        let centres: Vec<Vec<f32>> = (0..20)
            .map(|_| (0..dim).map(|_| r.gaussian() as f32).collect())
            .collect();
        (0..n)
            .map(|_| {
                let c = &centres[r.below(centres.len())];
                let mut v: Vec<f32> = c.iter().map(|x| x + 0.5 * r.gaussian() as f32).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect()
    }

    fn graph_of(built: Built, vs: &[Vec<f32>], quant: (Vec<i8>, Vec<f32>)) -> GraphData {
        GraphData {
            level: Level::File,
            dim: vs[0].len() as u32,
            m: 16,
            rows_covered: vs.len() as u64,
            rows: (0..vs.len() as u32).collect(),
            levels: built.levels,
            entry: built.entry,
            layer0: built.layer0,
            upper: built.upper,
            codes: quant.0,
            mapped: None,
            steps: quant.1,
        }
    }

    /// Fraction of `nodes` that a search (beam 64) for their own vector returns.
    fn found(g: &GraphData, vs: &[Vec<f32>], nodes: std::ops::Range<usize>) -> f64 {
        let vec_of = |i: u32| vs[i as usize].as_slice();
        let hits = nodes
            .clone()
            .filter(|&i| {
                search(g, &vs[i], 64, &vec_of)
                    .iter()
                    .any(|c| c.node == i as u32)
            })
            .count();
        hits as f64 / nodes.len() as f64
    }

    #[test]
    fn patch_in_links_links_every_node_from_its_neighbours_within_the_cap() {
        // Node 0 is everyone's first neighbour and nobody links to 1..=4; 5 links to 1..=4 but its
        // list is full (cap 4) of links to 0, which has many.
        let before: Vec<Vec<u32>> = vec![
            vec![5, 6],
            vec![5, 0],
            vec![5, 0],
            vec![5, 0],
            vec![5, 0],
            vec![0, 6, 7, 8],
            vec![0, 5],
            vec![0, 5],
            vec![0, 5],
        ];
        // One slot more than the cap: the cap, not the slots, must stop the lists.
        let mut slots = Slots {
            data: vec![0; before.len() * 6],
            stride: 6,
        };
        for (u, list) in before.iter().enumerate() {
            list.iter().for_each(|&v| assert!(slots.push(u, v)));
        }
        let evicted = patch_in_links(&mut slots, 2, 4);
        let adj: Vec<Vec<u32>> = slots.to_lists().iter().map(<[u32]>::to_vec).collect();
        let indeg = |adj: &[Vec<u32>], u: u32| adj.iter().filter(|l| l.contains(&u)).count();
        assert!(adj.iter().all(|l| l.len() <= 4), "{adj:?}");
        // Every node has 2 links towards it, or none of its neighbours could give it one more: each
        // links to it already or has a full list of links to nodes with no more than 2 towards them.
        for u in 0..adj.len() as u32 {
            if indeg(&adj, u) >= 2 {
                continue;
            }
            for &v in &adj[u as usize] {
                let list = &adj[v as usize];
                assert!(
                    list.contains(&u)
                        || (list.len() == 4 && list.iter().all(|&w| indeg(&adj, w) <= 2)),
                    "node {u}, neighbour {v}: {adj:?}"
                );
            }
        }
        // Nodes 1 to 4 had no link towards them; 1 to 3 get some (4 finds both its neighbours' lists full
        // of links to nodes that keep no more than 2).
        assert!((1..=3).all(|u| indeg(&adj, u) >= 1), "{adj:?}");
        // Only nodes that keep at least 2 links towards them gave one up.
        assert!(!evicted.is_empty());
        for w in &evicted {
            assert!(indeg(&before, *w) > indeg(&adj, *w) && indeg(&adj, *w) >= 2);
        }
    }

    #[test]
    fn extend_inserts_into_a_built_graph_and_keeps_every_list_within_its_cap() {
        let vs = data(3_000, 48, 11);
        let vec_of = |i: u32| vs[i as usize].as_slice();
        let quant = QuantRows::quantize_rows(48, 0..vs.len(), &vec_of);
        let q = QuantRows::new(48, &quant.0, &quant.1).unwrap();
        let half = build(2_000, 16, 100, &q);
        assert!(
            half.lost.is_empty(),
            "a build from nothing extends no graph"
        );
        let old_entry = half.entry;
        let before = half.layer0.clone();
        let full = extend(half, 3_000, 16, 100, &q);
        // `lost` lists (ascending, old nodes only) every old node that some old node no longer links to on
        // layer 0; a node dropped from a list and linked again later stays listed.
        let mut dropped: Vec<u32> = (0..2_000)
            .flat_map(|u| {
                let now = full.layer0.get(u);
                before.get(u).iter().filter(|v| !now.contains(v)).copied()
            })
            .collect();
        dropped.sort_unstable();
        dropped.dedup();
        assert!(!dropped.is_empty());
        assert!(full.lost.windows(2).all(|w| w[0] < w[1]));
        assert!(full.lost.last().is_some_and(|&v| v < 2_000));
        let missing: Vec<&u32> = dropped
            .iter()
            .filter(|v| full.lost.binary_search(v).is_err())
            .collect();
        assert!(missing.is_empty(), "not listed as lost: {missing:?}");
        assert_eq!(full.levels.len(), 3_000);
        assert_eq!(full.layer0.len(), 3_000);
        assert!(full.levels[full.entry as usize] >= full.levels[old_entry as usize]);
        let layers = std::iter::once(full.layer0.iter().collect::<Vec<_>>()).chain(
            full.upper
                .iter()
                .map(|lists| lists.iter().map(Vec::as_slice).collect()),
        );
        for (layer, lists) in layers.enumerate() {
            for (node, list) in lists.iter().enumerate() {
                assert!(list.len() <= cap(layer, 16), "layer {layer} node {node}");
                assert!(list
                    .iter()
                    .all(|&v| (v as usize) < 3_000 && v as usize != node));
            }
        }
        // The new nodes are linked from the old ones and found as well as the old ones.
        assert!(full
            .layer0
            .iter()
            .take(2_000)
            .flatten()
            .any(|&v| v >= 2_000));
        let g = graph_of(full, &vs, quant);
        let (old, new) = (found(&g, &vs, 0..2_000), found(&g, &vs, 2_000..3_000));
        // Before any repair pass (GraphData::build's check links the rest in): pruning the old nodes' full
        // lists leaves up to about 1 % of them unfound on this data.
        assert!(old >= 0.98 && new >= 0.99, "found: old {old}, new {new}");
    }

    #[test]
    fn int8_and_f32_builds_search_with_exact_scores_and_equal_recall() {
        let (n, dim) = (4_000, 64);
        // The last 200 vectors (same clusters, not in the graph) are the queries.
        let mut vs = data(n + 200, dim, 5);
        let queries = vs.split_off(n);
        let vec_of = |i: u32| vs[i as usize].as_slice();
        let quant = QuantRows::quantize_rows(dim, 0..n, &vec_of);
        let q = QuantRows::new(dim, &quant.0, &quant.1).unwrap();
        let on_codes = graph_of(build(n, 16, 100, &q), &vs, quant.clone());
        // The same graph without its int8 rows (as a version 1 file) is searched on the f32 rows.
        let mut on_f32 = on_codes.clone();
        (on_f32.codes, on_f32.steps) = (Vec::new(), Vec::new());
        let built_f32 = graph_of(build(n, 16, 100, &vec_of), &vs, (Vec::new(), Vec::new()));
        for (name, g) in [
            ("f32 walk", &on_f32),
            ("f32 build", &built_f32),
            ("int8", &on_codes),
        ] {
            let mut hit = 0;
            for qv in &queries {
                let mut truth: Vec<(f32, u32)> =
                    (0..n as u32).map(|i| (dot(qv, vec_of(i)), i)).collect();
                truth.sort_by(|a, b| b.0.total_cmp(&a.0));
                let got = search(g, qv, 24, &vec_of);
                for c in &got {
                    // Scores are exact (re-scored on the f32 rows), bit for bit.
                    assert_eq!(
                        c.score.to_bits(),
                        dot(qv, vec_of(c.node)).to_bits(),
                        "{name}"
                    );
                }
                assert!(
                    got.windows(2).all(|w| w[0].score >= w[1].score),
                    "{name}: not best first"
                );
                hit += truth[..10]
                    .iter()
                    .filter(|t| got[..10].iter().any(|c| c.node == t.1))
                    .count();
            }
            let recall = hit as f64 / (10 * queries.len()) as f64;
            assert!(recall >= 0.97, "{name}: recall@10 {recall}");
        }
    }
}
