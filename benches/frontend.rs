//! Front-end cost: decode + resample + log-mel per 10 s window, for WAV, FLAC, MP3 and Opus (44.1 kHz stereo; the
//! Opus copy decodes at 48 kHz), plus the decoding alone, the log-mel alone and the committed test files.
//!
//! A 60 s test signal (chirps, a sawtooth and seeded noise bursts) is written as 16-bit WAV at bench time into a
//! temporary directory; FLAC, MP3 and Opus copies are made with `sox` or `ffmpeg` when one is installed
//! (otherwise those cases are skipped with a message). Throughput is counted in 10 s windows, so criterion's
//! "elem/s" is windows per second and the time per iteration divided by 6 is the cost per window.
//!
//! The Python reference (`librosa.load(sr=48000)` + `ClapFeatureExtractor`) is timed when `AVX_BENCH_PYTHON` names a
//! Python with those packages (after one untimed pass, the median of five), and printed beside the Rust numbers.
//!
//! `cargo bench -p avx-embed --bench frontend`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use avx_embed::decode::Decoder;
use avx_embed::{FrontEndSpec, WindowStream};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "util.rs"]
mod util;
use util::write_wav;

const SECONDS: usize = 60;
const RATE: u32 = 44_100;

fn test_signal() -> Vec<i16> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let n = SECONDS * RATE as usize;
    let mut out = Vec::with_capacity(n * 2);
    for i in 0..n {
        let t = i as f64 / RATE as f64;
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
        let burst = if (t * 0.7).fract() < 0.3 { 0.3 } else { 0.0 };
        let chirp = (2.0 * std::f64::consts::PI * (200.0 * t + 60.0 * t * t)).sin();
        let saw = 2.0 * (t * 330.0).fract() - 1.0;
        out.push(((0.4 * chirp + burst * noise) * 20_000.0) as i16);
        out.push(((0.3 * saw + burst * noise) * 20_000.0) as i16);
    }
    out
}

fn convert(wav: &Path, out: &Path) -> bool {
    let tries: [Vec<&str>; 2] = [
        vec!["sox", wav.to_str().unwrap(), out.to_str().unwrap()],
        vec![
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            wav.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    ];
    tries.iter().any(|cmd| {
        Command::new(cmd[0])
            .args(&cmd[1..])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
            && out.exists()
    })
}

fn windows_of(path: &Path, spec: &FrontEndSpec) -> usize {
    let mut n = 0;
    for w in WindowStream::open(path, spec, spec.window_seconds()).unwrap() {
        black_box(w.unwrap().features[0]);
        n += 1;
    }
    n
}

fn python_reference(python: &str, path: &Path) -> Option<f64> {
    // One untimed pass (imports, first-call set-up, caches), then the median of five timed passes: the
    // reference's steady state, as a long indexing run would see it.
    let script = r#"
import sys, time, statistics, librosa, numpy as np
# From its module: transformers' top-level name demands PyTorch, which the extractor does not need.
from transformers.models.clap.feature_extraction_clap import ClapFeatureExtractor
fe = ClapFeatureExtractor(feature_size=64, sampling_rate=48000, hop_length=480, max_length_s=10,
    fft_window_size=1024, frequency_min=50, frequency_max=14000, truncation="rand_trunc", padding="repeatpad")
def once():
    t = time.perf_counter()
    y, _ = librosa.load(sys.argv[1], sr=48000, mono=True)
    for s in range(0, len(y) - 480000 + 1, 480000):
        fe(y[s:s + 480000], sampling_rate=48000, return_tensors="np")
    return (time.perf_counter() - t) / (len(y) / 480000)
once()
print(statistics.median(once() for _ in range(5)))
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()?
        .parse()
        .ok()
}

fn bench(c: &mut Criterion) {
    let spec = FrontEndSpec::clap_htsat_unfused();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("signal.wav");
    write_wav(&wav, RATE, 2, &test_signal());
    let mut files: Vec<(&str, PathBuf)> = vec![("wav", wav.clone())];
    for ext in ["flac", "mp3", "opus"] {
        let p = dir.path().join(format!("signal.{ext}"));
        if convert(&wav, &p) {
            files.push((ext, p));
        } else {
            eprintln!(
                "frontend bench: neither sox nor ffmpeg could write {ext}; skipping that case"
            );
        }
    }
    let mut g = c.benchmark_group("decode_resample_mel_44k1_stereo_60s");
    g.sample_size(10);
    for (name, path) in &files {
        // 6 windows, or 7 when an encoder's padding makes the file a little longer than 60 s.
        let windows = windows_of(path, &spec);
        g.throughput(Throughput::Elements(windows as u64));
        g.bench_function(*name, |b| b.iter(|| windows_of(path, &spec)));
    }
    g.finish();

    if let Ok(python) = std::env::var("AVX_BENCH_PYTHON") {
        for (name, path) in &files {
            // Our median of five passes in the same run, so that the ratio compares like with like; both sides
            // per 10 s of audio (an encoder's padding can add a seventh, end-aligned window to a 60 s file).
            let mut runs: Vec<f64> = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    windows_of(path, &spec);
                    t.elapsed().as_secs_f64() / (SECONDS as f64 / 10.0)
                })
                .collect();
            runs.sort_by(f64::total_cmp);
            let ours = runs[2];
            match python_reference(&python, path) {
                Some(s) => eprintln!(
                    "{name}: avx {:.1} ms per 10 s of audio, python reference (librosa.load sr=48000 + ClapFeatureExtractor) \
                     {:.1} ms: {:.1}x faster; {:.1} % of the model's 0.6 s per 10 s window",
                    ours * 1e3,
                    s * 1e3,
                    s / ours,
                    ours / 0.6 * 100.0
                ),
                None => eprintln!("python reference failed for {name}"),
            }
        }
    }

    // The parts: decoding and down-mixing alone, per file (6 windows of audio), and the log-mel of one window.
    let mut g = c.benchmark_group("decode_downmix_only_44k1_stereo_60s");
    g.sample_size(10);
    for (name, path) in &files {
        g.throughput(Throughput::Elements(SECONDS as u64 / 10));
        g.bench_function(*name, |b| {
            b.iter(|| {
                let mut d = Decoder::open(path).unwrap();
                let mut n = 0;
                while let Some(chunk) = d.next_chunk().unwrap() {
                    n += chunk.len();
                }
                black_box(n)
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("log_mel_only");
    g.throughput(Throughput::Elements(1));
    let window: Vec<f32> = (0..spec.window_samples())
        .map(|i| ((i as f32) * 0.01).sin() * 0.3)
        .collect();
    let mut out = Vec::new();
    g.bench_function("one_10s_window", |b| {
        b.iter(|| spec.features(black_box(&window), &mut out))
    });
    g.finish();

    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/audio");
    let mut g = c.benchmark_group("committed_test_files");
    g.sample_size(10);
    for name in [
        "stereo44k_4s.mp3",
        "stereo44k_aac_4s.m4a",
        "stereo44k_4s.ogg",
        "mono16k_s16_11s.wav",
    ] {
        let p = data.join(name);
        if p.exists() {
            g.bench_function(name, |b| b.iter(|| windows_of(&p, &spec)));
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
