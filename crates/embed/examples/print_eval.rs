//! The print stage of `avx dupes` alone, on eval/dupes_set.py's set: every (original, edited copy) pair and the
//! hard negatives (every pair of different sources within one family where one file is unedited), scored by
//! [`avx_embed::soundprint::compare`]. Prints recall per edit and the negatives above each threshold; writes every
//! pair to `OUT.tsv`: the two paths, positive (1) or not, the pair's kind, then the alignment's score, detail r,
//! pitch, scale and speckle r (2: none), its span in each file (start and end, seconds), and each print's lead
//! (seconds) and length (frames), then the wave r (2: not asked) and the wave views' lag (seconds). `FILES.tsv`: path, source id, kind (`original`, `lookalike` or the edit),
//! family.
//!
//!     cargo run --release -p avx-embed --example print_eval -- FILES.tsv OUT [THRESHOLD...]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use avx_embed::soundprint::{compare, print_file, SoundPrint};

struct File {
    path: String,
    sid: u32,
    kind: String,
    family: String,
}

/// `f(0..n)` on `threads` threads, in order.
fn par_map<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let f = &f;
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|k| {
                s.spawn(move || {
                    (k..n)
                        .step_by(threads)
                        .map(|i| (i, f(i)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, T)> = hs
            .into_iter()
            .flat_map(|h| h.join().expect("join"))
            .collect();
        all.sort_by_key(|x| x.0);
        all.into_iter().map(|x| x.1).collect()
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (list, out) = (&args[0], &args[1]);
    let thresholds: Vec<f32> = if args.len() > 2 {
        args[2..]
            .iter()
            .map(|t| t.parse().expect("threshold"))
            .collect()
    } else {
        vec![0.85, 0.88, 0.9, 0.92, 0.93, 0.95]
    };
    let files: Vec<File> = std::fs::read_to_string(list)
        .expect("files list")
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            File {
                path: c[0].into(),
                sid: c[1].parse().expect("sid"),
                kind: c[2].into(),
                family: c[3].split("/50ms").next().unwrap_or("").into(),
            }
        })
        .collect();
    let t = Instant::now();
    let threads = 2;
    let prints: Vec<Option<SoundPrint>> = par_map(files.len(), threads, |i| {
        print_file(files[i].path.as_ref()).ok()
    });
    eprintln!(
        "printed {} files in {:.1} s",
        files.len(),
        t.elapsed().as_secs_f64()
    );
    let orig_of: BTreeMap<u32, usize> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.kind == "original")
        .map(|(i, f)| (f.sid, i))
        .collect();
    // (a, b, positive?, kind of the pair)
    let mut pairs: Vec<(usize, usize, bool, String)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if f.kind != "original" && f.kind != "lookalike" {
            if let Some(&o) = orig_of.get(&f.sid) {
                pairs.push((o, i, true, f.kind.clone()));
            }
        }
    }
    for (i, f) in files.iter().enumerate() {
        if f.kind != "original" && f.kind != "lookalike" {
            continue;
        }
        for (j, g) in files.iter().enumerate() {
            if g.family == f.family
                && g.sid != f.sid
                && (g.kind != "original" && g.kind != "lookalike" || j > i)
            {
                pairs.push((i, j, false, format!("neg:{}", g.kind)));
            }
        }
    }
    let t = Instant::now();
    let full: Vec<(f32, f32, f32, f32, f32, String)> = par_map(pairs.len(), threads, |i| {
        let (a, b, _, _) = &pairs[i];
        match (&prints[*a], &prints[*b]) {
            (Some(x), Some(y)) => {
                let m = compare(x, y);
                (
                    m.score,
                    m.detail.unwrap_or(2.0),
                    m.pitch,
                    m.scale,
                    m.speckle.unwrap_or(2.0),
                    format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        m.span_a.0,
                        m.span_a.1,
                        m.span_b.0,
                        m.span_b.1,
                        x.lead_s,
                        y.lead_s,
                        x.frames,
                        y.frames,
                        m.wave.map_or(2.0, |w| w.r),
                        m.wave.map_or(0.0, |w| w.lag_s),
                    ),
                )
            }
            _ => (
                -2.0,
                -2.0,
                0.0,
                1.0,
                2.0,
                "0\t0\t0\t0\t0\t0\t0\t0\t2\t0".into(),
            ),
        }
    });
    let scores: Vec<f32> = full.iter().map(|x| x.0).collect();
    eprintln!(
        "compared {} pairs in {:.1} s",
        pairs.len(),
        t.elapsed().as_secs_f64()
    );
    let mut w = std::io::BufWriter::new(std::fs::File::create(format!("{out}.tsv")).expect("out"));
    for ((a, b, pos, kind), (s, d, sh, sc, sp, more)) in pairs.iter().zip(&full) {
        writeln!(
            w,
            "{}\t{}\t{}\t{}\t{s}\t{d}\t{sh}\t{sc}\t{sp}\t{more}",
            files[*a].path, files[*b].path, *pos as u8, kind
        )
        .expect("write");
    }
    let mut by_edit: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    let mut neg = Vec::new();
    let mut look = Vec::new();
    for ((a, b, pos, kind), &s) in pairs.iter().zip(&scores) {
        if *pos {
            by_edit.entry(kind.as_str()).or_default().push(s);
        } else {
            neg.push((s, *a, *b));
            if files[*a].kind == "original" && files[*b].kind == "lookalike"
                || files[*b].kind == "original" && files[*a].kind == "lookalike"
            {
                look.push(s);
            }
        }
    }
    print!("| edit |");
    for t in &thresholds {
        print!(" {t} |");
    }
    println!();
    let mut worst = 1.0f32;
    for (e, s) in &by_edit {
        print!("| {e} |");
        for t in &thresholds {
            let r = s.iter().filter(|&&x| x >= *t).count() as f32 / s.len() as f32;
            print!(" {r:.2} |");
            if *t == thresholds[thresholds.len() / 2] {
                worst = worst.min(r);
            }
        }
        println!();
    }
    print!("| negatives ({}) above |", neg.len());
    for t in &thresholds {
        print!(" {} |", neg.iter().filter(|x| x.0 >= *t).count());
    }
    println!();
    print!("| orig-lookalike ({}) above |", look.len());
    for t in &thresholds {
        print!(" {} |", look.iter().filter(|&&x| x >= *t).count());
    }
    println!();
    neg.sort_by(|x, y| y.0.total_cmp(&x.0));
    for (s, a, b) in neg.iter().take(15) {
        println!("neg {s:.4} {} {}", files[*a].path, files[*b].path);
    }
}
