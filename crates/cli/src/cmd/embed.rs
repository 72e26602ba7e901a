//! `avx embed FILE... [--segments]` and `avx embed --text TEXT`: print vectors.
//!
//! Table output prints one line per vector: the path (or text), then the values separated by spaces. JSON
//! output: `{"type":"embedding","path":...,"duration":...,"vector":[...],"windows":[{"start","end","vector"}]}`
//! per file and `{"type":"text_embedding","text":...,"vector":[...]}` for text.

use anyhow::Result;
use serde_json::json;

use crate::cli::EmbedArgs;
use crate::context::{absolute, Ctx};
use crate::output::Out;
use crate::Outcome;

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
    let mut failed = false;
    for file in &args.files {
        let res = absolute(file).and_then(|p| Ok(emb.embed_file(&p, args.hop, 4)?));
        let f = match res {
            Ok(f) => f,
            Err(e) => {
                eprintln!("avx: failed: {e:#}");
                failed = true;
                continue;
            }
        };
        if ctx.global.json {
            let mut o = json!({
                "type": "embedding", "path": avx_core::path_json(&f.path), "model": emb.name(),
                "duration": f.info.duration_s, "vector": f.vector,
            });
            if args.segments {
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
            if args.segments {
                for ((s, e), v) in f.windows.iter().zip(&f.window_vectors) {
                    let rest = format!("@{s:.3}-{e:.3}\t{}", values(v));
                    out.bytes_line(&[&path[..], rest.as_bytes()].concat())?;
                }
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
