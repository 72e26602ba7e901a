//! Motifs that recur across the indexed recordings (`avx recurring`, `avx timeline`), each with every occurrence,
//! confirmed and placed by the audio.
//!
//! [`discover`] gathers the window vectors (optionally under a directory), picks a candidate source (exact below
//! 5,000 windows, k-means buckets above: never all pairs), calls [`avx_index::analysis::recurring`], then refines
//! each occurrence's boundaries from the audio ([`avx_embed::refine`]) and takes out the occurrences whose audio
//! does not repeat the motif's representative ([`avx_embed::refine::AudioMatch::is_repeat`]). Those are not lost:
//! [`split_motifs`] makes them a motif of their own (led by the occurrence with the most links), which is
//! confirmed in turn, up to [`MAX_SPLITS`] times (window links chain passages that merely sound alike into one
//! motif). Occurrences the audio matches for less than the minimum length go last, and so do motifs left with too
//! few occurrences.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use avx_embed::refine::{refine_motif, Clip};
use avx_index::analysis::{
    center, recurring, sort_motifs, BucketNeighbours, ExactNeighbours, Motif, Occurrence,
    RecurringConfig, Span,
};
use avx_index::{Index, Level};

use crate::dupes::{gather, EXACT_CANDIDATES_BELOW};
use crate::error::{CoreError, Result};

/// Seconds searched beyond a coarse occurrence (about one aiSFX block) and around its lag.
const REFINE_MARGIN_S: f64 = 2.5;
const REFINE_LAG_S: f64 = 2.5;

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
    sort_motifs(&mut motifs);
    Ok(Found { paths, motifs })
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
