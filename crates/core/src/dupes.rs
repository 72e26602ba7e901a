//! Near-duplicate groups of files (or, with `segments`, of near-identical windows).
//!
//! Candidates come from an exact scan below 5,000 vectors and from k-means buckets (an inverted-file ANN) above.
//!
//! Files are judged in two stages when the index has sound prints (`<index>/prints.avp`, [`crate::prints`]):
//! 1. *candidates*: neighbours by the pooled file vector whose cosine is at least the family's low *gate*
//!    ([`default_gate`]), which an edited copy passes (silence, noise, re-encodes move the pooled vector);
//! 2. *confirmation*: the two files' sound prints are aligned ([`avx_embed::soundprint::compare`]: lag, time
//!    scale, band shift; the score capped by how their half-semitone detail views agree over pitch shifts of up
//!    to 1.25 semitones) and the pair is a duplicate when the print score is at least the threshold
//!    ([`PRINT_THRESHOLD`] by default). A look-alike (a second take of the same drum) passes stage 1 but not 2.
//!
//! A file without a print (indexed before prints existed) is judged by its pooled cosine alone, against the
//! family's [`default_threshold`], as before. Window groups (`segments`) always use window cosines.

use std::path::Path;

use avx_embed::soundprint::{compare, summary, Alignment, SoundPrint, SUMMARY_DIM};
use avx_index::analysis::{
    dot, duplicate_groups_filtered, duplicate_groups_scored, BucketNeighbours, DupesConfig,
    DupesFilter, ExactNeighbours, Neighbours,
};
use avx_index::{Index, Level, VectorRef};
use serde_json::{json, Value};

use crate::error::{CoreError, Result};
use crate::prints::Prints;
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
pub(crate) const EXACT_CANDIDATES_BELOW: usize = 5_000;

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

/// The default print score ([`avx_embed::soundprint::compare`]'s score of the aligned sound prints, capped by
/// the agreement of their detail views) at or above which two files are duplicates, the same for every model
/// family, since prints do not depend on the model: [`avx_embed::soundprint::DEFAULT_THRESHOLD`], chosen from
/// eval/README.md's curves ("Near-duplicates").
pub const PRINT_THRESHOLD: f32 = avx_embed::soundprint::DEFAULT_THRESHOLD;

/// The default candidate gate of a model family: the pooled-vector cosine a pair needs before its prints are
/// compared (eval/README.md, "Near-duplicates"). Low, for recall: the prints decide.
pub fn default_gate(family: &str) -> f32 {
    match family {
        "aisfx" => 0.8,
        _ => 0.8,
    }
}

/// Options of [`duplicate_groups`].
#[derive(Debug, Clone, Copy)]
pub struct DupesOptions<'a> {
    /// The score at or above which two files are duplicates: the print score where both files have prints
    /// (`None`: [`PRINT_THRESHOLD`]), else the cosine (`None`: [`default_threshold`] of the index's model).
    pub threshold: Option<f32>,
    /// The candidate gate of the two-stage search (`None`: [`default_gate`] of the index's model).
    pub gate: Option<f32>,
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
            gate: None,
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
    /// How the member's sound print matched the leader's (files confirmed by prints; `None` for the leader).
    pub print: Option<PrintMatch>,
}

/// Why a member is a duplicate of its group's leader, by sound prints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrintMatch {
    /// The pooled-vector cosine to the leader (the candidate stage).
    pub cosine: f32,
    /// The matching span in this member, seconds.
    pub span: (f32, f32),
    /// The matching span in the leader, seconds.
    pub leader_span: (f32, f32),
    /// The stretch that makes this member match the leader (1.05: this member is about 5 % shorter).
    pub scale: f32,
    /// How the two sounds' half-semitone spectra agree over the matching spans (Pearson's r), when both prints
    /// have a detail view.
    pub detail: Option<f32>,
    /// This member's pitch against the leader's, semitones (by the detail views; 0 without them).
    pub pitch: f32,
    /// How the two onsets' textures agree (Pearson's r of the speckle views, [`avx_embed::speckle`]), when both
    /// prints have one.
    pub speckle: Option<f32>,
    /// How the two onsets' waveforms agree (block-wise Pearson's r of the wave views, [`avx_embed::wave`]), when
    /// both prints have one and the two sounds' lengths are comparable.
    pub wave: Option<f32>,
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
                if let Some(p) = &m.print {
                    v["basis"] = json!("print");
                    v["cosine"] = json!(p.cosine);
                    v["start"] = json!(p.span.0);
                    v["end"] = json!(p.span.1);
                    v["leader_start"] = json!(p.leader_span.0);
                    v["leader_end"] = json!(p.leader_span.1);
                    v["scale"] = json!(p.scale);
                    if let Some(d) = p.detail {
                        v["detail"] = json!(d);
                        v["pitch_semitones"] = json!(p.pitch);
                    }
                    if let Some(r) = p.speckle {
                        v["speckle"] = json!(r);
                    }
                    if let Some(r) = p.wave {
                        v["wave"] = json!(r);
                    }
                }
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
    let st = index.settings();
    let family = avx_embed::family::family_of(&st.family, &st.frontend);
    let prints = if opts.segments {
        None
    } else {
        Some(Prints::open(index.dir())?).filter(|p| !p.is_empty())
    };
    let of_row: Option<Vec<Option<&SoundPrint>>> = prints.as_ref().map(|prints| {
        refs.iter()
            .map(|r| prints.get(index.file_by_id(r.file_id)?.content_hash?))
            .collect()
    });
    let rows = Rows {
        owners: refs.iter().map(|r| (r.file_id, r.window)).collect(),
        data: &data,
        dim: st.dim as usize,
    };
    rows.groups(&family, opts, of_row.as_deref(), |row| {
        FileRef::of(index, refs[row].file_id)
    })
}

/// Orders each group's members after its leader by score, ties by path, so that the same files give the same
/// output whatever order their rows came in (an index's id order, a table's path order).
fn by_score_then_path(mut groups: Vec<Group>) -> Vec<Group> {
    for g in &mut groups {
        g.members[1..].sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.file.path.cmp(&b.file.path))
        });
    }
    groups
}

/// The rows a duplicate search runs over: `owners[i]` is row i's file (any id unique per file) and window,
/// `data` the rows (row-major, `dim` wide).
struct Rows<'a> {
    owners: Vec<(u64, Option<(f32, f32)>)>,
    data: &'a [f32],
    dim: usize,
}

impl Rows<'_> {
    /// The groups, files confirmed by their sound prints where `prints` is given (one per row, `None` where a
    /// file has none), else by vectors alone; `file_of(row)` names a member.
    ///
    /// The search runs over the rows in path order (then window start), whatever order they came in, so that the
    /// same files give the same groups and the same leaders from an index (id order) and from a table (the
    /// database's order): a group of exact copies is led by the first path.
    fn groups(
        &self,
        family: &str,
        opts: &DupesOptions,
        prints: Option<&[Option<&SoundPrint>]>,
        file_of: impl Fn(usize) -> FileRef,
    ) -> Result<Vec<Group>> {
        let files: Vec<FileRef> = (0..self.owners.len()).map(file_of).collect();
        let start = |r: usize| self.owners[r].1.map_or(f32::NEG_INFINITY, |w| w.0);
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by(|&a, &b| {
            files[a]
                .path
                .cmp(&files[b].path)
                .then(start(a).total_cmp(&start(b)))
        });
        if order.iter().enumerate().all(|(i, &r)| i == r) {
            return self.groups_in_order(family, opts, prints, |row| files[row].clone());
        }
        let data: Vec<f32> = order
            .iter()
            .flat_map(|&r| &self.data[r * self.dim..(r + 1) * self.dim])
            .copied()
            .collect();
        let sorted = Rows {
            owners: order.iter().map(|&r| self.owners[r]).collect(),
            data: &data,
            dim: self.dim,
        };
        let prints: Option<Vec<Option<&SoundPrint>>> =
            prints.map(|p| order.iter().map(|&r| p[r]).collect());
        sorted.groups_in_order(family, opts, prints.as_deref(), |row| {
            files[order[row]].clone()
        })
    }

    /// [`groups`](Self::groups) over the rows in the order given.
    fn groups_in_order(
        &self,
        family: &str,
        opts: &DupesOptions,
        prints: Option<&[Option<&SoundPrint>]>,
        file_of: impl Fn(usize) -> FileRef,
    ) -> Result<Vec<Group>> {
        let group = |members: Vec<GroupMember>| Group { members };
        if let Some(prints) = prints {
            let groups = confirmed_groups(self.data, self.dim, prints, family, opts)?;
            return Ok(by_score_then_path(
                groups
                    .into_iter()
                    .map(|g| {
                        group(
                            g.into_iter()
                                .map(|(row, score, print)| GroupMember {
                                    file: file_of(row),
                                    score,
                                    window: None,
                                    print,
                                })
                                .collect(),
                        )
                    })
                    .collect(),
            ));
        }
        Ok(
            groups_among(&self.owners, self.data, self.dim, family, opts)?
                .into_iter()
                .map(|g| {
                    group(
                        g.into_iter()
                            .map(|(row, score)| GroupMember {
                                file: file_of(row),
                                score,
                                window: self.owners[row].1,
                                print: None,
                            })
                            .collect(),
                    )
                })
                .collect(),
        )
    }
}

/// The duplicate search over rows read from elsewhere (a database table that `avx push` filled): `files[i]` is row
/// i's file (any id unique per file, and its path), `window` its window for segment rows, `data` the rows. Sound
/// prints live beside an index, not in the table: where `local` (the index the table was pushed from, on this
/// machine) holds prints for these paths, they confirm the candidates as in [`duplicate_groups`]; else the vectors
/// decide alone, as for an index without prints.
pub fn groups_of_rows(
    files: &[FileRef],
    windows: &[Option<(f32, f32)>],
    data: &[f32],
    dim: usize,
    family: &str,
    opts: &DupesOptions,
    local: Option<&Index>,
) -> Result<Vec<Group>> {
    let local_prints = match local {
        Some(index) if !opts.segments => Some((index, Prints::open(index.dir())?)),
        _ => None,
    };
    let of_row: Option<Vec<Option<&SoundPrint>>> = local_prints
        .as_ref()
        .map(|(index, prints)| {
            files
                .iter()
                .map(|f| prints.get(index.file_by_path(&f.path)?.content_hash?))
                .collect::<Vec<_>>()
        })
        .filter(|p| p.iter().any(Option::is_some));
    let rows = Rows {
        owners: files.iter().zip(windows).map(|(f, w)| (f.id, *w)).collect(),
        data,
        dim,
    };
    rows.groups(family, opts, of_row.as_deref(), |row| files[row].clone())
}

/// How many of the index's live files have a sound print (the rest are judged by vectors alone), and how many
/// live files there are.
pub fn print_coverage(index: &Index) -> Result<(usize, usize)> {
    let prints = Prints::open(index.dir())?;
    let (mut with, mut all) = (0, 0);
    for (r, _) in index.vectors(Level::File) {
        all += 1;
        let f = index.file_by_id(r.file_id);
        with += usize::from(f.and_then(|f| prints.get(f.content_hash?)).is_some());
    }
    Ok((with, all))
}

/// A member of a confirmed group: (row, score to the leader, how its print matched).
type Confirmed = (usize, f32, Option<PrintMatch>);

/// The two-stage search over file vectors (`data`, row-major, `dim` wide) and their prints (`prints[row]`,
/// `None` where a file has none). Each group is led by its first member (score 1, no print match).
pub fn confirmed_groups(
    data: &[f32],
    dim: usize,
    prints: &[Option<&SoundPrint>],
    family: &str,
    opts: &DupesOptions,
) -> Result<Vec<Vec<Confirmed>>> {
    let print_threshold = opts.threshold.unwrap_or(PRINT_THRESHOLD);
    let cos_threshold = opts.threshold.unwrap_or_else(|| default_threshold(family));
    let gate = opts.gate.unwrap_or_else(|| default_gate(family));
    for (name, v) in [("--threshold", print_threshold), ("--gate", gate)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(CoreError::Invalid(format!(
                "{name} must be between 0 and 1"
            )));
        }
    }
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let n = prints.len();
    // Summaries of the prints: a second candidate source, for edits that move the model's vector (silence, noise).
    let summaries: Vec<f32> = prints
        .iter()
        .flat_map(|p| match p {
            Some(p) => summary(p),
            None => vec![0.0; SUMMARY_DIM],
        })
        .collect();
    let srow = |i: usize| &summaries[i * SUMMARY_DIM..(i + 1) * SUMMARY_DIM];
    // Inverse norms once, so that a candidate pair's cosines cost one dot product each (at 100k files, about
    // 2 million pairs are gated).
    let inv_norms = |rows: &[f32], width: usize| -> Vec<f32> {
        rows.chunks_exact(width)
            .map(|r| {
                let n = dot(r, r).sqrt();
                if n > 0.0 {
                    1.0 / n
                } else {
                    0.0
                }
            })
            .collect()
    };
    let (inv, sinv) = (inv_norms(data, dim), inv_norms(&summaries, SUMMARY_DIM));
    let cos_of = |a: usize, b: usize| (dot(row(a), row(b)) * (inv[a] * inv[b])).clamp(-1.0, 1.0);
    // Whether a pair with prints goes to the print stage: its vectors pass the gate, or its print summaries do.
    let gated = |a: usize, b: usize, cos: f32| {
        cos >= gate || dot(srow(a), srow(b)) * (sinv[a] * sinv[b]) >= SUMMARY_GATE
    };
    // What a pair scores and what it must reach, as a margin (>= 0: a duplicate).
    let judge = |a: usize, b: usize| -> (f32, f32, Option<Alignment>) {
        let cos = cos_of(a, b);
        match (prints[a], prints[b]) {
            (Some(pa), Some(pb)) => {
                if !gated(a, b, cos) {
                    return (cos, -1.0, None);
                }
                let m = compare(pa, pb);
                (cos, m.score - print_threshold, Some(m))
            }
            _ => (cos, cos - cos_threshold, None),
        }
    };
    // Each compared pair is compared once (candidates come from both ends, grouping asks again); pairs that stop
    // at the gate are cheaper to judge again than to look up.
    let memo: std::sync::Mutex<std::collections::HashMap<(usize, usize), f32>> = Default::default();
    let margin = |a: usize, b: usize| {
        let key = (a.min(b), a.max(b));
        let cos = cos_of(key.0, key.1);
        match (prints[key.0], prints[key.1]) {
            (Some(_), Some(_)) if gated(key.0, key.1, cos) => {}
            (Some(_), Some(_)) => return -1.0,
            _ => return cos - cos_threshold,
        }
        if let Some(&m) = memo
            .lock()
            .map(|m| m.get(&key).copied())
            .ok()
            .flatten()
            .as_ref()
        {
            return m;
        }
        let m = judge(key.0, key.1).1;
        if let Ok(mut memo) = memo.lock() {
            memo.insert(key, m);
        }
        m
    };
    let eligible = |a: usize, b: usize| a != b;
    let k = opts.candidates.max(1);
    let groups = if n < EXACT_CANDIDATES_BELOW {
        let exact = ExactNeighbours::new(data, dim)?;
        let by_print = ExactNeighbours::new(&summaries, SUMMARY_DIM)?;
        scored(n, &Union(&exact, &by_print), k, &eligible, &margin)?
    } else {
        let buckets = BucketNeighbours::build(data, dim, 0)?;
        let by_print = BucketNeighbours::build(&summaries, SUMMARY_DIM, 0)?;
        scored(n, &Union(&buckets, &by_print), k, &eligible, &margin)?
    };
    Ok(groups
        .into_iter()
        .map(|g| {
            let leader = g[0];
            let mut members: Vec<Confirmed> = vec![(leader, 1.0, None)];
            for &i in &g[1..] {
                let (cos, _, m) = judge(leader, i);
                members.push(match m {
                    Some(m) => (
                        i,
                        m.score,
                        Some(PrintMatch {
                            cosine: cos,
                            span: m.span_b,
                            leader_span: m.span_a,
                            scale: m.scale,
                            detail: m.detail,
                            pitch: m.pitch,
                            speckle: m.speckle,
                            wave: m.wave.map(|w| w.r),
                        }),
                    ),
                    None => (i, cos, None),
                });
            }
            members[1..].sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            members
        })
        .collect())
}

/// The summary cosine at or above which a pair's prints are compared even when its vectors are below the gate.
const SUMMARY_GATE: f32 = 0.8;

/// Candidates from two sources: each row's `k` nearest by both, deduplicated (up to `2 k`).
struct Union<'a>(&'a dyn Neighbours, &'a dyn Neighbours);

impl Neighbours for Union<'_> {
    fn neighbours(&self, row: usize, k: usize) -> Vec<(usize, f32)> {
        let mut out = self.0.neighbours(row, k);
        for (r, s) in self.1.neighbours(row, k) {
            if !out.iter().any(|&(q, _)| q == r) {
                out.push((r, s));
            }
        }
        out
    }

    fn neighbours_batch(&self, rows: &[usize], k: usize) -> Vec<Vec<(usize, f32)>> {
        let a = self.0.neighbours_batch(rows, k);
        let b = self.1.neighbours_batch(rows, k);
        a.into_iter()
            .zip(b)
            .map(|(mut out, more)| {
                for (r, s) in more {
                    if !out.iter().any(|&(q, _)| q == r) {
                        out.push((r, s));
                    }
                }
                out
            })
            .collect()
    }
}

/// Star groups over the margin links (rows only; the caller scores the members).
fn scored(
    n: usize,
    candidates: &dyn Neighbours,
    k: usize,
    eligible: &(dyn Fn(usize, usize) -> bool + Sync),
    margin: &(dyn Fn(usize, usize) -> f32 + Sync),
) -> Result<Vec<Vec<usize>>> {
    let groups = duplicate_groups_scored(n, candidates, k, eligible, margin, 0.0)?;
    Ok(groups
        .into_iter()
        .map(|g| g.members.into_iter().map(|m| m.0).collect())
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
    use super::{default_threshold, groups_of_rows, DupesOptions};
    use crate::FileRef;

    /// Three exact copies and a near pair among unrelated rows, handed over in two orders: the same groups,
    /// leaders first in path order, either way.
    #[test]
    fn groups_and_leaders_do_not_depend_on_the_rows_order() {
        let dim = 16;
        let row = |seed: u64| -> Vec<f32> {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            (0..dim)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect()
        };
        let mut near = row(7);
        near[0] += 0.01;
        let rows: Vec<(&str, Vec<f32>)> = vec![
            ("lib/c.wav", row(1)),
            ("lib/x.wav", row(2)),
            ("lib/a.wav", row(1)),
            ("lib/n2.wav", near),
            ("lib/y.wav", row(3)),
            ("lib/b.wav", row(1)),
            ("lib/n1.wav", row(7)),
        ];
        let run = |order: &[usize]| -> Vec<Vec<String>> {
            let files: Vec<FileRef> = order
                .iter()
                .map(|&i| FileRef {
                    id: 100 + i as u64,
                    path: rows[i].0.into(),
                })
                .collect();
            let data: Vec<f32> = order.iter().flat_map(|&i| rows[i].1.clone()).collect();
            let windows = vec![None; order.len()];
            let groups = groups_of_rows(
                &files,
                &windows,
                &data,
                dim,
                "clap",
                &DupesOptions::default(),
                None,
            )
            .unwrap();
            let mut out: Vec<Vec<String>> = groups
                .iter()
                .map(|g| {
                    g.members
                        .iter()
                        .map(|m| m.file.path.display().to_string())
                        .collect()
                })
                .collect();
            out.sort();
            out
        };
        let forward = run(&[0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(
            forward,
            vec![
                vec!["lib/a.wav", "lib/b.wav", "lib/c.wav"],
                vec!["lib/n1.wav", "lib/n2.wav"],
            ]
        );
        assert_eq!(run(&[6, 5, 4, 3, 2, 1, 0]), forward);
        assert_eq!(run(&[3, 0, 6, 2, 5, 1, 4]), forward);
    }

    #[test]
    fn default_threshold_follows_the_model_family() {
        assert_eq!(default_threshold("clap"), 0.97);
        assert_eq!(default_threshold("aisfx"), 0.985);
        assert_eq!(default_threshold("some-new-family"), 0.97);
    }
}
