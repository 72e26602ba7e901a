//! `avx_pg` against a real PostgreSQL 18 + pgvector server (tests/pg_server): push, incremental and idempotent
//! sync, model refusal, and recall of the database's HNSW search against the local exact scan. Indexes are made
//! of synthetic vectors through `avx_index::Writer`; each test uses its own table.

mod pg_server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use avx_index::{
    FileRecord, Index, IndexSettings, Level, OpenOptions, SearchOptions, WindowRecord,
};
use avx_pg::{push, Db, DbQuery, PushOptions, PushReport, Target};
use pg_server::server;

fn settings(model: &str, dim: u32) -> IndexSettings {
    IndexSettings {
        model: model.into(),
        model_hashes: vec![("audio_model".into(), "00".into())],
        family: String::new(),
        frontend: "synthetic".into(),
        pipeline_version: 1,
        dim,
    }
}

/// Deterministic Gaussian-ish numbers (xorshift64*, sum of uniforms).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        let mut s = 0.0;
        for _ in 0..4 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            s += (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        }
        s
    }

    fn unit(&mut self, dim: usize) -> Vec<f32> {
        normalise((0..dim).map(|_| self.next()).collect())
    }
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn record(path: &Path, rng: &mut Rng, dim: usize, windows: usize) -> FileRecord {
    FileRecord {
        path: path.to_path_buf(),
        size: 1000,
        mtime_ns: 7,
        content_hash: rng.0 as u128,
        duration_s: 10.0 * windows.max(1) as f64,
        sample_rate: 48_000,
        channels: 2,
        codec: "pcm".into(),
        vector: rng.unit(dim),
        windows: (0..windows)
            .map(|w| WindowRecord {
                start_s: w as f32 * 10.0,
                end_s: w as f32 * 10.0 + 10.0,
                vector: rng.unit(dim),
            })
            .collect(),
    }
}

/// Applies upserts and removals to the index in `dir` (created with `s` when missing) and commits.
fn write(dir: &Path, s: &IndexSettings, upserts: Vec<FileRecord>, removals: &[PathBuf]) -> Index {
    let index = Index::open(
        dir,
        OpenOptions {
            write: true,
            settings: Some(s.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let mut w = index.writer().unwrap();
    for r in upserts {
        w.upsert(r).unwrap();
    }
    for p in removals {
        w.remove(p).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    Index::open(dir, OpenOptions::default()).unwrap()
}

fn target() -> Target {
    Target::parse(&server().url()).unwrap()
}

fn opts(table: &str, segments: bool) -> PushOptions {
    PushOptions {
        table: table.into(),
        segments,
        batch_files: 7, // several batches even for small indexes
        ..PushOptions::new("test-source")
    }
}

fn push_ok(index: &Index, o: &PushOptions) -> PushReport {
    push(&target(), index, o, &mut |_| {}).unwrap()
}

type Table = BTreeMap<String, (Vec<f32>, Vec<(f32, f32, Vec<f32>)>)>;

/// Every file row with its vector and windows (sorted by start).
fn table_contents(table: &str) -> Table {
    let mut c = server().client();
    let mut out = Table::new();
    for r in c
        .query(&format!("SELECT path, embedding FROM {table}"), &[])
        .unwrap()
    {
        let v: pgvector::Vector = r.get(1);
        out.insert(r.get(0), (v.to_vec(), Vec::new()));
    }
    let has_windows: Option<String> = c
        .query_one(&format!("SELECT to_regclass('{table}_windows')::text"), &[])
        .unwrap()
        .get(0);
    if has_windows.is_some() {
        for r in c
            .query(
                &format!(
                    "SELECT f.path, w.start_s, w.end_s, w.embedding FROM {table}_windows w \
                     JOIN {table} f ON f.id = w.file_id ORDER BY f.path, w.start_s"
                ),
                &[],
            )
            .unwrap()
        {
            let path: String = r.get(0);
            let v: pgvector::Vector = r.get(3);
            out.get_mut(&path)
                .expect("window of a pushed file")
                .1
                .push((r.get(1), r.get(2), v.to_vec()));
        }
    }
    out
}

/// What the table must hold for `index`: every file's vector (and windows when `segments`), bit for bit.
fn expected(index: &Index, segments: bool) -> Table {
    index
        .files()
        .map(|f| {
            let windows = if segments {
                index
                    .window_vectors_of(f)
                    .into_iter()
                    .map(|((s, e), v)| (s, e, v.to_vec()))
                    .collect()
            } else {
                Vec::new()
            };
            (
                f.path.to_string_lossy().into_owned(),
                (index.file_vector(f).unwrap().to_vec(), windows),
            )
        })
        .collect()
}

/// (path, xmin) of every row: unchanged when nothing was written.
fn row_versions(table: &str) -> Vec<(String, String)> {
    server()
        .client()
        .query(
            &format!("SELECT path, xmin::text FROM {table} ORDER BY path"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn first_push_then_add_modify_move_delete_is_synced_exactly_and_a_second_push_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("index");
    let lib = dir.path().join("lib");
    let s = settings("synthetic-a", 16);
    let mut rng = Rng(1);
    let paths: Vec<PathBuf> = (0..30).map(|i| lib.join(format!("f{i:02}.wav"))).collect();
    let recs: Vec<FileRecord> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| record(p, &mut rng, 16, i % 3))
        .collect();
    let index = write(&idx, &s, recs.clone(), &[]);
    let o = opts("sync_test", true);

    let r = push_ok(&index, &o);
    assert_eq!((r.upserted, r.deleted, r.unchanged), (30, 0, 0));
    assert_eq!(r.windows, 30); // 0 + 1 + 2 windows, ten times
    assert!(r.hnsw_build[0].is_some() && r.hnsw_build[1].is_some());
    assert_eq!(table_contents("sync_test"), expected(&index, true));
    let storage: i8 = server()
        .client()
        .query_one(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'sync_test'::regclass AND attname = 'embedding'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        storage as u8, b'p',
        "vectors are stored inline (STORAGE PLAIN)"
    );

    // Unchanged: nothing written, not even a new row version.
    let before = row_versions("sync_test");
    let r = push_ok(&index, &o);
    assert_eq!(
        (r.upserted, r.deleted, r.unchanged, r.windows),
        (0, 0, 30, 0)
    );
    assert_eq!(row_versions("sync_test"), before);

    // Add two, modify one (new vector and windows), move one (same content, new path), delete one.
    let mut changed = record(&paths[4], &mut rng, 16, 2);
    changed.mtime_ns = 8;
    let mut moved = recs[5].clone();
    moved.path = lib.join("moved/f05.wav");
    let upserts = vec![
        record(&lib.join("new1.wav"), &mut rng, 16, 1),
        record(&lib.join("new2.wav"), &mut rng, 16, 0),
        changed,
        moved,
    ];
    let index = write(&idx, &s, upserts, &[paths[5].clone(), paths[6].clone()]);
    let r = push_ok(&index, &o);
    assert_eq!((r.upserted, r.deleted, r.unchanged), (4, 2, 27));
    assert_eq!(table_contents("sync_test"), expected(&index, true));
    let after = row_versions("sync_test");
    let unchanged: Vec<_> = before
        .iter()
        .filter(|(p, _)| {
            !p.ends_with("f04.wav") && !p.ends_with("f05.wav") && !p.ends_with("f06.wav")
        })
        .collect();
    assert!(
        unchanged.iter().all(|row| after.contains(row)),
        "untouched files were rewritten"
    );
}

#[test]
fn another_model_or_dimension_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(2);
    let a = write(
        &dir.path().join("a"),
        &settings("model-a", 8),
        vec![record(Path::new("/x/a.wav"), &mut rng, 8, 0)],
        &[],
    );
    push_ok(&a, &opts("refuse_test", false));
    let b = write(
        &dir.path().join("b"),
        &settings("model-b", 8),
        vec![record(Path::new("/x/b.wav"), &mut rng, 8, 0)],
        &[],
    );
    let e = push(&target(), &b, &opts("refuse_test", false), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model model-a") && e.contains("model model-b"),
        "{e}"
    );
    let mut other_dim = settings("model-a", 12);
    other_dim.model_hashes = a.settings().model_hashes.clone();
    let c = write(
        &dir.path().join("c"),
        &other_dim,
        vec![record(Path::new("/x/c.wav"), &mut rng, 12, 0)],
        &[],
    );
    let e = push(&target(), &c, &opts("refuse_test", false), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dimension 8") && e.contains("dimension 12"),
        "{e}"
    );
    // Nothing of the refused indexes was written.
    assert_eq!(table_contents("refuse_test").len(), 1);
}

#[test]
fn a_wrong_password_is_an_error_that_does_not_show_it() {
    let url = format!(
        "postgres://postgres:Wr0ngSecret@127.0.0.1:{}/postgres",
        server().port
    );
    let e = match Target::parse(&url).unwrap().connect() {
        Ok(_) => panic!("the server accepted a wrong password"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("cannot connect to postgres://postgres@127.0.0.1"),
        "{e}"
    );
    assert!(!e.contains("Wr0ngSecret"), "{e}");
}

#[test]
fn database_top_10_matches_the_local_exact_scan() {
    // 3,000 vectors in 40 clusters (like sound libraries: many near neighbours), 64 dimensions.
    let dir = tempfile::tempdir().unwrap();
    let dim = 64;
    let mut rng = Rng(3);
    let centres: Vec<Vec<f32>> = (0..40).map(|_| rng.unit(dim)).collect();
    let recs: Vec<FileRecord> = (0..3000)
        .map(|i| {
            let mut r = record(&PathBuf::from(format!("/lib/{i:05}.wav")), &mut rng, dim, 0);
            r.vector = normalise(
                centres[i % 40]
                    .iter()
                    .zip(&r.vector)
                    .map(|(c, n)| c + 0.7 * n)
                    .collect(),
            );
            r
        })
        .collect();
    let index = write(
        &dir.path().join("i"),
        &settings("recall", dim as u32),
        recs,
        &[],
    );
    push_ok(
        &index,
        &PushOptions {
            batch_files: 1000,
            ..opts("recall_test", false)
        },
    );
    let mut db = Db::open(&target(), "recall_test").unwrap();
    assert_eq!(db.settings(), index.settings());
    let queries = 100;
    let mut found = 0;
    for q in 0..queries {
        let v = rng.unit(dim);
        let v = normalise(
            centres[q % 40]
                .iter()
                .zip(&v)
                .map(|(c, n)| c + 0.7 * n)
                .collect(),
        );
        let exact = index
            .search(
                &v,
                &SearchOptions {
                    k: 10,
                    level: Level::File,
                    exact: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let hits = db
            .search(&DbQuery {
                vector: &v,
                k: 10,
                segments: false,
                exact: false,
                ef_search: None,
                within: None,
                exclude: None,
            })
            .unwrap();
        assert_eq!(hits.len(), 10);
        found += hits
            .iter()
            .filter(|h| exact.iter().any(|x| x.path == h.path))
            .count();
        // Scores are cosines, as the local index's.
        assert!((hits[0].score - exact[0].score).abs() < 1e-4 || hits[0].path != exact[0].path);
    }
    let recall = found as f64 / (queries * 10) as f64;
    assert!(
        recall >= 0.99,
        "recall@10 {recall} < 0.99 with the default ef_search"
    );
}

#[test]
fn window_search_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(4);
    let recs: Vec<FileRecord> = (0..12)
        .map(|i| {
            record(
                &PathBuf::from(format!("/lib/{}/{i}.wav", i % 2)),
                &mut rng,
                8,
                2,
            )
        })
        .collect();
    let probe = recs[3].windows[1].vector.clone();
    let index = write(&dir.path().join("i"), &settings("w", 8), recs, &[]);
    push_ok(&index, &opts("window_test", true));
    let mut db = Db::open(&target(), "window_test").unwrap();
    let q = DbQuery {
        vector: &probe,
        k: 3,
        segments: true,
        exact: true,
        ef_search: None,
        within: None,
        exclude: None,
    };
    let hits = db.search(&q).unwrap();
    assert_eq!(hits[0].path, Path::new("/lib/1/3.wav"));
    assert_eq!(hits[0].window, Some((10.0, 20.0)));
    assert!((hits[0].score - 1.0).abs() < 1e-5);
    // Hits carry the files table's row id.
    for h in &hits {
        let id: i64 = server()
            .client()
            .query_one(
                "SELECT id FROM window_test WHERE path = $1",
                &[&h.path.to_string_lossy().as_ref()],
            )
            .unwrap()
            .get(0);
        assert_eq!(h.id, id as u64, "{}", h.path.display());
    }
    let within = db
        .search(&DbQuery {
            within: Some(Path::new("/lib/0")),
            exact: false,
            ..q.clone()
        })
        .unwrap();
    assert_eq!(within.len(), 3);
    assert!(within.iter().all(|h| h.path.starts_with("/lib/0")));
    let excl = db
        .search(&DbQuery {
            exclude: Some(Path::new("/lib/1/3.wav")),
            ..q
        })
        .unwrap();
    assert!(excl.iter().all(|h| h.path != Path::new("/lib/1/3.wav")));
    assert_eq!(
        db.vectors(true, Some(Path::new("/lib/1"))).unwrap().len(),
        12
    );
    assert_eq!(db.vectors(false, None).unwrap().len(), 12);
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_are_pushed_and_read_back_losslessly() {
    use std::os::unix::ffi::OsStrExt;
    let raw = |b: &[u8]| PathBuf::from(std::ffi::OsStr::from_bytes(b));
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(5);
    // Two names that differ only in a byte that is not UTF-8, one under a directory whose name is not UTF-8,
    // one whose name holds a literal U+FFFD, and a plain one.
    let paths = [
        raw(b"/lib/caf\xe9.wav"),
        raw(b"/lib/caf\xe8.wav"),
        raw(b"/lib/d\xff/x.wav"),
        PathBuf::from("/lib/\u{fffd}e9.wav"),
        PathBuf::from("/lib/plain.wav"),
    ];
    let recs: Vec<FileRecord> = paths.iter().map(|p| record(p, &mut rng, 8, 0)).collect();
    let index = write(&dir.path().join("i"), &settings("p", 8), recs, &[]);
    let first = push_ok(&index, &opts("path_bytes_test", false));
    assert_eq!(first.upserted, 5, "{first:?}");
    let second = push_ok(&index, &opts("path_bytes_test", false));
    assert_eq!((second.upserted, second.unchanged), (0, 5), "{second:?}");

    let mut db = Db::open(&target(), "path_bytes_test").unwrap();
    let mut got: Vec<PathBuf> = db
        .vectors(false, None)
        .unwrap()
        .into_iter()
        .map(|v| v.path)
        .collect();
    got.sort();
    let mut want = paths.to_vec();
    want.sort();
    assert_eq!(got, want);

    // --in a directory that is not UTF-8, and the query file left out by its exact bytes.
    let under = db.vectors(false, Some(&raw(b"/lib/d\xff"))).unwrap();
    assert_eq!(
        under.iter().map(|v| &v.path).collect::<Vec<_>>(),
        [&paths[2]]
    );
    let v = index
        .file_vector(index.file_by_path(&paths[0]).unwrap())
        .unwrap()
        .to_vec();
    let hits = db
        .search(&DbQuery {
            vector: &v,
            k: 10,
            segments: false,
            exact: true,
            ef_search: None,
            within: None,
            exclude: Some(&paths[0]),
        })
        .unwrap();
    assert_eq!(hits.len(), 4, "{hits:?}");
    assert!(hits.iter().all(|h| h.path != paths[0]), "{hits:?}");
    assert!(hits.iter().any(|h| h.path == paths[1]), "{hits:?}");
}
