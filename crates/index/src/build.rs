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
//! Every similarity the build needs is between two nodes ([`Space::sim`]): the graph module passes the
//! nodes' int8 codes (`QuantRows`, a quarter of the bytes of the f32 rows), or the f32 rows themselves.
//! [`extend`] inserts more nodes into an already built graph with the same insertion.

use std::collections::BinaryHeap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rayon::prelude::*;

use crate::exact::dot;
use crate::graph::{prefetch, prefetch_codes, Cand, QuantRows, VISITED};
use crate::kernel::dot_i8;

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
        prefetch_codes(self.codes(node));
    }
}

/// Highest layer a node can be drawn on (layers are counted in a `u8`).
const MAX_LEVEL: usize = 15;

/// A graph as built: per node its level, `adj[layer][node]`, and the entry point.
#[derive(Debug, Clone, Default)]
pub(crate) struct Built {
    pub levels: Vec<u8>,
    pub entry: u32,
    pub adj: Vec<Vec<Vec<u32>>>,
}

/// Adjacency lists of every node, one lock per node.
struct Links {
    nodes: Vec<Mutex<Vec<Vec<u32>>>>,
}

impl Links {
    fn lock(&self, node: u32) -> MutexGuard<'_, Vec<Vec<u32>>> {
        // A panic elsewhere cannot leave a list half-written (lists are replaced whole).
        self.nodes[node as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Copies the neighbours of `node` on `layer` into `buf`.
    fn read(&self, node: u32, layer: usize, buf: &mut Vec<u32>) {
        buf.clear();
        if let Some(l) = self.lock(node).get(layer) {
            buf.extend_from_slice(l);
        }
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

/// Builds an HNSW graph over nodes `0..n` (scored by `space`): `m` links per node on upper layers,
/// `2 * m` on layer 0, beam `ef_construction` while inserting.
pub(crate) fn build<S: Space>(n: usize, m: usize, ef_construction: usize, space: &S) -> Built {
    extend(Built::default(), n, m, ef_construction, space)
}

/// Inserts nodes `prev.levels.len()..n` into the graph `prev` (built over the nodes before them with the
/// same `m`), as [`build`] inserts every node; returns the graph over `0..n`.
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
    let mut prev_adj = prev.adj;
    let links = Links {
        nodes: levels
            .iter()
            .enumerate()
            .map(|(node, &l)| {
                let lists = (0..=l as usize)
                    .map(|layer| {
                        let mut list = Vec::with_capacity(cap(layer, m) + 1);
                        if node < old {
                            if let Some(had) = prev_adj.get_mut(layer).and_then(|a| a.get_mut(node))
                            {
                                list.append(had);
                            }
                        }
                        list
                    })
                    .collect();
                Mutex::new(lists)
            })
            .collect(),
    };
    drop(prev_adj);
    let start = (old > 0).then(|| (prev.entry, levels[prev.entry as usize] as usize));
    let entry: Mutex<Option<(u32, usize)>> = Mutex::new(start);
    let ins = Inserter {
        links: &links,
        m,
        ef: ef_construction.max(m),
        space,
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
    let mut adj = vec![vec![Vec::new(); n]; top + 1];
    for (node, lists) in links.nodes.into_iter().enumerate() {
        let lists = lists.into_inner().unwrap_or_else(PoisonError::into_inner);
        for (layer, list) in lists.into_iter().enumerate() {
            adj[layer][node] = list;
        }
    }
    Built { levels, entry, adj }
}

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
        let mut buf = Vec::new();
        let mut cur = Cand {
            score: self.space.sim(q, ep),
            node: ep,
        };
        for layer in (level + 1..=top).rev() {
            cur = self.greedy(q, cur, layer, &mut buf);
        }
        let mut eps = vec![cur];
        for layer in (0..=level.min(top)).rev() {
            let mut found = self.search_layer(q, &eps, layer, &mut buf);
            // A racing insertion may already have linked to this node through a layer above.
            found.retain(|c| c.node != node);
            let chosen = select(&found, self.m, self.space);
            self.links.lock(node)[layer] = chosen.iter().map(|c| c.node).collect();
            for c in &chosen {
                self.connect(c.node, node, c.score, layer);
            }
            eps = found;
        }
        if let Some(mut g) = hold {
            *g = Some((node, level));
        }
    }

    /// Greedy walk on `layer` towards `q`.
    fn greedy(&self, q: u32, mut cur: Cand, layer: usize, buf: &mut Vec<u32>) -> Cand {
        loop {
            let mut moved = false;
            self.links.read(cur.node, layer, buf);
            for &v in buf.iter() {
                let s = self.space.sim(q, v);
                if s > cur.score {
                    cur = Cand { score: s, node: v };
                    moved = true;
                }
            }
            if !moved {
                return cur;
            }
        }
    }

    /// Beam search of width `ef` on `layer` from `eps`; best first.
    fn search_layer(&self, q: u32, eps: &[Cand], layer: usize, buf: &mut Vec<u32>) -> Vec<Cand> {
        VISITED.with(|vis| {
            let mut vis = vis.borrow_mut();
            vis.reset(self.links.nodes.len());
            let mut cands: BinaryHeap<Cand> = BinaryHeap::with_capacity(self.ef * 2);
            let mut best: BinaryHeap<std::cmp::Reverse<Cand>> =
                BinaryHeap::with_capacity(self.ef + 1);
            for &e in eps {
                if vis.insert(e.node) {
                    cands.push(e);
                    best.push(std::cmp::Reverse(e));
                    if best.len() > self.ef {
                        best.pop();
                    }
                }
            }
            while let Some(c) = cands.pop() {
                let worst = best.peek().map_or(f32::NEG_INFINITY, |w| w.0.score);
                if c.score < worst && best.len() >= self.ef {
                    break;
                }
                self.links.read(c.node, layer, buf);
                // Only unvisited neighbours are scored: ask for their vectors all at once first.
                buf.retain(|&v| vis.insert(v));
                for &v in buf.iter() {
                    self.space.prefetch(v);
                }
                for &v in buf.iter() {
                    let s = self.space.sim(q, v);
                    let worst = best.peek().map_or(f32::NEG_INFINITY, |w| w.0.score);
                    if best.len() < self.ef || s > worst {
                        let cand = Cand { score: s, node: v };
                        cands.push(cand);
                        best.push(std::cmp::Reverse(cand));
                        if best.len() > self.ef {
                            best.pop();
                        }
                    }
                }
            }
            let mut out: Vec<Cand> = best.into_iter().map(|r| r.0).collect();
            out.sort_by(|a, b| b.cmp(a));
            out
        })
    }

    /// Adds the link `from -> to` on `layer` (`score` = their similarity); when `from`'s list
    /// is full, re-selects it with the heuristic over the old links and the new one.
    fn connect(&self, from: u32, to: u32, score: f32, layer: usize) {
        let limit = cap(layer, self.m);
        let mut lists = self.links.lock(from);
        let Some(list) = lists.get_mut(layer) else {
            return;
        };
        if from == to || list.contains(&to) {
            return;
        }
        if list.len() < limit {
            list.push(to);
            return;
        }
        let mut cands: Vec<Cand> = list
            .iter()
            .map(|&v| Cand {
                score: self.space.sim(from, v),
                node: v,
            })
            .collect();
        cands.push(Cand { score, node: to });
        cands.sort_by(|a, b| b.cmp(a));
        *list = select(&cands, limit, self.space)
            .iter()
            .map(|c| c.node)
            .collect();
    }
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
