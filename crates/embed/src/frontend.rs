//! The audio front end of a model family, as data, and its log-mel computation.
//!
//! [`FrontEndSpec`] holds what `transformers`' `ClapFeatureExtractor` reads from a checkpoint's
//! `preprocessor_config.json` (sample rate, STFT and mel parameters, window length, padding rule) and computes the
//! model input of one window with [`FrontEndSpec::features`], matching the reference step for step:
//!
//! 1. a window shorter than `window_samples` is padded by the spec's [`Padding`] rule (`repeatpad`: tiled
//!    `floor(W / len)` times, then zero-padded to `W`);
//! 2. centred STFT: reflect-padded by `n_fft / 2` on both sides, periodic Hann window, frames every `hop_length`
//!    samples, computed in f64 and rounded to complex64 as the reference stores it;
//! 3. power spectrum (|X|², f64), mel filter bank (slaney scale and norm for unfused CLAP checkpoints, f64),
//!    floor at 1e-10, `10 * log10`, rounded to f32;
//! 4. laid out time-major, `[frames, n_mels]`.
//!
//! The reference's `rand_trunc` (a random 10 s crop of longer input) is deliberately not reproduced: long files are
//! cut into deterministic windows by [`crate::window`], and each window is computed here exactly as the reference
//! computes a clip of that window's length.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use serde::Deserialize;

use crate::{EmbedError, Result};

/// How mel frequencies are computed from Hz.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MelScale {
    /// Slaney's (librosa's default, `htk=False`): linear below 1 kHz, logarithmic above.
    Slaney,
    /// HTK's `2595 * log10(1 + f / 700)`.
    Htk,
}

/// How each mel filter is normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MelNorm {
    /// Peak 1 triangles.
    None,
    /// Slaney's: each triangle scaled by `2 / (f_right - f_left)`, about constant energy per channel.
    Slaney,
}

/// What is done to a clip shorter than one window (the reference's `padding` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Tile the clip `floor(W / len)` times, then pad with zeros to `W` (CLAP's checkpoints).
    RepeatPad,
    /// Tile the clip `floor(W / len) + 1` times and cut to `W`.
    Repeat,
    /// Pad with zeros to `W`.
    Pad,
}

/// The parameters of a front end, as plain data. Build a [`FrontEndSpec`] from it with [`FrontEndSpec::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct FrontEndParams {
    /// The model's sample rate in Hz; input is resampled to it.
    pub sample_rate: u32,
    /// STFT frame and FFT length in samples (the Hann window has this length).
    pub n_fft: usize,
    /// STFT hop in samples.
    pub hop_length: usize,
    /// Number of mel bins.
    pub n_mels: usize,
    /// Lowest mel filter edge in Hz.
    pub f_min: f64,
    /// Highest mel filter edge in Hz.
    pub f_max: f64,
    /// Samples in one model window (`max_length_s * sample_rate`).
    pub window_samples: usize,
    /// Mel scale of the filter bank.
    pub mel_scale: MelScale,
    /// Normalisation of the filter bank.
    pub norm: MelNorm,
    /// Rule for clips shorter than one window.
    pub padding: Padding,
}

/// A model family's front end: parameters plus the precomputed Hann window, mel filters and FFT plan.
///
/// Cheap to clone (the tables are shared). [`FrontEndSpec::features`] takes `&self` and may be called from several
/// threads at once.
#[derive(Clone)]
pub struct FrontEndSpec {
    params: FrontEndParams,
    tables: Arc<Tables>,
}

struct Tables {
    /// Periodic Hann window of length `n_fft`, f64, computed with NumPy's `hanning` formula.
    window: Vec<f64>,
    /// One sparse triangle per mel bin: first non-zero FFT bin and the weights from there.
    filters: Vec<(usize, Vec<f64>)>,
    fft: Arc<dyn RealToComplex<f64>>,
}

impl fmt::Debug for FrontEndSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrontEndSpec")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PartialEq for FrontEndSpec {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
    }
}

/// The keys of `preprocessor_config.json` that the CLAP front end reads. Missing keys take the defaults of
/// `ClapFeatureExtractor.__init__`, as `transformers` does.
#[derive(Debug, Deserialize)]
struct ClapPreprocessorConfig {
    feature_extractor_type: Option<String>,
    #[serde(default = "d_feature_size")]
    feature_size: usize,
    #[serde(default = "d_sampling_rate")]
    sampling_rate: u32,
    #[serde(default = "d_hop_length")]
    hop_length: usize,
    #[serde(default = "d_max_length_s")]
    max_length_s: f64,
    #[serde(default = "d_fft_window_size")]
    fft_window_size: usize,
    #[serde(default)]
    frequency_min: f64,
    #[serde(default = "d_frequency_max")]
    frequency_max: f64,
    #[serde(default = "d_truncation")]
    truncation: String,
    #[serde(default = "d_padding")]
    padding: String,
}

fn d_feature_size() -> usize {
    64
}
fn d_sampling_rate() -> u32 {
    48_000
}
fn d_hop_length() -> usize {
    480
}
fn d_max_length_s() -> f64 {
    10.0
}
fn d_fft_window_size() -> usize {
    1024
}
fn d_frequency_max() -> f64 {
    14_000.0
}
fn d_truncation() -> String {
    "fusion".into()
}
fn d_padding() -> String {
    "repeatpad".into()
}

impl FrontEndSpec {
    /// Builds a front end from its parameters, checking them. `path` names the source of the parameters in errors.
    pub fn new(params: FrontEndParams, path: &Path) -> Result<Self> {
        let bad = |message: String| {
            Err(EmbedError::Config {
                path: path.to_path_buf(),
                message,
            })
        };
        let p = &params;
        if !(1..=768_000).contains(&p.sample_rate) {
            return bad(format!(
                "sampling_rate {} is outside 1..=768000 Hz",
                p.sample_rate
            ));
        }
        if !(2..=65_536).contains(&p.n_fft) {
            return bad(format!("fft_window_size {} is outside 2..=65536", p.n_fft));
        }
        if p.hop_length == 0 || p.hop_length > p.window_samples {
            return bad(format!(
                "hop_length {} must be between 1 and the window length",
                p.hop_length
            ));
        }
        if !(1..=1024).contains(&p.n_mels) {
            return bad(format!("feature_size {} is outside 1..=1024", p.n_mels));
        }
        if !(p.f_min >= 0.0 && p.f_min < p.f_max && p.f_max.is_finite()) {
            return bad(format!(
                "need 0 <= frequency_min < frequency_max, got {} and {}",
                p.f_min, p.f_max
            ));
        }
        // At most 10 minutes per window: a bound that keeps a wrong config from allocating gigabytes.
        if p.window_samples < p.n_fft || p.window_samples > 600 * p.sample_rate as usize {
            return bad(format!(
                "window of {} samples must be at least one FFT frame and at most 600 s",
                p.window_samples
            ));
        }
        let tables = Tables::new(p);
        Ok(FrontEndSpec {
            params,
            tables: Arc::new(tables),
        })
    }

    /// Reads the front end of a CLAP checkpoint from its `preprocessor_config.json`.
    ///
    /// Only the unfused path is implemented: a `truncation` of `fusion` (4 stacked mels, HTK filters, random crops)
    /// is refused, as are unknown truncation or padding modes and other feature extractor types. The `rand_trunc`
    /// random crop is replaced by deterministic windows (see [`crate::window`]). `top_db` and `padding_value` are
    /// not read: `ClapFeatureExtractor` ignores them too.
    pub fn clap_from_preprocessor_config(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EmbedError::io(path, e))?;
        let cfg: ClapPreprocessorConfig =
            serde_json::from_str(&text).map_err(|e| EmbedError::Config {
                path: path.to_path_buf(),
                message: format!("not a valid preprocessor_config.json: {e}"),
            })?;
        let bad = |message: String| {
            Err(EmbedError::Config {
                path: path.to_path_buf(),
                message,
            })
        };
        if let Some(kind) = &cfg.feature_extractor_type {
            if kind != "ClapFeatureExtractor" {
                return bad(format!("feature_extractor_type {kind} is not ClapFeatureExtractor; avx reads CLAP front ends only"));
            }
        }
        match cfg.truncation.as_str() {
            "rand_trunc" => {}
            "fusion" => {
                return bad("truncation \"fusion\" (feature-fusion CLAP checkpoints) is not supported; use an unfused \
                            checkpoint such as laion/clap-htsat-unfused"
                    .into())
            }
            other => return bad(format!("unknown truncation mode {other:?}; expected \"rand_trunc\"")),
        }
        let padding = match cfg.padding.as_str() {
            "repeatpad" => Padding::RepeatPad,
            "repeat" => Padding::Repeat,
            "pad" => Padding::Pad,
            other => {
                return bad(format!(
                    "unknown padding mode {other:?}; expected repeatpad, repeat or pad"
                ))
            }
        };
        let window = cfg.max_length_s * cfg.sampling_rate as f64;
        if !(window.is_finite() && window >= 1.0 && window.fract() == 0.0 && window <= 1e9) {
            return bad(format!(
                "max_length_s {} does not give a whole number of samples",
                cfg.max_length_s
            ));
        }
        let params = FrontEndParams {
            sample_rate: cfg.sampling_rate,
            n_fft: cfg.fft_window_size,
            hop_length: cfg.hop_length,
            n_mels: cfg.feature_size,
            f_min: cfg.frequency_min,
            f_max: cfg.frequency_max,
            window_samples: window as usize,
            mel_scale: MelScale::Slaney,
            norm: MelNorm::Slaney,
            padding,
        };
        Self::new(params, path)
    }

    /// The front end of `laion/clap-htsat-unfused` (and `laion/larger_clap_*`), written out.
    pub fn clap_htsat_unfused() -> Self {
        let params = FrontEndParams {
            sample_rate: 48_000,
            n_fft: 1024,
            hop_length: 480,
            n_mels: 64,
            f_min: 50.0,
            f_max: 14_000.0,
            window_samples: 480_000,
            mel_scale: MelScale::Slaney,
            norm: MelNorm::Slaney,
            padding: Padding::RepeatPad,
        };
        Self::new(params, Path::new("<built-in clap-htsat-unfused>"))
            .expect("built-in parameters are valid")
    }

    /// The parameters this front end was built from.
    pub fn params(&self) -> &FrontEndParams {
        &self.params
    }

    /// The model's sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.params.sample_rate
    }

    /// Samples in one window at the model's rate.
    pub fn window_samples(&self) -> usize {
        self.params.window_samples
    }

    /// Length of one window in seconds.
    pub fn window_seconds(&self) -> f64 {
        self.params.window_samples as f64 / self.params.sample_rate as f64
    }

    /// The samples between window starts for a hop of `hop_s` seconds, or why `hop_s` cannot be one: it must
    /// round to at least one sample and be at most one window long.
    pub fn check_hop(&self, hop_s: f64) -> std::result::Result<usize, String> {
        let hop = (hop_s * self.sample_rate() as f64).round();
        if hop_s.is_finite() && hop >= 1.0 && hop <= self.window_samples() as f64 {
            Ok(hop as usize)
        } else {
            Err(format!(
                "window hop of {hop_s} s must be more than 0 and at most the window length ({} s)",
                seconds_text(self.window_seconds())
            ))
        }
    }

    /// STFT frames per window (`window_samples / hop_length + 1` with centring).
    pub fn frames(&self) -> usize {
        self.params.window_samples / self.params.hop_length + 1
    }

    /// The model input of one window, `[1, frames, n_mels]` (e.g. `[1, 1001, 64]`).
    pub fn input_shape(&self) -> [usize; 3] {
        [1, self.frames(), self.params.n_mels]
    }

    /// Values in one window's features (the product of [`input_shape`](Self::input_shape)).
    pub fn feature_len(&self) -> usize {
        self.frames() * self.params.n_mels
    }

    /// Computes the log-mel features of one window into `out` (cleared first), time-major `[frames, n_mels]`.
    ///
    /// A `window` shorter than [`window_samples`](Self::window_samples) is padded by the spec's [`Padding`] rule,
    /// exactly as the reference pads a short clip; an empty one is silence. Samples beyond one window are ignored
    /// (callers cut windows with [`crate::window`]).
    pub fn features(&self, window: &[f32], out: &mut Vec<f32>) {
        let w = self.params.window_samples;
        let window = &window[..window.len().min(w)];
        let padded;
        let samples: &[f32] = if window.len() == w {
            window
        } else {
            padded = pad_window(window, w, self.params.padding);
            &padded
        };
        self.tables.log_mel(samples, &self.params, out);
    }
}

/// Pads a clip shorter than `w` samples to exactly `w`, as `ClapFeatureExtractor._get_input_mel` does.
fn pad_window(clip: &[f32], w: usize, padding: Padding) -> Vec<f32> {
    let mut out = Vec::with_capacity(w);
    if !clip.is_empty() {
        match padding {
            Padding::RepeatPad => {
                for _ in 0..w / clip.len() {
                    out.extend_from_slice(clip);
                }
            }
            Padding::Repeat => {
                while out.len() < w {
                    let take = clip.len().min(w - out.len());
                    out.extend_from_slice(&clip[..take]);
                }
            }
            Padding::Pad => out.extend_from_slice(clip),
        }
    }
    out.resize(w, 0.0);
    out
}

/// Mel filters stored as (first non-zero bin, the non-zero run): the filter bank is mostly zeros.
pub(crate) fn sparse_filters(dense: Vec<Vec<f64>>) -> Vec<(usize, Vec<f64>)> {
    dense
        .into_iter()
        .map(|col| {
            let first = col.iter().position(|&v| v != 0.0).unwrap_or(0);
            let last = col.iter().rposition(|&v| v != 0.0).map_or(0, |l| l + 1);
            (first, col[first..last.max(first)].to_vec())
        })
        .collect()
}

impl Tables {
    fn new(p: &FrontEndParams) -> Tables {
        // numpy.hanning(M) = 0.5 + 0.5 * cos(pi * n / (M - 1)) for n = 1-M, 3-M, .., M-1; periodic: M = n_fft + 1,
        // last value dropped.
        let m = p.n_fft + 1;
        let window = (0..p.n_fft)
            .map(|i| {
                let n = 1.0 - m as f64 + 2.0 * i as f64;
                0.5 + 0.5 * (std::f64::consts::PI * n / (m as f64 - 1.0)).cos()
            })
            .collect();
        let dense = mel_filter_bank(
            p.n_fft / 2 + 1,
            p.n_mels,
            p.f_min,
            p.f_max,
            p.sample_rate,
            p.mel_scale,
            p.norm,
        );
        let filters = sparse_filters(dense);
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(p.n_fft);
        Tables {
            window,
            filters,
            fft,
        }
    }

    fn log_mel(&self, samples: &[f32], p: &FrontEndParams, out: &mut Vec<f32>) {
        let n_fft = p.n_fft;
        let half = n_fft / 2;
        let padded_len = samples.len() + 2 * half;
        let frames = 1 + (padded_len - n_fft) / p.hop_length;
        out.clear();
        out.reserve(frames * p.n_mels);

        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f64; spectrum.len()];
        let len = samples.len() as isize;
        for t in 0..frames {
            let start = (t * p.hop_length) as isize - half as isize;
            if start >= 0 && start + n_fft as isize <= len {
                let src = &samples[start as usize..start as usize + n_fft];
                for ((d, &s), &w) in frame.iter_mut().zip(src).zip(&self.window) {
                    *d = s as f64 * w;
                }
            } else {
                for (i, (d, &w)) in frame.iter_mut().zip(&self.window).enumerate() {
                    *d = samples[reflect(start as i64 + i as i64, len as i64) as usize] as f64 * w;
                }
            }
            frame_mel_energies(
                &*self.fft,
                &self.filters,
                &mut frame,
                &mut spectrum,
                &mut scratch,
                &mut power,
                |e| out.push((10.0 * e.max(1e-10).log10()) as f32),
            );
        }
    }
}

/// NumPy's `reflect` padding index (edge not repeated), folding as often as needed for very short input. Both
/// front ends (CLAP windows here, aiSFX blocks in `blocks`) pad with it.
pub(crate) fn reflect(i: i64, len: i64) -> u64 {
    if len == 1 {
        return 0;
    }
    let period = 2 * (len - 1);
    let m = i.rem_euclid(period);
    (if m < len { m } else { period - m }) as u64
}

/// The STFT frame step both front ends share: the windowed `frame` through the FFT, |X|² of the spectrum
/// rounded to complex64 (the references store the STFT as complex64 before taking |X|² in f64), then each sparse
/// mel filter's energy, in filter order, passed to `emit`. The buffers are the plan's (`make_*_vec`).
pub(crate) fn frame_mel_energies(
    fft: &dyn RealToComplex<f64>,
    filters: &[(usize, Vec<f64>)],
    frame: &mut [f64],
    spectrum: &mut [Complex<f64>],
    scratch: &mut [Complex<f64>],
    power: &mut [f64],
    mut emit: impl FnMut(f64),
) {
    fft.process_with_scratch(frame, spectrum, scratch)
        .expect("buffers sized by the plan");
    for (pw, c) in power.iter_mut().zip(&*spectrum) {
        let (re, im) = (c.re as f32 as f64, c.im as f32 as f64);
        *pw = re * re + im * im;
    }
    for (first, weights) in filters {
        let e: f64 = weights
            .iter()
            .zip(&power[*first..])
            .map(|(w, x)| w * x)
            .sum();
        emit(e);
    }
}

fn hz_to_mel(f: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + f / 700.0).log10(),
        MelScale::Slaney => {
            let logstep = 27.0 / 6.4f64.ln();
            if f >= 1000.0 {
                15.0 + (f / 1000.0).ln() * logstep
            } else {
                3.0 * f / 200.0
            }
        }
    }
}

fn mel_to_hz(m: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(m / 2595.0) - 1.0),
        MelScale::Slaney => {
            let logstep = 6.4f64.ln() / 27.0;
            if m >= 15.0 {
                1000.0 * (logstep * (m - 15.0)).exp()
            } else {
                200.0 * m / 3.0
            }
        }
    }
}

/// `transformers.audio_utils.mel_filter_bank` in f64, returned as one column (over FFT bins) per mel filter.
pub fn mel_filter_bank(
    n_bins: usize,
    n_mels: usize,
    f_min: f64,
    f_max: f64,
    sample_rate: u32,
    scale: MelScale,
    norm: MelNorm,
) -> Vec<Vec<f64>> {
    let mel_min = hz_to_mel(f_min, scale);
    let mel_max = hz_to_mel(f_max, scale);
    // np.linspace(mel_min, mel_max, n_mels + 2)
    let steps = n_mels + 1;
    let delta = (mel_max - mel_min) / steps as f64;
    let filter_freqs: Vec<f64> = (0..=steps)
        .map(|i| {
            if i == steps {
                mel_max
            } else {
                mel_min + i as f64 * delta
            }
        })
        .map(|m| mel_to_hz(m, scale))
        .collect();
    // np.linspace(0, sample_rate // 2, n_bins)
    let nyq = (sample_rate / 2) as f64;
    let fft_step = nyq / (n_bins - 1) as f64;
    let fft_freqs: Vec<f64> = (0..n_bins)
        .map(|i| {
            if i == n_bins - 1 {
                nyq
            } else {
                i as f64 * fft_step
            }
        })
        .collect();
    (0..n_mels)
        .map(|m| {
            let enorm = match norm {
                MelNorm::Slaney => 2.0 / (filter_freqs[m + 2] - filter_freqs[m]),
                MelNorm::None => 1.0,
            };
            fft_freqs
                .iter()
                .map(|&f| {
                    let down = -(filter_freqs[m] - f) / (filter_freqs[m + 1] - filter_freqs[m]);
                    let up =
                        (filter_freqs[m + 2] - f) / (filter_freqs[m + 2] - filter_freqs[m + 1]);
                    0f64.max(down.min(up)) * enorm
                })
                .collect()
        })
        .collect()
}

/// Seconds rounded to the millisecond for messages (`2.322`, `10`).
pub(crate) fn seconds_text(s: f64) -> String {
    format!("{}", (s * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_shape() {
        let spec = FrontEndSpec::clap_htsat_unfused();
        assert_eq!(spec.input_shape(), [1, 1001, 64]);
        assert_eq!(spec.window_seconds(), 10.0);
        let mut out = Vec::new();
        spec.features(&[0.0; 100], &mut out);
        assert_eq!(out.len(), 1001 * 64);
        assert!(out.iter().all(|&v| v == -100.0));
    }

    #[test]
    fn repeatpad_tiles_then_pads() {
        let clip = [1.0, 2.0, 3.0];
        assert_eq!(
            pad_window(&clip, 8, Padding::RepeatPad),
            [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 0.0, 0.0]
        );
        assert_eq!(
            pad_window(&clip, 8, Padding::Repeat),
            [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0]
        );
        assert_eq!(
            pad_window(&clip, 5, Padding::Pad),
            [1.0, 2.0, 3.0, 0.0, 0.0]
        );
        assert_eq!(pad_window(&[], 2, Padding::RepeatPad), [0.0, 0.0]);
    }

    #[test]
    fn reflect_matches_numpy() {
        // np.pad([0,1,2,3], 5, mode="reflect") -> [1 2 3 2 1 | 0 1 2 3 | 2 1 0 1 2]
        let got: Vec<u64> = (-5..9).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, [1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2]);
    }

    #[test]
    fn config_fixture_equals_builtin() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/clap-htsat-unfused.preprocessor_config.json");
        let spec = FrontEndSpec::clap_from_preprocessor_config(&path).unwrap();
        assert_eq!(spec, FrontEndSpec::clap_htsat_unfused());
    }
}
