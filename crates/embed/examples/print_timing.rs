//! Times sound printing alone (decode + print, one thread) over the given files, to compare with `avx index`'s
//! wall time on the same files (the share of indexing that prints cost).
//!
//!     cargo run -p avx-embed --example print_timing -- FILE...

use std::time::Instant;

fn main() {
    let files: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let t = Instant::now();
    let mut frames = 0u64;
    for f in &files {
        match avx_embed::soundprint::print_file(f) {
            Ok(p) => frames += p.frames as u64,
            Err(e) => eprintln!("{e}"),
        }
    }
    println!(
        "printed {} files ({:.1} s of trimmed sound) in {:.3} s",
        files.len(),
        frames as f64 / 100.0,
        t.elapsed().as_secs_f64()
    );
}
