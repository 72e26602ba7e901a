//! Reference parity of the model path: avx's vectors against PyTorch's (`ClapModel.get_audio_features` /
//! `get_text_features`, normalised) for the committed tiny random-weight CLAP in `tests/fixtures/tiny-clap`.
//!
//! Goldens: `tests/golden/embed/tiny-clap.json`, made by `tests/golden/make_embed_golden.py`.
//! Tolerances (every golden): cosine >= 0.99999 and max |difference| <= 1e-4.
//!
//! Needs ONNX Runtime: run through the README's test command, which installs it first.

use std::path::{Path, PathBuf};

use avx_embed::model::{pool, AudioEncoder, SessionOptions, TextEncoder};
use avx_embed::{Embedder, FrontEndSpec};

const MIN_COSINE: f64 = 0.99999;
const MAX_ABS: f32 = 1e-4;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn golden() -> serde_json::Value {
    let p = root().join("tests/golden/embed/tiny-clap.json");
    serde_json::from_slice(&std::fs::read(&p).expect("golden file")).expect("golden json")
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// Asserts the parity bounds and returns (cosine, max abs diff).
fn check(what: &str, got: &[f32], want: &[f32]) -> (f64, f32) {
    assert_eq!(got.len(), want.len(), "{what}: dimension");
    let dot: f64 = got
        .iter()
        .zip(want)
        .map(|(a, b)| *a as f64 * *b as f64)
        .sum();
    let na: f64 = got.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = want.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    let cos = dot / (na * nb);
    let max = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        cos >= MIN_COSINE && max <= MAX_ABS,
        "{what}: cosine {cos:.8} (need >= {MIN_COSINE}), max abs diff {max:.2e} (need <= {MAX_ABS:.0e})"
    );
    (cos, max)
}

fn tiny() -> PathBuf {
    root().join("tests/fixtures/tiny-clap")
}

fn read_mel(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let f = std::fs::File::open(path).expect("mel golden");
    avx_embed::npy::read_npy_f32(flate2::read::GzDecoder::new(f)).expect("npy")
}

/// The model alone: reference log-mels in, vectors out, compared with PyTorch on the same log-mels.
#[test]
fn audio_tower_matches_pytorch_on_reference_mels() {
    let g = golden();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/golden/mel/manifest.json")).unwrap(),
    )
    .unwrap();
    let spec = FrontEndSpec::clap_htsat_unfused();
    let mut enc = AudioEncoder::open_dir(&tiny(), &spec, &SessionOptions::default())
        .expect("open audio tower");
    let mut checked = 0;
    for item in g["audio"].as_array().unwrap() {
        let file = item["file"].as_str().unwrap();
        let entry = manifest
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["file"] == file)
            .unwrap_or_else(|| panic!("{file} not in mel manifest"));
        let (shape, data) = read_mel(&root().join(entry["golden"].as_str().unwrap()));
        let per = shape[1] * shape[2];
        let windows: Vec<&[f32]> = data.chunks(per).collect();
        let (dim, rows) = enc.embed(&windows).expect("inference");
        let want_windows = item["window_vectors"].as_array().unwrap();
        assert_eq!(rows.len() / dim, want_windows.len(), "{file}: window count");
        let mut got_windows = Vec::new();
        for (i, (got, want)) in rows.chunks(dim).zip(want_windows).enumerate() {
            check(&format!("{file} window {i}"), got, &floats(want));
            got_windows.push(got.to_vec());
        }
        check(
            &format!("{file} pooled"),
            &pool(&got_windows),
            &floats(&item["vector"]),
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} golden files checked");
}

/// The whole path on 48 kHz lossless files (no resampler between avx and the reference): decode, window,
/// log-mel, model, pool.
#[test]
fn end_to_end_matches_pytorch_on_48k_files() {
    let g = golden();
    let mut emb = Embedder::open("tiny", &tiny(), SessionOptions::default()).expect("open model");
    let mut checked = 0;
    for item in g["audio"].as_array().unwrap() {
        let file = item["file"].as_str().unwrap();
        if !file.contains("48k") || file.ends_with(".mp3") {
            continue;
        }
        let f = emb.embed_file(&root().join(file), None, 4).expect("embed");
        let want_times: Vec<(f64, f64)> = item["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| (w[0].as_f64().unwrap(), w[1].as_f64().unwrap()))
            .collect();
        assert_eq!(f.windows.len(), want_times.len(), "{file}: window count");
        for (a, b) in f.windows.iter().zip(&want_times) {
            assert!(
                (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9,
                "{file}: window {a:?} vs {b:?}"
            );
        }
        check(
            &format!("{file} end to end"),
            &f.vector,
            &floats(&item["vector"]),
        );
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} files checked");
}

fn check_text(model: &Path, expect_mask: bool) {
    let g = golden();
    let mut enc = TextEncoder::open(
        model,
        &tiny().join("tokenizer.json"),
        &SessionOptions::default(),
    )
    .expect("open text");
    assert_eq!(enc.has_attention_mask(), expect_mask);
    for item in g["text"].as_array().unwrap() {
        let text = item["text"].as_str().unwrap();
        let ids: Vec<i64> = item["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        assert_eq!(enc.tokenize(text).unwrap(), ids, "token ids of {text:?}");
        let v = enc.embed(text).expect("embed text");
        check(
            &format!("text {text:?} (mask: {expect_mask})"),
            &v,
            &floats(&item["vector"]),
        );
    }
}

#[test]
fn text_tower_with_attention_mask_matches_pytorch() {
    check_text(&tiny().join("onnx/text_model.onnx"), true);
}

#[test]
fn text_tower_without_attention_mask_matches_pytorch() {
    check_text(&tiny().join("onnx/text_model_nomask.onnx"), false);
}

#[test]
fn long_prompts_truncate_to_77_tokens() {
    let enc = TextEncoder::open(
        &tiny().join("onnx/text_model.onnx"),
        &tiny().join("tokenizer.json"),
        &SessionOptions::default(),
    )
    .unwrap();
    let long = "the sound of rain ".repeat(100);
    let ids = enc.tokenize(&long).unwrap();
    assert_eq!(ids.len(), avx_embed::model::MAX_TEXT_TOKENS);
    assert_eq!(ids[0], 0, "starts with <s>");
    assert_eq!(*ids.last().unwrap(), 2, "ends with </s>");
}

#[test]
fn missing_model_file_is_a_config_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = AudioEncoder::open_dir(
        dir.path(),
        &FrontEndSpec::clap_htsat_unfused(),
        &SessionOptions::default(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("audio_model.onnx") && msg.contains("--model-dir"),
        "{msg}"
    );
}

#[test]
fn a_text_file_posing_as_a_model_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("onnx")).unwrap();
    std::fs::write(
        dir.path().join("onnx/audio_model.onnx"),
        b"this is not an onnx file",
    )
    .unwrap();
    let err = AudioEncoder::open_dir(
        dir.path(),
        &FrontEndSpec::clap_htsat_unfused(),
        &SessionOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("audio_model.onnx"), "{err}");
}

/// Issue 18 (cold starts): a text query's fingerprint needs neither the audio tower's session nor a run on
/// silence: the dimension comes from `config.json` and agrees with what both towers produce.
#[test]
fn text_queries_do_not_load_the_audio_tower_and_the_declared_dim_is_the_real_one() {
    let mut emb = Embedder::open("tiny", &tiny(), SessionOptions::default()).unwrap();
    let fp = emb.fingerprint(1.0).unwrap();
    assert!(
        !emb.audio_loaded(),
        "the fingerprint loaded the audio tower"
    );
    let text = emb.embed_text("door slam").unwrap();
    assert!(!emb.audio_loaded(), "a text query loaded the audio tower");
    assert_eq!(text.len(), fp.dim);
    let n: usize = emb.spec().input_shape().iter().product();
    let silence = vec![0.0f32; n];
    assert_eq!(emb.embed_windows(&[&silence]).unwrap()[0].len(), fp.dim);
    assert!(emb.audio_loaded());
    assert_eq!(emb.fingerprint(1.0).unwrap(), fp);
}
