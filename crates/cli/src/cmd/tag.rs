//! `avx tag FILE...`: zero-shot tags (`avx_core::tags`): each label's text vector (through a prompt template)
//! against the file's vector, best first, with the raw cosine.

use anyhow::{bail, Result};
use avx_core::query::file_vector;
use avx_core::tags::{comma_list, labels_json, validate, LabelSet};
use serde_json::json;

use crate::cli::TagArgs;
use crate::context::{absolute, Ctx};
use crate::output::Out;
use crate::Outcome;

pub fn run(ctx: &Ctx, args: TagArgs) -> Result<Outcome> {
    let labels: Option<Vec<String>> = args.labels.as_deref().map(comma_list);
    validate(labels.as_deref(), &args.template)?;
    // With no model named, the index's model (when there is an index), so that tags use the vector space the
    // library was indexed in.
    let named = ctx.global.model.is_some() || ctx.global.model_dir.is_some();
    let (mut emb, hop) = if !named && ctx.index_dir().join("meta.redb").exists() {
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
    let set = LabelSet::embed(&mut emb, labels, &args.template)?;
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
        let v = match file_vector(&mut emb, &path, hop) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("avx: failed: {e}");
                failed = true;
                continue;
            }
        };
        let scored = set.rank(&v, args.top);
        if ctx.global.json {
            out.json(&json!({
                "type": "tags",
                "path": avx_core::path_json(&path),
                "tags": labels_json(&scored),
            }))?;
        } else {
            out.bytes_line(&avx_core::path_bytes(&path))?;
            for (label, s) in &scored {
                out.line(format!("  {s:>6.3}  {label}"))?;
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
