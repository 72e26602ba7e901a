//! The writer's resident memory as an index grows, without a model: `N` one-window files of 512-d random vectors,
//! committed every 200 files (about what `avx index` does on short sounds), printing the process's anonymous and
//! file-backed RSS every 5,000 files. `PAD` extra bytes lengthen every path, to tell per-file state that holds
//! the path from state that does not.
//!
//!     cargo run --release -p avx-index --example writer_rss -- DIR [N=50000] [PAD=0]

use std::path::PathBuf;

use avx_index::analysis::Rng;
use avx_index::{FileRecord, Index, IndexSettings, MaintenancePolicy, OpenOptions, WindowRecord};

const USAGE: &str = "usage: writer_rss DIR [N] [PAD]";

/// `RssAnon` and `RssFile` of this process, in kB.
fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("RssAnon:"), field("RssFile:"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or(USAGE)?);
    let n: usize = args.next().map_or(Ok(50_000), |s| s.parse())?;
    let pad = "x".repeat(args.next().map_or(Ok(0), |s| s.parse())?);
    let dim = 512;
    let index = Index::open(
        &dir,
        OpenOptions {
            write: true,
            settings: Some(IndexSettings::synthetic(dim as u32)),
            ..Default::default()
        },
    )?;
    let mut w = index.writer()?;
    w.set_policy(MaintenancePolicy {
        enabled: false,
        ..*w.policy()
    });
    let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
    let (anon0, _) = rss_kb();
    println!("files\trss_anon_kb\trss_file_kb\tanon_growth_bytes_per_file");
    for i in 0..n {
        let mut v: Vec<f32> = (0..dim).map(|_| rng.gaussian() as f32).collect();
        let s = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= s);
        w.upsert(FileRecord {
            path: dir.join(format!("library/category/sub/{i:07}_sample{pad}.wav")),
            size: 12_345,
            mtime_ns: 1,
            content_hash: i as u128,
            duration_s: 0.5,
            sample_rate: 44_100,
            channels: 1,
            codec: "pcm".into(),
            vector: v.clone(),
            windows: vec![WindowRecord {
                start_s: 0.0,
                end_s: 0.5,
                vector: v,
            }],
        })?;
        if i % 200 == 199 {
            w.commit()?;
        }
        if i % 5000 == 4999 || i + 1 == n {
            w.commit()?;
            let (anon, file) = rss_kb();
            let growth = (anon.saturating_sub(anon0) * 1024) as f64 / (i + 1) as f64;
            println!("{}\t{anon}\t{file}\t{growth:.0}", i + 1);
        }
    }
    Ok(())
}
