//! A programme's timeline: one recording cut into contiguous segments, each with what it is.
//!
//! # Semantics
//!
//! Input: the recording's window vectors with their spans (time order), its duration, the occurrences of
//! recurring motifs in it (from [`recurring`](super::recurring())), and optionally its levels (dBFS per
//! frame). Boundaries come from four sources, strongest first:
//!
//! 1. **Motif occurrences**: every occurrence's start and end.
//! 2. **Silence**: runs of frames below `silence_db` lasting at least `min_silence` seconds become segments
//!    of their own.
//! 3. **Level changes**: the mean level over `level_window` seconds before and after a frame edge differs by
//!    more than `level_jump_db` (the largest jump of each run of such edges).
//! 4. **Novelty**: for each window `i` and the first window `j` starting at or after `i`'s end, the cosine
//!    distance `1 - cos(v_i, v_j)` at the time between them; local maxima above `novelty` are boundaries.
//!
//! Boundaries closer than `merge_within` seconds to a stronger (or earlier, equally strong) one are dropped.
//! Segments shorter than `min_segment` are merged into their left neighbour (the first into its right). A
//! segment is a **motif** segment when one occurrence covers at least half of it, **silence** when silence
//! covers at least half of it, else **other**. Each segment carries the mean of the window vectors whose
//! centre lies inside it (if any), for labelling with [`nearest`].

use super::linalg::{dot, inv_norm};
use super::AnalysisError;

/// What a segment is, from the recording alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// An occurrence of the motif with this number (the caller's numbering).
    Motif(usize),
    /// Below the silence level.
    Silence,
    /// Anything else (speech, music, ...): label it with [`nearest`].
    Other,
}

/// One segment of a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Start, seconds.
    pub start: f32,
    /// End, seconds.
    pub end: f32,
    /// What it is.
    pub kind: SegmentKind,
    /// Mean of the window vectors centred inside it (empty when none is).
    pub vector: Vec<f32>,
}

/// Parameters of [`timeline`].
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineConfig {
    /// Level below which a frame is silent, dBFS.
    pub silence_db: f32,
    /// Shortest silence that is a segment, seconds.
    pub min_silence: f32,
    /// A level change of more than this many dB is a boundary.
    pub level_jump_db: f32,
    /// Seconds averaged on each side of a level change.
    pub level_window: f32,
    /// Cosine distance between adjacent non-overlapping windows above which their edge is a boundary.
    pub novelty: f32,
    /// Boundaries closer than this to a stronger one are dropped, seconds.
    pub merge_within: f32,
    /// Shortest segment, seconds.
    pub min_segment: f32,
}

impl Default for TimelineConfig {
    fn default() -> Self {
        Self {
            silence_db: -50.0,
            min_silence: 0.5,
            level_jump_db: 12.0,
            level_window: 1.0,
            novelty: 0.35,
            merge_within: 1.0,
            min_segment: 1.0,
        }
    }
}

/// A recording's levels: `db[i]` for `[i * frame_s, (i + 1) * frame_s)`.
#[derive(Debug, Clone, Copy)]
pub struct LevelTrack<'a> {
    /// Frame length, seconds.
    pub frame_s: f32,
    /// dBFS per frame.
    pub db: &'a [f32],
}

/// Cuts one recording into segments. See the [module documentation](self).
///
/// `windows` are `(start, end)` per row of `vectors` (`windows.len() × dim`); `occurrences` are
/// `(motif, start, end)`. Errors: a dimension of zero, or `vectors` not holding one row per window.
pub fn timeline(
    duration: f32,
    windows: &[(f32, f32)],
    vectors: &[f32],
    dim: usize,
    occurrences: &[(usize, f32, f32)],
    levels: Option<LevelTrack<'_>>,
    cfg: &TimelineConfig,
) -> Result<Vec<Segment>, AnalysisError> {
    if dim == 0 {
        return Err(AnalysisError::ZeroDim);
    }
    if vectors.len() != windows.len() * dim {
        return Err(AnalysisError::DimMismatch {
            len: vectors.len(),
            dim,
        });
    }
    let row = |i: usize| &vectors[i * dim..(i + 1) * dim];
    // (time, strength): 3 occurrence, 2 silence, 1 level, 0 novelty.
    let mut cuts: Vec<(f32, u8)> = Vec::new();
    for &(_, s, e) in occurrences {
        cuts.push((s, 3));
        cuts.push((e, 3));
    }
    let silences = levels.map(|l| silent_runs(l, cfg)).unwrap_or_default();
    for &(s, e) in &silences {
        cuts.push((s, 2));
        cuts.push((e, 2));
    }
    if let Some(l) = levels {
        cuts.extend(level_changes(l, cfg).into_iter().map(|t| (t, 1)));
    }
    cuts.extend(
        novelty_peaks(windows, &row, cfg)
            .into_iter()
            .map(|t| (t, 0)),
    );

    // Strongest first, then earliest; keep a cut unless a kept one is within merge_within.
    cuts.retain(|&(t, _)| t > 0.0 && t < duration);
    cuts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)));
    let mut kept: Vec<f32> = Vec::new();
    for (t, _) in cuts {
        if kept.iter().all(|k| (k - t).abs() >= cfg.merge_within) {
            kept.push(t);
        }
    }
    kept.sort_by(f32::total_cmp);
    let mut edges = vec![0.0];
    edges.extend(kept);
    edges.push(duration);

    // Short segments join their left neighbour (the first its right one).
    let mut bounds: Vec<f32> = vec![edges[0]];
    for &t in &edges[1..] {
        let last = *bounds.last().unwrap_or(&0.0);
        if t - last < cfg.min_segment && t < duration {
            continue;
        }
        if t - last < cfg.min_segment && bounds.len() > 1 {
            bounds.pop();
        }
        bounds.push(t);
    }

    let covered = |list: &mut dyn Iterator<Item = (f32, f32)>, s: f32, e: f32| {
        list.map(|(a, b)| (b.min(e) - a.max(s)).max(0.0))
            .sum::<f32>()
    };
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let (s, e) = (w[0], w[1]);
        let len = (e - s).max(f32::EPSILON);
        let motif = occurrences
            .iter()
            .filter(|&&(_, a, b)| (b.min(e) - a.max(s)) >= 0.5 * len)
            .max_by(|x, y| (x.2.min(e) - x.1.max(s)).total_cmp(&(y.2.min(e) - y.1.max(s))));
        let kind = if let Some(&(m, _, _)) = motif {
            SegmentKind::Motif(m)
        } else if covered(&mut silences.iter().copied(), s, e) >= 0.5 * len {
            SegmentKind::Silence
        } else {
            SegmentKind::Other
        };
        let mut vector = vec![0f32; dim];
        let mut count = 0;
        for (i, &(a, b)) in windows.iter().enumerate() {
            let c = 0.5 * (a + b);
            if c >= s && c < e {
                vector.iter_mut().zip(row(i)).for_each(|(x, y)| *x += y);
                count += 1;
            }
        }
        if count == 0 {
            vector.clear();
        } else {
            let inv = inv_norm(&vector);
            vector.iter_mut().for_each(|x| *x *= inv);
        }
        out.push(Segment {
            start: s,
            end: e,
            kind,
            vector,
        });
    }
    Ok(out)
}

/// The best of `refs` for `v` by cosine: `(index, cosine)`, or `None` when `v` or `refs` is empty.
pub fn nearest(v: &[f32], refs: &[Vec<f32>]) -> Option<(usize, f32)> {
    if v.is_empty() {
        return None;
    }
    let iv = inv_norm(v);
    refs.iter()
        .enumerate()
        .filter(|(_, r)| r.len() == v.len())
        .map(|(i, r)| (i, dot(v, r) * iv * inv_norm(r)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Runs of silent frames lasting at least `min_silence`, as `(start, end)` seconds.
fn silent_runs(l: LevelTrack<'_>, cfg: &TimelineConfig) -> Vec<(f32, f32)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &d) in
        l.db.iter()
            .chain(std::iter::once(&f32::INFINITY))
            .enumerate()
    {
        match (d < cfg.silence_db, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let (a, b) = (s as f32 * l.frame_s, i as f32 * l.frame_s);
                if b - a >= cfg.min_silence {
                    out.push((a, b));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Frame edges where the mean level (in dB) of `level_window` seconds before and after differs by more
/// than `level_jump_db`; the largest jump of each run of such edges.
fn level_changes(l: LevelTrack<'_>, cfg: &TimelineConfig) -> Vec<f32> {
    let w = ((cfg.level_window / l.frame_s).round() as usize).max(1);
    let n = l.db.len();
    if n < 2 * w {
        return Vec::new();
    }
    let mut prefix = vec![0f64; n + 1];
    for (i, &d) in l.db.iter().enumerate() {
        prefix[i + 1] = prefix[i] + d as f64;
    }
    let mean = |a: usize, b: usize| ((prefix[b] - prefix[a]) / (b - a) as f64) as f32;
    let mut out = Vec::new();
    let mut best: Option<(usize, f32)> = None;
    for edge in w..=n - w {
        let jump = (mean(edge, edge + w) - mean(edge - w, edge)).abs();
        if jump > cfg.level_jump_db {
            if best.is_none_or(|(_, j)| jump > j) {
                best = Some((edge, jump));
            }
        } else if let Some((e, _)) = best.take() {
            out.push(e as f32 * l.frame_s);
        }
    }
    if let Some((e, _)) = best {
        out.push(e as f32 * l.frame_s);
    }
    out
}

/// Local maxima of the distance between each window and the first window starting at or after its end.
fn novelty_peaks<'a>(
    windows: &[(f32, f32)],
    row: &dyn Fn(usize) -> &'a [f32],
    cfg: &TimelineConfig,
) -> Vec<f32> {
    let mut curve: Vec<(f32, f32)> = Vec::new(); // (time, distance)
    let mut j = 0;
    for (i, &(_, end)) in windows.iter().enumerate() {
        while j < windows.len() && windows[j].0 < end - 1e-3 {
            j += 1;
        }
        if j == windows.len() {
            break;
        }
        let (a, b) = (row(i), row(j));
        let cos = dot(a, b) * inv_norm(a) * inv_norm(b);
        curve.push((0.5 * (end + windows[j].0), 1.0 - cos));
    }
    (0..curve.len())
        .filter(|&k| {
            let d = curve[k].1;
            d > cfg.novelty
                && (k == 0 || curve[k - 1].1 < d)
                && (k + 1 == curve.len() || curve[k + 1].1 <= d)
        })
        .map(|k| curve[k].0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows of 2 s every 0.5 s over `duration`, with vector `a` before `change` and `b` after (by centre
    /// of the window's majority).
    fn two_parts(duration: f32, change: f32) -> (Vec<(f32, f32)>, Vec<f32>) {
        let mut w = Vec::new();
        let mut v = Vec::new();
        let mut s = 0.0;
        while s + 2.0 <= duration {
            w.push((s, s + 2.0));
            let before = (change - s).clamp(0.0, 2.0) / 2.0;
            v.extend([before, 1.0 - before]);
            s += 0.5;
        }
        (w, v)
    }

    #[test]
    fn novelty_finds_a_change_and_nearest_labels_it() {
        let (w, v) = two_parts(20.0, 8.0);
        let segs = timeline(20.0, &w, &v, 2, &[], None, &TimelineConfig::default()).unwrap();
        assert_eq!(segs.len(), 2, "{segs:?}");
        assert!((segs[0].end - 8.0).abs() <= 0.5, "{segs:?}");
        let refs = vec![vec![0.0, 1.0], vec![1.0, 0.0]];
        assert_eq!(nearest(&segs[0].vector, &refs).unwrap().0, 1);
        assert_eq!(nearest(&segs[1].vector, &refs).unwrap().0, 0);
    }

    #[test]
    fn silence_and_occurrences_are_segments() {
        let (w, _) = two_parts(30.0, 100.0);
        let v: Vec<f32> = w.iter().flat_map(|_| [1.0, 0.0]).collect();
        // 10 frames per second: silence from 12 s to 14 s, loud elsewhere.
        let db: Vec<f32> = (0..300)
            .map(|i| {
                if (120..140).contains(&i) {
                    -90.0
                } else {
                    -10.0
                }
            })
            .collect();
        let levels = LevelTrack {
            frame_s: 0.1,
            db: &db,
        };
        let segs = timeline(
            30.0,
            &w,
            &v,
            2,
            &[(4, 3.0, 6.5)],
            Some(levels),
            &TimelineConfig::default(),
        )
        .unwrap();
        let got: Vec<(f32, f32, SegmentKind)> =
            segs.iter().map(|s| (s.start, s.end, s.kind)).collect();
        let close = |a: f32, b: f32| (a - b).abs() < 1e-3;
        let want = [
            (0.0, 3.0, SegmentKind::Other),
            (3.0, 6.5, SegmentKind::Motif(4)),
            (6.5, 12.0, SegmentKind::Other),
            (12.0, 14.0, SegmentKind::Silence),
            (14.0, 30.0, SegmentKind::Other),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(&want) {
            assert!(close(g.0, w.0) && close(g.1, w.1) && g.2 == w.2, "{got:?}");
        }
    }
}
