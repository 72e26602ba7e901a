//! `avx cluster -k N`: spherical k-means over file vectors; per cluster its size, exemplar and members.

use anyhow::{bail, Result};
use avx_index::analysis::{kmeans, KMeansConfig};
use avx_index::Level;
use serde_json::json;

use crate::cli::ClusterArgs;
use crate::cmd::dupes::gather;
use crate::context::{absolute, Ctx};
use crate::output::Out;
use crate::vocab::VOCABULARY;
use crate::Outcome;

pub fn run(ctx: &Ctx, args: ClusterArgs) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let within = args.within.as_deref().map(absolute).transpose()?;
    let (refs, data) = gather(&index, Level::File, within.as_deref());
    let dim = index.settings().dim as usize;
    if refs.is_empty() {
        bail!("no indexed files to cluster");
    }
    if args.k == 0 || args.k > refs.len() {
        bail!(
            "-k must be between 1 and the number of files ({})",
            refs.len()
        );
    }
    let result = kmeans(
        &data,
        dim,
        &KMeansConfig {
            k: args.k,
            seed: args.seed,
            max_iter: 300,
            tol: 0.0,
        },
    )?;
    let labels: Vec<Vec<(String, f32)>> = if args.label {
        let (mut emb, _) = ctx.embedder_for_index(&index)?;
        if !emb.has_text() {
            anyhow::bail!(
                "model '{}' is audio-only: it has no text tower, so --label cannot name clusters; run without --label",
                emb.name()
            );
        }
        let mut words = Vec::with_capacity(VOCABULARY.len());
        for w in VOCABULARY {
            words.push((
                w.to_string(),
                emb.embed_text(&format!("This is a sound of {w}."))?,
            ));
        }
        (0..result.k())
            .map(|j| {
                let c = result.centroid(j);
                let mut scored: Vec<(String, f32)> = words
                    .iter()
                    .map(|(w, v)| (w.clone(), avx_index::dot(c, v)))
                    .collect();
                scored.sort_by(|a, b| b.1.total_cmp(&a.1));
                scored.truncate(3);
                scored
            })
            .collect()
    } else {
        vec![Vec::new(); result.k()]
    };
    let path_of = |pos: usize| {
        index
            .file_by_id(refs[pos].file_id)
            .map(|f| f.path.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut out = Out::new();
    for (j, label) in labels.iter().enumerate() {
        let members = result.members(j);
        let exemplar = result.exemplars[j];
        if ctx.global.json {
            out.json(&json!({
                "type": "cluster",
                "cluster": j + 1,
                "size": result.sizes[j],
                "exemplar": path_of(exemplar),
                "labels": label.iter().map(|(w, s)| json!({"label": w, "score": s})).collect::<Vec<_>>(),
                "members": members.iter().map(|m| json!({"path": path_of(*m), "similarity": result.similarity[*m]})).collect::<Vec<_>>(),
            }))?;
        } else {
            let label_text = if label.is_empty() {
                String::new()
            } else {
                format!(
                    "  [{}]",
                    label
                        .iter()
                        .map(|(w, _)| w.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            out.line(format!(
                "cluster {} ({} files){label_text}",
                j + 1,
                result.sizes[j]
            ))?;
            out.line(format!("  exemplar  {}", path_of(exemplar)))?;
            let mut sorted = members.clone();
            sorted.sort_by(|a, b| result.similarity[*b].total_cmp(&result.similarity[*a]));
            for m in sorted.iter().take(args.show) {
                out.line(format!(
                    "  {:.3}     {}",
                    result.similarity[*m],
                    path_of(*m)
                ))?;
            }
            if sorted.len() > args.show {
                out.line(format!(
                    "  ... and {} more (--show N or --json for all)",
                    sorted.len() - args.show
                ))?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Found)
}
