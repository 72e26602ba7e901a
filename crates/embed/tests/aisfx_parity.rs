//! aiSFX: avx's vectors against the aisfx package's own functions (`compute_spectrogram`, `spectrogram_normalize`,
//! `blocking`, under librosa 0.11) and the real ONNX, on committed test files: 44.1 kHz files of every length from
//! one sample to a few blocks (stereo, Vorbis), and files at 8 to 96 kHz that both sides resample. Goldens:
//! `tests/golden/aisfx/reference.json` (made by `tests/golden/make_aisfx_golden.py`).
//!
//! Tolerances are README's "Reference parity" claims, per class of input: cosine to the reference at least
//! [`MIN_COSINE_NATIVE`] for files at the model's rate (no resampling: the front ends agree to float rounding) and
//! [`MIN_COSINE_RESAMPLED`] for files both sides resample (rubato against soxr HQ); the block count is exact.
//!
//! The model is committed in `models/aisfx/` (CC BY 4.0, see its NOTICE); a missing model is a failure.

use std::path::{Path, PathBuf};

use avx_embed::blocks::BlockSpec;
use avx_embed::embedder::load_spec;
use avx_embed::model::SessionOptions;
use avx_embed::{Embedder, ModelFrontEnd};

/// Files at 44.1 kHz, any length.
const MIN_COSINE_NATIVE: f64 = 0.9999;
/// Files at 8 to 96 kHz other than 44.1 kHz.
const MIN_COSINE_RESAMPLED: f64 = 0.999;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn fixture_front_end_is_the_builtin_aisfx() {
    let spec = load_spec(&root().join("tests/fixtures/aisfx")).unwrap();
    assert_eq!(spec, ModelFrontEnd::Blocks(BlockSpec::aisfx()));
    assert_eq!(spec.input_shape(), vec![100, 96]);
    assert!((spec.default_hop_seconds() - 50.0 * 1024.0 / 44100.0).abs() < 1e-12);
    assert!((spec.window_seconds() - 100.0 * 1024.0 / 44100.0).abs() < 1e-12);
}

#[test]
fn aisfx_matches_python_reference() {
    let dir = root().join("models/aisfx");
    assert!(
        dir.join("onnx/audio_model.onnx").is_file(),
        "{}/onnx/audio_model.onnx is missing: it is committed in the repository (restore it with `git checkout -- models/aisfx`)",
        dir.display()
    );
    let mut emb = Embedder::open(
        "aisfx",
        &dir,
        SessionOptions {
            threads: 1,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!emb.has_text());
    let golden: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/golden/aisfx/reference.json")).unwrap(),
    )
    .unwrap();
    let mut failures = Vec::new();
    let files = golden["files"].as_array().unwrap();
    assert!(
        files.len() >= 20,
        "reference.json lists {} files",
        files.len()
    );
    for f in files {
        let name = f["file"].as_str().unwrap();
        let want: Vec<f32> = f["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let got = emb
            .embed_file(&root().join("tests/data/audio").join(name), None, 8)
            .unwrap();
        assert_eq!(
            got.windows.len() as u64,
            f["blocks"].as_u64().unwrap(),
            "{name}: block count"
        );
        let (s0, e0) = got.windows[0];
        assert_eq!(s0, 0.0);
        assert!(
            e0 <= got.info.duration_s + 1e-9 && e0 > 0.0,
            "{name}: first block ends at {e0}"
        );
        assert_eq!(
            got.info.sample_rate as u64,
            f["sample_rate"].as_u64().unwrap()
        );
        let resampled = f["resampled"].as_bool().unwrap();
        let min = if resampled {
            MIN_COSINE_RESAMPLED
        } else {
            MIN_COSINE_NATIVE
        };
        let c = cosine(&got.vector, &want);
        eprintln!(
            "{name:30} {:>6} Hz resampled={resampled:5} cosine {c:.7} (1 - {:.1e})",
            got.info.sample_rate,
            1.0 - c
        );
        if c < min {
            failures.push(format!("{name}: cosine {c} < {min}"));
        }
    }
    assert!(
        failures.is_empty(),
        "below the README's parity claims:\n{}",
        failures.join("\n")
    );
}
