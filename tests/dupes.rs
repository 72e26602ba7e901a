//! Issue 16: `avx dupes` finds edited copies and leaves look-alikes apart, on the committed set
//! `tests/data/dupes/` (five synthetic originals, ten edited copies of each, a "second take" of each; made by
//! `tests/data/make_dupes.sh`), indexed with the committed aiSFX model (`models/aisfx`).

mod util;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// avx with the aiSFX model and an index in `dir` ([`util::avx_aisfx`]).
fn avx(dir: &Path, args: &[&str], code: i32) -> String {
    util::avx_aisfx(dir, args, code)
}

/// The original a file of the set is a copy of (`kick` for `edited/kick__mp3_64k.mp3`), or `None` for a
/// look-alike.
fn source(path: &str) -> Option<String> {
    let name = Path::new(path).file_name()?.to_str()?;
    if path.contains("/lookalike/") {
        return None;
    }
    Some(
        name.split("__")
            .next()?
            .trim_end_matches(".wav")
            .to_string(),
    )
}

/// The edit of a file (`mp3_64k`), `original` for an original, `lookalike` for a look-alike.
fn edit(path: &str) -> String {
    let name = Path::new(path).file_stem().unwrap().to_str().unwrap();
    if path.contains("/lookalike/") {
        "lookalike".into()
    } else {
        name.split("__").nth(1).unwrap_or("original").to_string()
    }
}

#[test]
fn issue_16_edited_copies_are_found_and_look_alikes_are_not() {
    let set = repo().join("tests/data/dupes");
    assert!(
        set.join("orig/kick.wav").exists(),
        "tests/data/dupes is missing: run tests/data/make_dupes.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    avx(dir.path(), &["--quiet", "index", set.to_str().unwrap()], 0);
    let out = util::json_lines(&avx(dir.path(), &["--json", "dupes"], 0));
    let groups: Vec<&Value> = out.iter().filter(|v| v["type"] == "group").collect();

    let mut pairs = HashSet::new();
    for g in &groups {
        let m: Vec<&str> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["path"].as_str().unwrap())
            .collect();
        for i in 0..m.len() {
            for j in i + 1..m.len() {
                pairs.insert((m[i].min(m[j]).to_string(), m[i].max(m[j]).to_string()));
            }
        }
        // Every member but the leader says why: the print score, the cosine, and the matching spans.
        for m in &g["members"].as_array().unwrap()[1..] {
            assert_eq!(m["basis"], "print", "{m}");
            assert!(
                m["cosine"].is_f64() && m["start"].is_f64() && m["leader_end"].is_f64(),
                "{m}"
            );
        }
    }
    // Precision: no pair joins two different originals' copies, and no look-alike is grouped (one was, kick_take2,
    // before the speckle view; its print score against the original and its copies is now at most 0.74).
    let wrong: Vec<_> = pairs
        .iter()
        .filter(|(a, b)| source(a).is_some() && source(b).is_some() && source(a) != source(b))
        .collect();
    assert!(wrong.is_empty(), "false pairs: {wrong:#?}");
    let grouped_lookalikes: HashSet<&String> = pairs
        .iter()
        .flat_map(|(a, b)| [a, b])
        .filter(|p| source(p).is_none())
        .collect();
    assert!(
        grouped_lookalikes.is_empty(),
        "look-alikes grouped with copies: {grouped_lookalikes:?}"
    );

    // Recall: every edited copy is grouped with its original.
    let mut missed = Vec::new();
    let mut copies = 0;
    for e in std::fs::read_dir(set.join("edited")).unwrap() {
        let p = e.unwrap().path();
        let p = p.canonicalize().unwrap();
        let ps = p.to_str().unwrap().to_string();
        let src = source(&ps).unwrap();
        let orig = set
            .join("orig")
            .join(format!("{src}.wav"))
            .canonicalize()
            .unwrap();
        let os = orig.to_str().unwrap().to_string();
        copies += 1;
        if !pairs.contains(&(os.clone().min(ps.clone()), os.max(ps.clone()))) {
            missed.push(format!("{src} {}", edit(&ps)));
        }
    }
    assert_eq!(copies, 50);
    // Re-encodes, rate round trips, gain, low-pass, noise at 30 dB, the 5 % stretch, the 10 % trims and the fades:
    // every copy (the trims and fades of the kick, the door and the snare since sound prints version 6, whose wave
    // view lifts them). All edits: at least 48 of 50; the misses may only be pitch shifts by a semitone (49 with
    // version 6: the kick's; 45 with version 2 at 0.95; the margins of the door's and the snare's are thin, 0.90 to
    // 0.92, so the test allows one more; eval/README.md).
    let strict: Vec<&String> = missed
        .iter()
        .filter(|m| {
            [
                "mp3_64k",
                "rt_16k",
                "gain_-12dB",
                "lowpass_8k",
                "noise_30dB",
                "stretch_5pct",
                "trim_10pct",
                "fade",
            ]
            .iter()
            .any(|e| m.ends_with(e))
        })
        .collect();
    assert!(
        strict.is_empty(),
        "re-encoded or level-changed copies not found: {strict:?}"
    );
    assert!(
        missed.len() <= 2 && missed.iter().all(|m| m.ends_with("pitch_+1st")),
        "{} of 50 edited copies not found: {missed:?}",
        missed.len()
    );
}

#[test]
fn an_older_print_log_is_printed_again_by_avx_index_without_re_embedding() {
    let orig = repo().join("tests/data/dupes/orig");
    let files = tempfile::tempdir().unwrap();
    for name in ["kick.wav", "door.wav"] {
        std::fs::copy(orig.join(name), files.path().join(name)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let at = files.path().to_str().unwrap();
    avx(dir.path(), &["--quiet", "index", at], 0);
    let log = dir.path().join("index/prints.avp");
    let fresh = std::fs::read(&log).unwrap();
    let version = avx_core::prints::VERSION;
    assert_eq!(fresh[8..12], version.to_le_bytes());
    for old in 1..version {
        // A log written by an older avx: its prints are not comparable, so it reads as empty...
        let mut bytes = fresh.clone();
        bytes[8..12].copy_from_slice(&old.to_le_bytes());
        std::fs::write(&log, &bytes).unwrap();
        let out = util::json_lines(&avx(dir.path(), &["--json", "index", at], 0));
        let summary = out.iter().find(|v| v["type"] == "summary").unwrap();
        // ... and the next `avx index` prints both files again without embedding them.
        assert_eq!(
            (&summary["unchanged"], &summary["windows"]),
            (&Value::from(2), &Value::from(0)),
            "{summary}"
        );
        let now = std::fs::read(&log).unwrap();
        assert_eq!(now[8..12], version.to_le_bytes(), "version {old}");
        assert_eq!(now.len(), fresh.len(), "version {old}: both prints again");
    }
}
