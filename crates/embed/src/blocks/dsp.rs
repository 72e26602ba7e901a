//! The DSP of a block front end: the Hann window and mel filter tables, and [`Framer`], a streaming centred STFT
//! to compressed mel frames.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::spec::{BlockParams, BlockSpec, CenterPad, Compression, FilterNorm};
use crate::frontend::{frame_mel_energies, mel_filter_bank, reflect, MelNorm};

pub(super) struct Tables {
    pub(super) window: Vec<f64>,
    pub(super) filters: Vec<(usize, Vec<f64>)>,
    pub(super) fft: Arc<dyn RealToComplex<f64>>,
}

impl Tables {
    pub(super) fn new(p: &BlockParams) -> Tables {
        // Periodic Hann (scipy.signal.get_window("hann", n_fft), as librosa uses): 0.5 - 0.5 cos(2 pi n / n_fft).
        let window = (0..p.n_fft)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / p.n_fft as f64).cos())
            .collect();
        let norm = match p.mel_norm {
            FilterNorm::Slaney => MelNorm::Slaney,
            FilterNorm::None | FilterNorm::L1 => MelNorm::None,
        };
        let mut dense = mel_filter_bank(
            p.n_fft / 2 + 1,
            p.n_mels,
            p.f_min,
            p.f_max,
            p.sample_rate,
            p.mel_scale,
            norm,
        );
        if p.mel_norm == FilterNorm::L1 {
            for col in &mut dense {
                let sum: f64 = col.iter().map(|v| v.abs()).sum();
                if sum > 0.0 {
                    col.iter_mut().for_each(|v| *v /= sum);
                }
            }
        }
        let filters = crate::frontend::sparse_filters(dense);
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(p.n_fft);
        Tables {
            window,
            filters,
            fft,
        }
    }
}

/// Streaming centred STFT to compressed mel frames over a signal of known length `n`.
pub(super) struct Framer {
    spec: BlockSpec,
    n: u64,
    gain: f32,
    pub(super) frames: u64,
    next: u64,
    /// Samples from absolute index `buf_start`, already multiplied by `gain`.
    buf: Vec<f32>,
    buf_start: u64,
    frame: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    power: Vec<f64>,
    /// For `reflect` padding: the first `n_fft` samples, and the last ones, kept as they arrive.
    head: Vec<f32>,
}

impl Framer {
    pub(super) fn new(spec: &BlockSpec, n: u64, gain: f32) -> Framer {
        let fft = &spec.tables.fft;
        Framer {
            spec: spec.clone(),
            n,
            gain,
            frames: 1 + n / spec.params.hop_length as u64,
            next: 0,
            buf: Vec::new(),
            buf_start: 0,
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            power: vec![0.0; spec.params.n_fft / 2 + 1],
            head: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, samples: &[f32]) {
        let g = self.gain;
        if self.spec.params.center_pad == CenterPad::Reflect
            && self.head.len() < self.spec.params.n_fft + 1
        {
            let take = (self.spec.params.n_fft + 1 - self.head.len()).min(samples.len());
            self.head.extend(samples[..take].iter().map(|s| s * g));
        }
        self.buf.extend(samples.iter().map(|s| s * g));
    }

    fn buffered_end(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    /// Computes the next frame into `out` if its samples are buffered; false when not (yet) possible.
    pub(super) fn next_frame(&mut self, out: &mut Vec<f32>) -> bool {
        if self.next >= self.frames {
            return false;
        }
        let p = &self.spec.params;
        let half = (p.n_fft / 2) as i64;
        let start = self.next as i64 * p.hop_length as i64 - half;
        let end = (start + p.n_fft as i64).min(self.n as i64);
        // With reflect padding the last frame reads up to n_fft/2 samples before the end: all buffered by then.
        if (end.max(0) as u64) > self.buffered_end() {
            return false;
        }
        let n = self.n as i64;
        for i in 0..p.n_fft {
            let t = start + i as i64;
            let x = if (0..n).contains(&t) {
                self.sample(t as u64)
            } else {
                match p.center_pad {
                    CenterPad::Constant => 0.0,
                    CenterPad::Reflect => self.sample(reflect(t, n)),
                }
            };
            self.frame[i] = x as f64 * self.spec.tables.window[i];
        }
        let Compression::Log10Affine {
            scale,
            offset,
            divisor,
        } = p.compression;
        frame_mel_energies(
            &*self.spec.tables.fft,
            &self.spec.tables.filters,
            &mut self.frame,
            &mut self.spectrum,
            &mut self.scratch,
            &mut self.power,
            |e| out.push(((e * scale + offset).log10() / divisor) as f32),
        );
        self.next += 1;
        // Drop samples no later frame needs (reflect padding at the end only reads within the last n_fft).
        let keep_from = (self.next as i64 * p.hop_length as i64 - half).max(0) as u64;
        let keep_from = keep_from.min(self.buffered_end());
        if keep_from > self.buf_start + 4 * p.n_fft as u64 {
            let drop = (keep_from - self.buf_start) as usize;
            self.buf.drain(..drop);
            self.buf_start = keep_from;
        }
        true
    }

    fn sample(&self, i: u64) -> f32 {
        if i >= self.buf_start {
            self.buf[(i - self.buf_start) as usize]
        } else {
            // Only reflect padding at the start reads behind the buffer.
            self.head[i as usize]
        }
    }
}
