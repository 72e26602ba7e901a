//! Times `Index::open` (read-only) of an existing index: the figure `index-format.md` ("Verification") quotes.
//!
//!     cargo run -p avx-index --example open_timing -- DIR [RUNS=5] [--cold]
//!
//! Prints each open's wall time and the median. `--cold` drops the page cache before each open (`sync`, then
//! `3` into `/proc/sys/vm/drop_caches`: root only), so every byte open reads comes from the disk.

use std::path::PathBuf;
use std::time::Instant;

use avx_index::{Index, OpenOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cold = args.iter().any(|a| a == "--cold");
    let mut rest = args.iter().filter(|a| *a != "--cold");
    let dir = PathBuf::from(
        rest.next()
            .ok_or("usage: open_timing DIR [RUNS] [--cold]")?,
    );
    let runs: usize = rest.next().map_or(Ok(5), |s| s.parse())?;
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        if cold {
            std::process::Command::new("sync").status()?;
            std::fs::write("/proc/sys/vm/drop_caches", "3")
                .map_err(|e| format!("dropping the page cache needs root: {e}"))?;
        }
        let t = Instant::now();
        let ix = Index::open(&dir, OpenOptions::default())?;
        let dt = t.elapsed().as_secs_f64() * 1e3;
        println!("open: {dt:.1} ms ({} files)", ix.stats().files);
        ms.push(dt);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "median of {runs}{}: {:.1} ms",
        if cold { " (cold cache)" } else { "" },
        ms[runs / 2]
    );
    Ok(())
}
