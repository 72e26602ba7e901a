//! Runs the CLAP front end (decode + resample + log-mel, and sound prints with `--prints`) over the given files
//! on one thread, for a profiler (`valgrind --tool=callgrind`).
//!
//!     cargo run --release -p avx-embed --example fe_profile -- PREPROCESSOR_CONFIG [--prints] FILE...

use avx_embed::family::{ModelFrontEnd, ModelInputs};
use avx_embed::FrontEndSpec;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let config = args.remove(0);
    let prints = args.first().is_some_and(|a| a == "--prints");
    if prints {
        args.remove(0);
    }
    let spec = FrontEndSpec::clap_from_preprocessor_config(std::path::Path::new(&config))?;
    let hop = spec.window_seconds();
    let fe = ModelFrontEnd::Windows(spec);
    let t = std::time::Instant::now();
    let mut windows = 0;
    for f in &args {
        let mut s = ModelInputs::open_printing(f.as_ref(), &fe, hop, prints)?;
        while s.next_window()?.is_some() {
            windows += 1;
        }
        if prints {
            assert!(s.take_print().is_some());
        }
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "{windows} windows in {dt:.3} s: {:.1} ms per window",
        dt / windows as f64 * 1e3
    );
    Ok(())
}
