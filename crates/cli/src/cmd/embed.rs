//! `avx embed FILE... [--segments]` and `avx embed --text TEXT`: print vectors.
//!
//! Table output prints one line per vector: the path (or text), then the values separated by spaces. JSON
//! output: `{"type":"embedding","path":...,"duration":...,"vector":[...],"windows":[{"start","end","vector"}]}`
//! per file and `{"type":"text_embedding","text":...,"vector":[...]}` for text.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use avx_embed::pipeline::{embed_files_in_order, FileOutcome, PipelineOptions};
use avx_embed::EmbeddedFile;
use serde_json::json;

use crate::cli::EmbedArgs;
use crate::context::{absolute, Ctx};
use crate::output::Out;
use crate::Outcome;

fn print_file(
    out: &mut Out,
    f: &EmbeddedFile,
    model: &str,
    json: bool,
    segments: bool,
) -> Result<()> {
    if json {
        let mut o = json!({
            "type": "embedding", "path": avx_core::path_json(&f.path), "model": model,
            "duration": f.info.duration_s, "vector": f.vector,
        });
        if segments {
            o["windows"] = f
                .windows
                .iter()
                .zip(&f.window_vectors)
                .map(|((s, e), v)| json!({"start": s, "end": e, "vector": v}))
                .collect();
        }
        out.json(&o)?;
    } else {
        // The path's raw bytes, so a name that is not UTF-8 stays exact (README.md, "Paths").
        let path = avx_core::path_bytes(&f.path);
        out.bytes_line(&[&path[..], b"\t", values(&f.vector).as_bytes()].concat())?;
        if segments {
            for ((s, e), v) in f.windows.iter().zip(&f.window_vectors) {
                let rest = format!("@{s:.3}-{e:.3}\t{}", values(v));
                out.bytes_line(&[&path[..], rest.as_bytes()].concat())?;
            }
        }
    }
    Ok(())
}

fn values(v: &[f32]) -> String {
    v.iter()
        .map(|x| format!("{x:.7}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(ctx: &Ctx, args: EmbedArgs) -> Result<Outcome> {
    let mut emb = ctx.embedder(None)?;
    let mut out = Out::new();
    if let Some(text) = &args.text {
        let v = emb.embed_text(text)?;
        if ctx.global.json {
            out.json(
                &json!({"type": "text_embedding", "text": text, "model": emb.name(), "vector": v}),
            )?;
        } else {
            out.line(format!("{text}\t{}", values(&v)))?;
        }
        out.flush()?;
        return Ok(Outcome::Found);
    }
    if let Some(hop) = args.hop {
        emb.spec()
            .check_hop(hop)
            .map_err(|m| anyhow::anyhow!("--hop: {m} for {}", emb.name()))?;
    }
    let mut failed = false;
    let mut files = Vec::new();
    for file in &args.files {
        match absolute(file) {
            Ok(p) => files.push(p),
            Err(e) => {
                eprintln!("avx: failed: {e:#}");
                failed = true;
            }
        }
    }
    // The pipeline decodes the next files while the model runs; results come back in the order given.
    let popts = PipelineOptions {
        hop_s: args.hop,
        decoders: (ctx.threads / 2).max(1),
        ..PipelineOptions::default()
    };
    let name = emb.name().to_string();
    let mut written: Result<()> = Ok(());
    let cancel = AtomicBool::new(false);
    embed_files_in_order(&mut emb, &files, &popts, &cancel, &mut |o| {
        let f = match o {
            FileOutcome::Embedded(f) => f,
            FileOutcome::Failed(_, e) => {
                eprintln!("avx: failed: {e}");
                failed = true;
                return;
            }
        };
        if written.is_ok() {
            written = print_file(&mut out, &f, &name, ctx.global.json, args.segments);
            if written.is_err() {
                cancel.store(true, Ordering::Relaxed);
            }
        }
    })?;
    written?;
    out.flush()?;
    Ok(if failed {
        Outcome::PartialFailure
    } else {
        Outcome::Found
    })
}
