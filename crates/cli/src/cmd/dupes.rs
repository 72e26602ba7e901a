//! `avx dupes`: groups of near-duplicate files (or, with `--segments`, near-identical windows), found by
//! `avx_core::dupes`, printed.

use anyhow::Result;
use avx_core::dupes::{duplicate_groups, DupesOptions};

use crate::cli::DupesArgs;
use crate::context::{absolute, Ctx};
use crate::output::{clock, Out};
use crate::Outcome;

pub fn run(ctx: &Ctx, args: DupesArgs) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let within = args.within.as_deref().map(absolute).transpose()?;
    let groups = duplicate_groups(
        &index,
        &DupesOptions {
            threshold: args.threshold,
            segments: args.segments,
            within: within.as_deref(),
            candidates: args.candidates,
        },
    )?;
    let mut out = Out::new();
    for (g, group) in groups.iter().enumerate() {
        if ctx.global.json {
            out.json(&group.json(g + 1, false))?;
        } else {
            out.line(format!("group {} ({} members)", g + 1, group.members.len()))?;
            for m in &group.members {
                let (s, p) = (m.score, m.file.path_text());
                match m.window {
                    Some((a, b)) => out.line(format!(
                        "  {s:.4}  {:>15}  {p}",
                        format!("{}-{}", clock(a as f64), clock(b as f64))
                    ))?,
                    None => out.line(format!("  {s:.4}  {p}"))?,
                }
            }
        }
    }
    out.flush()?;
    Ok(if groups.is_empty() {
        Outcome::NothingFound
    } else {
        Outcome::Found
    })
}
