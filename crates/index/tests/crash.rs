//! Crash safety: a child process (this test binary, re-invoked) runs a scripted sequence of
//! commits, compactions and graph builds and is aborted at an injected crash point (or killed
//! with SIGKILL at a random moment). The reopened index must hold exactly the committed state,
//! pass `verify`, and accept the next writer.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use avx_index::{Index, Level, MaintenancePolicy, Writer, CRASH_ENV};
use common::*;

const DIM: usize = 8;
const BATCHES: u64 = 6;
const DIR_ENV: &str = "AVX_TEST_CRASH_DIR";
const LOOP_ENV: &str = "AVX_TEST_CRASH_LOOP";
const NO_MAINT_ENV: &str = "AVX_TEST_NO_MAINTENANCE";

/// The operations of batch `b`: (path, Some(vector seed)) to upsert, (path, None) to remove.
fn batch_ops(b: u64) -> Vec<(String, Option<u64>)> {
    let mut ops: Vec<(String, Option<u64>)> = (0..4)
        .map(|i| (format!("/a/{b}-{i}.wav"), Some(b * 100 + i)))
        .collect();
    if b >= 2 {
        ops.push((format!("/a/{}-0.wav", b - 2), None));
        ops.push((format!("/a/{}-1.wav", b - 1), Some(b * 100 + 50)));
    }
    ops
}

fn vector(seed: u64) -> Vec<f32> {
    random_unit(&mut Rng(seed), DIM)
}

/// The expected path -> first vector component after `k` committed batches.
fn model(k: u64) -> BTreeMap<PathBuf, f32> {
    let mut m = BTreeMap::new();
    for b in 0..k {
        for (p, op) in batch_ops(b) {
            match op {
                Some(s) => m.insert(PathBuf::from(p), vector(s)[0]),
                None => m.remove(&PathBuf::from(p)),
            };
        }
    }
    m
}

fn observed(dir: &Path) -> BTreeMap<PathBuf, f32> {
    let ix = Index::open(dir, read_opts()).unwrap();
    ix.files()
        .map(|f| (f.path.clone(), ix.file_vector(f).unwrap()[0]))
        .collect()
}

fn apply(w: &mut Writer, b: u64) {
    for (p, op) in batch_ops(b) {
        match op {
            Some(s) => {
                let wins = vec![vector(s + 7), vector(s + 9)];
                w.upsert(record(p, vector(s), wins)).unwrap();
            }
            None => {
                w.remove(Path::new(&p)).unwrap();
            }
        }
    }
}

/// The scripted writer. As a child (the parent set `AVX_TEST_CRASH_DIR`) it runs on that directory and may be
/// crashed or killed; run directly, it runs on a fresh directory and the index must end as [`model`] says.
#[test]
fn scripted_writer() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        let tmp = tempfile::tempdir().unwrap();
        script(tmp.path());
        assert_eq!(observed(tmp.path()), model(BATCHES));
        assert_eq!(observed_batches(tmp.path()), BATCHES);
        let r = avx_index::verify(tmp.path());
        assert!(r.is_ok() && r.notes.is_empty(), "{r:?}");
        return;
    };
    script(Path::new(&dir));
}

fn script(dir: &Path) {
    let ix = Index::open(dir, write_opts(DIM as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    w.set_policy(MaintenancePolicy {
        graph_min_rows: 8,
        graph_tail_fraction: 0.5,
        enabled: std::env::var(NO_MAINT_ENV).is_err(),
        ..MaintenancePolicy::default()
    });
    let batches = if std::env::var(LOOP_ENV).is_ok() {
        10_000
    } else {
        BATCHES
    };
    let start = observed_batches(dir);
    for b in start..batches {
        apply(&mut w, b);
        w.commit().unwrap();
        println!("COMMITTED {}", b + 1);
        if b == 3 {
            w.compact().unwrap();
            w.rebuild_graph(Level::Window).unwrap();
            println!("MAINTAINED");
        }
    }
}

/// How many batches a (fresh or reopened) index holds, by the presence of their files.
fn observed_batches(dir: &Path) -> u64 {
    let Ok(ix) = Index::open(dir, read_opts()) else {
        return 0;
    };
    (0..10_000)
        .take_while(|b| {
            ix.file_by_path(Path::new(&format!("/a/{b}-2.wav")))
                .is_some()
        })
        .count() as u64
}

fn run_child(
    dir: &Path,
    crash: Option<&str>,
    looping: bool,
) -> (std::process::Child, std::process::ChildStdout) {
    run_child_with(dir, crash, looping, true)
}

fn run_child_with(
    dir: &Path,
    crash: Option<&str>,
    looping: bool,
    maintenance: bool,
) -> (std::process::Child, std::process::ChildStdout) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    if maintenance {
        cmd.env_remove(NO_MAINT_ENV);
    } else {
        cmd.env(NO_MAINT_ENV, "1");
    }
    cmd.args([
        "--exact",
        "scripted_writer",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(DIR_ENV, dir)
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    match crash {
        Some(c) => cmd.env(CRASH_ENV, c),
        None => cmd.env_remove(CRASH_ENV),
    };
    if looping {
        cmd.env(LOOP_ENV, "1");
    } else {
        cmd.env_remove(LOOP_ENV);
    }
    let mut child = cmd.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    (child, out)
}

fn committed_lines(out: std::process::ChildStdout) -> u64 {
    BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| {
            let at = l.find("COMMITTED ")?;
            l[at + 10..].trim().parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Reopens after a crash and checks: the state is batch `k` or `k + 1` (the one in flight),
/// verify passes, and a new writer resumes to the end.
/// Every file of `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<std::ffi::OsString, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

fn check_after_crash(dir: &Path, k: u64, step: &str) -> u64 {
    // A reader sees the recovered state without recovering the directory: it never takes LOCK, never seals
    // meta.sum, never writes (index-format.md, "Concurrency").
    let before = snapshot(dir);
    let got = observed(dir);
    assert!(
        snapshot(dir) == before,
        "crash at {step}: a read-only open changed the index directory"
    );
    let n = if got == model(k) {
        k
    } else if got == model(k + 1) {
        k + 1
    } else {
        panic!("after crash at {step} with {k} batches reported committed, state matches neither {k} nor {}: {got:?}", k + 1);
    };
    // The writer recovers (truncates uncommitted rows, collects garbage); verify is then clean.
    let ix = Index::open(dir, write_opts(DIM as u32)).unwrap();
    drop(ix.writer().unwrap());
    let report = avx_index::verify(dir);
    assert!(report.is_ok(), "crash at {step}: {report:?}");
    assert!(
        report.notes.is_empty(),
        "crash at {step}: leftovers {:?}",
        report.notes
    );
    // Resume: run the child again without a crash; it continues from the reopened state.
    let (mut child, out) = run_child(dir, None, false);
    let _ = committed_lines(out);
    assert!(
        child.wait().unwrap().success(),
        "resume after crash at {step} failed"
    );
    assert_eq!(
        observed(dir),
        model(BATCHES),
        "after resuming from crash at {step}"
    );
    assert!(avx_index::verify(dir).is_ok());
    n
}

const STEPS: &[(&str, bool)] = &[
    // (crash point, whether the batch in flight is committed when the crash hits)
    ("rows-partial", false),
    ("rows-written", false),
    ("rows-synced", false),
    ("sidecar-marked", false),
    ("txn-staged", false),
    ("redb-committed", true),
    ("db-closed", true),
    ("sealed", true),
];

#[test]
fn crash_at_every_commit_step() {
    for &(step, committed) in STEPS {
        for hit in [1u64, 3, 5] {
            let tmp = tempfile::tempdir().unwrap();
            let spec = format!("{step}:{hit}");
            // Without automatic maintenance, the h-th hit of a step is in the h-th data commit
            // (or in the explicit compaction after batch 4, which changes no visible file).
            let (mut child, out) = run_child_with(tmp.path(), Some(&spec), false, false);
            let k = committed_lines(out);
            let status = child.wait().unwrap();
            assert!(!status.success(), "child did not crash at {spec}");
            let n = check_after_crash(tmp.path(), k, &spec);
            eprintln!("crash at {spec}: {k} reported, {n} found");
            // The h-th hit of a step is in batch h - 1's commit, except that the 5th transaction is the
            // compaction after batch 4 (rows steps are not part of it, so their 5th hit is batch 4's), and
            // rows-partial is hit twice per commit (file rows, then window rows).
            let batch = if step == "rows-partial" {
                (hit - 1) / 2
            } else {
                hit - 1
            };
            assert_eq!(k, batch, "{spec}: reported commits before the crash");
            let in_compaction = hit == 5 && !step.starts_with("rows");
            let expected = if committed && !in_compaction {
                k + 1
            } else {
                k
            };
            assert_eq!(
                n, expected,
                "{spec}: {k} reported, {n} found, {expected} expected"
            );
        }
    }
}

#[test]
fn crash_during_compaction_and_graph_build() {
    // (crash point, batches reported committed before the crash, batches found after it). The child's run is
    // deterministic, so both are exact:
    // - the explicit compaction after batch 4's line changes no visible state: 4 reported, 4 found;
    // - the graph is built by the automatic maintenance inside batch 1's `commit()`, after the batch is durable
    //   and before its line is printed: 0 reported, 1 found;
    // - the 6th redb transaction is batch 3's data commit: a crash after it finds batch 3 (line not printed),
    //   a crash before it (sidecar marked) does not;
    // - the 7th is the maintenance inside batch 3's `commit()`, after batch 3 is durable: 3 found.
    for (step, reported, found) in [
        ("compact-written", 4, 4),
        ("compact-committed", 4, 4),
        ("compact-cleaned", 4, 4),
        ("graph-written", 0, 1),
        ("graph-committed", 0, 1),
        ("redb-committed:6", 2, 3),
        ("sidecar-marked:6", 2, 2),
        ("redb-committed:7", 2, 3),
        ("txn-staged:7", 2, 3),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let (mut child, out) = run_child(tmp.path(), Some(step), false);
        let k = committed_lines(out);
        assert!(
            !child.wait().unwrap().success(),
            "child did not crash at {step}"
        );
        assert_eq!(k, reported, "{step}: batches reported before the crash");
        let n = check_after_crash(tmp.path(), k, step);
        eprintln!("crash at {step}: {k} reported, {n} found");
        assert_eq!(
            n, found,
            "{step}: {k} reported, {n} found, {found} expected"
        );
    }
}

#[cfg(unix)]
#[test]
fn sigkill_at_random_moments() {
    let seed = std::env::var("AVX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20240601u64);
    eprintln!("sigkill seed {seed}");
    let mut rng = Rng(seed);
    for round in 0..6 {
        let tmp = tempfile::tempdir().unwrap();
        let (mut child, out) = run_child(tmp.path(), None, true);
        let reader = std::thread::spawn(move || committed_lines(out));
        std::thread::sleep(std::time::Duration::from_millis(100 + rng.below(600)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let k = reader.join().unwrap();
        let n = observed_batches(tmp.path());
        assert!(
            n == k || n == k + 1,
            "round {round}: reported {k}, found {n}"
        );
        // Loop batches past BATCHES follow the same ops, so the model applies.
        assert_eq!(observed(tmp.path()), model(n), "round {round}");
        let ix = Index::open(tmp.path(), write_opts(DIM as u32)).unwrap();
        let mut w = ix.writer().unwrap();
        apply(&mut w, n);
        w.commit().unwrap();
        drop(w);
        assert_eq!(observed(tmp.path()), model(n + 1), "round {round}: resume");
        let r = avx_index::verify(tmp.path());
        assert!(r.is_ok(), "round {round}: {r:?}");
        eprintln!("round {round}: killed after {k} reported commits, found {n}");
    }
}
