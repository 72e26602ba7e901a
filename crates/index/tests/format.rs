//! Format tests: codec round trips (proptest), newer-version messages, and the committed
//! fixtures (format v1; v2: graph files with int8 rows; v3: int8 codes in code files), which every later
//! version must keep opening.

mod common;

use std::path::{Path, PathBuf};

use avx_index::graph::{GraphData, GraphView};
use avx_index::lists::Lists;
use avx_index::vectors::{decode_row, encode_rows, stride_for, RowHeader, HEADER_LEN};
use avx_index::{Index, IndexError, Level, SearchOptions};
use common::*;
use proptest::prelude::*;

proptest! {
    #[test]
    fn row_header_round_trip(dim in 1u32..4096, level in prop::bool::ANY, generation in any::<u64>()) {
        let level = if level { Level::File } else { Level::Window };
        let h = RowHeader::new(dim, level, generation);
        let b = h.encode();
        prop_assert_eq!(RowHeader::decode(&b, Path::new("x")).unwrap(), h);
        prop_assert_eq!(h.stride % 64, 0);
        prop_assert!(h.stride >= dim * 4);
    }

    #[test]
    fn row_header_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let _ = RowHeader::decode(&bytes, Path::new("x"));
    }

    #[test]
    fn rows_round_trip(dim in 1u32..100, rows in prop::collection::vec(prop::collection::vec(-10f32..10.0, 100), 0..8)) {
        let rows: Vec<Vec<f32>> = rows.into_iter().map(|r| r[..dim as usize].to_vec()).collect();
        let bytes = encode_rows(dim, rows.iter().map(|r| r.as_slice()));
        let stride = stride_for(dim) as usize;
        prop_assert_eq!(bytes.len(), rows.len() * stride);
        for (i, r) in rows.iter().enumerate() {
            prop_assert_eq!(&decode_row(&bytes[i * stride..], dim), r);
            prop_assert!(bytes[i * stride + dim as usize * 4..(i + 1) * stride].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn graph_round_trip(g in arb_graph()) {
        let bytes = g.to_bytes();
        let v = GraphView::from_bytes(&bytes, true).unwrap();
        prop_assert!(v.deep_check(u64::MAX).is_empty());
        prop_assert_eq!(v.to_data(), g);
    }

    #[test]
    fn damaged_graph_never_panics(g in arb_graph(), at in any::<prop::sample::Index>(), x in 1u8..=255) {
        let mut bytes = g.to_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= x;
        match GraphView::from_bytes(&bytes, false) {
            Ok(v) => {
                // Structure may parse; the checksum must catch the damage.
                prop_assert!(!v.deep_check(u64::MAX).is_empty());
                let _ = v.to_data();
            }
            Err(e) => prop_assert!(e.is_format_error()),
        }
    }
}

fn arb_graph() -> impl Strategy<Value = GraphData> {
    (1usize..40, 0usize..4, any::<u64>()).prop_map(|(n, top, seed)| {
        let mut rng = Rng(seed);
        let mut levels: Vec<u8> = (0..n).map(|_| rng.below(top as u64 + 1) as u8).collect();
        let entry = rng.below(n as u64) as u32;
        levels[entry as usize] = top as u8;
        let mut adj: Vec<Vec<Vec<u32>>> = (0..=top)
            .map(|l| {
                (0..n)
                    .map(|i| {
                        if (levels[i] as usize) < l {
                            return Vec::new();
                        }
                        (0..rng.below(6))
                            .map(|_| rng.below(n as u64) as u32)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut rows: Vec<u32> = (0..n as u32).map(|i| i * 2 + 1).collect();
        rows.sort_unstable();
        GraphData {
            level: Level::File,
            dim: 8,
            m: 16,
            rows_covered: n as u64 * 2 + 1,
            rows,
            levels,
            entry,
            layer0: adj.remove(0).iter().fold(Lists::default(), |mut l, list| {
                l.push(list);
                l
            }),
            upper: adj,
            mapped: None,
            // Half the cases carry int8 rows (graph format 2), half do not.
            codes: if seed % 2 == 0 {
                (0..n * 8).map(|i| (i as i8).wrapping_mul(37)).collect()
            } else {
                Vec::new()
            },
            steps: if seed % 2 == 0 {
                (0..n).map(|i| i as f32 * 0.01).collect()
            } else {
                Vec::new()
            },
        }
    })
}

fn rewrite_header_version(path: &Path, version: u32) {
    let mut b = std::fs::read(path).unwrap();
    b[8..12].copy_from_slice(&version.to_le_bytes());
    let sum = xxhash_rust::xxh3::xxh3_64(&b[0..56]);
    b[56..64].copy_from_slice(&sum.to_le_bytes());
    std::fs::write(path, b).unwrap();
}

#[test]
fn newer_format_versions_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = Index::open(tmp.path(), write_opts(8)).unwrap();
    let mut w = ix.writer().unwrap();
    w.upsert(record("/a.wav", random_unit(&mut Rng(1), 8), vec![]))
        .unwrap();
    w.commit().unwrap();
    w.rebuild_graph(Level::File).unwrap();
    drop(w);
    for name in ["vectors-1.f32", "meta.sum"] {
        let case = tmp.path().join(format!("case-{name}"));
        copy_dir(tmp.path(), &case);
        rewrite_header_version(&case.join(name), 7);
        let err = Index::open(&case, read_opts()).unwrap_err();
        match &err {
            IndexError::NewerFormat {
                found: 7,
                supported: 1,
                path,
            } => assert!(path.ends_with(name)),
            other => panic!("{name}: expected NewerFormat, got {other}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("version 7") && msg.contains("version 1"),
            "{msg}"
        );
        assert!(!avx_index::verify(&case).is_ok());
    }
    let graph = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "hnsw"))
        .unwrap();
    let mut b = std::fs::read(&graph).unwrap();
    b[8..12].copy_from_slice(&4u32.to_le_bytes());
    let err = GraphView::from_bytes(&b, false).unwrap_err();
    assert!(
        matches!(
            err,
            IndexError::NewerFormat {
                found: 4,
                supported: 3,
                ..
            }
        ),
        "{err}"
    );
}

fn fixture_dir(version: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(version)
}

fn fixture_vector(i: u64) -> Vec<f32> {
    random_unit(&mut Rng(1000 + i), 16)
}

/// Writes the current version's fixture if it is missing (commit it when it is created).
fn write_fixture(dir: &Path) {
    let ix = Index::open(dir, write_opts(16)).unwrap();
    let mut w = ix.writer().unwrap();
    for i in 0..6u64 {
        let wins = (0..2).map(|j| fixture_vector(100 + i * 10 + j)).collect();
        w.upsert(record(
            format!("/fixture/{i}.flac"),
            fixture_vector(i),
            wins,
        ))
        .unwrap();
    }
    w.record_failure(Path::new("/fixture/broken.mp3"), 10, 20, "decode error")
        .unwrap();
    w.commit().unwrap();
    w.remove(Path::new("/fixture/5.flac")).unwrap();
    w.relink(
        Path::new("/fixture/4.flac"),
        Path::new("/fixture/moved.flac"),
        1015,
        7,
    )
    .unwrap();
    w.commit().unwrap();
    w.rebuild_graph(Level::File).unwrap();
    w.rebuild_graph(Level::Window).unwrap();
    drop(w);
    let _ = std::fs::remove_file(dir.join("LOCK"));
}

#[test]
fn opens_format_v1_fixture() {
    opens_fixture("v1", 1);
}

/// Graph files of version 2 (int8 rows after the layers).
#[test]
fn opens_format_v2_fixture() {
    opens_fixture("v2", 2);
}

/// Graph files of version 3 (int8 codes in a code file, `graph-<level>-<gen>.i8`).
#[test]
fn opens_format_v3_fixture() {
    opens_fixture("v3", 3);
}

/// The fixture in `tests/fixtures/<version>` opens, reads and searches as written; its graph files are of
/// `graph_version`.
fn opens_fixture(version: &str, graph_version: u32) {
    let dir = fixture_dir(version);
    if !dir.join("meta.redb").exists() {
        // The fixture is committed; it is written only on request (when a new format version adds one).
        assert!(
            std::env::var_os("AVX_WRITE_FIXTURE").is_some(),
            "{} is missing: restore it (git checkout -- crates/index/tests/fixtures), or write it with \
             AVX_WRITE_FIXTURE=1 cargo test -p avx-index --test format",
            dir.display()
        );
        eprintln!("writing fixture {}", dir.display());
        std::fs::create_dir_all(&dir).unwrap();
        write_fixture(&dir);
    }
    let ix = Index::open(&dir, read_opts()).unwrap();
    assert_eq!(ix.settings(), &settings(16));
    let paths: Vec<String> = ix.files().map(|f| f.path.display().to_string()).collect();
    assert_eq!(
        paths,
        [
            "/fixture/0.flac",
            "/fixture/1.flac",
            "/fixture/2.flac",
            "/fixture/3.flac",
            "/fixture/broken.mp3",
            "/fixture/moved.flac"
        ]
    );
    let moved = ix.file_by_path(Path::new("/fixture/moved.flac")).unwrap();
    assert_eq!(ix.file_vector(moved).unwrap(), fixture_vector(4).as_slice());
    assert_eq!(moved.mtime_ns, 7);
    let w = ix.window_vectors_of(moved);
    assert_eq!(w.len(), 2);
    assert_eq!(w[1].0, (10.0, 20.0));
    assert_eq!(w[1].1, fixture_vector(141).as_slice());
    let hits = ix
        .search(
            &fixture_vector(2),
            &SearchOptions {
                k: 2,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(hits[0].path, Path::new("/fixture/2.flac"));
    let st = ix.stats();
    assert_eq!(st.graph_points, [5, 10]);
    assert_eq!(
        ix.file_by_path(Path::new("/fixture/broken.mp3"))
            .unwrap()
            .error
            .as_deref(),
        Some("decode error")
    );
    let r = avx_index::verify(&dir);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(HEADER_LEN, 64);
    let mut graphs = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "hnsw") {
            let b = std::fs::read(&p).unwrap();
            assert_eq!(
                u32::from_le_bytes(b[8..12].try_into().unwrap()),
                graph_version,
                "{}",
                p.display()
            );
            // Version 3 graphs name their int8 code file (in the same directory) in the header.
            let g = GraphView::open(&p, true).unwrap();
            assert!(g.deep_check(u64::MAX).is_empty());
            assert_eq!(
                u64::from_le_bytes(b[48..56].try_into().unwrap()) > 0,
                graph_version >= 3,
                "{}",
                p.display()
            );
            // Version 2 and later graphs have int8 rows; version 1 graphs do not.
            assert_eq!(
                !g.to_data().codes.is_empty(),
                graph_version >= 2,
                "{}",
                p.display()
            );
            graphs += 1;
        }
    }
    assert_eq!(graphs, 2);
}
