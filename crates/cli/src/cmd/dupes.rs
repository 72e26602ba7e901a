//! `avx dupes`: groups of near-duplicate files (or, with `--segments`, near-identical windows).
//!
//! Candidates come from an exact scan below 5,000 vectors and from k-means buckets (an inverted-file ANN) above;
//! every reported pair is verified with an exact cosine by `avx_index::analysis`.

use anyhow::Result;
use avx_index::analysis::{
    duplicate_groups_filtered, BucketNeighbours, DupesConfig, DupesFilter, ExactNeighbours,
};
use avx_index::{Index, Level, VectorRef};
use serde_json::json;

use crate::cli::DupesArgs;
use crate::context::{absolute, Ctx};
use crate::output::{clock, Out};
use crate::Outcome;

/// Gathers a level's live vectors (optionally under a directory) into one row-major matrix.
pub fn gather(
    index: &Index,
    level: Level,
    within: Option<&std::path::Path>,
) -> (Vec<VectorRef>, Vec<f32>) {
    let mut refs = Vec::new();
    let mut data = Vec::new();
    for (r, v) in index.vectors(level) {
        if let Some(w) = within {
            let inside = index
                .file_by_id(r.file_id)
                .is_some_and(|f| f.path.starts_with(w));
            if !inside {
                continue;
            }
        }
        refs.push(r);
        data.extend_from_slice(v);
    }
    (refs, data)
}

/// Below this many vectors candidates come from an exact all-pairs scan.
const EXACT_CANDIDATES_BELOW: usize = 5_000;

/// The default threshold of a model family (the index's `family` setting). aiSFX: 0.985, the lowest threshold
/// with precision about 1 on every transform of eval/README.md's near-duplicate table; CLAP and any other
/// family: 0.97 (not measurable here: CLAP weights cannot be fetched on our machines).
fn default_threshold(family: &str) -> f32 {
    match family {
        "aisfx" => 0.985,
        _ => 0.97,
    }
}

pub fn run(ctx: &Ctx, args: DupesArgs) -> Result<Outcome> {
    if let Some(url) = args.db.db.clone() {
        return crate::cmd::db::dupes(ctx, args, &url);
    }
    let index = ctx.open_index()?;
    let level = if args.segments {
        Level::Window
    } else {
        Level::File
    };
    let within = args.within.as_deref().map(absolute).transpose()?;
    let (refs, data) = gather(&index, level, within.as_deref());
    let items: Vec<Item> = refs
        .iter()
        .map(|r| Item {
            file: r.file_id,
            path: index
                .file_by_id(r.file_id)
                .map(|f| f.path.to_string_lossy().into_owned())
                .unwrap_or_default(),
            window: r.window,
        })
        .collect();
    let st = index.settings();
    let family = avx_embed::family::family_of(&st.family, &st.frontend);
    find_and_print(ctx, &args, &family, &items, &data, st.dim as usize)
}

/// One vector of the duplicate search: its file (any id unique per file), path and window.
#[derive(Debug, Clone)]
pub struct Item {
    pub file: u64,
    pub path: String,
    pub window: Option<(f32, f32)>,
}

/// Finds the groups among `items` (row-major vectors in `data`) and prints them; shared by the local index and
/// `--db`. `family` (the model family, [`avx_embed::family::family_of`]) picks the default threshold.
pub fn find_and_print(
    ctx: &Ctx,
    args: &DupesArgs,
    family: &str,
    items: &[Item],
    data: &[f32],
    dim: usize,
) -> Result<Outcome> {
    let threshold = args.threshold.unwrap_or_else(|| default_threshold(family));
    if !(0.0..=1.0).contains(&threshold) {
        anyhow::bail!("--threshold must be between 0 and 1");
    }
    let cfg = DupesConfig {
        threshold,
        k: args.candidates.max(1),
    };
    let same_item = |a: usize, b: usize| {
        let (ra, rb) = (&items[a], &items[b]);
        ra.file == rb.file
            && match (ra.window, rb.window) {
                (Some((s1, e1)), Some((s2, e2))) => s1 < e2 && s2 < e1, // overlapping windows of one file
                _ => true,
            }
    };
    // File level: a row is never paired with itself by the algorithm, so no filter (a filter that removes a
    // candidate makes the candidate search widen). Window level: skip overlapping windows of one file.
    let filter = DupesFilter {
        rows: None,
        same_item: if args.segments {
            Some(&same_item)
        } else {
            None
        },
    };
    let groups = if items.len() < EXACT_CANDIDATES_BELOW {
        let exact = ExactNeighbours::new(data, dim)?;
        duplicate_groups_filtered(data, dim, &exact, &cfg, &filter)?
    } else {
        // An inverted-file ANN (k-means buckets, multi-probe) over the gathered vectors: at 100k x 512 it finds
        // candidates for every vector in seconds, where one HNSW query per vector would take minutes here.
        let buckets = BucketNeighbours::build(data, dim, 0)?;
        duplicate_groups_filtered(data, dim, &buckets, &cfg, &filter)?
    };

    let mut out = Out::new();
    for (g, group) in groups.iter().enumerate() {
        let members: Vec<_> = group
            .members
            .iter()
            .map(|(pos, score)| {
                let r = &items[*pos];
                (r.path.clone(), *score, r.window)
            })
            .collect();
        if ctx.global.json {
            out.json(&json!({
                "type": "group",
                "group": g + 1,
                "members": members.iter().map(|(p, s, w)| {
                    let mut m = json!({"path": p, "score": s});
                    if let Some((a, b)) = w { m["start"] = json!(a); m["end"] = json!(b); }
                    m
                }).collect::<Vec<_>>(),
            }))?;
        } else {
            out.line(format!("group {} ({} members)", g + 1, members.len()))?;
            for (p, s, w) in &members {
                match w {
                    Some((a, b)) => out.line(format!(
                        "  {s:.4}  {:>15}  {p}",
                        format!("{}-{}", clock(*a as f64), clock(*b as f64))
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

#[cfg(test)]
mod tests {
    use super::default_threshold;

    #[test]
    fn default_threshold_follows_the_model_family() {
        assert_eq!(default_threshold("clap"), 0.97);
        assert_eq!(default_threshold("aisfx"), 0.985);
        assert_eq!(default_threshold("unknown"), 0.97);
    }
}
