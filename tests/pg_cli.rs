//! `avx push`, `--db` queries, `avx index --shard` and `avx merge` end to end, against the real PostgreSQL +
//! pgvector server of tests/pg_server, with the committed test audio (tests/data/audio) and the tiny
//! random-weight CLAP model (tests/fixtures/tiny-clap).

mod pg_server;
mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use avx_index::{FileRecord, Index, IndexSettings, OpenOptions};
use pg_server::{repo, server, PASSWORD};
use serde_json::Value;

/// A temporary directory with a library of the committed test audio (plus one exact copy, a duplicate).
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib");
        for (i, e) in std::fs::read_dir(repo().join("tests/data/audio"))
            .unwrap()
            .enumerate()
        {
            let p = e.unwrap().path();
            if !p.is_file() {
                continue; // tests/data/audio/short: the front end's parity files, not needed here
            }
            if p.extension().is_some_and(|x| x == "wma") {
                continue; // avx cannot decode WMA
            }
            let sub = lib.join(format!("d{}", i % 3));
            std::fs::create_dir_all(&sub).unwrap();
            std::fs::copy(&p, sub.join(p.file_name().unwrap())).unwrap();
        }
        let first = first_file(&lib.join("d0"));
        let copy = lib.join(format!(
            "copy_of_{}",
            first.file_name().unwrap().to_string_lossy()
        ));
        std::fs::copy(&first, copy).unwrap();
        Env { dir }
    }

    fn lib(&self) -> PathBuf {
        self.dir.path().join("lib")
    }

    fn cmd(&self, index: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_avx"));
        c.env("AVX_INDEX", self.dir.path().join(index))
            .env("AVX_MODEL_DIR", repo().join("tests/fixtures/tiny-clap"))
            .env_remove("AVX_MODEL")
            .env_remove("PGPASSWORD")
            .current_dir(self.dir.path());
        c
    }

    fn ok(&self, index: &str, args: &[&str], code: i32) -> String {
        let out: Output = self.cmd(index).args(args).output().expect("avx runs");
        util::stdout_with_code(out, args, code)
    }

    fn json(&self, index: &str, args: &[&str], code: i32) -> Vec<Value> {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        util::json_lines(&self.ok(index, &a, code))
    }
}

/// The first entry of a directory.
fn first_file(dir: &Path) -> PathBuf {
    dir.read_dir().unwrap().next().unwrap().unwrap().path()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Hits as (everything but the score and rank, score).
fn hits(v: &[Value]) -> Vec<(String, f64)> {
    v.iter()
        .map(|h| {
            assert_eq!(h["type"], "hit");
            let mut h = h.clone();
            let score = h["score"].as_f64().unwrap();
            h.as_object_mut().unwrap().remove("score");
            h.as_object_mut().unwrap().remove("rank");
            (h.to_string(), score)
        })
        .collect()
}

/// Same hits in the same order, scores within 1e-4; hits with equal scores (identical audio in two files)
/// may come in either order.
fn assert_same_hits(local: &[Value], db: &[Value]) {
    let (l, d) = (hits(local), hits(db));
    assert!(!l.is_empty());
    assert_eq!(l.len(), d.len());
    for (i, (a, b)) in l.iter().zip(&d).enumerate() {
        assert!(
            (a.1 - b.1).abs() < 1e-4,
            "rank {}: scores {} and {}",
            i + 1,
            a.1,
            b.1
        );
        let tied = l.iter().any(|x| x.0 == b.0 && (x.1 - a.1).abs() < 1e-6);
        assert!(a.0 == b.0 || tied, "rank {}: {} and {}", i + 1, a.0, b.0);
    }
    for (a, b) in local.iter().zip(db) {
        assert_eq!(a["rank"], b["rank"]);
    }
}

#[test]
fn db_queries_print_what_local_queries_print() {
    let env = Env::new();
    let url = server().url();
    env.ok("index", &["index", s(&env.lib())], 0);
    env.ok(
        "index",
        &["push", &url, "--table", "cli_q", "--segments"],
        0,
    );
    let db = ["--db", url.as_str(), "--table", "cli_q"];
    let probe = first_file(&env.lib().join("d1"));
    for args in [
        vec!["similar", s(&probe), "-k", "5"],
        vec!["similar", s(&probe), "-k", "5", "--segments"],
        vec!["search", "a", "rising", "tone", "-k", "4"],
        vec![
            "search",
            "noise",
            "-k",
            "3",
            "--in",
            s(&env.lib().join("d2")),
        ],
    ] {
        let local = env.json("index", &args, 0);
        let mut with_db = args.clone();
        with_db.extend_from_slice(&db);
        assert_same_hits(&local, &env.json("index", &with_db, 0));
        // Path lists too: the same lines (in the same order but for ties).
        let mut paths = args.clone();
        paths.extend_from_slice(&["--format", "paths"]);
        let mut local_paths: Vec<String> = env
            .ok("index", &paths, 0)
            .lines()
            .map(String::from)
            .collect();
        paths.extend_from_slice(&db);
        let mut db_paths: Vec<String> = env
            .ok("index", &paths, 0)
            .lines()
            .map(String::from)
            .collect();
        local_paths.sort();
        db_paths.sort();
        assert_eq!(db_paths, local_paths);
    }
    let local = env.json("index", &["dupes"], 0);
    let mut with_db = vec!["dupes"];
    with_db.extend_from_slice(&db);
    let remote = env.json("index", &with_db, 0);
    assert_eq!(local.len(), remote.len());
    for (a, b) in local.iter().zip(&remote) {
        assert_eq!(a["type"], "group");
        // The same members in the same order, leader first: the search runs in path order whatever order the
        // rows came in (the local index's ids, the table's order), so a group of exact copies has one leader.
        let members = |v: &Value| -> Vec<(String, f64)> {
            v["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    let path = m["path"].as_str().unwrap_or_default().to_string();
                    (path, m["score"].as_f64().unwrap_or(f64::NAN))
                })
                .collect()
        };
        let (ma, mb) = (members(a), members(b));
        assert_eq!(
            ma.iter().map(|m| &m.0).collect::<Vec<_>>(),
            mb.iter().map(|m| &m.0).collect::<Vec<_>>()
        );
        for ((_, sa), (_, sb)) in ma.iter().zip(&mb) {
            assert!((sa - sb).abs() < 1e-5, "{a} / {b}");
        }
    }
    // No such table: an error that says to push.
    let out = env
        .cmd("index")
        .args([
            "similar",
            s(&probe),
            "--db",
            &url,
            "--table",
            "never_pushed",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("avx push") && !err.contains(PASSWORD), "{err}");
}

fn table_rows(table: &str) -> BTreeMap<String, String> {
    server()
        .client()
        .query(
            &format!(
                "SELECT path, concat_ws('|', root, content_hash, size, mtime_ns, duration_s, sample_rate, \
                 channels, codec, model, embedding::text, \
                 (SELECT string_agg(concat_ws(',', start_s, end_s, w.embedding::text), ';' ORDER BY start_s) \
                  FROM {table}_windows w WHERE w.file_id = f.id)) FROM {table} f"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Everything an index holds per path except file ids: metadata, vector, windows.
fn index_contents(dir: &Path) -> BTreeMap<PathBuf, String> {
    let index = Index::open(dir, OpenOptions::default()).unwrap();
    index
        .files()
        .map(|f| {
            let v = index.file_vector(f).map(<[f32]>::to_vec);
            let w = index.window_vectors_of(f);
            (
                f.path.clone(),
                format!(
                    "{} {} {:?} {} {} {} {} {:?} {:?} {v:?} {w:?}",
                    f.size,
                    f.mtime_ns,
                    f.content_hash,
                    f.duration_s,
                    f.sample_rate,
                    f.channels,
                    f.codec,
                    f.status,
                    f.error
                ),
            )
        })
        .collect()
}

#[test]
fn three_shards_merged_or_pushed_equal_one_unsharded_index() {
    let env = Env::new();
    let url = server().url();
    env.ok("whole", &["index", s(&env.lib())], 0);
    let mut sizes = Vec::new();
    for i in 1..=3 {
        let idx = format!("shard{i}");
        let out = env.json(
            &idx,
            &["index", s(&env.lib()), "--shard", &format!("{i}/3")],
            0,
        );
        sizes.push(out.last().unwrap()["new"].as_u64().unwrap());
        env.ok(
            &idx,
            &["push", &url, "--table", "cli_sharded", "--segments"],
            0,
        );
    }
    let whole = index_contents(&env.dir.path().join("whole"));
    assert_eq!(sizes.iter().sum::<u64>(), whole.len() as u64, "{sizes:?}");
    assert!(
        sizes.iter().all(|&n| n > 0),
        "every shard has files: {sizes:?}"
    );

    let d = env.dir.path();
    env.ok(
        "whole",
        &[
            "merge",
            s(&d.join("merged")),
            s(&d.join("shard1")),
            s(&d.join("shard2")),
            s(&d.join("shard3")),
        ],
        0,
    );
    assert_eq!(index_contents(&d.join("merged")), whole);

    env.ok(
        "whole",
        &["push", &url, "--table", "cli_whole", "--segments"],
        0,
    );
    let (sharded, unsharded) = (table_rows("cli_sharded"), table_rows("cli_whole"));
    assert_eq!(unsharded.len(), whole.len());
    assert_eq!(sharded, unsharded);

    // Another model's index cannot be merged in.
    let other = d.join("other");
    let o = Index::open(
        &other,
        OpenOptions {
            write: true,
            settings: Some(IndexSettings {
                model: "other".into(),
                model_hashes: vec![],
                family: String::new(),
                frontend: "x".into(),
                pipeline_version: 1,
                dim: 4,
            }),
            ..Default::default()
        },
    )
    .unwrap();
    drop(o);
    let out = env
        .cmd("whole")
        .args([
            "merge",
            s(&d.join("merged2")),
            s(&d.join("shard1")),
            s(&other),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("model other") && err.contains("tiny-clap"),
        "{err}"
    );
}

/// A synthetic index of `n` files (dimension 32) written through the index's Writer.
fn synthetic_index(dir: &Path, n: usize) {
    let index = Index::open(
        dir,
        OpenOptions {
            write: true,
            settings: Some(IndexSettings::synthetic(32)),
            ..Default::default()
        },
    )
    .unwrap();
    let mut w = index.writer().unwrap();
    for i in 0..n {
        let mut v: Vec<f32> = (0..32)
            .map(|j| ((i * 31 + j * 7) % 17) as f32 - 8.0)
            .collect();
        v[i % 32] += 20.0;
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        w.upsert(FileRecord {
            path: PathBuf::from(format!("/lib/{i:05}.wav")),
            size: i as u64,
            mtime_ns: 1,
            content_hash: i as u128,
            duration_s: 1.0,
            sample_rate: 48_000,
            channels: 1,
            codec: "pcm".into(),
            vector: v,
            windows: Vec::new(),
        })
        .unwrap();
    }
    w.commit().unwrap();
}

fn count(table: &str) -> i64 {
    server()
        .client()
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .map(|r| r.get(0))
        .unwrap_or(0)
}

#[test]
fn a_push_killed_with_sigkill_is_completed_by_the_next_push() {
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    let n = 3000;
    synthetic_index(&env.dir.path().join("index"), n);
    // The password comes from PGPASSWORD, as with libpq; the URL has none.
    let url = server().url_without_password();
    let mut child = env
        .cmd("index")
        .args(["push", &url, "--table", "cli_killed", "--batch", "100"])
        .env("PGPASSWORD", PASSWORD)
        .env(avx_pg::PAUSE_ENV, "40")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while count("cli_killed") < 300 {
        assert!(
            Instant::now() < deadline,
            "the push wrote nothing in two minutes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the push ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = count("cli_killed");
    assert!(
        at_kill < n as i64 && at_kill % 100 == 0,
        "whole batches only: {at_kill}"
    );

    let mut c = env.cmd("index");
    c.env("PGPASSWORD", PASSWORD);
    let out = c
        .args(["--json", "push", &url, "--table", "cli_killed"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["upserted"], n as i64 - at_kill);
    assert_eq!(summary["unchanged"], at_kill);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));

    // Exact rows and vectors.
    assert_eq!(count("cli_killed"), n as i64);
    let index = Index::open(env.dir.path().join("index"), OpenOptions::default()).unwrap();
    let mut c = server().client();
    for r in c
        .query("SELECT path, embedding FROM cli_killed", &[])
        .unwrap()
    {
        let path: String = r.get(0);
        let v: pgvector::Vector = r.get(1);
        let f = index.file_by_path(Path::new(&path)).unwrap();
        assert_eq!(v.as_slice(), index.file_vector(f).unwrap());
    }
}
