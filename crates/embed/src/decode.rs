//! Streaming decoding with symphonia: any supported file to mono f32 chunks at the file's own rate.
//!
//! The container is detected from the file's content; the extension is only a hint to the probe. The first audio
//! track is decoded packet by packet and each packet is down-mixed to mono by averaging its channels (summed in
//! f64 and divided by the channel count, then rounded to f32).
//!
//! Encoder delay and padding are trimmed as the reference decoders trim them: MP3 (LAME/Xing header) and Ogg
//! Vorbis (granule positions) by symphonia's gapless mode, completed by the last Ogg page's granule position
//! ([`ogg_length`]: symphonia misses it on one-page streams), and MP4/M4A (edit list, `iTunSMPB`) by avx
//! ([`mp4_gapless`]), since symphonia 0.5.5 does not apply them. Opus, which symphonia 0.5.5 demuxes but cannot
//! decode, goes through avx's own codec ([`opus`], registered in [`codecs`]); its pre-skip and the last Ogg page's
//! granule position are trimmed here.
//!
//! Errors follow symphonia's player: a packet that fails to decode is skipped (its samples are lost), but a file
//! that yields no samples at all is an error, and so is a long run of bad packets. Header values are checked before
//! anything is sized by them (sample rate 1 Hz..=768 kHz, 1..=32 channels); a claimed frame count is only used to
//! estimate the duration, never to allocate. Every error names the file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use symphonia::core::audio::{AudioBuffer, AudioBufferRef, Signal, SignalSpec};
use symphonia::core::codecs::{self, CodecType, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::conv::IntoSample;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use symphonia::core::sample::Sample;

use crate::window::AudioInfo;
use crate::{sanity, EmbedError, Result};

pub mod mp4_gapless;
pub mod ogg_length;
pub mod opus;

thread_local! {
    /// Nesting depth of [`guarded`] calls on this thread.
    static GUARDED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f`, catching a panic (symphonia aims never to panic on bad input, but fuzzing has found panics in its
/// readers before, e.g. on a WebM file cut short): the caller turns it into that file's error.
fn guarded<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    GUARDED.with(|g| g.set(g.get() + 1));
    let r = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get() - 1));
    r
}

/// Installs (once) a panic hook that keeps the panics the decoder catches off stderr: each becomes its file's
/// error ("the container reader panicked on malformed data"), so its message and backtrace are only logged at
/// debug level. Every other panic goes to the hook that was there before. For programs (the `avx` binary calls
/// it first thing); a library user who wants every panic printed does not call it.
pub fn quiet_caught_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(|g| g.get()) > 0 {
                log::debug!("a panic caught while decoding: {info}");
            } else {
                before(info);
            }
        }));
    });
}

/// symphonia's codecs and avx's Opus decoder ([`opus::OpusCodec`]; symphonia 0.5.5 has none).
pub fn codecs() -> &'static codecs::CodecRegistry {
    static REGISTRY: std::sync::OnceLock<codecs::CodecRegistry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut r = codecs::CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut r);
        r.register_all::<opus::OpusCodec>();
        r
    })
}

/// Highest sample rate accepted from a file header.
pub const MAX_SAMPLE_RATE: u32 = 768_000;
/// Most channels accepted from a file header.
pub const MAX_CHANNELS: usize = 32;
/// Bytes of a file's start read by [`precheck`].
const HEAD_LEN: usize = 64 * 1024;
/// Consecutive undecodable packets after which a file is declared damaged.
const MAX_CONSECUTIVE_ERRORS: u32 = 256;

/// A streaming decoder of one file to mono f32 samples at the file's sample rate.
pub struct Decoder {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn codecs::Decoder>,
    track_id: u32,
    info: AudioInfo,
    mono: Vec<f32>,
    decoded_frames: u64,
    skipped_packets: u64,
    done: bool,
    /// The container's gapless trim: MP4's edit list or iTunSMPB, a Vorbis stream's last granule (symphonia trims
    /// MP3 and the start of Vorbis itself).
    trim: mp4_gapless::Trim,
    /// Frames the codec produced before trimming.
    raw_frames: u64,
    /// A factor on every sample: an Opus header's output gain, else 1.
    gain: f32,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("path", &self.path)
            .field("info", &self.info)
            .field("decoded_frames", &self.decoded_frames)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// Opens `path`, detects its format from the content and prepares to decode its first audio track. A path
    /// that is not a regular file (a FIFO, `/dev/stdin`, or `<(ffmpeg ...)` from a shell) is read as a stream; an
    /// MP4 or Ogg stream, whose readers must seek, is read whole into memory first.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| EmbedError::io(path, e))?;
        let meta = file.metadata().map_err(|e| EmbedError::io(path, e))?;
        if meta.is_file() && meta.len() == 0 {
            return Err(decode_err(path, "the file is empty"));
        }
        let mut head = Vec::with_capacity(HEAD_LEN);
        (&file)
            .take(HEAD_LEN as u64)
            .read_to_end(&mut head)
            .map_err(|e| EmbedError::io(path, e))?;
        if head.is_empty() {
            return Err(decode_err(path, "the file is empty"));
        }
        precheck(path, &head)?;
        if !meta.is_file() {
            // MP4 (its index may come last) and Ogg (its reader seeks to the end for the length) cannot be read
            // from a stream: such a stream is read whole into memory. The others decode as their bytes arrive.
            if head.get(4..8) == Some(b"ftyp") || head.starts_with(b"OggS") {
                let mut bytes = head;
                (&file)
                    .read_to_end(&mut bytes)
                    .map_err(|e| EmbedError::io(path, e))?;
                return Self::from_bytes(path, bytes);
            }
            let stream = std::io::Cursor::new(head.clone()).chain(file);
            return Self::from_source(path, Box::new(ReadOnlySource::new(stream)), &head);
        }
        (&file)
            .seek(SeekFrom::Start(0))
            .map_err(|e| EmbedError::io(path, e))?;
        Self::from_source(path, Box::new(file), &head)
    }

    /// Decodes in-memory `bytes`; `name` stands for the file in errors and its extension is a hint to the probe.
    pub fn from_bytes(name: &Path, bytes: Vec<u8>) -> Result<Self> {
        if bytes.is_empty() {
            return Err(decode_err(name, "the file is empty"));
        }
        let head = &bytes[..bytes.len().min(HEAD_LEN)];
        precheck(name, head)?;
        let head = head.to_vec();
        Self::from_source(name, Box::new(std::io::Cursor::new(bytes)), &head)
    }

    /// `head`: the file's first bytes. When they are those of a container avx reads ([`known_magic`]), running
    /// out of bytes while probing means the file was cut short rather than that it is in another format.
    fn from_source(path: &Path, mut source: Box<dyn MediaSource>, head: &[u8]) -> Result<Self> {
        let known = known_magic(head);
        let is_mp4 = head.get(4..8) == Some(b"ftyp");
        let declared = if is_mp4 {
            let d = mp4_gapless::read(&mut source);
            source
                .seek(SeekFrom::Start(0))
                .map_err(|e| EmbedError::io(path, e))?;
            d
        } else {
            None
        };
        let ogg_end = match ogg_length::first_serial(head) {
            Some(serial) => {
                let g = ogg_length::last_granule(&mut source, serial);
                source
                    .seek(SeekFrom::Start(0))
                    .map_err(|e| EmbedError::io(path, e))?;
                g
            }
            None => None,
        };
        let mss = MediaSourceStream::new(source, Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let opts = FormatOptions {
            enable_gapless: true,
            ..Default::default()
        };
        // Defence in depth: a panic while probing is turned into a decode error for this file.
        let probed = guarded(|| {
            symphonia::default::get_probe().format(&hint, mss, &opts, &MetadataOptions::default())
        })
        .map_err(|_| decode_err(path, "the container reader panicked on malformed data"))?
        .map_err(|e| {
            let unrecognised = || EmbedError::Unsupported {
                path: path.to_path_buf(),
                what: "unrecognised container format (expected WAV, AIFF, FLAC, MP3, MP4/M4A, AAC, OGG, MKV/WebM or CAF)"
                    .into(),
            };
            match e {
                SymError::Unsupported(_) => match wav_format_tag(head) {
                    // symphonia reads the RIFF header, then refuses the codec inside.
                    Some(tag) => EmbedError::Unsupported {
                        path: path.to_path_buf(),
                        what: format!("WAV holding {} audio", wav_codec_name(tag)),
                    },
                    None => unrecognised(),
                },
                // The probe scans the whole file for a known header: reaching the end means either a known
                // container cut short or no known container at all (random bytes, WMA, ...).
                SymError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    if known {
                        decode_err(path, "the file ends before its header does")
                    } else {
                        unrecognised()
                    }
                }
                other => sym_err(path, other),
            }
        })?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| EmbedError::NoAudio {
                path: path.to_path_buf(),
            })?;
        let params = track.codec_params.clone();
        let track_id = track.id;
        let codec = codec_name(params.codec);

        // Opus always decodes at 48 kHz, whatever rate a container declares (Ogg's header holds the input's).
        let sample_rate = if params.codec == codecs::CODEC_TYPE_OPUS {
            opus::RATE
        } else {
            params.sample_rate.unwrap_or(0)
        };
        if sample_rate == 0 || sample_rate > MAX_SAMPLE_RATE {
            return Err(decode_err(
                path,
                &format!("implausible sample rate {sample_rate} Hz in the header"),
            ));
        }
        let channels = params.channels.map_or(0, |c| c.count());
        if channels > MAX_CHANNELS {
            return Err(decode_err(
                path,
                &format!("implausible channel count {channels} in the header"),
            ));
        }
        if codecs().get_codec(params.codec).is_none() {
            return Err(EmbedError::Unsupported {
                path: path.to_path_buf(),
                what: format!("{codec} audio"),
            });
        }
        let decoder = guarded(|| codecs().make(&params, &DecoderOptions::default()))
            .map_err(|_| decode_err(path, "the decoder panicked on malformed codec parameters"))?
            .map_err(|e| match e {
                SymError::Unsupported(what) => EmbedError::Unsupported {
                    path: path.to_path_buf(),
                    what: format!("{codec} audio ({what})"),
                },
                other => sym_err(path, other),
            })?;
        let edit_list = declared.is_some();
        let mut trim = declared.map_or(
            mp4_gapless::Trim {
                skip: 0,
                frames: None,
            },
            |d| d.at_rate(sample_rate),
        );
        if params.codec == codecs::CODEC_TYPE_VORBIS {
            // symphonia has removed the start delay; the stream ends at the last granule position.
            if let Some(end) = ogg_end.filter(|&g| g > params.start_ts) {
                trim.frames = Some(end - params.start_ts);
            }
        }
        let mut gain = 1.0;
        if params.codec == codecs::CODEC_TYPE_OPUS {
            // RFC 7845: drop the pre-skip, end at the last granule position (less the pre-skip), apply the
            // header's gain. MP4's edit list, when there is one, says where the audio starts and ends instead.
            let opus_head = params.extra_data.as_deref();
            if let Some(h) = opus_head.and_then(|x| opus::Head::parse(x, is_mp4)) {
                gain = h.gain();
                if !edit_list {
                    trim.skip = u64::from(h.pre_skip);
                    trim.frames = ogg_end.map(|g| g.saturating_sub(trim.skip));
                }
            }
        }
        // A frame count of 2^32 or more from a header is not believed for the estimate either.
        let frames = trim
            .frames
            .or(params.n_frames)
            .filter(|&n| n < 1 << 40)
            .unwrap_or(0);
        let info = AudioInfo {
            duration_s: frames as f64 / sample_rate as f64,
            sample_rate,
            channels: channels as u16,
            codec,
            frames,
        };
        Ok(Decoder {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            info,
            mono: Vec::new(),
            decoded_frames: 0,
            skipped_packets: 0,
            done: false,
            trim,
            raw_frames: 0,
            gain,
        })
    }

    /// What is known about the file: from the header after [`open`](Self::open), exact once
    /// [`next_chunk`](Self::next_chunk) has returned `None` (`frames` and `duration_s` then count decoded frames).
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// The file being decoded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Packets skipped because they failed to decode.
    pub fn skipped_packets(&self) -> u64 {
        self.skipped_packets
    }

    /// Decodes the next packet(s) and returns their mono samples, or `None` at the end of the track.
    ///
    /// Returns `NoAudio` at the end if no sample was decoded at all.
    pub fn next_chunk(&mut self) -> Result<Option<&[f32]>> {
        if self.done {
            return Ok(None);
        }
        let got = match guarded(|| self.decode_next()) {
            Ok(r) => r,
            Err(_) => {
                self.done = true;
                Err(decode_err(
                    &self.path,
                    "the decoder panicked on malformed data",
                ))
            }
        };
        let got = got.and_then(|more| {
            if more {
                let first = self.decoded_frames - self.mono.len() as u64;
                sanity::check_samples(&self.path, first, &self.mono)?;
            } else if self.decoded_frames > 0 {
                sanity::check_complete(&self.path, &self.info, self.decoded_frames)?;
            }
            Ok(more)
        });
        match got {
            Ok(true) => Ok(Some(&self.mono)),
            Ok(false) => {
                self.done = true;
                if self.decoded_frames == 0 {
                    return Err(EmbedError::NoAudio {
                        path: self.path.clone(),
                    });
                }
                self.info.frames = self.decoded_frames;
                self.info.duration_s = self.decoded_frames as f64 / self.info.sample_rate as f64;
                if self.skipped_packets > 0 {
                    log::warn!(
                        "{}: {} damaged packet(s) skipped; their audio is missing from the embedding",
                        self.path.display(),
                        self.skipped_packets
                    );
                }
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// Fills `self.mono` with the next decoded packet; `false` at the end of the stream.
    fn decode_next(&mut self) -> Result<bool> {
        let mut consecutive_errors = 0u32;
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false)
                }
                // A chained stream (new OGG logical stream) or a demuxer that cannot go on: end of this track.
                Err(SymError::ResetRequired) => return Ok(false),
                // Damaged container data after some good audio: a truncated or damaged tail, keep what we have.
                Err(SymError::DecodeError(_) | SymError::IoError(_)) if self.decoded_frames > 0 => {
                    return Ok(false)
                }
                Err(e) => return Err(sym_err(&self.path, e)),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(buf) => {
                    if buf.frames() == 0 {
                        continue;
                    }
                    let spec = *buf.spec();
                    check_spec(&self.path, &spec, self.info.sample_rate)?;
                    let n = downmix(buf, &mut self.mono) as u64;
                    let start = self.raw_frames;
                    self.raw_frames += n;
                    // Keep the part of raw frames [start, start + n) inside the container's trim.
                    let lo = self.trim.skip.saturating_sub(start).min(n);
                    let hi = self.trim.frames.map_or(n, |f| {
                        self.trim
                            .skip
                            .saturating_add(f)
                            .saturating_sub(start)
                            .min(n)
                    });
                    if lo >= hi {
                        if hi < n {
                            return Ok(false); // past the declared end: the rest is padding
                        }
                        continue; // priming
                    }
                    self.mono.truncate(hi as usize);
                    self.mono.drain(..lo as usize);
                    if self.gain != 1.0 {
                        self.mono.iter_mut().for_each(|s| *s *= self.gain);
                    }
                    let mono = self.mono.len();
                    self.decoded_frames += mono as u64;
                    if self.info.channels == 0 {
                        self.info.channels = spec.channels.count() as u16;
                    }
                    return Ok(true);
                }
                Err(SymError::DecodeError(_) | SymError::IoError(_)) => {
                    // As symphonia's player does: skip the packet, its samples are lost.
                    self.skipped_packets += 1;
                    log::debug!(
                        "{}: skipping a packet that failed to decode",
                        self.path.display()
                    );
                    consecutive_errors += 1;
                    if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                        return Err(decode_err(
                            &self.path,
                            &format!("{consecutive_errors} consecutive packets failed to decode"),
                        ));
                    }
                }
                Err(e) => return Err(sym_err(&self.path, e)),
            }
        }
    }
}

/// Whether `head` starts with the signature of a container avx reads: RIFF/RF64 (WAV), FORM (AIFF), `fLaC`,
/// `OggS`, an ID3 tag or an MPEG audio/ADTS frame sync (MP3, AAC), `ftyp` (MP4/M4A), EBML (MKV/WebM), `caff`.
fn known_magic(head: &[u8]) -> bool {
    let at = |i: usize, m: &[u8]| head.get(i..i + m.len()) == Some(m);
    [
        &b"RIFF"[..],
        b"RF64",
        b"FORM",
        b"fLaC",
        b"OggS",
        b"ID3",
        b"caff",
        &[0x1A, 0x45, 0xDF, 0xA3],
    ]
    .iter()
    .any(|m| at(0, m))
        || at(4, b"ftyp")
        || matches!(head, [0xFF, b, ..] if b & 0xE0 == 0xE0)
}

/// Checks the format fields of WAV and AIFF headers found in `head` before symphonia reads them: symphonia 0.5
/// panics on a sample rate of 0 (`TimeBase::new`), and a channel count or rate that no real file has is refused
/// here with a clear message. Other formats, and headers beyond `head`, are left to symphonia.
fn precheck(path: &Path, head: &[u8]) -> Result<()> {
    let check = |channels: u64, rate: f64| -> Result<()> {
        if channels == 0 || channels > MAX_CHANNELS as u64 {
            return Err(decode_err(
                path,
                &format!("implausible channel count {channels} in the header"),
            ));
        }
        if !(rate >= 1.0 && rate <= MAX_SAMPLE_RATE as f64) {
            return Err(decode_err(
                path,
                &format!("implausible sample rate {rate} Hz in the header"),
            ));
        }
        Ok(())
    };
    let u16le = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]) as u64;
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
    if head.len() >= 12 && matches!(&head[..4], b"RIFF" | b"RF64") && &head[8..12] == b"WAVE" {
        if let Some(f) = chunk_body(head, b"fmt ", false, 16) {
            return check(u16le(&f[2..]), u32le(&f[4..]) as f64);
        }
    } else if head.len() >= 12 && &head[..4] == b"FORM" && matches!(&head[8..12], b"AIFF" | b"AIFC")
    {
        if let Some(c) = chunk_body(head, b"COMM", true, 18) {
            let channels = u16::from_be_bytes([c[0], c[1]]) as u64;
            return check(channels, extended_to_f64(&c[8..18]));
        }
    }
    Ok(())
}

/// The format tag of a WAV file's `fmt ` chunk, when `head` holds one.
fn wav_format_tag(head: &[u8]) -> Option<u16> {
    if head.len() < 12 || !matches!(&head[..4], b"RIFF" | b"RF64") || &head[8..12] != b"WAVE" {
        return None;
    }
    chunk_body(head, b"fmt ", false, 2).map(|f| u16::from_le_bytes([f[0], f[1]]))
}

/// A person's name for a WAV format tag symphonia does not decode (the common ones), with the tag itself.
fn wav_codec_name(tag: u16) -> String {
    let name = match tag {
        0x0050 => "MPEG audio",
        0x0055 => "MP3",
        0x0031 => "GSM 6.10",
        0x0040 | 0x0045 | 0x0064 => "G.72x ADPCM",
        0x0020 => "Yamaha ADPCM",
        0x0022 => "DSP Group TrueSpeech",
        0x00ff | 0x1600 | 0x1610 | 0x4143 => "AAC",
        0x0092 | 0x2000 => "AC-3",
        0x0161..=0x0163 => "WMA",
        0x2001 => "DTS",
        _ => "",
    };
    match name {
        "" => format!("format 0x{tag:04x}"),
        n => format!("{n} (format 0x{tag:04x})"),
    }
}

/// The body (to the end of `head`) of the first chunk `id` in the RIFF or IFF chunk list that starts at byte 12,
/// when that chunk claims at least `min` bytes and they lie inside `head`. Chunk sizes are little-endian in RIFF,
/// big-endian in IFF; odd-sized chunks are padded to even. `None` when the chunk is missing, short, or beyond
/// `head` (symphonia then reads it).
fn chunk_body<'a>(head: &'a [u8], id: &[u8; 4], big_endian: bool, min: usize) -> Option<&'a [u8]> {
    let mut pos = 12usize;
    while pos + 8 <= head.len() {
        let raw = [head[pos + 4], head[pos + 5], head[pos + 6], head[pos + 7]];
        let size = if big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        } as usize;
        if &head[pos..pos + 4] == id {
            return (size >= min && pos + 8 + min <= head.len()).then(|| &head[pos + 8..]);
        }
        pos = pos.checked_add(8 + size + (size & 1))?;
    }
    None
}

/// An 80-bit IEEE 754 extended-precision big-endian float (AIFF's sample rate) as f64.
fn extended_to_f64(b: &[u8]) -> f64 {
    let sign = if b[0] & 0x80 != 0 { -1.0 } else { 1.0 };
    let exp = (((b[0] & 0x7f) as i32) << 8) | b[1] as i32;
    let mant = u64::from_be_bytes([b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9]]);
    if exp == 0 && mant == 0 {
        return 0.0;
    }
    if exp == 0x7fff {
        return f64::NAN;
    }
    sign * mant as f64 * 2f64.powi(exp - 16383 - 63)
}

/// Rejects decoded buffers whose format changes mid-stream in a way avx cannot follow.
fn check_spec(path: &Path, spec: &SignalSpec, rate: u32) -> Result<()> {
    let ch = spec.channels.count();
    if ch == 0 || ch > MAX_CHANNELS {
        return Err(decode_err(
            path,
            &format!("decoded audio has {ch} channels"),
        ));
    }
    if spec.rate != rate {
        return Err(EmbedError::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "sample rate changes mid-stream ({rate} Hz to {} Hz)",
                spec.rate
            ),
        });
    }
    Ok(())
}

/// Averages the channels of `buf` into `mono` (cleared first), reading its planes directly; returns the frame count.
///
/// Samples are converted to f32 as symphonia's `SampleBuffer<f32>` converts them, then summed in f64 in channel
/// order and rounded once: exact for integer PCM, like the reference's float64 mean.
fn downmix(buf: AudioBufferRef<'_>, mono: &mut Vec<f32>) -> usize {
    match buf {
        AudioBufferRef::U8(b) => downmix_planes(&b, mono),
        AudioBufferRef::U16(b) => downmix_planes(&b, mono),
        AudioBufferRef::U24(b) => downmix_planes(&b, mono),
        AudioBufferRef::U32(b) => downmix_planes(&b, mono),
        AudioBufferRef::S8(b) => downmix_planes(&b, mono),
        AudioBufferRef::S16(b) => downmix_planes(&b, mono),
        AudioBufferRef::S24(b) => downmix_planes(&b, mono),
        AudioBufferRef::S32(b) => downmix_planes(&b, mono),
        AudioBufferRef::F32(b) => downmix_planes(&b, mono),
        AudioBufferRef::F64(b) => downmix_planes(&b, mono),
    }
}

fn downmix_planes<S>(buf: &AudioBuffer<S>, mono: &mut Vec<f32>) -> usize
where
    S: Sample + IntoSample<f32>,
{
    let frames = buf.frames();
    let planes = buf.planes();
    let planes = planes.planes();
    mono.clear();
    match planes {
        [] => {}
        [only] => mono.extend(only[..frames].iter().map(|&s| s.into_sample())),
        [l, r] => mono.extend(l[..frames].iter().zip(&r[..frames]).map(|(&l, &r)| {
            let l: f32 = l.into_sample();
            let r: f32 = r.into_sample();
            ((l as f64 + r as f64) / 2.0) as f32
        })),
        _ => {
            let mut sum = vec![0f64; frames];
            for plane in planes {
                for (acc, &s) in sum.iter_mut().zip(&plane[..frames]) {
                    let s: f32 = s.into_sample();
                    *acc += s as f64;
                }
            }
            let n = planes.len() as f64;
            mono.extend(sum.iter().map(|&v| (v / n) as f32));
        }
    }
    frames
}

fn decode_err(path: &Path, message: &str) -> EmbedError {
    EmbedError::Decode {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn sym_err(path: &Path, e: SymError) -> EmbedError {
    match e {
        SymError::IoError(e)
            if e.kind() != std::io::ErrorKind::UnexpectedEof
                && e.kind() != std::io::ErrorKind::InvalidData =>
        {
            EmbedError::io(path, e)
        }
        SymError::Unsupported(what) => EmbedError::Unsupported {
            path: path.to_path_buf(),
            what: what.to_string(),
        },
        other => decode_err(path, &other.to_string()),
    }
}

/// Whether a failure message that an earlier avx recorded for a file names a codec this build decodes, so that
/// `avx index` tries such a file again without `--retry-failed` (Opus was refused as "unsupported: Opus audio"
/// until avx decoded it).
pub fn now_decodable(message: &str) -> bool {
    const ADDED: &[&str] = &["unsupported: Opus audio"];
    ADDED.iter().any(|m| message.contains(m))
}

/// A person's name for a symphonia codec id.
pub fn codec_name(codec: CodecType) -> String {
    use codecs::*;
    if let Some(d) = codecs().get_codec(codec) {
        return d.short_name.to_string();
    }
    let name = match codec {
        CODEC_TYPE_OPUS => "Opus",
        CODEC_TYPE_SPEEX => "Speex",
        CODEC_TYPE_MUSEPACK => "Musepack",
        CODEC_TYPE_ATRAC1 | CODEC_TYPE_ATRAC3 | CODEC_TYPE_ATRAC3PLUS | CODEC_TYPE_ATRAC9 => {
            "ATRAC"
        }
        CODEC_TYPE_EAC3 => "E-AC-3",
        CODEC_TYPE_AC4 => "AC-4",
        CODEC_TYPE_DCA => "DTS",
        CODEC_TYPE_WMA => "WMA",
        CODEC_TYPE_WAVPACK => "WavPack",
        CODEC_TYPE_MONKEYS_AUDIO => "Monkey's Audio",
        CODEC_TYPE_TTA => "TTA",
        CODEC_TYPE_NULL => "no codec",
        other => return format!("codec {other}"),
    };
    name.to_string()
}
