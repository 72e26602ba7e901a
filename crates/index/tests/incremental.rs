//! Incremental graph generations and dead rows: rows added past a graph are inserted into it (no build from
//! scratch) with recall within 0.005 of a fresh build and every point found by a search for itself; removed
//! files are walked through but never returned, with recall over the live rows kept as the dead share grows
//! up to the compaction threshold. Seeded; set `AVX_TEST_SEED` to vary.

mod common;

use std::path::Path;

use avx_index::{Index, Level, MaintenancePolicy, SearchOptions};
use common::*;

const DIM: usize = 32;

fn seed() -> u64 {
    std::env::var("AVX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11)
}

fn path(i: usize) -> String {
    format!("/lib/{:02}/{i:06}.wav", i / 1000)
}

fn queries(rng: &mut Rng, vs: &[Vec<f32>], n: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|_| {
            let base = &vs[rng.below(vs.len() as u64) as usize];
            normalise(
                base.iter()
                    .map(|x| x + 0.2 * rng.normal() / (DIM as f32).sqrt())
                    .collect(),
            )
        })
        .collect()
}

/// Recall@10 of graph searches at beam `ef` against exact searches, over `qs`.
fn recall(ix: &Index, qs: &[Vec<f32>], ef: usize) -> f64 {
    let mut found = 0;
    for q in qs {
        let opts = SearchOptions {
            k: 10,
            exact_below_rows: 0,
            ef: Some(ef),
            ..Default::default()
        };
        let exact = ix
            .search(
                q,
                &SearchOptions {
                    exact: true,
                    ..opts
                },
            )
            .unwrap();
        let ann = ix.search(q, &opts).unwrap();
        assert_eq!(ann.len(), 10, "fewer than k hits from the graph");
        found += ann
            .iter()
            .filter(|h| exact.iter().any(|e| e.row == h.row))
            .count();
    }
    found as f64 / (qs.len() * 10) as f64
}

fn policy() -> MaintenancePolicy {
    MaintenancePolicy {
        graph_min_rows: 1_000,
        ..MaintenancePolicy::default()
    }
}

/// Writes `vs[range]` as files and commits (maintenance per `policy()`); returns the commit's file-level
/// graph report.
fn add(
    dir: &Path,
    vs: &[Vec<f32>],
    range: std::ops::Range<usize>,
) -> Option<avx_index::GraphReport> {
    let ix = Index::open(dir, write_opts(DIM as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    w.set_policy(policy());
    for i in range {
        w.upsert(record(path(i), vs[i].clone(), vec![])).unwrap();
    }
    w.commit().unwrap().graphs[0]
}

#[test]
fn inserted_rows_match_a_fresh_build() {
    let seed = seed();
    let mut rng = Rng(seed);
    let (base, added) = (9_000, 1_000);
    let n = base + added;
    let vs = clustered(&mut rng, n, DIM, 100, 0.35 / (DIM as f32).sqrt());
    let qs = queries(&mut rng, &vs, 500);

    let inc = tempfile::tempdir().unwrap();
    let first = add(inc.path(), &vs, 0..base).expect("the first commit builds the graph");
    assert_eq!((first.points, first.inserted), (base as u64, 0));
    let rep = add(inc.path(), &vs, base..n).expect("the tail is past the policy's fraction");
    let ctx = format!("seed {seed}: {rep:?}");
    assert_eq!(rep.points, n as u64, "{ctx}");
    assert_eq!(rep.inserted, added as u64, "inserted, not rebuilt: {ctx}");
    assert_eq!(rep.still_unreachable, 0, "{ctx}");

    let fresh = tempfile::tempdir().unwrap();
    let all = add(fresh.path(), &vs, 0..n).unwrap();
    assert_eq!(all.inserted, 0);

    let inc_ix = Index::open(inc.path(), read_opts()).unwrap();
    let fresh_ix = Index::open(fresh.path(), read_opts()).unwrap();
    assert_eq!(inc_ix.stats().tail_rows[0], 0, "{ctx}");
    assert_eq!(inc_ix.stats().graph_points[0], n as u64, "{ctx}");
    assert!(inc_ix.verify().is_ok(), "{ctx}");
    // The build checked only the new points and a few old ones: every point, old or new, is found by a whole
    // search for its own vector (the bench's check), and the fresh build's too.
    for (name, ix) in [("incremental", &inc_ix), ("fresh", &fresh_ix)] {
        let missed = ix.graph_self_misses(Level::File, 64);
        assert_eq!(missed, Some(Vec::new()), "{name}: {ctx}");
    }
    // A narrow beam, so that the two graphs' recall is below 1 and a worse graph shows.
    for ef in [10, 16] {
        let (r_inc, r_fresh) = (recall(&inc_ix, &qs, ef), recall(&fresh_ix, &qs, ef));
        eprintln!("ef {ef}: recall@10 incremental {r_inc:.4}, fresh build {r_fresh:.4} ({ctx})");
        assert!(
            r_inc >= r_fresh - 0.005,
            "ef {ef}: incremental recall {r_inc:.4} more than 0.005 below a fresh build's {r_fresh:.4} ({ctx})"
        );
    }
    // Every point, old or inserted, is found by a graph search for its own vector.
    let lost: Vec<usize> = (0..n)
        .filter(|&i| {
            let hits = inc_ix
                .search(
                    &vs[i],
                    &SearchOptions {
                        k: 1,
                        ef: Some(64),
                        exact_below_rows: 0,
                        ..Default::default()
                    },
                )
                .unwrap();
            hits.first().is_none_or(|h| h.path != Path::new(&path(i)))
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{} points not found: {lost:?} ({ctx})",
        lost.len()
    );
}

#[test]
fn dead_rows_are_walked_through_not_returned() {
    let seed = seed();
    let mut rng = Rng(seed ^ 0xDEAD);
    let n = 6_000;
    let vs = clustered(&mut rng, n, DIM, 60, 0.35 / (DIM as f32).sqrt());
    let qs = queries(&mut rng, &vs, 300);
    let tmp = tempfile::tempdir().unwrap();
    add(tmp.path(), &vs, 0..n).expect("graph built");
    let ix = Index::open(tmp.path(), write_opts(DIM as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    // No compaction: the dead rows stay graph nodes.
    w.set_policy(MaintenancePolicy {
        compact_dead_fraction: 1.0,
        ..policy()
    });
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut removed = 0;
    for dead_share in [0.0, 0.1, 0.25, 0.4] {
        let target = (dead_share * n as f64) as usize;
        for &i in &order[removed..target] {
            assert!(w.remove(Path::new(&path(i))).unwrap());
        }
        removed = target;
        w.commit().unwrap();
        let ix = Index::open(tmp.path(), read_opts()).unwrap();
        assert_eq!(
            ix.stats().graph_points[0],
            n as u64,
            "the graph was rebuilt"
        );
        assert_eq!(ix.live_rows(Level::File), (n - removed) as u64);
        let r = recall(&ix, &qs, 32);
        eprintln!("dead share {dead_share}: recall@10 of live rows at ef 32 {r:.4} (seed {seed})");
        assert!(
            r >= 0.98,
            "dead share {dead_share}: recall@10 {r:.4} < 0.98 (seed {seed})"
        );
        // Never a removed file, always k hits.
        for q in &qs[..50] {
            let hits = ix
                .search(
                    q,
                    &SearchOptions {
                        k: 10,
                        ef: Some(10),
                        exact_below_rows: 0,
                        ..Default::default()
                    },
                )
                .unwrap();
            assert_eq!(hits.len(), 10);
            for h in &hits {
                assert!(ix.file_by_path(&h.path).is_some(), "removed file returned");
            }
        }
    }
}

/// A path filter selects whole components (as `Path::starts_with`), found by binary search over the path
/// order: siblings that share the prefix's bytes (`b-old`, `bc`, `b.wav`) are out, a file named exactly
/// the prefix is in, a trailing separator changes nothing, a filter matching nothing returns nothing; on a
/// graph-sized index as on a small one.
#[test]
fn path_filter_selects_whole_components() {
    let mut rng = Rng(seed() ^ 0xF17E);
    let names = [
        "/a/b",
        "/a/b-old/1.wav",
        "/a/b.wav",
        "/a/bc/2.wav",
        "/a/b/3.wav",
        "/a/b/c/4.wav",
        // Not under /a/b on Unix (a backslash is not a separator there), then two spellings that are.
        "/a/b\\5.wav",
        "/a/b/./6.wav",
        "/a/b//7.wav",
    ];
    for filler in [0usize, 3_000] {
        let tmp = tempfile::tempdir().unwrap();
        let ix = Index::open(tmp.path(), write_opts(DIM as u32)).unwrap();
        let mut w = ix.writer().unwrap();
        w.set_policy(policy());
        let mut all: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        // Filler under /a/b/ (a large selection, walked in the graph) and elsewhere.
        all.extend(
            (0..filler).map(|i| format!("/a/{}/f{i:05}.wav", if i % 2 == 0 { "b" } else { "z" })),
        );
        for p in &all {
            w.upsert(record(p.as_str(), random_unit(&mut rng, DIM), vec![]))
                .unwrap();
        }
        w.commit().unwrap();
        drop(w);
        let ix = Index::open(tmp.path(), read_opts()).unwrap();
        assert_eq!(ix.stats().graph_points[0] > 0, filler > 0);
        let q = random_unit(&mut rng, DIM);
        for prefix in ["/a/b", "/a/b/", "/", "/a/b/c", "/a/nothing", "/a/b/3.wav"] {
            let want = all
                .iter()
                .filter(|p| Path::new(p).starts_with(prefix))
                .count();
            for exact in [true, false] {
                let hits = ix
                    .search(
                        &q,
                        &SearchOptions {
                            k: 10_000,
                            exact,
                            exact_below_rows: 100,
                            path_prefix: Some(Path::new(prefix)),
                            ..Default::default()
                        },
                    )
                    .unwrap();
                assert!(
                    hits.iter().all(|h| h.path.starts_with(prefix)),
                    "{prefix} (filler {filler}, exact {exact})"
                );
                if exact || want < 100 {
                    assert_eq!(
                        hits.len(),
                        want,
                        "{prefix} (filler {filler}, exact {exact})"
                    );
                }
            }
        }
        // A filter that selects every file walks the graph as no filter does: the same hits.
        let rows = |prefix: Option<&Path>| -> Vec<(u64, f32)> {
            let opts = SearchOptions {
                k: 10,
                exact_below_rows: 100,
                path_prefix: prefix,
                ..Default::default()
            };
            let hits = ix.search(&q, &opts).unwrap();
            hits.iter().map(|h| (h.row, h.score)).collect()
        };
        assert_eq!(rows(Some(Path::new("/"))), rows(None), "filler {filler}");
        assert_eq!(rows(Some(Path::new("/a"))), rows(None), "filler {filler}");
    }
}

/// The graph and int8 code file names in `dir`, sorted.
fn graph_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("graph-"))
        .collect();
    v.sort();
    v
}

/// The version and code-file generation in a graph file's header.
fn graph_header(p: &Path) -> (u32, u64) {
    let b = std::fs::read(p).unwrap();
    (
        u32::from_le_bytes(b[8..12].try_into().unwrap()),
        u64::from_le_bytes(b[48..56].try_into().unwrap()),
    )
}

/// Format 3: an extension appends the new nodes' int8 codes to the code file of the generation it extends
/// (its bytes before them unchanged, one more segment) instead of writing every node's codes again; a build
/// from scratch starts a new code file and the old one is deleted with the old graph.
#[test]
fn an_extension_appends_codes_to_the_code_file_it_extends() {
    let mut rng = Rng(seed());
    let vs = clustered(&mut rng, 1_300, DIM, 20, 0.35 / (DIM as f32).sqrt());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    add(dir, &vs, 0..1_000);
    assert_eq!(graph_files(dir), ["graph-file-2.hnsw", "graph-file-2.i8"]);
    let codes = dir.join("graph-file-2.i8");
    let before = std::fs::read(&codes).unwrap();
    assert_eq!(before.len(), 64 + 1_000 * DIM);
    assert_eq!(graph_header(&dir.join("graph-file-2.hnsw")), (3, 2));

    let rep = add(dir, &vs, 1_000..1_100).expect("the tail is past the policy's fraction");
    assert_eq!(rep.inserted, 100, "{rep:?}");
    assert_eq!(graph_files(dir), ["graph-file-2.i8", "graph-file-4.hnsw"]);
    assert_eq!(graph_header(&dir.join("graph-file-4.hnsw")), (3, 2));
    let after = std::fs::read(&codes).unwrap();
    assert_eq!(after.len(), 64 + 1_100 * DIM);
    assert!(after[..before.len()] == before[..], "old codes rewritten");
    let r = avx_index::verify(dir);
    assert!(r.is_ok() && r.notes.is_empty(), "{r:?}");

    // A flipped code byte of the first segment is reported by verify and refused by the next writer.
    let case = tmp.path().join("damaged");
    copy_dir(dir, &case);
    let mut b = after.clone();
    b[64 + 10 * DIM] ^= 0x55;
    std::fs::write(case.join("graph-file-2.i8"), &b).unwrap();
    let r = avx_index::verify(&case);
    assert!(
        r.problems
            .iter()
            .any(|p| format!("{p:?}").contains("nodes 0..1000")),
        "{r:?}"
    );
    assert!(Index::open(&case, write_opts(DIM as u32))
        .and_then(|ix| ix.writer())
        .is_err());

    let ix = Index::open(dir, write_opts(DIM as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    w.rebuild_graph(Level::File).unwrap();
    drop(w);
    assert_eq!(graph_files(dir), ["graph-file-5.hnsw", "graph-file-5.i8"]);
    let ix = Index::open(dir, read_opts()).unwrap();
    let qs = queries(&mut rng, &vs[..1_100], 50);
    assert!(recall(&ix, &qs, 64) > 0.95);
}

/// A format-2 graph (int8 rows inside the graph file) is extended into a format-3 generation: its codes
/// are written once into a new code file, with the new nodes' after them.
#[test]
fn a_format_2_graph_is_extended_into_format_3() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&fixture, dir);
    assert_eq!(graph_header(&dir.join("graph-file-3.hnsw")), (2, 0));
    let ix = Index::open(dir, write_opts(16)).unwrap();
    let mut w = ix.writer().unwrap();
    w.set_policy(MaintenancePolicy {
        enabled: false,
        ..MaintenancePolicy::default()
    });
    let mut rng = Rng(seed());
    let added: Vec<Vec<f32>> = (0..3).map(|_| random_unit(&mut rng, 16)).collect();
    for (i, v) in added.iter().enumerate() {
        w.upsert(record(format!("/new/{i}.wav"), v.clone(), vec![]))
            .unwrap();
    }
    w.commit().unwrap();
    let rep = w.extend_graph(Level::File).unwrap().unwrap();
    assert_eq!((rep.points, rep.inserted), (8, 3), "{rep:?}");
    drop(w);
    let files = graph_files(dir);
    let graph = files
        .iter()
        .find(|n| n.starts_with("graph-file-") && n.ends_with(".hnsw"))
        .unwrap();
    let (version, codes_gen) = graph_header(&dir.join(graph));
    assert_eq!(version, 3);
    let codes = dir.join(format!("graph-file-{codes_gen}.i8"));
    assert_eq!(std::fs::metadata(&codes).unwrap().len(), 64 + 8 * 16);
    let r = avx_index::verify(dir);
    assert!(r.is_ok() && r.notes.is_empty(), "{r:?}");
    let ix = Index::open(dir, read_opts()).unwrap();
    let hits = ix
        .search(
            &added[1],
            &SearchOptions {
                k: 1,
                exact_below_rows: 0,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(hits[0].path, Path::new("/new/1.wav"));
}
