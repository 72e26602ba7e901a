//! `avx dupes`: groups of near-duplicate files (or, with `--segments`, near-identical windows), found by
//! `avx_core::dupes`, printed.

use anyhow::Result;
use avx_core::dupes::{duplicate_groups, DupesOptions, Group};

use crate::cli::DupesArgs;
use crate::context::{absolute, Ctx};
use crate::output::{clock, Out};
use crate::Outcome;

pub fn run(ctx: &Ctx, args: DupesArgs) -> Result<Outcome> {
    if let Some(url) = args.db.db.clone() {
        return crate::cmd::db::dupes(ctx, args, &url);
    }
    let index = ctx.open_index()?;
    if !args.segments {
        let (with, all) = avx_core::dupes::print_coverage(&index)?;
        if with < all && !ctx.global.quiet {
            eprintln!(
                "avx: {} of {all} files have no sound print (indexed by an older avx): they are judged by their \
                 vectors alone; run `avx index` on them to print them",
                all - with
            );
        }
    }
    let within = args.within.as_deref().map(absolute).transpose()?;
    let groups = duplicate_groups(&index, &options(&args, within.as_deref()))?;
    print_groups(ctx, &groups)
}

/// The search options of `avx dupes`'s arguments (shared by the local index and `--db`).
pub fn options<'a>(args: &DupesArgs, within: Option<&'a std::path::Path>) -> DupesOptions<'a> {
    DupesOptions {
        threshold: args.threshold,
        gate: args.gate,
        segments: args.segments,
        within,
        candidates: args.candidates,
    }
}

/// Prints the groups (table or JSON Lines) and says what the exit code is.
pub fn print_groups(ctx: &Ctx, groups: &[Group]) -> Result<Outcome> {
    let mut out = Out::new();
    for (g, group) in groups.iter().enumerate() {
        if ctx.global.json {
            out.json(&group.json(g + 1, false))?;
        } else {
            out.line(format!("group {} ({} members)", g + 1, group.members.len()))?;
            for m in &group.members {
                let (s, p) = (m.score, m.file.path_text());
                match (m.window, m.print) {
                    (Some((a, b)), _) => out.line(format!(
                        "  {s:.4}  {:>15}  {p}",
                        format!("{}-{}", clock(a as f64), clock(b as f64))
                    ))?,
                    (None, Some(pm)) => out.line(format!(
                        "  {s:.4}  {p}  (cosine {:.3}; {:.2}-{:.2} s here = {:.2}-{:.2} s in the first)",
                        pm.cosine, pm.span.0, pm.span.1, pm.leader_span.0, pm.leader_span.1
                    ))?,
                    (None, None) => out.line(format!("  {s:.4}  {p}"))?,
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
