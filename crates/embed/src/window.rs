//! Deterministic model-input windows of a file, streamed in bounded memory.
//!
//! [`WindowStream`] decodes ([`crate::decode`]), resamples ([`crate::resample`]) and cuts the signal into windows
//! of `W` samples (10 s for CLAP) at the model's rate, computing each window's features with
//! [`FrontEndSpec::features`]. The rule, with `N` the number of resampled samples and `H` the hop in samples
//! (`round(hop_s * rate)`):
//!
//! - `N == 0`: a `NoAudio` error;
//! - `N <= W`: one window `[0, N / rate]` holding the whole file, padded by the spec's rule (`repeatpad`);
//! - `N > W`: windows starting at `k * H` for every `k` with `k * H + W <= N`; if the last of them ends before
//!   `N`, one more window aligned to the end, starting at `N - W`. Windows are never padded.
//!
//! A window's times are `start / rate` and `(start + W) / rate` seconds in the source file. The same file always
//! gives the same windows, bit for bit. At most about one window plus one hop plus one decoded packet of samples is
//! held, whatever the file's length.

use std::path::{Path, PathBuf};

use crate::decode::Decoder;
use crate::frontend::FrontEndSpec;
use crate::resample::StreamResampler;
use crate::soundprint::{SoundPrint, SoundPrinter};
use crate::{EmbedError, Result};

/// What is known about an input file.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    /// Duration in seconds: estimated from the header until the stream ends, then exact (decoded frames / rate).
    pub duration_s: f64,
    /// The file's own sample rate in Hz.
    pub sample_rate: u32,
    /// Channels in the file (down-mixed to mono by averaging).
    pub channels: u16,
    /// The codec, named (e.g. `mp3`, `flac`, `pcm_s16le`).
    pub codec: String,
    /// Frames at the file's rate: from the header until the stream ends (0 when unknown), then decoded frames.
    pub frames: u64,
}

/// One model-input window.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Start time in the source file, seconds.
    pub start_s: f64,
    /// End time in the source file, seconds (for a padded short file: its duration).
    pub end_s: f64,
    /// The model input, laid out as [`FrontEndSpec::input_shape`] (time-major `[1, frames, n_mels]`).
    pub features: Vec<f32>,
}

/// An iterator of a file's model-input windows; see the module documentation for the windowing rule.
#[derive(Debug)]
pub struct WindowStream {
    path: PathBuf,
    spec: FrontEndSpec,
    decoder: Decoder,
    resampler: StreamResampler,
    /// Resampled samples from absolute index `buf_start`.
    buf: Vec<f32>,
    buf_start: u64,
    /// Start of the next regular window.
    next_start: u64,
    hop: u64,
    w: u64,
    eof: bool,
    windows_emitted: u64,
    last_end: u64,
    done: bool,
    /// Fed every decoded chunk when the caller asked for the file's sound print ([`WindowStream::printing`]).
    printer: Option<SoundPrinter>,
}

impl WindowStream {
    /// Opens `path` and prepares windows of `spec` every `hop_s` seconds (callers default to
    /// [`FrontEndSpec::window_seconds`], i.e. consecutive windows). The hop must be more than 0 and at most one
    /// window long.
    pub fn open(path: &Path, spec: &FrontEndSpec, hop_s: f64) -> Result<Self> {
        // Check the hop before touching the file, so a wrong setting is reported as such.
        spec.check_hop(hop_s).map_err(|m| hop_error(path, m))?;
        let decoder = Decoder::open(path)?;
        Self::from_decoder(decoder, spec, hop_s)
    }

    /// Windows of an already opened [`Decoder`] (e.g. [`Decoder::from_bytes`]); `hop_s` as in
    /// [`open`](Self::open).
    pub fn from_decoder(decoder: Decoder, spec: &FrontEndSpec, hop_s: f64) -> Result<Self> {
        let path = decoder.path().to_path_buf();
        let rate = spec.sample_rate();
        let w = spec.window_samples() as u64;
        let hop = spec.check_hop(hop_s).map_err(|m| hop_error(&path, m))? as f64;
        let resampler =
            StreamResampler::new(decoder.info().sample_rate, rate).map_err(|message| {
                EmbedError::Decode {
                    path: path.clone(),
                    message,
                }
            })?;
        Ok(WindowStream {
            path,
            spec: spec.clone(),
            decoder,
            resampler,
            buf: Vec::new(),
            buf_start: 0,
            next_start: 0,
            hop: hop as u64,
            w,
            eof: false,
            windows_emitted: 0,
            last_end: 0,
            done: false,
            printer: None,
        })
    }

    /// Also computes the file's [`SoundPrint`] from the same decoded samples (so a caller that wants both
    /// decodes the file once); read it with [`WindowStream::take_print`] after the last window.
    pub fn printing(mut self) -> Self {
        self.printer = Some(SoundPrinter::new(self.decoder.info().sample_rate));
        self
    }

    /// The sound print, once the stream has returned `None` (and only if [`WindowStream::printing`] asked for
    /// it): the same print as [`crate::soundprint::print_file`] gives for the file.
    pub fn take_print(&mut self) -> Option<SoundPrint> {
        if !self.eof {
            return None;
        }
        self.printer.take().map(SoundPrinter::finish)
    }

    /// What is known about the file; `duration_s` and `frames` are final once the stream has returned `None`.
    pub fn info(&self) -> &crate::AudioInfo {
        self.decoder.info()
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next window, or `None` after the last one.
    pub fn next_window(&mut self) -> Result<Option<Window>> {
        if self.done {
            return Ok(None);
        }
        let r = self.advance();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
            self.buf = Vec::new();
        }
        r
    }

    fn advance(&mut self) -> Result<Option<Window>> {
        loop {
            let buf_end = self.buf_start + self.buf.len() as u64;
            if self.next_start + self.w <= buf_end {
                let start = self.next_start;
                let win = self.make_window(start, self.w);
                self.next_start += self.hop;
                self.last_end = start + self.w;
                self.compact();
                return Ok(Some(win));
            }
            if self.eof {
                let n = buf_end;
                if n == 0 {
                    return Err(EmbedError::NoAudio {
                        path: self.path.clone(),
                    });
                }
                if self.last_end == n {
                    return Ok(None);
                }
                self.last_end = n;
                if self.windows_emitted == 0 {
                    // n < w here, or the regular branch above would have taken it: the whole file, padded.
                    return Ok(Some(self.make_window(0, n)));
                }
                // The last regular window ended before n: one more, aligned to the end.
                return Ok(Some(self.make_window(n - self.w, self.w)));
            }
            self.fill()?;
        }
    }

    /// Decodes and resamples one more chunk into the buffer, or marks the end.
    fn fill(&mut self) -> Result<()> {
        match self.decoder.next_chunk()? {
            Some(chunk) => {
                if let Some(p) = self.printer.as_mut() {
                    p.push(chunk);
                }
                self.resampler.push(chunk, &mut self.buf)
            }
            None => {
                self.resampler.finish(&mut self.buf);
                self.eof = true;
            }
        }
        Ok(())
    }

    fn make_window(&mut self, start: u64, len: u64) -> Window {
        debug_assert!(start >= self.buf_start);
        let off = (start - self.buf_start) as usize;
        let mut features = Vec::new();
        self.spec
            .features(&self.buf[off..off + len as usize], &mut features);
        self.windows_emitted += 1;
        let rate = self.spec.sample_rate() as f64;
        Window {
            start_s: start as f64 / rate,
            end_s: (start + len) as f64 / rate,
            features,
        }
    }

    /// Drops samples no future window can need: those before the next regular start and before the last `W`
    /// samples (which an end-aligned final window may need).
    fn compact(&mut self) {
        let buf_end = self.buf_start + self.buf.len() as u64;
        let keep_from = self.next_start.min(buf_end.saturating_sub(self.w));
        if keep_from > self.buf_start {
            let drop = ((keep_from - self.buf_start) as usize).min(self.buf.len());
            self.buf.drain(..drop);
            self.buf_start += drop as u64;
        }
    }
}

fn hop_error(path: &Path, message: String) -> EmbedError {
    EmbedError::Config {
        path: path.to_path_buf(),
        message,
    }
}

impl Iterator for WindowStream {
    type Item = Result<Window>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_window().transpose()
    }
}
