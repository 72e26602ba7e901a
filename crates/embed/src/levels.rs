//! Loudness over time: the RMS level of a file in short frames, for silence and level-change boundaries.
//!
//! [`levels`] decodes a file (mono, at its own rate, streaming: memory stays bounded on long files) and returns
//! one RMS level in dBFS per frame of `frame_s` seconds; the last partial frame is kept. Digital silence is
//! `-120` dBFS.

use std::path::Path;

use crate::decode::Decoder;
use crate::Result;

/// Floor of the levels, dBFS (digital silence).
pub const SILENCE_FLOOR_DB: f32 = -120.0;

/// Levels of a file: `db[i]` is the RMS level of `[i * frame_s, (i + 1) * frame_s)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    /// Frame length, seconds (as rounded to whole samples: `frame_samples / sample_rate`).
    pub frame_s: f64,
    /// RMS level per frame, dBFS, at least [`SILENCE_FLOOR_DB`].
    pub db: Vec<f32>,
}

/// The RMS levels of `path` in frames of about `frame_s` seconds (at least one sample).
///
/// Errors: those of [`Decoder`]: the file is missing, damaged, unsupported or holds no audio; each names it.
pub fn levels(path: &Path, frame_s: f64) -> Result<Levels> {
    let mut dec = Decoder::open(path)?;
    let rate = dec.info().sample_rate.max(1);
    let frame = ((frame_s * rate as f64).round() as usize).max(1);
    let mut db = Vec::new();
    let (mut sum, mut count) = (0f64, 0usize);
    while let Some(chunk) = dec.next_chunk()? {
        for &x in chunk {
            sum += (x as f64) * (x as f64);
            count += 1;
            if count == frame {
                db.push(to_db(sum / count as f64));
                (sum, count) = (0.0, 0);
            }
        }
    }
    if count > 0 {
        db.push(to_db(sum / count as f64));
    }
    Ok(Levels {
        frame_s: frame as f64 / rate as f64,
        db,
    })
}

fn to_db(mean_square: f64) -> f32 {
    if mean_square <= 0.0 {
        return SILENCE_FLOOR_DB;
    }
    ((10.0 * mean_square.log10()) as f32).max(SILENCE_FLOOR_DB)
}

/// A 16-bit mono WAV file's bytes, for tests.
#[cfg(test)]
pub(crate) fn wav_bytes(x: &[f32], rate: u32) -> Vec<u8> {
    let mut b = Vec::new();
    let len = (x.len() * 2) as u32;
    b.extend(b"RIFF");
    b.extend((36 + len).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(16u32.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(rate.to_le_bytes());
    b.extend((rate * 2).to_le_bytes());
    b.extend(2u16.to_le_bytes());
    b.extend(16u16.to_le_bytes());
    b.extend(b"data");
    b.extend(len.to_le_bytes());
    for s in x {
        b.extend(((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_a_tone_then_silence() {
        // 1 s of a (nearly) full-scale square wave (RMS about 0 dBFS) then 1 s of digital silence, 8 kHz 16-bit mono.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.wav");
        let rate = 8000u32;
        let mut x: Vec<f32> = (0..rate)
            .map(|i| if (i / 20) % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        x.extend(std::iter::repeat_n(0.0, rate as usize));
        let bytes = wav_bytes(&x, rate);
        std::fs::write(&path, bytes).unwrap();
        let l = levels(&path, 0.1).unwrap();
        assert_eq!(l.db.len(), 20);
        assert!((l.frame_s - 0.1).abs() < 1e-9);
        for d in &l.db[..10] {
            assert!(d.abs() < 0.01, "{:?}", l.db);
        }
        for d in &l.db[10..] {
            assert_eq!(*d, SILENCE_FLOOR_DB);
        }
        let err = levels(&dir.path().join("missing.wav"), 0.1).unwrap_err();
        assert!(err.to_string().contains("missing.wav"), "{err}");
    }
}
