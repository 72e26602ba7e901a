//! The saved optimised graph (`SessionOptions::optimized_cache`): the first load writes it, later loads read it,
//! and the vectors are bit for bit those of a session optimised on load; a damaged saved graph is replaced, not
//! an error. Uses the committed tiny random-weight CLAP (`tests/fixtures/tiny-clap`).

use std::path::{Path, PathBuf};

use avx_embed::model::{optimized_path, tower_path, SessionOptions, Variant};
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
    let saved = optimized_path(cache.path(), &audio, 3).unwrap();
    assert!(!saved.exists());
    assert_eq!(vectors(&cached), want, "first load (saving the graph)");
    assert!(saved.is_file(), "{} not written", saved.display());
    let text =
        optimized_path(cache.path(), &tower_path(&tiny(), "text", Variant::Fp32), 3).unwrap();
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
    let saved = optimized_path(stuck.path(), &audio, 3).unwrap();
    std::fs::create_dir_all(saved.with_extension(format!("{}.part", std::process::id()))).unwrap();
    let stuck_opts = SessionOptions {
        optimized_cache: Some(stuck.path().to_path_buf()),
        ..plain.clone()
    };
    assert_eq!(vectors(&stuck_opts), want, "unwritable cache");
    assert!(!saved.exists());
}
