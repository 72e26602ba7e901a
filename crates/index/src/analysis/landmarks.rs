//! Repeated audio found by landmark hashes (Wang 2003): which stretches of which tracks hold the same
//! recording, to about 10 ms, without comparing all pairs.
//!
//! Input: per track, its landmarks as `(hash, frame, reach)` (from `avx_embed::landmarks`: a hash of a pair of
//! spectral peaks, the first peak's frame, and the frames to the second; any hash and frame rate work). [`repeats`]:
//!
//! 1. **Buckets.** All landmarks are sorted by hash (an inverted index without the index).
//! 2. **Votes.** Every two entries of one bucket vote for their pair of tracks `(a, b)` (`a <= b`), the offset
//!    `frame_b - frame_a` and the time `frame_a`. Two entries of one track vote only when they lie at least
//!    `min_self_lag` apart (a jingle twice in one programme; a sound is not its own repeat). In a bucket of
//!    more than [`LandmarkConfig::max_bucket`] entries, only the entries of its first
//!    [`LandmarkConfig::pivot_tracks`] tracks (at most [`LandmarkConfig::pivots`] of them: a prefix, the bucket
//!    being sorted by track) vote with the entries after them: at most `pivots·m` votes instead of `m²/2`, and
//!    an ident heard more than `max_bucket` times is still found, each later copy linked to its copies in those
//!    tracks. Voters by track, not by position: every hash of a motif then links its copies to the same few
//!    tracks, whatever chance entries those tracks also hold; the first entries of a bucket, by position, are
//!    often all chance entries of one track (measured in eval/archive with the cap lowered to stand for a larger
//!    archive: recall 0.988 against 0.821). Before, such a bucket was a stop word and skipped, so the most
//!    frequent motifs of a large archive lost their hashes.
//!    Votes are cast in blocks of lower tracks (below: cost) and each block's runs found before the next is
//!    cast.
//! 3. **Runs.** For each pair of tracks, offsets are taken by their vote count within ±`jitter` frames, most
//!    first; the votes of an offset's window not yet taken by a stronger offset are sorted by time and cut
//!    where two are more than `max_gap` seconds apart; a piece with at least `min_hits` votes spanning at least
//!    `min_length` seconds, for which at least `min_share` of the landmarks of its segment with fewer
//!    landmarks voted (chance: identical beats of synthetic music line up now and then, with a few per cent
//!    of their landmarks; a bed under one copy adds landmarks to that copy only), is a *run*: one segment in each track (from its first vote to the farthest reach
//!    of its votes, plus `tail` seconds: a sound decays past its last peak). The same recording at different offsets (a beep
//!    repeated within an ident) gives shifted runs that overlap the true one and merge with it below.
//! 4. **Occurrences and motifs**: as for window runs ([`super::recurring`], steps 3 to 5): segments of one
//!    track overlapping by half of the longer one become one occurrence (by half of the shorter, chance runs
//!    in music chained whole motifs into one), occurrences tied by runs (through each run's time map) one motif, the representative is
//!    the occurrence with the most votes. An occurrence's `score` is the share of its track's landmarks within
//!    its segments that voted (about 0.3 to 0.9 for the same recording, near 0 for chance); `links` counts the
//!    votes.
//!
//! Cost: `sort` of all landmarks, then `m²/2` votes per bucket of `m` entries up to `max_bucket`, `pivots·m`
//! above (for chance collisions about `N² / (2H)` for `N` landmarks over `H` used hash values; for a motif
//! with `k` occurrences, `k²/2` per hash): time grows with the square of the archive. Memory does not: votes
//! (20 bytes each) are cast and turned into runs in blocks of tracks of at most
//! [`LandmarkConfig::max_votes`] (the pairs of tracks whose lower track is in the block), so beside the
//! landmarks (about 32 bytes each, held twice: per track and sorted by hash) at most one block's votes are
//! held, and a count per bucket. The sorts, the casting of a block's votes and the runs of each pair of tracks
//! run on the rayon pool, with the same result on any number of threads.

use rayon::prelude::*;

use super::recurring::{group_segments, Segment};
use super::{AnalysisError, Motif};

/// Parameters of [`repeats`].
#[derive(Debug, Clone, PartialEq)]
pub struct LandmarkConfig {
    /// Frames per second of the landmark times.
    pub frame_rate: f64,
    /// Largest bucket whose entries all vote with each other; in a larger one only the entries of its first
    /// `pivot_tracks` tracks vote (with every entry after them), at most `pivots` of them.
    pub max_bucket: usize,
    /// Tracks of a bucket of more than `max_bucket` entries whose entries vote.
    pub pivot_tracks: usize,
    /// Most entries of a bucket of more than `max_bucket` that vote (a track that repeats one sound thousands
    /// of times would otherwise make all its entries voters).
    pub pivots: usize,
    /// Offsets within ± this many frames vote together (peaks move by a frame or two under lossy codecs).
    pub jitter: u32,
    /// Largest gap between consecutive votes of a run, seconds.
    pub max_gap: f32,
    /// Fewest votes of a run.
    pub min_hits: usize,
    /// Shortest run (its segments), seconds.
    pub min_length: f32,
    /// Smallest offset of two places of one track, seconds.
    pub min_self_lag: f32,
    /// Seconds added to the farthest reach of a run's votes.
    pub tail: f32,
    /// Fewest occurrences of a motif (at least 2).
    pub min_occurrences: usize,
    /// Smallest share of the landmarks of a run's segment with fewer landmarks that voted for it.
    pub min_share: f32,
    /// Most votes held at once: the votes are cast in blocks of tracks (by the lower track of each pair), each
    /// block's counted first; a track whose own votes exceed it is a block alone.
    pub max_votes: usize,
}

impl Default for LandmarkConfig {
    fn default() -> Self {
        Self {
            frame_rate: 100.0,
            max_bucket: 1000,
            pivot_tracks: 4,
            pivots: 256,
            jitter: 2,
            max_gap: 1.0,
            min_hits: 12,
            min_length: 2.0,
            min_self_lag: 5.0,
            tail: 0.1,
            min_occurrences: 3,
            min_share: 0.0,
            max_votes: 1 << 25,
        }
    }
}

/// What [`repeats`] did, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RepeatStats {
    /// Landmarks in all.
    pub landmarks: usize,
    /// Buckets of more than `max_bucket` entries (only the entries of their first `pivot_tracks` tracks vote).
    pub full_buckets: usize,
    /// Landmarks in those buckets.
    pub full_landmarks: usize,
    /// Votes cast.
    pub votes: usize,
    /// Runs found (segment pairs).
    pub runs: usize,
}

/// A vote: tracks `a <= b`, offset `frame_b - frame_a`, `frame_a`, and the landmark's reach.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Vote {
    a: u32,
    b: u32,
    offset: i32,
    at: u32,
    reach: u32,
}

impl Vote {
    /// Pair of tracks, then offset, in one integer.
    fn key(&self) -> u128 {
        (u128::from(self.a) << 64)
            | (u128::from(self.b) << 32)
            | u128::from(self.offset as u32 ^ (1 << 31))
    }
}

/// Finds the recordings repeated across and within `tracks` (`tracks[t]`: track `t`'s `(hash, frame, reach)`
/// landmarks, any order). See the [module documentation](self).
///
/// Errors: a frame rate that is not positive and finite ([`AnalysisError::InvalidThreshold`]).
pub fn repeats(
    tracks: &[Vec<(u32, u32, u32)>],
    cfg: &LandmarkConfig,
) -> Result<(Vec<Motif>, RepeatStats), AnalysisError> {
    if !(cfg.frame_rate.is_finite() && cfg.frame_rate > 0.0) {
        return Err(AnalysisError::InvalidThreshold);
    }
    let fr = cfg.frame_rate;
    let mut stats = RepeatStats::default();
    // 1. Buckets: (hash, track, frame), sorted.
    let mut all: Vec<(u32, u32, u32, u32)> = Vec::with_capacity(tracks.iter().map(Vec::len).sum());
    for (t, l) in tracks.iter().enumerate() {
        all.extend(l.iter().map(|&(h, f, r)| (h, t as u32, f, r)));
    }
    // Equal entries are equal in every field: the same order on any number of threads.
    all.par_sort_unstable();
    stats.landmarks = all.len();
    let self_lag = (cfg.min_self_lag as f64 * fr).round() as i64;

    // Each track's landmark frames, sorted (for the share of landmarks that voted).
    let frames: Vec<Vec<u32>> = tracks
        .iter()
        .map(|l| {
            let mut f: Vec<u32> = l.iter().map(|&(_, f, _)| f).collect();
            f.sort_unstable();
            f
        })
        .collect();
    let count_in = |t: u32, s: f32, e: f32| {
        let f = &frames[t as usize];
        let lo = f.partition_point(|&x| (x as f64) < s as f64 * fr);
        let hi = f.partition_point(|&x| (x as f64) <= e as f64 * fr);
        hi - lo
    };
    let buckets = buckets_of(&all, cfg.max_bucket, &mut stats);
    // Entry `x`'s first partner in its bucket: the entries after it but those of its own track closer than
    // `min_self_lag` (a prefix of them, sorted by frame).
    let partners = |bucket: &[(u32, u32, u32, u32)], x: usize| {
        let (_, t, f, _) = bucket[x];
        let near = f as i64 + self_lag;
        x + 1 + bucket[x + 1..].partition_point(|e| e.1 == t && (e.2 as i64) < near)
    };
    // 2. Votes, in blocks of lower tracks (a block's pairs of tracks are complete in it, and blocks come in
    // track order, so the runs come in the same order as from one block). Each lower track's votes are counted
    // first (self pairs closer than `min_self_lag` included: an upper bound).
    let mut per_track = vec![0usize; tracks.len()];
    for b in &buckets {
        let bucket = &all[b.clone()];
        for (x, &(_, t, _, _)) in bucket.iter().enumerate().take(voters_of(bucket, cfg)) {
            per_track[t as usize] += b.len() - x - 1;
        }
    }
    let mut segments: Vec<Segment> = Vec::new();
    let mut run_stats: Vec<(usize, f32)> = Vec::new();
    let mut votes: Vec<Vote> = Vec::new();
    let mut first = 0;
    while first < tracks.len() {
        let (mut end, mut held) = (first + 1, per_track[first]);
        while end < tracks.len() && held + per_track[end] <= cfg.max_votes.max(1) {
            held += per_track[end];
            end += 1;
        }
        // This block's voters in a bucket (sorted by track within it: the block's entries are contiguous). Each
        // bucket's votes are counted exactly, so that the buckets fill their own parts of `votes` on the rayon
        // pool.
        let voters = |bucket: &[(u32, u32, u32, u32)]| {
            let lo = bucket.partition_point(|e| (e.1 as usize) < first);
            let hi = bucket.partition_point(|e| (e.1 as usize) < end);
            lo..hi.min(voters_of(bucket, cfg)).max(lo)
        };
        let counts: Vec<usize> = buckets
            .par_iter()
            .map(|b| {
                let bucket = &all[b.clone()];
                voters(bucket)
                    .map(|x| bucket.len() - partners(bucket, x))
                    .sum()
            })
            .collect();
        let total: usize = counts.iter().sum();
        votes.clear();
        // `held` bounds the block's votes: no reallocation past it across blocks.
        debug_assert!(total <= held);
        votes.reserve_exact(held);
        votes.resize(total, Vote::default());
        // Runs of buckets of about an eighth of a thread's share of the votes each.
        let chunk = (total / (8 * rayon::current_num_threads())).max(1);
        let mut parts = Vec::new();
        let (mut rest, mut from, mut filled) = (votes.as_mut_slice(), 0, 0);
        for (k, &c) in counts.iter().enumerate() {
            filled += c;
            if filled >= chunk || k + 1 == counts.len() {
                let (part, tail) = std::mem::take(&mut rest).split_at_mut(filled);
                parts.push((&buckets[from..=k], part));
                (rest, from, filled) = (tail, k + 1, 0);
            }
        }
        parts.into_par_iter().for_each(|(part_buckets, out)| {
            let mut w = 0;
            for b in part_buckets {
                let bucket = &all[b.clone()];
                for x in voters(bucket) {
                    let (_, ta, fa, ra) = bucket[x];
                    for &(_, tb, fb, _) in &bucket[partners(bucket, x)..] {
                        out[w] = Vote {
                            a: ta,
                            b: tb,
                            offset: (fb as i64 - fa as i64) as i32,
                            at: fa,
                            reach: ra,
                        };
                        w += 1;
                    }
                }
            }
            debug_assert_eq!(w, out.len());
        });
        stats.votes += votes.len();
        // Grouped by pair of tracks and offset; the order within an offset does not matter (a run's votes are
        // sorted again by time), so equal keys may land in any order.
        votes.par_sort_unstable_by_key(Vote::key);

        // 3. Runs per pair of tracks, the pairs on the rayon pool, kept in order.
        let mut pairs = Vec::new();
        let mut i = 0;
        while i < votes.len() {
            let mut j = i + 1;
            while j < votes.len() && (votes[j].a, votes[j].b) == (votes[i].a, votes[i].b) {
                j += 1;
            }
            pairs.push(i..j);
            i = j;
        }
        let runs: Vec<Vec<_>> = pairs
            .into_par_iter()
            .map(|range| {
                let (ta, tb) = (votes[range.start].a, votes[range.start].b);
                runs_of(&votes[range], cfg)
                    .into_iter()
                    .filter_map(|(start_a, end_a, start_b, end_b, hits)| {
                        // The copy with fewer landmarks: a bed under one copy adds landmarks to that copy only.
                        let have = count_in(ta, start_a, end_a)
                            .min(count_in(tb, start_b, end_b))
                            .max(1);
                        let share = (hits as f32 / have as f32).min(1.0);
                        (share >= cfg.min_share)
                            .then_some((ta, start_a, end_a, tb, start_b, end_b, hits, share))
                    })
                    .collect()
            })
            .collect();
        for (ta, start_a, end_a, tb, start_b, end_b, hits, share) in runs.into_iter().flatten() {
            let run = run_stats.len() as u32;
            run_stats.push((hits, share * hits as f32));
            segments.push(Segment {
                track: ta,
                start: start_a,
                end: end_a,
                run,
            });
            segments.push(Segment {
                track: tb,
                start: start_b,
                end: end_b,
                run,
            });
        }
        first = end;
    }
    stats.runs = run_stats.len();
    // 4. Occurrences and motifs.
    let motifs = group_segments(&segments, &run_stats, cfg.min_occurrences);
    Ok((motifs, stats))
}

/// How many of `bucket`'s first entries (sorted by track, then frame) vote with every entry after them: all of
/// them up to `max_bucket` entries, else those of its first `pivot_tracks` tracks, at most `pivots`.
fn voters_of(bucket: &[(u32, u32, u32, u32)], cfg: &LandmarkConfig) -> usize {
    if bucket.len() <= cfg.max_bucket {
        return bucket.len();
    }
    let mut end = 0;
    for _ in 0..cfg.pivot_tracks.max(1) {
        let Some(&(_, t, _, _)) = bucket.get(end) else {
            break;
        };
        end += bucket[end..].partition_point(|e| e.1 == t);
    }
    end.min(cfg.pivots.max(1))
}

/// The buckets of two or more entries of `all` (sorted by hash) as index ranges; those of more than `max_bucket`
/// entries are counted in `stats`.
fn buckets_of(
    all: &[(u32, u32, u32, u32)],
    max_bucket: usize,
    stats: &mut RepeatStats,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let mut j = i + 1;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        if j - i > max_bucket {
            stats.full_buckets += 1;
            stats.full_landmarks += j - i;
        }
        if j - i > 1 {
            out.push(i..j);
        }
        i = j;
    }
    out
}

/// The runs of one pair of tracks' votes (sorted by offset, then time): `(start_a, end_a, start_b, end_b,
/// votes)` in seconds.
fn runs_of(votes: &[Vote], cfg: &LandmarkConfig) -> Vec<(f32, f32, f32, f32, usize)> {
    let fr = cfg.frame_rate;
    let j = cfg.jitter as i64;
    // Votes per offset, and each offset's window count.
    let mut offsets: Vec<(i32, usize, usize)> = Vec::new(); // (offset, first vote, count)
    for (k, v) in votes.iter().enumerate() {
        match offsets.last_mut() {
            Some(o) if o.0 == v.offset => o.2 += 1,
            _ => offsets.push((v.offset, k, 1)),
        }
    }
    let window = |o: i32| {
        let lo = votes.partition_point(|v| (v.offset as i64) < o as i64 - j);
        let hi = votes.partition_point(|v| (v.offset as i64) <= o as i64 + j);
        (lo, hi)
    };
    let mut order: Vec<(usize, i32)> = offsets
        .iter()
        .filter_map(|&(o, _, _)| {
            let (lo, hi) = window(o);
            (hi - lo >= cfg.min_hits).then_some((hi - lo, o))
        })
        .collect();
    order.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    let mut taken = vec![false; votes.len()];
    let mut out = Vec::new();
    let max_gap = (cfg.max_gap as f64 * fr).round() as u32;
    for (_, o) in order {
        let (lo, hi) = window(o);
        let mut picked: Vec<(u32, i32, u32)> = (lo..hi)
            .filter(|&k| !taken[k])
            .map(|k| (votes[k].at, votes[k].offset, votes[k].reach))
            .collect();
        if picked.len() < cfg.min_hits {
            continue;
        }
        taken[lo..hi].iter_mut().for_each(|t| *t = true);
        picked.sort_unstable();
        let mut s = 0;
        while s < picked.len() {
            let mut e = s + 1;
            while e < picked.len() && picked[e].0 - picked[e - 1].0 <= max_gap {
                e += 1;
            }
            let piece = &picked[s..e];
            let n = piece.len();
            let first = piece[0].0 as f64 / fr;
            let last = piece.iter().map(|p| p.0 + p.2).max().unwrap_or(0) as f64 / fr;
            let end = last + cfg.tail as f64;
            if n >= cfg.min_hits && end - first >= cfg.min_length as f64 {
                let mut offs: Vec<i32> = piece.iter().map(|p| p.1).collect();
                offs.sort_unstable();
                let off = offs[offs.len() / 2] as f64 / fr;
                out.push((
                    first as f32,
                    end as f32,
                    (first + off) as f32,
                    (end + off) as f32,
                    n,
                ));
            }
            s = e;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Rng;

    /// Random landmarks (`per_s` per second at 100 frames/s, reaching 0 to 0.3 s) for `secs` seconds.
    fn background(rng: &mut Rng, secs: u32, per_s: u32) -> Vec<(u32, u32, u32)> {
        (0..secs * per_s)
            .map(|_| {
                (
                    (rng.next_u64() % (1 << 22)) as u32,
                    (rng.next_u64() % (secs as u64 * 100)) as u32,
                    (rng.next_u64() % 30) as u32,
                )
            })
            .filter(|l| l.1 + l.2 < secs * 100)
            .collect()
    }

    /// A motif's landmarks: `(hash, frame within the motif)`.
    fn motif(rng: &mut Rng, secs: u32, per_s: u32) -> Vec<(u32, u32, u32)> {
        background(rng, secs, per_s)
    }

    /// Plants `m` at `at` seconds into `track`, keeping each landmark with probability `keep` and moving it by
    /// up to ±1 frame (a codec).
    fn plant(
        rng: &mut Rng,
        track: &mut Vec<(u32, u32, u32)>,
        m: &[(u32, u32, u32)],
        at: f64,
        keep: f64,
    ) {
        for &(h, f, r) in m {
            if rng.next_u64() % 1000 >= (keep * 1000.0) as u64 {
                continue;
            }
            let jitter = (rng.next_u64() % 3) as i64 - 1;
            let frame = (at * 100.0).round() as i64 + f as i64 + jitter;
            track.push((h, frame.max(0) as u32, r));
        }
    }

    /// `n` tracks of `secs` seconds of background, with `m` planted at each `(track, seconds)` of `places`, in
    /// order.
    fn planted(
        rng: &mut Rng,
        n: usize,
        secs: u32,
        m: &[(u32, u32, u32)],
        places: &[(usize, f64)],
        keep: f64,
    ) -> Vec<Vec<(u32, u32, u32)>> {
        let mut tracks: Vec<Vec<(u32, u32, u32)>> =
            (0..n).map(|_| background(rng, secs, 150)).collect();
        for &(t, at) in places {
            plant(rng, &mut tracks[t], m, at, keep);
        }
        tracks
    }

    #[test]
    fn a_planted_repeat_is_found_at_its_offsets() {
        let mut rng = Rng::new(3);
        let m = motif(&mut rng, 4, 150);
        let truth = [(0, 10.0), (0, 70.25), (1, 33.5), (3, 101.07)];
        let tracks = planted(&mut rng, 4, 120, &m, &truth, 0.4);
        let (motifs, stats) = repeats(&tracks, &LandmarkConfig::default()).unwrap();
        assert_eq!(motifs.len(), 1, "{motifs:?} {stats:?}");
        let occ = &motifs[0].occurrences;
        assert_eq!(occ.len(), truth.len(), "{occ:?}");
        for (o, &(t, at)) in occ.iter().zip(&truth) {
            assert_eq!(o.track as usize, t);
            assert!((o.start as f64 - at).abs() <= 0.05, "{o:?} vs {at}");
            assert!((o.end as f64 - (at + 4.0)).abs() <= 0.15, "{o:?} vs {at}");
            // Each pair of copies shares 0.4 × 0.4 of the motif's 150 landmarks a second, among 210 a second.
            assert!(o.score > 0.08, "{o:?}");
        }
    }

    #[test]
    fn a_copy_over_a_bed_is_found_by_the_share_of_the_other_copys_landmarks() {
        let mut rng = Rng::new(5);
        let m = motif(&mut rng, 4, 150);
        let places: Vec<(usize, f64)> = (0..4).map(|t| (t, 10.0 + t as f64)).collect();
        let mut tracks = planted(&mut rng, 4, 60, &m, &places, 0.9);
        // A bed under track 0's copy: 2,000 more landmarks a second, so about 5 % of them agree with any
        // other copy, against 40 % of the other copy's.
        let bed = background(&mut rng, 4, 2000);
        plant(&mut rng, &mut tracks[0], &bed, 10.0, 1.0);
        let cfg = LandmarkConfig {
            min_share: 0.06,
            ..LandmarkConfig::default()
        };
        let (motifs, stats) = repeats(&tracks, &cfg).unwrap();
        assert_eq!(motifs.len(), 1, "{motifs:?} {stats:?}");
        let tracks_found: Vec<u32> = motifs[0].occurrences.iter().map(|o| o.track).collect();
        assert_eq!(tracks_found, [0, 1, 2, 3]);
        let o = &motifs[0].occurrences[0];
        assert!((o.start - 10.0).abs() <= 0.05, "{o:?}");
    }

    #[test]
    fn chance_agreements_and_near_self_repeats_are_not_motifs() {
        let mut rng = Rng::new(4);
        let tracks: Vec<Vec<(u32, u32, u32)>> =
            (0..4).map(|_| background(&mut rng, 300, 150)).collect();
        let (motifs, stats) = repeats(&tracks, &LandmarkConfig::default()).unwrap();
        assert!(motifs.is_empty(), "{motifs:?}");
        assert!(stats.votes > 0, "{stats:?}");
        // One 3 s sound twice 1.5 s apart (less than min_self_lag) in one track, and in another: the two copies
        // of one track do not vote for each other, and overlap by half: one place, so two occurrences in all,
        // fewer than three. (Back to back, 3 s apart, they are two places, and a motif: see `group_segments`.)
        let m = motif(&mut rng, 3, 150);
        let mut tracks = tracks;
        plant(&mut rng, &mut tracks[0], &m, 20.0, 0.5);
        plant(&mut rng, &mut tracks[0], &m, 21.5, 0.5);
        plant(&mut rng, &mut tracks[1], &m, 50.0, 0.5);
        let (motifs, _) = repeats(&tracks, &LandmarkConfig::default()).unwrap();
        assert!(motifs.is_empty(), "{motifs:?}");
    }

    #[test]
    fn votes_cast_in_blocks_or_on_any_number_of_threads_give_the_same_motifs() {
        let mut rng = Rng::new(9);
        let m = motif(&mut rng, 4, 150);
        let places = [(0, 10.0), (2, 33.5), (2, 70.0), (5, 5.25)];
        let tracks = planted(&mut rng, 6, 90, &m, &places, 0.5);
        let (whole, s1) = repeats(&tracks, &LandmarkConfig::default()).unwrap();
        assert_eq!(whole.len(), 1, "{whole:?}");
        for max_votes in [1, 1000] {
            let cfg = LandmarkConfig {
                max_votes,
                ..LandmarkConfig::default()
            };
            let (blocks, s2) = repeats(&tracks, &cfg).unwrap();
            assert_eq!(blocks, whole);
            assert_eq!(s2, s1);
        }
        // The sorts and the runs per pair of tracks run on the rayon pool.
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| repeats(&tracks, &LandmarkConfig::default()).unwrap());
            assert_eq!(got, (whole.clone(), s1), "{threads} threads");
        }
    }

    #[test]
    fn an_over_full_bucket_votes_with_its_first_tracks_entries_only() {
        // One hash 150 times in each of 6 tracks, 10 frames apart: 900 entries, sorted by track then frame.
        let mut tracks = vec![Vec::new(); 6];
        for (t, track) in tracks.iter_mut().enumerate() {
            for f in 0..150u32 {
                track.push((7, f * 10 + t as u32, 5));
            }
        }
        let entries: Vec<(u32, u32)> = (0..6u32)
            .flat_map(|t| (0..150u32).map(move |f| (t, f * 10 + t)))
            .collect();
        // The first `voters` entries vote with every entry after them, but two of one track only 5 s apart or
        // more.
        let votes = |voters: usize| {
            let mut n = 0;
            for (x, &(ta, fa)) in entries.iter().enumerate().take(voters) {
                for &(tb, fb) in &entries[x + 1..] {
                    n += usize::from(ta != tb || fb - fa >= 500);
                }
            }
            n
        };
        let over = LandmarkConfig {
            max_bucket: 100,
            pivot_tracks: 2,
            pivots: 10_000,
            ..LandmarkConfig::default()
        };
        for (cfg, voters) in [
            // Not over-full: every entry votes.
            (LandmarkConfig::default(), 900),
            // The entries of the first two tracks.
            (over.clone(), 300),
            // ... at most 200 of them.
            (
                LandmarkConfig {
                    pivots: 200,
                    ..over.clone()
                },
                200,
            ),
            // More tracks than the bucket has: all of them.
            (
                LandmarkConfig {
                    pivot_tracks: 9,
                    ..over.clone()
                },
                900,
            ),
        ] {
            let (_, stats) = repeats(&tracks, &cfg).unwrap();
            let full = usize::from(cfg.max_bucket < 900);
            assert_eq!(
                (stats.full_buckets, stats.full_landmarks),
                (full, 900 * full)
            );
            assert_eq!(stats.votes, votes(voters), "{cfg:?}");
        }
    }

    #[test]
    fn voters_by_track_link_a_motif_whose_bucket_starts_with_chance_entries() {
        // Track 0 holds no copy of the motif but 4 chance entries of each of its hashes, ahead of every copy
        // in each hash's bucket; tracks 1 to 8 hold the motif.
        let mut rng = Rng::new(5);
        let m = motif(&mut rng, 3, 150);
        let places: Vec<(usize, f64)> = (1..9).map(|t| (t, 5.0 + t as f64)).collect();
        let mut tracks = planted(&mut rng, 9, 40, &m, &places, 0.7);
        for &(h, _, r) in &m {
            for _ in 0..4 {
                tracks[0].push((h, (rng.next_u64() % 3900) as u32, r));
            }
        }
        let cfg = LandmarkConfig {
            max_bucket: 6,
            pivot_tracks: 2,
            pivots: 256,
            ..LandmarkConfig::default()
        };
        let (got, stats) = repeats(&tracks, &cfg).unwrap();
        assert!(stats.full_buckets >= m.len() / 2, "{stats:?}");
        assert_eq!(got.len(), 1, "{got:?}");
        let found: Vec<u32> = got[0].occurrences.iter().map(|o| o.track).collect();
        assert_eq!(found, (1..9).collect::<Vec<u32>>());
        // Voters by position (the first 4 entries of each bucket, all of them chance entries of track 0) link
        // no copy to another.
        let by_position = LandmarkConfig {
            pivot_tracks: 1,
            pivots: 4,
            ..cfg
        };
        let (lost, _) = repeats(&tracks, &by_position).unwrap();
        assert!(lost.is_empty(), "{lost:?}");
    }

    #[test]
    fn a_motif_heard_more_often_than_max_bucket_is_found() {
        let mut rng = Rng::new(11);
        let m = motif(&mut rng, 3, 150);
        let places: Vec<(usize, f64)> = (0..12).map(|t| (t, 5.0 + t as f64)).collect();
        let tracks = planted(&mut rng, 12, 30, &m, &places, 0.6);
        let (want, all) = repeats(&tracks, &LandmarkConfig::default()).unwrap();
        assert_eq!(want.len(), 1, "{want:?}");
        assert_eq!(want[0].occurrences.len(), 12);
        // Each of the motif's hashes is in up to 12 tracks: buckets of more than 3 vote with the entries of
        // their first 2 tracks only, every copy is still linked to the first ones, and all twelve are found, at
        // the same places.
        let cfg = LandmarkConfig {
            max_bucket: 3,
            pivot_tracks: 2,
            ..LandmarkConfig::default()
        };
        let (got, few) = repeats(&tracks, &cfg).unwrap();
        assert!(few.full_buckets > 0, "{few:?}");
        assert!(few.votes < all.votes, "{few:?} {all:?}");
        assert_eq!(got.len(), 1, "{got:?}");
        // Fewer votes per run move a start or an end by a few frames: well inside the 0.5 s an
        // occurrence is placed to.
        assert_eq!(got[0].occurrences.len(), want[0].occurrences.len());
        for (g, w) in got[0].occurrences.iter().zip(&want[0].occurrences) {
            assert_eq!(g.track, w.track);
            assert!((g.start - w.start).abs() <= 0.1, "{g:?} {w:?}");
            assert!((g.end - w.end).abs() <= 0.1, "{g:?} {w:?}");
        }
        // Cast in blocks of one track each: the first entries' votes are counted to their own tracks.
        let blocks = LandmarkConfig {
            max_votes: 1,
            ..cfg
        };
        assert_eq!(repeats(&tracks, &blocks).unwrap(), (got, few));
    }
}
