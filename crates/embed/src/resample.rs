//! Streaming resampling of mono f32 audio to the model's rate, with soxr HQ's filter (what `librosa.load` uses).
//!
//! [`StreamResampler`] is a polyphase windowed-sinc resampler for the exact rational ratio `out / in`. Its low-pass
//! filter has the response libsoxr's "HQ" recipe asks for (`soxr_quality_spec(SOXR_HQ, 0)`, the default of
//! `librosa.load` through python-soxr): linear phase, pass band flat to `1 - 0.05 / TO_3dB(rej)` = 0.9136 of the
//! lower rate's Nyquist frequency, stop band from the Nyquist frequency on, `rej` = 20 bits x 6.02 = 120.4 dB of
//! rejection. It is a Kaiser-windowed sinc designed from those three numbers, not soxr's own multi-stage design, but
//! the response is what matters downstream: the pass-band edge decides how much of a low-rate source's top octave
//! survives, and aiSFX's `log10(1 + 10000 x)` compression makes that visible (rubato's FFT resampler, flat to about
//! 0.98 of Nyquist, put aiSFX vectors of the committed 8 to 32 kHz test files at cosine 0.990 to 0.998 from the
//! reference; this filter at 0.99995 or more).
//!
//! Output sample `j` is the filtered input at time `j / out_rate` (samples before the start and after the end are
//! zeros, as soxr flushes), computed from a table of one filter per phase (`out / gcd` phases; ratios with more than
//! [`MAX_PHASES`] phases interpolate linearly between the table's neighbouring phases). Sums are in f32, over
//! [`LANES`] independent partial sums combined by a fixed tree (each phase's filter padded with zero taps to a multiple
//! of [`LANES`]), so that the compiler vectorises them; on x86-64 an AVX version doing the same is picked at run
//! time, which computes two consecutive outputs at once (their partial sums interleaved, so that twice as many
//! additions are in flight). All perform the same IEEE operations in the same order for each output (no FMA), so
//! the output does not depend on the CPU or on how the input is cut into pieces. The phase of each output is
//! stepped by integer addition, not divided out per sample, and the exact phase table is stored in output order,
//! so consecutive outputs read consecutive rows.
//!
//! **Length.** `N` input samples give exactly as many output samples as `librosa.load(path, sr=out)` returns
//! (librosa 0.11's `resample`): `ceil(N * (out / in))` computed in f64, as `int(np.ceil(n * float(out) / in))`. The
//! resampled signal itself (soxr's output) has `round(N * out / in)` samples; librosa's `fix_length` pads it with
//! zeros to that count, so float rounding can add one trailing zero (44.1 kHz: 176400 samples give 192001 at 48 kHz).
//! The zero matters: it changes how CLAP's `repeatpad` tiles a short file and how many frames aiSFX sees, so avx
//! reproduces it ([`output_len`]). Equal rates pass samples through untouched, bit for bit.

use std::sync::{Arc, Mutex};

/// Most filter phases tabulated; ratios needing more interpolate between phases.
pub const MAX_PHASES: u64 = 4096;
/// Independent partial sums of one output sample; each phase's taps are padded with zeros to a multiple of it.
const LANES: usize = 32;
/// libsoxr HQ: 20 bits of precision, i.e. `20 * 20 log10(2)` dB of stop-band rejection.
const REJECTION_DB: f64 = 20.0 * 6.020_599_913_279_624;

/// A streaming resampler of one mono signal.
pub struct StreamResampler {
    in_rate: u32,
    out_rate: u32,
    filter: Option<Arc<Filter>>,
    /// Input samples from absolute index `buf_start - pad` (the first `pad` of them zeros before the signal).
    buf: Vec<f32>,
    buf_start: u64,
    /// The next output sample's index.
    next_out: u64,
    total_in: u64,
    emitted: u64,
    finished: bool,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("in_rate", &self.in_rate)
            .field("out_rate", &self.out_rate)
            .field("total_in", &self.total_in)
            .field("emitted", &self.emitted)
            .finish_non_exhaustive()
    }
}

/// The polyphase filter of one ratio.
struct Filter {
    /// `out / gcd`: the ratio is `up / down`, and output `j` lies at input position `j * down / up`.
    up: u64,
    /// `in / gcd`.
    down: u64,
    /// Taps per phase (a multiple of [`LANES`]: the filter's `2 * half + 2` taps, then zeros); tap `k` of a phase
    /// multiplies input `n0 + k - half`.
    taps: usize,
    half: usize,
    /// Phases tabulated: `up` when `up <= MAX_PHASES` (exact), else `MAX_PHASES + 1` (interpolated).
    phases: u64,
    /// One row of `taps` per phase. Exact: row `k` is the phase of every output `j` with `j mod up == k` (phase
    /// `k * down mod up`), so consecutive outputs read consecutive rows, which the CPU prefetches (in phase order
    /// they were `down mod up` rows apart, about 10 KB for 44.1 to 48 kHz). Interpolated: row `p` is phase
    /// `p / MAX_PHASES`.
    table: Vec<f32>,
}

/// Filters built so far, by `(in_rate, out_rate)`: a library has few distinct rates, and building a filter costs
/// up to tens of milliseconds.
static FILTERS: Mutex<Vec<FilterEntry>> = Mutex::new(Vec::new());

/// `(in_rate, out_rate)` and its filter.
type FilterEntry = ((u32, u32), Arc<Filter>);

impl Filter {
    /// The filter for `in_rate -> out_rate`, built once per process.
    fn shared(in_rate: u32, out_rate: u32) -> Arc<Filter> {
        let key = (in_rate, out_rate);
        if let Ok(cache) = FILTERS.lock() {
            if let Some((_, f)) = cache.iter().find(|(k, _)| *k == key) {
                return f.clone();
            }
        }
        let f = Arc::new(Filter::new(in_rate, out_rate));
        if let Ok(mut cache) = FILTERS.lock() {
            if cache.len() >= 64 {
                cache.remove(0);
            }
            cache.push((key, f.clone()));
        }
        f
    }

    fn new(in_rate: u32, out_rate: u32) -> Filter {
        let g = gcd(in_rate as u64, out_rate as u64);
        let (up, down) = (out_rate as u64 / g, in_rate as u64 / g);
        let fin = in_rate as f64;
        let nyquist = in_rate.min(out_rate) as f64 / 2.0;
        // soxr: TO_3dB(a) = (1.6e-6 a - 7.5e-4) a + 0.646; passband_end = 1 - 0.05 / TO_3dB(rej).
        let a = REJECTION_DB;
        let pass_end = 1.0 - 0.05 / ((1.6e-6 * a - 7.5e-4) * a + 0.646);
        let cutoff = 0.5 * (pass_end + 1.0) * nyquist; // Hz, the filter's -6 dB point
        let transition = (1.0 - pass_end) * nyquist; // Hz
                                                     // Kaiser's formulas: beta for the rejection, length (taps at the lower rate) for the transition width.
        let beta = 0.1102 * (a - 8.7);
        let taps_low = (a - 7.95) / (14.36 * transition / (2.0 * nyquist));
        let half_s = taps_low / 2.0 / (2.0 * nyquist); // half the window, seconds
        let half = (half_s * fin).ceil() as usize;
        let taps = (2 * half + 2).next_multiple_of(LANES);
        let exact = up <= MAX_PHASES;
        let phases = if exact { up } else { MAX_PHASES + 1 };
        let i0_beta = bessel_i0(beta);
        let mut table = Vec::with_capacity(phases as usize * taps);
        for row in 0..phases {
            let frac = if exact {
                ((row * down) % up) as f64 / up as f64
            } else {
                row as f64 / MAX_PHASES as f64
            };
            for k in 0..taps {
                // Input n0 + k - half lies (frac - k + half) input samples before the output instant.
                let tau = (frac - k as f64 + half as f64) / fin;
                let r = tau / half_s;
                let h = if r.abs() <= 1.0 {
                    let w = bessel_i0(beta * (1.0 - r * r).sqrt()) / i0_beta;
                    2.0 * cutoff / fin * sinc(2.0 * cutoff * tau) * w
                } else {
                    0.0
                };
                table.push(h as f32);
            }
        }
        Filter {
            up,
            down,
            taps,
            half,
            phases,
            table,
        }
    }

    /// The input index `n0` and phase remainder `rem` of output `j`: output `j` lies at input position
    /// `n0 + rem / up`.
    fn position(&self, j: u64) -> (u64, u64) {
        let pos = j as u128 * self.down as u128;
        (
            (pos / self.up as u128) as u64,
            (pos % self.up as u128) as u64,
        )
    }

    /// Output `j` (`j mod up == k`), at input position `n0 + rem / up`, from `x`, which holds inputs from absolute
    /// index `x_start - half` on (all it needs).
    fn output(&self, k: u64, n0: u64, rem: u64, x: &[f32], x_start: u64) -> f32 {
        let off = (n0 - x_start) as usize; // x[off] is input n0 - half
        let xs = &x[off..off + self.taps];
        if self.phases == self.up {
            let row = &self.table[k as usize * self.taps..][..self.taps];
            dot(row, xs)
        } else {
            let q = rem as f64 * MAX_PHASES as f64 / self.up as f64;
            let p = (q.floor() as usize).min(MAX_PHASES as usize - 1);
            let t = (q - p as f64) as f32;
            let a = &self.table[p * self.taps..][..self.taps];
            let b = &self.table[(p + 1) * self.taps..][..self.taps];
            (1.0 - t) * dot(a, xs) + t * dot(b, xs)
        }
    }

    /// [`output`](Self::output) of outputs with rows `k` and `k1` at whole input positions `n0` and `n1`, for an
    /// exact table (`phases == up`).
    fn output2(&self, k: u64, n0: u64, k1: u64, n1: u64, x: &[f32], x_start: u64) -> (f32, f32) {
        debug_assert_eq!(self.phases, self.up);
        let xs = |n: u64| &x[(n - x_start) as usize..][..self.taps];
        let row = |k: u64| &self.table[k as usize * self.taps..][..self.taps];
        dot2(row(k), xs(n0), row(k1), xs(n1))
    }
}

/// `a · b` for slices of equal length, a multiple of [`LANES`]: [`LANES`] partial sums, then a fixed pairwise
/// tree (lanes `i` and `i + w` added for `w` = 16, 8, 4, 2, 1). [`dot_avx`] performs the same operations in the
/// same order.
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, _) = a.as_chunks::<LANES>();
    let (cb, _) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0]
}

/// [`dot_portable`] with AVX: lanes `8k..8k + 8` of the partial sums in register `k` (multiply, then add: no FMA,
/// so every sum is rounded as in the portable code).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn dot_avx(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_ps(); LANES / 8];
    let (ca, _) = a.as_chunks::<LANES>();
    let (cb, _) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for (k, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `x` and `y` hold LANES = 32 floats, so lanes 8k..8k + 8 (k < 4) are in bounds; unaligned
            // loads have no alignment requirement.
            let (xv, yv) = unsafe {
                (
                    _mm256_loadu_ps(x.as_ptr().add(8 * k)),
                    _mm256_loadu_ps(y.as_ptr().add(8 * k)),
                )
            };
            *acc = _mm256_add_ps(*acc, _mm256_mul_ps(xv, yv));
        }
    }
    reduce_avx(acc)
}

/// The partial sums of [`dot_avx`] added by [`dot_portable`]'s tree.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn reduce_avx(acc: [std::arch::x86_64::__m256; LANES / 8]) -> f32 {
    use std::arch::x86_64::*;
    // w = 16: registers 0 += 2, 1 += 3; w = 8: 0 += 1; then 4, 2, 1 within the register.
    let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
    let w = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let w = _mm_add_ps(w, _mm_movehl_ps(w, w));
    _mm_cvtss_f32(_mm_add_ss(w, _mm_movehdup_ps(w)))
}

/// [`dot_avx`] of two pairs at once (`a · b`, `c · d`, all of one length): each sum is computed exactly as
/// [`dot_avx`] computes it, but the two sets of partial sums interleave, so that eight additions are in flight
/// instead of four (one output's sums are bound by the latency of its additions).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn dot2_avx(a: &[f32], b: &[f32], c: &[f32], d: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    let mut acc1 = [_mm256_setzero_ps(); LANES / 8];
    let mut acc2 = [_mm256_setzero_ps(); LANES / 8];
    let (ca, _) = a.as_chunks::<LANES>();
    let (cb, _) = b.as_chunks::<LANES>();
    let (cc, _) = c.as_chunks::<LANES>();
    let (cd, _) = d.as_chunks::<LANES>();
    for (((x, y), z), u) in ca.iter().zip(cb).zip(cc).zip(cd) {
        for k in 0..LANES / 8 {
            // SAFETY: `x`, `y`, `z` and `u` hold LANES = 32 floats, so lanes 8k..8k + 8 (k < 4) are in bounds;
            // unaligned loads have no alignment requirement.
            unsafe {
                let (xv, yv) = (
                    _mm256_loadu_ps(x.as_ptr().add(8 * k)),
                    _mm256_loadu_ps(y.as_ptr().add(8 * k)),
                );
                let (zv, uv) = (
                    _mm256_loadu_ps(z.as_ptr().add(8 * k)),
                    _mm256_loadu_ps(u.as_ptr().add(8 * k)),
                );
                acc1[k] = _mm256_add_ps(acc1[k], _mm256_mul_ps(xv, yv));
                acc2[k] = _mm256_add_ps(acc2[k], _mm256_mul_ps(zv, uv));
            }
        }
    }
    (reduce_avx(acc1), reduce_avx(acc2))
}

/// `(a · b, c · d)` as two [`dot`]s, with AVX when the CPU has it (bit-identical either way).
#[inline]
fn dot2(a: &[f32], b: &[f32], c: &[f32], d: &[f32]) -> (f32, f32) {
    debug_assert!(a.len() == b.len() && c.len() == d.len() && a.len() == c.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked just above), the only requirement of `dot2_avx`.
            return unsafe { dot2_avx(a, b, c, d) };
        }
    }
    (dot_portable(a, b), dot_portable(c, d))
}

/// [`dot_portable`], with AVX when the CPU has it (bit-identical either way).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert!(a.len() == b.len() && a.len().is_multiple_of(LANES));
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked just above), the only requirement of `dot_avx`.
            return unsafe { dot_avx(a, b) };
        }
    }
    dot_portable(a, b)
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// The modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, q) = (1.0f64, 1.0f64, x * x / 4.0);
    for k in 1..500 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

impl StreamResampler {
    /// A resampler from `in_rate` to `out_rate` Hz; both must be non-zero.
    pub fn new(in_rate: u32, out_rate: u32) -> Result<Self, String> {
        if in_rate == 0 || out_rate == 0 {
            return Err(format!(
                "cannot resample from {in_rate} Hz to {out_rate} Hz"
            ));
        }
        let filter = (in_rate != out_rate).then(|| Filter::shared(in_rate, out_rate));
        let mut buf = Vec::new();
        if let Some(f) = &filter {
            buf.resize(f.half, 0.0); // zeros before the signal
        }
        Ok(StreamResampler {
            in_rate,
            out_rate,
            filter,
            buf,
            buf_start: 0,
            next_out: 0,
            total_in: 0,
            emitted: 0,
            finished: false,
        })
    }

    /// The output rate in Hz.
    pub fn out_rate(&self) -> u32 {
        self.out_rate
    }

    /// Output samples `n` input samples resample to: [`output_len`] (`librosa.load`'s count).
    pub fn output_len(&self, n: u64) -> u64 {
        output_len(n, self.in_rate, self.out_rate)
    }

    /// Resamples `input` and appends what is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        debug_assert!(!self.finished, "push after finish");
        self.total_in += input.len() as u64;
        if self.filter.is_none() {
            out.extend_from_slice(input);
            self.emitted += input.len() as u64;
            return;
        }
        self.buf.extend_from_slice(input);
        self.run(u64::MAX, out);
    }

    /// Computes every output sample whose inputs are buffered, up to `limit` samples in all, then drops inputs no
    /// later output needs.
    fn run(&mut self, limit: u64, out: &mut Vec<f32>) {
        let Some(f) = self.filter.clone() else { return };
        // Absolute index one past the last buffered input.
        let end = self.buf_start + (self.buf.len() - f.half) as u64;
        let (mut n0, mut rem) = f.position(self.next_out);
        let mut k = self.next_out % f.up;
        // Each output steps `down / up` input samples: whole steps and a remainder below `up`.
        let (step, step_rem) = (f.down / f.up, f.down % f.up);
        let advance = |k: &mut u64, n0: &mut u64, rem: &mut u64| {
            *k += 1;
            if *k == f.up {
                *k = 0;
            }
            *n0 += step;
            *rem += step_rem;
            if *rem >= f.up {
                *rem -= f.up;
                *n0 += 1;
            }
        };
        let fits = |n0: u64| n0 + (f.taps - f.half) as u64 <= end;
        while self.emitted < limit && fits(n0) {
            let (mut k1, mut n1, mut rem1) = (k, n0, rem);
            advance(&mut k1, &mut n1, &mut rem1);
            if f.phases == f.up && self.emitted + 1 < limit && fits(n1) {
                // Two outputs at once (the same sums as one by one).
                let (a, b) = f.output2(k, n0, k1, n1, &self.buf, self.buf_start);
                out.push(a);
                out.push(b);
                self.next_out += 2;
                self.emitted += 2;
                (k, n0, rem) = (k1, n1, rem1);
            } else {
                out.push(f.output(k, n0, rem, &self.buf, self.buf_start));
                self.next_out += 1;
                self.emitted += 1;
            }
            advance(&mut k, &mut n0, &mut rem);
        }
        if n0 > self.buf_start + 8192 {
            let drop =
                ((n0 - self.buf_start) as usize).min(self.buf.len() - f.taps.min(self.buf.len()));
            self.buf.drain(..drop);
            self.buf_start += drop as u64;
        }
    }

    /// Flushes the resampler: appends the remaining output so that the total is exactly [`output_len`]: the
    /// resampled signal up to `round(N * out / in)` samples, then zeros.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let total = self.output_len(self.total_in);
        if let Some(f) = self.filter.clone() {
            let signal = signal_len(self.total_in, self.in_rate, self.out_rate).min(total);
            // Zeros after the signal, enough for the last output's filter.
            let need = (signal as u128 * f.down as u128 / f.up as u128) as u64 + f.taps as u64;
            let have = self.buf_start + (self.buf.len() - f.half) as u64;
            self.buf
                .extend(std::iter::repeat_n(0.0, need.saturating_sub(have) as usize));
            self.run(signal, out);
            self.buf = Vec::new();
        }
        // librosa's `fix_length`: zeros up to its length (usually none; one for many 44.1 and 22.05 kHz lengths).
        let pad = total.saturating_sub(self.emitted);
        out.extend(std::iter::repeat_n(0.0, pad as usize));
        self.emitted += pad;
    }
}

/// Samples `librosa.load(path, sr=out_rate)` returns for `n` samples at `in_rate`: `ceil(n * (out / in))` in f64,
/// exactly as librosa 0.11's `resample` computes it (`int(np.ceil(y.shape[-1] * float(target_sr) / orig_sr))`).
pub fn output_len(n: u64, in_rate: u32, out_rate: u32) -> u64 {
    if in_rate == out_rate {
        return n;
    }
    (n as f64 * (out_rate as f64 / in_rate as f64)).ceil() as u64
}

/// Samples of resampled signal (soxr's own output length): `round(n * out / in)`, halves rounded up.
fn signal_len(n: u64, in_rate: u32, out_rate: u32) -> u64 {
    let num = n as u128 * out_rate as u128 * 2 + in_rate as u128;
    (num / (2 * in_rate as u128)) as u64
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(in_rate: u32, out_rate: u32, input: &[f32], piece: usize) -> Vec<f32> {
        let mut r = StreamResampler::new(in_rate, out_rate).unwrap();
        let mut out = Vec::new();
        for c in input.chunks(piece) {
            r.push(c, &mut out);
        }
        r.finish(&mut out);
        out
    }

    #[test]
    fn lengths_are_librosas() {
        for (i, o) in [
            (44_100, 48_000),
            (16_000, 48_000),
            (22_050, 48_000),
            (96_000, 48_000),
            (8_000, 48_000),
        ] {
            for n in [1usize, 100, 4095, 4096, 4097, 44_100, 100_003] {
                let out = run(i, o, &vec![0.1; n], 1000);
                let want = (n as f64 * (o as f64 / i as f64)).ceil() as usize;
                assert_eq!(out.len(), want, "{i}->{o} n={n}");
                // Past soxr's round(n * o / i) samples, only librosa's fix_length zeros.
                let signal = ((n as f64 * o as f64 / i as f64) + 0.5).floor() as usize;
                assert!(out[signal.min(want)..].iter().all(|&v| v == 0.0));
            }
        }
    }

    #[test]
    fn librosa_length_rule_examples() {
        // Values printed by librosa 0.11: librosa.resample(np.ones(n), orig_sr=i, target_sr=o).shape.
        for (n, i, o, want) in [
            (176_400, 44_100, 48_000, 192_001),
            (110_250, 22_050, 48_000, 240_001),
            (24_000, 8_000, 48_000, 144_000),
            (1, 44_100, 48_000, 2),
            (1, 96_000, 48_000, 1),
            (3, 96_000, 48_000, 2),
        ] {
            assert_eq!(output_len(n, i, o), want, "{n} samples {i} -> {o}");
        }
    }

    #[test]
    fn output_is_time_aligned_and_chunking_independent() {
        // A 1 kHz sine at 44.1 kHz must come out as the same sine, same phase, at 48 kHz.
        let n = 44_100;
        let input: Vec<f32> = (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 44_100.0).sin() as f32)
            .collect();
        let a = run(44_100, 48_000, &input, 4096);
        let b = run(44_100, 48_000, &input, 777);
        assert_eq!(a, b);
        let mut max_err = 0.0f64;
        for (j, &y) in a.iter().enumerate().skip(2000).take(40_000) {
            let want = (2.0 * std::f64::consts::PI * 1000.0 * j as f64 / 48_000.0).sin();
            max_err = max_err.max((y as f64 - want).abs());
        }
        assert!(max_err < 1e-3, "max error {max_err}");
    }

    #[test]
    fn odd_block_rates_are_aligned_too() {
        // 44_101 Hz has gcd 1 with 48 kHz; an impulse must land where its time says.
        let mut input = vec![0.0f32; 44_101];
        input[22_050] = 1.0;
        let out = run(44_101, 48_000, &input, 5000);
        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        let want = 22_050.0 * 48_000.0 / 44_101.0;
        assert!(
            (peak as f64 - want).abs() <= 0.5,
            "peak at {peak}, want {want}"
        );
    }

    /// Amplitude of the `hz` component of `y` at `rate` (least squares on sine and cosine).
    fn amplitude(y: &[f32], rate: f64, hz: f64) -> f64 {
        let (mut s, mut c) = (0.0, 0.0);
        for (j, &v) in y.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * hz * j as f64 / rate;
            s += v as f64 * ph.sin();
            c += v as f64 * ph.cos();
        }
        2.0 * (s * s + c * c).sqrt() / y.len() as f64
    }

    #[test]
    fn response_is_soxr_hq() {
        // 8 kHz -> 44.1 kHz. Pass band flat to 0.9136 of Nyquist (3654 Hz), -6 dB half-way to Nyquist (3827 Hz);
        // the images of a tone at f (8000 - f, ...) rejected by about 120 dB from Nyquist (4 kHz) on.
        for (f, gain_db, tol) in [
            (1000.0, 0.0, 0.01),
            (3500.0, 0.0, 0.01),
            (3827.0, -6.02, 0.3),
        ] {
            let x: Vec<f32> = (0..8000)
                .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / 8000.0).sin() as f32)
                .collect();
            let y = run(8000, 44_100, &x, 1000);
            let mid = &y[4410..44_100 - 4410];
            let a = 20.0 * amplitude(mid, 44_100.0, f).log10();
            assert!((a - gain_db).abs() < tol, "{f} Hz: {a} dB, want {gain_db}");
            if f < 3654.0 {
                let image = 20.0 * amplitude(mid, 44_100.0, 8000.0 - f).log10();
                assert!(
                    image < -110.0,
                    "{f} Hz: image at {} Hz {image} dB",
                    8000.0 - f
                );
            }
        }
    }

    #[test]
    fn dot_is_the_same_on_every_path() {
        // The AVX paths (where the CPU has them) and the portable code give the same bits.
        let mut s = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        };
        for n in [LANES, 6 * LANES, 64 * LANES] {
            let a: Vec<f32> = (0..n).map(|_| next()).collect();
            let b: Vec<f32> = (0..n).map(|_| next()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            let got = dot(&a, &b);
            assert_eq!(got.to_bits(), dot_portable(&a, &b).to_bits(), "n={n}");
            // Two at once: each the same bits as alone.
            let (x, y) = dot2(&a, &b, &b, &b);
            assert_eq!(x.to_bits(), got.to_bits(), "n={n}");
            assert_eq!(y.to_bits(), dot_portable(&b, &b).to_bits(), "n={n}");
            assert!(
                (got as f64 - want).abs() < 1e-4 * n as f64,
                "n={n}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn filter_taps_are_padded_with_zeros() {
        let f = Filter::new(44_100, 48_000);
        assert!(f.taps.is_multiple_of(LANES));
        assert!(f.taps >= 2 * f.half + 2 && f.taps < 2 * f.half + 2 + LANES);
        for p in 0..f.phases as usize {
            let row = &f.table[p * f.taps..][..f.taps];
            assert!(row[2 * f.half + 2..].iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn equal_rates_pass_through() {
        let input: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        assert_eq!(run(48_000, 48_000, &input, 333), input);
    }
}
