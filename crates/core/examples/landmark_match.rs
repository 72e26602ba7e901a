//! The landmark matching of `avx recurring` (`avx_index::analysis::landmarks::repeats`) on a directory of
//! recordings, timed apart from the decoding, with its counts; the motifs' places go to `OUT` when given (one
//! `track start end` line per occurrence, seconds, motifs in order), to compare two builds.
//!
//!     cargo run --release -p avx-core --example landmark_match -- DIR CACHE [OUT]
//!
//! The landmarks of every audio file under `DIR` (as `avx index` finds them: sorted by path) are computed on 2 threads and written to `CACHE`,
//! or read from it when it exists (`u64` tracks, then per track a `u64` count and `(hash, frame, reach)` as
//! little-endian `u32`s). Settings: `avx recurring`'s defaults with `--min-length 2.5s` (eval/archive's).

use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use avx_core::recurring::{landmark_config, landmarks_of, Method, MotifOptions};
use avx_core::sync::{walk, WalkOptions};
use avx_index::analysis::repeats;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: landmark_match DIR CACHE [OUT]");
        std::process::exit(2);
    }
    let (dir, cache) = (Path::new(&args[1]), Path::new(&args[2]));
    let out = args.get(3);
    let t = Instant::now();
    let tracks = if cache.exists() {
        read(cache)
    } else {
        let roots = [dir.to_path_buf()];
        let opts = WalkOptions {
            paths: &roots,
            ..WalkOptions::default()
        };
        let paths = walk(&opts, &mut |w| eprintln!("{w}")).expect("walk").files;
        let tracks = landmarks_of(&paths, 2).expect("landmarks");
        write(cache, &tracks);
        tracks
    };
    let n: usize = tracks.iter().map(Vec::len).sum();
    println!(
        "{} tracks, {n} landmarks, read or computed in {:.1} s",
        tracks.len(),
        t.elapsed().as_secs_f64()
    );
    let opts = MotifOptions {
        within: None,
        min_occurrences: 3,
        min_length: 2.5,
        threshold: None,
        candidates: 20,
        only: None,
        method: Method::Landmarks,
        threads: 2,
    };
    let t = Instant::now();
    let (motifs, stats) = repeats(&tracks, &landmark_config(&opts)).expect("repeats");
    let occurrences: usize = motifs.iter().map(|m| m.occurrences.len()).sum();
    println!(
        "matched in {:.2} s wall: {} motifs, {occurrences} occurrences; {stats:?}",
        t.elapsed().as_secs_f64(),
        motifs.len()
    );
    if let Some(out) = out {
        let mut text = String::new();
        for (k, m) in motifs.iter().enumerate() {
            for o in &m.occurrences {
                text += &format!("{k} {} {:.2} {:.2}\n", o.track, o.start, o.end);
            }
        }
        std::fs::write(out, text).expect("write OUT");
    }
}

fn write(path: &Path, tracks: &[Vec<(u32, u32, u32)>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&(tracks.len() as u64).to_le_bytes());
    for t in tracks {
        out.extend_from_slice(&(t.len() as u64).to_le_bytes());
        for &(h, f, r) in t {
            for x in [h, f, r] {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&out))
        .expect("write cache");
}

fn read(path: &Path) -> Vec<Vec<(u32, u32, u32)>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .expect("read cache");
    let mut at = 0;
    let u64_at = |at: &mut usize| {
        let v = u64::from_le_bytes(buf[*at..*at + 8].try_into().unwrap());
        *at += 8;
        v
    };
    let n = u64_at(&mut at) as usize;
    let mut tracks = Vec::with_capacity(n);
    for _ in 0..n {
        let len = u64_at(&mut at) as usize;
        let t: Vec<(u32, u32, u32)> = buf[at..at + len * 12]
            .chunks_exact(12)
            .map(|c| {
                let w = |i: usize| u32::from_le_bytes(c[i..i + 4].try_into().unwrap());
                (w(0), w(4), w(8))
            })
            .collect();
        at += len * 12;
        tracks.push(t);
    }
    tracks
}
