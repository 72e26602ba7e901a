//! Writes an index of synthetic clustered vectors, for timing `avx dupes`, `avx cluster` and `avx serve` at scale.
//!
//!     cargo run --release -p avx-index --example synthetic_index -- DIR [N=100000] [DIM=512] [--graph] [--like INDEX]
//!
//! 64 Gaussian clusters on the sphere; every 100th vector gets a near-duplicate (cosine about 0.999). Without
//! `--graph` no graph is built (maintenance off), as `dupes` and `cluster` read the vectors directly; `--graph`
//! builds the file level's HNSW graph after the last commit, as `avx index` does above 20,000 files, so that
//! queries walk it instead of scanning (100k x 512: a few minutes of CPU).
//!
//! The settings name a model `synthetic` that no model directory matches, so `avx` refuses to query the index
//! with a real model. `--like INDEX` copies the settings (model, hashes, front end, dimension) of an index that
//! `avx index` made with a real model (e.g. the example library indexed with aiSFX or CLAP): the synthetic
//! index is then served and queried with that model (`avx --index DIR --model-dir MODEL serve`), its vectors
//! standing in for that model's; DIM is then the model's.

use std::path::PathBuf;

use avx_index::analysis::Rng;
use avx_index::{FileRecord, Index, IndexSettings, Level, MaintenancePolicy, OpenOptions};

const USAGE: &str = "usage: synthetic_index DIR [N] [DIM] [--graph] [--like INDEX]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut positional, mut graph, mut like) = (Vec::new(), false, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--graph" => graph = true,
            "--like" => like = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            _ => positional.push(a),
        }
    }
    let mut positional = positional.into_iter();
    let dir = PathBuf::from(positional.next().ok_or(USAGE)?);
    let n: usize = positional.next().map_or(Ok(100_000), |s| s.parse())?;
    let mut dim: usize = positional.next().map_or(Ok(512), |s| s.parse())?;
    let settings = match &like {
        Some(model_index) => {
            let s = Index::open(model_index, OpenOptions::default())?
                .settings()
                .clone();
            dim = s.dim as usize;
            s
        }
        None => IndexSettings::synthetic(dim as u32),
    };
    // The crate's one seeded PRNG (xoshiro256**), so the data are the same on every machine.
    let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
    let mut gauss = move || rng.gaussian() as f32;
    let centres: Vec<Vec<f32>> = (0..64)
        .map(|_| (0..dim).map(|_| gauss()).collect())
        .collect();
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
    if graph {
        let t = std::time::Instant::now();
        w.rebuild_graph(Level::File)?;
        println!(
            "built the file level's graph in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    println!("wrote {n} x {dim} vectors to {}", dir.display());
    Ok(())
}
