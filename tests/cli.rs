//! End-to-end tests of the `avx` binary in temporary directories, with generated audio and the committed tiny
//! random-weight CLAP model (`tests/fixtures/tiny-clap`).
//!
//! Random weights make rankings meaningless in general, but identical and near-identical audio still gives
//! identical and near-identical vectors, which is what these tests rely on (planted sounds are exact copies).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

#[path = "mutate.rs"]
mod mutate;
mod util;

use mutate::wav_bytes;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A temporary library, index and avx home.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib")).unwrap();
        Env { dir }
    }

    fn lib(&self) -> PathBuf {
        self.dir.path().join("lib")
    }

    fn index(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_avx"));
        c.env("AVX_INDEX", self.index())
            .env("AVX_MODEL_DIR", repo().join("tests/fixtures/tiny-clap"))
            .env("AVX_HOME_TEST_MARKER", "1")
            .env_remove("AVX_MODEL")
            .current_dir(self.dir.path());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("avx runs")
    }

    /// Runs and asserts the exit code, returning stdout.
    fn ok(&self, args: &[&str], code: i32) -> String {
        util::stdout_with_code(self.run(args), args, code)
    }

    fn json(&self, args: &[&str], code: i32) -> Vec<Value> {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        util::json_lines(&self.ok(&a, code))
    }

    fn summary(&self, args: &[&str], code: i32) -> Value {
        let lines = self.json(args, code);
        lines
            .into_iter()
            .find(|v| v["type"] == "summary")
            .expect("a summary line")
    }
}

/// A deterministic test signal: a sum of sines plus seeded noise, with a decay envelope.
fn signal(seed: u64, seconds: f64, rate: u32) -> Vec<f32> {
    let n = (seconds * rate as f64) as usize;
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let f1 = 80.0 + (seed % 17) as f32 * 97.0;
    let f2 = 300.0 + (seed % 11) as f32 * 411.0;
    let noise_amp = 0.05 + (seed % 5) as f32 * 0.08;
    (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
            let t = i as f32 / rate as f32;
            let env = (-t * (1.0 + (seed % 3) as f32)).exp() * 0.7 + 0.3;
            env * (0.4 * (2.0 * std::f32::consts::PI * f1 * t).sin()
                + 0.2 * (2.0 * std::f32::consts::PI * f2 * t).sin()
                + noise_amp * noise)
        })
        .collect()
}

/// Writes 16-bit PCM mono WAV.
fn write_wav(path: &Path, samples: &[f32], rate: u32) {
    let data: Vec<u8> = samples
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect();
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, wav_bytes(1, 16, rate, &data)).unwrap();
}

/// Polls `avx info` until a reader sees the first committed file (or two minutes pass).
fn wait_for_first_commit(env: &Env) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let out = env.run(&["--json", "info"]);
        let files = serde_json::from_slice::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v["files"].as_u64());
        if files.is_some_and(|n| n > 0) || std::time::Instant::now() > deadline {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn make_library(env: &Env, n: u64) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = env.lib().join(format!("sound_{i:02}.wav"));
            write_wav(&p, &signal(i + 1, 1.0 + (i % 3) as f64, 48_000), 48_000);
            p
        })
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn version_and_help() {
    let env = Env::new();
    assert!(env.ok(&["--version"], 0).starts_with("avx "));
    let help = env.ok(&["--help"], 0);
    for c in [
        "index", "similar", "search", "dupes", "cluster", "tag", "export", "verify", "model",
    ] {
        assert!(help.contains(c), "help lists {c}");
    }
}

#[test]
fn every_command_and_output_format() {
    let env = Env::new();
    let files = make_library(&env, 6);
    let sum = env.summary(&["index", s(&env.lib())], 0);
    assert_eq!(sum["new"], 6);
    assert_eq!(sum["failed"], 0);

    // similar: the query file is left out of its own results; all formats.
    let hits = env.json(&["similar", s(&files[0]), "-k", "3"], 0);
    assert_eq!(hits.len(), 3);
    assert!(hits
        .iter()
        .all(|h| h["type"] == "hit" && h["path"] != s(&files[0].canonicalize().unwrap())));
    assert_eq!(hits[0]["rank"], 1);
    let table = env.ok(&["similar", s(&files[0]), "-k", "2"], 0);
    assert!(table.lines().next().unwrap().contains("score"), "{table}");
    let paths = env.ok(
        &["similar", s(&files[0]), "-k", "2", "--format", "paths"],
        0,
    );
    assert_eq!(paths.lines().count(), 2);
    assert!(paths.lines().all(|l| Path::new(l).is_file()));
    let m3u = env.ok(&["similar", s(&files[0]), "-k", "2", "--format", "m3u"], 0);
    assert!(m3u.starts_with("#EXTM3U") && m3u.contains("#EXTINF:"));
    let exact = env.json(&["similar", s(&files[0]), "-k", "5", "--exact"], 0);
    assert_eq!(exact.len(), 5);
    // Nothing under an empty directory: exit code 1.
    std::fs::create_dir_all(env.dir.path().join("empty")).unwrap();
    env.ok(
        &[
            "similar",
            s(&files[0]),
            "--in",
            s(&env.dir.path().join("empty")),
        ],
        1,
    );

    // search, tag (text tower)
    let hits = env.json(&["search", "a dog barking", "-k", "2"], 0);
    assert_eq!(hits.len(), 2);
    let tags = env.json(
        &[
            "tag",
            s(&files[1]),
            "--labels",
            "kick,snare,rain",
            "--top",
            "2",
        ],
        0,
    );
    assert_eq!(tags[0]["tags"].as_array().unwrap().len(), 2);

    // cluster: every file in exactly one cluster, deterministic for a seed.
    let c1 = env.json(&["cluster", "-k", "2", "--seed", "7"], 0);
    let c2 = env.json(&["cluster", "-k", "2", "--seed", "7"], 0);
    assert_eq!(c1, c2);
    let members: usize = c1
        .iter()
        .map(|c| c["members"].as_array().unwrap().len())
        .sum();
    assert_eq!(members, 6);
    let labelled = env.json(&["cluster", "-k", "2", "--label"], 0);
    assert_eq!(labelled[0]["labels"].as_array().unwrap().len(), 3);

    // info, verify
    let info = env.json(&["info"], 0);
    assert_eq!(info[0]["files"], 6);
    // The sound prints `avx index` wrote beside the index are the index's own, not a stray file.
    let verified = env.ok(&["verify"], 0);
    assert!(
        env.dir.path().join("index/prints.avp").exists()
            && !verified.contains("not part of the last commit"),
        "{verified}"
    );

    // export: three formats
    let out = env.dir.path().join("out");
    env.ok(
        &[
            "export",
            "--format",
            "audiovector",
            s(&out.join("av")),
            "--segments",
        ],
        0,
    );
    let one: Value =
        serde_json::from_slice(&std::fs::read(out.join("av/sound_00.wav.json")).unwrap()).unwrap();
    assert_eq!(one["filename"], "sound_00.wav");
    assert_eq!(one["embedding"].as_array().unwrap().len(), 512);
    assert_eq!(one["dim"], 512);
    assert!(one["duration"].as_f64().unwrap() > 0.9);
    assert!(!one["windows"].as_array().unwrap().is_empty());
    env.ok(&["export", "--format", "jsonl", s(&out.join("j"))], 0);
    assert_eq!(
        std::fs::read_to_string(out.join("j/embeddings.jsonl"))
            .unwrap()
            .lines()
            .count(),
        6
    );
    env.ok(&["export", "--format", "npy", s(&out.join("n"))], 0);
    let (shape, _) =
        avx_embed::npy::read_npy_f32(std::fs::File::open(out.join("n/vectors.npy")).unwrap())
            .unwrap();
    assert_eq!(shape, vec![6, 512]);
    let ids: Value =
        serde_json::from_slice(&std::fs::read(out.join("n/ids.json")).unwrap()).unwrap();
    assert_eq!(ids["ids"].as_array().unwrap().len(), 6);

    // embed (file, segments, text), debug mel
    let e = env.json(&["embed", s(&files[2]), "--segments"], 0);
    assert_eq!(e[0]["vector"].as_array().unwrap().len(), 512);
    assert_eq!(e[0]["windows"].as_array().unwrap().len(), 1);
    let t = env.json(&["embed", "--text", "rain on a tin roof"], 0);
    assert_eq!(t[0]["vector"].as_array().unwrap().len(), 512);
    // Several files go through the pipeline and come back in the order given (a repeated file twice, the same
    // vector both times); a missing one is a failure on stderr and exit code 2, the rest are still printed.
    let order = [&files[4], &files[0], &files[3], &files[0], &files[1]];
    let mut args: Vec<&str> = vec!["embed"];
    args.extend(order.iter().map(|f| s(f)));
    let many = env.json(&args, 0);
    let names: Vec<String> = many
        .iter()
        .map(|v| {
            v["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    let want: Vec<String> = order
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, want);
    assert_eq!(many[1]["vector"], many[3]["vector"]);
    assert_eq!(many[0]["vector"], e_first_of(&env, &files[4]));
    let missing = env.dir.path().join("no such file.wav");
    let out = env.run(&["embed", s(&files[1]), s(&missing), s(&files[2])]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file.wav"));
    let npy = env.dir.path().join("mel.npy");
    let times = env.ok(&["debug", "mel", s(&files[2]), "--out", s(&npy)], 0);
    assert_eq!(times.lines().count(), 1);
    let (shape, _) = avx_embed::npy::read_npy_f32(std::fs::File::open(&npy).unwrap()).unwrap();
    assert_eq!(shape, vec![1, 1001, 64]);

    // model list, completions, man
    assert!(env.ok(&["model", "list"], 0).contains("clap-htsat-unfused"));
    assert!(env.ok(&["completions", "bash"], 0).contains("avx"));
    assert!(env.ok(&["man"], 0).contains(".TH"));
}

#[test]
fn incremental_reindex_adds_modifies_deletes_and_relinks() {
    let env = Env::new();
    let files = make_library(&env, 5);
    env.summary(&["index", s(&env.lib())], 0);
    // unchanged
    let sum = env.summary(&["index", s(&env.lib())], 0);
    assert_eq!(
        (sum["new"].as_u64(), sum["unchanged"].as_u64()),
        (Some(0), Some(5)),
        "{sum}"
    );
    // add one, modify one, delete one, rename one
    write_wav(
        &env.lib().join("added.wav"),
        &signal(99, 1.5, 48_000),
        48_000,
    );
    write_wav(&files[1], &signal(77, 2.5, 48_000), 48_000);
    std::fs::remove_file(&files[2]).unwrap();
    let renamed = env.lib().join("sub/renamed.wav");
    std::fs::create_dir_all(renamed.parent().unwrap()).unwrap();
    std::fs::rename(&files[3], &renamed).unwrap();
    let sum = env.summary(&["index", s(&env.lib())], 0);
    assert_eq!(sum["new"], 1, "{sum}");
    assert_eq!(sum["changed"], 1, "{sum}");
    assert_eq!(sum["removed"], 1, "{sum}");
    assert_eq!(sum["moved"], 1, "{sum}");
    assert_eq!(sum["unchanged"], 2, "{sum}");
    let info = env.json(&["info"], 0);
    assert_eq!(info[0]["files"], 5);
    // The renamed file is found under its new path, with its old vector: it is its own best match.
    let hits = env.json(&["similar", s(&renamed), "-k", "5"], 0);
    let paths: Vec<&str> = hits.iter().map(|h| h["path"].as_str().unwrap()).collect();
    assert!(
        !paths.contains(&s(&files[2])),
        "deleted file still returned: {paths:?}"
    );
    env.ok(&["verify"], 0);
}

#[test]
fn bad_files_are_reported_and_good_ones_stay_searchable() {
    let env = Env::new();
    let files = make_library(&env, 3);
    std::fs::write(
        env.lib().join("notes.wav"),
        b"this is a text file, not audio",
    )
    .unwrap();
    let mut junk = vec![0u8; 4096];
    let mut x = 12345u32;
    for b in junk.iter_mut() {
        x = x.wrapping_mul(1103515245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    std::fs::write(env.lib().join("random.flac"), &junk).unwrap();
    std::fs::copy(
        repo().join("tests/data/audio/stereo44k_1s.wma"),
        env.lib().join("voice.wma"),
    )
    .unwrap();
    let lines = env.json(&["index", s(&env.lib())], 2);
    let failures: Vec<&Value> = lines.iter().filter(|l| l["type"] == "failure").collect();
    assert_eq!(failures.len(), 3, "{lines:?}");
    assert!(failures
        .iter()
        .any(|f| f["path"].as_str().unwrap().ends_with("voice.wma")
            && f["error"].as_str().unwrap().contains("unsupported")));
    let summary = lines.iter().find(|l| l["type"] == "summary").unwrap();
    // The three good files are new; the three bad ones count as failed only.
    assert_eq!(
        (summary["new"].as_u64(), summary["failed"].as_u64()),
        (Some(3), Some(3)),
        "{summary}"
    );
    assert_eq!(env.json(&["similar", s(&files[0]), "-k", "5"], 0).len(), 2);
    // A second run skips the recorded failures unless asked.
    let sum = env.summary(&["index", s(&env.lib())], 0);
    assert_eq!(sum["skipped_failed"], 3, "{sum}");
    let sum = env.summary(&["index", s(&env.lib()), "--retry-failed"], 2);
    assert_eq!(sum["failed"], 3, "{sum}");
}

/// Opus files are indexed like any other (Ogg, WebM), and found by their own sound; a WebM cut short, on which
/// symphonia's Matroska reader panics, is that file's failure, with no panic message on stderr.
#[test]
fn opus_is_indexed_and_a_webm_cut_short_fails_quietly() {
    let env = Env::new();
    make_library(&env, 2);
    let audio = repo().join("tests/data/audio");
    std::fs::copy(
        audio.join("stereo48k_4s.opus"),
        env.lib().join("voice.opus"),
    )
    .unwrap();
    std::fs::copy(audio.join("stereo48k_1s.webm"), env.lib().join("clip.webm")).unwrap();
    let webm = std::fs::read(audio.join("stereo48k_1s.webm")).unwrap();
    std::fs::write(env.lib().join("cut.webm"), &webm[..webm.len() / 2]).unwrap();
    let out = env.run(&["--json", "index", s(&env.lib())]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // The file's error says the reader panicked; the panic's own message and backtrace are not printed.
    assert!(
        !stderr.contains("panicked at") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    let lines = util::json_lines(&String::from_utf8_lossy(&out.stdout));
    let failures: Vec<&Value> = lines.iter().filter(|l| l["type"] == "failure").collect();
    assert_eq!(failures.len(), 1, "{lines:?}");
    assert!(failures[0]["path"].as_str().unwrap().ends_with("cut.webm"));
    assert!(
        failures[0]["error"].as_str().unwrap().contains("cut.webm"),
        "{failures:?}"
    );
    let summary = lines.iter().find(|l| l["type"] == "summary").unwrap();
    assert_eq!(summary["new"], 4, "{summary}");
    // The WebM holds the first second of the Ogg file's content: its nearest sound (itself aside).
    let hits = env.json(&["similar", s(&env.lib().join("clip.webm")), "-k", "1"], 0);
    assert!(
        hits[0]["path"].as_str().unwrap().ends_with("voice.opus"),
        "{hits:?}"
    );
}

/// Issue 12, section 6: 32-bit float WAVs holding NaN, infinity and values near `f32::MAX` (which overflow to
/// infinity in a spectrogram), and a WAV cut after its header, mixed into a library: each is that file's failure,
/// listed and recorded; the good files are indexed; a later run goes on past them.
#[test]
fn damaged_float_wavs_and_a_truncated_wav_fail_alone() {
    let env = Env::new();
    let files = make_library(&env, 3);
    let good = signal(9, 1.0, 48_000);
    let floats = |bad: f32| -> Vec<u8> {
        let mut v = good.clone();
        for x in v.iter_mut().skip(1000).step_by(977) {
            *x = bad;
        }
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    };
    for (name, bad) in [
        ("nan.wav", f32::NAN),
        ("inf.wav", f32::INFINITY),
        ("huge.wav", 2.5e38),
    ] {
        std::fs::write(env.lib().join(name), wav_bytes(3, 32, 48_000, &floats(bad))).unwrap();
    }
    // The header declares 974 samples; 8 are present.
    let mut cut = wav_bytes(1, 16, 48_000, &[0u8; 974 * 2]);
    cut.truncate(44 + 16);
    std::fs::write(env.lib().join("cut.wav"), cut).unwrap();

    let lines = env.json(&["index", s(&env.lib())], 2);
    let failed = |lines: &[Value]| -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> = lines
            .iter()
            .filter(|l| l["type"] == "failure")
            .map(|l| {
                let p = Path::new(l["path"].as_str().unwrap());
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, l["error"].as_str().unwrap().to_string())
            })
            .collect();
        f.sort();
        f
    };
    let f = failed(&lines);
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["cut.wav", "huge.wav", "inf.wav", "nan.wav"],
        "{lines:?}"
    );
    assert!(
        f[0].1.contains("truncated") && f[0].1.contains("974"),
        "{f:?}"
    );
    assert!(f[1].1.contains("2.5e38"), "{f:?}");
    assert!(f[2].1.contains("infinite"), "{f:?}");
    assert!(f[3].1.contains("NaN"), "{f:?}");
    let summary = lines.iter().find(|l| l["type"] == "summary").unwrap();
    assert_eq!(
        (summary["new"].as_u64(), summary["failed"].as_u64()),
        (Some(3), Some(4))
    );
    let info = &env.json(&["info"], 0)[0];
    assert_eq!(
        (info["files"].as_u64(), info["failed"].as_u64()),
        (Some(3), Some(4)),
        "{info}"
    );
    assert_eq!(env.json(&["similar", s(&files[0]), "-k", "5"], 0).len(), 2);

    // A later run continues: the new file is indexed, the failures are skipped, or retried and failed again.
    write_wav(
        &env.lib().join("later.wav"),
        &signal(11, 1.0, 48_000),
        48_000,
    );
    let sum = env.summary(&["index", s(&env.lib())], 0);
    assert_eq!(
        (sum["new"].as_u64(), sum["skipped_failed"].as_u64()),
        (Some(1), Some(4)),
        "{sum}"
    );
    let sum = env.summary(&["index", s(&env.lib()), "--retry-failed"], 2);
    assert_eq!(sum["failed"], 4, "{sum}");
    assert_eq!(env.json(&["info"], 0)[0]["files"], 4);
}

/// Issue 12, section 5: one vector space per index. An index made with aiSFX (the committed model, installed by
/// `avx model fetch aisfx` from the repository) is searched with its own model when none is named, and a
/// different model (tiny-clap) is refused with an error naming both, for every command that embeds a query.
#[test]
fn an_index_refuses_queries_from_another_model() {
    let env = Env::new();
    let cache = env.dir.path().join("cache");
    let cmd = |model_dir: Option<&Path>, args: &[&str]| -> Output {
        let mut c = env.cmd();
        c.env("XDG_CACHE_HOME", &cache).env_remove("AVX_HOME");
        match model_dir {
            Some(d) => c.env("AVX_MODEL_DIR", d),
            None => c.env_remove("AVX_MODEL_DIR"),
        };
        c.args(args).output().expect("avx runs")
    };
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let out = cmd(None, &["model", "fetch", "aisfx"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let files = make_library(&env, 3);
    let out = cmd(None, &["--model", "aisfx", "index", s(&env.lib())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let info: Value = serde_json::from_slice(&cmd(None, &["--json", "info"]).stdout).unwrap();
    assert_eq!(info["model"], "aisfx", "{info}");

    let outside = env.dir.path().join("new.wav");
    write_wav(&outside, &signal(3, 1.5, 44_100), 44_100);
    // No model named: the index's model embeds the query.
    let out = cmd(None, &["--json", "similar", s(&outside), "-k", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The tiny CLAP model is another vector space: refused, both named, for each command that embeds.
    let tiny = repo().join("tests/fixtures/tiny-clap");
    for args in [
        vec!["similar", s(&outside)],
        vec!["search", "rain"],
        vec!["cluster", "-k", "2", "--label"],
        vec!["index", s(&env.lib()), s(&outside)],
    ] {
        let out = cmd(Some(&tiny), &args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(
            t.contains("aisfx") && t.contains("tiny-clap"),
            "{args:?}: {t}"
        );
    }
    // An indexed, unchanged file needs no model at all: its stored vector is the query.
    let out = cmd(Some(&tiny), &["--json", "similar", s(&files[0]), "-k", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // tag without a model uses the index's: aiSFX has no text tower, and the error says so.
    let out = cmd(None, &["tag", s(&outside)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("'aisfx' is audio-only"),
        "{}",
        text(&out)
    );
    // dupes takes aiSFX's default threshold from the family field.
    let out = cmd(None, &["--json", "dupes"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
}

/// Issue 12, section 6: the damaged-library campaign of `examples/mutate_campaign.rs`, small: mutated copies of
/// the test audio through `avx index`; no panic, no aborted run, every file indexed or listed as failed, and a
/// second run over the same library goes through too.
#[test]
fn mutated_library_campaign_small() {
    let env = Env::new();
    let n = 24;
    mutate::write_library(&env.lib(), &repo(), n, 7);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let out = env.run(&["--json", "index", s(&env.lib())]);
        let c = mutate::check_run(
            &out.status,
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
            n,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.caught_panics <= c.failed, "{c:?}");
        seen.push((c.indexed, c.failed, c.skipped));
    }
    let (indexed, failed, _) = seen[0];
    assert!(
        indexed > 0 && failed > 0,
        "seed 7 makes both kinds: {seen:?}"
    );
    assert_eq!(seen[1], (indexed, 0, failed), "{seen:?}");
}

#[test]
fn killed_index_run_resumes() {
    let env = Env::new();
    make_library(&env, 40);
    let mut child = env
        .cmd()
        .env("AVX_COMMIT_FILES", "3")
        .args(["--quiet", "index", s(&env.lib())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill (SIGKILL) as soon as a reader sees the first commit: mid-run, between or during batches.
    wait_for_first_commit(&env);
    child.kill().unwrap();
    child.wait().unwrap();
    env.ok(&["verify"], 0);
    let sum = env.summary(&["index", s(&env.lib())], 0);
    let (new, unchanged) = (
        sum["new"].as_u64().unwrap(),
        sum["unchanged"].as_u64().unwrap(),
    );
    assert_eq!(new + unchanged, 40, "{sum}");
    assert!(
        unchanged >= 3 && new >= 1,
        "the kill should land mid-run and keep committed batches: {sum}"
    );
    assert_eq!(env.json(&["info"], 0)[0]["files"], 40);
    env.ok(&["verify"], 0);
}

/// A long file: background noise with `insert` copied in at `at_s` seconds.
fn long_with(bg_seed: u64, seconds: f64, insert: &[f32], at_s: f64, rate: u32) -> Vec<f32> {
    let mut v: Vec<f32> = signal(bg_seed, seconds, rate)
        .iter()
        .map(|x| x * 0.3)
        .collect();
    let at = (at_s * rate as f64) as usize;
    v[at..at + insert.len()].copy_from_slice(insert);
    v
}

#[test]
fn a_hop_the_model_cannot_take_is_one_error_before_any_file() {
    let env = Env::new();
    make_library(&env, 3);
    // tiny-clap's windows are 10 s long: a hop must be more than 0 and at most that.
    for args in [
        vec!["index", s(&env.lib()), "--hop", "11"],
        vec!["embed", "--hop", "11", s(&env.lib().join("sound_00.wav"))],
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "avx {args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line, not one per file: {err}");
        assert!(
            err.contains("--hop") && err.contains("at most the window length (10 s)"),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "avx {args:?}");
    }
    assert!(!env.index().exists(), "nothing was indexed, so no index");
    // A hop in range indexes every file.
    let sum = env.summary(&["index", s(&env.lib()), "--hop", "10"], 0);
    assert_eq!(
        (sum["new"].as_u64(), sum["failed"].as_u64()),
        (Some(3), Some(0)),
        "{sum}"
    );
}

#[test]
fn segments_find_a_planted_sound_within_one_hop() {
    let env = Env::new();
    let rate = 48_000;
    let planted = signal(4242, 10.0, rate);
    let at = 37.0;
    write_wav(
        &env.lib().join("long.wav"),
        &long_with(3, 90.0, &planted, at, rate),
        rate,
    );
    make_library(&env, 3);
    let query = env.dir.path().join("query.wav");
    write_wav(&query, &planted, rate);
    env.summary(&["index", s(&env.lib()), "--hop", "2"], 0);
    let hits = env.json(&["similar", s(&query), "--segments", "-k", "1"], 0);
    let start = hits[0]["start"].as_f64().unwrap();
    assert!(
        hits[0]["path"].as_str().unwrap().ends_with("long.wav"),
        "{hits:?}"
    );
    assert!(
        (start - at).abs() <= 2.0,
        "planted at {at} s, found at {start} s"
    );
}

#[test]
fn dupes_find_a_reencode_and_a_jingle_planted_in_three_files() {
    let env = Env::new();
    let rate = 48_000;
    // File-level: a byte-identical copy and a copy shifted by 1 ms. (Real-model thresholds for re-encodes, gain
    // changes and trims are measured in eval/; a random-weight model is only reliable for near-identical audio.)
    let a = signal(11, 2.0, rate);
    write_wav(&env.lib().join("hit.wav"), &a, rate);
    std::fs::copy(env.lib().join("hit.wav"), env.lib().join("hit_copy.wav")).unwrap();
    let mut shifted = vec![0.0f32; rate as usize / 1000];
    shifted.extend_from_slice(&a[..a.len() - shifted.len()]);
    write_wav(&env.lib().join("hit_shifted.wav"), &shifted, rate);
    make_library(&env, 3);
    env.summary(&["index", s(&env.lib())], 0);
    let groups = env.json(&["dupes"], 0); // the default threshold, 0.97
    assert_eq!(groups.len(), 1, "{groups:?}");
    let names: Vec<&str> = groups[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for n in ["hit.wav", "hit_copy.wav", "hit_shifted.wav"] {
        assert!(
            names.iter().any(|p| p.ends_with(&format!("/{n}"))),
            "{n} missing from {names:?}"
        );
    }

    // Segment-level: the same 10 s jingle at window-aligned offsets in three long files.
    let jingle = signal(777, 10.0, rate);
    let offsets = [20.0, 40.0, 10.0];
    for (i, at) in offsets.iter().enumerate() {
        write_wav(
            &env.dir.path().join(format!("radio/show_{i}.wav")),
            &long_with(100 + i as u64, 60.0, &jingle, *at, rate),
            rate,
        );
    }
    env.summary(&["index", s(&env.dir.path().join("radio"))], 0);
    let groups = env.json(
        &[
            "dupes",
            "--segments",
            "--threshold",
            "0.99",
            "--in",
            s(&env.dir.path().join("radio")),
        ],
        0,
    );
    // Windows of one stationary background also group together; the jingle is the one group spanning files.
    let spanning: Vec<&Value> = groups
        .iter()
        .filter(|g| {
            let m = g["members"].as_array().unwrap();
            m.iter().any(|x| x["path"] != m[0]["path"])
        })
        .collect();
    assert_eq!(spanning.len(), 1, "{groups:?}");
    let members = spanning[0]["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{groups:?}");
    for m in members {
        let p = m["path"].as_str().unwrap();
        let i: usize = p[p.len() - 5..p.len() - 4].parse().unwrap();
        assert!(
            (m["start"].as_f64().unwrap() - offsets[i]).abs() < 0.01,
            "{m}"
        );
    }
}

#[test]
fn closed_pipe_exits_quietly() {
    let env = Env::new();
    let files = make_library(&env, 4);
    env.summary(&["index", s(&env.lib())], 0);
    let mut child = env
        .cmd()
        .args(["similar", s(&files[0]), "-k", "3", "--format", "paths"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before avx writes
    let out = child.wait_with_output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{:?}",
        out.status
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn missing_index_and_model_errors_say_what_to_do() {
    let env = Env::new();
    let out = env.run(&["search", "rain"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("avx index"));
    let out = env
        .cmd()
        .env_remove("AVX_MODEL_DIR")
        .env("AVX_HOME", env.dir.path().join("home"))
        .args(["embed", "--text", "rain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("avx model fetch") && err.contains("--model-dir"),
        "{err}"
    );
}

#[test]
fn an_unavailable_device_is_an_error_and_auto_reports_its_choice() {
    let env = Env::new();
    let out = env.run(&["--device", "cuda", "embed", "--text", "rain"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("device 'cuda' is not available"), "{err}");
    let out = env.run(&["--device", "auto", "embed", "--text", "rain"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("device auto: using"));
}

#[test]
fn a_forced_graph_serves_approximate_search_on_a_small_index() {
    let env = Env::new();
    let files = make_library(&env, 12);
    env.summary(&["index", s(&env.lib()), "--graph"], 0);
    let info = env.json(&["info"], 0);
    assert_eq!(info[0]["graph_points"][0], 12, "{info:?}");
    let approx = env.json(&["similar", s(&files[0]), "-k", "11", "--approximate"], 0);
    let exact = env.json(&["similar", s(&files[0]), "-k", "11", "--exact"], 0);
    let paths = |v: &[Value]| {
        v.iter()
            .map(|h| h["path"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        paths(&approx),
        paths(&exact),
        "a 12-point graph must return every point"
    );
    // A beam narrower than k is widened to k; any beam finds every point of so small a graph.
    let narrow_beam = ["--approximate", "--ef", "1"];
    let mut args = vec!["similar", s(&files[0]), "-k", "11"];
    args.extend(narrow_beam);
    let narrow = env.json(&args, 0);
    assert_eq!(paths(&narrow), paths(&exact));
    let out = env.run(&["similar", s(&files[0]), "--ef", "0"]);
    assert_eq!(out.status.code(), Some(2), "--ef 0 is a usage error");
    let out = env.run(&["similar", s(&files[0]), "--exact", "--ef", "50"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--ef with --exact is a usage error"
    );
}

#[test]
fn ctrl_c_commits_finished_files_and_the_next_run_continues() {
    let env = Env::new();
    make_library(&env, 40);
    let child = env
        .cmd()
        .env("AVX_COMMIT_FILES", "3")
        .args(["--quiet", "index", s(&env.lib())])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_first_commit(&env);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(0) {
        // The run finished before the signal arrived: nothing to continue.
        assert_eq!(env.json(&["info"], 0)[0]["files"], 40);
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    env.ok(&["verify"], 0);
    let sum = env.summary(&["index", s(&env.lib())], 0);
    assert_eq!(
        sum["new"].as_u64().unwrap() + sum["unchanged"].as_u64().unwrap(),
        40,
        "{sum}"
    );
    assert!(sum["unchanged"].as_u64().unwrap() >= 3, "{sum}");
}

/// A file whose name is not UTF-8 (Linux allows any bytes but `/` and NUL) goes through `index`, `similar --json`,
/// `--format paths`, `--format m3u` and `export` with its exact bytes: JSON gives `{"bytes": base64}`, lists the
/// raw bytes (issue 13, section 5).
#[cfg(unix)]
#[test]
fn a_non_utf8_file_name_survives_index_similar_and_export() {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let env = Env::new();
    let files = make_library(&env, 2);
    let name = std::ffi::OsString::from_vec(b"caf\xe9 \xff.wav".to_vec());
    let odd = env.lib().join(&name);
    std::fs::copy(&files[0], &odd).unwrap();
    let odd = odd.canonicalize().unwrap();
    let raw = odd.as_os_str().as_bytes();
    // base64 of the raw bytes, written out here so the test does not share the code under test.
    let b64 = {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in raw.chunks(3) {
            let n = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                if i <= c.len() {
                    s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s
    };
    let sum = env.summary(&["index", s(&env.lib())], 0);
    assert_eq!(sum["new"], 3, "{sum}");

    // similar --json by the original: its exact copy (the odd name) is the best other hit, as {"bytes": ...}.
    let hits = env.json(&["similar", s(&files[0]), "-k", "3"], 0);
    let odd_hit = hits
        .iter()
        .find(|h| h["path"].is_object())
        .unwrap_or_else(|| panic!("no hit with a non-UTF-8 path object: {hits:?}"));
    assert_eq!(odd_hit["path"]["bytes"], b64.as_str(), "{odd_hit}");
    for h in &hits {
        assert!(h["path"].is_string() || h["path"].is_object(), "{h}");
    }

    // --format paths and m3u write the raw bytes on a line of their own.
    for format in ["paths", "m3u"] {
        let out = env.run(&["similar", s(&files[0]), "-k", "3", "--format", format]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout.split(|b| *b == b'\n').any(|l| l == raw),
            "--format {format} lacks the raw path: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // export: JSON Lines objects carry the same form; audiovector files are named with the raw bytes.
    let out_dir = env.dir.path().join("export");
    env.ok(&["export", "--format", "jsonl", s(&out_dir)], 0);
    let lines =
        util::json_lines(&std::fs::read_to_string(out_dir.join("embeddings.jsonl")).unwrap());
    assert!(
        lines.iter().any(|o| o["path"]["bytes"] == b64.as_str()),
        "export lacks the odd path: {:?}",
        lines.iter().map(|o| &o["path"]).collect::<Vec<_>>()
    );
    let av = env.dir.path().join("av");
    env.ok(&["export", "--format", "audiovector", s(&av)], 0);
    let mut json_name = name.clone();
    json_name.push(".json");
    assert!(
        av.join(&json_name).is_file(),
        "no {:?} in {:?}",
        json_name,
        std::fs::read_dir(&av).unwrap().collect::<Vec<_>>()
    );

    // embed without --json: the raw bytes, then a tab and the values.
    let out = env.cmd().arg("embed").arg(&odd).output().expect("avx runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut want = raw.to_vec();
    want.push(b'\t');
    assert!(
        out.stdout.starts_with(&want),
        "embed lacks the raw path: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The vector `avx embed FILE` prints for one file on its own.
fn e_first_of(env: &Env, file: &Path) -> Value {
    env.json(&["embed", file.to_str().unwrap()], 0)[0]["vector"].clone()
}

/// A stream is audio too: `avx embed` and `avx similar` read a FIFO (what a shell's `<(ffmpeg ...)` hands over) and
/// give the file's own vector, in every committed format; the FIFO keeps its own path in the output.
#[cfg(unix)]
#[test]
fn embed_and_similar_read_a_fifo() {
    let env = Env::new();
    let files = make_library(&env, 3);
    env.ok(&["index", s(&env.lib())], 0);
    let fifo = env.dir.path().join("stream.wav");
    let fill = |fifo: PathBuf, from: PathBuf| {
        std::thread::spawn(move || {
            let bytes = std::fs::read(from).unwrap();
            // Blocks until avx opens the FIFO; avx stops reading once it has the audio.
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .open(fifo)
                .and_then(|mut w| std::io::Write::write_all(&mut w, &bytes));
        })
    };
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", fifo.display());

    let writer = fill(fifo.clone(), files[1].clone());
    let got = env.json(&["embed", s(&fifo)], 0);
    writer.join().unwrap();
    assert_eq!(got[0]["path"], s(&fifo));
    assert_eq!(got[0]["vector"], e_first_of(&env, &files[1]));

    let writer = fill(fifo.clone(), files[1].clone());
    let hits = env.json(&["similar", s(&fifo), "-k", "1"], 0);
    writer.join().unwrap();
    assert_eq!(hits[0]["path"], s(&files[1]), "{hits:?}");

    // Every committed format, MP4 and Ogg (read whole, since their readers seek) among them.
    for name in [
        "mono16k_s16_11s.wav",
        "mono22k_5s.flac",
        "stereo44k_4s.mp3",
        "stereo44k_4s.aac",
        "stereo44k_4s.ogg",
        "stereo44k_aac_4s.m4a",
        "stereo44k_alac_4s.m4a",
        "stereo44k_s16_4s.aiff",
    ] {
        let file = repo().join("tests/data/audio").join(name);
        let writer = fill(fifo.clone(), file.clone());
        let got = env.json(&["embed", s(&fifo)], 0);
        writer.join().unwrap();
        assert_eq!(
            got[0]["vector"],
            e_first_of(&env, &file),
            "{name} through a FIFO"
        );
    }
}

/// A copy of the tiny model in a fresh directory (its files can be changed without touching the fixture).
fn tiny_model_copy(to: &Path) {
    let from = repo().join("tests/fixtures/tiny-clap");
    for sub in ["", "onnx"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, to.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
}

/// Issue 18: `avx model verify` rehashes every ONNX file and records it (loads then check only size and mtime),
/// and a file that differs from the hash recorded at download is an error naming it.
#[test]
fn model_verify_records_hashes_and_catches_a_replaced_file() {
    let env = Env::new();
    let home = env.dir.path().join("home");
    let model = env.dir.path().join("model");
    tiny_model_copy(&model);
    let verify = || {
        env.cmd()
            .env("AVX_HOME", &home)
            .env("AVX_MODEL_DIR", &model)
            .args(["--json", "model", "verify"])
            .output()
            .unwrap()
    };
    let lines = util::json_lines(&util::stdout_with_code(verify(), &["model", "verify"], 0));
    let files: Vec<&str> = lines.iter().map(|l| l["file"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        [
            "onnx/audio_model.onnx",
            "onnx/text_model.onnx",
            "onnx/text_model_nomask.onnx"
        ]
    );
    assert!(lines.iter().all(|l| l["status"] == "recorded"), "{lines:?}");
    let record = std::fs::read_to_string(home.join("file-hashes.json")).unwrap();
    let audio_sha = lines[0]["sha256"].as_str().unwrap();
    assert!(record.contains(audio_sha), "{record}");
    assert!(record.contains("audio_model.onnx"), "{record}");
    // A download recorded another hash for the text tower: verify says which file and exits 2.
    let manifest = serde_json::json!({"repo": "x", "revision": "y", "files": {
        "onnx/text_model.onnx": {"size": 1, "sha256": "0".repeat(64)}}});
    std::fs::write(model.join("avx-manifest.json"), manifest.to_string()).unwrap();
    let out = verify();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("onnx/text_model.onnx") && err.contains("damaged or replaced"),
        "{err}"
    );
    let lines = util::json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(lines[1]["status"], "MISMATCH", "{lines:?}");
}

/// Issue 18: `avx search` embeds its text with the int8 text tower when the model directory has one (the index
/// holds audio vectors, so its model check accepts it), and `--variant` overrides that default.
#[test]
fn search_uses_an_int8_text_tower_when_present_and_variant_overrides_it() {
    let env = Env::new();
    let model = env.dir.path().join("model");
    tiny_model_copy(&model);
    make_library(&env, 3);
    let run = |args: &[&str]| -> Output {
        env.cmd()
            .env("AVX_MODEL_DIR", &model)
            .args(args)
            .output()
            .unwrap()
    };
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let out = run(&["index", s(&env.lib())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fp32 = run(&["--json", "--variant", "fp32", "search", "a low hum"]);
    assert_eq!(fp32.status.code(), Some(0), "{}", text(&fp32));
    // A damaged int8 text tower: the default loads it (and says which file), --variant fp32 does not.
    let quantized = model.join("onnx/text_model_quantized.onnx");
    std::fs::write(&quantized, b"not an onnx file").unwrap();
    let out = run(&["search", "a low hum"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("text_model_quantized.onnx"),
        "{}",
        text(&out)
    );
    let again = run(&["--json", "--variant", "fp32", "search", "a low hum"]);
    assert_eq!(again.stdout, fp32.stdout, "{}", text(&again));
    // A working one (here the fp32 weights under the int8 name): the default search succeeds with its vectors.
    std::fs::copy(model.join("onnx/text_model.onnx"), &quantized).unwrap();
    let int8 = run(&["--json", "search", "a low hum"]);
    assert_eq!(int8.status.code(), Some(0), "{}", text(&int8));
    assert_eq!(
        util::json_lines(&String::from_utf8_lossy(&int8.stdout)),
        util::json_lines(&String::from_utf8_lossy(&fp32.stdout))
    );
}
