//! Motif discovery: what recurs across long recordings (idents, jingles, beds, adverts), and where.
//!
//! Input: window vectors (row-major `n × dim`) with a [`Span`] per row (which track, i.e. file, and the window's
//! start and end in seconds), and a candidate source ([`Neighbours`]: exact below a few thousand rows, k-means
//! buckets or an ANN index above). All pairs are never compared.
//!
//! # Semantics
//!
//! 0. **Centring** (the caller's choice, recommended): embeddings of one model share a large common component
//!    (aiSFX window vectors of unrelated speech have cosine 0.94 to 0.98), so [`center`] subtracts the mean row
//!    first; after it, unrelated windows score around 0 and repeats of one passage 0.85 to 0.99.
//! 1. **Window links.** Every row asks the candidate source for its `k` nearest rows (widening where rows are
//!    excluded); a pair is a *link* when its exact cosine is `>= threshold` and the two windows are not
//!    windows of the same track whose starts are less than `min_self_lag` seconds apart (a passage is not its
//!    own repeat).
//! 2. **Runs.** The links of one pair of tracks are points `(start_a, start_b)`. A recurring passage shows as a
//!    diagonal line: consecutive windows at a constant lag `start_b - start_a`. Points are joined into a run
//!    when their starts in track `a` are at most `gap_hops` hops apart and their lags differ by at most
//!    `lag_hops` hops (the hop is the track's measured window spacing, the larger of the two tracks'). A run
//!    gives one segment in each track: from the first matched window's start to the last one's end. Runs
//!    whose segments are shorter than `min_length` seconds or that hold fewer than `min_windows` links are
//!    dropped.
//! 3. **Occurrences.** Segments of one track that overlap by at least half of the longer one are merged into
//!    one occurrence, so a 3 s and a 6 s version of one ident stay distinct segments until a run ties them,
//!    and a jingle next to a bed does not swallow the bed. It starts at the most common start of its
//!    segments (within ±0.25 s) and ends at the latest end within 1 s of their most common end: not their
//!    union, which a run over two motifs played back to back (twice somewhere) stretches over both. Where
//!    such runs tie two motifs' segments into one group, the group is cut where most of its segments end (or
//!    ended up to 1 s before: speech that stops short of the next item) and as many others start, and fewer
//!    cross (`split_parts`).
//! 4. **Motifs.** A run ties occurrences through its time map: an occurrence in its first segment, shifted by
//!    the run's lag, to the occurrences of the other track it overlaps by half of the shorter. An occurrence
//!    that shorter occurrences of its track cover (runs over two motifs back to back in several places make
//!    one over both) ties nothing. Tied occurrences form connected components; each component with at least
//!    `min_occurrences` occurrences is a motif. Occurrences of one motif in one track that overlap by half of
//!    the shorter are merged. The *representative* is the occurrence with the most links (ties to the earliest).
//! 5. **Order.** Occurrences by track then start; motifs by number of occurrences (descending), then by the
//!    representative's track and start.
//!
//! Scores are exact cosines; an occurrence's score is the mean cosine of the window links that made it.

use std::collections::HashMap;

use super::dupes::verified_links;
use super::linalg::{dot, inv_norms, rows_of};
use super::{AnalysisError, Neighbours};

/// Where one row lies: its track (a file) and its window's span in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// Track number (any numbering; rows of one track need not be contiguous).
    pub track: u32,
    /// Window start, seconds.
    pub start: f32,
    /// Window end, seconds.
    pub end: f32,
}

/// Parameters of [`recurring`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecurringConfig {
    /// Minimum exact cosine of two windows for a link.
    pub threshold: f32,
    /// Candidate neighbours per window.
    pub k: usize,
    /// Minimum length of an occurrence, seconds.
    pub min_length: f32,
    /// Minimum links in a run.
    pub min_windows: usize,
    /// Minimum occurrences of a motif.
    pub min_occurrences: usize,
    /// Largest gap between consecutive links of a run, in hops.
    pub gap_hops: f32,
    /// Largest lag difference between consecutive links of a run, in hops.
    pub lag_hops: f32,
    /// Smallest distance between the starts of two linked windows of one track, seconds.
    pub min_self_lag: f32,
}

impl Default for RecurringConfig {
    fn default() -> Self {
        Self {
            threshold: 0.85,
            k: 20,
            min_length: 2.0,
            min_windows: 2,
            min_occurrences: 3,
            gap_hops: 2.5,
            lag_hops: 1.5,
            min_self_lag: 5.0,
        }
    }
}

/// One occurrence of a motif.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// The track.
    pub track: u32,
    /// Start, seconds.
    pub start: f32,
    /// End, seconds.
    pub end: f32,
    /// Mean exact cosine of the window links that made it.
    pub score: f32,
    /// Number of window links that made it.
    pub links: usize,
}

/// A recurring passage and everywhere it occurs.
#[derive(Debug, Clone, PartialEq)]
pub struct Motif {
    /// Occurrences by track, then start.
    pub occurrences: Vec<Occurrence>,
    /// Index into `occurrences` of the representative (most links, ties to the earliest).
    pub representative: usize,
}

impl Motif {
    /// The representative occurrence.
    pub fn representative(&self) -> &Occurrence {
        &self.occurrences[self.representative]
    }
}

/// A link between two windows of tracks `(ta, tb)`, seen from `a` (the lower track, or the earlier window).
#[derive(Debug, Clone, Copy)]
struct Point {
    a: u32,
    b: u32,
    score: f32,
}

/// A run's segment in one track, with the run it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub(crate) track: u32,
    pub(crate) start: f32,
    pub(crate) end: f32,
    pub(crate) run: u32,
}

/// Rows per block of candidate queries in [`recurring`].
const QUERY_BLOCK: usize = 1 << 16;

/// Finds recurring motifs. See the [module documentation](self).
///
/// Errors: bad shape, non-finite values, a NaN threshold, `spans.len()` different from the number of rows,
/// or a candidate row out of range.
pub fn recurring(
    data: &[f32],
    dim: usize,
    spans: &[Span],
    candidates: &dyn Neighbours,
    cfg: &RecurringConfig,
) -> Result<Vec<Motif>, AnalysisError> {
    let n = rows_of(data, dim)?;
    if spans.len() != n {
        return Err(AnalysisError::LengthMismatch {
            left: n,
            right: spans.len(),
        });
    }
    if cfg.threshold.is_nan() {
        return Err(AnalysisError::InvalidThreshold);
    }
    let inv = inv_norms(data, dim)?;
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let score = |a: usize, b: usize| (dot(row(a), row(b)) * (inv[a] * inv[b])).clamp(-1.0, 1.0);
    let eligible = |a: usize, b: usize| {
        let (x, y) = (&spans[a], &spans[b]);
        a != b && !(x.track == y.track && (x.start - y.start).abs() < cfg.min_self_lag)
    };
    // Rows ask in blocks, so that only one block's candidate lists are held at a time (3.6M rows' lists of
    // 20 would be about 1.2 GB); the links of all blocks are then deduplicated together.
    let mut links = Vec::new();
    for first in (0..n).step_by(QUERY_BLOCK) {
        let queries: Vec<usize> = (first..n.min(first + QUERY_BLOCK)).collect();
        links.extend(verified_links(
            candidates,
            &queries,
            n,
            cfg.k,
            &eligible,
            &score,
            cfg.threshold,
        )?);
    }
    links.sort_unstable();
    links.dedup();

    // 2. Runs per pair of tracks.
    let hops = track_hops(spans);
    let mut by_pair: HashMap<(u32, u32), Vec<Point>> = HashMap::new();
    for &(x, y) in &links {
        let (mut a, mut b) = (x, y);
        let (sa, sb) = (spans[a as usize], spans[b as usize]);
        if (sa.track, sa.start) > (sb.track, sb.start) {
            std::mem::swap(&mut a, &mut b);
        }
        let key = (spans[a as usize].track, spans[b as usize].track);
        by_pair.entry(key).or_default().push(Point {
            a,
            b,
            score: score(a as usize, b as usize),
        });
    }
    let mut pairs: Vec<((u32, u32), Vec<Point>)> = by_pair.into_iter().collect();
    pairs.sort_unstable_by_key(|p| p.0);

    let mut segments: Vec<Segment> = Vec::new();
    let mut run_stats: Vec<(usize, f32)> = Vec::new(); // (links, score sum) per run
    for ((ta, tb), mut points) in pairs {
        let hop = hops[&ta].max(hops[&tb]);
        let (max_gap, max_lag) = (cfg.gap_hops * hop, cfg.lag_hops * hop);
        let st = |r: u32| spans[r as usize].start;
        points.sort_by(|p, q| {
            st(p.a)
                .total_cmp(&st(q.a))
                .then(st(p.b).total_cmp(&st(q.b)))
        });
        let lag = |p: &Point| st(p.b) - st(p.a);
        let mut parent: Vec<usize> = (0..points.len()).collect();
        for i in 0..points.len() {
            for j in i + 1..points.len() {
                if st(points[j].a) - st(points[i].a) > max_gap {
                    break;
                }
                if (lag(&points[j]) - lag(&points[i])).abs() <= max_lag {
                    union(&mut parent, i, j);
                }
            }
        }
        let mut runs: HashMap<usize, Vec<usize>> = HashMap::new();
        for i in 0..points.len() {
            let r = find(&mut parent, i);
            runs.entry(r).or_default().push(i);
        }
        let mut runs: Vec<Vec<usize>> = runs.into_values().collect();
        runs.sort_unstable_by_key(|r| r[0]);
        for members in runs {
            if members.len() < cfg.min_windows.max(1) {
                continue;
            }
            let extent = |pick: &dyn Fn(&Point) -> u32| {
                members
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(s, e), &i| {
                        let sp = &spans[pick(&points[i]) as usize];
                        (s.min(sp.start), e.max(sp.end))
                    })
            };
            let (sa, ea) = extent(&|p| p.a);
            let (sb, eb) = extent(&|p| p.b);
            if ea - sa < cfg.min_length || eb - sb < cfg.min_length {
                continue;
            }
            let run = run_stats.len() as u32;
            let sum: f32 = members.iter().map(|&i| points[i].score).sum();
            run_stats.push((members.len(), sum));
            segments.push(Segment {
                track: ta,
                start: sa,
                end: ea,
                run,
            });
            segments.push(Segment {
                track: tb,
                start: sb,
                end: eb,
                run,
            });
        }
    }

    Ok(group_segments(&segments, &run_stats, cfg.min_occurrences))
}

/// Seconds past the most common end of an occurrence's segments that its end may reach.
const END_SLACK_S: f32 = 1.0;

/// Seconds either side of a value within which [`mode`] counts the others.
const MODE_WIDTH_S: f32 = 0.25;

/// The most common value of `x`: the median of the values within ±[`MODE_WIDTH_S`] of the value with the most
/// such neighbours (the earliest on a tie); 0 for none.
fn mode(x: &mut [f32]) -> f32 {
    x.sort_by(f32::total_cmp);
    let (mut best, mut lo, mut hi) = (None::<(usize, usize)>, 0, 0);
    for i in 0..x.len() {
        while x[lo] < x[i] - MODE_WIDTH_S {
            lo += 1;
        }
        while hi < x.len() && x[hi] <= x[i] + MODE_WIDTH_S {
            hi += 1;
        }
        if best.is_none_or(|(a, b)| hi - lo > b - a) {
            best = Some((lo, hi));
        }
    }
    best.map_or(0.0, |(a, b)| x[a + (b - a - 1) / 2])
}

/// Seconds either side of a boundary within which [`split_parts`] counts segments that end or start there.
const BOUNDARY_WIDTH_S: f32 = 0.35;

/// Shortest part [`split_parts`] cuts off an occurrence, seconds.
const MIN_PART_S: f32 = 1.0;

/// Each segment's part of its occurrence (`seg_parent`: segments of one occurrence share a root), counted from 0
/// at its start. An occurrence is cut at a boundary `p` (one of its segments' starts) where at least two of its
/// segments end between [`END_SLACK_S`] before and [`BOUNDARY_WIDTH_S`] after it (a sign-off's speech stops
/// short of the next item), at least two start within ±[`BOUNDARY_WIDTH_S`], and fewer than either number
/// cross it:
/// two motifs played back to back, each with runs of its own, and a few runs over both from another place where
/// they are back to back. A beep pattern's runs at one period's shift start inside the pattern but most runs
/// cross that point, so it is no boundary. Parts are at least [`MIN_PART_S`] long; a segment belongs to the part
/// its start lies in.
fn split_parts(segments: &[Segment], order: &[usize], seg_parent: &mut [usize]) -> Vec<usize> {
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for &i in order {
        groups.entry(find(seg_parent, i)).or_default().push(i);
    }
    let mut part = vec![0usize; segments.len()];
    let w = BOUNDARY_WIDTH_S;
    for members in groups.values() {
        if members.len() < 4 {
            continue;
        }
        let first = members
            .iter()
            .map(|&i| segments[i].start)
            .fold(f32::INFINITY, f32::min);
        let last = members
            .iter()
            .map(|&i| segments[i].end)
            .fold(f32::NEG_INFINITY, f32::max);
        let count = |p: f32| {
            let (mut starting, mut ending, mut crossing) = (0, 0, 0);
            for &i in members {
                let s = &segments[i];
                starting += usize::from((s.start - p).abs() <= w);
                ending += usize::from(s.end >= p - END_SLACK_S && s.end <= p + w);
                crossing += usize::from(s.start < p - w && s.end > p + w);
            }
            (starting, ending, crossing)
        };
        let mut starts: Vec<f32> = members.iter().map(|&i| segments[i].start).collect();
        starts.sort_by(f32::total_cmp);
        starts.dedup();
        let mut cuts: Vec<(f32, usize)> = Vec::new(); // (point, segments starting there)
        for p in starts {
            if p - first < MIN_PART_S || last - p < MIN_PART_S {
                continue;
            }
            let (starting, ending, crossing) = count(p);
            if starting < 2 || ending < 2 || crossing >= starting.min(ending) {
                continue;
            }
            match cuts.last_mut() {
                // One boundary: keep the start most segments share.
                Some(c) if p - c.0 < MIN_PART_S => {
                    if starting > c.1 {
                        *c = (p, starting);
                    }
                }
                _ => cuts.push((p, starting)),
            }
        }
        for &i in members {
            part[i] = cuts.iter().filter(|c| segments[i].start >= c.0 - w).count();
        }
    }
    part
}

/// Steps 3 to 5 of the [module documentation](self): `segments` come in pairs (`2k` and `2k + 1` are run `k`'s
/// segments in its two tracks; a segment's `run` indexes `run_stats`, the run's (links, score sum)). Shared
/// with [`super::landmarks`], whose runs are offsets on which many hashes agree.
pub(crate) fn group_segments(
    segments: &[Segment],
    run_stats: &[(usize, f32)],
    min_occurrences: usize,
) -> Vec<Motif> {
    // 3. Occurrences: segments of one track overlapping by half of the longer one.
    let mut seg_parent: Vec<usize> = (0..segments.len()).collect();
    let mut order: Vec<usize> = (0..segments.len()).collect();
    order.sort_by(|&x, &y| {
        let (p, q) = (&segments[x], &segments[y]);
        p.track.cmp(&q.track).then(p.start.total_cmp(&q.start))
    });
    for (oi, &i) in order.iter().enumerate() {
        for &j in &order[oi + 1..] {
            let (p, q) = (&segments[i], &segments[j]);
            if q.track != p.track || q.start >= p.end {
                break; // sorted by start: no later segment overlaps `p`
            }
            let overlap = p.end.min(q.end) - q.start;
            let longer = (p.end - p.start).max(q.end - q.start);
            if overlap >= 0.5 * longer {
                union(&mut seg_parent, i, j);
            }
        }
    }
    // 3b. Boundaries inside a group: where most segments end and as many others start (two motifs played back
    // to back; a run over both, from a place where they are back to back too, overlaps each by half).
    let part = split_parts(segments, &order, &mut seg_parent);
    // Occurrence of each segment.
    let mut occ_of_root: HashMap<(usize, usize), usize> = HashMap::new();
    let mut occ: Vec<Occurrence> = Vec::new();
    // Each occurrence's segment starts and ends: it spans from their mode ([`mode`]) to the longest end within
    // END_SLACK_S of theirs, not their union (a run over two adjacent motifs, repeated together somewhere,
    // would otherwise stretch one of them over the other, and the runs of a beep pattern at one period's shift
    // start a period late or end a period early).
    let mut bounds: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
    for &i in &order {
        let r = find(&mut seg_parent, i);
        let s = segments[i];
        let id = *occ_of_root.entry((r, part[i])).or_insert_with(|| {
            occ.push(Occurrence {
                track: s.track,
                start: s.start,
                end: s.end,
                score: 0.0,
                links: 0,
            });
            bounds.push((Vec::new(), Vec::new()));
            occ.len() - 1
        });
        let o = &mut occ[id];
        bounds[id].0.push(s.start);
        bounds[id].1.push(s.end);
        let (count, sum) = run_stats[s.run as usize];
        o.links += count;
        o.score += sum;
    }
    for (o, (starts, ends)) in occ.iter_mut().zip(&mut bounds) {
        o.start = mode(starts);
        // The longest reach within END_SLACK_S of the most common end: a sound fading out ends wherever its
        // last hashes or windows agree, a run over the next motif ends seconds later.
        let common = mode(ends);
        let end = ends
            .iter()
            .copied()
            .filter(|&e| e <= common + END_SLACK_S)
            .fold(common, f32::max);
        o.end = end.max(o.start);
    }

    // 4. Motifs: occurrences tied by runs, through each run's time map.
    let mut occ_parent = tie_occurrences(segments, &occ);
    let mut comps: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..occ.len() {
        let r = find(&mut occ_parent, i);
        comps.entry(r).or_default().push(i);
    }
    let mut motifs = Vec::new();
    for members in comps.into_values() {
        let mut list: Vec<Occurrence> = members.iter().map(|&i| occ[i].clone()).collect();
        list.sort_by(|p, q| p.track.cmp(&q.track).then(p.start.total_cmp(&q.start)));
        let mut merged: Vec<Occurrence> = Vec::with_capacity(list.len());
        for o in list {
            match merged.last_mut() {
                // The same place: overlapping by half of the shorter (not merely touching: two motifs
                // played back to back stay two occurrences).
                Some(m)
                    if m.track == o.track
                        && m.end.min(o.end) - o.start
                            >= 0.5 * (m.end - m.start).min(o.end - o.start) =>
                {
                    m.end = m.end.max(o.end);
                    m.links += o.links;
                    m.score += o.score;
                }
                _ => merged.push(o),
            }
        }
        if merged.len() < min_occurrences.max(2) {
            continue;
        }
        for o in &mut merged {
            o.score /= o.links.max(1) as f32;
        }
        let mut representative = 0;
        for (i, o) in merged.iter().enumerate() {
            if o.links > merged[representative].links {
                representative = i;
            }
        }
        motifs.push(Motif {
            occurrences: merged,
            representative,
        });
    }
    sort_motifs(&mut motifs);
    motifs
}

/// Step 4's ties: a run maps its segment in one track onto its segment in the other (shifted by the difference of
/// their starts). It ties an occurrence `o` of the first track to an occurrence `p` of the second when both lie in
/// its segments (each overlapping its segment by half of the shorter) and `o`'s stretch of the segment, mapped,
/// overlaps `p` by half of the shorter. A run over two motifs played back to back in both places ties each
/// motif to itself, not the two together (tying a run's two segments' occurrences did: on eval/archive's 8.75 h
/// set, six of eight sources became one motif). Returns the union-find parents of the occurrences.
fn tie_occurrences(segments: &[Segment], occ: &[Occurrence]) -> Vec<usize> {
    // Occurrences per track, by start, with the track's longest.
    let mut by_track: HashMap<u32, (Vec<usize>, f32)> = HashMap::new();
    for (i, o) in occ.iter().enumerate() {
        let e = by_track.entry(o.track).or_default();
        e.0.push(i);
        e.1 = e.1.max(o.end - o.start);
    }
    for (list, _) in by_track.values_mut() {
        list.sort_by(|&x, &y| occ[x].start.total_cmp(&occ[y].start));
    }
    // Whether `s..e` and occurrence `o` overlap by half of the shorter.
    let half_of_shorter = |s: f32, e: f32, o: &Occurrence| {
        let v = e.min(o.end) - s.max(o.start);
        v > 0.0 && v >= 0.5 * (e - s).min(o.end - o.start)
    };
    let composite = composites(occ, &by_track);
    // The occurrences of a segment's track that lie in it, composites left out.
    let within = |seg: &Segment| -> Vec<usize> {
        let Some((list, longest)) = by_track.get(&seg.track) else {
            return Vec::new();
        };
        let first = list.partition_point(|&i| occ[i].start < seg.start - longest);
        list[first..]
            .iter()
            .copied()
            .take_while(|&i| occ[i].start < seg.end)
            .filter(|&i| !composite[i] && half_of_shorter(seg.start, seg.end, &occ[i]))
            .collect()
    };
    let mut parent: Vec<usize> = (0..occ.len()).collect();
    for pair in segments.chunks_exact(2) {
        let (x, y) = (&pair[0], &pair[1]);
        let shift = y.start - x.start;
        let targets = within(y);
        for i in within(x) {
            let (s, e) = (
                occ[i].start.max(x.start) + shift,
                occ[i].end.min(x.end) + shift,
            );
            for &j in &targets {
                if half_of_shorter(s, e, &occ[j]) {
                    union(&mut parent, i, j);
                }
            }
        }
    }
    parent
}

/// Share of an occurrence that shorter occurrences of its track must cover for it to be a composite.
const COMPOSITE_COVER: f32 = 0.8;

/// Whether each occurrence is a *composite*: two or more shorter occurrences of its track (each at least
/// [`MIN_PART_S`] shorter, starting inside it or up to [`BOUNDARY_WIDTH_S`] before, with at least half of their
/// length inside it: a sound's decay may reach past the composite's end) cover [`COMPOSITE_COVER`] of it. Two
/// motifs played back to back in several places give runs over both, whose segments overlap neither motif's by
/// half of the longer: they form an occurrence of their own over both, which would tie the two motifs together.
/// A 3 s ident inside a 6 s one covers half of it: no composite. `by_track`: occurrence indices per track, by
/// start, with the track's longest occurrence.
fn composites(occ: &[Occurrence], by_track: &HashMap<u32, (Vec<usize>, f32)>) -> Vec<bool> {
    let mut out = vec![false; occ.len()];
    let w = BOUNDARY_WIDTH_S;
    for (list, _) in by_track.values() {
        for &i in list {
            let o = &occ[i];
            let len = o.end - o.start;
            let first = list.partition_point(|&j| occ[j].start < o.start - w);
            let mut parts: Vec<(f32, f32)> = list[first..]
                .iter()
                .take_while(|&&j| occ[j].start < o.end)
                .filter(|&&j| {
                    let p = &occ[j];
                    let plen = p.end - p.start;
                    j != i
                        && plen <= len - MIN_PART_S
                        && p.end.min(o.end) - p.start.max(o.start) >= 0.5 * plen
                })
                .map(|&j| (occ[j].start.max(o.start), occ[j].end.min(o.end)))
                .collect();
            if parts.len() < 2 {
                continue;
            }
            parts.sort_by(|x, y| x.0.total_cmp(&y.0));
            let (mut covered, mut reach) = (0.0f32, o.start);
            for (s, e) in parts {
                covered += (e - s.max(reach)).max(0.0);
                reach = reach.max(e);
            }
            out[i] = covered >= COMPOSITE_COVER * len;
        }
    }
    out
}

/// Orders motifs as [`recurring`] returns them (step 5 of the [module documentation](self)): by number of
/// occurrences (descending), then by the representative's track and start.
pub fn sort_motifs(motifs: &mut [Motif]) {
    motifs.sort_by(|x, y| {
        let (p, q) = (x.representative(), y.representative());
        y.occurrences
            .len()
            .cmp(&x.occurrences.len())
            .then(p.track.cmp(&q.track))
            .then(p.start.total_cmp(&q.start))
    });
}

/// Subtracts the mean row from every row of `data` (`n × dim`), in place (see step 0 of the
/// [module documentation](self)). Errors: bad shape.
pub fn center(data: &mut [f32], dim: usize) -> Result<(), AnalysisError> {
    let n = rows_of(data, dim)?;
    if n == 0 {
        return Ok(());
    }
    let mut mean = vec![0f64; dim];
    for row in data.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, x)| *m += *x as f64);
    }
    let mean: Vec<f32> = mean.into_iter().map(|m| (m / n as f64) as f32).collect();
    for row in data.chunks_exact_mut(dim) {
        row.iter_mut().zip(&mean).for_each(|(x, m)| *x -= m);
    }
    Ok(())
}

/// Each track's hop: the smallest positive difference between the starts of its windows (1 s when a track
/// has one window).
fn track_hops(spans: &[Span]) -> HashMap<u32, f32> {
    let mut starts: HashMap<u32, Vec<f32>> = HashMap::new();
    for s in spans {
        starts.entry(s.track).or_default().push(s.start);
    }
    starts
        .into_iter()
        .map(|(t, mut v)| {
            v.sort_by(f32::total_cmp);
            let hop = v
                .windows(2)
                .map(|w| w[1] - w[0])
                .filter(|d| *d > 1e-4)
                .fold(f32::INFINITY, f32::min);
            (t, if hop.is_finite() { hop } else { 1.0 })
        })
        .collect()
}

pub(crate) fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

pub(crate) fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb)] = ra.min(rb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{ExactNeighbours, Rng};

    /// A unit vector of "background" that changes every window, or of a motif's `i`-th window.
    fn random_unit(rng: &mut Rng, dim: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dim).map(|_| rng.gaussian() as f32).collect();
        let n = dot(&v, &v).sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    /// Tracks of `len` windows (hop 0.5 s, windows 2 s long) of random background with a motif of `m`
    /// windows planted at the given window offsets `(track, first window)`.
    fn archive(
        tracks: usize,
        len: usize,
        m: usize,
        plants: &[(usize, usize)],
    ) -> (Vec<f32>, Vec<Span>) {
        let dim = 32;
        let mut rng = Rng::new(7);
        let motif: Vec<Vec<f32>> = (0..m).map(|_| random_unit(&mut rng, dim)).collect();
        let mut data = Vec::new();
        let mut spans = Vec::new();
        for t in 0..tracks {
            for w in 0..len {
                let planted = plants
                    .iter()
                    .find(|&&(pt, pw)| pt == t && (pw..pw + m).contains(&w));
                let v = match planted {
                    Some(&(_, pw)) => {
                        // The motif, slightly perturbed.
                        let noise = random_unit(&mut rng, dim);
                        let v: Vec<f32> = motif[w - pw]
                            .iter()
                            .zip(&noise)
                            .map(|(a, b)| a + 0.1 * b)
                            .collect();
                        v
                    }
                    None => random_unit(&mut rng, dim),
                };
                data.extend(v);
                let start = w as f32 * 0.5;
                spans.push(Span {
                    track: t as u32,
                    start,
                    end: start + 2.0,
                });
            }
        }
        (data, spans)
    }

    /// A motif's occurrences as `(track, start, end)`.
    fn places(m: &Motif) -> Vec<(u32, f32, f32)> {
        m.occurrences
            .iter()
            .map(|o| (o.track, o.start, o.end))
            .collect()
    }

    fn check(plants: &[(usize, usize)], m: usize, expected: &[(u32, f32, f32)]) {
        let (data, spans) = archive(4, 80, m, plants);
        let nb = ExactNeighbours::new(&data, 32).unwrap();
        let motifs = recurring(&data, 32, &spans, &nb, &RecurringConfig::default()).unwrap();
        assert_eq!(motifs.len(), 1, "{motifs:?}");
        let got = places(&motifs[0]);
        assert_eq!(got, expected);
        for o in &motifs[0].occurrences {
            assert!(o.score >= 0.9 && o.links >= 2, "{o:?}");
        }
    }

    #[test]
    fn an_occurrence_spans_the_most_common_start_and_end() {
        // A beep pattern's runs: most start at 10.0, some a period (1 s) late, one run over an earlier motif too.
        let mut starts = [10.02, 11.0, 10.0, 12.01, 10.01, 4.0, 11.02, 9.98];
        assert_eq!(mode(&mut starts), 10.0);
        assert_eq!(mode(&mut [3.0]), 3.0);
        assert_eq!(mode(&mut []), 0.0);
        // A tie goes to the earliest group.
        assert_eq!(mode(&mut [5.0, 1.0]), 1.0);
    }

    /// Segments of runs `(track, start, end)` pairs, each run with 10 links and score 1.
    fn grouped(runs: &[[(u32, f32, f32); 2]]) -> Vec<Motif> {
        let segments: Vec<Segment> = runs
            .iter()
            .enumerate()
            .flat_map(|(r, pair)| {
                pair.map(|(track, start, end)| Segment {
                    track,
                    start,
                    end,
                    run: r as u32,
                })
            })
            .collect();
        group_segments(&segments, &vec![(10, 10.0); runs.len()], 3)
    }

    #[test]
    fn motifs_played_back_to_back_are_cut_apart() {
        // Motif A (5 s) at 10 s in track 0, then motif B (6 s) at 15 s; A also in tracks 1 to 3, B in 1, 4, 5.
        // Tracks 0 and 1 have them back to back both, so a run spans both there (and one spans A and half of B,
        // which ties the two groups of segments of track 0 into one).
        let a = [
            (0, 10.0, 15.0),
            (1, 20.0, 25.0),
            (2, 30.0, 35.0),
            (3, 40.0, 45.0),
        ];
        let b = [
            (0, 15.0, 21.0),
            (1, 25.0, 31.0),
            (4, 50.0, 56.0),
            (5, 60.0, 66.0),
        ];
        let mut runs = runs_within(&[&a, &b]);
        runs.push([(0, 10.0, 21.0), (1, 20.0, 31.0)]);
        runs.push([(0, 10.0, 18.0), (1, 20.0, 28.0)]);
        let motifs = grouped(&runs);
        let got: Vec<Vec<(u32, f32, f32)>> = motifs.iter().map(places).collect();
        assert_eq!(got, vec![a.to_vec(), b.to_vec()]);
    }

    /// Every pair of the places of each motif, as runs.
    fn runs_within(motifs: &[&[(u32, f32, f32)]]) -> Vec<[(u32, f32, f32); 2]> {
        let mut runs = Vec::new();
        for m in motifs {
            for i in 0..m.len() {
                for j in i + 1..m.len() {
                    runs.push([m[i], m[j]]);
                }
            }
        }
        runs
    }

    /// A motif of `a_len` seconds in tracks 0 to 3 and 7, and one of 3 s in tracks 0 and 4 to 7, back to back
    /// (the second at 13.3 s) in tracks 0 and 7.
    type Places = [(u32, f32, f32); 5];
    fn back_to_back(a_len: f32) -> (Places, Places) {
        let a =
            [(0, 10.0), (1, 20.0), (2, 30.0), (3, 40.0), (7, 50.0)].map(|(t, s)| (t, s, s + a_len));
        let b =
            [(0, 13.3), (4, 60.0), (5, 70.0), (6, 80.0), (7, 53.3)].map(|(t, s)| (t, s, s + 3.0));
        (a, b)
    }

    #[test]
    fn a_motif_that_ends_before_the_next_begins_is_cut_from_it() {
        // A sign-off (its speech ends at 12.7 s, 0.6 s before the next item) then a jingle, back to back in tracks
        // 0 and 7. The runs over both, and a sign-off run and a jingle run whose ends reach a little further,
        // overlap each other by half of the longer and make one group of track 0's segments; the jingle's start
        // is the boundary, though the sign-off's runs end 0.6 s before it.
        let (a, b) = back_to_back(2.7);
        let mut runs = runs_within(&[&a, &b]);
        runs.push([(0, 10.0, 16.3), (7, 50.0, 56.3)]);
        runs.push([(0, 10.0, 13.2), (1, 20.0, 23.2)]);
        runs.push([(0, 12.9, 16.3), (4, 59.6, 63.0)]);
        let got: Vec<Vec<(u32, f32, f32)>> = grouped(&runs).iter().map(places).collect();
        let mut want_a = a.to_vec();
        want_a[0].2 = 13.2; // the longest end within a second of the common one
        want_a[1].2 = 23.2;
        assert_eq!(got, vec![want_a, b.to_vec()]);
    }

    #[test]
    fn an_occurrence_over_two_back_to_back_motifs_ties_neither() {
        // As above, but the runs over both motifs (tracks 0 and 7) make an occurrence of their own in each track,
        // over the two motifs' occurrences there. Each motif's runs lie in it: tying through it would make the
        // two motifs one.
        let (a, b) = back_to_back(2.8);
        let mut runs = runs_within(&[&a, &b]);
        runs.push([(0, 10.0, 16.3), (7, 50.0, 56.3)]);
        let got: Vec<Vec<(u32, f32, f32)>> = grouped(&runs).iter().map(places).collect();
        assert_eq!(got, vec![a.to_vec(), b.to_vec()]);
    }

    #[test]
    fn a_beep_patterns_shifted_runs_cut_nothing() {
        // A 6 s pattern of beeps once a second at 10 s in tracks 0 to 3: besides the aligned runs, runs one and two
        // periods off start inside it (and end before its end in the other track). Most runs cross those starts.
        let at = [10.0f32, 20.0, 30.0, 40.0];
        let mut runs = Vec::new();
        for i in 0..at.len() {
            for j in 0..at.len() {
                if i < j {
                    runs.push([
                        (i as u32, at[i], at[i] + 6.0),
                        (j as u32, at[j], at[j] + 6.0),
                    ]);
                }
                if i != j {
                    for shift in [1.0, 2.0] {
                        runs.push([
                            (i as u32, at[i] + shift, at[i] + 6.0),
                            (j as u32, at[j], at[j] + 6.0 - shift),
                        ]);
                    }
                }
            }
        }
        let motifs = grouped(&runs);
        assert_eq!(motifs.len(), 1, "{motifs:?}");
        let got = places(&motifs[0]);
        let want: Vec<(u32, f32, f32)> = (0..4).map(|t| (t as u32, at[t], at[t] + 6.0)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn planted_motif_found_everywhere_with_its_offsets() {
        // 8 windows: 3.5 s of starts + a 2 s window = 5.5 s.
        check(
            &[(0, 10), (1, 40), (2, 5), (3, 60)],
            8,
            &[
                (0, 5.0, 10.5),
                (1, 20.0, 25.5),
                (2, 2.5, 8.0),
                (3, 30.0, 35.5),
            ],
        );
    }

    #[test]
    fn repeats_inside_one_track_are_separate_occurrences() {
        check(
            &[(0, 10), (0, 50), (2, 20)],
            6,
            &[(0, 5.0, 9.5), (0, 25.0, 29.5), (2, 10.0, 14.5)],
        );
    }

    #[test]
    fn too_few_occurrences_is_no_motif() {
        let (data, spans) = archive(3, 60, 6, &[(0, 10), (1, 20)]);
        let nb = ExactNeighbours::new(&data, 32).unwrap();
        let motifs = recurring(&data, 32, &spans, &nb, &RecurringConfig::default()).unwrap();
        assert!(motifs.is_empty(), "{motifs:?}");
        let cfg = RecurringConfig {
            min_occurrences: 2,
            ..Default::default()
        };
        assert_eq!(recurring(&data, 32, &spans, &nb, &cfg).unwrap().len(), 1);
    }

    #[test]
    fn spans_must_match_rows() {
        let (data, mut spans) = archive(1, 5, 1, &[]);
        spans.pop();
        let nb = ExactNeighbours::new(&data, 32).unwrap();
        assert!(matches!(
            recurring(&data, 32, &spans, &nb, &RecurringConfig::default()),
            Err(AnalysisError::LengthMismatch { .. })
        ));
    }
}
