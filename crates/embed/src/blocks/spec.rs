//! The parameters of a block front end ([`BlockParams`], read from `avx-model.json`'s `frontend` object) and
//! [`BlockSpec`], the parameters with their precomputed tables.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::dsp::{Framer, Tables};
use crate::frontend::{seconds_text, MelScale};
use crate::{EmbedError, Result};

/// Level normalisation of the whole file before the STFT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// None.
    None,
    /// Divide by the file's max |x| unless it is 0.
    Peak,
}

/// Padding of the centred STFT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CenterPad {
    /// Zeros (librosa >= 0.10's default).
    Constant,
    /// NumPy `reflect` (librosa 0.9's default).
    Reflect,
}

/// Mel filter normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterNorm {
    /// Peak-1 triangles.
    None,
    /// Slaney's area normalisation (`2 / (f_right - f_left)`).
    Slaney,
    /// Each filter scaled to unit sum of its weights (librosa `norm=1.0`).
    L1,
}

/// Compression of mel power to model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compression {
    /// `log10(x * scale + offset) / divisor`.
    Log10Affine {
        /// Multiplier of the mel power.
        scale: f64,
        /// Added before the logarithm.
        offset: f64,
        /// Divides the logarithm.
        divisor: f64,
    },
}

/// A block front end as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockParams {
    /// The model's sample rate in Hz.
    pub sample_rate: u32,
    /// Level normalisation.
    pub level: Level,
    /// STFT length (and Hann window length) in samples.
    pub n_fft: usize,
    /// STFT hop in samples.
    pub hop_length: usize,
    /// Padding of the centred STFT.
    pub center_pad: CenterPad,
    /// Mel bins.
    pub n_mels: usize,
    /// Lowest filter edge, Hz.
    pub f_min: f64,
    /// Highest filter edge, Hz.
    pub f_max: f64,
    /// Mel scale.
    pub mel_scale: MelScale,
    /// Filter normalisation.
    pub mel_norm: FilterNorm,
    /// Compression.
    pub compression: Compression,
    /// Frames per block (the model's time axis).
    pub block_frames: usize,
    /// Frames between block starts.
    pub hop_frames: usize,
}

/// The `frontend` object of `avx-model.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontendJson {
    sample_rate: u32,
    level: String,
    n_fft: usize,
    hop_length: usize,
    window: String,
    center_pad: String,
    power: f64,
    n_mels: usize,
    f_min: f64,
    f_max: f64,
    mel_scale: String,
    mel_norm: String,
    compression: CompressionJson,
    blocks: BlocksJson,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompressionJson {
    #[serde(rename = "type")]
    kind: String,
    scale: f64,
    offset: f64,
    divisor: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlocksJson {
    frames: usize,
    hop_frames: usize,
    last_partial: String,
    short: String,
}

/// A block front end: parameters plus the Hann window, mel filters and FFT plan. Cheap to clone.
#[derive(Clone)]
pub struct BlockSpec {
    pub(super) params: BlockParams,
    pub(super) tables: Arc<Tables>,
}

impl std::fmt::Debug for BlockSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockSpec")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PartialEq for BlockSpec {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
    }
}

impl BlockSpec {
    /// Builds a block front end from its parameters, checking them; `path` names their source in errors.
    pub fn new(params: BlockParams, path: &Path) -> Result<Self> {
        let bad = |message: String| {
            Err(EmbedError::Config {
                path: path.to_path_buf(),
                message,
            })
        };
        let p = &params;
        if !(1..=768_000).contains(&p.sample_rate) {
            return bad(format!(
                "sample_rate {} is outside 1..=768000 Hz",
                p.sample_rate
            ));
        }
        if !(2..=65_536).contains(&p.n_fft) || p.hop_length == 0 || p.hop_length > p.n_fft {
            return bad(format!(
                "need 2 <= n_fft <= 65536 and 1 <= hop_length <= n_fft, got {} and {}",
                p.n_fft, p.hop_length
            ));
        }
        if !(1..=1024).contains(&p.n_mels) {
            return bad(format!("n_mels {} is outside 1..=1024", p.n_mels));
        }
        if !(p.f_min >= 0.0 && p.f_min < p.f_max && p.f_max <= p.sample_rate as f64 / 2.0) {
            return bad(format!(
                "need 0 <= f_min < f_max <= sample_rate / 2, got {} and {}",
                p.f_min, p.f_max
            ));
        }
        if !(1..=100_000).contains(&p.block_frames)
            || p.hop_frames == 0
            || p.hop_frames > p.block_frames
        {
            return bad(format!(
                "need 1 <= hop_frames <= frames <= 100000 for blocks, got {} and {}",
                p.hop_frames, p.block_frames
            ));
        }
        let Compression::Log10Affine {
            scale,
            offset,
            divisor,
        } = p.compression;
        if !(scale > 0.0
            && offset > 0.0
            && divisor != 0.0
            && scale.is_finite()
            && offset.is_finite()
            && divisor.is_finite())
        {
            return bad(
                "compression log10_affine needs scale > 0, offset > 0 and a non-zero divisor"
                    .into(),
            );
        }
        let tables = Tables::new(p);
        Ok(BlockSpec {
            params,
            tables: Arc::new(tables),
        })
    }

    /// Reads the `frontend` object of an `avx-model.json` (`path` names the file in errors).
    pub fn from_json(value: &serde_json::Value, path: &Path) -> Result<Self> {
        let bad = |message: String| EmbedError::Config {
            path: path.to_path_buf(),
            message,
        };
        let j: FrontendJson = serde_json::from_value(value.clone())
            .map_err(|e| bad(format!("invalid \"frontend\" object: {e}")))?;
        let pick = |what: &str, got: &str, options: &[&str]| -> Result<usize> {
            options.iter().position(|o| *o == got).ok_or_else(|| {
                bad(format!(
                    "frontend {what} {got:?} is not supported; expected one of {options:?}"
                ))
            })
        };
        let level = [Level::None, Level::Peak][pick("level", &j.level, &["none", "peak"])?];
        pick("window", &j.window, &["hann"])?;
        if j.power != 2.0 {
            return Err(bad(format!(
                "frontend power {} is not supported; expected 2.0",
                j.power
            )));
        }
        let center_pad = [CenterPad::Constant, CenterPad::Reflect]
            [pick("center_pad", &j.center_pad, &["constant", "reflect"])?];
        let mel_scale =
            [MelScale::Htk, MelScale::Slaney][pick("mel_scale", &j.mel_scale, &["htk", "slaney"])?];
        let mel_norm = [FilterNorm::None, FilterNorm::Slaney, FilterNorm::L1]
            [pick("mel_norm", &j.mel_norm, &["none", "slaney", "l1"])?];
        pick("compression type", &j.compression.kind, &["log10_affine"])?;
        pick("blocks.last_partial", &j.blocks.last_partial, &["drop"])?;
        pick("blocks.short", &j.blocks.short, &["zero_pad"])?;
        let params = BlockParams {
            sample_rate: j.sample_rate,
            level,
            n_fft: j.n_fft,
            hop_length: j.hop_length,
            center_pad,
            n_mels: j.n_mels,
            f_min: j.f_min,
            f_max: j.f_max,
            mel_scale,
            mel_norm,
            compression: Compression::Log10Affine {
                scale: j.compression.scale,
                offset: j.compression.offset,
                divisor: j.compression.divisor,
            },
            block_frames: j.blocks.frames,
            hop_frames: j.blocks.hop_frames,
        };
        Self::new(params, path)
    }

    /// aiSFX's front end (the `aisfx` 0.1.2 package's librosa path under librosa 0.11), written out.
    pub fn aisfx() -> Self {
        let params = BlockParams {
            sample_rate: 44_100,
            level: Level::Peak,
            n_fft: 2048,
            hop_length: 1024,
            center_pad: CenterPad::Constant,
            n_mels: 96,
            f_min: 0.0,
            f_max: 22_050.0,
            mel_scale: MelScale::Htk,
            mel_norm: FilterNorm::L1,
            compression: Compression::Log10Affine {
                scale: 10_000.0,
                offset: 1.0,
                divisor: 9.457798957824707,
            },
            block_frames: 100,
            hop_frames: 50,
        };
        Self::new(params, Path::new("<built-in aisfx>")).expect("built-in parameters are valid")
    }

    /// The parameters.
    pub fn params(&self) -> &BlockParams {
        &self.params
    }

    /// The model input of one block, `[block_frames, n_mels]`.
    pub fn input_shape(&self) -> [usize; 2] {
        [self.params.block_frames, self.params.n_mels]
    }

    /// Seconds between block starts.
    pub fn hop_seconds(&self) -> f64 {
        (self.params.hop_frames * self.params.hop_length) as f64 / self.params.sample_rate as f64
    }

    /// Seconds one block spans (`block_frames * hop_length / sample_rate`).
    pub fn block_seconds(&self) -> f64 {
        (self.params.block_frames * self.params.hop_length) as f64 / self.params.sample_rate as f64
    }

    /// The frames between block starts for a hop of `hop_s` seconds (`round(hop_s * rate / hop_length)`), or
    /// `None` if that is not between 1 and `block_frames`.
    pub fn hop_frames_for(&self, hop_s: f64) -> Option<usize> {
        let f = (hop_s * self.params.sample_rate as f64 / self.params.hop_length as f64).round();
        (hop_s.is_finite() && f >= 1.0 && f <= self.params.block_frames as f64)
            .then_some(f as usize)
    }

    /// [`hop_frames_for`](Self::hop_frames_for), or why `hop_s` cannot be a hop.
    pub fn check_hop(&self, hop_s: f64) -> std::result::Result<usize, String> {
        self.hop_frames_for(hop_s).ok_or_else(|| {
            format!(
                "block hop of {hop_s} s must be between one frame ({} s) and one block ({} s)",
                seconds_text(self.params.hop_length as f64 / self.params.sample_rate as f64),
                seconds_text(self.block_seconds())
            )
        })
    }

    /// The log-mel frames of a whole (already level-normalised) signal, time-major `[frames, n_mels]`.
    pub fn log_mel(&self, samples: &[f32]) -> Vec<f32> {
        let mut framer = Framer::new(self, samples.len() as u64, 1.0);
        framer.push(samples);
        let mut out = Vec::new();
        while framer.next_frame(&mut out) {}
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_silence() {
        let spec = BlockSpec::aisfx();
        let mel = spec.log_mel(&vec![0.0; 5000]);
        // 1 + 5000 / 1024 frames, log10(0 * 1e4 + 1) = 0.
        assert_eq!(mel.len(), 5 * 96);
        assert!(mel.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn l1_filters_sum_to_one() {
        let spec = BlockSpec::aisfx();
        for (_, w) in &spec.tables.filters {
            let s: f64 = w.iter().sum();
            assert!((s - 1.0).abs() < 1e-12, "{s}");
        }
    }

    #[test]
    fn reflect_and_constant_padding_differ_only_at_the_edges() {
        let mut p = BlockSpec::aisfx().params().clone();
        let x: Vec<f32> = (0..20_000).map(|i| ((i as f32) * 0.01).sin()).collect();
        let a = BlockSpec::aisfx().log_mel(&x);
        p.center_pad = CenterPad::Reflect;
        let b = BlockSpec::new(p, Path::new("t")).unwrap().log_mel(&x);
        assert_eq!(a.len(), b.len());
        let frames = a.len() / 96;
        assert_ne!(a[..96], b[..96]);
        assert_eq!(a[2 * 96..(frames - 2) * 96], b[2 * 96..(frames - 2) * 96]);
    }

    #[test]
    fn hop_in_frames() {
        let spec = BlockSpec::aisfx();
        assert_eq!(spec.hop_frames_for(spec.hop_seconds()), Some(50));
        assert_eq!(spec.hop_frames_for(spec.block_seconds()), Some(100));
        assert_eq!(spec.hop_frames_for(10.0), None);
        assert_eq!(spec.hop_frames_for(0.0), None);
    }
}
