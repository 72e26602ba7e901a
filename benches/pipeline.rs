//! End-to-end embedding throughput: avx's pipeline (decode + resample + log-mel on worker threads, batched
//! inference) against the bare ONNX Runtime session fed ready-made model input, in the same process and run:
//! batch 1 and `AVX_BENCH_BATCH`, ONNX Runtime's intra-op spinning on and off, and short one-shots (files/s
//! against the bare session's windows/s).
//!
//!     AVX_BENCH_MODEL=/path/to/full-size/model cargo bench -p avx-embed --bench pipeline
//!
//! The model directory is a full-size export (`models/export_clap.py --random-init --variants`); speed does not
//! depend on weight values. Without `AVX_BENCH_MODEL` the bench says so and exits. Environment:
//! `AVX_BENCH_FILES` (default 50 ten-second files), `AVX_BENCH_THREADS` (default: all cores),
//! `AVX_BENCH_BATCH` (default 4), `AVX_BENCH_VARIANTS` (default "fp32", e.g. "fp32,fp16,int8"),
//! `AVX_BENCH_SHORT` (default 40 one-shots of 0.5 s). Prints windows/s for each and the pipeline's overhead
//! over the best bare session (the fastest of batch 1 and batch `AVX_BENCH_BATCH`, spinning on and off).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use avx_embed::model::{AudioEncoder, SessionOptions, Variant};
use avx_embed::pipeline::{embed_files, FileOutcome, PipelineOptions};
use avx_embed::{Embedder, FrontEndSpec, WindowStream};

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `seconds` of 44.1 kHz stereo 16-bit WAV with seeded content.
fn write_file(path: &Path, seed: u64, seconds: f64) {
    let rate = 44_100u32;
    let n = (rate as f64 * seconds) as usize;
    let mut data = Vec::with_capacity(44 + n * 4);
    let len = (n * 4) as u32;
    data.extend_from_slice(b"RIFF");
    data.extend_from_slice(&(36 + len).to_le_bytes());
    data.extend_from_slice(b"WAVEfmt ");
    data.extend_from_slice(&16u32.to_le_bytes());
    data.extend_from_slice(&1u16.to_le_bytes());
    data.extend_from_slice(&2u16.to_le_bytes());
    data.extend_from_slice(&rate.to_le_bytes());
    data.extend_from_slice(&(rate * 4).to_le_bytes());
    data.extend_from_slice(&4u16.to_le_bytes());
    data.extend_from_slice(&16u16.to_le_bytes());
    data.extend_from_slice(b"data");
    data.extend_from_slice(&len.to_le_bytes());
    let mut s = seed.wrapping_add(0x9E3779B97F4A7C15);
    for i in 0..n {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2;
        let t = i as f32 / rate as f32;
        let v = 0.3 * (2.0 * std::f32::consts::PI * (110.0 + seed as f32 * 37.0) * t).sin() + noise;
        let q = (v.clamp(-1.0, 1.0) * 32767.0) as i16;
        data.extend_from_slice(&q.to_le_bytes());
        data.extend_from_slice(&q.to_le_bytes());
    }
    std::fs::write(path, data).unwrap();
}

fn main() {
    let Some(model) = std::env::var_os("AVX_BENCH_MODEL").map(PathBuf::from) else {
        eprintln!("pipeline bench: set AVX_BENCH_MODEL to a full-size model directory (models/export_clap.py)");
        return;
    };
    let n_files: usize = env_or("AVX_BENCH_FILES", 50);
    let threads: usize = env_or(
        "AVX_BENCH_THREADS",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let batch: usize = env_or("AVX_BENCH_BATCH", 4);
    let variants: String = env_or("AVX_BENCH_VARIANTS", "fp32".to_string());
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..n_files)
        .map(|i| {
            let p = dir.path().join(format!("f{i:03}.wav"));
            write_file(&p, i as u64, 10.0);
            p
        })
        .collect();
    let spec = FrontEndSpec::clap_from_preprocessor_config(&model.join("preprocessor_config.json"))
        .unwrap();
    // Model input for the bare-session baseline, computed once, untimed.
    let mut windows = Vec::new();
    for f in &files {
        let mut s = WindowStream::open(f, &spec, spec.window_seconds()).unwrap();
        while let Some(w) = s.next_window().unwrap() {
            windows.push(w.features);
        }
    }
    println!(
        "{n_files} files, {} windows, {threads} threads, batch {batch}",
        windows.len()
    );
    let n_short: usize = env_or("AVX_BENCH_SHORT", 40);
    let shorts: Vec<PathBuf> = (0..n_short)
        .map(|i| {
            let p = dir.path().join(format!("s{i:03}.wav"));
            write_file(&p, 1000 + i as u64, 0.5);
            p
        })
        .collect();
    let mut batches = vec![1, batch];
    batches.dedup();
    let w = windows.len() as f64;
    for v in variants.split(',') {
        let variant: Variant = v.trim().parse().unwrap();
        let opts = |spinning: bool| SessionOptions {
            variant,
            threads,
            spinning,
            ..Default::default()
        };
        let mut best_bare = f64::INFINITY;
        for spinning in [true, false] {
            let t = Instant::now();
            let mut enc = AudioEncoder::open_dir(&model, &spec, &opts(spinning)).unwrap();
            let load = t.elapsed().as_secs_f64();
            enc.embed(&[windows[0].as_slice()]).unwrap(); // warm-up
            for &b in &batches {
                let t = Instant::now();
                for chunk in windows.chunks(b) {
                    let refs: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
                    enc.embed(&refs).unwrap();
                }
                let bare = t.elapsed().as_secs_f64();
                best_bare = best_bare.min(bare);
                println!(
                    "{v:>5}: load {load:.2} s | bare session, batch {b}, spinning {}: {:.2} windows/s ({:.3} s/window)",
                    if spinning { "on " } else { "off" },
                    w / bare,
                    bare / w
                );
            }
        }
        let run = |files: &[PathBuf], b: usize, spinning: bool| -> f64 {
            let mut emb = Embedder::open("bench", &model, opts(spinning)).unwrap();
            emb.embed_windows(&[windows[0].as_slice()]).unwrap(); // loads the audio tower; warm-up
            let popts = PipelineOptions {
                batch: b,
                decoders: (threads / 2).max(1),
                ..Default::default()
            };
            let cancel = AtomicBool::new(false);
            let mut ok = 0;
            let t = Instant::now();
            embed_files(&mut emb, files, &popts, &cancel, &mut |o| {
                if let FileOutcome::Embedded(_) = o {
                    ok += 1
                }
            })
            .unwrap();
            assert_eq!(ok, files.len());
            t.elapsed().as_secs_f64()
        };
        for &b in &batches {
            for spinning in [true, false] {
                let full = run(&files, b, spinning);
                println!(
                    "{v:>5}: pipeline, batch {b}, spinning {}: {:.2} windows/s | overhead over the best bare session {:+.1} %",
                    if spinning { "on " } else { "off" },
                    w / full,
                    (full / best_bare - 1.0) * 100.0
                );
            }
        }
        for spinning in [true, false] {
            let full = run(&shorts, batch, spinning);
            println!(
                "{v:>5}: {n_short} one-shots of 0.5 s, batch {batch}, spinning {}: {:.2} files/s against {:.2} bare windows/s: {:+.1} %",
                if spinning { "on " } else { "off" },
                n_short as f64 / full,
                w / best_bare,
                (full / n_short as f64 / (best_bare / w) - 1.0) * 100.0
            );
        }
    }
}
