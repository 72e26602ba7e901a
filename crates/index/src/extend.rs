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
//!
//! [`write_generation`] writes any new generation (format 3): a graph file with the links and the int8
//! steps, and the nodes' int8 codes in a code file (`crate::codes`). An extension appends its new nodes'
//! codes to the code file of the generation it extends ([`CodesBase`]) instead of writing every node's
//! codes again; a build starts a new code file.

use std::path::Path;

use crate::codes::{write_codes, Segment};
use crate::error::Result;
use crate::graph::{write_synced, Adjacency, BuildParams, GraphData, GraphReport, GraphView};
use crate::storage::Storage;

/// The int8 code file of a version 3 graph generation and what that generation reads of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodesBase {
    pub generation: u64,
    pub points: u64,
    pub segments: Vec<Segment>,
}

impl CodesBase {
    /// The code file of `view` (`None` for graphs of versions 1 and 2, whose codes are inside the file).
    pub fn of(view: &GraphView) -> Option<CodesBase> {
        view.codes_file().map(|c| CodesBase {
            generation: c.generation,
            points: view.points,
            segments: c.segments.clone(),
        })
    }
}

/// Writes `g` as graph generation `generation` in `dir` (format 3) and syncs it, its codes and the
/// directory; returns (graph file length, footer checksum). With `base` (the code file of the generation `g`
/// extends, whose nodes are `g`'s first `base.points`) only the codes of the nodes after those are written,
/// appended to that file as one more segment; without, the codes go to a new code file `generation`. A graph
/// without int8 rows is written as a self-contained version 2 file.
pub(crate) fn write_generation(
    storage: &dyn Storage,
    dir: &Path,
    g: &GraphData,
    generation: u64,
    base: Option<CodesBase>,
) -> Result<(u64, u64)> {
    let path = dir.join(g.level.graph_file_name(generation));
    let n = g.rows.len() as u64;
    let quant = match g.quant() {
        Some(q) if n > 0 => q,
        _ => return g.write(storage, &path),
    };
    let (codes_gen, mut segments, first) = match base {
        Some(b) if b.points > 0 && b.points <= n => (b.generation, b.segments, b.points),
        _ => (generation, Vec::new(), 0),
    };
    if first < n {
        segments.push(write_codes(
            storage,
            dir,
            g.level,
            g.dim,
            codes_gen,
            first,
            &quant.codes_from(first as usize),
        )?);
    }
    write_synced(storage, &path, &g.to_bytes_sidecar(codes_gen, &segments))
}

impl GraphData {
    /// Inserts `new_rows` (ascending, each at or past `old.rows_covered`) into the graph `old` and returns
    /// the new graph, covering rows below `rows_covered`. `vector(row)` gives a row's unit vector; `params`'
    /// `ef_construction` and `check_ef` apply, `m` is the old graph's.
    pub fn extend_from<'a, F>(
        old: &std::sync::Arc<GraphView>,
        rows_covered: u64,
        new_rows: &[u64],
        vector: F,
        params: BuildParams,
    ) -> (GraphData, GraphReport)
    where
        F: Fn(u64) -> &'a [f32] + Sync,
    {
        let t0 = std::time::Instant::now();
        let mut g = GraphView::to_data_mapped(old);
        let mut report = g.extend(new_rows, rows_covered, vector, params);
        report.build_ms = t0.elapsed().as_millis() as u64;
        (g, report)
    }
}
