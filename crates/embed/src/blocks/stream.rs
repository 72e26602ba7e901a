//! [`BlockStream`]: a file's model-input blocks, decoded in one or two passes (see the module documentation of
//! [`crate::blocks`]).

use std::path::{Path, PathBuf};

use super::dsp::Framer;
use super::spec::{BlockSpec, Level};
use crate::decode::Decoder;
use crate::resample::StreamResampler;
use crate::soundprint::{SoundPrint, SoundPrinter};
use crate::window::{AudioInfo, Window};
use crate::{EmbedError, Result};

/// Files up to this many seconds (at the model's rate) are decoded once and held in memory; longer ones are
/// decoded twice (see the module documentation).
pub const BUFFER_SECONDS: f64 = 600.0;

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
    /// The file's sound print, made in the first pass when asked for ([`BlockStream::open_printing`]).
    print: Option<SoundPrint>,
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
        Self::open_printing(path, spec, hop_s, false)
    }

    /// [`BlockStream::open`], also computing the file's [`SoundPrint`] from the first pass's decoded samples
    /// when `print` is set (read it with [`BlockStream::take_print`]): the file is not decoded again for it.
    pub fn open_printing(path: &Path, spec: &BlockSpec, hop_s: f64, print: bool) -> Result<Self> {
        let hop_frames = spec
            .check_hop(hop_s)
            .map_err(|message| EmbedError::Config {
                path: path.to_path_buf(),
                message,
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
        let mut printer = print.then(|| SoundPrinter::new(decoder.info().sample_rate));
        let mut held: Option<Vec<f32>> = Some(Vec::new());
        let mut chunk_out = Vec::new();
        let (mut n, mut peak) = (0u64, 0f32);
        loop {
            chunk_out.clear();
            let end = match decoder.next_chunk()? {
                Some(chunk) => {
                    if let Some(p) = printer.as_mut() {
                        p.push(chunk);
                    }
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
            print: printer.map(SoundPrinter::finish),
        })
    }

    /// The sound print [`BlockStream::open_printing`] made (the same as
    /// [`crate::soundprint::print_file`] gives for the file), once.
    pub fn take_print(&mut self) -> Option<SoundPrint> {
        self.print.take()
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
