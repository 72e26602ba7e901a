//! Round trips through the public API: add, search, remove, relink, compact, incremental lookups,
//! settings checks, filters, window-level search, readers during writes.

mod common;

use std::path::{Path, PathBuf};

use avx_index::{FileStatus, Index, IndexError, Level, OpenOptions, SearchOptions};
use common::*;

const DIM: usize = 16;

fn build(dir: &Path, n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed);
    let vs = clustered(&mut rng, n, DIM, 5, 0.3);
    let ix = Index::open(dir, write_opts(DIM as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    for (i, v) in vs.iter().enumerate() {
        let wins = (0..3).map(|_| random_unit(&mut rng, DIM)).collect();
        w.upsert(record(format!("/music/a/{i:04}.flac"), v.clone(), wins))
            .unwrap();
        if i % 16 == 15 {
            w.commit().unwrap();
        }
    }
    w.commit().unwrap();
    vs
}

#[test]
fn add_search_exact_finds_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let vs = build(tmp.path(), 100, 1);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    assert_eq!(ix.files().count(), 100);
    for (i, v) in vs.iter().enumerate().step_by(7) {
        let hits = ix
            .search(
                v,
                &SearchOptions {
                    k: 3,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(hits[0].path, PathBuf::from(format!("/music/a/{i:04}.flac")));
        assert!((hits[0].score - 1.0).abs() < 1e-5);
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        let f = ix.file_by_path(&hits[0].path).unwrap();
        assert_eq!(ix.file_vector(f).unwrap(), v.as_slice());
        assert_eq!(ix.window_vectors_of(f).len(), 3);
    }
    let st = ix.stats();
    assert_eq!(st.rows, [100, 300]);
    assert_eq!(st.live_rows, [100, 300]);
    assert!(ix.verify().is_ok(), "{:?}", ix.verify());
}

#[test]
fn window_search_reports_times() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 20, 2);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    let f = ix
        .file_by_path(Path::new("/music/a/0007.flac"))
        .unwrap()
        .clone();
    let wins = ix.window_vectors_of(&f);
    let (times, v) = wins[2];
    let hits = ix
        .search(
            v,
            &SearchOptions {
                k: 1,
                level: Level::Window,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(hits[0].file_id, f.id);
    assert_eq!(hits[0].window, Some(times));
    assert_eq!(times, (20.0, 30.0));
    assert_eq!(ix.vectors(Level::Window).count(), 60);
}

#[test]
fn remove_relink_replace_and_compact() {
    let tmp = tempfile::tempdir().unwrap();
    let vs = build(tmp.path(), 40, 3);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    let moved_from = PathBuf::from("/music/a/0005.flac");
    let old = ix.file_by_path(&moved_from).unwrap().clone();
    let mut w = ix.writer().unwrap();
    assert!(w.remove(Path::new("/music/a/0001.flac")).unwrap());
    assert!(!w.remove(Path::new("/music/nothing.flac")).unwrap());
    assert!(w
        .relink(&moved_from, Path::new("/music/b/moved.flac"), old.size, 42)
        .unwrap());
    // Replace 0002 with 0003's vector.
    w.upsert(record("/music/a/0002.flac", vs[3].clone(), vec![]))
        .unwrap();
    w.commit().unwrap();
    drop(w);

    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    assert!(ix.file_by_path(Path::new("/music/a/0001.flac")).is_none());
    assert!(ix.file_by_path(&moved_from).is_none());
    let moved = ix.file_by_path(Path::new("/music/b/moved.flac")).unwrap();
    assert_eq!(
        (moved.id, moved.mtime_ns, moved.vector_row),
        (old.id, 42, old.vector_row)
    );
    assert_eq!(
        ix.find_by_hash(old.content_hash.unwrap())[0].path,
        PathBuf::from("/music/b/moved.flac")
    );
    let hits = ix
        .search(
            &vs[1],
            &SearchOptions {
                k: 40,
                exact: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(
        hits.iter()
            .all(|h| h.path != Path::new("/music/a/0001.flac")),
        "tombstone returned"
    );
    let hits = ix
        .search(
            &vs[5],
            &SearchOptions {
                k: 1,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(hits[0].path, PathBuf::from("/music/b/moved.flac"));
    let st = ix.stats();
    assert_eq!(st.files, 39);
    assert_eq!(st.rows[0], 41);
    assert_eq!(st.live_rows[0], 39);
    assert!(ix.verify().is_ok(), "{:?}", ix.verify());

    let mut w = ix.writer().unwrap();
    w.compact().unwrap();
    drop(w);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    let st = ix.stats();
    assert_eq!(st.rows, st.live_rows);
    assert_eq!(st.rows[0], 39);
    let hits = ix
        .search(
            &vs[5],
            &SearchOptions {
                k: 1,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(hits[0].path, PathBuf::from("/music/b/moved.flac"));
    let v2 = ix
        .file_vector(ix.file_by_path(Path::new("/music/a/0002.flac")).unwrap())
        .unwrap();
    assert_eq!(v2, vs[3].as_slice());
    let r = ix.verify();
    assert!(r.is_ok() && r.notes.is_empty(), "{r:?}");
    // Old generation files were deleted.
    assert!(!tmp.path().join("vectors-1.f32").exists());
}

#[test]
fn automatic_compaction_past_dead_fraction() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 200, 4);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    let mut w = ix.writer().unwrap();
    for i in 0..60 {
        w.remove(Path::new(&format!("/music/a/{i:04}.flac")))
            .unwrap();
    }
    let rep = w.commit().unwrap();
    assert!(rep.compacted, "60/200 dead rows is past 25 %");
    drop(w);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    assert_eq!(ix.stats().rows, [140, 420]);
}

#[test]
fn incremental_lookups_and_failures() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 10, 5);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    let f = ix.file_by_path(Path::new("/music/a/0003.flac")).unwrap();
    assert_eq!(f.status, FileStatus::Ok);
    assert_eq!(
        (f.sample_rate, f.channels, f.codec.as_str()),
        (48_000, 2, "flac")
    );
    let mut w = ix.writer().unwrap();
    w.record_failure(Path::new("/music/bad.mp3"), 12, 34, "unsupported codec")
        .unwrap();
    // A previously good file that now fails loses its vectors.
    w.record_failure(Path::new("/music/a/0004.flac"), 12, 34, "truncated")
        .unwrap();
    w.commit().unwrap();
    drop(w);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    let bad = ix.file_by_path(Path::new("/music/bad.mp3")).unwrap();
    assert_eq!(bad.status, FileStatus::Failed);
    assert_eq!(bad.error.as_deref(), Some("unsupported codec"));
    assert_eq!((bad.size, bad.mtime_ns), (12, 34));
    assert_eq!(ix.stats().failed, 2);
    assert_eq!(ix.live_rows(Level::File), 9);
    assert_eq!(ix.vectors(Level::File).count(), 9);
    assert!(ix.verify().is_ok());
}

#[test]
fn prefix_and_exclude_filters() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(6);
    let ix = Index::open(tmp.path(), write_opts(DIM as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    let q = random_unit(&mut rng, DIM);
    for (i, dir) in ["/m/ab", "/m/a", "/m/a/b", "/m/b"].iter().enumerate() {
        for j in 0..5 {
            let v = normalise(
                q.iter()
                    .map(|x| x + 0.05 * (i * 5 + j) as f32 * rng.normal())
                    .collect(),
            );
            w.upsert(record(format!("{dir}/{j}.wav"), v, vec![]))
                .unwrap();
        }
    }
    w.rebuild_graph(Level::File).unwrap();
    w.commit().unwrap();
    drop(w);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    assert_eq!(ix.stats().graph_points[0], 20);
    // Ids follow insertion order ("/m/ab" first), which is not path order ("/m/a/..." first).
    let by_id: Vec<&Path> = ix.files_by_id().map(|f| f.path.as_path()).collect();
    assert!(by_id[0].starts_with("/m/ab"));
    let listed: Vec<&Path> = ix.files().map(|f| f.path.as_path()).collect();
    assert_eq!(listed.len(), 20);
    assert!(listed.windows(2).all(|p| p[0] < p[1]), "{listed:?}");
    for p in &by_id {
        assert_eq!(ix.file_by_path(p).unwrap().path, *p);
    }
    assert!(ix.file_by_path(Path::new("/m/a")).is_none());
    // Scanned exactly (20 rows are below the crossover), then through the graph.
    for exact_below_rows in [u64::MAX, 0] {
        let hits = ix
            .search(
                &q,
                &SearchOptions {
                    k: 100,
                    path_prefix: Some(Path::new("/m/a")),
                    exact_below_rows,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            hits.len(),
            10,
            "component-wise prefix: /m/a and /m/a/b, not /m/ab"
        );
        assert!(hits.iter().all(|h| h.path.starts_with("/m/a")));
        let top = ix
            .search(
                &q,
                &SearchOptions {
                    k: 1,
                    exact_below_rows,
                    ..Default::default()
                },
            )
            .unwrap();
        let hits = ix
            .search(
                &q,
                &SearchOptions {
                    k: 19,
                    exclude_path: Some(&top[0].path),
                    exact_below_rows,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(hits.len(), 19);
        assert!(hits.iter().all(|h| h.path != top[0].path));
    }
}

#[test]
fn settings_mismatch_and_bad_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 5, 7);
    let mut other = settings(DIM as u32);
    other.model = "another-model".into();
    let err = Index::open(
        tmp.path(),
        OpenOptions {
            settings: Some(other),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, IndexError::ModelMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("re-index") && msg.contains("--index") && msg.contains("another-model"),
        "{msg}"
    );
    let err = Index::open(tmp.path(), write_opts(32)).unwrap_err();
    assert!(matches!(err, IndexError::ModelMismatch { .. }));

    let ix = Index::open(tmp.path(), write_opts(DIM as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    let e = w
        .upsert(record("/x.wav", vec![0.0; 3], vec![]))
        .unwrap_err();
    assert!(matches!(
        e,
        IndexError::DimensionMismatch {
            found: 3,
            expected: 16,
            ..
        }
    ));
    let mut nan = vec![0.0; DIM];
    nan[0] = f32::NAN;
    assert!(matches!(
        w.upsert(record("/x.wav", nan, vec![])).unwrap_err(),
        IndexError::NonFinite { .. }
    ));
    assert!(ix.search(&[1.0], &SearchOptions::default()).is_err());
    let missing = tmp.path().join("nope");
    assert!(matches!(
        Index::open(&missing, read_opts()).unwrap_err(),
        IndexError::NotFound { .. }
    ));
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_are_stored_losslessly() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let ix = Index::open(tmp.path(), write_opts(DIM as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    let p = PathBuf::from(OsStr::from_bytes(b"/m/caf\xe9.wav"));
    let mut rng = Rng(8);
    w.upsert(record(p.clone(), random_unit(&mut rng, DIM), vec![]))
        .unwrap();
    w.commit().unwrap();
    drop(w);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    assert_eq!(ix.files().next().unwrap().path, p);
    assert!(ix.file_by_path(&p).is_some());
}

#[test]
fn readers_see_last_commit_during_writes() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 30, 9);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    let mut w = ix.writer().unwrap();
    let mut rng = Rng(10);
    w.upsert(record("/new/1.wav", random_unit(&mut rng, DIM), vec![]))
        .unwrap();
    // Uncommitted: a new reader does not see it.
    let r1 = Index::open(tmp.path(), read_opts()).unwrap();
    assert_eq!(r1.files().count(), 30);
    w.commit().unwrap();
    let mut r2 = Index::open(tmp.path(), read_opts()).unwrap();
    assert_eq!(r2.files().count(), 31);
    // Old snapshot still works.
    assert_eq!(
        r1.search(&random_unit(&mut rng, DIM), &SearchOptions::default())
            .unwrap()
            .len(),
        10
    );
    // Readers open and search concurrently with a stream of commits.
    let dir = tmp.path().to_path_buf();
    let reader = std::thread::spawn(move || {
        let mut seen = 0;
        for _ in 0..40 {
            let ix = Index::open(&dir, read_opts()).unwrap();
            let n = ix.files().count();
            assert!(n >= seen, "reader went back in time");
            seen = n;
            assert!(ix.search(&[0.25; DIM], &SearchOptions::default()).is_ok());
        }
        seen
    });
    for i in 0..20 {
        w.upsert(record(
            format!("/new/x{i}.wav"),
            random_unit(&mut rng, DIM),
            vec![],
        ))
        .unwrap();
        w.commit().unwrap();
    }
    let seen = reader.join().unwrap();
    assert!(seen >= 31);
    r2.refresh().unwrap();
    assert_eq!(r2.files().count(), 51);
}

#[test]
fn graph_search_and_tail() {
    // Small graph forced by an explicit rebuild; rows added later are the exactly-scanned tail.
    let tmp = tempfile::tempdir().unwrap();
    let vs = build(tmp.path(), 300, 11);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    let mut w = ix.writer().unwrap();
    let rep = w.rebuild_graph(Level::File).unwrap().unwrap();
    assert_eq!(rep.points, 300);
    assert_eq!(rep.still_unreachable, 0, "{rep:?}");
    let mut rng = Rng(12);
    let extra = random_unit(&mut rng, DIM);
    w.upsert(record("/tail/one.wav", extra.clone(), vec![]))
        .unwrap();
    w.remove(Path::new("/music/a/0000.flac")).unwrap();
    w.commit().unwrap();
    drop(w);
    let ix = Index::open(tmp.path(), read_opts()).unwrap();
    assert_eq!(ix.stats().graph_points[0], 300);
    assert_eq!(ix.stats().tail_rows[0], 1);
    assert!(ix.verify().is_ok(), "{:?}", ix.verify());
    // Through the graph (no exact crossover): graph rows find themselves, the tail row is found by the scan
    // beside the graph, and the removed file is never returned.
    let graph = SearchOptions {
        k: 3,
        exact_below_rows: 0,
        ..Default::default()
    };
    for (i, v) in vs.iter().enumerate().skip(1).step_by(37) {
        let hits = ix.search(v, &graph).unwrap();
        assert_eq!(
            hits[0].path,
            Path::new(&format!("/music/a/{i:04}.flac")),
            "{hits:?}"
        );
        assert!(hits[0].score > 0.9999, "{hits:?}");
    }
    let hits = ix.search(&extra, &graph).unwrap();
    assert_eq!(hits[0].path, Path::new("/tail/one.wav"), "{hits:?}");
    assert!(hits[0].score > 0.9999, "{hits:?}");
    let hits = ix
        .search(&vs[0], &SearchOptions { k: 300, ..graph })
        .unwrap();
    assert!(hits
        .iter()
        .all(|h| h.path != Path::new("/music/a/0000.flac")));
}
