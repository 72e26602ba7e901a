//! Block front ends: one log-mel of the whole file, cut into blocks of frames (aiSFX and models like it).
//!
//! CLAP cuts the *signal* into 10 s windows and computes a log-mel per window ([`crate::frontend`],
//! [`crate::window`]). Models such as aiSFX (Ma and Lerch, ISMIR 2022) instead compute one log-mel spectrogram of
//! the whole (level-normalised) file and cut it into blocks of `block_frames` frames every `hop_frames` frames.
//! [`BlockSpec`] describes such a front end as data, read from the `frontend` object of a model directory's
//! `avx-model.json` (written by `models/aisfx/export.py`); [`BlockStream`] turns a file into its model inputs.
//!
//! The computation, matching the aisfx package's librosa path (librosa 0.11) step for step:
//!
//! 1. decode, down-mix to mono, resample to `sample_rate`;
//! 2. `level: "peak"`: divide every sample by the file's max |x| (a silent file is left alone);
//! 3. centred STFT: `n_fft / 2` samples of padding on both sides (`center_pad`: `constant` = zeros, as librosa
//!    0.10 and later; `reflect` as librosa 0.9), periodic Hann window of `n_fft`, a frame every `hop_length` samples, so
//!    `1 + N / hop_length` frames for `N` samples; computed in f64, rounded to complex64 as librosa stores it;
//! 4. power spectrum, mel filter bank (`mel_scale`, `f_min`..`f_max`, `mel_norm`: `l1` = each filter scaled to
//!    unit sum, librosa's `norm=1.0`);
//! 5. `compression: log10_affine`: `log10(mel * scale + offset) / divisor`;
//! 6. blocks of `block_frames` frames starting every `hop_frames` frames; a last partial block is dropped; a file
//!    with fewer than `block_frames` frames gives one block padded with zero rows (`aisfx.preprocessing.blocking`
//!    with `drop_partial_block=True`). Each block is laid out time-major, `[block_frames, n_mels]`.
//!
//! Block `b` starts at `b * hop_frames * hop_length / sample_rate` seconds and ends `block_frames * hop_length /
//! sample_rate` seconds later, or at the end of the file if that comes first (the frame centres of the block are
//! `(b * hop_frames + i) * hop_length` samples, `i < block_frames`).
//!
//! **Memory.** Peak normalisation needs the whole file's maximum before the first frame. A first pass decodes and
//! resamples the file, keeping the samples while they fit in [`BUFFER_SECONDS`] (sound effects and samples, the
//! files this kind of model is for, almost always do); a longer file is decoded a second time instead of being
//! held, so memory stays bounded (about one block of samples and frames) whatever the file's length. Both passes
//! are deterministic, so the result is the same either way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use serde::Deserialize;

use crate::decode::Decoder;
use crate::frontend::{frame_mel_energies, mel_filter_bank, reflect, MelNorm, MelScale};
use crate::resample::StreamResampler;
use crate::window::{AudioInfo, Window};
use crate::{EmbedError, Result};

/// Files up to this many seconds (at the model's rate) are decoded once and held in memory; longer ones are
/// decoded twice (see the module documentation).
pub const BUFFER_SECONDS: f64 = 600.0;

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
    params: BlockParams,
    tables: Arc<Tables>,
}

struct Tables {
    window: Vec<f64>,
    filters: Vec<(usize, Vec<f64>)>,
    fft: Arc<dyn RealToComplex<f64>>,
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

    /// The log-mel frames of a whole (already level-normalised) signal, time-major `[frames, n_mels]`.
    pub fn log_mel(&self, samples: &[f32]) -> Vec<f32> {
        let mut framer = Framer::new(self, samples.len() as u64, 1.0);
        framer.push(samples);
        let mut out = Vec::new();
        while framer.next_frame(&mut out) {}
        out
    }
}

impl Tables {
    fn new(p: &BlockParams) -> Tables {
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
struct Framer {
    spec: BlockSpec,
    n: u64,
    gain: f32,
    frames: u64,
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
    fn new(spec: &BlockSpec, n: u64, gain: f32) -> Framer {
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

    fn push(&mut self, samples: &[f32]) {
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
    fn next_frame(&mut self, out: &mut Vec<f32>) -> bool {
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

enum Source {
    /// The whole resampled file, held from the first pass.
    Memory(Option<Vec<f32>>),
    /// A second decode of a long file.
    Decode(Box<(Decoder, StreamResampler)>),
}

/// A file's model-input blocks, in order; see the module documentation.
pub struct BlockStream {
    path: PathBuf,
    spec: BlockSpec,
    info: AudioInfo,
    source: Source,
    framer: Framer,
    hop_frames: usize,
    /// Frames from absolute frame index `rows_start`, `n_mels` values each.
    rows: Vec<f32>,
    rows_start: u64,
    next_block: u64,
    blocks: u64,
    done: bool,
}

impl std::fmt::Debug for BlockStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockStream")
            .field("path", &self.path)
            .field("blocks", &self.blocks)
            .finish_non_exhaustive()
    }
}

impl BlockStream {
    /// Opens `path` for blocks every `hop_s` seconds (rounded to whole frames; callers default to
    /// [`BlockSpec::hop_seconds`]). Runs the first pass (decoding for the peak) before returning.
    pub fn open(path: &Path, spec: &BlockSpec, hop_s: f64) -> Result<Self> {
        let hop_frames = spec
            .hop_frames_for(hop_s)
            .ok_or_else(|| EmbedError::Config {
                path: path.to_path_buf(),
                message: format!(
                    "block hop of {hop_s} s must be between one frame ({} s) and one block ({} s)",
                    spec.params.hop_length as f64 / spec.params.sample_rate as f64,
                    spec.block_seconds()
                ),
            })?;
        let rate = spec.params.sample_rate;
        let cap = (BUFFER_SECONDS * rate as f64) as usize;
        // First pass: length and peak, keeping the samples while they fit.
        let mut decoder = Decoder::open(path)?;
        let mut resampler =
            StreamResampler::new(decoder.info().sample_rate, rate).map_err(|message| {
                EmbedError::Decode {
                    path: path.to_path_buf(),
                    message,
                }
            })?;
        let mut held: Option<Vec<f32>> = Some(Vec::new());
        let mut chunk_out = Vec::new();
        let (mut n, mut peak) = (0u64, 0f32);
        loop {
            chunk_out.clear();
            let end = match decoder.next_chunk()? {
                Some(chunk) => {
                    resampler.push(chunk, &mut chunk_out);
                    false
                }
                None => {
                    resampler.finish(&mut chunk_out);
                    true
                }
            };
            n += chunk_out.len() as u64;
            peak = chunk_out.iter().fold(peak, |m, x| m.max(x.abs()));
            if let Some(h) = held.as_mut() {
                if h.len() + chunk_out.len() <= cap {
                    h.extend_from_slice(&chunk_out);
                } else {
                    held = None;
                }
            }
            if end {
                break;
            }
        }
        if n == 0 {
            return Err(EmbedError::NoAudio {
                path: path.to_path_buf(),
            });
        }
        let info = decoder.info().clone();
        let gain = match spec.params.level {
            Level::Peak if peak > 0.0 && peak.is_finite() => 1.0 / peak,
            _ => 1.0,
        };
        let source = match held {
            Some(h) => Source::Memory(Some(h)),
            None => {
                let d = Decoder::open(path)?;
                let r = StreamResampler::new(d.info().sample_rate, rate).map_err(|message| {
                    EmbedError::Decode {
                        path: path.to_path_buf(),
                        message,
                    }
                })?;
                Source::Decode(Box::new((d, r)))
            }
        };
        let framer = Framer::new(spec, n, gain);
        let frames = framer.frames;
        let (bf, hf) = (spec.params.block_frames as u64, hop_frames as u64);
        let blocks = if frames < bf {
            1
        } else {
            (frames - bf) / hf + 1
        };
        Ok(BlockStream {
            path: path.to_path_buf(),
            spec: spec.clone(),
            info,
            source,
            framer,
            hop_frames,
            rows: Vec::new(),
            rows_start: 0,
            next_block: 0,
            blocks,
            done: false,
        })
    }

    /// What the decoder learnt about the file (final: the first pass has read it all).
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many blocks the file gives.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// The next block, or `None` after the last one.
    pub fn next_window(&mut self) -> Result<Option<Window>> {
        if self.done || self.next_block >= self.blocks {
            self.done = true;
            return Ok(None);
        }
        let r = self.advance();
        if r.is_err() {
            self.done = true;
        }
        r.map(Some)
    }

    fn advance(&mut self) -> Result<Window> {
        let p = self.spec.params.clone();
        let (bf, m) = (p.block_frames as u64, p.n_mels);
        let first = self.next_block * self.hop_frames as u64;
        let want_end = (first + bf).min(self.framer.frames);
        while self.rows_start + ((self.rows.len() / m) as u64) < want_end {
            if !self.framer.next_frame(&mut self.rows) {
                self.feed()?;
            }
        }
        let off = ((first - self.rows_start) as usize) * m;
        let have = ((want_end - first) as usize) * m;
        let mut features = Vec::with_capacity(bf as usize * m);
        features.extend_from_slice(&self.rows[off..off + have]);
        features.resize(bf as usize * m, 0.0);
        let rate = p.sample_rate as f64;
        let start_s = (first * p.hop_length as u64) as f64 / rate;
        let end_s = (start_s + self.spec.block_seconds()).min(self.info.duration_s.max(start_s));
        self.next_block += 1;
        // Drop frames before the next block.
        let next_first = (self.next_block * self.hop_frames as u64)
            .min(self.rows_start + (self.rows.len() / m) as u64);
        if next_first > self.rows_start {
            self.rows
                .drain(..((next_first - self.rows_start) as usize) * m);
            self.rows_start = next_first;
        }
        Ok(Window {
            start_s,
            end_s,
            features,
        })
    }

    /// Gives the framer more samples.
    fn feed(&mut self) -> Result<()> {
        match &mut self.source {
            Source::Memory(h) => {
                let h = h.take().ok_or_else(|| EmbedError::Decode {
                    path: self.path.clone(),
                    message: "internal: samples exhausted before the last frame".into(),
                })?;
                self.framer.push(&h);
            }
            Source::Decode(dr) => {
                let (d, r) = &mut **dr;
                let mut out = Vec::new();
                match d.next_chunk()? {
                    Some(chunk) => r.push(chunk, &mut out),
                    None => {
                        r.finish(&mut out);
                        if out.is_empty() {
                            return Err(EmbedError::Decode {
                                path: self.path.clone(),
                                message: "the second decoding pass ended early".into(),
                            });
                        }
                    }
                }
                self.framer.push(&out);
            }
        }
        Ok(())
    }
}

impl Iterator for BlockStream {
    type Item = Result<Window>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_window().transpose()
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
