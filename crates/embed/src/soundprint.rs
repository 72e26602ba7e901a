//! Sound prints: a compact, model-independent audio fingerprint that confirms near-duplicates.
//!
//! A [`SoundPrint`] is the band-energy envelope of a file's sound with its leading and trailing silence trimmed:
//! [`BANDS`] log-spaced bands between [`F_LO`] and [`F_HI`] Hz (low bands only, so that an 8 kHz low-pass or a
//! 16 kHz round trip changes nothing), one frame every 10 ms (window 40 ms, Hann), in decibels relative to the
//! loudest cell and floored [`FLOOR_DB`] below it (so that gain and normalisation change nothing), quantised to a
//! quarter decibel in one byte per cell. It keeps two views:
//!
//! - `fine`: the first [`FINE_FRAMES`] frames (3 s) at 100 frames/s, for short sounds;
//! - `coarse`: the whole trimmed sound at 10 frames/s (power mean of 10 fine frames), up to [`COARSE_FRAMES`]
//!   (one hour), for long ones.
//!
//! The first frame of a print ends one hop into the file (the frames start a window less one hop before the first
//! sample), so a sound that starts at once prints exactly like the same sound after added silence.
//!
//! [`compare`] aligns two prints over a time lag (trims, fades), a time scale of +-6 % ([`SCALES`]: stretch,
//! speed), a band shift of +-1 semitone ([`SHIFTS`]: pitch) and, for short sounds, half-frame offsets, and
//! returns the best score with the alignment (offsets in each file). The score is a level-weighted Pearson's r
//! of the aligned cells less each frame's and each band's mean (how the spectrum changes over time, not the
//! loudness envelope or the average spectrum that look-alikes share), with both prints floored
//! [`COMPARE_FLOOR_DB`] below the louder of the two on a common scale (noise at 30 dB, a codec's floor, a
//! fade's quiet end or a trimmed attack then change little), and an alignment must hold most of each print's
//! level ([`MIN_COVERAGE`], [`MIN_COVERAGE_LONGER`]).
//!
//! A third view, `detail`, keeps the power spectrum of each 100 ms of the first 3 s in half-semitone bins
//! ([`DETAIL_BINS`] from [`DETAIL_LO`] Hz, a 160 ms FFT every 50 ms). Over the alignment found, [`detail_score`]
//! correlates the two sounds' resonances (their average spectral shape less its trend) over pitch shifts of up to
//! 1.25 semitones, and the score is capped by that agreement ([`detail_cap`]): two strokes of one drum share their
//! band envelope, not their resonances; a pitch-shifted copy keeps them, moved together. Edited copies of one recording keep the fine
//! spectro-temporal detail and score close to 1; a second take of the same drum does not. Last, the speckle view
//! ([`crate::speckle`]: the onset's texture) caps the score of two one-shots ([`speckle_cap`]: a second take of a
//! noise-like stroke has another texture) and lifts a pair whose band score reaches [`SPECKLE_RESCUE_FROM`], whose detail views agree
//! ([`SPECKLE_RESCUE_DETAIL`]) and whose textures agree
//! as closely as an edited copy's ([`speckle_lift`]: fades, trims, codecs, a semitone that the bands doubt). The
//! wave view ([`crate::wave`]: the onset's waveform, band-limited to 1.5 kHz) lifts a pair of comparable lengths
//! whose waveforms agree sample for sample as an edited copy's do ([`wave_lift`]: a trim or a fade over a kick's
//! attack, a codec, a limiter, added noise), whatever the spectral views say. The print depends only on the
//! decoded audio, never on the embedding model.

use realfft::RealFftPlanner;

use crate::speckle::{
    speckle_r, speckle_view, SpeckleAlignment, SPECKLE_FRAMES, SPECKLE_PER_SEMITONE,
    SPECKLE_WINDOW_S,
};

/// The version of what the printer computes: a change to any byte of any print makes a new version (the index's
/// print log, `avx_core::prints`, stores it and starts again on another), and `tests/golden/prints.txt` holds the
/// prints of the committed test audio for it (`crates/embed/tests/print_golden.rs`).
pub const PRINT_VERSION: u32 = 6;

/// Frequency bands of a print.
pub const BANDS: usize = 16;
/// Lowest band edge, Hz.
pub const F_LO: f32 = 100.0;
/// Highest band edge, Hz (below an 8 kHz low-pass and the 16 kHz rate's Nyquist frequency).
pub const F_HI: f32 = 6000.0;
/// Fine frames per second.
pub const FINE_RATE: f32 = 100.0;
/// Fine frames kept (3 s).
pub const FINE_FRAMES: usize = 300;
/// Fine frames per coarse frame.
pub const COARSE_EVERY: usize = 10;
/// Coarse frames kept (one hour at 10 frames/s).
pub const COARSE_FRAMES: usize = 36_000;
/// Cells this far below the loudest cell are floored, dB.
pub const FLOOR_DB: f32 = 45.0;
/// Frames whose energy is this far below the loudest frame's count as silence at the ends, dB.
pub const SILENCE_DB: f32 = 35.0;
/// Quantisation steps per dB.
const STEPS_PER_DB: f32 = 4.0;
/// Time scales searched (stretch up to 5 %, speed up to 1 semitone, 5.9 %).
pub const SCALES: [f32; 7] = [0.94, 0.96, 0.98, 1.0, 1.02, 1.04, 1.06];
/// Band shifts searched, in bands (one band is log2(60)/16 octaves, 4.4 semitones: 0.23 band is one semitone).
pub const SHIFTS: [f32; 3] = [-0.23, 0.0, 0.23];
/// Sounds whose trimmed length is at most this many fine frames are compared on the fine view.
const FINE_COMPARE_MAX: usize = FINE_FRAMES;
/// Bins of the detail view: half a semitone each, from [`DETAIL_LO`] Hz up (to 6.05 kHz).
pub const DETAIL_BINS: usize = 128;
/// Lowest edge of the detail view, Hz.
pub const DETAIL_LO: f32 = 150.0;
/// Detail bins per semitone.
pub const DETAIL_PER_SEMITONE: f32 = 2.0;
/// Detail rows kept: one per coarse frame (100 ms) of the first [`FINE_FRAMES`] fine frames.
pub const DETAIL_ROWS: usize = FINE_FRAMES / COARSE_EVERY;
/// Fine hops per detail hop (50 ms) and per detail window (160 ms: about 12 Hz of resolution).
const DETAIL_HOP: usize = 5;
const DETAIL_WINDOW: usize = 16;
/// Detail frames kept while printing (the first ten minutes of the file; later audio has no detail view, and a
/// sound that starts after it is confirmed by its band print alone).
const DETAIL_MAX_FRAMES: usize = 10 * 60 * 20;

/// A file's sound print (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct SoundPrint {
    /// Seconds of leading silence trimmed.
    pub lead_s: f32,
    /// Trimmed length in fine frames (may exceed what `fine` and `coarse` keep).
    pub frames: u32,
    /// `min(frames, FINE_FRAMES)` frames of `BANDS` cells, frame-major.
    pub fine: Vec<u8>,
    /// `ceil(frames / COARSE_EVERY)` frames (at most `COARSE_FRAMES`) of `BANDS` cells, frame-major.
    pub coarse: Vec<u8>,
    /// The detail view: `min(ceil(frames / COARSE_EVERY), DETAIL_ROWS)` rows of [`DETAIL_BINS`] cells (half-semitone
    /// power spectrum of each 100 ms of the trimmed sound's first 3 s, quantised like the bands), row-major. Empty
    /// when the sound starts after the first ten minutes of the file.
    pub detail: Vec<u8>,
    /// The speckle view ([`crate::speckle`]): [`SPECKLE_FRAMES`] rows of [`crate::speckle::SPECKLE_BINS`] cells from the onset.
    /// Empty when the sound starts after the first [`SPECKLE_HEAD_S`] seconds of the file or the rate is below
    /// 12 kHz.
    pub speckle: Vec<u8>,
    /// The wave view ([`crate::wave`]): [`crate::wave::WAVE_LEN`] mu-law samples at [`crate::wave::WAVE_RATE`] Hz
    /// from just before the onset. Empty when its second reaches past the first [`SPECKLE_HEAD_S`] seconds of a
    /// longer file (the sound starts after 9 s), the rate is below 8 kHz or the view is silent.
    pub wave: Vec<u8>,
}

impl SoundPrint {
    /// Trimmed length in seconds.
    pub fn duration_s(&self) -> f32 {
        self.frames as f32 / FINE_RATE
    }
}

/// Builds a [`SoundPrint`] from mono samples pushed in chunks of any size.
pub struct SoundPrinter {
    rate: u32,
    /// Band energies of 40 ms frames every fine hop.
    bands: Framer<BANDS>,
    /// The detail view's own, longer FFT over the same samples ([`DETAIL_WINDOW`] fine hops, every [`DETAIL_HOP`]);
    /// frame `d` is centred on the file's sample `d * DETAIL_HOP * hop`.
    detail: Framer<DETAIL_BINS>,
    /// The file's first [`SPECKLE_HEAD_S`] seconds of samples, for the speckle view.
    head: Vec<f32>,
}

/// Seconds of a file kept for the speckle and wave views: a sound that starts later has neither.
pub const SPECKLE_HEAD_S: f32 = 10.0;

thread_local! {
    /// The last finished printer's `head` on this thread, emptied, for the next printer. A decoder thread prints
    /// file after file, and the head of a 10 s file is 1.7 MB at 44.1 kHz: allocated anew for each file, it was
    /// grown by copying and its pages faulted in afresh every time (half of the printer's page faults and most of
    /// its memory traffic, `perf` on `fe_profile --prints`).
    static SPARE_HEAD: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Drop for SoundPrinter {
    fn drop(&mut self) {
        let mut head = std::mem::take(&mut self.head);
        head.clear();
        // A thread that is ending has no next printer.
        let _ = SPARE_HEAD.try_with(|spare| {
            let kept = spare.take();
            spare.set(if kept.capacity() > head.capacity() {
                kept
            } else {
                head
            });
        });
    }
}

/// Band powers of Hann-windowed frames, one every `hop` samples, from samples pushed in chunks of any size; at
/// most `max` frames are kept (later audio is ignored).
struct Framer<const B: usize> {
    hop: usize,
    win: Vec<f32>,
    fft: std::sync::Arc<dyn realfft::RealToComplex<f32>>,
    /// (FFT bin, band, share of the bin's energy in the band) for every bin that overlaps a band.
    bin_band: Vec<(usize, usize, f32)>,
    pending: Vec<f32>,
    /// Band powers per frame.
    frames: Vec<[f32; B]>,
    max: usize,
    input: Vec<f32>,
    spectrum: Vec<realfft::num_complex::Complex<f32>>,
}

/// (FFT bin, band, share of the bin's width in the band) for an FFT of `n` points at `rate` Hz and band `edges`.
pub(crate) fn bin_bands(rate: u32, n: usize, edges: &[f32]) -> Vec<(usize, usize, f32)> {
    // Each bin spans its own width around its frequency and gives each band the share of it that the band
    // covers, so that a band edge between two bins, or a band narrower than a bin (the lowest, at low rates),
    // gets a smooth, rate-independent share instead of all or nothing.
    let df = rate as f32 / n as f32;
    let mut out = Vec::new();
    let bands = edges.len().saturating_sub(1);
    // Edges in ascending order (every caller's): each bin overlaps a run of bands that moves up with the bin, so
    // the scan skips the bands wholly below the bin and stops at the first wholly above it, O(bins + bands)
    // rather than O(bins × bands), with the same shares in the same order.
    let ascending = edges.windows(2).all(|e| e[0] <= e[1]);
    let mut first = 0;
    for k in 0..n / 2 + 1 {
        let (lo, hi) = ((k as f32 - 0.5) * df, (k as f32 + 0.5) * df);
        if ascending {
            while first < bands && edges[first + 1] <= lo {
                first += 1;
            }
        }
        for b in first..bands {
            let e = &edges[b..b + 2];
            if ascending && e[0] >= hi {
                break;
            }
            let o = hi.min(e[1]) - lo.max(e[0]);
            if o > 0.0 {
                out.push((k, b, o / df));
            }
        }
    }
    out
}

/// A Hann window of `wlen` samples.
pub(crate) fn hann(wlen: usize) -> Vec<f32> {
    (0..wlen)
        .map(|i| {
            let x = std::f32::consts::PI * (i as f32 + 0.5) / wlen as f32;
            x.sin() * x.sin()
        })
        .collect()
}

/// Windows `src` into `input` (zero-padded, non-finite samples as silence), transforms it and adds each bin's
/// power to its bands in `out`.
pub(crate) fn band_powers(
    fft: &dyn realfft::RealToComplex<f32>,
    win: &[f32],
    src: &[f32],
    input: &mut [f32],
    spectrum: &mut [realfft::num_complex::Complex<f32>],
    bin_band: &[(usize, usize, f32)],
    out: &mut [f32],
) {
    // Straight-line loops over equal lengths (the compiler vectorises them): the windowed samples, then zeros.
    // A non-finite sample is masked to 0.0 by its bits rather than by a branch, which kept the loop scalar: the
    // same values, bit for bit (a finite sample times a window value of at most 1 is finite).
    let m = src.len().min(win.len()).min(input.len());
    for ((x, &s), &w) in input[..m].iter_mut().zip(&src[..m]).zip(&win[..m]) {
        let finite = (s.to_bits() & 0x7fff_ffff) < 0x7f80_0000;
        *x = f32::from_bits((s * w).to_bits() & (finite as u32).wrapping_neg());
    }
    input[m..].fill(0.0);
    if fft.process(input, spectrum).is_ok() {
        // The entries come bin by bin, and a band's run together: its sum stays in a register over the run
        // (the same additions in the same order as adding into `out` one by one, without a store and a reload
        // between them).
        let mut run: Option<(usize, f32)> = None;
        for &(k, b, w) in bin_band {
            let acc = match run {
                Some((rb, acc)) if rb == b => acc,
                Some((rb, acc)) => {
                    out[rb] = acc;
                    out[b]
                }
                None => out[b],
            };
            run = Some((b, acc + w * spectrum[k].norm_sqr()));
        }
        if let Some((b, acc)) = run {
            out[b] = acc;
        }
    }
}

impl<const B: usize> Framer<B> {
    /// Frames of `wlen` samples at `rate` Hz, `hop` apart, over the `B` bands between `edges`, the first one
    /// starting `lead` samples of silence before the first sample.
    fn new(rate: u32, wlen: usize, hop: usize, edges: &[f32], lead: usize, max: usize) -> Self {
        let n = wlen.next_power_of_two();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
        Framer {
            hop,
            win: hann(wlen),
            bin_band: bin_bands(rate, n, edges),
            pending: vec![0.0; lead],
            frames: Vec::new(),
            max,
            spectrum: fft.make_output_vec(),
            input: vec![0.0; n],
            fft,
        }
    }

    fn full(&self) -> bool {
        self.frames.len() >= self.max
    }

    /// Adds samples and frames every whole window.
    fn push(&mut self, samples: &[f32]) {
        if self.full() {
            return;
        }
        self.pending.extend_from_slice(samples);
        let wlen = self.win.len();
        let mut at = 0;
        while at + wlen <= self.pending.len() && !self.full() {
            self.frame(at);
            at += self.hop;
        }
        self.pending.drain(..at.min(self.pending.len()));
    }

    fn frame(&mut self, at: usize) {
        let wlen = self.win.len();
        let mut e = [0f32; B];
        band_powers(
            &*self.fft,
            &self.win,
            &self.pending[at..at + wlen],
            &mut self.input,
            &mut self.spectrum,
            &self.bin_band,
            &mut e,
        );
        self.frames.push(e);
    }
}

impl std::fmt::Debug for SoundPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoundPrinter")
            .field("rate", &self.rate)
            .field("frames", &self.bands.frames.len())
            .finish_non_exhaustive()
    }
}

/// Frames kept while printing (two hours); later audio is ignored.
const MAX_FRAMES: usize = 2 * 3600 * 100;

impl SoundPrinter {
    /// A printer for audio at `rate` Hz (any rate of 8 kHz or more gives comparable prints).
    pub fn new(rate: u32) -> SoundPrinter {
        let rate = rate.max(1);
        let hop = ((rate as f32 / FINE_RATE).round() as usize).max(1);
        let wlen = 4 * hop;
        let edges: Vec<f32> = (0..=BANDS)
            .map(|b| F_LO * (F_HI / F_LO).powf(b as f32 / BANDS as f32))
            .collect();
        let detail_wlen = DETAIL_WINDOW * hop;
        let detail_edges: Vec<f32> = (0..=DETAIL_BINS)
            .map(|b| DETAIL_LO * 2f32.powf(b as f32 / (12.0 * DETAIL_PER_SEMITONE)))
            .collect();
        SoundPrinter {
            rate,
            // Silence before the first sample, so that a sound starting at once gets the same frames over its
            // onset as the same sound after added silence (the first frame ends one hop into the sound).
            bands: Framer::new(rate, wlen, hop, &edges, wlen - hop, MAX_FRAMES),
            // Half a window of silence first: detail frame `d` is centred on sample `d * DETAIL_HOP * hop`.
            detail: Framer::new(
                rate,
                detail_wlen,
                DETAIL_HOP * hop,
                &detail_edges,
                detail_wlen / 2,
                DETAIL_MAX_FRAMES,
            ),
            head: SPARE_HEAD.take(),
        }
    }

    /// The sample rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Adds samples.
    pub fn push(&mut self, samples: &[f32]) {
        if self.bands.full() {
            return;
        }
        self.detail.push(samples);
        self.bands.push(samples);
        let room = (SPECKLE_HEAD_S * self.rate as f32) as usize
            - self
                .head
                .len()
                .min((SPECKLE_HEAD_S * self.rate as f32) as usize);
        self.head
            .extend_from_slice(&samples[..room.min(samples.len())]);
    }

    /// The print of everything pushed (a sound shorter than one window is padded with silence).
    pub fn finish(mut self) -> SoundPrint {
        let b = &mut self.bands;
        if !b.pending.is_empty() || b.frames.is_empty() {
            let wlen = b.win.len();
            let tail = b.pending.len();
            b.pending.resize(tail + wlen, 0.0);
            let mut at = 0;
            while at < tail.max(1) && !b.full() {
                b.frame(at);
                at += b.hop;
            }
        }
        // The detail frames over the end of the sound.
        let pad = self.detail.win.len() / 2 + self.detail.hop;
        self.detail.push(&vec![0.0; pad]);
        let hop = self.bands.hop;
        let mut p = print_of(
            &self.bands.frames,
            &self.detail.frames,
            hop as f32 / self.rate as f32,
        );
        // The onset is in the last hop of the first loud frame, which starts `first` hops into the file.
        let onset = (p.lead_s * self.rate as f32 / hop as f32).round() as usize * hop;
        // A view is made when the samples it reads up to `end` are in the head, or the head is the whole file.
        let in_head = |end: usize| {
            end <= self.head.len() || self.head.len() < (SPECKLE_HEAD_S * self.rate as f32) as usize
        };
        let rate = self.rate as usize;
        if in_head(
            onset + (SPECKLE_FRAMES + 1) * hop + (SPECKLE_WINDOW_S * self.rate as f32) as usize,
        ) {
            p.speckle = speckle_view(&self.head, self.rate, onset, hop);
        }
        if in_head(onset + crate::wave::WAVE_S * rate) {
            p.wave = crate::wave::wave_view(&self.head, self.rate, onset);
        }
        p
    }
}

/// The print of per-frame band energies (`hop_s` seconds apart) and detail frames (one every [`DETAIL_HOP`]
/// fine frames, frame `d` centred where fine frame `DETAIL_HOP * d + 1`'s window is).
fn print_of(energies: &[[f32; BANDS]], detail: &[[f32; DETAIL_BINS]], hop_s: f32) -> SoundPrint {
    let total: Vec<f32> = energies.iter().map(|e| e.iter().sum()).collect();
    let peak = total.iter().copied().fold(0.0, f32::max);
    let (first, last) = if peak > 0.0 {
        let gate = peak * 10f32.powf(-SILENCE_DB / 10.0);
        let first = total.iter().position(|&t| t >= gate).unwrap_or(0);
        let last = total.iter().rposition(|&t| t >= gate).unwrap_or(0);
        (first, without_end_bursts(&total, gate, first, last))
    } else {
        (0, 0)
    };
    let kept = &energies[first..=last.max(first).min(energies.len().saturating_sub(1))];
    let coarse_e: Vec<[f32; BANDS]> = kept
        .chunks(COARSE_EVERY)
        .take(COARSE_FRAMES)
        .map(|c| {
            let mut m = [0f32; BANDS];
            for e in c {
                for (m, e) in m.iter_mut().zip(e) {
                    *m += e / c.len() as f32;
                }
            }
            m
        })
        .collect();
    // The first loud frame is the first whose window reaches the onset: the onset is in its last hop, which
    // starts `first` hops into the file (the printer's frames start a window less one hop before it).
    // Detail row j: the detail frames centred within coarse frame j (fine frames first + 10 j .. + 10, whose
    // windows are centred one hop before their index).
    let rows = kept.len().div_ceil(COARSE_EVERY).min(DETAIL_ROWS);
    let detail_rows: Vec<[f32; DETAIL_BINS]> = if detail.is_empty() {
        Vec::new()
    } else {
        (0..rows)
            .map_while(|j| {
                let c0 = first + COARSE_EVERY * j;
                let (d0, d1) = (
                    (c0.saturating_sub(1)).div_ceil(DETAIL_HOP),
                    (c0 + COARSE_EVERY - 1).div_ceil(DETAIL_HOP),
                );
                let d1 = d1.max(d0 + 1).min(detail.len());
                (d0 < d1).then(|| {
                    let mut m = [0f32; DETAIL_BINS];
                    for e in &detail[d0..d1] {
                        for (m, e) in m.iter_mut().zip(e) {
                            *m += e / (d1 - d0) as f32;
                        }
                    }
                    m
                })
            })
            .collect()
    };
    SoundPrint {
        lead_s: first as f32 * hop_s,
        frames: kept.len() as u32,
        fine: quantise(kept[..kept.len().min(FINE_FRAMES)].as_flattened()),
        coarse: quantise(coarse_e.as_flattened()),
        detail: quantise(detail_rows.as_flattened()),
        speckle: Vec::new(),
        wave: Vec::new(),
    }
}

/// Loud runs of at most this many frames (one window: a click of a few samples) at the end of a sound...
const BURST_FRAMES: usize = 4;
/// ... after at least this many quiet frames are a decoder's or an editor's stray samples, not the sound.
const BURST_GAP: usize = 20;

/// `last` (the last frame at or above `gate`) moved before any short bursts that end the sound after a gap of
/// quiet frames (a decoder reading a few samples of a trailing chunk as audio; a click left by an editor): kept,
/// they would stretch the print's length by the gap and fail the length and coverage checks.
fn without_end_bursts(total: &[f32], gate: f32, first: usize, mut last: usize) -> usize {
    let loud = |t: usize| total[t] >= gate;
    loop {
        let mut s = last;
        while s > first && loud(s - 1) {
            s -= 1;
        }
        if s == first || last - s + 1 > BURST_FRAMES {
            return last;
        }
        let mut g = s;
        while g > first && !loud(g - 1) {
            g -= 1;
        }
        if s - g < BURST_GAP {
            return last;
        }
        last = g - 1;
    }
}

/// Decibels relative to the loudest cell, floored, in quarter-dB steps.
fn quantise(e: &[f32]) -> Vec<u8> {
    let db = |x: f32| 10.0 * (x.max(1e-20)).log10();
    let top = e.iter().copied().fold(0.0, f32::max);
    let floor = db(top) - FLOOR_DB;
    e.iter()
        .map(|&x| ((db(x) - floor).max(0.0) * STEPS_PER_DB).round().min(255.0) as u8)
        .collect()
}

/// How two prints align best.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// Pearson's r of the aligned cells, in [-1, 1] (0 when they cannot be aligned).
    pub score: f32,
    /// Where the matching span starts and ends in the first file, seconds.
    pub span_a: (f32, f32),
    /// Where it starts and ends in the second file, seconds.
    pub span_b: (f32, f32),
    /// The time stretch that makes the second file match the first (1.05: the second is about 5 % shorter).
    pub scale: f32,
    /// The detail views' agreement over the alignment ([`detail_score`]), when both prints have one and the band
    /// score is high enough to ask; `score` is then at most [`detail_cap`] of it.
    pub detail: Option<f32>,
    /// The pitch of the second file against the first, semitones, by the detail views (0 without them).
    pub pitch: f32,
    /// The speckle views' agreement at the alignment ([`crate::speckle::speckle_r`]), when both prints have one
    /// and the detail views were asked.
    pub speckle: Option<f32>,
    /// The wave views' agreement ([`crate::wave::wave_r`]), when both prints have one, the band score was high
    /// enough to ask the detail views and the two lengths are within [`WAVE_LENGTH_SHARE`] of each other.
    pub wave: Option<crate::wave::WaveMatch>,
}

impl Alignment {
    fn none() -> Alignment {
        Alignment {
            score: 0.0,
            span_a: (0.0, 0.0),
            span_b: (0.0, 0.0),
            scale: 1.0,
            detail: None,
            pitch: 0.0,
            speckle: None,
            wave: None,
        }
    }
}

/// A print view as f32 rows, frame-major.
struct View {
    cells: Vec<f32>,
    frames: usize,
    /// Seconds per frame.
    step: f32,
}

impl View {
    fn of(p: &SoundPrint) -> View {
        let fine = p.frames as usize <= FINE_COMPARE_MAX;
        let (bytes, step) = if fine {
            (&p.fine, 1.0 / FINE_RATE)
        } else {
            (&p.coarse, COARSE_EVERY as f32 / FINE_RATE)
        };
        View::raw(bytes, step)
    }

    fn raw(bytes: &[u8], step: f32) -> View {
        View {
            cells: bytes.iter().map(|&b| b as f32).collect(),
            frames: bytes.len() / BANDS,
            step,
        }
    }

    /// This view with time scaled by `scale` (frame `t` of the result is frame `t / scale + offset` of this one) and
    /// bands shifted by `shift` bands (linear interpolation, edges held).
    fn warped(&self, scale: f32, shift: f32, offset: f32) -> View {
        let frames = ((self.frames as f32 * scale).round() as usize).max(1);
        let mut cells = vec![0f32; frames * BANDS];
        let at = |t: usize, b: usize| self.cells[t * BANDS + b];
        for t in 0..frames {
            let src = (t as f32 / scale + offset).min((self.frames - 1) as f32);
            let (t0, ft) = (src.floor() as usize, src.fract());
            let t1 = (t0 + 1).min(self.frames - 1);
            for b in 0..BANDS {
                let sb = (b as f32 - shift).clamp(0.0, (BANDS - 1) as f32);
                let (b0, fb) = (sb.floor() as usize, sb.fract());
                let b1 = (b0 + 1).min(BANDS - 1);
                let v0 = at(t0, b0) * (1.0 - fb) + at(t0, b1) * fb;
                let v1 = at(t1, b0) * (1.0 - fb) + at(t1, b1) * fb;
                cells[t * BANDS + b] = v0 * (1.0 - ft) + v1 * ft;
            }
        }
        View {
            cells,
            frames,
            step: self.step,
        }
    }
}

/// Cells more than this far below the print's loudest cell are raised to it when comparing, dB: what lies
/// below is where noise at 30 dB below the sound, a codec's noise floor or a limiter's distortion decides the
/// value, not the sound.
pub const COMPARE_FLOOR_DB: f32 = 30.0;
/// The overlap of an alignment must hold at least this share of the level-weighted length of one print (the
/// shorter, contained copy)...
pub const MIN_COVERAGE: f32 = 0.85;
/// ... and this share of the other's (a trim removes the start; added noise or a click extends the gated end).
pub const MIN_COVERAGE_LONGER: f32 = 0.5;

/// A view ready to compare: its cells, and each frame's level in [0, 1] (0: [`COMPARE_FLOOR_DB`] or more below
/// the print's loudest cell, 1: the loudest frame), which weighs frames in the lag search and the coverage.
struct Shape {
    cells: Vec<f32>,
    /// Loudest cell of each frame.
    top: Vec<f32>,
    level: Vec<f32>,
    /// Each frame's spectral outline: the mean of [`OUTLINE`] groups of bands (floored at the compare floor),
    /// less their mean, for the lag pre-search.
    outline: Vec<f32>,
    frames: usize,
}

/// [`COMPARE_FLOOR_DB`] in quantisation steps.
fn compare_range() -> f32 {
    COMPARE_FLOOR_DB * STEPS_PER_DB
}

impl Shape {
    fn of(v: &View) -> Shape {
        let loudest = FLOOR_DB * STEPS_PER_DB;
        let range = compare_range();
        let top: Vec<f32> = v
            .cells
            .chunks(BANDS)
            .map(|f| f.iter().copied().fold(0.0, f32::max))
            .collect();
        let level: Vec<f32> = top
            .iter()
            .map(|t| ((t - (loudest - range)) / range).clamp(0.0, 1.0))
            .collect();
        let floor = loudest - range;
        let mut outline = Vec::with_capacity(v.frames * OUTLINE);
        for f in v.cells.chunks(BANDS) {
            let g: Vec<f32> = f
                .chunks(BANDS / OUTLINE)
                .map(|c| c.iter().map(|x| x.max(floor)).sum::<f32>() / c.len() as f32)
                .collect();
            let m = g.iter().sum::<f32>() / OUTLINE as f32;
            outline.extend(g.iter().map(|x| x - m));
        }
        Shape {
            cells: v.cells.clone(),
            top,
            level,
            outline,
            frames: v.frames,
        }
    }
}

/// Band groups of a [`Shape`]'s outline.
const OUTLINE: usize = 4;

/// Pearson's r of `a` against `b` (plain, unweighted).
#[cfg(test)]
fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    if n < 2.0 {
        return 0.0;
    }
    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0f32, 0f32, 0f32, 0f32, 0f32);
    for (&x, &y) in a.iter().zip(b) {
        sa += x;
        sb += y;
        saa += x * x;
        sbb += y * y;
        sab += x * y;
    }
    let cov = sab - sa * sb / n;
    let va = saa - sa * sa / n;
    let vb = sbb - sb * sb / n;
    if va <= 1e-6 || vb <= 1e-6 {
        // A flat print (one frame of one level) matches only an equally flat one.
        return if va <= 1e-6 && vb <= 1e-6 { 1.0 } else { 0.0 };
    }
    (cov / (va * vb).sqrt()).clamp(-1.0, 1.0)
}

/// Weighted sums for a weighted Pearson's r: total weight and the weighted sums of x, y, x², y² and xy.
#[derive(Default)]
pub(crate) struct Moments {
    pub(crate) s: f32,
    sa: f32,
    sb: f32,
    saa: f32,
    sbb: f32,
    sab: f32,
}

impl Moments {
    pub(crate) fn add(&mut self, w: f32, x: f32, y: f32) {
        self.s += w;
        self.sa += w * x;
        self.sb += w * y;
        self.saa += w * x * x;
        self.sbb += w * y * y;
        self.sab += w * x * y;
    }

    /// (covariance, variance of x, variance of y), each times the total weight.
    pub(crate) fn covariances(&self) -> (f32, f32, f32) {
        let s = self.s;
        (
            self.sab - self.sa * self.sb / s,
            self.saa - self.sa * self.sa / s,
            self.sbb - self.sb * self.sb / s,
        )
    }
}

/// Pearson's r of outlines `a` against `b` ([`OUTLINE`] values a frame), each frame weighted by the lower of its
/// two levels (`la`, `lb`), so that quiet, faded or trimmed frames do not decide the lag.
fn outline_r(a: &[f32], b: &[f32], la: &[f32], lb: &[f32]) -> f32 {
    let mut m = Moments::default();
    for ((fa, fb), (&wa, &wb)) in a
        .chunks(OUTLINE)
        .zip(b.chunks(OUTLINE))
        .zip(la.iter().zip(lb))
    {
        let w = wa.min(wb) + 1e-3;
        for (&x, &y) in fa.iter().zip(fb) {
            m.add(w, x, y);
        }
    }
    let (cov, va, vb) = m.covariances();
    if m.s <= 0.0 || va <= 1e-6 || vb <= 1e-6 {
        return 0.0;
    }
    cov / (va * vb).sqrt()
}

/// The score of an overlap (`len` frames from `sa` in `a`, from `sb` in `b`): a level-weighted Pearson's r of the
/// two blocks of cells, on a common floor, after removing each frame's mean (the loudness envelope, which
/// look-alikes share: a decaying hit decays in every take) and each band's mean (the average spectral shape,
/// shared by every kick drum). What is left is how the spectrum changes over time.
///
/// Each print is relative to its own loudest cell, so a trimmed attack or a fade moves one print's scale: the
/// level difference of the two blocks is measured on their loud frames first, and both are floored at
/// [`COMPARE_FLOOR_DB`] below the louder of the two, in common units (what lies below is where added noise, a
/// codec or a fade decides, not the sound). Each frame weighs the lower of its two levels, so that faded,
/// trimmed or noise-covered quiet frames count little.
fn interaction(a: &Shape, sa: usize, b: &Shape, sb: usize, len: usize) -> Option<f32> {
    let xa = &a.cells[sa * BANDS..(sa + len) * BANDS];
    let xb = &b.cells[sb * BANDS..(sb + len) * BANDS];
    let (ta, tb) = (&a.top[sa..sa + len], &b.top[sb..sb + len]);
    // b's offset above a (steps), from the frames loud in both.
    let (mut num, mut den) = (0f32, 0f32);
    for t in 0..len {
        let w = a.level[sa + t].min(b.level[sb + t]).powi(4);
        num += w * (tb[t] - ta[t]);
        den += w;
    }
    let d = if den > 0.0 { num / den } else { 0.0 };
    let loudest = FLOOR_DB * STEPS_PER_DB;
    let range = compare_range();
    // The common floor in a's units; b's floor is `fa + d` in its own.
    let fa = loudest.max(loudest - d) - range;
    let fb = fa + d;
    // How much of each print the overlap holds, by level in common units: a tail that one print's own gate kept
    // and the other's cut off lies near the common floor and counts little.
    let share = |x: &Shape, floor: f32, from: usize| {
        let lv = |t: &f32| ((t - floor) / range).clamp(0.0, 1.0);
        let all: f32 = x.top.iter().map(lv).sum();
        let inside: f32 = x.top[from..from + len].iter().map(lv).sum();
        if all > 0.0 {
            inside / all
        } else {
            0.0
        }
    };
    let (ca, cb) = (share(a, fa, sa), share(b, fb, sb));
    if ca.max(cb) < MIN_COVERAGE || ca.min(cb) < MIN_COVERAGE_LONGER {
        return None;
    }
    let mut w = vec![0f32; len];
    let mut ca = vec![0f32; len * BANDS];
    let mut cb = vec![0f32; len * BANDS];
    for t in 0..len {
        w[t] = ((ta[t] - fa).min(tb[t] - fb) / range).max(0.0) + 1e-3;
        if sa + t < RAMP || sb + t < RAMP {
            // A window over the start of the file: an abrupt start (a trim) splatters across the bands.
            w[t] *= RAMP_WEIGHT;
        }
        for (out, x, floor) in [(&mut ca, xa, fa), (&mut cb, xb, fb)] {
            let row = &mut out[t * BANDS..(t + 1) * BANDS];
            let src = &x[t * BANDS..(t + 1) * BANDS];
            let mut m = 0.0;
            for (o, &v) in row.iter_mut().zip(src) {
                *o = v.max(floor);
                m += *o;
            }
            let m = m / BANDS as f32;
            row.iter_mut().for_each(|o| *o -= m);
        }
    }
    let total: f32 = w.iter().sum();
    let means = |x: &[f32]| {
        let mut m = [0f32; BANDS];
        if len >= 2 {
            for (f, &w) in x.chunks(BANDS).zip(&w) {
                for (m, v) in m.iter_mut().zip(f) {
                    *m += w * v / total;
                }
            }
        }
        m
    };
    let (ma, mb) = (means(&ca), means(&cb));
    let (mut sab, mut saa, mut sbb) = (0f32, 0f32, 0f32);
    for ((fa, fb), &w) in ca.chunks(BANDS).zip(cb.chunks(BANDS)).zip(&w) {
        for k in 0..BANDS {
            let (x, y) = (fa[k] - ma[k], fb[k] - mb[k]);
            sab += w * x * y;
            saa += w * x * x;
            sbb += w * y * y;
        }
    }
    if saa <= 1e-6 || sbb <= 1e-6 {
        return Some(if saa <= 1e-6 && sbb <= 1e-6 { 1.0 } else { 0.0 });
    }
    Some((sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0))
}

/// The overlap of `a` and `b` when `b` is delayed by `lag` frames: (start in a, start in b, frames).
pub(crate) fn overlap(fa: usize, fb: usize, lag: isize) -> (usize, usize, usize) {
    let (sa, sb) = if lag >= 0 {
        (lag as usize, 0)
    } else {
        (0, (-lag) as usize)
    };
    let len = fa.saturating_sub(sa).min(fb.saturating_sub(sb));
    (sa, sb, len)
}

/// The best alignment of two prints (see the [module documentation](self)). Symmetric: `compare(b, a)` has the
/// same score, with the spans swapped and the inverse scale. Prints of different length regimes (one short, one
/// long) are compared on the coarse view.
pub fn compare(a: &SoundPrint, b: &SoundPrint) -> Alignment {
    // One order for both calls: the second, longer print is the one warped.
    if (b.frames, &b.fine, &b.coarse) < (a.frames, &a.fine, &a.coarse) {
        let m = best_confirmed(b, a);
        return Alignment {
            score: m.score,
            span_a: m.span_b,
            span_b: m.span_a,
            scale: 1.0 / m.scale,
            detail: m.detail,
            pitch: -m.pitch,
            speckle: m.speckle,
            wave: m.wave.map(|w| crate::wave::WaveMatch {
                lag_s: -w.lag_s,
                ..w
            }),
        };
    }
    best_confirmed(a, b)
}

/// The best band alignment of `a` and `b` (in that order), confirmed; when a long print's best lies at a
/// half-frame offset, the best at whole frames is confirmed too and the higher confirmed score kept (the band
/// score's best is not always the one the detail and speckle views agree with best: a 45 s loop sped up by a
/// semitone scored 0.907 at whole frames and 0.886 at its half-frame best).
fn best_confirmed(a: &SoundPrint, b: &SoundPrint) -> Alignment {
    let (best, whole) = compare_ordered(a, b);
    let best = confirmed(a, b, best);
    match whole.map(|w| confirmed(a, b, w)) {
        Some(w) if w.score > best.score => w,
        _ => best,
    }
}

/// Band scores below this are not checked against the detail views (no threshold is this low).
const DETAIL_FROM: f32 = 0.5;

/// The detail r that caps the score at [`DEFAULT_THRESHOLD`]: a pair passes the default when its band score and
/// its detail both pass (and a stricter threshold asks more of both).
pub const DETAIL_AT_DEFAULT: f32 = 0.85;

/// The default print score threshold of `avx dupes` (eval/README.md, "Near-duplicates").
pub const DEFAULT_THRESHOLD: f32 = 0.9;

/// The most a pair whose detail views agree at `detail` (Pearson's r) can score: 1 at r = 1, the default
/// threshold at r = [`DETAIL_AT_DEFAULT`], linear in between and below.
pub fn detail_cap(detail: f32) -> f32 {
    1.0 - (1.0 - detail) * (1.0 - DEFAULT_THRESHOLD) / (1.0 - DETAIL_AT_DEFAULT)
}

/// The speckle r that caps the score at [`DEFAULT_THRESHOLD`] ([`crate::speckle`]) when both sounds are at most 3 s
/// long: an edited copy keeps its onset's texture (r 0.6 to 1), a second take of a snare, a tom or a tabla stroke
/// does not (r near 0).
pub const SPECKLE_AT_DEFAULT: f32 = 0.3;

/// The most a pair whose speckle views agree at `r` can score: 1 at r = 1, the default threshold at
/// r = [`SPECKLE_AT_DEFAULT`], linear in between and below.
pub fn speckle_cap(r: f32) -> f32 {
    1.0 - (1.0 - r) * (1.0 - DEFAULT_THRESHOLD) / (1.0 - SPECKLE_AT_DEFAULT)
}

/// Band scores from which a pair whose onsets share their texture passes whatever its bands and detail say
/// ([`speckle_lift`]): a fade, a trim, a codec or a semitone that the band or detail stage doubts.
pub const SPECKLE_RESCUE_FROM: f32 = 0.6;

/// ... and whose detail views agree at least this well (without it, two kicks whose clicks share a texture, and
/// the 50 ms cuts of a tom and a bass drum, were lifted on eval/'s set).
pub const SPECKLE_RESCUE_DETAIL: f32 = 0.9;

/// The speckle r that lifts such a pair to [`DEFAULT_THRESHOLD`].
pub const SPECKLE_RESCUE_AT: f32 = 0.8;

/// The least a pair whose band score reaches [`SPECKLE_RESCUE_FROM`] and whose speckle views agree at `r` scores:
/// 1 at r = 1, the default threshold at r = [`SPECKLE_RESCUE_AT`], linear in between and below.
pub fn speckle_lift(r: f32) -> f32 {
    1.0 - (1.0 - r) * (1.0 - DEFAULT_THRESHOLD) / (1.0 - SPECKLE_RESCUE_AT)
}

/// The wave r ([`crate::wave::wave_r`]) that lifts a pair to [`DEFAULT_THRESHOLD`]: an edited copy's onset
/// waveform agrees with its original's at 0.98 or more (trims, fades, codecs, gain, noise at 30 dB on eval/'s
/// set); two takes of one drum reach it in a few pairs (eval/README.md, "Prints version 6").
pub const WAVE_AT_DEFAULT: f32 = 0.98;

/// The shorter sound must be at least this share of the longer (trimmed print lengths) for the wave view to lift
/// a pair: a 50 ms cut of a hit holds the same first 50 ms, but is not a copy of the whole hit.
pub const WAVE_LENGTH_SHARE: f32 = 0.5;

/// The wave r that lifts two one-shots to [`DEFAULT_THRESHOLD`] when their speckle views say "second take" (r
/// under [`SPECKLE_AT_DEFAULT`]): a tone that two takes share in phase, under rattles of their own, agrees at 0.99
/// below 1.5 kHz (`issue_16_the_speckle_tells_a_copy_from_a_second_take`); on eval/'s set this costs no copy.
pub const WAVE_AT_DEFAULT_OVER_SPECKLE: f32 = 0.993;

/// The least a pair whose wave views agree at `r` scores: 1 at r = 1, the default threshold at r = `at`
/// ([`WAVE_AT_DEFAULT`] or [`WAVE_AT_DEFAULT_OVER_SPECKLE`]), linear in between and below.
pub fn wave_lift(r: f32, at: f32) -> f32 {
    1.0 - (1.0 - r) * (1.0 - DEFAULT_THRESHOLD) / (1.0 - at)
}

/// `m` with its score capped by the detail views' agreement ([`detail_score`]) and the speckle views'
/// ([`speckle_cap`]), and lifted by a speckle agreement as close as an edited copy's ([`speckle_lift`]) or a
/// waveform agreement as close as an edited copy's ([`wave_lift`]).
fn confirmed(a: &SoundPrint, b: &SoundPrint, mut m: Alignment) -> Alignment {
    if m.score < DETAIL_FROM {
        return m;
    }
    let band = m.score;
    if let Some((r, pitch)) = detail_score(a, b, &m) {
        m.score = m.score.min(detail_cap(r));
        m.detail = Some(r);
        m.pitch = pitch;
    }
    let step = 1.0 / FINE_RATE;
    // b's speckle frame at a's frame 0 (a's onset), at the alignment's time scale.
    let ta = a.lead_s;
    let tb = m.span_b.0 + (ta - m.span_a.0) / m.scale;
    m.speckle = speckle_r(
        &a.speckle,
        &b.speckle,
        SpeckleAlignment {
            lag: (tb - b.lead_s) / step,
            scale: m.scale,
            shift: m.pitch * SPECKLE_PER_SEMITONE,
            ramp_a: speckle_ramp(a),
            ramp_b: speckle_ramp(b),
        },
    );
    let mut second_take = false;
    if let Some(r) = m.speckle {
        // The cap for one-shots only (both at most 3 s): the takes it tells apart are strokes, and a sustained
        // sound's onset has little texture of its own, which 30 dB of added noise covers (a pad of 3.5 s: r low).
        if a.frames as usize <= FINE_COMPARE_MAX && b.frames as usize <= FINE_COMPARE_MAX {
            m.score = m.score.min(speckle_cap(r));
            second_take = r < SPECKLE_AT_DEFAULT;
        }
        if band >= SPECKLE_RESCUE_FROM && m.detail.is_some_and(|d| d >= SPECKLE_RESCUE_DETAIL) {
            m.score = m.score.max(speckle_lift(r));
        }
    }
    let (fa, fb) = (a.frames.max(1) as f32, b.frames.max(1) as f32);
    if fa.min(fb) >= WAVE_LENGTH_SHARE * fa.max(fb) {
        m.wave = crate::wave::wave_r(&a.wave, &b.wave);
        if let Some(w) = m.wave {
            let at = if second_take {
                WAVE_AT_DEFAULT_OVER_SPECKLE
            } else {
                WAVE_AT_DEFAULT
            };
            m.score = m.score.max(wave_lift(w.r, at));
        }
    }
    m
}

/// Speckle frames of `p` whose windows reach before its file's first sample.
fn speckle_ramp(p: &SoundPrint) -> usize {
    let half = SPECKLE_WINDOW_S / 2.0;
    (((half - p.lead_s) * FINE_RATE).ceil().max(0.0)) as usize
}

/// The largest lag searched, as a share of the longer print (plus four frames).
const MAX_LAG_SHARE: f32 = 0.2;

/// The first frames of a print, whose windows reach before the file's first sample.
const RAMP: usize = 3;

/// Weight of a [`RAMP`] frame in the score.
const RAMP_WEIGHT: f32 = 0.05;

/// Prints of at most this many frames (in the view compared) are also searched at half-frame offsets (coarse views
/// always are: a 35 s loop trimmed by 10 % of its length scored 0.84 at whole coarse frames, 0.92 with halves;
/// eval/README.md, "Long recordings: half-frame offsets").
const HALF_FRAMES_UP_TO: usize = 100;

/// Lags kept from the pre-search, per time scale, for the frequency-shifted views...
const LAGS: usize = 5;

/// ... and for the unshifted view. A trim's true lag can rank below the fifth by the outlines: a tom trimmed by
/// 90 ms scored 0.995 at its true lag, which the outlines ranked sixth (eval/README.md, "Trims and fades: what still misses").
const LAGS_UNSHIFTED: usize = 10;

/// Lengths (trimmed frames) beyond this ratio are not compared: no trim, stretch or gated tail reconciles them.
const MAX_LENGTH_RATIO: f32 = 4.0;

/// The best alignment by band score, and for a long print whose best lies at a half-frame offset, the best at
/// whole frames ([`best_confirmed`]).
fn compare_ordered(a: &SoundPrint, b: &SoundPrint) -> (Alignment, Option<Alignment>) {
    // Lengths no scale and overlap can reconcile: no alignment (the common case for candidates, and cheap).
    let (fa, fb) = (a.frames.max(1) as f32, b.frames.max(1) as f32);
    if fa.max(fb) > MAX_LENGTH_RATIO * fa.min(fb) {
        return (Alignment::none(), None);
    }
    let (mut va, mut vb) = (View::of(a), View::of(b));
    if va.step != vb.step {
        // One fine, one coarse: compare both coarse.
        let coarse = |p: &SoundPrint| View::raw(&p.coarse, COARSE_EVERY as f32 / FINE_RATE);
        va = coarse(a);
        vb = coarse(b);
    }
    if va.frames == 0 || vb.frames == 0 {
        return (Alignment::none(), None);
    }
    let sa_ = Shape::of(&va);
    let mut best = Alignment::none();
    let mut whole = Alignment::none();
    // Half-frame offsets too for short sounds, where a trim between two frames' starts matters most, and for
    // coarse views, whose 100 ms frames a trim of a long recording cuts at any point.
    let short = va.frames.max(vb.frames) <= HALF_FRAMES_UP_TO;
    let coarse = va.step > 1.0 / FINE_RATE;
    let offsets: &[f32] = if coarse || short { &[0.0, 0.5] } else { &[0.0] };
    // A long coarse view: its half-frame offset searches around the outlines' best lags at offset 0, per scale,
    // instead of over every lag again (the pre-search is most of a long comparison's cost), and its best at whole
    // frames is returned beside the best.
    let long_half = coarse && !short;
    let mut whole_frame_lags: Vec<isize> = Vec::new();
    for (&scale, &off) in SCALES
        .iter()
        .flat_map(|s| offsets.iter().map(move |o| (s, o)))
    {
        let sb0 = Shape::of(&vb.warped(scale, 0.0, off));
        let reuse = off != 0.0 && long_half;
        // Lags, best first.
        let lags: Vec<isize> = if reuse {
            // Frame t of the offset view is frame t + 1/2 of the whole-frame one: the best lag moves by at most one.
            let mut l: Vec<isize> = Vec::new();
            for d in [0, -1, 1] {
                for &lag in &whole_frame_lags {
                    if !l.contains(&(lag + d)) {
                        l.push(lag + d);
                    }
                }
            }
            l
        } else {
            // Lags a trim, a fade or a gated end can cause: a share of the longer print, and a few frames.
            let max_lag = (va.frames.max(sb0.frames) as f32 * MAX_LAG_SHARE) as isize + 4;
            let need = (va.frames.min(sb0.frames) / 2).max(1);
            // Pre-search: the best lags by a cheap level-weighted correlation of the two spectral outlines.
            let mut lags: Vec<(f32, isize)> = (-max_lag..=max_lag)
                .filter_map(|lag| {
                    let (sa, sb, len) = overlap(va.frames, sb0.frames, lag);
                    (len >= need).then(|| {
                        (
                            outline_r(
                                &sa_.outline[sa * OUTLINE..(sa + len) * OUTLINE],
                                &sb0.outline[sb * OUTLINE..(sb + len) * OUTLINE],
                                &sa_.level[sa..sa + len],
                                &sb0.level[sb..sb + len],
                            ),
                            lag,
                        )
                    })
                })
                .collect();
            lags.sort_by(|x, y| y.0.total_cmp(&x.0));
            let lags: Vec<isize> = lags.iter().take(LAGS_UNSHIFTED).map(|l| l.1).collect();
            if off == 0.0 {
                whole_frame_lags = lags.iter().copied().take(LAGS).collect();
            }
            lags
        };
        // Both prints start at their onsets: the start-aligned lag is always tried (a fade-in that leaves the
        // copy's first frames quiet can mislead the outlines).
        let with_start = |n: usize| {
            let mut l: Vec<isize> = lags.iter().copied().take(n).collect();
            if !l.contains(&0) {
                l.push(0);
            }
            l
        };
        let (unshifted, shifted) = if reuse {
            (with_start(lags.len()), with_start(lags.len()))
        } else {
            (with_start(LAGS_UNSHIFTED), with_start(LAGS))
        };
        for &shift in &SHIFTS {
            let w = if shift == 0.0 {
                None
            } else {
                Some(Shape::of(&vb.warped(scale, shift, off)))
            };
            let w = w.as_ref().unwrap_or(&sb0);
            for &lag in if shift == 0.0 { &unshifted } else { &shifted } {
                let (sa, sb, len) = overlap(va.frames, w.frames, lag);
                let Some(r) = interaction(&sa_, sa, w, sb, len) else {
                    continue;
                };
                if r > best.score || (off == 0.0 && r > whole.score) {
                    let step = va.step;
                    let m = Alignment {
                        score: r,
                        span_a: (
                            a.lead_s + sa as f32 * step,
                            a.lead_s + (sa + len) as f32 * step,
                        ),
                        span_b: (
                            b.lead_s + (sb as f32 / scale + off) * step,
                            b.lead_s + ((sb + len) as f32 / scale + off) * step,
                        ),
                        scale,
                        detail: None,
                        pitch: 0.0,
                        speckle: None,
                        wave: None,
                    };
                    if off == 0.0 && r > whole.score {
                        whole = m;
                    }
                    if r > best.score {
                        best = m;
                    }
                }
            }
        }
    }
    let whole = (long_half && whole.score < best.score).then_some(whole);
    (best, whole)
}

/// Frequency shifts the detail comparison searches, in detail bins (quarter-semitone steps up to 1.25 semitones:
/// a pitch or speed change of one semitone, and the detail's own bin rounding).
const DETAIL_SHIFT_MAX: f32 = 1.25 * DETAIL_PER_SEMITONE;
/// A print whose sound starts less than this far into the file has a first detail row whose windows reach before
/// the file's start, seconds (half a detail window).
const DETAIL_RAMP_S: f32 = 0.08;
/// Detail bins below the spectrum's peak by more than this are floored, dB.
const DETAIL_FLOOR_DB: f32 = 35.0;
/// Half-width of the moving average removed from a detail spectrum, in bins: what is left are its peaks and
/// valleys (resonances), not its tilt, which a second take shares.
const DETAIL_TREND: usize = 6;

/// The detail views' agreement over an alignment found by [`compare`] (`m`, of `a` against `b`): the average
/// spectral shape of the aligned 100 ms rows of each print (each row weighs the lower of its two levels), in dB
/// with its trend removed, correlated over frequency shifts of up to 1.25 semitones. Returns (Pearson's r,
/// shift in semitones of `b` against `a`), or `None` when a print has no detail view or the alignment holds no
/// row of both.
pub fn detail_score(a: &SoundPrint, b: &SoundPrint, m: &Alignment) -> Option<(f32, f32)> {
    let (ra, rb) = (a.detail.len() / DETAIL_BINS, b.detail.len() / DETAIL_BINS);
    if ra == 0 || rb == 0 || m.span_a.1 <= m.span_a.0 {
        return None;
    }
    let step = COARSE_EVERY as f32 / FINE_RATE;
    let lin = |q: u8| 10f32.powf(q as f32 / STEPS_PER_DB / 10.0);
    // Each row's power relative to the print's loudest row.
    let row_levels = |d: &[u8]| -> Vec<f32> {
        let p: Vec<f32> = d
            .chunks(DETAIL_BINS)
            .map(|r| r.iter().map(|&q| lin(q)).sum())
            .collect();
        let top = p.iter().copied().fold(0.0, f32::max).max(1e-30);
        p.iter().map(|x| x / top).collect()
    };
    let (la, lb) = (row_levels(&a.detail), row_levels(&b.detail));
    let mut sa = vec![0f32; DETAIL_BINS];
    let mut sb = vec![0f32; DETAIL_BINS];
    let mut any = false;
    let add = |acc: &mut [f32], row: &[u8], w: f32| {
        let total: f32 = row.iter().map(|&q| lin(q)).sum();
        if total > 0.0 {
            for (o, &q) in acc.iter_mut().zip(row) {
                *o += w * lin(q) / total;
            }
        }
    };
    for (i, &level_a) in la.iter().enumerate() {
        let ta = a.lead_s + (i as f32 + 0.5) * step;
        if ta < m.span_a.0 || ta > m.span_a.1 {
            continue;
        }
        // b's row at the aligned time, interpolated between its two nearest rows (a trim moves b's rows by a
        // fraction of one).
        let tb = m.span_b.0 + (ta - m.span_a.0) / m.scale;
        let j = ((tb - b.lead_s) / step - 0.5).clamp(0.0, (rb - 1) as f32);
        if (tb - b.lead_s) < 0.0 || (tb - b.lead_s) > rb as f32 * step {
            continue;
        }
        let (j0, f) = (j.floor() as usize, j.fract());
        let j1 = (j0 + 1).min(rb - 1);
        let mut w = level_a.min(lb[j0] * (1.0 - f) + lb[j1] * f) + 1e-6;
        // A first row whose windows reach before the file's first sample: a trim's abrupt start splatters across
        // the bins (as for the bands' first frames).
        if (i == 0 && a.lead_s < DETAIL_RAMP_S) || (j < 0.5 && b.lead_s < DETAIL_RAMP_S) {
            w *= RAMP_WEIGHT;
        }
        add(
            &mut sa,
            &a.detail[i * DETAIL_BINS..(i + 1) * DETAIL_BINS],
            w,
        );
        add(
            &mut sb,
            &b.detail[j0 * DETAIL_BINS..(j0 + 1) * DETAIL_BINS],
            w * (1.0 - f),
        );
        add(
            &mut sb,
            &b.detail[j1 * DETAIL_BINS..(j1 + 1) * DETAIL_BINS],
            w * f,
        );
        any = true;
    }
    if !any {
        return None;
    }
    let (da, db) = (detrended_db(&sa), detrended_db(&sb));
    let mut best = (f32::MIN, 0.0);
    let steps = (DETAIL_SHIFT_MAX * 2.0).round() as i32;
    for k in -steps..=steps {
        let shift = k as f32 * 0.5;
        let r = shifted_r(&da, &db, shift);
        if r > best.0 {
            // `b` moved up by `shift` bins matches `a`: `b` is `shift` bins lower.
            best = (r, -shift / DETAIL_PER_SEMITONE);
        }
    }
    Some(best)
}

/// A power spectrum in dB, floored [`DETAIL_FLOOR_DB`] below its peak, less its moving average over
/// `2 DETAIL_TREND + 1` bins; and each bin's weight, its height above the floor in [0, 1] (a resonance counts, the
/// floor where noise or a codec decides does not).
fn detrended_db(p: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let top = p.iter().copied().fold(0.0, f32::max).max(1e-30);
    let db: Vec<f32> = p
        .iter()
        .map(|&x| (10.0 * (x.max(1e-30) / top).log10()).max(-DETAIL_FLOOR_DB))
        .collect();
    let detrended = (0..db.len())
        .map(|k| {
            let (lo, hi) = (
                k.saturating_sub(DETAIL_TREND),
                (k + DETAIL_TREND + 1).min(db.len()),
            );
            db[k] - db[lo..hi].iter().sum::<f32>() / (hi - lo) as f32
        })
        .collect();
    let weight = db.iter().map(|d| 1.0 + d / DETAIL_FLOOR_DB).collect();
    (detrended, weight)
}

/// Weighted Pearson's r of `a` against `b` moved up by `shift` bins (linear interpolation), over the bins both
/// cover; each bin weighs the mean of the two spectra's weights there.
fn shifted_r(a: &(Vec<f32>, Vec<f32>), b: &(Vec<f32>, Vec<f32>), shift: f32) -> f32 {
    let n = a.0.len();
    let mut m = Moments::default();
    for k in 0..n {
        let src = k as f32 - shift;
        if src < 0.0 || src > (n - 1) as f32 {
            continue;
        }
        let (k0, f) = (src.floor() as usize, src.fract());
        let k1 = (k0 + 1).min(n - 1);
        let x = a.0[k];
        let y = b.0[k0] * (1.0 - f) + b.0[k1] * f;
        let w = 0.5 * (a.1[k] + b.1[k0] * (1.0 - f) + b.1[k1] * f) + 1e-3;
        m.add(w, x, y);
    }
    if m.s <= 0.0 {
        return 0.0;
    }
    let (cov, va, vb) = m.covariances();
    if va <= 1e-6 || vb <= 1e-6 {
        return if va <= 1e-6 && vb <= 1e-6 { 1.0 } else { 0.0 };
    }
    (cov / (va * vb).sqrt()).clamp(-1.0, 1.0)
}

/// Length of [`summary`] vectors.
pub const SUMMARY_DIM: usize = 8 * BANDS;

/// A small vector of the print's start (the first 0.64 s of the trimmed sound, or 6.4 s of a long one, in 8 time
/// steps x 16 bands, centred), whose cosine finds candidate pairs that the model's vectors miss (added silence,
/// noise): edited copies have close summaries whatever the model. Zero for an empty print.
pub fn summary(p: &SoundPrint) -> Vec<f32> {
    let v = View::of(p);
    let frames = v.frames.min(64);
    let mut out = vec![0f32; SUMMARY_DIM];
    if frames == 0 {
        return out;
    }
    for step in 0..8 {
        let (a, b) = (
            step * frames / 8,
            ((step + 1) * frames / 8).max(step * frames / 8 + 1),
        );
        let b = b.min(frames).max(a + 1);
        let a = a.min(frames - 1);
        for t in a..b {
            for k in 0..BANDS {
                out[step * BANDS + k] += v.cells[t * BANDS + k] / (b - a) as f32;
            }
        }
    }
    let m = out.iter().sum::<f32>() / SUMMARY_DIM as f32;
    out.iter_mut().for_each(|x| *x -= m);
    out
}

/// The print of the file at `path`, decoded at its own rate (channels averaged).
pub fn print_file(path: &std::path::Path) -> crate::Result<SoundPrint> {
    let mut d = crate::decode::Decoder::open(path)?;
    let mut p = SoundPrinter::new(d.info().sample_rate);
    while let Some(chunk) = d.next_chunk()? {
        p.push(chunk);
    }
    Ok(p.finish())
}

/// The print of mono `samples` at `rate` Hz in one call.
pub fn print_samples(samples: &[f32], rate: u32) -> SoundPrint {
    let mut p = SoundPrinter::new(rate);
    p.push(samples);
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 16_000;

    /// The shares as first written: every band against every bin.
    fn bin_bands_naive(rate: u32, n: usize, edges: &[f32]) -> Vec<(usize, usize, f32)> {
        let df = rate as f32 / n as f32;
        let mut out = Vec::new();
        for k in 0..n / 2 + 1 {
            let (lo, hi) = ((k as f32 - 0.5) * df, (k as f32 + 0.5) * df);
            for (b, e) in edges.windows(2).enumerate() {
                let o = hi.min(e[1]) - lo.max(e[0]);
                if o > 0.0 {
                    out.push((k, b, o / df));
                }
            }
        }
        out
    }

    #[test]
    fn bin_bands_skips_only_bands_that_get_nothing() {
        let log = |lo: f32, hi: f32, n: usize| -> Vec<f32> {
            (0..=n)
                .map(|b| lo * (hi / lo).powf(b as f32 / n as f32))
                .collect()
        };
        let cases: Vec<(u32, usize, Vec<f32>)> = vec![
            (44_100, 2048, log(F_LO, F_HI, BANDS)),
            (8_000, 512, log(F_LO, F_HI, BANDS)),
            (48_000, 16384, log(DETAIL_LO, 6000.0, DETAIL_BINS)),
            (22_050, 1024, vec![0.0, 10.0, 10.0, 5000.0, 30_000.0]),
            // Not ascending: the full scan.
            (16_000, 256, vec![3000.0, 100.0, 7000.0, 50.0]),
        ];
        for (rate, n, edges) in cases {
            let fast = bin_bands(rate, n, &edges);
            assert!(!fast.is_empty());
            assert_eq!(
                fast,
                bin_bands_naive(rate, n, &edges),
                "{rate} Hz, {n} points"
            );
        }
    }

    /// Deterministic noise in [-1, 1].
    fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) as f32 / (1u64 << 31) as f32) - 1.0
            })
            .collect()
    }

    /// A drum-like hit: decaying noise plus a falling tone whose pitch depends on `tone`, with a rattle (noise
    /// bursts every ~60 ms, their colour set by the noise): a second take has other noise.
    fn hit(seed: u64, secs: f32, tone: f32) -> Vec<f32> {
        let n = (secs * RATE as f32) as usize;
        let nz = noise(seed, n);
        let mut lp = 0.0f32;
        (0..n)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                let env = (-t * 4.0).exp();
                let f = tone * (1.0 + 2.0 * (-t * 20.0).exp());
                let burst =
                    ((t * 16.0 + nz[(t * 16.0) as usize % n] * 0.3).fract() < 0.3) as i32 as f32;
                let c = 0.2 + 0.7 * (0.5 + 0.5 * nz[(7 + (t * 16.0) as usize * 13) % n]);
                lp = c * lp + (1.0 - c) * nz[i];
                env * (0.4 * (2.0 * std::f32::consts::PI * f * t).sin() + 0.8 * burst * lp)
            })
            .collect()
    }

    /// `x` resampled by linear interpolation to `factor` times its length (speed change: time and pitch).
    fn speed(x: &[f32], factor: f32) -> Vec<f32> {
        let n = (x.len() as f32 * factor) as usize;
        (0..n)
            .map(|i| {
                let s = i as f32 / factor;
                let (i0, f) = (s.floor() as usize, s.fract());
                let i1 = (i0 + 1).min(x.len() - 1);
                x[i0.min(x.len() - 1)] * (1.0 - f) + x[i1] * f
            })
            .collect()
    }

    fn score(a: &[f32], b: &[f32]) -> f32 {
        compare(&print_samples(a, RATE), &print_samples(b, RATE)).score
    }

    #[test]
    fn identical_sounds_score_one_and_gain_does_not_matter() {
        let a = hit(1, 0.8, 200.0);
        let quiet: Vec<f32> = a.iter().map(|x| x * 0.25).collect();
        assert!(score(&a, &a) > 0.999);
        assert!(score(&a, &quiet) > 0.999, "{}", score(&a, &quiet));
    }

    #[test]
    fn added_silence_is_trimmed_and_reported_as_an_offset() {
        let a = hit(2, 0.5, 150.0);
        let mut b = vec![0.0; RATE as usize]; // 1 s of silence first
        b.extend_from_slice(&a);
        b.extend(vec![0.0; RATE as usize * 2]);
        let (pa, pb) = (print_samples(&a, RATE), print_samples(&b, RATE));
        assert!((pb.lead_s - 1.0).abs() < 0.03, "lead {}", pb.lead_s);
        let m = compare(&pa, &pb);
        assert!(m.score > 0.99, "{m:?}");
        assert!((m.span_b.0 - m.span_a.0 - 1.0).abs() < 0.03, "{m:?}");
    }

    #[test]
    fn a_trimmed_copy_aligns_at_the_trim() {
        let a = hit(3, 2.0, 120.0);
        let b = a[(0.15 * RATE as f32) as usize..].to_vec(); // 7.5 % trimmed from the start
        let m = compare(&print_samples(&a, RATE), &print_samples(&b, RATE));
        // 0.89 for this noise-driven hit, whose detail (0.84) changes from one window to the next: found at
        // `--threshold 0.85`, not at the default 0.9 (trims are a known miss, eval/README.md).
        assert!(m.score >= 0.85, "{m:?}");
        assert!((m.span_a.0 - 0.15).abs() < 0.03, "{m:?}");
    }

    /// A long rhythmic recording: decaying tones with a noisy attack, 0.13 to 0.3 s each, one after the other.
    fn rhythm(seed: u64, secs: f32) -> Vec<f32> {
        let n = (secs * RATE as f32) as usize;
        let lengths = noise(seed, 4 * secs as usize);
        let mut out = Vec::with_capacity(n);
        for (k, l) in lengths.iter().enumerate() {
            let tone = 100.0 + 60.0 * (k % 5) as f32;
            let nz = noise(seed + k as u64, (0.3 * RATE as f32) as usize);
            out.extend(
                nz.iter()
                    .enumerate()
                    .map(|(i, z)| {
                        let t = i as f32 / RATE as f32;
                        let env = (-t * 12.0).exp();
                        env * ((2.0 * std::f32::consts::PI * tone * t).sin()
                            + z * (-t * 60.0).exp())
                    })
                    .take(((0.28 + 0.15 * l) * RATE as f32) as usize),
            );
            if out.len() >= n {
                break;
            }
        }
        out.truncate(n);
        out
    }

    #[test]
    fn a_long_recording_trimmed_between_two_coarse_frames_stays_a_duplicate() {
        // 16 s of sound: compared on the 100 ms coarse view. A trim of 2.04 s (the copy's print starts 10 ms
        // later, at its first frame) cuts those frames half-way: 0.84 at whole frames, 0.91 with half-frame offsets.
        let a = rhythm(11, 20.0);
        let b = a[(2.04 * RATE as f32) as usize..].to_vec();
        let (pa, pb) = (print_samples(&a, RATE), print_samples(&b, RATE));
        assert!(pa.frames as usize > FINE_COMPARE_MAX, "{}", pa.frames);
        let m = compare(&pa, &pb);
        assert!(m.score >= DEFAULT_THRESHOLD, "{m:?}");
        assert!((m.span_a.0 - m.span_b.0 - 2.04).abs() < 0.06, "{m:?}");
        // Either order gives the same score (the whole-frame and half-frame alignments are confirmed in one order).
        assert_eq!(compare(&pb, &pa).score, m.score);
    }

    #[test]
    fn stretch_and_speed_are_searched() {
        let a = hit(4, 1.5, 180.0);
        let faster = speed(&a, 1.0 / 1.0595); // one semitone up: 5.6 % shorter, pitch up
        let slower = speed(&a, 1.05);
        let unsearched = |x: &[f32]| {
            let (pa, pb) = (print_samples(&a, RATE), print_samples(x, RATE));
            let (va, vb) = (View::of(&pa), View::of(&pb));
            let len = va.frames.min(vb.frames);
            pearson(&va.cells[..len * BANDS], &vb.cells[..len * BANDS])
        };
        for (x, scale) in [(&faster, 1.0595), (&slower, 1.0 / 1.05)] {
            let m = compare(&print_samples(&a, RATE), &print_samples(x, RATE));
            assert!(m.score > 0.9, "{m:?}");
            assert!(m.score > unsearched(x) + 0.05, "{m:?} vs {}", unsearched(x));
            assert!((m.scale - scale).abs() < 0.021, "{m:?}");
        }
    }

    #[test]
    fn compare_is_symmetric() {
        let (a, b) = (
            print_samples(&hit(10, 0.9, 150.0), RATE),
            print_samples(&speed(&hit(10, 0.9, 150.0), 1.04), RATE),
        );
        let (ab, ba) = (compare(&a, &b), compare(&b, &a));
        assert_eq!(ab.score, ba.score);
        assert_eq!((ab.span_a, ab.span_b), (ba.span_b, ba.span_a));
        assert!((ab.scale * ba.scale - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_second_take_is_not_a_duplicate() {
        // Same recipe, different noise and slightly different tone: a look-alike.
        let a = hit(6, 0.6, 200.0);
        let b = hit(7, 0.6, 215.0);
        let s = score(&a, &b);
        assert!(s < 0.95, "second take scored {s}");
        let noisy: Vec<f32> = a
            .iter()
            .zip(noise(9, a.len()))
            .map(|(x, n)| x + 0.003 * n)
            .collect();
        assert!(score(&a, &noisy) > s + 0.05, "{} vs {s}", score(&a, &noisy));
    }

    #[test]
    fn fades_a_trimmed_attack_and_a_click_at_the_end_keep_a_copy_above_the_default() {
        let a = hit(11, 1.0, 170.0);
        let n = a.len();
        let f = n / 10; // fades over 10 %
        let faded: Vec<f32> = a
            .iter()
            .enumerate()
            .map(|(i, x)| x * (i.min(n - 1 - i) as f32 / f as f32).min(1.0))
            .collect();
        let trimmed = a[n / 10..].to_vec(); // the loud attack cut: the copy's own scale moves by many dB
        let mut clicked = a.clone();
        clicked.extend(vec![0.0; RATE as usize / 2]);
        clicked.push(0.9); // a decoder's stray sample after the sound's tail
        clicked.push(-0.9);
        for (what, x) in [("fade", &faded), ("trim", &trimmed), ("click", &clicked)] {
            let s = score(&a, x);
            assert!(s >= DEFAULT_THRESHOLD, "{what}: {s}");
        }
        // The trim is found where it is, not at the start.
        let m = compare(&print_samples(&a, RATE), &print_samples(&trimmed, RATE));
        assert!((m.span_a.0 - m.span_b.0 - 0.1).abs() < 0.03, "{m:?}");
    }

    #[test]
    fn noise_30_db_below_the_sound_is_under_the_compare_floor() {
        let a = hit(12, 0.8, 190.0);
        let rms = (a.iter().map(|x| x * x).sum::<f32>() / a.len() as f32).sqrt();
        let nz = noise(13, a.len());
        let nrms = (nz.iter().map(|x| x * x).sum::<f32>() / nz.len() as f32).sqrt();
        let k = rms / nrms * 10f32.powf(-30.0 / 20.0);
        let noisy: Vec<f32> = a.iter().zip(&nz).map(|(x, n)| x + k * n).collect();
        let s = score(&a, &noisy);
        assert!(s >= 0.95, "{s}");
    }

    #[test]
    fn a_sound_at_the_first_sample_prints_like_the_same_sound_after_silence() {
        let a = hit(14, 0.05, 300.0); // a 50 ms one-shot, loud from its first sample
        let mut b = vec![0.0; RATE as usize / 2];
        b.extend_from_slice(&a);
        let (pa, pb) = (print_samples(&a, RATE), print_samples(&b, RATE));
        assert_eq!(pa.frames, pb.frames);
        assert_eq!(pa.fine, pb.fine);
        assert!((pb.lead_s - 0.5).abs() < 0.011, "{}", pb.lead_s);
    }

    #[test]
    fn a_click_long_after_the_end_is_not_part_of_the_sound() {
        // A decoder that reads two samples of a trailing chunk as audio (seen on an AIFF file): a full-scale click
        // seconds after the sound's tail. Kept, it made the print 4x longer and the copy unmatchable.
        let a = hit(15, 0.6, 160.0);
        let mut b = a.clone();
        b.extend(vec![0.0; RATE as usize * 3]);
        b.extend([0.9, -0.9]);
        let (pa, pb) = (print_samples(&a, RATE), print_samples(&b, RATE));
        assert_eq!((pa.frames, &pa.fine), (pb.frames, &pb.fine));
        assert!(compare(&pa, &pb).score > 0.999);
        // A click alone is a sound, and a burst within the sound is part of it.
        let click = print_samples(&[0.0, 0.9, -0.9, 0.0], RATE);
        assert!(click.frames >= 1);
        let mut c = a.clone();
        c.extend(vec![0.0; RATE as usize / 20]); // 50 ms: 5 quiet frames, less than the gap
        c.extend([0.9, -0.9]);
        c.extend(vec![0.0; RATE as usize / 10]);
        assert!(print_samples(&c, RATE).frames > pa.frames + 4);
    }

    #[test]
    fn a_fade_in_that_hides_the_attack_is_aligned_at_the_onset() {
        // A fade-in over the first third: the copy's first frames are quiet, its loudest frame comes later.
        let a = hit(16, 1.0, 140.0);
        let n = a.len();
        let f = n / 3;
        let faded: Vec<f32> = a
            .iter()
            .enumerate()
            .map(|(i, x)| x * (i as f32 / f as f32).min(1.0))
            .collect();
        let m = compare(&print_samples(&a, RATE), &print_samples(&faded, RATE));
        // Aligned at the onsets (the level-weighted pre-search and the start-aligned lag), not at a later frame
        // where the copy's quiet start resembles the original's decay. The score is lower than for a 10 % fade
        // (above): the faded frames' quiet cells fall under the common floor.
        assert!((m.span_a.0 - m.span_b.0).abs() < 0.03, "{m:?}");
        assert!(m.score > 0.7, "{m:?}");
    }

    /// `x` faded in and out over 10 % of its length each.
    fn faded(x: &[f32]) -> Vec<f32> {
        let n = x.len();
        x.iter()
            .enumerate()
            .map(|(i, v)| v * (i.min(n - 1 - i) as f32 / (n / 10) as f32).min(1.0))
            .collect()
    }

    /// A drum stroke: the rattle of `hit(seed, ..)` plus two decaying resonances at `f1` and `f2` Hz.
    fn stroke(seed: u64, secs: f32, f1: f32, f2: f32) -> Vec<f32> {
        let base = hit(seed, secs, 150.0);
        base.iter()
            .enumerate()
            .map(|(i, x)| {
                let t = i as f32 / RATE as f32;
                let tau = std::f32::consts::TAU;
                x * 0.5
                    + (-t * 5.0).exp() * (0.6 * (tau * f1 * t).sin() + 0.4 * (tau * f2 * t).sin())
            })
            .collect()
    }

    #[test]
    fn detail_finds_a_pitch_shifted_copy_and_its_pitch() {
        let a = stroke(20, 1.0, 440.0, 1250.0);
        for (factor, semitones) in [(1.0 / 1.0595, 1.0), (1.0595, -1.0)] {
            let b = speed(&a, factor);
            let m = compare(&print_samples(&a, RATE), &print_samples(&b, RATE));
            let d = m.detail.expect("both prints have a detail view");
            assert!(d > DETAIL_AT_DEFAULT, "{m:?}");
            assert!((m.pitch - semitones).abs() <= 0.25, "{m:?}");
            // The detail does not hold the copy back (the band stage may: 0.83 for this one semitone up, its own
            // limit, eval/README.md).
            assert!(detail_cap(d) >= DEFAULT_THRESHOLD, "{m:?}");
        }
    }

    #[test]
    fn two_strokes_with_other_resonances_are_not_duplicates() {
        // The same rattle, resonances 2 and 3 semitones apart: the bands (4.4 semitones each) hardly tell them
        // apart, the half-semitone detail does.
        let a = stroke(21, 1.0, 440.0, 1250.0);
        let b = stroke(21, 1.0, 494.0, 1490.0);
        let m = compare(&print_samples(&a, RATE), &print_samples(&b, RATE));
        assert!(m.detail.expect("detail") < DETAIL_AT_DEFAULT, "{m:?}");
        assert!(m.score < DEFAULT_THRESHOLD, "{m:?}");
        // Its own faded and trimmed copies keep their resonances.
        let n = a.len();
        for (what, x) in [("fade", faded(&a)), ("trim", a[n / 10..].to_vec())] {
            let m = compare(&print_samples(&a, RATE), &print_samples(&x, RATE));
            assert!(
                m.detail.expect("detail") > DETAIL_AT_DEFAULT,
                "{what}: {m:?}"
            );
            assert!(m.score >= DEFAULT_THRESHOLD, "{what}: {m:?}");
        }
    }

    #[test]
    fn the_detail_view_covers_the_first_seconds_at_half_semitones() {
        let long: Vec<f32> = (0..4 * RATE as usize)
            .map(|i| (std::f32::consts::TAU * 300.0 * i as f32 / RATE as f32).sin())
            .collect();
        assert_eq!(
            print_samples(&long, RATE).detail.len(),
            DETAIL_ROWS * DETAIL_BINS
        );
        let p = print_samples(&stroke(22, 1.0, 300.0, 900.0), RATE);
        assert_eq!(
            p.detail.len(),
            (p.frames as usize).div_ceil(COARSE_EVERY) * DETAIL_BINS
        );
        let short = print_samples(&stroke(22, 0.05, 300.0, 900.0), RATE);
        assert_eq!(short.detail.len(), DETAIL_BINS);
        // The loudest detail bin of the first row is the 300 Hz resonance: 2 x 12 x log2(300 / 150) = bin 24.
        let row = &p.detail[..DETAIL_BINS];
        let top = (0..DETAIL_BINS).max_by_key(|&k| row[k]).unwrap();
        assert!((23..=25).contains(&top), "{top}");
    }

    /// A take of a resonant stroke: three fixed decaying partials and a decaying rattle of coloured noise
    /// (realisation `seed`) 8 dB below them, so that two takes share their band envelope, their resonances and
    /// their average spectrum, not their texture.
    fn take(seed: u64, secs: f32) -> Vec<f32> {
        let nz = noise(seed, (secs * RATE as f32) as usize);
        let mut lp = 0.0f32;
        nz.iter()
            .enumerate()
            .map(|(i, &x)| {
                let t = i as f32 / RATE as f32;
                let tau = std::f32::consts::TAU;
                lp = 0.5 * lp + 0.5 * x;
                let tone = 0.5 * (tau * 440.0 * t).sin()
                    + 0.3 * (tau * 1250.0 * t).sin()
                    + 0.2 * (tau * 2300.0 * t).sin();
                (-t * 5.0).exp() * (tone + 0.4 * lp)
            })
            .collect()
    }

    #[test]
    fn issue_16_the_speckle_tells_a_copy_from_a_second_take() {
        let a = take(40, 0.8);
        let pa = print_samples(&a, RATE);
        assert_eq!(
            pa.speckle.len(),
            SPECKLE_FRAMES * crate::speckle::SPECKLE_BINS
        );
        for seed in [41, 42, 43] {
            let m = compare(&pa, &print_samples(&take(seed, 0.8), RATE));
            let r = m.speckle.expect("both prints have a speckle view");
            assert!(r < SPECKLE_AT_DEFAULT, "take {seed}: {m:?}");
            assert!(m.score < DEFAULT_THRESHOLD, "take {seed}: {m:?}");
        }
        let n = a.len();
        let noisy = with_noise_30_db(&a, 44);
        let mut padded = vec![0.0; RATE as usize / 2];
        padded.extend_from_slice(&a);
        for (what, x) in [
            ("fade", faded(&a)),
            ("trim", a[n / 10..].to_vec()),
            ("noise 30 dB", noisy),
            ("silence", padded),
            // (One semitone down is not in the list: the band stage aligns this synthetic copy 180 ms off, beyond
            // the speckle's own search, and the speckle then finds nothing: r 0.2.)
            ("pitch +1", speed(&a, 1.0 / 1.0595)),
        ] {
            let m = compare(&pa, &print_samples(&x, RATE));
            let r = m.speckle.expect("both prints have a speckle view");
            assert!(r > SPECKLE_AT_DEFAULT + 0.2, "{what}: {m:?}");
            if what != "pitch +1" {
                // The texture lifts what the bands doubt (this pitch-shifted copy's r is 0.72: not lifted).
                assert!(r >= SPECKLE_RESCUE_AT, "{what}: {m:?}");
                assert!(m.score >= DEFAULT_THRESHOLD, "{what}: {m:?}");
            }
        }
    }

    /// `x` with white noise (realisation `seed`) 30 dB below its RMS.
    fn with_noise_30_db(x: &[f32], seed: u64) -> Vec<f32> {
        let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        x.iter()
            .zip(noise(seed, x.len()))
            .map(|(v, z)| v + z * rms * 10f32.powf(-30.0 / 20.0) * 3f32.sqrt())
            .collect()
    }

    /// A kick: a sine sweeping down from `f0` + 150 Hz to `f0` Hz, decaying, with a click of coloured noise
    /// (realisation `seed`) over its first 15 ms.
    fn kick(seed: u64, secs: f32, f0: f32) -> Vec<f32> {
        let nz = noise(seed, (secs * RATE as f32) as usize);
        let mut lp = 0.0f32;
        let mut phase = 0.0f32;
        nz.iter()
            .enumerate()
            .map(|(i, &x)| {
                let t = i as f32 / RATE as f32;
                phase += std::f32::consts::TAU * (f0 + 150.0 * (-t * 25.0).exp()) / RATE as f32;
                lp = 0.3 * lp + 0.7 * x;
                (-t * 7.0).exp() * phase.sin() + (-t * 200.0).exp() * 0.8 * lp
            })
            .collect()
    }

    #[test]
    fn issue_16_the_wave_view_lifts_a_kick_trimmed_into_its_attack() {
        let a = kick(50, 0.5, 55.0);
        let pa = print_samples(&a, RATE);
        assert_eq!(pa.wave.len(), crate::wave::WAVE_LEN);
        let noisy = with_noise_30_db(&a, 51);
        for (what, x) in [
            ("trim 30 ms", a[RATE as usize * 3 / 100..].to_vec()),
            ("fade", faded(&a)),
            ("noise 30 dB", noisy),
        ] {
            let mut pb = print_samples(&x, RATE);
            let m = compare(&pa, &pb);
            let r = m.wave.expect("both prints have a wave view").r;
            assert!(r >= WAVE_AT_DEFAULT, "{what}: {m:?}");
            assert!(m.score >= DEFAULT_THRESHOLD, "{what}: {m:?}");
            // The spectral views alone miss the trim (0.55: the attack is gone) and the fade (0.72).
            pb.wave.clear();
            let without = compare(&pa, &pb).score;
            if what != "noise 30 dB" {
                assert!(without < DEFAULT_THRESHOLD, "{what}: {without}");
            }
        }
        // Second takes: another click, a sweep a little higher (the same sweep with another click agrees at r 0.999:
        // a drum machine's two hits, duplicates).
        for (seed, f0) in [(52, 57.0), (53, 60.0)] {
            let m = compare(&pa, &print_samples(&kick(seed, 0.5, f0), RATE));
            assert!(
                m.wave.is_none_or(|w| w.r < WAVE_AT_DEFAULT),
                "take {seed}: {m:?}"
            );
            assert!(m.score < DEFAULT_THRESHOLD, "take {seed}: {m:?}");
        }
        // A 50 ms cut holds the kick's first 50 ms, but is not a copy of the whole kick: the wave view is not asked.
        let m = compare(&pa, &print_samples(&a[..RATE as usize / 20], RATE));
        assert!(m.wave.is_none(), "{m:?}");
    }

    #[test]
    fn short_and_silent_inputs_do_not_panic() {
        let tiny = hit(8, 0.05, 400.0);
        assert!(score(&tiny, &tiny) > 0.99);
        let silent = vec![0.0; 100];
        let p = print_samples(&silent, RATE);
        assert_eq!(compare(&p, &print_samples(&tiny, RATE)).score, 0.0);
        let empty = print_samples(&[], RATE);
        assert!(empty.frames <= 1);
    }
}
