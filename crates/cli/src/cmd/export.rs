//! `avx export`: the stored vectors as files.
//!
//! - `audiovector`: one JSON per audio file: `filename`, `duration`, `embedding`, `path`, `model`, `dim`, and
//!   with `--segments` a `windows` array of `{start, end, embedding}`.
//! - `jsonl`: the same objects, one per line, in `OUT/embeddings.jsonl` (or OUT itself if it ends in `.jsonl`).
//! - `npy`: `OUT/vectors.npy` (float32 `[files, dim]`) and `OUT/ids.json` (row i's path, duration, model).

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use avx_index::FileStatus;
use serde_json::{json, Value};

use crate::cli::{ExportArgs, ExportFormat};
use crate::context::{absolute, Ctx};
use crate::Outcome;

pub fn run(ctx: &Ctx, args: ExportArgs) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let within = args.within.as_deref().map(absolute).transpose()?;
    let model = index.settings().model.clone();
    let dim = index.settings().dim;
    let files: Vec<_> = index
        .files()
        .filter(|f| f.status == FileStatus::Ok)
        .filter(|f| within.as_ref().is_none_or(|w| f.path.starts_with(w)))
        .collect();
    let object = |f: &avx_index::FileMeta| -> Value {
        let mut o = json!({
            "filename": f.path.file_name().map(|n| avx_core::path_json(Path::new(n))).unwrap_or_default(),
            "duration": f.duration_s,
            "embedding": index.file_vector(f).unwrap_or_default(),
            "path": avx_core::path_json(&f.path),
            "model": model,
            "dim": dim,
            "sample_rate": f.sample_rate,
            "channels": f.channels,
        });
        if args.segments {
            o["windows"] = index
                .window_vectors_of(f)
                .into_iter()
                .map(|((s, e), v)| json!({"start": s, "end": e, "embedding": v}))
                .collect();
        }
        o
    };
    let out_is_file =
        args.format == ExportFormat::Jsonl && args.out.extension().is_some_and(|e| e == "jsonl");
    let dir = if out_is_file {
        args.out.parent().map(PathBuf::from).unwrap_or_default()
    } else {
        args.out.clone()
    };
    if !dir.as_os_str().is_empty() {
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    match args.format {
        ExportFormat::Audiovector => {
            let mut used = HashSet::new();
            for f in &files {
                // The file's own name (raw bytes, not UTF-8 ones too) plus `.json`.
                let base = f.path.file_name().unwrap_or_default();
                let named = |suffix: &str| {
                    let mut n = OsString::from(base);
                    n.push(suffix);
                    n
                };
                let mut name = named(".json");
                if !used.insert(name.clone()) {
                    name = named(&format!(".{}.json", f.id));
                    used.insert(name.clone());
                }
                let path = dir.join(&name);
                let w = BufWriter::new(
                    fs::File::create(&path)
                        .with_context(|| format!("cannot write {}", path.display()))?,
                );
                serde_json::to_writer_pretty(w, &object(f))?;
            }
        }
        ExportFormat::Jsonl => {
            let path = if out_is_file {
                args.out.clone()
            } else {
                dir.join("embeddings.jsonl")
            };
            let mut w = BufWriter::new(
                fs::File::create(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            );
            for f in &files {
                serde_json::to_writer(&mut w, &object(f))?;
                w.write_all(b"\n")?;
            }
            w.flush()?;
        }
        ExportFormat::Npy => {
            let mut data = Vec::with_capacity(files.len() * dim as usize);
            let mut ids = Vec::with_capacity(files.len());
            for f in &files {
                data.extend_from_slice(index.file_vector(f).unwrap_or_default());
                ids.push(json!({"path": avx_core::path_json(&f.path), "duration": f.duration_s}));
            }
            let npy = dir.join("vectors.npy");
            let w = BufWriter::new(
                fs::File::create(&npy)
                    .with_context(|| format!("cannot write {}", npy.display()))?,
            );
            avx_embed::npy::write_npy_f32(w, &[files.len(), dim as usize], &data)?;
            let idp = dir.join("ids.json");
            fs::write(
                &idp,
                serde_json::to_vec_pretty(&json!({"model": model, "dim": dim, "ids": ids}))?,
            )
            .with_context(|| format!("cannot write {}", idp.display()))?;
        }
    }
    if ctx.chatty() {
        eprintln!("exported {} files to {}", files.len(), args.out.display());
    }
    Ok(if files.is_empty() {
        Outcome::NothingFound
    } else {
        Outcome::Found
    })
}
