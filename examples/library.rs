//! Using avx's crates as libraries: embed a few files with `avx_embed`, store them with `avx_index`, and find
//! the nearest neighbours of one of them.
//!
//!     cargo run -p avx-cli --example library -- MODEL_DIR INDEX_DIR FILE...
//!
//! e.g. `cargo run -p avx-cli --example library -- tests/fixtures/tiny-clap /tmp/example-index examples/audio/*`

use std::path::PathBuf;

use avx_embed::model::SessionOptions;
use avx_embed::Embedder;
use avx_index::{FileRecord, Index, IndexSettings, OpenOptions, SearchOptions, WindowRecord};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [model_dir, index_dir, files @ ..] = args.as_slice() else {
        return Err("usage: library MODEL_DIR INDEX_DIR FILE...".into());
    };
    if files.is_empty() {
        return Err("give at least one audio file".into());
    }

    // 1. Load the model (front end + audio tower) and say what its vectors are.
    let mut embedder = Embedder::open("example-model", model_dir, SessionOptions::default())?;
    let hop_s = embedder.spec().default_hop_seconds();
    let fp = embedder.fingerprint(hop_s)?;
    let settings = IndexSettings {
        model: fp.model,
        model_hashes: vec![("audio_model".into(), fp.audio_sha256)],
        family: fp.family,
        frontend: fp.frontend,
        pipeline_version: fp.pipeline_version,
        dim: fp.dim as u32,
    };

    // 2. Open (or create) an index for those vectors and write every file in one commit.
    let mut index = Index::open(
        index_dir,
        OpenOptions {
            write: true,
            settings: Some(settings),
            ..Default::default()
        },
    )?;
    let mut writer = index.writer()?;
    for path in files {
        let path = path.canonicalize()?;
        let meta = std::fs::metadata(&path)?;
        let e = match embedder.embed_file(&path, None, 4) {
            Ok(e) => e,
            Err(err) => {
                eprintln!("skipping: {err}");
                continue;
            }
        };
        writer.upsert(FileRecord {
            path: path.clone(),
            size: meta.len(),
            mtime_ns: 0,
            content_hash: 0,
            duration_s: e.info.duration_s,
            sample_rate: e.info.sample_rate,
            channels: e.info.channels,
            codec: e.info.codec.clone(),
            windows: e
                .windows
                .iter()
                .zip(&e.window_vectors)
                .map(|((s, t), v)| WindowRecord {
                    start_s: *s as f32,
                    end_s: *t as f32,
                    vector: v.clone(),
                })
                .collect(),
            vector: e.vector,
        })?;
    }
    writer.commit()?;
    drop(writer);
    index.refresh()?;

    // 3. Nearest neighbours of the first file.
    let first = files[0].canonicalize()?;
    let query = embedder.embed_file(&first, None, 4)?.vector;
    let hits = index.search(
        &query,
        &SearchOptions {
            k: 5,
            exclude_path: Some(&first),
            ..Default::default()
        },
    )?;
    println!("nearest to {}:", first.display());
    for h in hits {
        println!("  {:.3}  {}", h.score, h.path.display());
    }
    Ok(())
}
