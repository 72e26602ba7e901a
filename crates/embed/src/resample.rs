//! Streaming resampling of mono f32 audio to the model's rate with rubato.
//!
//! [`StreamResampler`] wraps rubato's synchronous FFT resampler (`FftFixedIn`: a windowed-sinc low-pass applied
//! by FFT, linear phase, exact for the rational ratio `out / in`), fed in fixed input chunks. Its delay is removed
//! and the tail flushed so that output sample `j` is aligned with input time `j / out_rate`, and `N` input samples
//! give exactly `round(N * out / in)` output samples, like `librosa.load(sr=...)` (soxr) does.
//! Equal rates pass samples through untouched, bit for bit.

use rubato::{FftFixedIn, Resampler};

/// Input frames per call into rubato.
const CHUNK_IN: usize = 4096;

/// A streaming resampler of one mono signal.
pub struct StreamResampler {
    in_rate: u32,
    out_rate: u32,
    inner: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    out_buf: Vec<Vec<f32>>,
    /// Output frames still to drop at the start (the resampler's delay).
    to_skip: usize,
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

impl StreamResampler {
    /// A resampler from `in_rate` to `out_rate` Hz; both must be non-zero.
    pub fn new(in_rate: u32, out_rate: u32) -> Result<Self, String> {
        if in_rate == 0 || out_rate == 0 {
            return Err(format!(
                "cannot resample from {in_rate} Hz to {out_rate} Hz"
            ));
        }
        let (inner, out_buf, to_skip) = if in_rate == out_rate {
            (None, Vec::new(), 0)
        } else {
            // Sub-chunks (the FFT length, and the length of the windowed sinc) of at least 1024 input frames, a
            // whole, even number of `in / gcd` blocks: rubato's filter is centred on sample `len / 2`, which is
            // its reported delay only when `len` is even, so even lengths keep the output exactly time-aligned.
            let gcd = gcd(in_rate as usize, out_rate as usize);
            let block = in_rate as usize / gcd;
            let mut blocks = 1024usize.div_ceil(block);
            blocks += blocks % 2;
            let sub = blocks * block;
            let subs = CHUNK_IN.div_ceil(sub);
            let r =
                FftFixedIn::<f32>::new(in_rate as usize, out_rate as usize, sub * subs, subs, 1)
                    .map_err(|e| {
                        format!("cannot resample from {in_rate} Hz to {out_rate} Hz: {e}")
                    })?;
            let out_buf = r.output_buffer_allocate(true);
            let delay = r.output_delay();
            (Some(r), out_buf, delay)
        };
        Ok(StreamResampler {
            in_rate,
            out_rate,
            inner,
            pending: Vec::with_capacity(CHUNK_IN),
            out_buf,
            to_skip,
            total_in: 0,
            emitted: 0,
            finished: false,
        })
    }

    /// The output rate in Hz.
    pub fn out_rate(&self) -> u32 {
        self.out_rate
    }

    /// Output samples `n` input samples resample to: `round(n * out / in)`.
    pub fn output_len(&self, n: u64) -> u64 {
        let num = n as u128 * self.out_rate as u128 * 2 + self.in_rate as u128;
        (num / (2 * self.in_rate as u128)) as u64
    }

    /// Resamples `input` and appends what is ready to `out`.
    pub fn push(&mut self, mut input: &[f32], out: &mut Vec<f32>) {
        debug_assert!(!self.finished, "push after finish");
        self.total_in += input.len() as u64;
        let Some(r) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            self.emitted += input.len() as u64;
            return;
        };
        while !input.is_empty() {
            let need = r.input_frames_next() - self.pending.len();
            let take = need.min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() == r.input_frames_next() {
                let (_, produced) = r
                    .process_into_buffer(&[&self.pending[..]], &mut self.out_buf, None)
                    .expect("buffers sized by the resampler");
                self.pending.clear();
                Self::emit(
                    &self.out_buf[0][..produced],
                    &mut self.to_skip,
                    &mut self.emitted,
                    u64::MAX,
                    out,
                );
            }
        }
    }

    /// Flushes the resampler: appends the remaining output so that the total is exactly `round(N * out / in)`.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let target = self.output_len(self.total_in);
        let Some(r) = self.inner.as_mut() else { return };
        let mut first = true;
        // Each zero-padded call moves at least one sub-chunk through; the bound only guards against a logic error.
        for _ in 0..64 {
            if self.emitted >= target {
                break;
            }
            let input: Option<&[&[f32]]> = if first && !self.pending.is_empty() {
                Some(&[&self.pending[..]])
            } else {
                None
            };
            first = false;
            let (_, produced) = r
                .process_partial_into_buffer(input, &mut self.out_buf, None)
                .expect("buffers sized by the resampler");
            Self::emit(
                &self.out_buf[0][..produced],
                &mut self.to_skip,
                &mut self.emitted,
                target,
                out,
            );
        }
        self.pending.clear();
    }

    fn emit(
        produced: &[f32],
        to_skip: &mut usize,
        emitted: &mut u64,
        limit: u64,
        out: &mut Vec<f32>,
    ) {
        let skip = (*to_skip).min(produced.len());
        *to_skip -= skip;
        let rest = &produced[skip..];
        let room = limit.saturating_sub(*emitted).min(rest.len() as u64) as usize;
        out.extend_from_slice(&rest[..room]);
        *emitted += room as u64;
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
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
    fn lengths_are_rounded_ratio() {
        for (i, o) in [
            (44_100, 48_000),
            (16_000, 48_000),
            (22_050, 48_000),
            (96_000, 48_000),
            (8_000, 48_000),
        ] {
            for n in [1usize, 100, 4095, 4096, 4097, 44_100, 100_003] {
                let out = run(i, o, &vec![0.1; n], 1000);
                let want = ((n as f64 * o as f64 / i as f64) + 0.5).floor() as usize;
                assert_eq!(out.len(), want, "{i}->{o} n={n}");
            }
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

    #[test]
    fn equal_rates_pass_through() {
        let input: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        assert_eq!(run(48_000, 48_000, &input, 333), input);
    }
}
