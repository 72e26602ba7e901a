//! Opus (in Ogg, Matroska/WebM and MP4) for symphonia 0.5.5, which demuxes Opus but has no decoder for it: a
//! symphonia [`Decoder`] over `opus-rs`, a pure-Rust port of libopus (no C; its output is libopus's float
//! decoder's to about 135 dB SNR on the test files).
//!
//! Every stream is decoded as a multistream (RFC 7845 section 5.1): channel mapping family 0 is one stream of one
//! or two channels, family 1 (up to 8 channels, Vorbis order) and 255 give their own stream counts and mapping
//! in the identification header, checked here before `opus-rs` sees them. Output is 48 kHz, as libopus decodes it
//! for libsndfile (and so `librosa.load`).
//!
//! What is trimmed, and where: this decoder returns every sample the packets hold. The pre-skip and the end of
//! the stream (RFC 7845: the last page's granule position) are applied by [`super::Decoder`] for Ogg, from
//! [`Head::pre_skip`] and the last granule; in MP4 the edit list says both ([`super::mp4_gapless`]). Matroska's
//! `DiscardPadding` (at most one packet, 20 ms or less, at the end) is not read, so a WebM file keeps that padding.
//! The header's output gain is applied by [`super::Decoder`] too ([`Head::gain`]).
//!
//! `opus-rs` uses `unsafe` inside (decoders built in place, SIMD kernels picked at run time, so an Opus file's
//! samples may differ in their last bits between CPUs, as symphonia's FFT-based decoders' do). Bad input is
//! exercised by `crates/embed/tests/frontend_malformed.rs`: Ogg pages of random bytes with correct checksums, and
//! files cut short.

use opus_rs::multistream::{ChannelMappingTable, MultistreamDecoder};
use symphonia::core::audio::{
    AsAudioBufferRef, AudioBuffer, AudioBufferRef, Channels, Signal, SignalSpec,
};
use symphonia::core::codecs::{
    CodecDescriptor, CodecParameters, Decoder, DecoderOptions, FinalizeResult, CODEC_TYPE_OPUS,
};
use symphonia::core::errors::{decode_error, unsupported_error, Error, Result};
use symphonia::core::formats::Packet;
use symphonia::core::support_codec;

/// Opus always decodes at this rate here (the codec's own; libopus gives the same for libsndfile).
pub const RATE: u32 = 48_000;
/// Most samples per channel one packet can hold: 120 ms at 48 kHz.
const MAX_FRAME: usize = 5_760;
/// Most output channels decoded (mapping family 1's limit).
const MAX_CHANNELS: usize = 8;

/// What avx reads of an Opus identification header (`OpusHead`, RFC 7845 section 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub channels: usize,
    /// Samples at 48 kHz to drop from the start of the decoded stream.
    pub pre_skip: u16,
    /// Output gain in dB, Q7.8 (RFC 7845: to be applied by the decoder).
    pub gain_q8: i16,
    pub streams: usize,
    pub coupled: usize,
    /// Decoded channel of each output channel (255: silence).
    pub mapping: Vec<u8>,
}

impl Head {
    /// Parses `OpusHead`. `big_endian`: the 16- and 32-bit fields are big-endian, as in MP4's `dOps` box, which
    /// symphonia hands over behind the `OpusHead` magic. `None` when the header is short or inconsistent.
    pub fn parse(extra: &[u8], big_endian: bool) -> Option<Head> {
        if extra.len() < 19 || &extra[..8] != b"OpusHead" || extra[8] >> 4 != 0 {
            return None;
        }
        let u16_at = |i: usize| {
            let b = [extra[i], extra[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let channels = extra[9] as usize;
        let pre_skip = u16_at(10);
        let gain_q8 = u16_at(16) as i16;
        let family = extra[18];
        let (streams, coupled, mapping) = if family == 0 {
            if !(1..=2).contains(&channels) {
                return None;
            }
            (1, channels - 1, (0..channels as u8).collect())
        } else {
            let table = extra.get(19..21 + channels)?;
            let (streams, coupled) = (table[0] as usize, table[1] as usize);
            let mapping = table[2..].to_vec();
            let decoded = streams + coupled;
            if channels == 0
                || streams == 0
                || coupled > streams
                || mapping.iter().any(|&m| m != 255 && m as usize >= decoded)
            {
                return None;
            }
            (streams, coupled, mapping)
        };
        Some(Head {
            channels,
            pre_skip,
            gain_q8,
            streams,
            coupled,
            mapping,
        })
    }

    /// A decoder of every stream, at 48 kHz.
    fn decoder(&self) -> Result<MultistreamDecoder> {
        let table = ChannelMappingTable {
            channels: self.channels as u8,
            stream_count: self.streams as u8,
            coupled_count: self.coupled as u8,
            mapping: self.mapping.clone(),
        };
        MultistreamDecoder::new(RATE as i32, table)
            .or_else(|_| unsupported_error("this Opus channel mapping"))
    }

    /// The output gain as a factor on the samples.
    pub fn gain(&self) -> f32 {
        10f64.powf(f64::from(self.gain_q8) / (20.0 * 256.0)) as f32
    }
}

/// symphonia's [`Decoder`] for [`CODEC_TYPE_OPUS`] (registered by [`super::codecs`]).
pub struct OpusCodec {
    params: CodecParameters,
    head: Head,
    decoder: MultistreamDecoder,
    /// One packet's samples, interleaved.
    interleaved: Vec<f32>,
    buf: AudioBuffer<f32>,
}

impl std::fmt::Debug for OpusCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusCodec")
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl Decoder for OpusCodec {
    fn try_new(params: &CodecParameters, _options: &DecoderOptions) -> Result<Self> {
        // Which byte order the header has does not matter here: only single-byte fields are read.
        let head = params
            .extra_data
            .as_deref()
            .and_then(|x| Head::parse(x, false))
            .ok_or(Error::Unsupported(
                "an Opus stream without a valid OpusHead header",
            ))?;
        if head.channels > MAX_CHANNELS {
            return unsupported_error("Opus with more than 8 channels");
        }
        let decoder = head.decoder()?;
        // Any mask with the right number of channels: avx averages them.
        let layout = Channels::from_bits_truncate((1u32 << head.channels) - 1);
        let spec = SignalSpec::new(RATE, layout);
        Ok(OpusCodec {
            params: params.clone(),
            decoder,
            interleaved: vec![0.0; MAX_FRAME * head.channels],
            head,
            buf: AudioBuffer::new(MAX_FRAME as u64, spec),
        })
    }

    fn supported_codecs() -> &'static [CodecDescriptor] {
        &[support_codec!(CODEC_TYPE_OPUS, "opus", "Opus (opus-rs)")]
    }

    fn reset(&mut self) {
        if let Ok(fresh) = self.head.decoder() {
            self.decoder = fresh;
        }
    }

    fn codec_params(&self) -> &CodecParameters {
        &self.params
    }

    fn decode(&mut self, packet: &Packet) -> Result<AudioBufferRef<'_>> {
        self.buf.clear();
        let n = match self
            .decoder
            .decode(&packet.data, MAX_FRAME, &mut self.interleaved)
        {
            Ok(n) if n <= MAX_FRAME => n,
            _ => return decode_error("opus: a packet failed to decode"),
        };
        self.buf.render_reserved(Some(n));
        let c = self.head.channels;
        for ch in 0..c {
            for (i, s) in self.buf.chan_mut(ch).iter_mut().enumerate() {
                *s = self.interleaved[i * c + ch];
            }
        }
        Ok(self.buf.as_audio_buffer_ref())
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> AudioBufferRef<'_> {
        self.buf.as_audio_buffer_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(family: u8, channels: u8, tail: &[u8]) -> Vec<u8> {
        let mut h = b"OpusHead".to_vec();
        h.extend_from_slice(&[
            1, channels, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0x00, 0x01, family,
        ]);
        h.extend_from_slice(tail);
        h
    }

    #[test]
    fn heads_give_pre_skip_gain_and_mapping() {
        let h = Head::parse(&head(0, 2, &[]), false).unwrap();
        assert_eq!(
            (h.channels, h.pre_skip, h.streams, h.coupled),
            (2, 312, 1, 1)
        );
        assert_eq!(h.mapping, vec![0, 1]);
        assert_eq!(h.gain_q8, 256); // 1 dB
        assert!((h.gain() - 1.122_018_5).abs() < 1e-6);
        // The same header with big-endian fields, as MP4's dOps box stores them.
        assert_eq!(
            Head::parse(&head(0, 2, &[]), true).unwrap().pre_skip,
            0x3801
        );
        let six = Head::parse(&head(1, 6, &[4, 2, 0, 4, 1, 2, 3, 5]), false).unwrap();
        assert_eq!((six.streams, six.coupled), (4, 2));
        assert_eq!(six.mapping, vec![0, 4, 1, 2, 3, 5]);
    }

    #[test]
    fn inconsistent_heads_are_refused() {
        assert!(Head::parse(&head(0, 3, &[]), false).is_none()); // family 0 is mono or stereo
        assert!(Head::parse(&head(1, 6, &[4, 2, 0, 4]), false).is_none()); // mapping cut short
        assert!(Head::parse(&head(1, 2, &[1, 0, 0, 1]), false).is_none()); // channel 1 of 1 decoded
        assert!(Head::parse(&head(1, 2, &[0, 0, 0, 0]), false).is_none()); // no stream
        assert!(Head::parse(&head(0, 2, &[])[..18], false).is_none());
        let mut v = head(0, 2, &[]);
        v[8] = 0x10; // major version 1
        assert!(Head::parse(&v, false).is_none());
    }
}
