//! `avx tag FILE...`: zero-shot tags: each label's text vector (through a prompt template) against the file's
//! vector, best first, with the raw cosine.

use anyhow::{bail, Result};
use serde_json::json;

use crate::cli::TagArgs;
use crate::context::{absolute, Ctx};
use crate::output::Out;
use crate::vocab::VOCABULARY;
use crate::Outcome;

pub fn run(ctx: &Ctx, args: TagArgs) -> Result<Outcome> {
    if !args.template.contains("{}") {
        bail!("--template must contain {{}} where the label goes, e.g. 'This is a sound of {{}}.'");
    }
    let labels: Vec<String> = match &args.labels {
        Some(list) => list
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => VOCABULARY.iter().map(|s| s.to_string()).collect(),
    };
    if labels.is_empty() {
        bail!("--labels is empty");
    }
    // With no model named, the index's model (when there is an index), so that tags use the vector space the
    // library was indexed in.
    let named = ctx.global.model.is_some() || ctx.global.model_dir.is_some();
    let index_dir = ctx.index_dir();
    let (mut emb, hop) = if !named && index_dir.join("meta.redb").exists() {
        let (emb, hop) = ctx.embedder_for_index(&ctx.open_index()?)?;
        (emb, Some(hop))
    } else {
        (ctx.embedder(None)?, None)
    };
    if !emb.has_text() {
        bail!(
            "model '{}' is audio-only: it has no text tower, so it cannot tag by words; use a CLAP model \
             (`avx model list`), or `avx similar FILE` to find sounds by sound",
            emb.name()
        );
    }
    let mut label_vecs = Vec::with_capacity(labels.len());
    for l in &labels {
        label_vecs.push(emb.embed_text(&args.template.replace("{}", l))?);
    }
    let mut out = Out::new();
    let mut failed = false;
    for file in &args.files {
        let path = match absolute(file) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("avx: failed: {e:#}");
                failed = true;
                continue;
            }
        };
        let v = match emb.embed_file(&path, hop, 4) {
            Ok(f) => f.vector,
            Err(e) => {
                eprintln!("avx: failed: {e}");
                failed = true;
                continue;
            }
        };
        let mut scored: Vec<(usize, f32)> = label_vecs
            .iter()
            .enumerate()
            .map(|(i, t)| (i, avx_index::dot(&v, t)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(args.top);
        if ctx.global.json {
            out.json(&json!({
                "type": "tags",
                "path": path.to_string_lossy(),
                "tags": scored.iter().map(|(i, s)| json!({"label": labels[*i], "score": s})).collect::<Vec<_>>(),
            }))?;
        } else {
            out.line(path.to_string_lossy())?;
            for (i, s) in &scored {
                out.line(format!("  {s:>6.3}  {}", labels[*i]))?;
            }
        }
    }
    out.flush()?;
    Ok(if failed {
        Outcome::PartialFailure
    } else {
        Outcome::Found
    })
}
