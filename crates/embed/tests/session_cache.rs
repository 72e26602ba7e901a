//! The saved optimised graph (`SessionOptions::optimized_cache`), as ONNX and in ONNX Runtime's format over a
//! memory map (`LoadTuning::ort_format`): the first load writes it, later loads read it, and the vectors are bit
//! for bit those of a session optimised on load; a damaged saved graph is replaced, not an error; a model file
//! replaced at the same path gets its own saved graph. The session settings of `LoadTuning` leave the vectors
//! unchanged. Uses the committed tiny random-weight CLAP (`tests/fixtures/tiny-clap`).

use std::path::{Path, PathBuf};

use avx_embed::model::{optimized_path, tower_path, LoadTuning, SessionOptions, Variant};
use avx_embed::Embedder;

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-clap")
}

fn file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/audio/mono22k_5s.flac")
}

/// The file vector and a text vector with `opts`.
fn vectors(opts: &SessionOptions) -> (Vec<f32>, Vec<f32>) {
    let mut emb = Embedder::open("tiny", &tiny(), opts.clone()).expect("open model");
    let audio = emb.embed_file(&file(), None, 1).expect("embed").vector;
    let text = emb.embed_text("a door slam").expect("text");
    (audio, text)
}

#[test]
fn a_saved_optimised_graph_is_written_once_read_later_and_gives_the_same_vectors() {
    let cache = tempfile::tempdir().unwrap();
    let plain = SessionOptions {
        threads: 1,
        ..Default::default()
    };
    let cached = SessionOptions {
        optimized_cache: Some(cache.path().to_path_buf()),
        ..plain.clone()
    };
    let want = vectors(&plain);
    let audio = tower_path(&tiny(), "audio", Variant::Fp32);
    let saved = optimized_path(cache.path(), &audio, 3, false).unwrap();
    assert!(!saved.exists());
    assert_eq!(vectors(&cached), want, "first load (saving the graph)");
    assert!(saved.is_file(), "{} not written", saved.display());
    let text = optimized_path(
        cache.path(),
        &tower_path(&tiny(), "text", Variant::Fp32),
        3,
        false,
    )
    .unwrap();
    assert!(text.is_file(), "the text tower's graph is saved too");
    let written = std::fs::metadata(&saved).unwrap().modified().unwrap();
    assert_eq!(vectors(&cached), want, "second load (from the saved graph)");
    assert_eq!(
        std::fs::metadata(&saved).unwrap().modified().unwrap(),
        written,
        "the saved graph was rewritten instead of read"
    );
    let leftovers: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A damaged saved graph: the model file is loaded instead and the graph saved again.
    std::fs::write(&saved, b"not an onnx graph").unwrap();
    assert_eq!(vectors(&cached), want, "after damage");
    assert!(
        std::fs::metadata(&saved).unwrap().len() > 1000,
        "not saved again"
    );

    // A cache that cannot be written (here the temporary name is taken by a directory; as root, permissions would
    // not stop the write): the model loads anyway, unsaved.
    let stuck = tempfile::tempdir().unwrap();
    let saved = optimized_path(stuck.path(), &audio, 3, false).unwrap();
    std::fs::create_dir_all(saved.with_extension(format!("{}.part", std::process::id()))).unwrap();
    let stuck_opts = SessionOptions {
        optimized_cache: Some(stuck.path().to_path_buf()),
        ..plain.clone()
    };
    assert_eq!(vectors(&stuck_opts), want, "unwritable cache");
    assert!(!saved.exists());
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn an_ort_format_graph_is_saved_once_then_mapped_and_gives_the_same_vectors() {
    let cache = tempfile::tempdir().unwrap();
    let plain = SessionOptions {
        threads: 1,
        ..Default::default()
    };
    let mapped = SessionOptions {
        optimized_cache: Some(cache.path().to_path_buf()),
        load: LoadTuning {
            ort_format: true,
            ..Default::default()
        },
        ..plain.clone()
    };
    let want = vectors(&plain);
    let audio = tower_path(&tiny(), "audio", Variant::Fp32);
    let saved = optimized_path(cache.path(), &audio, 3, true).unwrap();
    assert_eq!(saved.extension().unwrap(), "ort");
    assert_ne!(
        saved,
        optimized_path(cache.path(), &audio, 3, false).unwrap()
    );
    assert_eq!(vectors(&mapped), want, "first load (saving the graph)");
    let bytes = std::fs::read(&saved).unwrap_or_else(|e| panic!("{}: {e}", saved.display()));
    assert_eq!(&bytes[4..8], b"ORTM", "not saved in ONNX Runtime's format");
    let written = mtime(&saved);
    assert_eq!(vectors(&mapped), want, "second load (the mapped graph)");
    assert_eq!(
        mtime(&saved),
        written,
        "the saved graph was rewritten instead of read"
    );

    // Damaged: an ONNX file where the ORT graph should be, then a cut ORT graph. Each is replaced.
    let onnx = std::fs::read(&audio).unwrap();
    for (what, damaged) in [
        ("an ONNX file", onnx),
        ("a cut graph", bytes[..bytes.len() / 3].to_vec()),
    ] {
        std::fs::write(&saved, &damaged).unwrap();
        assert_eq!(vectors(&mapped), want, "after damage: {what}");
        assert_eq!(
            std::fs::read(&saved).unwrap()[4..8],
            *b"ORTM",
            "{what}: not saved again"
        );
    }
}

#[test]
fn a_model_replaced_at_the_same_path_does_not_use_the_old_saved_graph() {
    let model = tempfile::tempdir().unwrap();
    for f in ["config.json", "preprocessor_config.json", "tokenizer.json"] {
        std::fs::copy(tiny().join(f), model.path().join(f)).unwrap();
    }
    let onnx = model.path().join("onnx");
    std::fs::create_dir_all(&onnx).unwrap();
    std::fs::copy(
        tiny().join("onnx/audio_model.onnx"),
        onnx.join("audio_model.onnx"),
    )
    .unwrap();
    let text = onnx.join("text_model.onnx");
    std::fs::copy(tiny().join("onnx/text_model.onnx"), &text).unwrap();
    let cache = tempfile::tempdir().unwrap();
    for ort_format in [false, true] {
        let opts = SessionOptions {
            threads: 1,
            optimized_cache: Some(cache.path().to_path_buf()),
            load: LoadTuning {
                ort_format,
                ..Default::default()
            },
            ..Default::default()
        };
        std::fs::copy(tiny().join("onnx/text_model.onnx"), &text).unwrap();
        let mut emb = Embedder::open("tiny", model.path(), opts.clone()).unwrap();
        assert!(emb.text().unwrap().has_attention_mask());
        let old = optimized_path(cache.path(), &text, 3, ort_format).unwrap();
        assert!(old.is_file(), "{}", old.display());
        drop(emb);
        // The tower without an attention mask, copied over the old one: another graph, another size.
        std::fs::copy(tiny().join("onnx/text_model_nomask.onnx"), &text).unwrap();
        let new = optimized_path(cache.path(), &text, 3, ort_format).unwrap();
        assert_ne!(
            new, old,
            "ort format {ort_format}: the replaced model keeps its old cache key"
        );
        let mut emb = Embedder::open("tiny", model.path(), opts).unwrap();
        assert!(
            !emb.text().unwrap().has_attention_mask(),
            "ort format {ort_format}: the old saved graph was used for the replaced model"
        );
        assert!(new.is_file(), "{}", new.display());
    }
}

#[test]
fn session_settings_leave_the_vectors_unchanged() {
    let base = SessionOptions {
        threads: 2,
        ..Default::default()
    };
    let want = vectors(&base);
    for (what, load) in [
        (
            "no memory pattern",
            LoadTuning {
                memory_pattern: false,
                ..Default::default()
            },
        ),
        (
            "no CPU arena",
            LoadTuning {
                cpu_arena: false,
                ..Default::default()
            },
        ),
    ] {
        let opts = SessionOptions {
            load,
            ..base.clone()
        };
        assert_eq!(vectors(&opts), want, "{what}");
    }
}
