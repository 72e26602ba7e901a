//! Writes synthetic sound prints for an index made by `crates/index/examples/synthetic_index.rs`, for timing
//! `avx dupes`'s two stages at scale.
//!
//!     cargo run --release -p avx-core --example synthetic_prints -- DIR [N=100000]
//!
//! File `i` (content hash `i`) gets a print of random cells and a random length (0.1 to 6 s, log-uniform); every
//! 100th file's planted near-duplicate (`i % 100 == 1`, cosine about 0.999 to file `i - 1`) gets file `i - 1`'s
//! print with +-2 dB of noise per cell (and the same speckle and wave views), so the planted pairs confirm and nothing else does.

use std::path::PathBuf;

use avx_core::prints::PrintWriter;
use avx_embed::soundprint::{
    SoundPrint, BANDS, COARSE_EVERY, DETAIL_BINS, DETAIL_ROWS, FINE_FRAMES,
};
use avx_embed::speckle::{SPECKLE_BINS, SPECKLE_FRAMES};
use avx_embed::wave::WAVE_LEN;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: synthetic_prints DIR [N]")?);
    let n: usize = args.next().map_or(Ok(100_000), |s| s.parse())?;
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut rnd = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut w = PrintWriter::open(&dir)?;
    let mut last: Option<SoundPrint> = None;
    for i in 0..n {
        let p = match (&last, i % 100 == 1) {
            (Some(prev), true) => {
                let mut jitter = |b: &u8| (*b as f64 + 8.0 * (rnd() - 0.5)).clamp(0.0, 255.0) as u8;
                SoundPrint {
                    lead_s: 0.0,
                    frames: prev.frames,
                    fine: prev.fine.iter().map(&mut jitter).collect(),
                    coarse: prev.coarse.iter().map(&mut jitter).collect(),
                    detail: prev.detail.iter().map(&mut jitter).collect(),
                    // The texture of the same recording.
                    speckle: prev.speckle.clone(),
                    wave: prev.wave.clone(),
                }
            }
            _ => {
                let frames = (10.0 * 60f64.powf(rnd())) as usize; // 10 to 600 frames: 0.1 to 6 s
                let mut cells = |f: usize| {
                    (0..f * BANDS)
                        .map(|_| (rnd() * 180.0) as u8)
                        .collect::<Vec<u8>>()
                };
                SoundPrint {
                    lead_s: 0.0,
                    frames: frames as u32,
                    fine: cells(frames.min(FINE_FRAMES)),
                    coarse: cells(frames.div_ceil(COARSE_EVERY)),
                    detail: (0..frames.div_ceil(COARSE_EVERY).min(DETAIL_ROWS) * DETAIL_BINS)
                        .map(|_| (rnd() * 180.0) as u8)
                        .collect(),
                    speckle: (0..SPECKLE_FRAMES * SPECKLE_BINS)
                        .map(|_| (rnd() * 256.0) as u8)
                        .collect(),
                    wave: (0..WAVE_LEN).map(|_| (rnd() * 256.0) as u8).collect(),
                }
            }
        };
        w.append(i as u128, &p)?;
        last = Some(p);
    }
    w.sync()?;
    println!(
        "wrote {n} synthetic prints to {}",
        dir.join("prints.avp").display()
    );
    Ok(())
}
