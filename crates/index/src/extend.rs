//! Incremental graph generations: the rows past a graph (its tail) inserted into a copy of it with the bulk
//! build's own insertion ([`crate::build::insert_into`]), instead of a build from scratch.
//!
//! Existing nodes keep their numbers and links, new nodes are numbered after them in row order, so the
//! node -> row map stays ascending. Dead rows stay nodes (a search walks through them and drops them from
//! its results) until a compaction renumbers the rows and the next graph is built from scratch. After the
//! insertion, the new nodes and the old nodes that lost an incoming link (a neighbour list re-selected
//! by the heuristic) and are left with fewer than `m / 2` on layer 0 are searched for with their own
//! vectors and repaired as after a bulk build, and reachability from the entry point is checked over the
//! whole graph. The writer's policy
//! (`MaintenancePolicy::graph_insert_max_fraction`) decides between this and a full build.

use crate::build::{insert_into, Built};
use crate::graph::{BuildParams, GraphData, GraphReport, GraphView};

impl GraphData {
    /// Inserts `new_rows` (ascending, each at or past `old.rows_covered`) into the graph `old` and returns
    /// the new graph, covering rows below `rows_covered`. `vector(row)` gives a row's unit vector; `params`'
    /// `ef_construction` and `check_ef` apply, `m` is the old graph's.
    pub fn extend<'a, F>(
        old: &GraphView,
        rows_covered: u64,
        new_rows: &[u64],
        vector: F,
        params: BuildParams,
    ) -> (GraphData, GraphReport)
    where
        F: Fn(u64) -> &'a [f32] + Sync,
    {
        let t0 = std::time::Instant::now();
        let data = old.to_data();
        let first = data.rows.len();
        let mut rows = data.rows;
        rows.extend(new_rows.iter().map(|&r| r as u32));
        let n = rows.len();
        let m = (data.m as usize).max(2);
        let built = {
            let vec_of = |node: u32| vector(rows[node as usize] as u64);
            let existing = Built {
                levels: data.levels,
                entry: data.entry,
                adj: data.adj,
            };
            insert_into(existing, n, m, params.ef_construction, &vec_of)
        };
        // An old node that lost an incoming link may no longer be found: those left with few links towards
        // them on layer 0 are checked with the new nodes (about 30 lists are re-selected per insertion, so
        // checking every loser would cost more than the insertions; the reachability walk covers all).
        let mut in_degree = vec![0u32; n];
        for list in &built.adj[0] {
            for &v in list {
                in_degree[v as usize] += 1;
            }
        }
        let few = (m / 2) as u32;
        let mut check: Vec<u32> = Vec::new();
        for (layer, lists) in built.adj.iter().enumerate() {
            for (node, list) in lists.iter().enumerate().take(first) {
                let before = old.neighbours_of(layer, node as u32);
                if before != list.as_slice() {
                    check.extend(
                        before
                            .iter()
                            .filter(|&&v| in_degree[v as usize] < few && !list.contains(&v)),
                    );
                }
            }
        }
        check.extend(first as u32..n as u32);
        check.sort_unstable();
        check.dedup();
        let mut g = GraphData {
            level: old.level,
            dim: old.dim,
            m: m as u32,
            rows_covered,
            rows,
            levels: built.levels,
            entry: built.entry,
            adj: built.adj,
        };
        let mut report = GraphReport {
            points: n as u64,
            inserted: (n - first) as u64,
            ..GraphReport::default()
        };
        g.check_and_repair(check, &vector, params, &mut report);
        report.build_ms = t0.elapsed().as_millis() as u64;
        (g, report)
    }
}
