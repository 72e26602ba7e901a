//! `avx cluster -k N`: spherical k-means over file vectors (`avx_core::cluster`); per cluster its size, exemplar
//! and members, printed.

use anyhow::{bail, Result};
use avx_core::cluster::{clusters, ClusterOptions};

use crate::cli::ClusterArgs;
use crate::context::{absolute, Ctx};
use crate::output::Out;
use crate::Outcome;

pub fn run(ctx: &Ctx, args: ClusterArgs) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let within = args.within.as_deref().map(absolute).transpose()?;
    let mut labeller = None;
    if args.label {
        let (emb, _) = ctx.embedder_for_index(&index)?;
        if !emb.has_text() {
            bail!(
                "model '{}' is audio-only: it has no text tower, so --label cannot name clusters; run without --label",
                emb.name()
            );
        }
        labeller = Some(emb);
    }
    let result = clusters(
        &index,
        &ClusterOptions {
            k: args.k,
            seed: args.seed,
            within: within.as_deref(),
            labels: 3,
        },
        labeller.as_mut(),
    )?;
    let mut out = Out::new();
    for (j, cluster) in result.iter().enumerate() {
        if ctx.global.json {
            out.json(&cluster.json(j + 1, false))?;
            continue;
        }
        let label_text = if cluster.labels.is_empty() {
            String::new()
        } else {
            format!(
                "  [{}]",
                cluster
                    .labels
                    .iter()
                    .map(|(w, _)| w.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.line(format!(
            "cluster {} ({} files){label_text}",
            j + 1,
            cluster.members.len()
        ))?;
        out.line(format!("  exemplar  {}", cluster.exemplar.path_text()))?;
        let sorted = cluster.members_by_similarity();
        for m in sorted.iter().take(args.show) {
            out.line(format!("  {:.3}     {}", m.similarity, m.file.path_text()))?;
        }
        if sorted.len() > args.show {
            out.line(format!(
                "  ... and {} more (--show N or --json for all)",
                sorted.len() - args.show
            ))?;
        }
    }
    out.flush()?;
    Ok(Outcome::Found)
}
