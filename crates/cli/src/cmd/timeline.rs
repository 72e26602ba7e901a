//! `avx timeline FILE`: one indexed recording cut into segments (recurring motifs, silence, the rest), each
//! named after the nearest `--like` example and, with a text model, the best `--labels` label.
//!
//! Glue only: motifs come from `avx_core::recurring::discover` (through `cmd::recurring::discover`) or, with
//! `--motifs FILE`, from a saved `avx --json recurring` run (`avx_core::recurring::saved_occurrences`), levels
//! and the cutting and naming from `avx_core::timeline::programme` (the same as `avx serve`'s timeline view).

use anyhow::{bail, Context as _, Result};
use avx_core::tags::comma_list;
use avx_index::analysis::TimelineConfig;
use serde_json::json;

use super::recurring::{csv_field, discover, span};
use crate::cli::{ArchiveFormat, TimelineArgs};
use crate::context::{absolute, Ctx};
use crate::output::Out;
use crate::Outcome;

pub fn run(ctx: &Ctx, args: TimelineArgs) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let path = absolute(&args.file)?;
    let Some(meta) = index.file_by_path(&path) else {
        bail!(
            "{}: not in the index: run `avx index {}` first",
            path.display(),
            path.display()
        );
    };
    let labels: Vec<String> = args.labels.as_deref().map(comma_list).unwrap_or_default();
    if !args.template.contains("{}") {
        bail!("--template must contain {{}} where the label goes, e.g. 'This is a sound of {{}}.'");
    }

    // Examples and labels need the model; a plain timeline does not load it.
    let mut like_names = Vec::new();
    let mut like_vecs = Vec::new();
    let mut label_vecs = Vec::new();
    if !args.like.is_empty() || !labels.is_empty() {
        let (mut emb, hop) = ctx.embedder_for_index(&index)?;
        if !labels.is_empty() {
            if !emb.has_text() {
                bail!(
                    "model '{}' is audio-only: it has no text tower, so --labels cannot be scored; use --like \
                     with example clips instead, or a CLAP model",
                    emb.name()
                );
            }
            for l in &labels {
                label_vecs.push(emb.embed_text(&args.template.replace("{}", l))?);
            }
        }
        for f in &args.like {
            let p = absolute(f)?;
            let e = emb
                .embed_file(&p, Some(hop), 4)
                .with_context(|| format!("--like {}", f.display()))?;
            like_names.push(
                p.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            like_vecs.push(e.vector);
        }
    }

    let occurrences = match &args.saved_motifs {
        Some(saved) => avx_core::recurring::saved_occurrences(saved, &path)?,
        None => {
            let found = discover(&index, &args.motifs, Some(&path), ctx.threads)?;
            let track = found.paths.iter().position(|p| *p == path);
            let mut occurrences = Vec::new();
            for (m, motif) in found.motifs.iter().enumerate() {
                for o in &motif.occurrences {
                    if Some(o.track as usize) == track {
                        occurrences.push((m + 1, o.start, o.end));
                    }
                }
            }
            occurrences
        }
    };
    let segments = avx_core::timeline::programme(
        &index,
        meta,
        &avx_core::timeline::ProgrammeOptions {
            occurrences: &occurrences,
            examples: &like_vecs,
            labels: &label_vecs,
            config: TimelineConfig {
                silence_db: args.silence_db,
                ..TimelineConfig::default()
            },
        },
    )?;

    let mut out = Out::new();
    let path_field = csv_field(&avx_core::path_bytes(&path));
    if args.format == ArchiveFormat::Csv && !ctx.global.json {
        out.line("path,start,end,kind,motif,like,like_score,label,label_score")?;
    }
    for s in &segments {
        let (kind, motif) = (s.kind_name(), s.motif());
        let like = s.like.map(|(i, c)| (like_names[i].as_str(), c));
        let label = s.label.map(|(i, c)| (labels[i].as_str(), c));
        if ctx.global.json {
            let mut v = json!({"type": "segment", "path": avx_core::path_json(&path), "start": s.start, "end": s.end, "kind": kind});
            if let Some(m) = motif {
                v["motif"] = json!(m);
            }
            if let Some((n, c)) = like {
                v["like"] = json!({"example": n, "score": c});
            }
            if let Some((n, c)) = label {
                v["label"] = json!({"label": n, "score": c});
            }
            out.json(&v)?;
            continue;
        }
        let name = match (motif, like, label) {
            (Some(m), _, _) => format!("motif {m}"),
            (None, _, _) if kind == "silence" => "silence".to_string(),
            (None, Some((n, _)), _) => n.to_string(),
            (None, None, Some((n, _))) => n.to_string(),
            _ => "other".to_string(),
        };
        match args.format {
            ArchiveFormat::Table => {
                let mut line = format!("{:>17}  {name}", span(s.start, s.end));
                if let Some((n, c)) = like {
                    line.push_str(&format!("  (like {n} {c:.3})"));
                }
                if let Some((n, c)) = label {
                    line.push_str(&format!("  (label {n} {c:.3})"));
                }
                out.line(line)?;
            }
            ArchiveFormat::Csv => {
                let mut line = path_field.clone();
                line.extend(format!(",{:.3},{:.3},{kind},", s.start, s.end).bytes());
                line.extend(motif.map(|m| m.to_string()).unwrap_or_default().bytes());
                line.push(b',');
                line.extend(like.map(|l| csv_field(l.0.as_bytes())).unwrap_or_default());
                line.push(b',');
                line.extend(
                    like.map(|l| format!("{:.4}", l.1))
                        .unwrap_or_default()
                        .bytes(),
                );
                line.push(b',');
                line.extend(label.map(|l| csv_field(l.0.as_bytes())).unwrap_or_default());
                line.push(b',');
                line.extend(
                    label
                        .map(|l| format!("{:.4}", l.1))
                        .unwrap_or_default()
                        .bytes(),
                );
                out.bytes_line(&line)?
            }
            ArchiveFormat::Audacity => out.line(format!("{:.3}\t{:.3}\t{name}", s.start, s.end))?,
        }
    }
    out.flush()?;
    Ok(if segments.is_empty() {
        Outcome::NothingFound
    } else {
        Outcome::Found
    })
}
