//! The wave view of a sound print: the onset's waveform itself, band-limited and companded, which an edited copy
//! keeps sample for sample (a trim, a fade, a gain change, a codec) and a second take of the same stroke does not.
//!
//! The print's other views are spectra: a trim that cuts a kick's attack, or a fade over it, changes every
//! spectrum the detail and speckle views hold of a 0.2 s sound, and those copies fell below the default while
//! second takes of the same drum passed (eval/README.md, "Near-duplicates"). What a trimmed, faded or re-encoded
//! copy keeps is the waveform: after the edit, the copy's samples are the original's (scaled, slightly noisy), at
//! some lag. [`wave_view`] keeps [`WAVE_S`] seconds from just before the onset, low-passed at [`WAVE_CUTOFF`] Hz and
//! resampled to [`WAVE_RATE`] Hz with an FFT (so that any input rate gives the same view), each sample one
//! mu-law byte of the view's peak. [`wave_r`] finds the lag at which the two views agree best, to a fraction of a
//! sample, and scores how well they agree there block by block (gain within a block does not count, so that a
//! fade does not), each block weighted by the quieter of its two energies.

use realfft::num_complex::Complex32;
use realfft::RealFftPlanner;

use crate::soundprint::overlap;

/// Rate of the view, Hz.
pub const WAVE_RATE: usize = 4_000;
/// Seconds of input resampled at once (any input rate in whole Hz holds a whole number of samples of it).
pub const WAVE_S: usize = 1;
/// Samples of the view (one second).
pub const WAVE_LEN: usize = WAVE_RATE;
/// Upper edge of the pass band, Hz (a raised-cosine taper from [`WAVE_TAPER`] Hz below it).
pub const WAVE_CUTOFF: f32 = 1_500.0;
/// Width of the taper, Hz.
pub const WAVE_TAPER: f32 = 300.0;
/// Seconds of the file kept before the onset.
pub const WAVE_PRE_S: f32 = 0.02;
/// Mu of the mu-law companding.
const MU: f32 = 255.0;
/// Samples of a block in [`wave_r`] (16 ms): a fade's gain hardly changes within one.
const BLOCK: usize = 64;

/// The wave view of `samples` (mono, `rate` Hz) whose sound starts at sample `onset` (samples outside `samples`
/// are silence). Empty when `rate` is below 8 kHz or the view is silent.
pub fn wave_view(samples: &[f32], rate: u32, onset: usize) -> Vec<u8> {
    let rate = rate as usize;
    if rate < 8_000 {
        return Vec::new();
    }
    let len = rate * WAVE_S;
    let start = onset.saturating_sub((WAVE_PRE_S * rate as f32) as usize);
    // One planner per thread: a decoder thread prints file after file, mostly at one rate, and planning a
    // transform of 2 s at 44.1 kHz (its twiddles) cost as much as running it.
    let (fwd, inv) = VIEW_PLANNER.with_borrow_mut(|p| {
        (
            p.plan_fft_forward(2 * len),
            p.plan_fft_inverse(2 * WAVE_RATE * WAVE_S),
        )
    });
    let mut input = vec![0f32; 2 * len];
    let end = (start + len).min(samples.len());
    if start < end {
        input[..end - start].copy_from_slice(&samples[start..end]);
    }
    let mut spectrum = fwd.make_output_vec();
    if fwd.process(&mut input, &mut spectrum).is_err() {
        return Vec::new();
    }
    // Bin k is k / (2 WAVE_S) Hz in both transforms.
    let mut out_spec = inv.make_input_vec();
    for (k, o) in out_spec.iter_mut().enumerate() {
        let f = k as f32 / (2 * WAVE_S) as f32;
        let g = if f <= WAVE_CUTOFF - WAVE_TAPER {
            1.0
        } else if f >= WAVE_CUTOFF {
            0.0
        } else {
            0.5 + 0.5 * (std::f32::consts::PI * (f - WAVE_CUTOFF + WAVE_TAPER) / WAVE_TAPER).cos()
        };
        *o = spectrum.get(k).copied().unwrap_or_default() * g;
    }
    out_spec[0].im = 0.0;
    let last = out_spec.len() - 1;
    out_spec[last] = Complex32::new(0.0, 0.0);
    let mut out = inv.make_output_vec();
    if inv.process(&mut out_spec, &mut out).is_err() {
        return Vec::new();
    }
    let out = &out[..WAVE_LEN];
    let peak = out.iter().fold(0f32, |m, x| m.max(x.abs()));
    if peak <= 0.0 || !peak.is_finite() {
        return Vec::new();
    }
    out.iter()
        .map(|&x| {
            let y = (1.0 + MU * x.abs() / peak).ln() / (1.0 + MU).ln();
            ((y * 127.0).round() as i32 * if x < 0.0 { -1 } else { 1 }) as i8 as u8
        })
        .collect()
}

/// The stored bytes as samples (a table of the 256 mu-law values).
fn decode(v: &[u8]) -> Vec<f32> {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        std::array::from_fn(|b| {
            let y = (b as u8 as i8) as f32 / 127.0;
            y.signum() * ((1.0 + MU).powf(y.abs()) - 1.0) / MU
        })
    });
    v.iter().map(|&b| table[b as usize]).collect()
}

/// How two wave views agree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaveMatch {
    /// The block-wise agreement, in [-1, 1]: Pearson's r of each block's samples (no mean removed), weighted by
    /// the quieter of the two blocks' energies.
    pub r: f32,
    /// Where `b`'s view starts against `a`'s, seconds (`b` sample `i` lines up with `a` sample `i + lag`).
    pub lag_s: f32,
}

/// Least share of each view's energy that the overlap at a lag must hold...
const MIN_SHARE_EACH: f32 = 0.1;
/// ... and of one of the two (a trim that took a kick's attack leaves the original's tail, 21 % of its energy, to
/// overlap with the whole copy).
const MIN_SHARE_ONE: f32 = 0.5;

/// The best agreement of two wave views over every lag at which their overlap holds enough of both (None when
/// either is empty or no lag qualifies).
pub fn wave_r(a: &[u8], b: &[u8]) -> Option<WaveMatch> {
    if a.len() != WAVE_LEN || b.len() != WAVE_LEN {
        return None;
    }
    let (x, y) = (decode(a), decode(b));
    let n = 2 * WAVE_LEN;
    let (fwd, inv) = PLANS.with(|p| p.clone());
    let spec = |v: &[f32]| {
        let mut buf = vec![0f32; n];
        buf[..v.len()].copy_from_slice(v);
        let mut s = fwd.make_output_vec();
        fwd.process(&mut buf, &mut s).ok().map(|_| s)
    };
    let (sx, sy) = (spec(&x)?, spec(&y)?);
    let cross: Vec<Complex32> = sx.iter().zip(&sy).map(|(p, q)| p * q.conj()).collect();
    let mut c = inv.make_output_vec();
    // c[lag mod n] = n sum_i x[i + lag] y[i].
    inv.process(&mut cross.clone(), &mut c).ok()?;
    let prefix = |v: &[f32]| {
        let mut p = Vec::with_capacity(v.len() + 1);
        p.push(0f64);
        for s in v {
            p.push(p.last().copied().unwrap_or(0.0) + (*s as f64) * (*s as f64));
        }
        p
    };
    let (px, py) = (prefix(&x), prefix(&y));
    let (ex, ey) = (px[WAVE_LEN], py[WAVE_LEN]);
    if ex <= 0.0 || ey <= 0.0 {
        return None;
    }
    let mut best: Option<(f32, isize)> = None;
    let l = WAVE_LEN as isize;
    for lag in -(l - 1)..l {
        let (x0, y0, ov) = overlap(WAVE_LEN, WAVE_LEN, lag);
        let (ox, oy) = (px[x0 + ov] - px[x0], py[y0 + ov] - py[y0]);
        let (sx, sy) = ((ox / ex) as f32, (oy / ey) as f32);
        if sx < MIN_SHARE_EACH || sy < MIN_SHARE_EACH || sx.max(sy) < MIN_SHARE_ONE {
            continue;
        }
        let r = c[lag.rem_euclid(n as isize) as usize] / n as f32 / ((ox * oy).sqrt() as f32);
        if best.is_none_or(|(b, _)| r > b) {
            best = Some((r, lag));
        }
    }
    let (_, lag) = best?;
    // The fraction of a sample: y delayed by `f` (its spectrum times e^{-i w f}), the overlap's correlation at
    // lag + f read from the cross spectrum directly.
    let at = |f: f32| -> f32 {
        let mut sum = 0f64;
        for (k, z, e) in rotated(&cross, (lag as f64 + f as f64) / n as f64) {
            let e = z.re as f64 * e.re - z.im as f64 * e.im;
            sum += if k == 0 || k == n / 2 { e } else { 2.0 * e };
        }
        sum as f32
    };
    let mut f_best = (0.0f32, at(0.0));
    for s in 1..=8 {
        for f in [s as f32 / 16.0, -(s as f32) / 16.0] {
            let v = at(f);
            if v > f_best.1 {
                f_best = (f, v);
            }
        }
    }
    // y shifted by f_best.0 samples: sample i of the shifted y is y(i - f).
    let frac = f_best.0;
    let mut shifted_spec: Vec<Complex32> = rotated(&sy, -(frac as f64) / n as f64)
        .map(|(_, z, e)| z * Complex32::new(e.re as f32, e.im as f32))
        .collect();
    shifted_spec[0].im = 0.0;
    let last = shifted_spec.len() - 1;
    shifted_spec[last].im = 0.0;
    let mut ys = inv.make_output_vec();
    inv.process(&mut shifted_spec, &mut ys).ok()?;
    ys.iter_mut().for_each(|v| *v /= n as f32);
    let (x0, y0, ov) = overlap(WAVE_LEN, WAVE_LEN, lag);
    let r = block_r(&x[x0..x0 + ov], &ys[y0..y0 + ov])?;
    Some(WaveMatch {
        r,
        lag_s: (lag as f32 + frac) / WAVE_RATE as f32,
    })
}

type Plans = (
    std::sync::Arc<dyn realfft::RealToComplex<f32>>,
    std::sync::Arc<dyn realfft::ComplexToReal<f32>>,
);

thread_local! {
    /// The planner of [`wave_view`]'s transforms (it keeps each size's plan).
    static VIEW_PLANNER: std::cell::RefCell<RealFftPlanner<f32>> = std::cell::RefCell::new(RealFftPlanner::new());
    /// The transforms of [`wave_r`] (two views, zero-padded to twice their length), planned once per thread.
    static PLANS: Plans = {
        let mut planner = RealFftPlanner::<f32>::new();
        (planner.plan_fft_forward(2 * WAVE_LEN), planner.plan_fft_inverse(2 * WAVE_LEN))
    };
}

/// Each bin `k` of `spectrum` with `e^{2 pi i k t}` (a phasor stepped bin by bin, in f64).
fn rotated(
    spectrum: &[Complex32],
    t: f64,
) -> impl Iterator<Item = (usize, Complex32, realfft::num_complex::Complex64)> + '_ {
    let w = 2.0 * std::f64::consts::PI * t;
    let step = realfft::num_complex::Complex64::new(w.cos(), w.sin());
    let mut e = realfft::num_complex::Complex64::new(1.0, 0.0);
    spectrum.iter().enumerate().map(move |(k, z)| {
        let out = (k, *z, e);
        e *= step;
        out
    })
}

/// Pearson's r (no mean removed) of each [`BLOCK`] of `xo` and `yo`, averaged with each block weighted by the
/// lower of its two energies.
fn block_r(xo: &[f32], yo: &[f32]) -> Option<f32> {
    let (mut num, mut den) = (0f64, 0f64);
    for (bx, by) in xo.chunks(BLOCK).zip(yo.chunks(BLOCK)) {
        let (mut sxx, mut syy, mut sxy) = (0f64, 0f64, 0f64);
        for (&p, &q) in bx.iter().zip(by) {
            sxx += (p * p) as f64;
            syy += (q * q) as f64;
            sxy += (p * q) as f64;
        }
        if sxx <= 0.0 || syy <= 0.0 {
            continue;
        }
        let w = sxx.min(syy);
        num += w * sxy / (sxx * syy).sqrt();
        den += w;
    }
    (den > 0.0).then(|| (num / den) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kick(rate: u32, len_s: f32, seed: u32) -> Vec<f32> {
        let n = (rate as f32 * len_s) as usize;
        let mut s = seed;
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let f = 60.0 + seed as f32 + 200.0 * (-t * 30.0).exp();
                (-t * 8.0).exp() * (2.0 * std::f32::consts::PI * f * t).sin()
                    + 0.3 * (-t * 40.0).exp() * noise
            })
            .collect()
    }

    #[test]
    fn a_trimmed_copy_agrees_and_a_second_take_does_not() {
        let rate = 44_100;
        let a = kick(rate, 0.8, 1);
        let trimmed: Vec<f32> = a[(0.05 * rate as f32) as usize..].to_vec();
        let take = kick(rate, 0.8, 2);
        let va = wave_view(&a, rate, 0);
        let m = wave_r(&va, &wave_view(&trimmed, rate, 0)).expect("copy");
        assert!(m.r > 0.99, "{m:?}");
        let t = wave_r(&va, &wave_view(&take, rate, 0)).expect("take");
        assert!(t.r < 0.9, "{t:?}");
    }

    #[test]
    fn any_input_rate_gives_the_same_view() {
        // The same continuous kick sampled at 44.1 and 48 kHz, 20 ms of silence first.
        let at = |rate: u32| -> Vec<f32> {
            let mut x = vec![0.0; rate as usize / 50];
            x.extend(kick(rate, 0.8, 1).iter().map(|s| s * 0.5));
            x
        };
        let (a, b) = (at(44_100), at(48_000));
        let m = wave_r(&wave_view(&a, 44_100, 882), &wave_view(&b, 48_000, 960)).expect("match");
        assert!(m.r > 0.995, "{m:?}");
        assert!(m.lag_s.abs() < 0.5 / WAVE_RATE as f32, "{m:?}");
        assert!(wave_view(&a, 7_999, 0).is_empty() && wave_view(&[0.0; 100], 44_100, 0).is_empty());
        assert!(wave_r(&[], &wave_view(&a, 44_100, 0)).is_none());
    }
}
