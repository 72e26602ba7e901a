//! End-to-end embedding throughput: avx's pipeline (decode + resample + log-mel on worker threads, batched
//! inference) against the bare ONNX Runtime session fed ready-made model input, in the same process, alternated
//! round by round so that the ratio holds on a shared machine.
//!
//!     AVX_BENCH_MODEL=/path/to/full-size/model cargo bench -p avx-embed --bench pipeline
//!
//! The model directory is a full-size export (`models/export_clap.py --random-init --variants`); speed does not
//! depend on weight values. Without `AVX_BENCH_MODEL` the bench says so and exits. The inputs are 10 s 44.1 kHz
//! stereo FLAC files and 0.1 to 2 s one-shots, encoded with `sox` (or `ffmpeg`), which must be installed.
//!
//! Each round runs, one after the other: the bare session at batch 1 and at `AVX_BENCH_BATCH`; the pipeline as
//! `avx index` runs it (sound prints on) at both batch sizes with the decoders at avx's default priority, and at
//! the default batch size with the decoders at each other priority (`SCHED_IDLE`, nice +10, normal); the pipeline
//! without sound prints (as `avx embed` runs it); avx's own session wrapper (`Embedder`) on the ready-made input;
//! and the one-shots at each priority. Every run reports wall time and the process's CPU time (user + system,
//! `getrusage`) per window; the summary gives, per setting, the median over rounds of the ratio to the best bare
//! session of the same round. The front end's own cost (decode + resample + log-mel, one thread) is measured
//! once, before the rounds.
//!
//! Environment: `AVX_BENCH_FILES` (default 16 ten-second files), `AVX_BENCH_THREADS` (default: all cores),
//! `AVX_BENCH_BATCH` (default 4), `AVX_BENCH_VARIANT` (default "fp32"), `AVX_BENCH_SHORT` (default 40 one-shots),
//! `AVX_BENCH_ROUNDS` (default 3), `AVX_BENCH_SPINNING` (default 0: ONNX Runtime's intra-op threads sleep when idle,
//! as the command line runs them; 1: they spin, in both the bare session and the pipeline).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use avx_embed::model::{AudioEncoder, SessionOptions, Variant};
use avx_embed::pipeline::{embed_files, DecoderPriority, FileOutcome, PipelineOptions};
use avx_embed::{Embedder, FrontEndSpec, WindowStream};

#[path = "util.rs"]
mod util;
use util::{env_or, median, write_wav};

/// Wall and CPU seconds of `f`.
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let ((), wall, cpu) = util::timed(f);
    (wall, cpu)
}

/// `wav` as 16-bit FLAC at `flac`, with sox or else ffmpeg.
fn to_flac(wav: &Path, flac: &Path) {
    let sox = Command::new("sox").arg(wav).arg(flac).status();
    if matches!(sox, Ok(s) if s.success()) {
        return;
    }
    let ff = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(wav)
        .arg(flac)
        .status();
    assert!(
        matches!(ff, Ok(s) if s.success()),
        "pipeline bench: cannot encode FLAC: install sox or ffmpeg (apt-get install sox)"
    );
}

/// `seconds` of 44.1 kHz stereo 16-bit WAV with seeded content.
fn write_file(path: &Path, seed: u64, seconds: f64) {
    let rate = 44_100u32;
    let n = (rate as f64 * seconds) as usize;
    let mut s = seed.wrapping_add(0x9E3779B97F4A7C15);
    let samples: Vec<i16> = (0..n)
        .flat_map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2;
            let t = i as f32 / rate as f32;
            let v =
                0.3 * (2.0 * std::f32::consts::PI * (110.0 + seed as f32 * 37.0) * t).sin() + noise;
            let q = (v.clamp(-1.0, 1.0) * 32767.0) as i16;
            [q, q]
        })
        .collect();
    write_wav(path, rate, 2, &samples);
}

/// The decoder priorities compared.
const PRIORITIES: [DecoderPriority; 3] = [
    DecoderPriority::Idle,
    DecoderPriority::Background,
    DecoderPriority::Normal,
];

/// How a row names a decoder priority.
fn priority_name(p: DecoderPriority, default: DecoderPriority) -> String {
    let name = match p {
        DecoderPriority::Idle => "at SCHED_IDLE",
        DecoderPriority::Background => "at nice +10",
        DecoderPriority::Normal => "at normal priority",
    };
    if p == default {
        format!("{name} (default)")
    } else {
        name.to_string()
    }
}

fn main() {
    let Some(model) = std::env::var_os("AVX_BENCH_MODEL").map(PathBuf::from) else {
        eprintln!("pipeline bench: set AVX_BENCH_MODEL to a full-size model directory (models/export_clap.py)");
        return;
    };
    let n_files: usize = env_or("AVX_BENCH_FILES", 16);
    let threads: usize = env_or(
        "AVX_BENCH_THREADS",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let batch: usize = env_or("AVX_BENCH_BATCH", 4);
    let variant: Variant = env_or("AVX_BENCH_VARIANT", "fp32".to_string())
        .parse()
        .unwrap();
    let rounds: usize = env_or("AVX_BENCH_ROUNDS", 3);
    let n_short: usize = env_or("AVX_BENCH_SHORT", 40);
    let dir = tempfile::tempdir().unwrap();
    let make = |name: String, seed: u64, seconds: f64| {
        let wav = dir.path().join(format!("{name}.wav"));
        let flac = dir.path().join(format!("{name}.flac"));
        write_file(&wav, seed, seconds);
        to_flac(&wav, &flac);
        std::fs::remove_file(&wav).unwrap();
        flac
    };
    let files: Vec<PathBuf> = (0..n_files)
        .map(|i| make(format!("f{i:03}"), i as u64, 10.0))
        .collect();
    // One-shots from 0.1 to 2 s, evenly spread.
    let shorts: Vec<PathBuf> = (0..n_short)
        .map(|i| {
            let secs = 0.1 + 1.9 * i as f64 / (n_short.max(2) - 1) as f64;
            make(format!("s{i:03}"), 1000 + i as u64, secs)
        })
        .collect();
    let spec = FrontEndSpec::clap_from_preprocessor_config(&model.join("preprocessor_config.json"))
        .unwrap();
    // Model input for the bare session, computed once on this thread: the front end's own cost.
    let mut windows = Vec::new();
    let (fe_wall, fe_cpu) = timed(|| {
        for f in &files {
            let mut s = WindowStream::open(f, &spec, spec.window_seconds()).unwrap();
            while let Some(w) = s.next_window().unwrap() {
                windows.push(w.features);
            }
        }
    });
    let w = windows.len() as f64;
    println!(
        "{n_files} FLAC files of 10 s, {} windows, {n_short} one-shots (0.1 to 2 s), {threads} threads, batch {batch}, {}",
        windows.len(),
        variant.name()
    );
    println!(
        "front end (decode + resample + log-mel, one thread): {:.1} ms wall, {:.1} ms CPU per window",
        fe_wall / w * 1e3,
        fe_cpu / w * 1e3
    );
    let opts = SessionOptions {
        variant,
        threads,
        spinning: env_or("AVX_BENCH_SPINNING", 0u8) == 1, // off, as the command line runs it
        ..Default::default()
    };
    println!(
        "ONNX Runtime intra-op spinning {}",
        if opts.spinning { "on" } else { "off" }
    );
    let mut bare = AudioEncoder::open_dir(&model, &spec, &opts).unwrap();
    bare.embed(&[windows[0].as_slice()]).unwrap(); // warm-up
    let mut emb = Embedder::open("bench", &model, opts.clone()).unwrap();
    emb.embed_windows(&[windows[0].as_slice()]).unwrap(); // loads the audio tower; warm-up
    let mut batches = vec![1, batch];
    batches.dedup();

    // (label, per-round (wall, cpu) per unit, per-round wall ratio, per-round cpu ratio)
    type Row = (String, Vec<(f64, f64)>, Vec<f64>, Vec<f64>);
    let mut rows: Vec<Row> = Vec::new();
    let mut record = |label: String, wall: f64, cpu: f64, ref_wall: f64, ref_cpu: f64| {
        if !rows.iter().any(|r| r.0 == label) {
            rows.push((label.clone(), Vec::new(), Vec::new(), Vec::new()));
        }
        let r = rows.iter_mut().find(|r| r.0 == label).unwrap();
        r.1.push((wall, cpu));
        r.2.push(wall / ref_wall);
        r.3.push(cpu / ref_cpu);
    };
    let run_pipeline = |emb: &mut Embedder,
                        files: &[PathBuf],
                        b: usize,
                        priority: DecoderPriority,
                        prints: bool| {
        let popts = PipelineOptions {
            batch: b,
            decoders: (threads / 2).max(1),
            decoder_priority: priority,
            prints,
            ..Default::default()
        };
        let mut ok = 0;
        let mut spare = 0;
        let t = timed(|| {
            spare = embed_files(emb, files, &popts, &AtomicBool::new(false), &mut |o| {
                if let FileOutcome::Embedded(_) = o {
                    ok += 1
                }
            })
            .unwrap()
            .spare_decoders;
        });
        assert_eq!(ok, files.len());
        if spare > 0 {
            eprintln!("  (batch {b}, {priority:?}: the idle decoders starved; a spare decoder ran at nice +10)");
        }
        t
    };
    let default_batch = PipelineOptions::default().batch;
    let default_priority = PipelineOptions::default().decoder_priority;
    for round in 1..=rounds {
        let mut best = (f64::INFINITY, f64::INFINITY);
        let mut bare_runs = Vec::new();
        for &b in &batches {
            let (wall, cpu) = timed(|| {
                for chunk in windows.chunks(b) {
                    let refs: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
                    bare.embed(&refs).unwrap();
                }
            });
            bare_runs.push((format!("bare session, batch {b}"), wall / w, cpu / w));
            if wall < best.0 {
                best = (wall, cpu);
            }
        }
        let (bw, bc) = (best.0 / w, best.1 / w);
        for (label, wall, cpu) in bare_runs {
            record(label, wall, cpu, bw, bc);
        }
        // avx's own session wrapper on the same ready-made input: what the pipeline's inference costs without
        // any decoding beside it.
        let (wall, cpu) = timed(|| {
            for chunk in windows.chunks(default_batch) {
                let refs: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
                emb.embed_windows(&refs).unwrap();
            }
        });
        record(
            format!("avx's embedder on ready input, batch {default_batch}"),
            wall / w,
            cpu / w,
            bw,
            bc,
        );
        // Every batch size at the default priority, then the default batch size at each other priority.
        let mut settings: Vec<(usize, DecoderPriority)> =
            batches.iter().map(|&b| (b, default_priority)).collect();
        for p in PRIORITIES {
            if p != default_priority {
                settings.push((default_batch, p));
            }
        }
        for (b, priority) in settings {
            let (wall, cpu) = run_pipeline(&mut emb, &files, b, priority, true);
            record(
                format!(
                    "pipeline (avx index), batch {b}, decoders {}",
                    priority_name(priority, default_priority)
                ),
                wall / w,
                cpu / w,
                bw,
                bc,
            );
        }
        // Without sound prints, as `avx embed` runs it.
        let (wall, cpu) = run_pipeline(&mut emb, &files, default_batch, default_priority, false);
        record(
            format!(
                "pipeline without prints (avx embed), batch {default_batch}, decoders at default"
            ),
            wall / w,
            cpu / w,
            bw,
            bc,
        );
        for p in PRIORITIES {
            let (wall, cpu) = run_pipeline(&mut emb, &shorts, default_batch, p, true);
            let ns = n_short as f64;
            record(
                format!(
                    "one-shots (batch {default_batch}), decoders {}: per file against per bare window",
                    priority_name(p, default_priority)
                ),
                wall / ns,
                cpu / ns,
                bw,
                bc,
            );
        }
        println!("round {round}/{rounds} done");
    }
    println!("\nmedians of {rounds} rounds (ratio: to the fastest bare session of the same round)");
    println!("| run | wall s/window | CPU s/window | wall ratio | CPU ratio |");
    println!("|---|---|---|---|---|");
    for (label, v, rw, rc) in rows {
        println!(
            "| {label} | {:.4} | {:.4} | {:+.1} % | {:+.1} % |",
            median(v.iter().map(|x| x.0).collect()),
            median(v.iter().map(|x| x.1).collect()),
            (median(rw) - 1.0) * 100.0,
            (median(rc) - 1.0) * 100.0
        );
    }
}
