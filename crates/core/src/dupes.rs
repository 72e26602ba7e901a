//! Near-duplicate groups of files (or, with `segments`, of near-identical windows).
//!
//! Candidates come from an exact scan below 5,000 vectors and from k-means buckets (an inverted-file ANN) above;
//! every reported pair is verified with an exact cosine by `avx_index::analysis`.

use std::path::Path;

use avx_index::analysis::{
    duplicate_groups_filtered, BucketNeighbours, DupesConfig, DupesFilter, ExactNeighbours,
};
use avx_index::{Index, Level, VectorRef};
use serde_json::{json, Value};

use crate::error::{CoreError, Result};
use crate::FileRef;

/// Gathers a level's live vectors (optionally under a directory) into one row-major matrix.
pub fn gather(index: &Index, level: Level, within: Option<&Path>) -> (Vec<VectorRef>, Vec<f32>) {
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

/// The default threshold of a model family (the index's `family` setting, [`avx_embed::family::family_of`]).
/// aiSFX: 0.985, the lowest threshold with precision about 1 on every transform of eval/README.md's
/// near-duplicate table; CLAP and any other family: 0.97 (not measurable here: CLAP weights cannot be fetched on
/// our machines).
pub fn default_threshold(family: &str) -> f32 {
    match family {
        "aisfx" => 0.985,
        _ => 0.97,
    }
}

/// Options of [`duplicate_groups`].
#[derive(Debug, Clone, Copy)]
pub struct DupesOptions<'a> {
    /// Cosine at or above which two vectors are duplicates (`None`: [`default_threshold`] of the index's model).
    pub threshold: Option<f32>,
    /// Compare window vectors instead of file vectors.
    pub segments: bool,
    /// Only files under this directory.
    pub within: Option<&'a Path>,
    /// Candidate neighbours examined per vector.
    pub candidates: usize,
}

impl Default for DupesOptions<'_> {
    fn default() -> Self {
        DupesOptions {
            threshold: None,
            segments: false,
            within: None,
            candidates: 10,
        }
    }
}

/// One member of a [`Group`].
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMember {
    pub file: FileRef,
    /// Cosine to the group's first member (1 for the first).
    pub score: f32,
    /// The window, for segment groups.
    pub window: Option<(f32, f32)>,
}

/// A group of near-duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub members: Vec<GroupMember>,
}

impl Group {
    /// The JSON object `{"type": "group", "group": n, "members": [...]}`; `with_id` adds each member's `id`.
    pub fn json(&self, number: usize, with_id: bool) -> Value {
        json!({
            "type": "group",
            "group": number,
            "members": self.members.iter().map(|m| {
                let mut v = json!({"path": m.file.path_json(), "score": m.score});
                if with_id { v["id"] = json!(m.file.id); }
                if let Some((a, b)) = m.window { v["start"] = json!(a); v["end"] = json!(b); }
                v
            }).collect::<Vec<_>>(),
        })
    }
}

/// The groups of near-duplicates of the index, largest first as `avx_index::analysis` orders them.
pub fn duplicate_groups(index: &Index, opts: &DupesOptions) -> Result<Vec<Group>> {
    let level = if opts.segments {
        Level::Window
    } else {
        Level::File
    };
    let (refs, data) = gather(index, level, opts.within);
    let owners: Vec<(u64, Option<(f32, f32)>)> =
        refs.iter().map(|r| (r.file_id, r.window)).collect();
    let st = index.settings();
    let family = avx_embed::family::family_of(&st.family, &st.frontend);
    let groups = groups_among(&owners, &data, st.dim as usize, &family, opts)?;
    Ok(groups
        .into_iter()
        .map(|g| Group {
            members: g
                .into_iter()
                .map(|(pos, score)| GroupMember {
                    file: FileRef::of(index, refs[pos].file_id),
                    score,
                    window: refs[pos].window,
                })
                .collect(),
        })
        .collect())
}

/// The duplicate search itself, over any set of vectors (an index's, or vectors read from elsewhere): `owners[i]`
/// is row i's file (any id unique per file) and window, `data` the rows (row-major, `dim` wide), `family` the
/// model family that picks the default threshold. Each group is a list of (row, cosine to the group's
/// first row), first row first.
pub fn groups_among(
    owners: &[(u64, Option<(f32, f32)>)],
    data: &[f32],
    dim: usize,
    family: &str,
    opts: &DupesOptions,
) -> Result<Vec<Vec<(usize, f32)>>> {
    let threshold = opts.threshold.unwrap_or_else(|| default_threshold(family));
    if !(0.0..=1.0).contains(&threshold) {
        return Err(CoreError::Invalid(
            "--threshold must be between 0 and 1".into(),
        ));
    }
    let cfg = DupesConfig {
        threshold,
        k: opts.candidates.max(1),
    };
    let same_item = |a: usize, b: usize| {
        let ((fa, wa), (fb, wb)) = (owners[a], owners[b]);
        fa == fb
            && match (wa, wb) {
                (Some((s1, e1)), Some((s2, e2))) => s1 < e2 && s2 < e1, // overlapping windows of one file
                _ => true,
            }
    };
    // File level: a row is never paired with itself by the algorithm, so no filter (a filter that removes a
    // candidate makes the candidate search widen). Window level: skip overlapping windows of one file.
    let filter = DupesFilter {
        rows: None,
        same_item: if opts.segments {
            Some(&same_item)
        } else {
            None
        },
    };
    let groups = if owners.len() < EXACT_CANDIDATES_BELOW {
        let exact = ExactNeighbours::new(data, dim)?;
        duplicate_groups_filtered(data, dim, &exact, &cfg, &filter)?
    } else {
        // An inverted-file ANN (k-means buckets, multi-probe) over the gathered vectors: at 100k x 512 it finds
        // candidates for every vector in seconds, where one HNSW query per vector would take minutes here.
        let buckets = BucketNeighbours::build(data, dim, 0)?;
        duplicate_groups_filtered(data, dim, &buckets, &cfg, &filter)?
    };
    Ok(groups.into_iter().map(|g| g.members).collect())
}

#[cfg(test)]
mod tests {
    use super::default_threshold;

    #[test]
    fn default_threshold_follows_the_model_family() {
        assert_eq!(default_threshold("clap"), 0.97);
        assert_eq!(default_threshold("aisfx"), 0.985);
        assert_eq!(default_threshold("some-new-family"), 0.97);
    }
}
