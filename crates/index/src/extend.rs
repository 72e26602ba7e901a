//! Incremental graph generations: the rows past a graph (its tail) inserted into a copy of it with the bulk
//! build's own insertion ([`GraphData::extend`]'s), instead of a build from scratch.
//!
//! Existing nodes keep their numbers and links, new nodes are numbered after them in row order, so the
//! node -> row map stays ascending. Dead rows stay nodes (a search walks through them and drops them from
//! its results) until a compaction renumbers the rows and the next graph is built from scratch. After the
//! insertion, the new nodes and the old nodes that lost an incoming link (a neighbour list re-selected
//! by the heuristic) and are left with fewer than `m / 2` on layer 0 are searched for with their own
//! vectors and repaired as after a bulk build, and reachability from the entry point is checked over the
//! whole graph. The writer's policy
//! (`MaintenancePolicy::graph_insert_max_fraction`) decides between this and a full build.

use crate::graph::{BuildParams, GraphData, GraphReport, GraphView};

impl GraphData {
    /// Inserts `new_rows` (ascending, each at or past `old.rows_covered`) into the graph `old` and returns
    /// the new graph, covering rows below `rows_covered`. `vector(row)` gives a row's unit vector; `params`'
    /// `ef_construction` and `check_ef` apply, `m` is the old graph's.
    pub fn extend_from<'a, F>(
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
        let mut g = old.to_data();
        let first = g.insert_rows(new_rows, rows_covered, &vector, params);
        let n = g.rows.len();
        let m = (g.m as usize).max(2);
        // An old node that lost an incoming link may no longer be found: those left with few links towards
        // them on layer 0 are checked with the new nodes (about 30 lists are re-selected per insertion, so
        // checking every loser would cost more than the insertions; the reachability walk covers all).
        let mut in_degree = vec![0u32; n];
        for list in &g.adj[0] {
            for &v in list {
                in_degree[v as usize] += 1;
            }
        }
        let few = (m / 2) as u32;
        let mut check: Vec<u32> = Vec::new();
        for (layer, lists) in g.adj.iter().enumerate() {
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
