//! The speckle view of a sound print: the fine spectro-temporal texture of a sound's onset, which an edited copy
//! keeps and a second take of the same stroke does not.
//!
//! Two takes of one cymbal, bell or drum share their band envelope and their resonances (the print's bands and
//! detail view), but not the exact noise realisation (a snare's or a cymbal's speckle), the exact beating of
//! partials or the exact decay. [`speckle_view`] keeps, for the first [`SPECKLE_FRAMES`] fine frames (0.4 s) after
//! the onset, the log power spectrum of a [`SPECKLE_WINDOW_S`] Hann window every 10 ms in quarter-semitone bins
//! ([`SPECKLE_BINS`] from [`SPECKLE_LO`] Hz to 6 kHz), each bin less its moving average over 70 ms: the residual,
//! how each bin fluctuates around its level and decay. Each cell is one byte: the residual in
//! [`RESIDUAL_STEP_DB`] steps (high nibble) and the cell's height above a floor [`FLOOR_DB`] below the view's
//! loudest cell (low nibble: where the sound has energy).
//!
//! [`speckle_r`] correlates two views at the alignment that the print's band and detail stages found (time lag,
//! time scale, pitch), refined by a frame and a quarter semitone either way, each cell weighted by the lower of
//! its two heights (frames whose windows reach before a file's start count little). An edited copy keeps its
//! texture (r 0.6 to 1 for most edits on eval/'s set); two takes of a noise-like stroke do not (snares, toms,
//! tabla: r 0 to 0.3). Takes of tonal strokes (glasses, bells, agogos) share their partials' beating and score
//! as high as copies: the speckle does not separate those (eval/README.md, "Near-duplicates").

use realfft::RealFftPlanner;

/// Frames of the view (0.4 s at 100 frames/s from the onset).
pub const SPECKLE_FRAMES: usize = 40;
/// Bins of the view: a quarter semitone each, from [`SPECKLE_LO`] Hz up to 6 kHz.
pub const SPECKLE_BINS: usize = 192;
/// Bins per semitone.
pub const SPECKLE_PER_SEMITONE: f32 = 4.0;
/// Lowest edge of the view, Hz (6 kHz four octaves down).
pub const SPECKLE_LO: f32 = 375.0;
/// Window of each spectrum, seconds (2,048 samples at 44.1 kHz: about 22 Hz of resolution).
pub const SPECKLE_WINDOW_S: f32 = 0.046;
/// Cells this far below the view's loudest cell are floored, dB.
pub const FLOOR_DB: f32 = 40.0;
/// Quantisation step of the residual, dB.
pub const RESIDUAL_STEP_DB: f32 = 2.0;
/// Half-widths of the moving average removed (frames, bins).
/// Half-width of the moving average removed, frames (30 ms either way).
const SMOOTH_T: usize = 3;

/// The speckle view of `samples` (mono, `rate` Hz) whose sound starts at sample `onset`, frame `t` centred on
/// sample `onset + t * hop` (samples outside `samples` are silence). Empty when `rate` is too low for 6 kHz.
pub fn speckle_view(samples: &[f32], rate: u32, onset: usize, hop: usize) -> Vec<u8> {
    if rate < 8_000 || hop == 0 {
        return Vec::new();
    }
    let wlen = ((SPECKLE_WINDOW_S * rate as f32).round() as usize).max(2);
    let n = wlen.next_power_of_two();
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let edges: Vec<f32> = (0..=SPECKLE_BINS)
        .map(|b| SPECKLE_LO * 2f32.powf(b as f32 / (12.0 * SPECKLE_PER_SEMITONE)))
        .collect();
    let shares = crate::soundprint::bin_bands(rate, n, &edges);
    let win = crate::soundprint::hann(wlen);
    let mut input = vec![0f32; n];
    let mut spectrum = fft.make_output_vec();
    let mut db = vec![0f32; SPECKLE_FRAMES * SPECKLE_BINS];
    let mut src = vec![0f32; wlen];
    for t in 0..SPECKLE_FRAMES {
        let centre = (onset + t * hop) as isize;
        let start = centre - (wlen / 2) as isize;
        for (i, s) in src.iter_mut().enumerate() {
            let at = start + i as isize;
            *s = if at >= 0 {
                samples.get(at as usize).copied().unwrap_or(0.0)
            } else {
                0.0
            };
        }
        let row = &mut db[t * SPECKLE_BINS..(t + 1) * SPECKLE_BINS];
        crate::soundprint::band_powers(&*fft, &win, &src, &mut input, &mut spectrum, &shares, row);
    }
    encode(&mut db)
}

/// Powers (frame-major) to the stored bytes: dB floored [`FLOOR_DB`] below the loudest cell, less each bin's
/// moving average over time, quantised with each cell's height.
fn encode(p: &mut [f32]) -> Vec<u8> {
    let top = p.iter().copied().fold(0.0, f32::max);
    if top <= 0.0 {
        return vec![0; p.len()];
    }
    let floor = 10.0 * top.log10() - FLOOR_DB;
    for x in p.iter_mut() {
        *x = (10.0 * x.max(1e-30).log10()).max(floor);
    }
    let smooth = time_smooth(p);
    p.iter()
        .zip(&smooth)
        .map(|(&d, &s)| {
            let r = ((d - s) / RESIDUAL_STEP_DB).round().clamp(-8.0, 7.0) as i32 + 8;
            let h = ((d - floor) / FLOOR_DB * 15.0).round().clamp(0.0, 15.0) as u8;
            ((r as u8) << 4) | h
        })
        .collect()
}

/// The moving average of a frame-major view over `2 SMOOTH_T + 1` frames, bin by bin (edges averaged over what
/// exists): each bin's level and decay, which a second take shares; what is left is how it fluctuates.
fn time_smooth(x: &[f32]) -> Vec<f32> {
    let (t_n, k_n) = (x.len() / SPECKLE_BINS, SPECKLE_BINS);
    let mut out = vec![0f32; x.len()];
    for t in 0..t_n {
        let (lo, hi) = (t.saturating_sub(SMOOTH_T), (t + SMOOTH_T + 1).min(t_n));
        for k in 0..k_n {
            out[t * k_n + k] = (lo..hi).map(|u| x[u * k_n + k]).sum::<f32>() / (hi - lo) as f32;
        }
    }
    out
}

/// A stored cell's residual, dB.
fn residual(c: u8) -> f32 {
    ((c >> 4) as f32 - 8.0) * RESIDUAL_STEP_DB
}

/// Where two views align: frame `t` of `a` meets frame `t / scale + lag` of `b` (fractional), and bin `k` of
/// `a` meets bin `k + shift` of `b`.
#[derive(Debug, Clone, Copy)]
pub struct SpeckleAlignment {
    /// Frames of `b` at `a`'s frame 0.
    pub lag: f32,
    /// Time scale (`a`'s length over `b`'s).
    pub scale: f32,
    /// Bins of `b` above `a` ([`SPECKLE_PER_SEMITONE`] per semitone).
    pub shift: f32,
    /// Frames of each view whose windows reach before its file's first sample (an abrupt start, a trim,
    /// splatters across the bins): they weigh [`RAMP_WEIGHT`].
    pub ramp_a: usize,
    pub ramp_b: usize,
}

/// Weight of a frame whose window reaches before the file's first sample.
const RAMP_WEIGHT: f32 = 0.05;

/// Lags searched around the onsets' alignment, frames (a trim of up to 120 ms that misled the band stage).
const TRIM_LAGS: i32 = 12;

/// The least total cell weight for a score: less is too little sound to say.
const MIN_WEIGHT: f32 = 1.0;

/// The texture agreement of two views at `at` (refined by a frame and a quarter semitone either way) or, when
/// `at` is near, with their onsets aligned (give or take [`TRIM_LAGS`] frames): the best
/// weighted Pearson's r of their residuals (each cell weighted by the lower of its two heights), or `None` when
/// a view is empty or the overlap holds too little sound.
pub fn speckle_r(a: &[u8], b: &[u8], at: SpeckleAlignment) -> Option<f32> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let shift = at.shift.round() as isize;
    let r = |lag: f32, scale: f32, shift: isize| r_at(a, b, &at, lag, scale, shift);
    let best = |x: Option<f32>, y: Option<f32>| match (x, y) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    // The alignment found, a frame and a quarter semitone either way.
    let mut out = None;
    for dt in [-1.0f32, 0.0, 1.0] {
        for ds in [-1, 0, 1] {
            out = best(out, r(at.lag + dt, at.scale, shift + ds));
        }
    }
    // The onsets aligned (both views start at their sound's onset), give or take a short trim, when the alignment
    // found is near them: a fade or a trim can mislead the band stage's lag by a few frames.
    if at.lag.abs() <= TRIM_LAGS as f32 {
        let near = (-TRIM_LAGS..=TRIM_LAGS)
            .filter_map(|dt| r(dt as f32, 1.0, shift).map(|r| (r, dt)))
            .max_by(|x, y| x.0.total_cmp(&y.0));
        if let Some((r0, dt)) = near {
            out = best(out, Some(r0));
            for ds in [-1, 1] {
                out = best(out, r(dt as f32, 1.0, shift + ds));
            }
        }
    }
    out
}

/// The weighted Pearson's r of the residuals when frame `t` of `a` meets frame `t / scale + lag` of `b` and bin
/// `k` meets bin `k + shift`; `None` when fewer than half of `a`'s frames meet one of `b` or the cells met hold
/// too little sound.
fn r_at(
    a: &[u8],
    b: &[u8],
    at: &SpeckleAlignment,
    lag: f32,
    scale: f32,
    shift: isize,
) -> Option<f32> {
    let (ta, tb) = (a.len() / SPECKLE_BINS, b.len() / SPECKLE_BINS);
    let mut m = crate::soundprint::Moments::default();
    let mut met = 0;
    for t in 0..ta {
        let u = (t as f32 / scale + lag).round();
        if u < 0.0 || u >= tb as f32 {
            continue;
        }
        let u = u as usize;
        met += 1;
        let fw = if t < at.ramp_a || u < at.ramp_b {
            RAMP_WEIGHT
        } else {
            1.0
        };
        let (ra, rb) = (
            &a[t * SPECKLE_BINS..(t + 1) * SPECKLE_BINS],
            &b[u * SPECKLE_BINS..(u + 1) * SPECKLE_BINS],
        );
        let (lo, hi) = (
            (-shift).max(0) as usize,
            (SPECKLE_BINS as isize - shift.max(0)).max(0) as usize,
        );
        for k in lo..hi {
            let (ca, cb) = (ra[k], rb[(k as isize + shift) as usize]);
            let w = fw * ((ca & 15).min(cb & 15)) as f32 / 15.0;
            if w > 0.0 {
                m.add(w, residual(ca), residual(cb));
            }
        }
    }
    if 2 * met < ta || m.s < MIN_WEIGHT {
        return None;
    }
    let (cov, va, vb) = m.covariances();
    if va <= 1e-6 || vb <= 1e-6 {
        return None;
    }
    Some(cov / (va * vb).sqrt())
}
