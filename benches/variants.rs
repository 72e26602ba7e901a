//! Weight variants (fp32, fp16, int8) of a model's audio and text towers, in one process so the ratios hold on
//! a shared machine: session creation (the cold start of `avx similar NEW.wav` and `avx search TEXT`, measured
//! in a fresh child process with its peak RSS, from the saved optimised graph as the command line loads it), time per 10 s window and per text query, and agreement with
//! fp32: cosine per window, cosine per text query, and top-10 overlap of `similar` (a variant's file vector
//! against a library of fp32 file vectors) and `search` (a variant's text vector against the same library).
//!
//!     AVX_BENCH_MODEL=/path/to/full-size/model cargo run --release -p avx-embed --example variants
//!
//! The model directory needs all three variants of both towers (`models/export_clap.py --variants`). The
//! library is up to `AVX_BENCH_FILES` (default 40) audio files of `tests/data` (the programme recording
//! included), searched exactly (brute force), as an fp32 index would be at recall 1. Environment:
//! `AVX_BENCH_THREADS` (default 2), `AVX_BENCH_COLD_RUNS` (default 3; the median is printed). With random
//! weights the agreement figures are a proxy for a trained model's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use avx_embed::model::{pool, LoadTuning, SessionOptions, Variant};
use avx_embed::{Embedder, ModelInputs};

#[path = "util.rs"]
mod util;
use util::{env_or, median, peak_rss_mb};

const VARIANTS: [Variant; 3] = [Variant::Fp32, Variant::Fp16, Variant::Int8];

const QUERIES: [&str; 30] = [
    "a dog barking",
    "rain on a tin roof",
    "kick drum",
    "snare drum hit",
    "a door slamming shut",
    "footsteps on gravel",
    "thunder rumbling in the distance",
    "a car engine starting",
    "birds singing in the morning",
    "a glass breaking",
    "applause from a large crowd",
    "a church bell ringing",
    "wind howling through trees",
    "a baby crying",
    "typing on a mechanical keyboard",
    "a phone ringing",
    "water running from a tap",
    "a sine wave tone",
    "white noise",
    "a synthesizer pad",
    "electric guitar riff",
    "piano chord",
    "a man speaking",
    "a woman laughing",
    "a helicopter flying overhead",
    "a click",
    "ocean waves crashing",
    "a cat meowing",
    "sci-fi laser shot",
    "crackling fire",
];

fn opts(variant: Variant, threads: usize) -> SessionOptions {
    SessionOptions {
        variant,
        threads,
        spinning: false,
        ..SessionOptions::default()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// Indices of the `k` library rows nearest `q` (vectors are L2-normalised: inner product).
fn top_k(library: &[Vec<f32>], q: &[f32], k: usize) -> Vec<usize> {
    let mut scored: Vec<(f64, usize)> = library
        .iter()
        .enumerate()
        .map(|(i, v)| (dot(v, q), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(k).map(|(_, i)| i).collect()
}

fn overlap(a: &[usize], b: &[usize]) -> f64 {
    a.iter().filter(|i| b.contains(i)).count() as f64 / a.len().max(1) as f64
}

fn audio_files(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            audio_files(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("wav" | "flac" | "mp3" | "ogg" | "opus" | "m4a" | "aac" | "aiff")
        ) {
            out.push(p);
        }
    }
}

/// The child process: create one tower's session from cold, use it once, print the times and peak RSS.
fn cold(model: &Path, tower: &str, variant: Variant, threads: usize, probe: &Path, cache: &Path) {
    let t0 = Instant::now();
    // As the command line opens a model: the saved optimised graph in ONNX Runtime's format, mapped.
    let opts = SessionOptions {
        optimized_cache: Some(cache.to_path_buf()),
        load: LoadTuning {
            ort_format: true,
            ..LoadTuning::default()
        },
        ..opts(variant, threads)
    };
    let mut emb = Embedder::open("bench", model, opts).unwrap();
    if tower == "text" {
        emb.text().unwrap();
    } else {
        emb.audio().unwrap();
    }
    let load = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    if tower == "text" {
        emb.embed_text("a dog barking").unwrap();
    } else {
        emb.embed_file(probe, None, 1).unwrap();
    }
    let first = t1.elapsed().as_secs_f64();
    println!("COLD {load} {first} {}", peak_rss_mb());
}

fn main() {
    let threads: usize = env_or("AVX_BENCH_THREADS", 2);
    let Ok(model) = std::env::var("AVX_BENCH_MODEL") else {
        eprintln!(
            "set AVX_BENCH_MODEL to a full-size model directory with all variants (models/export_clap.py \
             --random-init --variants)"
        );
        std::process::exit(2);
    };
    let model = PathBuf::from(model);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    // The programme recording first (many windows), then the short sounds.
    let mut files = Vec::new();
    audio_files(&data.join("programme"), &mut files);
    audio_files(&data, &mut files);
    let mut seen = std::collections::HashSet::new();
    files.retain(|p| seen.insert(p.clone()));
    assert!(
        !files.is_empty(),
        "no audio under {}: run tests/data/make_audio.sh",
        data.display()
    );
    // The new file of a cold `avx similar NEW.wav`: 3 s, one window.
    let probe = data.join("audio/mono48k_s16_3s.wav");
    if let Ok(spec) = std::env::var("AVX_VARIANTS_COLD") {
        let (tower, v) = spec.split_once(':').unwrap();
        let cache = PathBuf::from(std::env::var("AVX_VARIANTS_CACHE").unwrap());
        cold(&model, tower, v.parse().unwrap(), threads, &probe, &cache);
        return;
    }

    // Model input per file, computed once, untimed.
    let fp32 = Embedder::open("bench", &model, opts(Variant::Fp32, threads)).unwrap();
    let hop = fp32.spec().default_hop_seconds();
    // Formats this build cannot decode (Opus) are left out.
    let max_files: usize = env_or("AVX_BENCH_FILES", 40);
    let mut inputs: Vec<Vec<Vec<f32>>> = Vec::new();
    files.retain(|f| {
        if inputs.len() >= max_files {
            return false;
        }
        let Ok(mut s) = ModelInputs::open(f, fp32.spec(), hop) else {
            return false;
        };
        let mut w = Vec::new();
        while let Some(x) = s.next_window().unwrap() {
            w.push(x.features);
        }
        inputs.push(w);
        true
    });
    drop(fp32);
    let n_windows: usize = inputs.iter().map(Vec::len).sum();
    println!(
        "{} files, {n_windows} windows, {} queries, {threads} threads, model {}",
        files.len(),
        QUERIES.len(),
        model.display()
    );

    // Warm (in-process) speed and the vectors of every variant.
    let mut window_vecs: Vec<Vec<Vec<f32>>> = Vec::new();
    let mut file_vecs: Vec<Vec<Vec<f32>>> = Vec::new();
    let mut text_vecs: Vec<Vec<Vec<f32>>> = Vec::new();
    let mut speed = Vec::new();
    for v in VARIANTS {
        let mut emb = Embedder::open("bench", &model, opts(v, threads)).unwrap();
        emb.audio().unwrap();
        let t = Instant::now();
        let mut wins = Vec::new();
        let mut fv = Vec::new();
        for file in &inputs {
            let mut per_file = Vec::new();
            for w in file {
                per_file.extend(emb.embed_windows(&[w.as_slice()]).unwrap());
            }
            fv.push(pool(&per_file));
            wins.extend(per_file);
        }
        let per_window = t.elapsed().as_secs_f64() / n_windows as f64;
        emb.text().unwrap();
        emb.embed_text("warm up").unwrap();
        let t = Instant::now();
        let tv: Vec<Vec<f32>> = QUERIES.iter().map(|q| emb.embed_text(q).unwrap()).collect();
        let per_query = t.elapsed().as_secs_f64() / QUERIES.len() as f64;
        speed.push((per_window, per_query));
        window_vecs.push(wins);
        file_vecs.push(fv);
        text_vecs.push(tv);
    }

    // Cold starts in fresh processes.
    let runs: usize = env_or("AVX_BENCH_COLD_RUNS", 3);
    let exe = std::env::current_exe().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut cold_figs = Vec::new();
    for v in VARIANTS {
        let mut per_tower = Vec::new();
        for tower in ["audio", "text"] {
            let mut loads = Vec::new();
            let mut firsts = Vec::new();
            let mut rss = Vec::new();
            // The first start saves the optimised graph (once per model file); it is not counted.
            for run in 0..=runs {
                let out = Command::new(&exe)
                    .env("AVX_VARIANTS_COLD", format!("{tower}:{}", v.name()))
                    .env("AVX_VARIANTS_CACHE", cache.path())
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                let line = text
                    .lines()
                    .find_map(|l| l.strip_prefix("COLD "))
                    .unwrap_or_else(|| {
                        panic!("cold run failed: {}", String::from_utf8_lossy(&out.stderr))
                    });
                let f: Vec<f64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
                if run == 0 {
                    continue;
                }
                loads.push(f[0]);
                firsts.push(f[1]);
                rss.push(f[2]);
            }
            per_tower.push((median(loads), median(firsts), median(rss)));
        }
        cold_figs.push(per_tower);
    }

    // Agreement with fp32.
    let lib = &file_vecs[0];
    println!(
        "{:<6} {:>9} {:>9} | {:>8} {:>8} {:>7} | {:>8} {:>8} {:>7} | {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "var",
        "win_ms",
        "query_ms",
        "a_load_s",
        "a_first",
        "a_rssMB",
        "t_load_s",
        "t_first",
        "t_rssMB",
        "win_cos_mn",
        "win_cos_md",
        "txt_cos_mn",
        "txt_cos_md",
        "sim_top10",
        "srch_top10"
    );
    for (i, v) in VARIANTS.iter().enumerate() {
        let wc: Vec<f64> = window_vecs[i]
            .iter()
            .zip(&window_vecs[0])
            .map(|(a, b)| dot(a, b))
            .collect();
        let tc: Vec<f64> = text_vecs[i]
            .iter()
            .zip(&text_vecs[0])
            .map(|(a, b)| dot(a, b))
            .collect();
        let sim: Vec<f64> = (0..lib.len())
            .map(|q| overlap(&top_k(lib, &lib[q], 10), &top_k(lib, &file_vecs[i][q], 10)))
            .collect();
        let srch: Vec<f64> = (0..QUERIES.len())
            .map(|q| {
                overlap(
                    &top_k(lib, &text_vecs[0][q], 10),
                    &top_k(lib, &text_vecs[i][q], 10),
                )
            })
            .collect();
        let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
        let min = |x: &[f64]| x.iter().copied().fold(f64::INFINITY, f64::min);
        let (a, t) = (cold_figs[i][0], cold_figs[i][1]);
        println!(
            "{:<6} {:>9.1} {:>9.1} | {:>8.2} {:>8.2} {:>7.0} | {:>8.2} {:>8.2} {:>7.0} | {:>9.5} {:>9.5} {:>9.5} {:>9.5} {:>9.3} {:>9.3}",
            v.name(),
            speed[i].0 * 1e3,
            speed[i].1 * 1e3,
            a.0,
            a.1,
            a.2,
            t.0,
            t.1,
            t.2,
            min(&wc),
            median(wc.clone()),
            min(&tc),
            median(tc.clone()),
            mean(&sim),
            mean(&srch),
        );
    }
    println!(
        "win_ms/query_ms: warm, per 10 s window (batch 1) and per text query; *_load_s: session creation from the saved \
         ORT-format graph in a fresh process (median of {runs}, after one start that saves it); *_first: then embedding {} / the first query; *_rssMB: peak RSS of that process; \
         cos: min and median over windows/queries; top10: mean overlap with fp32's top 10 over a library of {} fp32 \
         file vectors",
        probe.display(),
        lib.len()
    );
}
