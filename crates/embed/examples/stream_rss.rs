//! Streams every window of a file through decode, resample and log-mel, then prints the window count, the time
//! taken and the peak resident set size (Linux `VmHWM`), to check that memory stays bounded on long files.
//!
//! `cargo run --release -p avx-embed --example stream_rss -- FILE [HOP_SECONDS]`

use std::path::PathBuf;
use std::time::Instant;

use avx_embed::{FrontEndSpec, WindowStream};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().ok_or("usage: stream_rss FILE [HOP_SECONDS]")?);
    let spec = FrontEndSpec::clap_htsat_unfused();
    let hop: f64 = match args.next() {
        Some(h) => h.parse()?,
        None => spec.window_seconds(),
    };
    let t = Instant::now();
    let mut stream = WindowStream::open(&path, &spec, hop)?;
    let mut count = 0usize;
    let mut checksum = 0f64;
    while let Some(w) = stream.next_window()? {
        count += 1;
        checksum += w.features[0] as f64;
    }
    let secs = t.elapsed().as_secs_f64();
    let info = stream.info();
    println!(
        "{}: {count} windows, {:.1} s of audio ({} Hz, {} ch, {}), {secs:.2} s wall, {:.1} ms per window, \
         peak RSS {} MiB (checksum {checksum:.3})",
        path.display(),
        info.duration_s,
        info.sample_rate,
        info.channels,
        info.codec,
        secs * 1000.0 / count.max(1) as f64,
        peak_rss_kib().map_or("?".to_string(), |k| (k / 1024).to_string()),
    );
    Ok(())
}
