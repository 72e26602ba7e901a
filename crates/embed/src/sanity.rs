//! Checks on decoded audio that turn a damaged file into that file's error before anything reaches the model.
//!
//! - [`check_samples`]: every decoded sample must be finite and within [`MAX_ABS_SAMPLE`]. A 32-bit float WAV
//!   can hold NaN, infinities or values near `f32::MAX`; squared in a power spectrum they overflow to infinity,
//!   and the model would return NaN vectors. Such a file is a [`EmbedError::Decode`] naming the first bad
//!   sample, like any other damaged file.
//! - [`check_complete`]: a file whose header declares an exact frame count (PCM in WAV/AIFF/CAF, FLAC) but ends
//!   more than a few frames before it is truncated, and is an error too (it is not indexed as a shorter sound). Lossy codecs' frame
//!   counts are estimates (priming and padding samples) and are not checked.

use std::path::Path;

use crate::window::AudioInfo;
use crate::EmbedError;

/// The largest sample magnitude accepted: 10,000 times full scale (+80 dB). Float files may go above 1.0, but
/// nothing a recorder or an editor writes comes near this, and a power spectrum of such values stays far from
/// `f32::MAX`.
pub const MAX_ABS_SAMPLE: f32 = 1e4;

/// Checks `samples`, the decoded samples from frame `first_frame` on; an error names the first bad one.
pub fn check_samples(path: &Path, first_frame: u64, samples: &[f32]) -> Result<(), EmbedError> {
    let Some(i) = samples
        .iter()
        .position(|x| x.is_nan() || x.abs() > MAX_ABS_SAMPLE)
    else {
        return Ok(());
    };
    let x = samples[i];
    let what = if x.is_nan() {
        "NaN".to_string()
    } else if x.is_infinite() {
        "infinite".to_string()
    } else {
        format!("{x:e}, beyond the {MAX_ABS_SAMPLE:e} accepted")
    };
    Err(EmbedError::Decode {
        path: path.to_path_buf(),
        message: format!(
            "sample {} is {what}: the audio data is damaged (re-export the file)",
            first_frame + i as u64
        ),
    })
}

/// Whether a header's frame count is exact: PCM and FLAC declare the number of frames they hold. Counts of
/// 2^32 bytes or more at 32-bit samples are not believed: streaming writers put the maximum there when the
/// length is unknown.
fn exact_count(info: &AudioInfo) -> Option<u64> {
    let exact = info.codec.starts_with("pcm") || info.codec == "flac";
    let sentinel = u64::from(u32::MAX) / (u64::from(info.channels.max(1)) * 4);
    (exact && info.frames > 0 && info.frames < sentinel).then_some(info.frames)
}

/// Frames a decoded stream may fall short of its header's count without being called truncated: symphonia's
/// AIFF reader counts the 8-byte offset and block-size fields of `SSND` as sample data (2 frames of 16-bit
/// stereo, up to 8 of 8-bit mono), so 8 frames are tolerated.
const COUNT_SLACK: u64 = 8;

/// Checks, at the end of a stream, that `decoded` frames are all the header declared (`info` as read from the
/// header).
pub fn check_complete(path: &Path, info: &AudioInfo, decoded: u64) -> Result<(), EmbedError> {
    match exact_count(info) {
        Some(declared) if decoded + COUNT_SLACK < declared => Err(EmbedError::Decode {
            path: path.to_path_buf(),
            message: format!(
                "truncated: the header declares {declared} frames, only {decoded} are present (the file was cut \
                 short; copy or export it again)"
            ),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(codec: &str, frames: u64) -> AudioInfo {
        AudioInfo {
            duration_s: 0.0,
            sample_rate: 48_000,
            channels: 2,
            codec: codec.into(),
            frames,
        }
    }

    #[test]
    fn bad_samples_are_named() {
        let p = Path::new("x.wav");
        assert!(check_samples(p, 0, &[0.0, 1.5, -2.0, 9999.0]).is_ok());
        for (x, word) in [
            (f32::NAN, "NaN"),
            (f32::INFINITY, "infinite"),
            (2.5e38, "2.5e38"),
        ] {
            let e = check_samples(p, 10, &[0.0, x]).unwrap_err().to_string();
            assert!(
                e.contains("x.wav") && e.contains("sample 11 is") && e.contains(word),
                "{e}"
            );
            assert!(matches!(
                check_samples(p, 0, &[x]),
                Err(EmbedError::Decode { .. })
            ));
        }
    }

    #[test]
    fn truncation_only_where_the_count_is_exact() {
        let p = Path::new("cut.wav");
        let e = check_complete(p, &info("pcm_s16le", 974), 8)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cut.wav")
                && e.contains("truncated")
                && e.contains("974")
                && e.contains(" 8 "),
            "{e}"
        );
        assert!(check_complete(p, &info("flac", 974), 965).is_err());
        assert!(check_complete(p, &info("pcm_s16le", 974), 974).is_ok());
        // symphonia's AIFF count includes SSND's 8 header bytes: 176402 declared for 176400 frames.
        assert!(check_complete(p, &info("pcm_s16be", 176_402), 176_400).is_ok());
        assert!(check_complete(p, &info("mp3", 974), 8).is_ok());
        assert!(check_complete(p, &info("pcm_s16le", 0), 8).is_ok());
        // 2^32 - 1 data bytes of 16-bit stereo: the "unknown length" of streaming writers.
        assert!(check_complete(p, &info("pcm_s16le", u64::from(u32::MAX) / 4), 8).is_ok());
    }
}
