//! Audio landmark fingerprints (Wang 2003, the "Shazam" scheme): spectral peaks of a short-time spectrum,
//! paired into hashes that survive gain changes, lossy codecs and a quieter sound mixed in.
//!
//! A file is decoded to mono, resampled to [`RATE`] (22,050 Hz: station idents and alarms beep at 8 kHz), and
//! cut into 46 ms frames ([`N_FFT`] 1024) every [`HOP`] samples (10 ms). A *peak* is a time-frequency cell of the
//! log-magnitude spectrum that is the largest within ±[`PEAK_BINS`] bins (±215 Hz) and ±[`PEAK_FRAMES`] frames
//! (±100 ms) and at least
//! [`FLOOR_DB`] above the digital floor and at most [`REL_DB`] below the loudest cell around it; a local maximum does not move when the gain changes, and a sound 14 dB
//! below another barely moves the louder one's peaks. Each peak (the *anchor*) is paired with up to [`FANOUT`]
//! later peaks at most [`MAX_DT`] frames later and [`MAX_DF`] bins away; the pair's
//! `(anchor bin, bin difference, frame difference)` is its 23-bit hash ([`hash`]), stored with the anchor's frame.
//! Two places of any files hold the same recording when many of their hashes agree and the differences of
//! their frames agree too (the matching: `avx_index::analysis::landmarks`).
//!
//! The same audio decoded from a FLAC and from a 64 kbit/s MP3 shares about a third to a half of its hashes
//! (peak frames move by a frame now and then); different performances of similar music share only chance
//! hashes, at scattered frame differences.

use std::collections::VecDeque;
use std::path::Path;

use realfft::RealFftPlanner;

use crate::decode::Decoder;
use crate::resample::StreamResampler;
use crate::{EmbedError, Result};

/// Sample rate the landmarks are computed at, Hz.
pub const RATE: u32 = 22_050;
/// FFT length (46 ms at [`RATE`]).
pub const N_FFT: usize = 1024;
/// Samples between frames (10 ms at [`RATE`]).
pub const HOP: usize = 220;
/// Frames per second.
pub const FRAME_RATE: f64 = RATE as f64 / HOP as f64;
/// Half the height of a peak's neighbourhood, bins (21.5 Hz each).
pub const PEAK_BINS: usize = 10;
/// Half the width of a peak's neighbourhood, frames.
pub const PEAK_FRAMES: usize = 10;
/// Lowest level of a peak, dB above a full-scale sine's bin magnitude minus 100 dB (so about -100 dBFS).
pub const FLOOR_DB: f32 = 25.0;
/// Largest level below the loudest cell within ±[`PEAK_FRAMES`] frames of a peak, dB: the quiet background
/// between a sound's partials yields no peaks.
pub const REL_DB: f32 = 30.0;
/// Most later peaks paired with one anchor.
pub const FANOUT: usize = 6;
/// Largest frame difference of a pair (about 0.63 s).
pub const MAX_DT: u32 = 63;
/// Largest bin difference of a pair.
pub const MAX_DF: i32 = 63;
/// Half the height of an onset's or offset's neighbourhood, bins: two tones 150 Hz apart (a telephone's busy
/// tone) switch on as two events.
pub const EVENT_BINS: usize = 4;
/// Smallest rise (onset) or fall (offset) of a bin's level across an event, dB: its quietest level over
/// frames [`EVENT_SPAN`] to [`EVENT_HOLD`] on the loud side against its loudest over as many on the other.
pub const EVENT_DB: f32 = 10.0;
/// Most later events within ±1 bin paired with one event, besides its [`FANOUT`] ([`pair_events`]).
pub const TONE_FANOUT: usize = 3;
/// Largest frame difference of a pair of events (2.55 s: a beep once a second pairs with its next two).
pub const EVENT_MAX_DT: u32 = 255;
/// Frames from an event to the first level compared by [`EVENT_DB`] (the window still straddles it before).
const EVENT_SPAN: usize = 3;
/// Frames from an event to the last level compared by [`EVENT_DB`]: a switch between two steady levels held
/// 50 ms each side, not a fluctuation of noise.
const EVENT_HOLD: usize = 8;
/// Lowest bin used for peaks (below about 86 Hz: hum and rumble).
const MIN_BIN: usize = 4;
/// Bins used: the FFT's first 512 (to 11 kHz).
const BINS: usize = 512;

/// One landmark: a hash of a pair of peaks and the frame of its anchor (frame `i` covers the audio from
/// `i * HOP / RATE` seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Landmark {
    /// `(anchor bin, bin difference, frame difference)` packed in 23 bits ([`hash`]).
    pub hash: u32,
    /// The anchor's frame.
    pub frame: u32,
    /// Frames from the anchor to its pair's second peak (also in the hash).
    pub dt: u32,
}

/// Seconds from the start of the file of frame `frame`.
pub fn frame_seconds(frame: u32) -> f64 {
    frame as f64 / FRAME_RATE
}

/// The hash of a pair: anchor bin (9 bits), bin difference + 64 (7 bits), frame difference (7 bits).
pub fn hash(f1: u16, f2: u16, dt: u32) -> u32 {
    let df = (f2 as i32 - f1 as i32 + 64).clamp(0, 127) as u32;
    ((f1 as u32 & 0x1ff) << 14) | (df << 7) | (dt & 0x7f)
}

/// The hash of a pair of events (`on`: an onset, else an offset): bit 31 set (no peak pair has it), the
/// two kinds (bits 30 and 29), anchor bin (9 bits), bin difference + 64 (7 bits), frame difference (8 bits).
pub fn event_hash(a: Event, b: Event) -> u32 {
    let df = (b.bin as i32 - a.bin as i32 + 64).clamp(0, 127) as u32;
    let dt = (b.frame - a.frame).min(255);
    (1 << 31)
        | ((a.on as u32) << 30)
        | ((b.on as u32) << 29)
        | ((a.bin as u32 & 0x1ff) << 15)
        | (df << 8)
        | dt
}

/// An onset or offset of a partial: the frame where the bin's linear magnitude rises (or falls) fastest, a
/// local maximum of that change within ±[`EVENT_BINS`] bins and ±[`PEAK_FRAMES`] frames. A steady tone's
/// spectral peak falls at whichever frame of its plateau rounding favours; its switching on and off does not
/// move, so a beep pattern's events pair into the same hashes in every copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    /// Frame.
    pub frame: u32,
    /// FFT bin.
    pub bin: u16,
    /// An onset (else an offset).
    pub on: bool,
}

/// A spectral peak: frame and bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Peak {
    /// Frame.
    pub frame: u32,
    /// FFT bin (21.5 Hz each at [`RATE`]).
    pub bin: u16,
}

/// Landmarks of a whole file, sorted by frame then hash. Errors: the file cannot be decoded (the error names it).
pub fn landmarks_of_file(path: &Path) -> Result<Vec<Landmark>> {
    let mut dec = Decoder::open(path)?;
    let rate = dec.info().sample_rate;
    let mut rs = StreamResampler::new(rate, RATE).map_err(|e| EmbedError::Decode {
        path: path.to_path_buf(),
        message: format!("cannot compute landmarks: {e}"),
    })?;
    let mut peaks = PeakFinder::new();
    let mut buf = Vec::new();
    while let Some(chunk) = dec.next_chunk()? {
        rs.push(chunk, &mut buf);
        peaks.push_samples(&buf);
        buf.clear();
    }
    rs.finish(&mut buf);
    peaks.push_samples(&buf);
    Ok(peaks.finish_landmarks())
}

/// Landmarks of mono samples at [`RATE`] (pairs of peaks and pairs of events), sorted by frame then hash.
pub fn landmarks(samples: &[f32]) -> Vec<Landmark> {
    let mut peaks = PeakFinder::new();
    peaks.push_samples(samples);
    peaks.finish_landmarks()
}

/// Peaks of mono samples at [`RATE`], by frame then bin.
pub fn peaks(samples: &[f32]) -> Vec<Peak> {
    let mut peaks = PeakFinder::new();
    peaks.push_samples(samples);
    peaks.finish().0
}

/// Onsets and offsets of mono samples at [`RATE`], by frame, bin, kind.
pub fn events(samples: &[f32]) -> Vec<Event> {
    let mut peaks = PeakFinder::new();
    peaks.push_samples(samples);
    peaks.finish().1
}

/// Pairs each event with up to [`FANOUT`] later ones at most [`EVENT_MAX_DT`] frames later and [`MAX_DF`] bins
/// away, and with up to [`TONE_FANOUT`] later ones within ±1 bin (the same tone switching again), into
/// landmarks ([`event_hash`]), sorted by frame then hash, without repeats. Over a bed the bed's own events crowd
/// a tone's next switches out of the first [`FANOUT`]; its switches within its own bin stay.
pub fn pair_events(events: &[Event]) -> Vec<Landmark> {
    let mut out = pair_with(
        events,
        |e| (e.frame, e.bin),
        EVENT_MAX_DT,
        |a, b, _| event_hash(a, b),
    );
    for (i, &a) in events.iter().enumerate() {
        let same_tone = events[i + 1..]
            .iter()
            .take_while(|b| b.frame - a.frame <= EVENT_MAX_DT)
            .filter(|b| b.frame > a.frame && b.bin.abs_diff(a.bin) <= 1)
            .take(TONE_FANOUT);
        out.extend(same_tone.map(|&b| Landmark {
            hash: event_hash(a, b),
            frame: a.frame,
            dt: b.frame - a.frame,
        }));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Pairs each peak with up to [`FANOUT`] later ones (nearest in time first) into landmarks, sorted by frame
/// then hash.
pub fn pair(peaks: &[Peak]) -> Vec<Landmark> {
    pair_with(
        peaks,
        |p| (p.frame, p.bin),
        MAX_DT,
        |p, q, dt| hash(p.bin, q.bin, dt),
    )
}

/// Pairs each of `items` (sorted by frame; `at` gives frame and bin) with up to [`FANOUT`] later ones at most
/// `max_dt` frames later and [`MAX_DF`] bins away, hashed by `hash(first, second, frame difference)`.
fn pair_with<T: Copy>(
    items: &[T],
    at: impl Fn(T) -> (u32, u16),
    max_dt: u32,
    hash: impl Fn(T, T, u32) -> u32,
) -> Vec<Landmark> {
    let mut out = Vec::with_capacity(items.len() * FANOUT);
    for (i, &p) in items.iter().enumerate() {
        let (pf, pb) = at(p);
        let mut n = 0;
        for &q in &items[i + 1..] {
            let (qf, qb) = at(q);
            let dt = qf - pf;
            if dt > max_dt {
                break;
            }
            if dt == 0 || (qb as i32 - pb as i32).abs() > MAX_DF {
                continue;
            }
            out.push(Landmark {
                hash: hash(p, q, dt),
                frame: pf,
                dt,
            });
            n += 1;
            if n == FANOUT {
                break;
            }
        }
    }
    out.sort_unstable();
    out
}

/// One frame of the spectrum and what peak and event picking compare it with.
#[derive(Default)]
struct Row {
    /// Log magnitudes, dB.
    db: Vec<f32>,
    /// `db`'s maximum over ±[`PEAK_BINS`].
    db_max: Vec<f32>,
    /// `db`'s maximum.
    loudest: f32,
    /// Rise of the linear magnitude since the previous frame (0 where it fell), and its maximum over
    /// ±[`EVENT_BINS`].
    on: Vec<f32>,
    on_max: Vec<f32>,
    /// Fall of the linear magnitude since the previous frame, and its maximum over ±[`EVENT_BINS`].
    off: Vec<f32>,
    off_max: Vec<f32>,
}

/// Writes to the front of `out` the bins from [`MIN_BIN`] to [`BINS`] where `keep(values[b], maxima[b])` holds, in
/// order, and returns how many: one pass without branches (most bins are not a row's local maximum, and a branch
/// per bin mispredicted), after which [`PeakFinder::pick`] looks at the few it found.
#[inline]
fn candidates(
    values: &[f32],
    maxima: &[f32],
    keep: impl Fn(f32, f32) -> bool,
    out: &mut [u16; BINS],
) -> usize {
    let mut n = 0;
    for (b, (&v, &m)) in values[..BINS]
        .iter()
        .zip(&maxima[..BINS])
        .enumerate()
        .skip(MIN_BIN)
    {
        out[n] = b as u16;
        n += keep(v, m) as usize;
    }
    n
}

/// Streaming peak and event picking: samples in, peaks and events out once their neighbourhood is complete.
struct PeakFinder {
    fft: std::sync::Arc<dyn realfft::RealToComplex<f32>>,
    window: Vec<f32>,
    input: Vec<f32>,
    spectrum: Vec<realfft::num_complex::Complex<f32>>,
    /// Samples not yet framed (the last `N_FFT - HOP` of the previous frame and what came since).
    pending: Vec<f32>,
    /// The last `2 * PEAK_FRAMES + 1` frames.
    rows: VecDeque<Row>,
    /// The previous frame's linear magnitudes.
    prev: Vec<f32>,
    /// This frame's linear magnitudes.
    lin: Vec<f32>,
    /// Rows done with, whose buffers the next frames fill again (a frame allocated 13 buffers before).
    spare: Vec<Row>,
    /// [`running_max_into`]'s working buffers.
    scratch: (Vec<f32>, Vec<f32>),
    /// Frame number of `rows[0]`.
    first: u32,
    /// Frames computed so far.
    frames: u32,
    peaks: Vec<Peak>,
    events: Vec<Event>,
}

impl PeakFinder {
    fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        let window = (0..N_FFT)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / N_FFT as f32).cos())
            .collect();
        PeakFinder {
            input: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            fft,
            window,
            pending: Vec::new(),
            rows: VecDeque::new(),
            prev: vec![0.0; BINS],
            lin: Vec::with_capacity(BINS),
            spare: Vec::new(),
            scratch: (Vec::new(), Vec::new()),
            first: 0,
            frames: 0,
            peaks: Vec::new(),
            events: Vec::new(),
        }
    }

    fn push_samples(&mut self, x: &[f32]) {
        self.pending.extend_from_slice(x);
        let mut at = 0;
        while at + N_FFT <= self.pending.len() {
            for ((d, s), w) in self
                .input
                .iter_mut()
                .zip(&self.pending[at..at + N_FFT])
                .zip(&self.window)
            {
                *d = s * w;
            }
            at += HOP;
            if self
                .fft
                .process(&mut self.input, &mut self.spectrum)
                .is_err()
            {
                continue; // lengths are fixed: cannot happen
            }
            // Magnitude relative to a full-scale sine's peak bin (N_FFT / 4 for a Hann window); dB + 100.
            let scale = 4.0 / N_FFT as f32;
            self.lin.clear();
            self.lin
                .extend(self.spectrum[..BINS].iter().map(|c| c.norm() * scale));
            self.push_row();
        }
        self.pending.drain(..at);
    }

    /// Makes a row of `lin` (this frame's magnitudes) against `prev`, then makes `lin` the previous frame's.
    fn push_row(&mut self) {
        let mut row = self.spare.pop().unwrap_or_default();
        let (lin, prev) = (&self.lin, &self.prev);
        row.db.clear();
        row.db
            .extend(lin.iter().map(|m| 20.0 * (m + 1e-9).log10() + 100.0));
        row.on.clear();
        row.on
            .extend(lin.iter().zip(prev).map(|(m, p)| (m - p).max(0.0)));
        row.off.clear();
        row.off
            .extend(lin.iter().zip(prev).map(|(m, p)| (p - m).max(0.0)));
        std::mem::swap(&mut self.prev, &mut self.lin);
        let scratch = &mut self.scratch;
        running_max_into(&row.db, PEAK_BINS, scratch, &mut row.db_max);
        running_max_into(&row.on, EVENT_BINS, scratch, &mut row.on_max);
        running_max_into(&row.off, EVENT_BINS, scratch, &mut row.off_max);
        row.loudest = row.db_max.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        self.rows.push_back(row);
        self.frames += 1;
        if self.rows.len() == 2 * PEAK_FRAMES + 1 {
            self.pick(PEAK_FRAMES);
            if let Some(done) = self.rows.pop_front() {
                self.spare.push(done);
            }
            self.first += 1;
        }
    }

    /// Peaks and events of `rows[k]` against the rows held.
    fn pick(&mut self, k: usize) {
        let loudest = self
            .rows
            .iter()
            .map(|r| r.loudest)
            .fold(f32::NEG_INFINITY, f32::max);
        let floor = FLOOR_DB.max(loudest - REL_DB);
        let frame = self.first + k as u32;
        let row = &self.rows[k];
        let mut cands = [0u16; BINS];
        let n = candidates(
            &row.db,
            &row.db_max,
            |v, m| !(v < floor || v < m),
            &mut cands,
        );
        for &b in &cands[..n] {
            let b = b as usize;
            let v = row.db[b];
            // The largest of its own row's neighbourhood; ties go to the lowest bin.
            if row.db[b.saturating_sub(PEAK_BINS)..b].contains(&v) {
                continue;
            }
            let beaten = self.rows.iter().enumerate().any(|(j, r)| {
                // Ties in time go to the earliest frame.
                j != k && (r.db_max[b] > v || (r.db_max[b] == v && j < k))
            });
            if !beaten {
                self.peaks.push(Peak {
                    frame,
                    bin: b as u16,
                });
            }
        }
        // Events: the level stays loud from EVENT_SPAN to EVENT_HOLD frames after an onset (before an offset),
        // EVENT_DB above its loudest as far on the other side.
        if k < EVENT_HOLD || k + EVENT_HOLD >= self.rows.len() {
            return;
        }
        let side = |lo: usize, b: usize, f: fn(f32, f32) -> f32, init: f32| {
            (lo..lo + EVENT_HOLD - EVENT_SPAN + 1).fold(init, |m, j| f(m, self.rows[j].db[b]))
        };
        let (early, late) = (k - EVENT_HOLD, k + EVENT_SPAN);
        for on in [true, false] {
            let (cur, cur_max) = if on {
                (&row.on, &row.on_max)
            } else {
                (&row.off, &row.off_max)
            };
            let n = candidates(cur, cur_max, |v, m| !(v <= 0.0 || v < m), &mut cands);
            for &b in &cands[..n] {
                let b = b as usize;
                let v = cur[b];
                if cur[b.saturating_sub(EVENT_BINS)..b].contains(&v) {
                    continue;
                }
                let (loud, quiet) = if on {
                    (
                        side(late, b, f32::min, f32::INFINITY),
                        side(early, b, f32::max, f32::NEG_INFINITY),
                    )
                } else {
                    (
                        side(early, b, f32::min, f32::INFINITY),
                        side(late, b, f32::max, f32::NEG_INFINITY),
                    )
                };
                if loud < floor || loud - quiet < EVENT_DB {
                    continue;
                }
                let beaten = self.rows.iter().enumerate().any(|(j, r)| {
                    let m = if on { r.on_max[b] } else { r.off_max[b] };
                    j != k && (m > v || (m == v && j < k))
                });
                if !beaten {
                    self.events.push(Event {
                        frame,
                        bin: b as u16,
                        on,
                    });
                }
            }
        }
    }

    /// Peaks and events, each sorted.
    fn finish(mut self) -> (Vec<Peak>, Vec<Event>) {
        // The frames not yet judged: those whose later neighbourhood was cut by the end of the file.
        let held = self.rows.len();
        let start = if self.frames as usize > 2 * PEAK_FRAMES {
            PEAK_FRAMES + 1
        } else {
            0
        };
        for k in start..held {
            self.pick(k);
        }
        self.peaks.sort_unstable();
        self.events.sort_unstable();
        (self.peaks, self.events)
    }

    /// Pairs of peaks and pairs of events, sorted by frame then hash.
    fn finish_landmarks(self) -> Vec<Landmark> {
        let (peaks, events) = self.finish();
        let mut out = pair(&peaks);
        out.extend(pair_events(&events));
        out.sort_unstable();
        out
    }
}

/// [`running_max_into`] into a new vector.
#[cfg(test)]
fn running_max(x: &[f32], r: usize) -> Vec<f32> {
    let mut out = Vec::new();
    running_max_into(x, r, &mut (Vec::new(), Vec::new()), &mut out);
    out
}

/// `out[i]` = max of `x[i - r ..= i + r]` (clipped to `x`), with `scratch` as working buffers: the maxima over
/// windows of 1, 2, 4, ... up to the largest power of two `p <= 2r + 1`, then two overlapping windows of `p` per
/// output. Each pass is a plain element-wise maximum that the compiler vectorises (the van Herk / Gil-Werman
/// scheme it replaced, with two running maxima, ran one element at a time: 14 % of the fingerprinting's time,
/// now the same numbers).
fn running_max_into(x: &[f32], r: usize, scratch: &mut (Vec<f32>, Vec<f32>), out: &mut Vec<f32>) {
    let w = 2 * r + 1;
    let (cur, next) = scratch;
    cur.clear();
    cur.resize(r, f32::NEG_INFINITY);
    cur.extend_from_slice(x);
    cur.resize(x.len() + 2 * r, f32::NEG_INFINITY);
    let mut have = 1;
    // cur[i] = max of the padded input over [i, i + have).
    while have * 2 <= w {
        next.clear();
        next.extend(cur.iter().zip(&cur[have..]).map(|(a, b)| a.max(*b)));
        std::mem::swap(cur, next);
        have *= 2;
    }
    out.clear();
    out.extend(
        cur.iter()
            .zip(&cur[w - have..])
            .take(x.len())
            .map(|(a, b)| a.max(*b)),
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn candidates_are_the_bins_a_branch_per_bin_keeps_in_order() {
        // Values on a coarse grid, so that ties with the maxima are common; a NaN and zeros too.
        let mut values: Vec<f32> = noise(7, BINS, 4.0).iter().map(|x| x.round()).collect();
        let maxima: Vec<f32> = noise(8, BINS, 4.0).iter().map(|x| x.round()).collect();
        values[100] = f32::NAN;
        values[MIN_BIN] = 0.0;
        let floor = -1.0;
        let keeps: [&dyn Fn(f32, f32) -> bool; 2] = [
            &|v: f32, m: f32| !(v < floor || v < m),
            &|v: f32, m: f32| !(v <= 0.0 || v < m),
        ];
        for keep in keeps {
            let naive: Vec<u16> = (MIN_BIN..BINS)
                .filter(|&b| keep(values[b], maxima[b]))
                .map(|b| b as u16)
                .collect();
            let mut out = [0u16; BINS];
            let n = candidates(&values, &maxima, keep, &mut out);
            assert_eq!(&out[..n], &naive[..]);
            assert!(n > 10 && n < BINS - MIN_BIN, "{n}");
        }
    }

    /// Seeded uniform noise in `-amp..amp` (also used by `refine`'s tests).
    pub(crate) fn noise(seed: u64, n: usize, amp: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * amp
            })
            .collect()
    }

    /// A melody of plucked tones (a new pitch every 120 ms, each decaying), `secs` long.
    pub(crate) fn melody(secs: f64, seed: u64) -> Vec<f32> {
        let n = (secs * RATE as f64) as usize;
        let note = (0.12 * RATE as f64) as usize;
        let mut s = seed;
        let mut f = 440.0f32;
        let mut phase = 0.0f32;
        (0..n)
            .map(|i| {
                if i % note == 0 {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                    f = 200.0 + ((s >> 33) % 3000) as f32;
                }
                phase += 2.0 * std::f32::consts::PI * f / RATE as f32;
                let t = (i % note) as f32 / RATE as f32;
                0.5 * (-t / 0.04).exp() * phase.sin()
            })
            .collect()
    }

    #[test]
    fn running_max_matches_the_naive_one() {
        for n in [0, 1, 5, 300] {
            let x = noise(3, n, 1.0);
            for r in [0, 1, 2, 3, 4, 7, 10, 16, 200, 400] {
                let got = running_max(&x, r);
                assert_eq!(got.len(), n);
                for (i, g) in got.iter().enumerate() {
                    let lo = i.saturating_sub(r);
                    let hi = (i + r).min(n - 1);
                    let want = x[lo..=hi].iter().cloned().fold(f32::MIN, f32::max);
                    assert_eq!(*g, want, "n {n} r {r} i {i}");
                }
            }
        }
    }

    #[test]
    fn a_tone_peaks_at_its_bin_and_gain_does_not_move_peaks() {
        // 1 kHz for 1 s after 0.5 s of silence: its peaks lie at bin 1000 / 21.5 = 46.4 (46 or 47), from about
        // frame 46 (the onset, less half a window) to the end of the tone.
        let mut x = vec![0.0f32; RATE as usize / 2];
        x.extend(
            (0..RATE as usize).map(|i| {
                0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / RATE as f32).sin()
            }),
        );
        let p = peaks(&x);
        assert!(!p.is_empty());
        for q in &p {
            assert!((46..=47).contains(&q.bin), "{q:?}");
            assert!(q.frame >= 44 && q.frame <= 150, "{q:?}");
        }
        // Gain does not move the peaks of plucked notes (a steady tone's plateau peaks at whichever frame its
        // rounding favours, so they can move there).
        let m = melody(2.0, 4);
        let quiet: Vec<f32> = m.iter().map(|s| s * 0.25).collect();
        assert_eq!(peaks(&quiet), peaks(&m), "12 dB quieter: the same peaks");
        assert!(peaks(&vec![0.0; RATE as usize]).is_empty(), "silence");
    }

    #[test]
    fn peaks_are_spaced_by_their_neighbourhood() {
        let p = peaks(&noise(5, 3 * RATE as usize, 0.3));
        // A peak's neighbourhood holds no other peak.
        assert!(p.len() > 100, "{}", p.len());
        for (i, a) in p.iter().enumerate() {
            for b in &p[i + 1..] {
                if b.frame - a.frame > PEAK_FRAMES as u32 {
                    break;
                }
                assert!(
                    (a.bin as i32 - b.bin as i32).unsigned_abs() as usize > PEAK_BINS,
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn hashes_pack_their_parts_and_pairs_respect_the_target_zone() {
        assert_eq!(hash(46, 50, 7), (46 << 14) | (68 << 7) | 7);
        assert_ne!(hash(46, 50, 7), hash(46, 42, 7));
        let peaks = [
            Peak { frame: 0, bin: 10 },
            Peak { frame: 5, bin: 20 },
            Peak { frame: 5, bin: 200 },
            Peak { frame: 70, bin: 12 },
        ];
        let l = pair(&peaks);
        // (0,10)-(5,20) only: (5,200) is too far in frequency, (70,12) too late; (5,20)-(5,200) is simultaneous.
        assert_eq!(
            l,
            vec![Landmark {
                hash: hash(10, 20, 5),
                frame: 0,
                dt: 5
            }]
        );
    }

    #[test]
    fn the_same_audio_shares_most_hashes_at_one_offset() {
        let m = melody(3.0, 9);
        let mut a = noise(1, 2 * RATE as usize, 0.02);
        a.extend(&m);
        let mut b = noise(2, 5 * RATE as usize, 0.02);
        b.extend(m.iter().map(|s| s * 0.5));
        let (la, lb) = (landmarks(&a), landmarks(&b));
        let set: std::collections::HashMap<u32, Vec<u32>> =
            la.iter().fold(Default::default(), |mut m, l| {
                m.entry(l.hash).or_insert_with(Vec::new).push(l.frame);
                m
            });
        let want = ((3.0 * FRAME_RATE).round()) as i64;
        let agree = lb
            .iter()
            .filter(|l| {
                set.get(&l.hash).is_some_and(|fs| {
                    fs.iter()
                        .any(|&f| (l.frame as i64 - f as i64 - want).abs() <= 1)
                })
            })
            .count();
        let in_motif = lb
            .iter()
            .filter(|l| frame_seconds(l.frame) >= 5.0 && frame_seconds(l.frame) < 7.8)
            .count();
        assert!(in_motif > 30, "{in_motif}");
        assert!(
            agree * 2 >= in_motif,
            "{agree} of {in_motif}, {} {}",
            la.len(),
            lb.len()
        );
    }

    /// Two tones (480 + 620 Hz) switched on for 0.5 s every second, three times, after 1 s of quiet noise.
    fn busy_tone(gain: f32, background: &[f32]) -> Vec<f32> {
        let rate = RATE as usize;
        let mut x = vec![0.0f32; rate];
        x.extend((0..3 * rate).map(|i| {
            let t = i as f32 / rate as f32;
            if t.fract() < 0.5 {
                let w = 2.0 * std::f32::consts::PI * t;
                gain * 0.25 * ((480.0 * w).sin() + (620.0 * w).sin())
            } else {
                0.0
            }
        }));
        x.extend(vec![0.0; rate]);
        x.iter_mut().zip(background).for_each(|(a, b)| *a += b);
        x
    }

    #[test]
    fn a_beep_patterns_events_are_its_switches_whatever_the_gain_or_background() {
        let n = 5 * RATE as usize;
        let quiet = noise(3, n, 0.01);
        let got = events(&busy_tone(1.0, &quiet));
        // On at 1.0, 2.0, 3.0 s and off at 1.5, 2.5, 3.5 s (the frame whose window is centred on the switch, less
        // half a window: 100 - 2), in both tones' bins (480 / 21.5 = 22, 620 / 21.5 = 29); nothing in the noise.
        let want: Vec<Event> = [98u32, 149, 199, 249, 299, 349]
            .iter()
            .enumerate()
            .flat_map(|(i, &frame)| {
                [22u16, 29].map(|bin| Event {
                    frame,
                    bin,
                    on: i % 2 == 0,
                })
            })
            .collect();
        assert_eq!(got, want);
        // 10 dB quieter: the same events. Over a melody 14 dB below: each still there within a frame.
        assert_eq!(events(&busy_tone(0.316, &noise(3, n, 0.00316))), want);
        let bed: Vec<f32> = melody(5.0, 8).iter().map(|s| s * 0.1).collect();
        let over = events(&busy_tone(1.0, &bed));
        for w in &want {
            assert!(
                over.iter()
                    .any(|e| e.on == w.on && e.bin == w.bin && e.frame.abs_diff(w.frame) <= 1),
                "{w:?} not in {over:?}"
            );
        }
        // Paired, over the melody too, each switch with the tone's next switches in its own bin (the melody's
        // events would crowd them out of the first FANOUT).
        let tone: Vec<(u32, u32)> = pair_events(&want).iter().map(|l| (l.hash, l.dt)).collect();
        let got_over: Vec<(u32, u32)> = pair_events(&over).iter().map(|l| (l.hash, l.dt)).collect();
        let kept = tone.iter().filter(|t| got_over.contains(t)).count();
        assert!(
            kept * 2 >= tone.len(),
            "{kept} of {} tone pairs over the melody",
            tone.len()
        );
        // Paired into landmarks of their own hash space.
        let l = pair_events(&got);
        assert!(l.len() >= 30, "{l:?}");
        assert!(l.iter().all(|l| l.hash >> 31 == 1));
        assert!(landmarks(&busy_tone(1.0, &quiet))
            .iter()
            .any(|l| l.hash >> 31 == 1));
    }
}
