//! Where a cold start's time goes: `avx similar NEW.wav` (audio tower session + decode + one 10 s window) and
//! `avx search TEXT` (text tower session + one query), each in a fresh child process (warm page cache): the graph
//! optimised on load, the saved optimised graph as ONNX (`SessionOptions::optimized_cache`, what avx did before)
//! and in ONNX Runtime's format over a memory map (`LoadTuning::ort_format`, what the command line uses), and
//! ONNX Runtime's session settings (`LoadTuning`, spinning, threads), alternated run by run so the ratios hold on
//! a shared machine.
//!
//!     AVX_BENCH_MODEL=/path/to/full-size/model cargo run --release -p avx-embed --example cold_start
//!
//! Each child reports: loading ONNX Runtime, creating the session, the front end (decode + resample + log-mel of
//! a 10 s 44.1 kHz WAV) or tokenising, the first run, its CPU time (user + system) and peak RSS up to there, and
//! a second run of the same input (what a warm run costs, to show the first run's set-up); the parent adds the
//! process's wall time from spawn to exit (which includes the second run). Medians of `AVX_BENCH_COLD_RUNS` (default 5).
//! `AVX_BENCH_THREADS` (default 2).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use avx_embed::model::{AudioEncoder, LoadTuning, SessionOptions, TextEncoder, Variant};
use avx_embed::{runtime, FrontEndSpec, WindowStream};

#[path = "util.rs"]
mod util;
use util::{cpu_seconds, env_or, median, peak_rss_mb, write_wav};

/// One child's wall time and its `key=value` figures.
type Sample = (f64, Vec<(String, f64)>);

/// 10 s of 44.1 kHz stereo 16-bit WAV: a 440 Hz tone.
fn write_tone(path: &Path) {
    let rate = 44_100u32;
    let samples: Vec<i16> = (0..rate as usize * 10)
        .flat_map(|i| {
            let t = i as f32 / rate as f32;
            let q = ((2.0 * std::f32::consts::PI * 440.0 * t).sin() * 8000.0) as i16;
            [q, q]
        })
        .collect();
    write_wav(path, rate, 2, &samples);
}

/// The child: one cold start, printed as `key=value` pairs.
fn child(args: &[String]) {
    let t0 = Instant::now();
    let (tower, variant, level, cache, tuning, model, wav) = (
        &args[0],
        args[1].parse::<Variant>().unwrap(),
        args[2].parse::<u8>().unwrap(),
        &args[3],
        &args[4],
        PathBuf::from(&args[5]),
        PathBuf::from(&args[6]),
    );
    let has = |flag: &str| tuning.split(',').any(|f| f == flag);
    let opts = SessionOptions {
        variant,
        threads: if has("t1") {
            1
        } else {
            env_or("AVX_BENCH_THREADS", 2)
        },
        optimization: level,
        spinning: has("spin"),
        optimized_cache: (cache != "-").then(|| PathBuf::from(cache)),
        load: LoadTuning {
            ort_format: has("ort"),
            memory_pattern: !has("nopattern"),
            cpu_arena: !has("noarena"),
        },
        ..Default::default()
    };
    runtime::init().unwrap();
    let init = t0.elapsed().as_secs_f64();
    let t = Instant::now();
    // The cold start's CPU time and peak RSS are read after its first run; the second run only shows what the
    // first one's set-up cost.
    let (session, front, run, again, cold);
    // CPU time (all threads) at each phase's end: created, front end, first run, second run.
    let mut cpu = [0f64; 5];
    cpu[0] = cpu_seconds();
    if tower == "audio" {
        let spec =
            FrontEndSpec::clap_from_preprocessor_config(&model.join("preprocessor_config.json"))
                .unwrap();
        let mut enc = AudioEncoder::open_dir(&model, &spec, &opts).unwrap();
        session = t.elapsed().as_secs_f64();
        cpu[1] = cpu_seconds();
        let t = Instant::now();
        let mut s = WindowStream::open(&wav, &spec, spec.window_seconds()).unwrap();
        let w = s.next_window().unwrap().unwrap();
        front = t.elapsed().as_secs_f64();
        cpu[2] = cpu_seconds();
        let t = Instant::now();
        enc.embed(&[w.features.as_slice()]).unwrap();
        run = t.elapsed().as_secs_f64();
        cold = (cpu_seconds(), peak_rss_mb());
        cpu[3] = cold.0;
        let t = Instant::now();
        enc.embed(&[w.features.as_slice()]).unwrap();
        again = t.elapsed().as_secs_f64();
        cpu[4] = cpu_seconds();
    } else {
        let mut enc = TextEncoder::open_dir(&model, &opts).unwrap();
        session = t.elapsed().as_secs_f64();
        cpu[1] = cpu_seconds();
        let t = Instant::now();
        enc.tokenize("a heavy door slamming shut").unwrap();
        front = t.elapsed().as_secs_f64();
        cpu[2] = cpu_seconds();
        let t = Instant::now();
        enc.embed("a heavy door slamming shut").unwrap();
        run = t.elapsed().as_secs_f64();
        cold = (cpu_seconds(), peak_rss_mb());
        cpu[3] = cold.0;
        let t = Instant::now();
        enc.embed("a heavy door slamming shut").unwrap();
        again = t.elapsed().as_secs_f64();
        cpu[4] = cpu_seconds();
    }
    println!(
        "init={init} session={session} front={front} run={run} again={again} cpu={} rss={} cpu_session={} \
         cpu_run={} cpu_again={}",
        cold.0,
        cold.1,
        cpu[1] - cpu[0],
        cpu[3] - cpu[2],
        cpu[4] - cpu[3]
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    let Some(model) = std::env::var_os("AVX_BENCH_MODEL").map(PathBuf::from) else {
        eprintln!("cold_start: set AVX_BENCH_MODEL to a full-size model directory (models/export_clap.py)");
        return;
    };
    let runs: usize = env_or("AVX_BENCH_COLD_RUNS", 5);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("new.wav");
    write_tone(&wav);
    let cache = dir.path().join("optimized");
    // (label, tower, variant, level, cache, tuning flags: ort = the saved graph in ONNX Runtime's format over a
    // memory map, nopattern = no memory pattern, noarena = no CPU arena, spin = intra-op threads spin, t1 = one
    // thread). avx's default: the saved ORT graph, mapped; the saved ONNX graph is what it did before.
    type Config = (
        &'static str,
        &'static str,
        &'static str,
        u8,
        bool,
        &'static str,
    );
    let all: Vec<Config> = vec![
        (
            "audio fp32, level 3, optimised on load",
            "audio",
            "fp32",
            3,
            false,
            "-",
        ),
        (
            "audio fp32, saved ONNX graph",
            "audio",
            "fp32",
            3,
            true,
            "-",
        ),
        (
            "audio fp32, saved ORT graph, mapped (avx)",
            "audio",
            "fp32",
            3,
            true,
            "ort",
        ),
        (
            "audio fp32, saved ORT graph, no arena, no memory pattern",
            "audio",
            "fp32",
            3,
            true,
            "ort,noarena,nopattern",
        ),
        (
            "audio fp32, saved ORT graph, spinning",
            "audio",
            "fp32",
            3,
            true,
            "ort,spin",
        ),
        (
            "audio fp32, saved ORT graph, 1 thread",
            "audio",
            "fp32",
            3,
            true,
            "ort,t1",
        ),
        (
            "text int8, level 3, optimised on load",
            "text",
            "int8",
            3,
            false,
            "-",
        ),
        ("text int8, saved ONNX graph", "text", "int8", 3, true, "-"),
        (
            "text int8, saved ORT graph, mapped (avx)",
            "text",
            "int8",
            3,
            true,
            "ort",
        ),
        ("text fp32, saved ONNX graph", "text", "fp32", 3, true, "-"),
        (
            "text fp32, saved ORT graph, mapped",
            "text",
            "fp32",
            3,
            true,
            "ort",
        ),
    ];
    // AVX_BENCH_COLD_ONLY=word,word keeps the settings whose label contains every word.
    let only = std::env::var("AVX_BENCH_COLD_ONLY").unwrap_or_default();
    let configs: Vec<Config> = all
        .into_iter()
        .filter(|c| only.split(',').all(|w| c.0.contains(w.trim())))
        .collect();
    let exe = std::env::current_exe().unwrap();
    let spawn = |c: &Config| -> Sample {
        let t = Instant::now();
        let out = Command::new(&exe)
            .arg("--child")
            .args([c.1, c.2, &c.3.to_string()])
            .arg(if c.4 { cache.as_os_str() } else { "-".as_ref() })
            .arg(c.5)
            .arg(&model)
            .arg(&wav)
            .output()
            .unwrap();
        let wall = t.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fields = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect();
        (wall, fields)
    };
    // Saving the graphs is a one-time cost, measured once before the runs.
    for c in configs.iter().filter(|c| c.4) {
        let (wall, _) = spawn(c);
        println!("{}: first start, saving the graph: {wall:.2} s", c.0);
    }
    let mut results: Vec<Vec<Sample>> = vec![Vec::new(); configs.len()];
    for _ in 0..runs {
        for (i, c) in configs.iter().enumerate() {
            results[i].push(spawn(c));
        }
    }
    println!("\nmedians of {runs} cold processes each (seconds; rss MB)");
    println!("| start | process wall | CPU | ORT load | session | front end / tokens | first run | second run | CPU: session, first run, second run | peak RSS |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (c, r) in configs.iter().zip(results) {
        let get = |k: &str| {
            median(
                r.iter()
                    .map(|(_, f)| f.iter().find(|(n, _)| n == k).map_or(f64::NAN, |x| x.1))
                    .collect(),
            )
        };
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3}, {:.3}, {:.3} | {:.0} |",
            c.0,
            median(r.iter().map(|x| x.0).collect()),
            get("cpu"),
            get("init"),
            get("session"),
            get("front"),
            get("run"),
            get("again"),
            get("cpu_session"),
            get("cpu_run"),
            get("cpu_again"),
            get("rss")
        );
    }
}
