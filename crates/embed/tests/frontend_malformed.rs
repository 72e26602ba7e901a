//! Bad input never panics and never makes avx allocate what a header claims: every case ends in a typed,
//! per-file error naming the file, or (for files truncated after some good audio) in fewer windows.
//!
//! The decoder converts any panic inside symphonia into a `Decode` error (defence in depth); this test also counts
//! panics with a panic hook, so a panic that was caught still fails the test.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Once;

use avx_embed::{EmbedError, FrontEndSpec, WindowStream};

thread_local! {
    /// Panics on this thread (tests run in parallel threads; the hook runs on the panicking one).
    static PANICS: Cell<usize> = const { Cell::new(0) };
}

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            default(info);
        }));
    });
}

/// What became of one input.
#[derive(Debug)]
enum Outcome {
    Windows(usize),
    Error(EmbedError),
}

/// Runs `path` through decode + resample + mel, checking that any error is per-file and names the file.
fn run(path: &Path) -> Outcome {
    count_panics();
    let before = PANICS.with(Cell::get);
    let spec = FrontEndSpec::clap_htsat_unfused();
    let result =
        WindowStream::open(path, &spec, 10.0).and_then(|s| s.collect::<Result<Vec<_>, _>>());
    assert_eq!(
        PANICS.with(Cell::get),
        before,
        "{}: panicked (caught)",
        path.display()
    );
    match result {
        Ok(w) => Outcome::Windows(w.len()),
        Err(e) => {
            assert!(
                e.is_per_file(),
                "{}: not a per-file error: {e:?}",
                path.display()
            );
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                e.to_string().contains(&name),
                "error does not name the file: {e}"
            );
            Outcome::Error(e)
        }
    }
}

fn expect_error(path: &Path) -> EmbedError {
    match run(path) {
        Outcome::Error(e) => e,
        Outcome::Windows(n) => panic!("{}: expected an error, got {n} windows", path.display()),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A canonical PCM WAV file with the given header fields and data bytes; `data_len` is what the header claims.
fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data_len: u32, data: &[u8]) -> Vec<u8> {
    let block = channels.wrapping_mul(bits / 8);
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&rate.wrapping_mul(block as u32).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// An AIFF file (16-bit) whose COMM chunk claims `frames` sample frames.
fn aiff(channels: u16, frames: u32, data: &[u8]) -> Vec<u8> {
    let mut comm = Vec::new();
    comm.extend_from_slice(&channels.to_be_bytes());
    comm.extend_from_slice(&frames.to_be_bytes());
    comm.extend_from_slice(&16u16.to_be_bytes());
    // 44100 as an 80-bit IEEE extended float.
    comm.extend_from_slice(&[0x40, 0x0E, 0xAC, 0x44, 0, 0, 0, 0, 0, 0]);
    let mut v = Vec::new();
    v.extend_from_slice(b"FORM");
    v.extend_from_slice(&((4 + 8 + comm.len() + 8 + 8 + data.len()) as u32).to_be_bytes());
    v.extend_from_slice(b"AIFFCOMM");
    v.extend_from_slice(&(comm.len() as u32).to_be_bytes());
    v.extend_from_slice(&comm);
    v.extend_from_slice(b"SSND");
    v.extend_from_slice(&((8 + data.len()) as u32).to_be_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(data);
    v
}

/// An AIFF file with `rate` (0 or a power-of-two multiple of 10^n) written as an 80-bit float.
fn aiff_rate(channels: u16, rate: f64, data: &[u8]) -> Vec<u8> {
    let mut v = aiff(channels, (data.len() / 4) as u32, data);
    let ext: [u8; 10] = if rate == 0.0 {
        [0; 10]
    } else {
        let exp = rate.log2().floor() as i32;
        let mant = (rate / 2f64.powi(exp - 63)) as u64;
        let e = (exp + 16383) as u16;
        let mut b = [0u8; 10];
        b[..2].copy_from_slice(&e.to_be_bytes());
        b[2..].copy_from_slice(&mant.to_be_bytes());
        b
    };
    // COMM data starts at 20; the rate at 20 + 8.
    v[28..38].copy_from_slice(&ext);
    v
}

fn tone_bytes(frames: usize, channels: usize) -> Vec<u8> {
    (0..frames * channels)
        .flat_map(|i| (((i as f64 * 0.05).sin() * 8000.0) as i16).to_le_bytes())
        .collect()
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["empty.wav", "empty.mp3", "empty"] {
        assert!(matches!(
            expect_error(&write(dir.path(), name, b"")),
            EmbedError::Decode { .. }
        ));
    }
}

#[test]
fn missing_file_is_io() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        expect_error(&dir.path().join("absent.wav")),
        EmbedError::Io { .. }
    ));
}

#[test]
fn text_named_wav() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "notes.wav",
        b"This is a text file, not a WAV file.\nSecond line.\n",
    );
    assert!(matches!(expect_error(&p), EmbedError::Unsupported { .. }));
}

/// Bytes that no reader recognises are an unsupported format, however far the probe reads; a recognised
/// container cut inside its header is a decode error that says so.
#[test]
fn unknown_formats_and_cut_headers() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    // An ASF (WMA) header object GUID, then noise; and 100 kB of noise that starts with no known signature.
    let mut asf = vec![
        0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE,
        0x6C,
    ];
    asf.extend(noise(50_000));
    let mut random = noise(100_000);
    random[..4].copy_from_slice(&[0, 0, 0, 0]);
    for (name, bytes) in [("song.wma", asf), ("noise.mp3", random)] {
        let e = expect_error(&write(dir.path(), name, &bytes));
        assert!(matches!(e, EmbedError::Unsupported { .. }), "{name}: {e}");
    }
    // A WAV whose codec symphonia does not decode is named for its codec, not as an unknown container.
    for (tag, says) in [(0x0055, "MP3 (format 0x0055)"), (0x7777, "format 0x7777")] {
        let name = format!("tag{tag:04x}.wav");
        let e = expect_error(&write(
            dir.path(),
            &name,
            &wav(tag, 1, 8000, 0, 400, &noise(400)),
        ));
        assert!(
            matches!(&e, EmbedError::Unsupported { what, .. } if what == &format!("WAV holding {says} audio")),
            "{name}: {e}"
        );
    }
    let audio = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/audio");
    for (name, keep) in [("stereo44k_4s.ogg", 20), ("stereo48k_12p5s.flac", 30)] {
        let bytes = std::fs::read(audio.join(name)).unwrap();
        let e = expect_error(&write(dir.path(), &format!("cut_{name}"), &bytes[..keep]));
        assert!(
            matches!(&e, EmbedError::Decode { message, .. } if message.contains("ends before its header")),
            "{name} cut to {keep} bytes: {e}"
        );
    }
}

#[test]
fn header_claims() {
    let dir = tempfile::tempdir().unwrap();
    let data = tone_bytes(4800, 2);
    let cases: [(&str, Vec<u8>); 9] = [
        ("aiff_rate_zero.aiff", aiff_rate(2, 0.0, &data)),
        ("aiff_rate_10mhz.aiff", aiff_rate(2, 10e6, &data)),
        ("aiff_zero_channels.aiff", aiff_rate(0, 44_100.0, &data)),
        (
            "zero_channels.wav",
            wav(1, 0, 48_000, 16, data.len() as u32, &data),
        ),
        ("rate_zero.wav", wav(1, 2, 0, 16, data.len() as u32, &data)),
        (
            "rate_10mhz.wav",
            wav(1, 2, 10_000_000, 16, data.len() as u32, &data),
        ),
        (
            "bits_zero.wav",
            wav(1, 2, 48_000, 0, data.len() as u32, &data),
        ),
        (
            "channels_65535.wav",
            wav(1, 65_535, 48_000, 16, data.len() as u32, &data),
        ),
        (
            "format_tag_unknown.wav",
            wav(0x1234, 2, 48_000, 16, data.len() as u32, &data),
        ),
    ];
    for (name, bytes) in cases {
        let e = expect_error(&write(dir.path(), name, &bytes));
        eprintln!("{name}: {e}");
    }
}

#[test]
fn header_claims_four_billion_frames() {
    // The header claims 2^32 - 1 bytes of data (about 2^30 stereo frames, 6 hours) and holds 0.1 s; the claim must
    // not be believed for allocation. Decoding what is there is acceptable, so is a typed error.
    let dir = tempfile::tempdir().unwrap();
    let data = tone_bytes(4800, 2);
    let wav_path = write(
        dir.path(),
        "claims_2e32.wav",
        &wav(1, 2, 48_000, 16, u32::MAX, &data),
    );
    let aiff_path = write(dir.path(), "claims_2e32.aiff", &aiff(2, u32::MAX, &data));
    for p in [wav_path, aiff_path] {
        match run(&p) {
            Outcome::Windows(n) => assert_eq!(n, 1, "{}", p.display()),
            Outcome::Error(e) => eprintln!("{e}"),
        }
        // Duration must end up as what was decoded, not what was claimed.
        let spec = FrontEndSpec::clap_htsat_unfused();
        if let Ok(mut s) = WindowStream::open(&p, &spec, 10.0) {
            while let Ok(Some(_)) = s.next_window() {}
            assert!(
                s.info().duration_s < 1.0,
                "{}: duration {}",
                p.display(),
                s.info().duration_s
            );
        }
    }
}

#[test]
fn truncated_real_files() {
    let audio = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/audio");
    let names = [
        "mono48k_s16_3s.wav",
        "stereo48k_12p5s.flac",
        "stereo44k_4s.mp3",
        "stereo44k_4s.ogg",
        "stereo44k_aac_4s.m4a",
        "stereo44k_alac_4s.m4a",
        "stereo44k_4s.aac",
        "stereo44k_s16_4s.aiff",
        "stereo44k_s24_4s.wav",
        "stereo48k_4s.opus",
        "multi48k_6ch_2s.opus",
        "stereo48k_opus_1s.mp4",
    ];
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        let bytes = std::fs::read(audio.join(name)).unwrap_or_else(|e| {
            panic!("tests/data/audio/{name}: {e} (restore it: git checkout -- tests/data)")
        });
        for eighth in 0..8 {
            let cut = bytes.len() * eighth / 8;
            let p = write(dir.path(), &format!("cut{eighth}_{name}"), &bytes[..cut]);
            // Ok with fewer samples is accepted (the file was cut after good audio); otherwise a typed error.
            let outcome = run(&p);
            eprintln!("{name} cut at {eighth}/8: {outcome:?}");
            if eighth == 0 {
                assert!(matches!(outcome, Outcome::Error(_)));
            }
        }
    }
}

#[test]
fn random_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (i, ext) in ["wav", "mp3", "flac", "ogg", "m4a", "bin", "aac", "aiff"]
        .iter()
        .enumerate()
    {
        for size in [1usize, 16, 1000, 100_000] {
            let bytes: Vec<u8> = (0..size).map(|_| next() as u8).collect();
            let p = write(dir.path(), &format!("random{i}_{size}.{ext}"), &bytes);
            let outcome = run(&p);
            assert!(
                matches!(outcome, Outcome::Error(_)),
                "{}: {outcome:?}",
                p.display()
            );
        }
    }
    // Real headers followed by random bytes: the decoders themselves get garbage.
    let audio = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/audio");
    for name in [
        "stereo48k_12p5s.flac",
        "stereo44k_4s.mp3",
        "stereo44k_4s.ogg",
        "stereo44k_aac_4s.m4a",
        "stereo44k_4s.aac",
    ] {
        let mut bytes = std::fs::read(audio.join(name)).unwrap_or_else(|e| {
            panic!("tests/data/audio/{name}: {e} (restore it: git checkout -- tests/data)")
        });
        let keep = 256.min(bytes.len());
        for b in &mut bytes[keep..] {
            *b = next() as u8;
        }
        let outcome = run(&write(dir.path(), &format!("garbled_{name}"), &bytes));
        eprintln!("garbled {name}: {outcome:?}");
    }
    // Ogg pages whose bodies are random but whose checksums are right: the Opus decoder itself gets garbage
    // packets (above, the pages' checksums fail and the demuxer drops them).
    for name in ["stereo48k_4s.opus", "multi48k_6ch_2s.opus"] {
        let bytes = std::fs::read(audio.join(name)).unwrap();
        for round in 0..4 {
            let garbled = ogg_garbled(&bytes, round, &mut next);
            let outcome = run(&write(
                dir.path(),
                &format!("garbled{round}_{name}"),
                &garbled,
            ));
            eprintln!("garbled pages ({round}) {name}: {outcome:?}");
        }
    }
}

/// `ogg` with the bodies of its audio pages (every page after the two headers) overwritten by `next`'s bytes: one
/// byte in `1 << round` (every byte at round 0), the page checksums recomputed.
fn ogg_garbled(ogg: &[u8], round: u32, next: &mut impl FnMut() -> u64) -> Vec<u8> {
    let crc = |page: &[u8]| {
        page.iter().fold(0u32, |c, &b| {
            let mut r = c ^ (u32::from(b) << 24);
            for _ in 0..8 {
                r = if r & 0x8000_0000 != 0 {
                    (r << 1) ^ 0x04c1_1db7
                } else {
                    r << 1
                };
            }
            r
        })
    };
    let mut out = ogg.to_vec();
    let (mut at, mut page) = (0, 0);
    while at + 27 <= out.len() && &out[at..at + 4] == b"OggS" {
        let segments = out[at + 26] as usize;
        let body = at + 27 + segments;
        let len: usize = out[at + 27..body].iter().map(|&l| l as usize).sum();
        if page >= 2 {
            for (i, b) in out[body..body + len].iter_mut().enumerate() {
                if i % (1 << round) == 0 {
                    *b = next() as u8;
                }
            }
        }
        out[at + 22..at + 26].fill(0);
        let sum = crc(&out[at..body + len]);
        out[at + 22..at + 26].copy_from_slice(&sum.to_le_bytes());
        at = body + len;
        page += 1;
    }
    out
}

/// Regression: found by `fuzz/fuzz_targets/decode_mel.rs` (artifact `crash-8df47346…`). symphonia 0.5.5's ADTS
/// reader panics (`step_by(0)` in its duration estimate, `adts.rs:303`) on this input; the decoder's
/// `catch_unwind` must turn that into a `Decode` error naming the file. With overflow checks off (release builds)
/// the reader does not panic and finds no audio instead, which is also a per-file error naming the file.
#[test]
fn symphonia_adts_panic_becomes_decode_error() {
    let mut bytes = vec![0x0a];
    bytes.extend_from_slice(&[0; 31]);
    bytes.extend_from_slice(&[0xff, 0xf1, 0x46, 0x4f]);
    bytes.extend_from_slice(&[0; 17]);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "fuzz_adts.aac", &bytes[1..]);
    let spec = FrontEndSpec::clap_htsat_unfused();
    let r = WindowStream::open(&p, &spec, 10.0).and_then(|s| s.collect::<Result<Vec<_>, _>>());
    match r {
        Err(e @ EmbedError::Decode { .. })
        | Err(e @ EmbedError::Unsupported { .. })
        | Err(e @ EmbedError::NoAudio { .. }) => {
            assert!(e.to_string().contains("fuzz_adts.aac"), "{e}")
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}
