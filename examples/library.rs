//! Using avx's crates as libraries: bring an index up to date with some files through `avx_core::sync` (the
//! same walk, plan and apply as `avx index`), then find the nearest neighbours of one of them.
//!
//!     cargo run -p avx-cli --example library -- MODEL_DIR INDEX_DIR FILE...
//!
//! e.g. `cargo run -p avx-cli --example library -- tests/fixtures/tiny-clap /tmp/example-index examples/audio/*`

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use avx_core::sync::{self, ApplyOptions, Known, Progress, RealDisk, WalkOptions};
use avx_embed::model::SessionOptions;
use avx_embed::Embedder;
use avx_index::{Index, IndexSettings, OpenOptions, SearchOptions};

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

    // 2. Open (or create) an index for those vectors, compare the files with it, and embed what is new.
    let mut index = Index::open(
        index_dir,
        OpenOptions {
            write: true,
            settings: Some(settings),
            ..Default::default()
        },
    )?;
    let mut writer = index.writer()?;
    index.refresh()?;
    let walk = sync::walk(
        &WalkOptions {
            paths: files,
            ..Default::default()
        },
        &mut |warning| eprintln!("warning: {warning}"),
    )?;
    let plan = sync::plan(&walk, index.files().map(Known::from), &RealDisk, false);
    print!("{}", plan.describe());
    println!();
    let report = sync::apply(
        &mut writer,
        plan,
        &ApplyOptions::default(),
        || Ok::<_, Box<dyn std::error::Error>>((embedder, hop_s)),
        &AtomicBool::new(false),
        &mut |p| {
            if let Progress::Failed { message, .. } = p {
                eprintln!("skipping: {message}");
            }
        },
    )?;
    println!("{} new, {} failed", report.new, report.failed.len());
    drop(writer);
    index.refresh()?;

    // 3. Nearest neighbours of the first file, by its stored vector.
    let first = files[0].canonicalize()?;
    let query = avx_core::stored_vector(&index, &first).ok_or("the first file was not indexed")?;
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
