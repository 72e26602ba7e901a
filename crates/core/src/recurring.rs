//! Motifs that recur across the indexed recordings (`avx recurring`, `avx timeline`), each with every occurrence,
//! confirmed and placed by the audio.
//!
//! Two ways find them ([`Method`]), and by default both run and their motifs are joined ([`join`]):
//!
//! - **Landmarks** (exact repeats of one recording: idents, jingles, adverts, a sign-off, a bed): every file is
//!   decoded once and fingerprinted ([`avx_embed::landmarks`], on [`MotifOptions::threads`] threads); hashes
//!   that agree on one offset between two places make a run ([`avx_index::analysis::landmarks`]), placed to
//!   about 10 ms. Robust to gain, 64 kbit/s MP3 and a sound 14 dB below; music that merely sounds alike shares
//!   no offsets.
//! - **Windows** (passages that sound alike without being the same recording), below.
//!
//! For windows, [`discover`] gathers the window vectors (optionally under a directory), picks a candidate source (exact below
//! 5,000 windows, k-means buckets above: never all pairs), calls [`avx_index::analysis::recurring`], then refines
//! each occurrence's boundaries from the audio ([`avx_embed::refine`]) and takes out the occurrences whose audio
//! does not repeat the motif's representative ([`avx_embed::refine::AudioMatch::is_repeat`]). Those are not lost:
//! [`split_motifs`] makes them a motif of their own (led by the occurrence with the most links), which is
//! confirmed in turn, up to [`MAX_SPLITS`] times (window links chain passages that merely sound alike into one
//! motif). Occurrences the audio matches for less than the minimum length go last, and so do motifs left with too
//! few occurrences.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use avx_embed::landmarks;
use avx_embed::refine::{refine_motif, Clip};
use avx_index::analysis::{
    center, recurring, repeats, sort_motifs, BucketNeighbours, ExactNeighbours, LandmarkConfig,
    Motif, Occurrence, RecurringConfig, Span,
};
use avx_index::{Index, Level};

use crate::dupes::{gather, EXACT_CANDIDATES_BELOW};
use crate::error::{CoreError, Result};

/// Seconds searched beyond a coarse occurrence (about one aiSFX block) and around its lag.
const REFINE_MARGIN_S: f64 = 2.5;
const REFINE_LAG_S: f64 = 2.5;

/// Which ways [`discover`] finds motifs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Landmark hashes and window vectors, joined ([`join`]).
    #[default]
    Both,
    /// Landmark hashes only: exact repeats of one recording.
    Landmarks,
    /// Window vectors only: passages that sound alike.
    Windows,
}

/// Smallest share of a landmark run's landmarks that agree ([`LandmarkConfig::min_share`]). On eval/archive's 2.79 h
/// set 0.06 gave precision 0.94 and 0.04 gave 0.77 at the same recall (repeated beats of synthetic music); chance
/// agreement grows with the archive (more places to collide with): on its 8.75 h set 0.06 gave precision 0.886
/// (chance runs at shares of 0.06 to 0.09 in music, every planted occurrence at 0.13 or more) and 0.1 gave 0.982,
/// recall 0.944 -> 0.971. The price: the committed test programme's ident (a sawtooth chord under a sweep and
/// noise hits) agrees at 0.042 and is found by the window vectors only.
pub const MIN_SHARE: f32 = 0.1;

/// Smallest median score (share of landmarks that agree) of a landmark motif's occurrences. On eval/archive,
/// with onset events, the planted motifs' medians were 0.29 and 0.32 and the 24 motifs of synthetic music that
/// repeats its own chords (steady tones that switch on and off like a beep) 0.065 to 0.103.
pub const MIN_MOTIF_SCORE: f32 = 0.15;

/// Hours of audio above which [`discover`] warns how long the landmark matching will take: its time grows with
/// the square of the archive, 15 s for eval/archive's 8.75 h on a 2-core AMD EPYC, so about half an hour at
/// 100 h (memory grows with the archive: about 49 MB an hour, [`avx_index::analysis::landmarks`]).
pub const LANDMARK_WARN_HOURS: f64 = 100.0;

/// The landmark matching measured on eval/archive's set (2 threads, 2-core AMD EPYC): `(hours of audio,
/// seconds)`.
const LANDMARK_MEASURED: (f64, f64) = (8.75, 15.0);

/// Hours the landmark matching of `hours` of audio takes, scaled by the square from [`LANDMARK_MEASURED`].
fn landmark_hours_estimate(hours: f64) -> f64 {
    let (h, s) = LANDMARK_MEASURED;
    s * (hours / h).powi(2) / 3600.0
}

/// Hours of audio in `spans`: per track, the end of its last window.
fn hours_of(spans: &[Span]) -> f64 {
    let mut end: HashMap<u32, f32> = HashMap::new();
    for s in spans {
        let e = end.entry(s.track).or_insert(0.0);
        *e = e.max(s.end);
    }
    end.values().map(|&e| e as f64).sum::<f64>() / 3600.0
}

/// Times a motif is split by the audio confirmation.
pub const MAX_SPLITS: usize = 3;

/// What [`discover`] looks for.
#[derive(Debug, Clone)]
pub struct MotifOptions<'a> {
    /// Only recordings under this directory (an absolute path, as the index stores them).
    pub within: Option<&'a Path>,
    /// Fewest occurrences of a motif (at least 2).
    pub min_occurrences: usize,
    /// Shortest occurrence, seconds; the audio must match for at least this long.
    pub min_length: f32,
    /// Cosine (after subtracting the mean window) at or above which two windows match, in 0..=1; `None`: the
    /// default of [`RecurringConfig`].
    pub threshold: Option<f32>,
    /// Candidate neighbours examined per window (0 is taken as 1).
    pub candidates: usize,
    /// Refine from the audio only the occurrences in this file (and each motif's representative); the others
    /// keep the spans the window matches gave them (a file's timeline needs no more, and decoding every file
    /// costs time). `None`: refine every occurrence.
    pub only: Option<&'a Path>,
    /// Which ways motifs are found.
    pub method: Method,
    /// Threads that decode and fingerprint files for the landmarks (0 is taken as 1).
    pub threads: usize,
}

impl MotifOptions<'_> {
    /// Checks the options (as [`discover`] does first), so that a caller can refuse them before resolving paths.
    /// Returns the threshold in use. Errors: [`CoreError::Invalid`] for a threshold outside 0..=1 or fewer than
    /// 2 occurrences.
    pub fn check(&self) -> Result<f32> {
        let threshold = self
            .threshold
            .unwrap_or(RecurringConfig::default().threshold);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(CoreError::Invalid(
                "--threshold must be between 0 and 1".into(),
            ));
        }
        if self.min_occurrences < 2 {
            return Err(CoreError::Invalid(
                "--min-occurrences must be at least 2".into(),
            ));
        }
        Ok(threshold)
    }
}

/// Motifs found over the index, with the path of every track number.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The path of each track ([`Occurrence::track`] indexes it).
    pub paths: Vec<PathBuf>,
    /// The motifs, most occurrences first ([`sort_motifs`]).
    pub motifs: Vec<Motif>,
}

/// Finds the motifs of the index (see the [module documentation](self)).
///
/// Errors: [`CoreError::Invalid`] for a threshold outside 0..=1 or fewer than 2 occurrences; a recording that
/// cannot be decoded ([`CoreError::Embed`], naming the file); a bad vector shape ([`CoreError::Analysis`]).
pub fn discover(index: &Index, opts: &MotifOptions) -> Result<Found> {
    let threshold = opts.check()?;
    let (refs, mut data) = gather(index, Level::Window, opts.within);
    let mut paths = Vec::new();
    let mut track_of = HashMap::new();
    let spans: Vec<Span> = refs
        .iter()
        .map(|r| {
            let track = *track_of.entry(r.file_id).or_insert_with(|| {
                paths.push(
                    index
                        .file_by_id(r.file_id)
                        .map(|f| f.path.clone())
                        .unwrap_or_default(),
                );
                (paths.len() - 1) as u32
            });
            let (start, end) = r.window.unwrap_or((0.0, 0.0));
            Span { track, start, end }
        })
        .collect();
    let hours = hours_of(&spans);
    if opts.method != Method::Windows && hours > LANDMARK_WARN_HOURS {
        let (h, s) = LANDMARK_MEASURED;
        log::warn!(
            "{hours:.0} h of audio: matching its landmarks takes time that grows with the square of the archive \
             (about {:.1} h, from {s:.0} s for {h} h on a 2-core AMD EPYC)",
            landmark_hours_estimate(hours)
        );
    }
    let landmark_motifs = match opts.method {
        Method::Windows => Vec::new(),
        Method::Both | Method::Landmarks => landmark_motifs(&paths, opts)?,
    };
    if opts.method == Method::Landmarks {
        let mut motifs = landmark_motifs;
        sort_motifs(&mut motifs);
        return Ok(Found { paths, motifs });
    }
    let dim = index.settings().dim as usize;
    center(&mut data, dim)?;
    let cfg = RecurringConfig {
        threshold,
        k: opts.candidates.max(1),
        min_length: opts.min_length,
        min_occurrences: opts.min_occurrences,
        ..RecurringConfig::default()
    };
    let motifs = if refs.len() < EXACT_CANDIDATES_BELOW {
        let exact = ExactNeighbours::new(&data, dim)?;
        recurring(&data, dim, &spans, &exact, &cfg)?
    } else {
        let buckets = BucketNeighbours::build(&data, dim, 0)?;
        recurring(&data, dim, &spans, &buckets, &cfg)?
    };
    let mut motifs = split_motifs(motifs, opts.min_occurrences, |m| {
        refine(&paths, m, opts.only)
    })?;
    // The audio must match for at least min_length: refined occurrences shorter than that go, and so do motifs
    // left with too few occurrences.
    motifs.retain_mut(|m| {
        let rep = m.occurrences[m.representative].clone();
        m.occurrences.retain(|o| o.end - o.start >= opts.min_length);
        m.representative = m
            .occurrences
            .iter()
            .position(|o| o.track == rep.track && o.start == rep.start)
            .unwrap_or(0);
        m.occurrences.len() >= opts.min_occurrences
    });
    let mut motifs = join(landmark_motifs, motifs, opts.min_occurrences);
    sort_motifs(&mut motifs);
    Ok(Found { paths, motifs })
}

/// The occurrences in `path` of the motifs saved in `saved` (JSON Lines written by `avx --json recurring`, lines
/// of type `occurrence`; other lines are skipped) as `(motif id, start, end)` in seconds, by start: a timeline
/// of one programme without discovering the motifs again.
///
/// Errors: `saved` cannot be read ([`CoreError::Io`]); a line that is not JSON or an occurrence without a motif
/// id, start or end ([`CoreError::Invalid`], naming the file and line).
pub fn saved_occurrences(saved: &Path, path: &Path) -> Result<Vec<(usize, f32, f32)>> {
    let text = std::fs::read_to_string(saved).map_err(|e| CoreError::io(saved, e))?;
    let want = crate::path_json(path);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| {
            CoreError::Invalid(format!(
                "{}: line {}: {why}: pass a file written by `avx --json recurring > FILE`",
                saved.display(),
                n + 1
            ))
        };
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
        if v["type"] != "occurrence" || v["path"] != want {
            continue;
        }
        let (Some(m), Some(start), Some(end)) =
            (v["motif"].as_u64(), v["start"].as_f64(), v["end"].as_f64())
        else {
            return Err(bad("an occurrence without motif, start and end"));
        };
        out.push((m as usize, start as f32, end as f32));
    }
    out.sort_by(|a, b| a.1.total_cmp(&b.1));
    Ok(out)
}

/// The landmark settings of [`discover`] for `opts`.
pub fn landmark_config(opts: &MotifOptions) -> LandmarkConfig {
    LandmarkConfig {
        frame_rate: landmarks::FRAME_RATE,
        min_length: opts.min_length,
        min_occurrences: opts.min_occurrences,
        min_share: MIN_SHARE,
        ..LandmarkConfig::default()
    }
}

/// Motifs of exact repeats among `paths` (track `t` is `paths[t]`), from their landmarks, computed on
/// `opts.threads` threads. Errors: a file that cannot be decoded ([`CoreError::Embed`], naming it).
fn landmark_motifs(paths: &[PathBuf], opts: &MotifOptions) -> Result<Vec<Motif>> {
    let tracks = landmarks_of(paths, opts.threads)?;
    let cfg = landmark_config(opts);
    let (mut motifs, stats) = repeats(&tracks, &cfg)?;
    let found = motifs.len();
    motifs.retain(|m| median_score(m) >= MIN_MOTIF_SCORE);
    let dropped = found - motifs.len();
    // A piece of a longer recording that also repeats on its own (the last seconds of an advert, a bar of a bed)
    // is a motif at the places of the longer one's occurrences: fold each motif into the larger ones it shares
    // places with, as window motifs are folded into landmark motifs.
    let motifs = motifs.into_iter().fold(Vec::new(), |kept, m| {
        join(kept, vec![m], opts.min_occurrences)
    });
    log::info!(
        "landmarks: {} in {} files, {} buckets of more than {} ({} landmarks) voting with their first {} \
         tracks' entries only (at most {}), {} votes, {} runs, {} motifs ({} with a median score below \
         {MIN_MOTIF_SCORE} dropped)",
        stats.landmarks,
        paths.len(),
        stats.full_buckets,
        cfg.max_bucket,
        stats.full_landmarks,
        cfg.pivot_tracks,
        cfg.pivots,
        stats.votes,
        stats.runs,
        motifs.len(),
        dropped
    );
    Ok(motifs)
}

/// The median of a motif's occurrence scores (the lower middle of an even count).
fn median_score(m: &Motif) -> f32 {
    let mut s: Vec<f32> = m.occurrences.iter().map(|o| o.score).collect();
    s.sort_by(f32::total_cmp);
    s.get(s.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
}

/// One file's landmarks as `(hash, frame, reach)` ([`avx_index::analysis::landmarks`]).
pub type TrackLandmarks = Vec<(u32, u32, u32)>;

/// Each file's landmarks as `(hash, frame, reach)`, decoding on `threads` threads (files handed out in order).
pub fn landmarks_of(paths: &[PathBuf], threads: usize) -> Result<Vec<TrackLandmarks>> {
    let next = AtomicUsize::new(0);
    let results: Vec<Vec<(usize, Result<TrackLandmarks>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1).min(paths.len().max(1)))
            .map(|_| {
                s.spawn(|| {
                    let mut got = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(p) = paths.get(i) else { break };
                        let l = landmarks::landmarks_of_file(p)
                            .map(|l| l.into_iter().map(|l| (l.hash, l.frame, l.dt)).collect())
                            .map_err(CoreError::from);
                        let failed = l.is_err();
                        got.push((i, l));
                        if failed {
                            break;
                        }
                    }
                    got
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let mut out: Vec<Option<TrackLandmarks>> = vec![None; paths.len()];
    for (i, r) in results.into_iter().flatten() {
        out[i] = Some(r?);
    }
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

/// Joins the motifs of landmarks (exact repeats, placed to about 10 ms) with those of window vectors: a window
/// occurrence that overlaps a landmark occurrence of the same track (by half of the shorter) is the same
/// place and goes; the window motif's other occurrences join the landmark motif it shared most places with
/// (a repeat the landmarks missed), or, when it shared none, stay a motif of their own if at least
/// `min_occurrences` are left.
pub fn join(landmark: Vec<Motif>, windows: Vec<Motif>, min_occurrences: usize) -> Vec<Motif> {
    let mut out = landmark;
    let first_window = out.len();
    for w in windows {
        let mut shared: HashMap<usize, usize> = HashMap::new();
        let mut rest = Vec::new();
        for o in &w.occurrences {
            let hit = out[..first_window]
                .iter()
                .enumerate()
                .find(|(_, m)| m.occurrences.iter().any(|p| same_place(o, p)));
            match hit {
                Some((m, _)) => *shared.entry(m).or_default() += 1,
                None => rest.push(o.clone()),
            }
        }
        let best = shared
            .iter()
            .max_by_key(|&(m, n)| (*n, std::cmp::Reverse(*m)))
            .map(|(&m, _)| m);
        match best {
            Some(m) => {
                let target = &mut out[m];
                target.occurrences.extend(rest);
                let rep = target.representative().clone();
                target
                    .occurrences
                    .sort_by(|p, q| p.track.cmp(&q.track).then(p.start.total_cmp(&q.start)));
                target.representative = target
                    .occurrences
                    .iter()
                    .position(|o| *o == rep)
                    .unwrap_or(0);
            }
            None if rest.len() >= min_occurrences && rest.len() == w.occurrences.len() => {
                out.push(w)
            }
            None => {}
        }
    }
    out
}

/// Whether two occurrences are the same place: one track, overlapping by at least half of the shorter.
fn same_place(a: &Occurrence, b: &Occurrence) -> bool {
    let overlap = a.end.min(b.end) - a.start.max(b.start);
    a.track == b.track && overlap >= 0.5 * (a.end - a.start).min(b.end - b.start)
}

/// The split rule. `confirm` checks a motif in place (keeping the occurrences that repeat its representative)
/// and returns the ones it took out; when at least `min_occurrences` were taken out and the motif has been split
/// fewer than [`MAX_SPLITS`] times, they become a new motif, led by the one with the most links (ties to the
/// earliest), which is confirmed in turn. Returns every confirmed motif, in the order confirmed (unsorted).
pub fn split_motifs(
    motifs: Vec<Motif>,
    min_occurrences: usize,
    mut confirm: impl FnMut(&mut Motif) -> Result<Vec<Occurrence>>,
) -> Result<Vec<Motif>> {
    let mut queue: Vec<(Motif, usize)> = motifs.into_iter().map(|m| (m, 0)).collect();
    let mut confirmed = Vec::new();
    while let Some((mut m, splits)) = queue.pop() {
        let rest = confirm(&mut m)?;
        confirmed.push(m);
        if splits < MAX_SPLITS && rest.len() >= min_occurrences {
            let mut representative = 0;
            for (i, o) in rest.iter().enumerate() {
                if o.links > rest[representative].links {
                    representative = i;
                }
            }
            let occurrences = rest;
            queue.push((
                Motif {
                    occurrences,
                    representative,
                },
                splits + 1,
            ));
        }
    }
    Ok(confirmed)
}

/// Window matches place an occurrence to about a window; the audio places it to about 10 ms
/// ([`avx_embed::refine`]). Occurrences whose audio does not measurably repeat the representative's are taken
/// out and returned, with their window-match spans.
fn refine(paths: &[PathBuf], motif: &mut Motif, only: Option<&Path>) -> Result<Vec<Occurrence>> {
    let chosen: Vec<usize> = (0..motif.occurrences.len())
        .filter(|&i| {
            i == motif.representative
                || only.is_none_or(|p| paths[motif.occurrences[i].track as usize] == p)
        })
        .collect();
    let clips: Vec<Clip> = chosen
        .iter()
        .map(|&i| {
            let o = &motif.occurrences[i];
            Clip {
                path: paths[o.track as usize].clone(),
                start: o.start as f64,
                end: o.end as f64,
            }
        })
        .collect();
    let reference = chosen
        .iter()
        .position(|&i| i == motif.representative)
        .unwrap_or(0);
    let refined = refine_motif(&clips, reference, REFINE_MARGIN_S, REFINE_LAG_S)?;
    let coarse = motif.occurrences.clone();
    let mut keep = vec![true; motif.occurrences.len()];
    for (&i, r) in chosen.iter().zip(refined) {
        let o = &mut motif.occurrences[i];
        o.start = r.start as f32;
        o.end = r.end as f32;
        keep[i] = i == motif.representative || r.matched.is_some_and(|m| m.is_repeat());
    }
    Ok(keep_only(motif, coarse, &keep))
}

/// Keeps the occurrences of `motif` marked in `keep` (moving the representative index with them) and returns the
/// others as they were in `coarse`.
fn keep_only(motif: &mut Motif, coarse: Vec<Occurrence>, keep: &[bool]) -> Vec<Occurrence> {
    let rep = motif.representative;
    let mut i = 0;
    motif.occurrences.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    motif.representative = keep[..rep].iter().filter(|&&k| k).count();
    coarse
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| !**k)
        .map(|(o, _)| o)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(track: u32, start: f32, links: usize) -> Occurrence {
        Occurrence {
            track,
            start,
            end: start + 3.0,
            score: 0.9,
            links,
        }
    }

    /// A confirmation that keeps the representative and the occurrences on its track, like an audio check that
    /// hears one recording's passage repeated only within that recording.
    fn same_track(m: &mut Motif) -> Result<Vec<Occurrence>> {
        let track = m.representative().track;
        let keep: Vec<bool> = m.occurrences.iter().map(|o| o.track == track).collect();
        let coarse = m.occurrences.clone();
        Ok(keep_only(m, coarse, &keep))
    }

    #[test]
    fn an_archives_hours_are_its_tracks_last_window_ends() {
        let span = |track, start: f32| Span {
            track,
            start,
            end: start + 10.0,
        };
        // Two tracks, of 1 h and 30 min (the last windows' ends); rows in any order.
        let spans = [span(0, 0.0), span(1, 1790.0), span(0, 3590.0), span(1, 5.0)];
        assert!((hours_of(&spans) - 1.5).abs() < 1e-6);
        assert_eq!(hours_of(&[]), 0.0);
        // 15 s at 8.75 h, four times that at twice the hours.
        assert!((landmark_hours_estimate(8.75) * 3600.0 - 15.0).abs() < 1e-9);
        assert!((landmark_hours_estimate(17.5) / landmark_hours_estimate(8.75) - 4.0).abs() < 1e-9);
    }

    #[test]
    fn failed_occurrences_become_a_motif_led_by_the_most_links() {
        let motif = Motif {
            occurrences: vec![
                occ(0, 1.0, 5),
                occ(0, 10.0, 9),
                occ(1, 2.0, 3),
                occ(1, 20.0, 7),
                occ(1, 40.0, 7),
                occ(2, 5.0, 1),
            ],
            representative: 1,
        };
        let got = split_motifs(vec![motif], 2, same_track).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].occurrences, vec![occ(0, 1.0, 5), occ(0, 10.0, 9)]);
        assert_eq!(got[0].representative, 1);
        // Split off: track 1's three and track 2's one, led by the first with 7 links (track 1, 20 s); the audio
        // then keeps track 1's, and the lone track-2 occurrence is too few to split again.
        assert_eq!(
            got[1].occurrences,
            vec![occ(1, 2.0, 3), occ(1, 20.0, 7), occ(1, 40.0, 7)]
        );
        assert_eq!(got[1].representative, 1);
    }

    #[test]
    fn a_motif_is_split_at_most_max_splits_times() {
        // Every occurrence on its own track: each confirmation keeps only the representative.
        let occurrences: Vec<Occurrence> = (0..8).map(|t| occ(t, 0.0, 8 - t as usize)).collect();
        let motif = Motif {
            occurrences,
            representative: 0,
        };
        let got = split_motifs(vec![motif], 2, same_track).unwrap();
        assert_eq!(got.len(), MAX_SPLITS + 1);
        let leaders: Vec<u32> = got.iter().map(|m| m.representative().track).collect();
        assert_eq!(leaders, vec![0, 1, 2, 3]);
    }

    /// Seeded uniform numbers in -0.5..0.5.
    fn uniform(mut seed: u64) -> impl FnMut() -> f32 {
        move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        }
    }

    /// Landmarks of audio end to end: a melody of plucked notes planted at known offsets into three different
    /// noises, once 12 dB quieter and once over a second melody 14 dB below, is found at each offset within
    /// 0.05 s.
    #[test]
    fn a_melody_planted_in_noise_is_found_by_landmarks_within_50_ms() {
        let rate = landmarks::RATE as usize;
        let mut rnd = uniform(7);
        let melody = |secs: f64, rnd: &mut dyn FnMut() -> f32| -> Vec<f32> {
            let note = (0.15 * rate as f64) as usize;
            let (mut f, mut phase) = (440.0f32, 0.0f32);
            (0..(secs * rate as f64) as usize)
                .map(|i| {
                    if i % note == 0 {
                        f = 300.0 + 3000.0 * (rnd() + 0.5);
                    }
                    phase += 2.0 * std::f32::consts::PI * f / rate as f32;
                    let t = (i % note) as f32 / rate as f32;
                    0.5 * (-t / 0.05).exp() * phase.sin()
                })
                .collect()
        };
        let motif = melody(4.0, &mut rnd);
        let plants = [
            (3.0f64, 1.0f32, false),
            (11.37, 0.25, false),
            (6.5, 1.0, true),
        ];
        let beds: Vec<Vec<f32>> = (0..plants.len()).map(|_| melody(20.0, &mut rnd)).collect();
        let noises: Vec<Vec<f32>> = (0..plants.len())
            .map(|_| (0..20 * rate).map(|_| 0.02 * rnd()).collect())
            .collect();
        assert_planted_found(&motif, &plants, &noises, &beds, 0.5);
    }

    /// Plants `motif` into `noises[i]` at `plants[i]` = (seconds, gain, over `beds[i]` 14 dB below) and checks
    /// that landmarks find one motif with an occurrence at each place, starting within 0.05 s and ending within
    /// `end_tolerance` seconds.
    fn assert_planted_found(
        motif: &[f32],
        plants: &[(f64, f32, bool)],
        noises: &[Vec<f32>],
        beds: &[Vec<f32>],
        end_tolerance: f64,
    ) {
        let rate = landmarks::RATE as usize;
        let secs = motif.len() as f64 / rate as f64;
        let mut tracks = Vec::new();
        for (i, &(at, gain, bed)) in plants.iter().enumerate() {
            let mut x = noises[i].clone();
            if bed {
                x.iter_mut().zip(&beds[i]).for_each(|(s, o)| *s += 0.2 * o);
            }
            let s = (at * rate as f64) as usize;
            x[s..s + motif.len()]
                .iter_mut()
                .zip(motif)
                .for_each(|(d, m)| *d += gain * m);
            tracks.push(
                landmarks::landmarks(&x)
                    .into_iter()
                    .map(|l| (l.hash, l.frame, l.dt))
                    .collect::<TrackLandmarks>(),
            );
        }
        let cfg = LandmarkConfig {
            frame_rate: landmarks::FRAME_RATE,
            min_share: MIN_SHARE,
            ..LandmarkConfig::default()
        };
        let (motifs, _) = repeats(&tracks, &cfg).unwrap();
        assert_eq!(motifs.len(), 1, "{motifs:?}");
        let occ = &motifs[0].occurrences;
        assert_eq!(occ.len(), plants.len(), "{occ:?}");
        for (o, &(at, _, _)) in occ.iter().zip(plants) {
            assert!((o.start as f64 - at).abs() <= 0.05, "{o:?} planted at {at}");
            assert!(
                (o.end as f64 - (at + secs)).abs() <= end_tolerance,
                "{o:?} planted at {at}"
            );
        }
    }

    /// A steady-tone pattern (a telephone busy tone: 480 + 620 Hz, 0.5 s on, 0.5 s off, three times), whose
    /// spectral peaks fall at random frames of each tone's plateau, is found by its onsets and offsets: planted
    /// plain, 10 dB quieter, and over noise and a melody 14 dB below, each place within 0.05 s.
    #[test]
    fn a_beep_pattern_is_found_by_its_onsets_within_50_ms() {
        let rate = landmarks::RATE as usize;
        let mut rnd = uniform(11);
        let busy: Vec<f32> = (0..3 * rate)
            .map(|i| {
                let t = i as f32 / rate as f32;
                if t.fract() < 0.5 {
                    let w = 2.0 * std::f32::consts::PI * t;
                    0.25 * ((480.0 * w).sin() + (620.0 * w).sin())
                } else {
                    0.0
                }
            })
            .collect();
        // A bed of random sustained tones, a new one every 0.4 s, and noise (a stand-in for speech and music).
        let bed = |rnd: &mut dyn FnMut() -> f32| -> Vec<f32> {
            let (mut f, mut phase) = (300.0f32, 0.0f32);
            (0..20 * rate)
                .map(|i| {
                    if i % (rate * 2 / 5) == 0 {
                        f = 150.0 + 2000.0 * (rnd() + 0.5);
                    }
                    phase += 2.0 * std::f32::consts::PI * f / rate as f32;
                    0.5 * phase.sin() + 0.2 * rnd()
                })
                .collect()
        };
        let plants = [
            (2.0f64, 1.0f32, false),
            (9.43, 0.316, false),
            (5.21, 1.0, true),
        ];
        let beds: Vec<Vec<f32>> = (0..plants.len()).map(|_| bed(&mut rnd)).collect();
        let noises: Vec<Vec<f32>> = (0..plants.len())
            .map(|_| (0..20 * rate).map(|_| 0.01 * rnd()).collect())
            .collect();
        assert_planted_found(&busy, &plants, &noises, &beds, 0.6);
    }

    #[test]
    fn saved_occurrences_are_read_for_one_path_and_bad_lines_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let saved = dir.path().join("rec.jsonl");
        std::fs::write(
            &saved,
            concat!(
                r#"{"type":"motif","motif":1,"occurrences":2,"path":"/a.flac","start":1.0,"end":4.0}"#,
                "\n",
                r#"{"type":"occurrence","motif":1,"path":"/b.flac","start":9.5,"end":12.5,"score":0.5}"#,
                "\n\n",
                r#"{"type":"occurrence","motif":2,"path":"/b.flac","start":2.25,"end":5.0,"score":0.5}"#,
                "\n",
                r#"{"type":"occurrence","motif":1,"path":"/a.flac","start":1.0,"end":4.0,"score":0.5}"#,
                "\n"
            ),
        )
        .unwrap();
        let got = saved_occurrences(&saved, Path::new("/b.flac")).unwrap();
        assert_eq!(got, vec![(2, 2.25, 5.0), (1, 9.5, 12.5)]);
        assert!(saved_occurrences(&saved, Path::new("/c.flac"))
            .unwrap()
            .is_empty());
        std::fs::write(&saved, "{\"type\":\"occurrence\"}\nnot json\n").unwrap();
        // A path the file holds nothing for still reads every line.
        let err = saved_occurrences(&saved, Path::new("/c.flac"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rec.jsonl: line 2") && err.contains("avx --json recurring"),
            "{err}"
        );
        let missing = dir.path().join("none.jsonl");
        let err = saved_occurrences(&missing, Path::new("/c.flac"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.jsonl"), "{err}");
    }

    #[test]
    fn a_confirmation_error_stops_the_split() {
        let motif = Motif {
            occurrences: vec![occ(0, 0.0, 1), occ(1, 0.0, 1)],
            representative: 0,
        };
        let err = split_motifs(vec![motif], 2, |_| {
            Err(CoreError::Invalid("no audio".into()))
        })
        .unwrap_err();
        assert!(matches!(err, CoreError::Invalid(_)));
    }
}
