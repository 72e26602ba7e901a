//! Writes an index of synthetic clustered vectors, for timing `avx dupes` and `avx cluster` at scale.
//!
//!     cargo run --release -p avx-index --example synthetic_index -- DIR [N=100000] [DIM=512]
//!
//! 64 Gaussian clusters on the sphere; every 100th vector gets a near-duplicate (cosine about 0.999). No graph
//! is built (maintenance off), as `dupes` and `cluster` read the vectors directly.

use std::path::PathBuf;

use avx_index::{FileRecord, Index, IndexSettings, MaintenancePolicy, OpenOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: synthetic_index DIR [N] [DIM]")?);
    let n: usize = args.next().map_or(Ok(100_000), |s| s.parse())?;
    let dim: usize = args.next().map_or(Ok(512), |s| s.parse())?;
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut gauss = move || {
        // Box-Muller on xorshift64*
        let mut u = || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            ((state.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (a, b) = (u(), u());
        ((-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()) as f32
    };
    let centres: Vec<Vec<f32>> = (0..64)
        .map(|_| (0..dim).map(|_| gauss()).collect())
        .collect();
    let settings = IndexSettings::synthetic(dim as u32);
    let index = Index::open(
        &dir,
        OpenOptions {
            write: true,
            settings: Some(settings),
            ..Default::default()
        },
    )?;
    let mut w = index.writer()?;
    w.set_policy(MaintenancePolicy {
        enabled: false,
        ..*w.policy()
    });
    let normalise = |v: &mut Vec<f32>| {
        let s = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= s);
    };
    let mut last = Vec::new();
    for i in 0..n {
        let mut v: Vec<f32> = if i % 100 == 1 {
            last.iter().map(|x: &f32| x + 0.002 * gauss()).collect()
        } else {
            let c = &centres[i % 64];
            c.iter().map(|x| x + 0.8 * gauss()).collect()
        };
        normalise(&mut v);
        last = v.clone();
        w.upsert(FileRecord {
            path: dir.join(format!("synthetic/{i:07}.wav")),
            size: 0,
            mtime_ns: 0,
            content_hash: i as u128,
            duration_s: 1.0,
            sample_rate: 48_000,
            channels: 1,
            codec: "pcm".into(),
            vector: v,
            windows: Vec::new(),
        })?;
        if i % 10_000 == 9_999 {
            w.commit()?;
        }
    }
    w.commit()?;
    println!("wrote {n} x {dim} vectors to {}", dir.display());
    Ok(())
}
