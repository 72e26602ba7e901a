//! `avx serve` over loopback: warm query round trips against the cold `avx` process they replace.
//!
//!     cargo bench -p avx-cli --bench serve                      # the example library, tiny test model
//!     AVX_INDEX=DIR AVX_MODEL_DIR=MODEL [AVX_MODEL=NAME] [AVX_BENCH_SECONDS=60] [AVX_BENCH_QUERY_FILE=F.wav] \
//!         cargo bench -p avx-cli --bench serve                  # any index (e.g. a 100k synthetic one)
//!
//! A 100k index for it: index any folder with the model to serve (`avx --index SMALL --model-dir MODEL index
//! examples/audio`), then `cargo run -p avx-index --example synthetic_index -- BIG 100000 --graph --like SMALL`
//! writes 100,000 synthetic vectors with that model's settings and an HNSW graph, and `AVX_INDEX=BIG
//! AVX_MODEL_DIR=MODEL` serves it with that model.
//!
//! Prints, as medians of several runs (and p99 for the load test): a cold `avx search` / `avx similar` process
//! (the reference) against the warm server's text query, similar-by-id (against an exact scan), upload of a 5 s WAV, page ready (the page,
//! its two assets and /api/info), the map (first computation, then from the cache), and 16 concurrent clients.
//! AVX_BENCH_THREADS sets avx's --threads (default 2).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into()
}

/// A 5 s mono 16-bit WAV of a decaying chirp with noise.
fn wav_5s() -> Vec<u8> {
    let rate = 48_000u32;
    let n = rate as usize * 5;
    let mut state = 7u64;
    let samples: Vec<i16> = (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = i as f32 / rate as f32;
            let noise = ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
            let v = (2.0 * std::f32::consts::PI * (200.0 + 400.0 * t) * t).sin() * (-t).exp() * 0.5
                + 0.05 * noise;
            (v * 32767.0) as i16
        })
        .collect();
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + n as u32 * 2).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    for x in [
        16u32.to_le_bytes().as_slice(),
        &1u16.to_le_bytes(),
        &1u16.to_le_bytes(),
        &rate.to_le_bytes(),
        &(rate * 2).to_le_bytes(),
        &2u16.to_le_bytes(),
        &16u16.to_le_bytes(),
    ] {
        b.extend_from_slice(x);
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(n as u32 * 2).to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

fn main() {
    let threads = std::env::var("AVX_BENCH_THREADS").unwrap_or_else(|_| "2".into());
    let seconds: u64 = std::env::var("AVX_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let tmp = tempfile::tempdir().unwrap();
    let (index, model_dir) = match (
        std::env::var_os("AVX_INDEX"),
        std::env::var_os("AVX_MODEL_DIR"),
    ) {
        (Some(i), Some(m)) => (PathBuf::from(i), PathBuf::from(m)),
        _ => {
            let model = repo().join("tests/fixtures/tiny-clap");
            let index = tmp.path().join("index");
            let st = Command::new(env!("CARGO_BIN_EXE_avx"))
                .args(["--quiet", "--threads", &threads, "--index"])
                .arg(&index)
                .arg("--model-dir")
                .arg(&model)
                .arg("index")
                .arg(repo().join("examples/audio"))
                .status()
                .unwrap();
            assert!(st.success(), "avx index failed");
            (index, model)
        }
    };
    let avx = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_avx"));
        c.args(["--quiet", "--threads", &threads, "--index"])
            .arg(&index)
            .arg("--model-dir")
            .arg(&model_dir);
        c
    };
    let query_file = std::env::var_os("AVX_BENCH_QUERY_FILE").map(PathBuf::from);
    let wav = match &query_file {
        Some(f) => std::fs::read(f).unwrap(),
        None => wav_5s(),
    };
    let wav_path = tmp.path().join("query.wav");
    std::fs::write(&wav_path, &wav).unwrap();

    let mut child = avx()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr to the end on a thread: the server keeps writing to it, and a closed pipe would stop it.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut base = String::new();
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(u) = line
            .strip_prefix("avx: serving ")
            .and_then(|l| l.split(" at ").nth(1))
        {
            base = u.trim_end_matches('/').to_string();
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    assert!(!base.is_empty(), "avx serve did not start");
    let a = agent();
    let get = |p: &str| {
        let t = Instant::now();
        let mut r = a.get(&format!("{base}{p}")).call().unwrap();
        let body = r
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap();
        assert!(
            r.status().is_success(),
            "{p}: {}",
            String::from_utf8_lossy(&body)
        );
        (ms(t.elapsed()), body)
    };
    let info: serde_json::Value = serde_json::from_slice(&get("/api/info").1).unwrap();
    println!(
        "avx serve benchmark: {} files, model {}, {threads} threads",
        info["files"], info["model"]
    );
    let has_text = info["text"] == true;

    // Ids to query: from the map (its first computation timed here, from the cache after).
    let _ = std::fs::remove_file(index.join("cache/map.json"));
    let (map_first, body) = get("/api/map");
    let map: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let ids: Vec<u64> = map["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_u64().unwrap())
        .collect();
    let map_cached = median((0..5).map(|_| get("/api/map").0).collect());
    println!("map: first computation {map_first:.0} ms, then {map_cached:.1} ms (median of 5)");

    let page = median(
        (0..9)
            .map(|_| {
                get("/").0 + get("/assets/app.js").0 + get("/assets/app.css").0 + get("/api/info").0
            })
            .collect(),
    );
    println!("page ready (page + 2 assets + /api/info, sequential): {page:.1} ms (median of 9)");

    // 41 round trips of `path` (with `{}` replaced by an id), over ids spread across the index.
    let round_trips = |path: &str| -> Vec<f64> {
        (0..41)
            .map(|i| get(&path.replace("{}", &ids[(i * 7919) % ids.len()].to_string())).0)
            .collect()
    };
    // The server's floor: a round trip that only looks a file up by id (no vector work).
    let floor = median(round_trips("/api/files/{}"));
    println!("file metadata by id (the HTTP and lookup floor): p50 {floor:.2} ms (41 queries)");
    let sim = round_trips("/api/similar?id={}&k=20");
    // The reference: the same queries answered by an exact scan of every vector (`exact=1`, `--exact`).
    let exact = round_trips("/api/similar?id={}&k=20&exact=1");
    let (sim_p50, exact_p50) = (median(sim.clone()), median(exact));
    println!(
        "similar to an indexed file, k=20: p50 {sim_p50:.1} ms, p99 {:.1} ms (41 queries); exact scan (exact=1) p50 \
         {exact_p50:.1} ms; ratio {:.3}",
        pct(sim, 0.99),
        sim_p50 / exact_p50
    );

    let upload: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            let r = a
                .post(&format!("{base}/api/similar?k=20&name=query.wav"))
                .send(&wav[..])
                .unwrap();
            assert!(r.status().is_success());
            ms(t.elapsed())
        })
        .collect();
    let upload_p50 = median(upload);
    let cold = |args: &[&str]| {
        median(
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    let out = avx().args(args).output().unwrap();
                    assert!(
                        out.status.code().is_some_and(|c| c <= 1),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    ms(t.elapsed())
                })
                .collect(),
        )
    };
    let cold_similar = cold(&["similar", wav_path.to_str().unwrap(), "-k", "20"]);
    println!("drop a {} KB WAV: p50 {upload_p50:.0} ms (7 runs); cold `avx similar FILE`: {cold_similar:.0} ms (3 runs); ratio {:.2}", wav.len() / 1024, upload_p50 / cold_similar);

    if has_text {
        let _ = get("/api/search?q=warm%20up");
        let text: Vec<f64> = (0..15)
            .map(|i| get(&format!("/api/search?q=door%20slam%20{i}&k=20")).0)
            .collect();
        let warm = median(text);
        let cold_search = cold(&["search", "door slam", "-k", "20"]);
        println!("text query: warm p50 {warm:.1} ms (15 runs); cold `avx search`: {cold_search:.0} ms (3 runs); ratio {:.3}", warm / cold_search);
    }

    // 16 concurrent clients: similar-by-id, peaks and audio for `seconds`.
    let end = Instant::now() + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..16)
        .map(|c| {
            let (base, ids) = (base.clone(), ids.clone());
            std::thread::spawn(move || {
                let a = agent();
                let (mut lat, mut errors, mut i) = (Vec::new(), 0usize, c * 104_729);
                while Instant::now() < end {
                    let id = ids[i % ids.len()];
                    i += 7;
                    let path = match i % 3 {
                        0 => format!("/api/similar?id={id}&k=20"),
                        1 => format!("/api/files/{id}"),
                        _ => "/api/info".to_string(),
                    };
                    let t = Instant::now();
                    let ok = a.get(&format!("{base}{path}")).call().is_ok_and(|mut r| {
                        r.status().is_success() && r.body_mut().read_to_vec().is_ok()
                    });
                    if ok {
                        lat.push(ms(t.elapsed()));
                    } else {
                        errors += 1;
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let (mut lat, mut errors) = (Vec::new(), 0);
    for h in handles {
        let (l, e) = h.join().unwrap();
        lat.extend(l);
        errors += e;
    }
    println!(
        "16 clients for {seconds} s: {} requests, {errors} errors, p50 {:.1} ms, p99 {:.1} ms",
        lat.len(),
        median(lat.clone()),
        pct(lat, 0.99)
    );
    let _ = child.kill();
    let _ = child.wait();
}
