//! Arbitrary bytes through probe, decode, down-mix, resample, windowing and log-mel.
//!
//! The first byte picks the extension hint given to the probe (the content decides, the hint must not matter
//! for safety); the rest is the file. Every outcome must be `Ok` or a typed error. avx runs symphonia under
//! `catch_unwind` and turns its panics into decode errors, so the target replaces libfuzzer-sys's aborting panic
//! hook with a silent one: a panic that avx catches is then an ordinary error, and any panic that escapes avx
//! still reaches libfuzzer-sys's own `catch_unwind`, which aborts and records a crash.
//!
//! Run: `cargo +nightly fuzz run decode_mel` from the repository root.
#![no_main]

use std::path::Path;

use avx_embed::decode::Decoder;
use avx_embed::{FrontEndSpec, WindowStream};
use libfuzzer_sys::fuzz_target;

const HINTS: [&str; 9] = [
    "in.wav", "in.mp3", "in.flac", "in.ogg", "in.m4a", "in.aac", "in.aiff", "in.caf", "in",
];

fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let name = Path::new(HINTS[pick as usize % HINTS.len()]);
    let Ok(decoder) = Decoder::from_bytes(name, bytes.to_vec()) else {
        return;
    };
    // Bound the work per input: at most a few windows (a 2 s window keeps the mel cheap).
    let spec = FrontEndSpec::clap_htsat_unfused();
    let Ok(stream) = WindowStream::from_decoder(decoder, &spec, spec.window_seconds()) else {
        return;
    };
    for w in stream.take(3) {
        match w {
            Ok(w) => assert_eq!(w.features.len(), 1001 * 64),
            Err(e) => {
                assert!(e.is_per_file());
                break;
            }
        }
    }
    }
);
