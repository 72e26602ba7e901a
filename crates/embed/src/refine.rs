//! Boundary refinement of recurring passages from the audio itself, to about 10 ms.
//!
//! Window embeddings place a recurring passage only to a window: a 2.32 s aiSFX block that overlaps a loud
//! ident by a fraction of a second still looks like the ident (the model max-pools over time). Given a
//! motif's coarse occurrences (from `avx_index::analysis::recurring`), [`refine_motif`] decodes a margin
//! around each, computes short-time band spectra (10 ms hop, 24 log-spaced bands from 100 Hz to 8 kHz,
//! linear magnitudes), and compares every occurrence with the motif's reference occurrence frame by frame
//! with a gain-invariant cosine. The lag between the two is refined first (the lag that maximises the mean
//! similarity over the coarse overlap), then the matched span is the longest run of frames around the
//! middle whose smoothed similarity stays at or above a threshold set from the match's own core
//! (`core median - 0.12`, within `[0.4, 0.95]`), allowing dips of up to 0.1 s.
//!
//! The match is also a confirmation ([`AudioMatch`]): a repeat of the reference's audio peaks sharply at one
//! lag, while a passage that only shares its timbre (another stretch of the same synthetic music, one
//! speaker's other sentences) is about as similar at every lag searched. [`AudioMatch::is_repeat`] asks for
//! the similarity at the best lag to exceed the median over all lags by [`MIN_CONTRAST`].
//!
//! Each file is decoded once for all of its spans.

use std::collections::BTreeMap;
use std::path::PathBuf;

use realfft::RealFftPlanner;

use crate::decode::Decoder;
use crate::Result;

/// Frames per second of the band spectra.
const FRAME_RATE: f64 = 100.0;
/// Bands of the spectra.
const BANDS: usize = 24;
/// Lowest and highest band edges, Hz.
const F_LO: f64 = 100.0;
const F_HI: f64 = 8000.0;
/// Frames averaged when smoothing a similarity curve.
const SMOOTH: usize = 9;
/// Longest dip (frames) below the threshold inside a matched span.
const MAX_DIP: usize = 10;
/// How far below the core's median similarity a matched frame may fall.
const DROP: f64 = 0.12;

/// A coarse occurrence: a file and a span in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// The file.
    pub path: PathBuf,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

/// One clip after refinement: its span, and how well its audio matched the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refined {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// The audio evidence, `None` for the reference itself and for a clip whose match could not be measured
    /// (it keeps its coarse span).
    pub matched: Option<AudioMatch>,
}

/// How well a clip's audio matches the reference's at the best lag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioMatch {
    /// Median smoothed frame similarity over the reference's core (its middle half), at the best lag: 1 for
    /// the same audio at any gain.
    pub similarity: f64,
    /// `similarity` minus the median over all lags searched of the mean similarity: a repeat of the same
    /// audio peaks sharply at one lag, a passage that only shares the reference's timbre does not.
    pub contrast: f64,
}

/// Smallest [`AudioMatch::contrast`] of a repeat (measured on eval/archive: occurrences of planted motifs
/// 0.12 to 0.68, passages of different synthetic music that share instruments below 0.07 with a few to 0.15).
pub const MIN_CONTRAST: f64 = 0.1;

impl AudioMatch {
    /// Whether the clip repeats the reference's audio: its similarity peaks sharply at one lag
    /// ([`MIN_CONTRAST`]).
    pub fn is_repeat(&self) -> bool {
        self.contrast >= MIN_CONTRAST
    }
}

/// Band spectra of a span: `frames[i]` starts at `start + i / FRAME_RATE`.
#[derive(Debug, Clone)]
struct Spectra {
    start: f64,
    frames: Vec<[f32; BANDS]>,
}

impl Spectra {
    fn at(&self, t: f64) -> Option<&[f32; BANDS]> {
        let i = ((t - self.start) * FRAME_RATE).round();
        (i >= 0.0).then(|| self.frames.get(i as usize)).flatten()
    }
}

/// Every clip of one motif, refined, in order. `reference` is the clip the others are
/// compared with (the motif's representative); `margin` seconds are searched beyond each coarse span, and the
/// lag is searched within `± lag_search` seconds. A clip whose match cannot be measured (too short, silent)
/// keeps its coarse span.
///
/// Errors: a file cannot be decoded (the error names it).
pub fn refine_motif(
    clips: &[Clip],
    reference: usize,
    margin: f64,
    lag_search: f64,
) -> Result<Vec<Refined>> {
    let mut out: Vec<Refined> = clips
        .iter()
        .map(|c| Refined {
            start: c.start,
            end: c.end,
            matched: None,
        })
        .collect();
    let Some(r) = clips.get(reference) else {
        return Ok(out);
    };
    let pad = margin + lag_search;
    let spans: Vec<(PathBuf, f64, f64)> = clips
        .iter()
        .map(|c| (c.path.clone(), (c.start - pad).max(0.0), c.end + pad))
        .collect();
    let spectra = spectra_of(&spans)?;
    let rs = &spectra[reference];
    let mut ref_bounds = Vec::new();
    for (i, c) in clips.iter().enumerate() {
        if i == reference {
            continue;
        }
        let coarse_lag = c.start - r.start;
        let Some((lag, s, e, matched)) =
            match_span(rs, &spectra[i], r, coarse_lag, margin, lag_search)
        else {
            continue;
        };
        out[i] = Refined {
            start: (s + lag).max(0.0),
            end: e + lag,
            matched: Some(matched),
        };
        ref_bounds.push((s, e));
    }
    if !ref_bounds.is_empty() {
        let mut s: Vec<f64> = ref_bounds.iter().map(|b| b.0).collect();
        let mut e: Vec<f64> = ref_bounds.iter().map(|b| b.1).collect();
        out[reference].start = median(&mut s);
        out[reference].end = median(&mut e);
    }
    Ok(out)
}

/// The best lag near `coarse_lag`, the matched span in the reference's time, and the match's strength.
fn match_span(
    rs: &Spectra,
    os: &Spectra,
    r: &Clip,
    coarse_lag: f64,
    margin: f64,
    lag_search: f64,
) -> Option<(f64, f64, f64, AudioMatch)> {
    let step = 1.0 / FRAME_RATE;
    let (core_s, core_e) = (
        r.start + 0.25 * (r.end - r.start),
        r.end - 0.25 * (r.end - r.start),
    );
    if core_e - core_s < 4.0 * step {
        return None;
    }
    let mean_sim = |lag: f64, a: f64, b: f64| {
        let (mut sum, mut n) = (0.0f64, 0usize);
        let mut t = a;
        while t < b {
            if let (Some(x), Some(y)) = (rs.at(t), os.at(t + lag)) {
                sum += cosine(x, y) as f64;
                n += 1;
            }
            t += step;
        }
        (n > 0).then(|| sum / n as f64)
    };
    // Lag: coarse, then every 10 ms within the search range.
    let mut best = (coarse_lag, f64::NEG_INFINITY);
    let mut all = Vec::new();
    let k = (lag_search * FRAME_RATE).round() as i64;
    for d in -k..=k {
        let lag = coarse_lag + d as f64 * step;
        if let Some(m) = mean_sim(lag, core_s, core_e) {
            all.push(m);
            if m > best.1 {
                best = (lag, m);
            }
        }
    }
    let lag = best.0;
    if !best.1.is_finite() {
        return None;
    }
    // Similarity curve over the reference's padded span.
    let (a, b) = ((r.start - margin).max(0.0), r.end + margin);
    let n = ((b - a) * FRAME_RATE).floor() as usize;
    let raw: Vec<f32> = (0..n)
        .map(|i| {
            let t = a + i as f64 * step;
            match (rs.at(t), os.at(t + lag)) {
                (Some(x), Some(y)) => cosine(x, y),
                _ => 0.0,
            }
        })
        .collect();
    let smooth: Vec<f32> = (0..n)
        .map(|i| {
            let lo = i.saturating_sub(SMOOTH / 2);
            let hi = (i + SMOOTH / 2 + 1).min(n);
            raw[lo..hi].iter().sum::<f32>() / (hi - lo) as f32
        })
        .collect();
    let idx = |t: f64| (((t - a) * FRAME_RATE).round().max(0.0) as usize).min(n.saturating_sub(1));
    let (ci, ce) = (idx(core_s), idx(core_e));
    let mut core: Vec<f64> = smooth[ci..=ce].iter().map(|&x| x as f64).collect();
    let similarity = median(&mut core);
    let matched = AudioMatch {
        similarity,
        contrast: similarity - median(&mut all),
    };
    let thr = (similarity - DROP).clamp(0.4, 0.95) as f32;
    // Grow from the core's middle, allowing short dips.
    let mid = (ci + ce) / 2;
    let grow = |dir: i64| {
        let mut last_good = mid;
        let mut i = mid as i64;
        loop {
            i += dir;
            if i < 0 || i as usize >= n {
                break;
            }
            if smooth[i as usize] >= thr {
                last_good = i as usize;
            } else if (i - last_good as i64).unsigned_abs() as usize > MAX_DIP {
                break;
            }
        }
        last_good
    };
    let (s, e) = (grow(-1), grow(1));
    Some((lag, a + s as f64 * step, a + (e + 1) as f64 * step, matched))
}

fn cosine(x: &[f32; BANDS], y: &[f32; BANDS]) -> f32 {
    let (mut d, mut nx, mut ny) = (0f32, 0f32, 0f32);
    for (a, b) in x.iter().zip(y) {
        d += a * b;
        nx += a * a;
        ny += b * b;
    }
    if nx <= 1e-12 || ny <= 1e-12 {
        return 0.0;
    }
    d / (nx.sqrt() * ny.sqrt())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Band spectra of every `(path, start, end)`, decoding each file once.
fn spectra_of(spans: &[(PathBuf, f64, f64)]) -> Result<Vec<Spectra>> {
    let mut by_file: BTreeMap<&PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, s) in spans.iter().enumerate() {
        by_file.entry(&s.0).or_default().push(i);
    }
    let mut out: Vec<Option<Spectra>> = vec![None; spans.len()];
    for (path, idx) in by_file {
        let mut dec = Decoder::open(path)?;
        let rate = dec.info().sample_rate.max(1) as f64;
        let ranges: Vec<(u64, u64)> = idx
            .iter()
            .map(|&i| {
                (
                    (spans[i].1 * rate) as u64,
                    (spans[i].2 * rate).ceil() as u64,
                )
            })
            .collect();
        let mut bufs: Vec<Vec<f32>> = vec![Vec::new(); idx.len()];
        let mut pos = 0u64;
        let last = ranges.iter().map(|r| r.1).max().unwrap_or(0);
        while pos < last {
            let Some(chunk) = dec.next_chunk()? else {
                break;
            };
            let end = pos + chunk.len() as u64;
            for (b, &(s, e)) in bufs.iter_mut().zip(&ranges) {
                if s < end && e > pos {
                    let lo = (s.max(pos) - pos) as usize;
                    let hi = (e.min(end) - pos) as usize;
                    b.extend_from_slice(&chunk[lo..hi]);
                }
            }
            pos = end;
        }
        for ((&i, buf), &(s, _)) in idx.iter().zip(bufs).zip(&ranges) {
            out[i] = Some(Spectra {
                start: s as f64 / rate,
                frames: band_frames(&buf, rate),
            });
        }
    }
    Ok(out
        .into_iter()
        .map(|s| s.expect("every span computed"))
        .collect())
}

/// Linear band magnitudes every 10 ms (frame `i` centred at `i * hop + n_fft / 2`, so it describes the
/// audio around `start + i / FRAME_RATE + n_fft / (2 rate)`; the constant offset is the same for every file
/// of one rate and cancels in comparisons).
fn band_frames(x: &[f32], rate: f64) -> Vec<[f32; BANDS]> {
    let hop = (rate / FRAME_RATE).round().max(1.0) as usize;
    let n_fft = ((0.04 * rate) as usize).next_power_of_two().max(64);
    if x.len() < n_fft {
        return Vec::new();
    }
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
    let window: Vec<f32> = (0..n_fft)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / n_fft as f32).cos())
        .collect();
    let hi = F_HI.min(0.45 * rate);
    let edges: Vec<usize> = (0..=BANDS)
        .map(|b| {
            let f = F_LO * (hi / F_LO).powf(b as f64 / BANDS as f64);
            ((f * n_fft as f64 / rate).round() as usize).min(n_fft / 2)
        })
        .collect();
    let mut input = fft.make_input_vec();
    let mut spec = fft.make_output_vec();
    let mut out = Vec::with_capacity((x.len() - n_fft) / hop + 1);
    let mut i = 0;
    while i + n_fft <= x.len() {
        for ((d, s), w) in input.iter_mut().zip(&x[i..i + n_fft]).zip(&window) {
            *d = s * w;
        }
        if fft.process(&mut input, &mut spec).is_err() {
            break;
        }
        let mut bands = [0f32; BANDS];
        for (b, band) in bands.iter_mut().enumerate() {
            let (lo, hi) = (edges[b], edges[b + 1].max(edges[b] + 1));
            *band = spec[lo..hi.min(spec.len())].iter().map(|c| c.norm()).sum();
        }
        out.push(bands);
        i += hop;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: u64, n: usize) -> Vec<f32> {
        crate::landmarks::tests::noise(seed, n, 0.25)
    }

    /// A chirp-and-tone motif planted into different noise at different gains is found to within 30 ms.
    #[test]
    fn planted_motif_boundaries_are_found() {
        let rate = 16_000usize;
        let motif: Vec<f32> = (0..3 * rate)
            .map(|i| {
                let t = i as f32 / rate as f32;
                0.6 * (2.0 * std::f32::consts::PI * (300.0 + 400.0 * t) * t).sin()
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let mut clips = Vec::new();
        let truth = [(2.0, 1.0f32), (5.3, 0.5)];
        for (k, &(at, gain)) in truth.iter().enumerate() {
            // Background: a low tone in noise, different in each file.
            let mut x: Vec<f32> = noise(k as u64 + 1, 10 * rate)
                .iter()
                .enumerate()
                .map(|(i, n)| n * 0.3 + 0.2 * (i as f32 * (0.05 + 0.02 * k as f32)).sin())
                .collect();
            let s = (at * rate as f64) as usize;
            for (i, m) in motif.iter().enumerate() {
                x[s + i] = m * gain;
            }
            let path = dir.path().join(format!("f{k}.wav"));
            let spec = crate::levels::wav_bytes(&x, rate as u32);
            std::fs::write(&path, spec).unwrap();
            // Coarse spans off by up to a second, as a window match gives them.
            clips.push(Clip {
                path,
                start: at - 0.8,
                end: at + 3.0 + 0.6,
            });
        }
        let got = refine_motif(&clips, 0, 1.5, 0.4).unwrap();
        for (r, (at, _)) in got.iter().zip(truth) {
            assert!((r.start - at).abs() < 0.05, "{got:?}");
            assert!((r.end - (at + 3.0)).abs() < 0.05, "{got:?}");
        }
        let m = got[1].matched.expect("the second clip is measured");
        assert!(m.similarity > 0.8 && m.contrast > 0.2, "{m:?}");
        assert!(m.is_repeat());
    }

    /// Another stretch of the same kind of sound (noise of one colour, different samples) is similar at
    /// every lag: not a repeat. (So a steady sound's true repeats are not confirmed either: the planted
    /// chirp above is.)
    #[test]
    fn shared_timbre_is_not_a_repeat() {
        let rate = 16_000usize;
        let dir = tempfile::tempdir().unwrap();
        let colour = |seed: u64| -> Vec<f32> {
            let x = noise(seed, 12 * rate);
            let mut y = vec![0f32; x.len()];
            for i in 1..x.len() {
                y[i] = 0.8 * y[i - 1] + x[i];
            }
            y
        };
        let mut clips = Vec::new();
        for k in 0..2 {
            let path = dir.path().join(format!("n{k}.wav"));
            std::fs::write(&path, crate::levels::wav_bytes(&colour(k + 1), rate as u32)).unwrap();
            clips.push(Clip {
                path,
                start: 4.0,
                end: 8.0,
            });
        }
        let got = refine_motif(&clips, 0, 1.0, 1.0).unwrap();
        let other = got[1].matched.expect("measured");
        assert!(other.similarity > 0.8, "{other:?}");
        assert!(!other.is_repeat(), "{other:?}");
    }
}
