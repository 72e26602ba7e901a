//! The damaged-library campaign (issue 12, section 6): thousands of mutated copies of `tests/data/audio`
//! (truncations, byte flips biased to headers, splices, inserted runs, float WAVs holding NaN, infinities and
//! values near `f32::MAX`) through `avx index`. Passes when no panic escapes (symphonia panics that avx catches are
//! that file's failure and are counted), the run is never aborted, every file is indexed or listed as failed,
//! and a second run goes over the same library without error.
//!
//! ```text
//! cargo build --release -p avx-cli && cargo run --release -p avx-cli --example mutate_campaign -- [N] [SEED]
//! ```
//!
//! N defaults to 3000 and SEED to 1; the model is `AVX_MODEL_DIR` if set, else the committed tiny test model
//! (vectors do not matter here, only that every file gets an outcome). `AVX_BIN` names the avx binary (default
//! `target/release/avx`). CI runs a 24-file version of the same campaign (`tests/cli.rs`).

#[path = "../tests/mutate.rs"]
mod mutate;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(3000), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(1), |a| a.parse())?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin = std::env::var_os("AVX_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target/release/avx"));
    if !bin.is_file() {
        return Err(format!(
            "{} not found: build it (cargo build --release -p avx-cli) or set AVX_BIN",
            bin.display()
        )
        .into());
    }
    let model = std::env::var_os("AVX_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("tests/fixtures/tiny-clap"));
    let tmp = tempfile::tempdir()?;
    let lib = tmp.path().join("lib");
    let files = mutate::write_library(&lib, &repo, n, seed);
    eprintln!("{n} mutants (seed {seed}) in {}", lib.display());

    for run in ["first", "second"] {
        let started = Instant::now();
        let out = Command::new(&bin)
            .env("AVX_INDEX", tmp.path().join("index"))
            .env("AVX_MODEL_DIR", &model)
            .args(["--json", "index"])
            .arg(&lib)
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let c = mutate::check_run(&out.status, &stdout, &stderr, files.len())
            .map_err(|e| format!("{run} run: {e}"))?;
        println!(
            "{run} run: {} indexed, {} failed ({} of them decoder panics caught by avx), {} skipped as failed \
             before, {:.1} s",
            c.indexed,
            c.failed,
            c.caught_panics,
            c.skipped,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
