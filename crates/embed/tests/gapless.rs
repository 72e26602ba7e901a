//! Encoder delay and padding (issue 12): lossy files decode to exactly the samples that were encoded, at the
//! right place, as the reference decoders give them (libsndfile for MP3 and Vorbis, which `librosa.load` uses;
//! ffmpeg's edit-list handling for AAC in MP4; libsndfile's pre-skip and last granule for Opus in Ogg).
//!
//! The files are made by `tests/data/make_audio.sh` from sources of known length: 176400 samples (4 s at 44.1
//! kHz) and 22050 samples (0.5 s).

use std::path::{Path, PathBuf};

use avx_embed::decode::Decoder;

fn audio(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/audio")
        .join(name)
}

fn decode(name: &str) -> Vec<f32> {
    let path = audio(name);
    assert!(
        path.is_file(),
        "{} is missing: run tests/data/make_audio.sh",
        path.display()
    );
    let mut d = Decoder::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    while let Some(chunk) = d.next_chunk().unwrap_or_else(|e| panic!("{e}")) {
        out.extend_from_slice(chunk);
    }
    assert_eq!(d.info().frames, out.len() as u64, "{name}: info().frames");
    out
}

fn check_len(name: &str, want: usize) {
    assert_eq!(decode(name).len(), want, "{name}: decoded sample count");
}

#[test]
fn aac_in_mp4_trims_the_edit_list() {
    // ffmpeg writes 1024 priming samples and an edit list that starts after them and lasts the source's length.
    check_len("stereo44k_aac_4s.m4a", 176_400);
    check_len("short/stereo44k_aac_0p5s.m4a", 22_050);
    // ALAC has no priming; its edit list starts at 0.
    check_len("stereo44k_alac_4s.m4a", 176_400);
}

#[test]
fn mp3_and_vorbis_are_gapless_like_libsndfile() {
    check_len("stereo44k_4s.mp3", 176_400);
    check_len("short/stereo44k_0p5s.mp3", 22_050);
    check_len("stereo44k_4s.ogg", 176_400);
    check_len("short/stereo44k_0p5s.ogg", 22_050);
}

#[test]
fn opus_drops_its_pre_skip_and_ends_at_the_last_granule_like_libsndfile() {
    check_len("stereo48k_4s.opus", 192_000);
    // One Ogg page: only the last granule position says where the 70 ms end.
    check_len("short/mono48k_70ms.opus", 3_360);
    // Channel mapping family 1: four streams, two of them coupled.
    check_len("multi48k_6ch_2s.opus", 96_000);
    // MP4: the edit list says where the second starts and ends.
    check_len("stereo48k_opus_1s.mp4", 48_000);
    // WebM: the pre-skip goes, the last packet's padding stays (symphonia does not read DiscardPadding).
    let webm = decode("stereo48k_1s.webm").len();
    assert!((48_000..48_000 + 960).contains(&webm), "{webm} samples");
}

#[test]
fn adts_aac_declares_nothing_and_keeps_every_frame() {
    // A bare ADTS stream carries no delay or length: 174 frames of 1024, as ffmpeg decodes it too.
    check_len("stereo44k_4s.aac", 178_176);
}

/// Signal-to-error ratio in dB of `got` against `want` shifted by `lag` samples (`got[i]` vs `want[i + lag]`).
fn snr_db(got: &[f32], want: &[f32], lag: i64) -> f64 {
    let (mut sig, mut err) = (0.0f64, 0.0f64);
    for (i, &g) in got.iter().enumerate() {
        let j = i as i64 + lag;
        if j < 0 || j >= want.len() as i64 {
            continue;
        }
        let w = want[j as usize] as f64;
        sig += w * w;
        err += (g as f64 - w).powi(2);
    }
    10.0 * (sig / err).log10()
}

/// Each of `names` fits `source` best at lag 0 (by 3 dB against shifts of 1 to 1024 samples), with SNR above
/// `min_snr` dB.
fn check_aligned(source: &[f32], names: &[&str], min_snr: f64) {
    for &name in names {
        let got = decode(name);
        let at = |lag| snr_db(&got, source, lag);
        let aligned = at(0);
        eprintln!("{name}: SNR {aligned:.1} dB against the reference at lag 0");
        assert!(aligned > min_snr, "{name}: SNR {aligned} dB at lag 0");
        for lag in [-1024, -529, -158, -1, 1, 158, 529, 1024] {
            assert!(
                at(lag) < aligned - 3.0,
                "{name}: lag {lag} fits better ({} dB) than lag 0 ({aligned} dB)",
                at(lag)
            );
        }
    }
}

#[test]
fn trimmed_files_line_up_with_their_source() {
    let source = decode("stereo44k_s24_4s.wav");
    check_aligned(
        &source,
        &[
            "stereo44k_aac_4s.m4a",
            "stereo44k_4s.mp3",
            "stereo44k_4s.ogg",
        ],
        15.0,
    );
    // The short files' lossless source is not committed: the MP3 (LAME's gapless header) stands for it. The
    // one-page Vorbis stream must lose its padding at the end, not at the start.
    let reference = decode("short/stereo44k_0p5s.mp3");
    check_aligned(
        &reference,
        &["short/stereo44k_0p5s.ogg", "short/stereo44k_aac_0p5s.m4a"],
        10.0,
    );
    // Opus at 48 kHz against its 48 kHz sources: the pre-skip (312 samples) gone, every channel in place.
    check_aligned(
        &decode("multi48k_6ch_2s.wav"),
        &["multi48k_6ch_2s.opus"],
        12.0,
    );
    // The first second of the same content from the same encoder, in WebM (its pre-skip read from CodecPrivate)
    // and in MP4 (from the edit list).
    check_aligned(
        &decode("stereo48k_4s.opus"),
        &["stereo48k_1s.webm", "stereo48k_opus_1s.mp4"],
        12.0,
    );
    check_aligned(
        &decode("short/mono48k_70ms.wav"),
        &["short/mono48k_70ms.opus"],
        10.0,
    );
}
