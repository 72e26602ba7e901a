//! Graph search against exact search on clustered synthetic vectors: recall@10 >= 0.99 with the
//! default beam, every point reachable after the build. Seeded; set `AVX_TEST_SEED` to vary.

mod common;

use avx_index::{Index, Level, MaintenancePolicy, SearchOptions, EXACT_BELOW_ROWS};
use common::*;

#[test]
fn ann_recall_at_10_matches_exact() {
    let seed = std::env::var("AVX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(99u64);
    eprintln!("recall seed {seed}");
    let dim = 32;
    // One graph build at the crossover, then a tail below the rebuild fraction (scanned exactly).
    let n = EXACT_BELOW_ROWS as usize + 1_000;
    let mut rng = Rng(seed);
    let vs = clustered(&mut rng, n, dim, 200, 0.35);
    let tmp = tempfile::tempdir().unwrap();
    let ix = Index::open(tmp.path(), write_opts(dim as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    // A tail of 5 % stays a tail (searched exactly) rather than being inserted into the graph.
    w.set_policy(MaintenancePolicy {
        graph_tail_fraction: 0.2,
        ..MaintenancePolicy::default()
    });
    let mut graph = None;
    for (i, chunk) in vs.chunks(EXACT_BELOW_ROWS as usize).enumerate() {
        for (j, v) in chunk.iter().enumerate() {
            w.upsert(record(format!("/r/{i}/{j}.wav"), v.clone(), vec![]))
                .unwrap();
        }
        let rep = w.commit().unwrap();
        graph = graph.or(rep.graphs[0]);
    }
    drop(w);
    let graph = graph.expect("commit builds the graph past the crossover");
    eprintln!("graph report: {graph:?}");
    assert_eq!(graph.still_unreachable, 0);

    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    assert_eq!(ix.stats().graph_points[0], EXACT_BELOW_ROWS);
    assert_eq!(ix.stats().tail_rows[0], 1_000);
    let queries: Vec<Vec<f32>> = (0..300)
        .map(|_| {
            let base = &vs[rng.below(n as u64) as usize];
            normalise(
                base.iter()
                    .map(|x| x + 0.2 * rng.normal() / (dim as f32).sqrt())
                    .collect(),
            )
        })
        .collect();
    let mut found = 0usize;
    for q in &queries {
        let exact = ix
            .search(
                q,
                &SearchOptions {
                    k: 10,
                    exact: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let ann = ix
            .search(
                q,
                &SearchOptions {
                    k: 10,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(ann.len(), 10);
        found += ann
            .iter()
            .filter(|h| exact.iter().any(|e| e.row == h.row))
            .count();
    }
    let recall = found as f64 / (queries.len() * 10) as f64;
    eprintln!("recall@10 = {recall:.4} (seed {seed})");
    assert!(recall >= 0.99, "recall@10 {recall} < 0.99 (seed {seed})");

    // A selective prefix filter still returns only matching files, k of them.
    let hits = ix
        .search(
            &queries[0],
            &SearchOptions {
                k: 10,
                path_prefix: Some("/r/1".as_ref()),
                level: Level::File,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(hits.len(), 10);
    assert!(hits.iter().all(|h| h.path.starts_with("/r/1")));
}
