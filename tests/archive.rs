//! End-to-end tests of `avx recurring` and `avx timeline` (issue 17) on a committed programme with planted
//! motifs (`tests/data/programme/programme.mp3`, made by `tests/data/make_programme.sh`; its layout is in
//! `programme.txt`), indexed with the committed aiSFX model (`models/aisfx`).

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `(start, length, what)` of each planted part, from `programme.txt`.
fn layout() -> Vec<(f64, f64, String)> {
    let text = std::fs::read_to_string(repo().join("tests/data/programme/programme.txt"))
        .expect("tests/data/programme/programme.txt is missing: run tests/data/make_programme.sh");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].to_string(),
            )
        })
        .collect()
}

/// avx with the aiSFX model and an index in `dir` ([`util::avx_aisfx`]).
fn avx(dir: &Path, args: &[&str], code: i32) -> String {
    util::avx_aisfx(dir, args, code)
}

/// Runs avx as [`avx`] does, asserts exit code 2 (an error), returns stderr.
fn avx_error(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_avx"))
        .env("AVX_INDEX", dir.join("index"))
        .env("AVX_MODEL_DIR", repo().join("models/aisfx"))
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "avx {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

/// Checks that `out` (`avx --json recurring`) holds exactly the planted parts `whats`, each at its three planted
/// offsets (start and end within 0.5 s), one motif each; returns each one's motif id.
fn planted_motifs(
    out: &[Value],
    planted: &[(f64, f64, String)],
    prog_s: &str,
    method: &str,
    whats: &[&'static str],
) -> std::collections::HashMap<&'static str, u64> {
    let motifs: Vec<&Value> = out.iter().filter(|v| v["type"] == "motif").collect();
    assert_eq!(motifs.len(), whats.len(), "{method}: {out:#?}");
    let mut motif_of = std::collections::HashMap::new();
    for &what in whats {
        let truth: Vec<&(f64, f64, String)> = planted.iter().filter(|p| p.2 == what).collect();
        let occ: Vec<&Value> = out
            .iter()
            .filter(|v| {
                v["type"] == "occurrence"
                    && truth.iter().any(|t| (f(&v["start"]) - t.0).abs() <= 0.5)
            })
            .collect();
        assert_eq!(occ.len(), truth.len(), "{method} {what}: {out:#?}");
        let id = occ[0]["motif"].as_u64().unwrap();
        for (o, t) in occ.iter().zip(&truth) {
            assert_eq!(
                o["motif"], id,
                "{method} {what}: one motif for all: {out:#?}"
            );
            assert_eq!(o["path"], prog_s);
            assert!(
                (f(&o["start"]) - t.0).abs() <= 0.5,
                "{method} {what} at {t:?}: {o}"
            );
            assert!(
                (f(&o["end"]) - (t.0 + t.1)).abs() <= 0.5,
                "{method} {what} at {t:?}: {o}"
            );
        }
        motif_of.insert(what, id);
    }
    assert_eq!(
        out.iter().filter(|v| v["type"] == "occurrence").count(),
        3 * whats.len(),
        "{method}: {out:#?}"
    );
    motif_of
}

#[test]
fn recurring_and_timeline_find_the_planted_motifs() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let prog = lib.join("programme.mp3");
    std::fs::copy(repo().join("tests/data/programme/programme.mp3"), &prog)
        .expect("tests/data/programme/programme.mp3 is missing: run tests/data/make_programme.sh");
    let prog_s = prog.to_str().unwrap();
    avx(
        dir.path(),
        &["--quiet", "index", lib.to_str().unwrap(), "--hop", "0.58"],
        0,
    );
    let planted = layout();

    // recurring, by landmarks alone, by windows alone, and both joined (the default): each planted part at its
    // three planted offsets (start and end within 0.5 s). Landmarks alone find the jingle, not the ident (its
    // landmarks agree at a share of 0.042, below avx_core::recurring::MIN_SHARE).
    for (method, whats) in [
        ("landmarks", &["jingle"][..]),
        ("windows", &["jingle", "ident"][..]),
    ] {
        let out = util::json_lines(&avx(
            dir.path(),
            &["--json", "recurring", "--method", method],
            0,
        ));
        planted_motifs(&out, &planted, prog_s, method, whats);
    }
    let out = util::json_lines(&avx(dir.path(), &["--json", "recurring"], 0));
    let motif_of = planted_motifs(&out, &planted, prog_s, "both", &["jingle", "ident"]);

    // timeline: each planted part is a segment (motif or silence) with boundaries within 0.5 s.
    let out = util::json_lines(&avx(dir.path(), &["--json", "timeline", prog_s], 0));
    assert!(out.iter().all(|v| v["type"] == "segment"), "{out:#?}");
    for w in out.windows(2) {
        assert!(
            (f(&w[0]["end"]) - f(&w[1]["start"])).abs() < 1e-6,
            "contiguous: {out:#?}"
        );
    }
    assert_eq!(f(&out[0]["start"]), 0.0);
    assert!(
        (f(&out[out.len() - 1]["end"]) - 61.0).abs() < 0.2,
        "{out:#?}"
    );
    for (start, len, what) in &planted {
        let seg = out
            .iter()
            .find(|s| (f(&s["start"]) - start).abs() <= 0.5)
            .unwrap_or_else(|| panic!("no segment starts near {start} ({what}): {out:#?}"));
        assert!(
            (f(&seg["end"]) - (start + len)).abs() <= 0.5,
            "{what}: {seg}"
        );
        match what.as_str() {
            "silence" => assert_eq!(seg["kind"], "silence", "{seg}"),
            m => {
                assert_eq!(seg["kind"], "motif", "{seg}");
                assert_eq!(seg["motif"].as_u64(), Some(motif_of[m]), "{seg}");
            }
        }
    }

    // The other formats: an Audacity label track and CSV.
    let labels = avx(
        dir.path(),
        &["recurring", "--file", prog_s, "--format", "audacity"],
        0,
    );
    assert_eq!(labels.lines().count(), 6, "{labels}");
    for l in labels.lines() {
        let cols: Vec<&str> = l.split('\t').collect();
        assert_eq!(cols.len(), 3, "{l}");
        assert!(cols[0].parse::<f64>().unwrap() < cols[1].parse::<f64>().unwrap());
        assert!(cols[2].starts_with("motif "), "{l}");
    }
    let csv = avx(dir.path(), &["timeline", prog_s, "--format", "csv"], 0);
    assert!(csv.starts_with("path,start,end,kind,motif,"), "{csv}");
    assert_eq!(csv.lines().count(), out.len() + 1, "{csv}");

    // timeline --motifs: the motifs saved by `avx --json recurring` give the same segments without discovering
    // them again.
    let saved = dir.path().join("rec.jsonl");
    std::fs::write(&saved, avx(dir.path(), &["--json", "recurring"], 0)).unwrap();
    let again = util::json_lines(&avx(
        dir.path(),
        &[
            "--json",
            "timeline",
            prog_s,
            "--motifs",
            saved.to_str().unwrap(),
        ],
        0,
    ));
    assert_eq!(again, out);
    // A file that is not recurring's output is an error naming it.
    std::fs::write(&saved, "motif 1: 3 occurrences\n").unwrap();
    let err = avx_error(
        dir.path(),
        &["timeline", prog_s, "--motifs", saved.to_str().unwrap()],
    );
    assert!(
        err.contains("rec.jsonl: line 1") && err.contains("avx --json recurring"),
        "{err}"
    );
}

#[test]
fn timeline_of_a_file_not_indexed_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::copy(
        repo().join("tests/data/audio/mono48k_s16_3s.wav"),
        lib.join("a.wav"),
    )
    .unwrap();
    avx(dir.path(), &["--quiet", "index", lib.to_str().unwrap()], 0);
    let other = repo().join("tests/data/audio/mono22k_5s.flac");
    let err = avx_error(dir.path(), &["timeline", other.to_str().unwrap()]);
    assert!(
        err.contains("mono22k_5s.flac") && err.contains("avx index"),
        "{err}"
    );
    // Nothing recurs in one short file: exit code 1.
    avx(dir.path(), &["recurring"], 1);
}

/// CSV keeps a file name that is not UTF-8 exactly: the raw bytes in the path field, quoted for the comma.
#[cfg(unix)]
#[test]
fn csv_writes_a_non_utf8_path_as_its_raw_bytes() {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let prog = lib.join(std::ffi::OsString::from_vec(b"prog,\xff.mp3".to_vec()));
    std::fs::copy(repo().join("tests/data/programme/programme.mp3"), &prog)
        .expect("tests/data/programme/programme.mp3 is missing: run tests/data/make_programme.sh");
    let prog = prog.canonicalize().unwrap();
    avx(
        dir.path(),
        &["--quiet", "index", lib.to_str().unwrap(), "--hop", "0.58"],
        0,
    );
    let mut field = b"\"".to_vec();
    field.extend_from_slice(prog.as_os_str().as_bytes());
    field.extend_from_slice(b"\",");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_avx"))
            .env("AVX_INDEX", dir.path().join("index"))
            .env("AVX_MODEL_DIR", repo().join("models/aisfx"))
            .env_remove("AVX_MODEL")
            .args(["--threads", "2"])
            .args(args)
            .output()
            .expect("avx runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    fn csv(s: &str) -> &std::ffi::OsStr {
        std::ffi::OsStr::new(s)
    }
    let timeline = run(&[
        csv("timeline"),
        prog.as_os_str(),
        csv("--format"),
        csv("csv"),
    ]);
    let rows: Vec<&[u8]> = timeline
        .split(|b| *b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|l| l.starts_with(&field)),
        "{}",
        String::from_utf8_lossy(&timeline)
    );
    let recurring = run(&[csv("recurring"), csv("--format"), csv("csv")]);
    let rows: Vec<&[u8]> = recurring
        .split(|b| *b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(rows.len(), 6, "{}", String::from_utf8_lossy(&recurring));
    for l in rows {
        // motif,path,...: the path field follows the motif number.
        let comma = l.iter().position(|b| *b == b',').unwrap();
        assert!(
            l[comma + 1..].starts_with(&field),
            "{}",
            String::from_utf8_lossy(l)
        );
    }
}
