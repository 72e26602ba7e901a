//! Incremental graph generations: the rows past a graph (its tail) inserted into a copy of it with the bulk
//! build's own insertion ([`GraphData::extend`]'s), instead of a build from scratch.
//!
//! Existing nodes keep their numbers and links, new nodes are numbered after them in row order, so the
//! node -> row map stays ascending. Dead rows stay nodes (a search walks through them and drops them from
//! its results) until a compaction renumbers the rows and the next graph is built from scratch. After the
//! insertion the new nodes are searched for with their own vectors as after a bulk build, and so are the
//! old nodes left with few links back from their own neighbours (an old node loses incoming links when a
//! neighbour list is re-selected by the heuristic; `graph::few_links_back`), a screen that costs a pass over the
//! links instead of a search per old node; reachability from the entry point is checked over the whole
//! graph (`GraphData::check_and_repair`). The writer's policy
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
        let mut report = g.extend(new_rows, rows_covered, vector, params);
        report.build_ms = t0.elapsed().as_millis() as u64;
        (g, report)
    }
}
