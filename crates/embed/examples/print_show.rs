//! Shows the sound prints of files and how each compares with the first (a debugging aid for `avx dupes`).
//!
//!     cargo run -p avx-embed --example print_show -- FIRST OTHER...

use avx_embed::soundprint::{compare, print_file};

fn main() {
    let files: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    if std::env::var_os("DUMP").is_some() {
        files.iter().for_each(|f| dump(f));
    }
    let prints: Vec<_> = files.iter().map(|f| print_file(f)).collect();
    for (f, p) in files.iter().zip(&prints) {
        match p {
            Ok(p) => {
                let m = prints[0].as_ref().map(|a| compare(a, p));
                println!(
                    "{}: lead {:.3} s, frames {}, vs first {:?}",
                    f.display(),
                    p.lead_s,
                    p.frames,
                    m.ok()
                );
            }
            Err(e) => println!("{}: {e}", f.display()),
        }
    }
}

#[allow(dead_code)]
fn dump(path: &std::path::Path) {
    let mut d = avx_embed::decode::Decoder::open(path).expect("open");
    let mut all = Vec::new();
    while let Some(c) = d.next_chunk().expect("chunk") {
        all.extend_from_slice(c);
    }
    let n = all.len();
    let rms = |s: &[f32]| (s.iter().map(|x| x * x).sum::<f32>() / s.len().max(1) as f32).sqrt();
    println!(
        "{} samples, rate {}, tenths rms: {:?}",
        n,
        d.info().sample_rate,
        (0..10)
            .map(|k| rms(&all[k * n / 10..(k + 1) * n / 10]))
            .collect::<Vec<_>>()
    );
}
