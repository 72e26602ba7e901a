//! Times `analysis::recurring` on a synthetic archive of window vectors (vectors only, no audio), and checks
//! that planted motifs are found.
//!
//!     cargo run --release -p avx-index --example recurring_scale -- [N=3600000] [DIM=512] [SOURCE=graph] [SAMPLE=100] [M=16 EF_CONSTRUCTION=64 EF=48]
//!
//! Tracks of 3,600 windows (one hour at a 1 s hop, 2 s windows). Background windows are drawn around 256
//! Gaussian centres (so buckets see clustered data, as real embeddings are); 100 motifs of 5 windows are each
//! planted 10 times at random places, perturbed (cosine about 0.99 to the original).
//!
//! `SOURCE` is the candidate source: `graph` ([`GraphNeighbours`], the HNSW graph), `buckets`
//! ([`BucketNeighbours`], k-means buckets) or `both` (one after the other on the same vectors, for a ratio).
//! Prints per phase (centring and normalising, source build, `recurring`'s neighbour queries and the rest)
//! wall time, process CPU time and peak RSS (`VmHWM`), the occurrence recall of the planted motifs, and the
//! recall of the 20-NN lists against an exact scan on `SAMPLE` background rows and `SAMPLE` planted rows.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use avx_index::analysis::{
    center, normalize, recurring, splitmix64, BucketNeighbours, ExactNeighbours, GraphConfig,
    GraphNeighbours, Neighbours, RecurringConfig, Rng, Span,
};
use rayon::prelude::*;

const PER_TRACK: usize = 3600;
const MOTIFS: usize = 100;
const MOTIF_LEN: usize = 5;
const PLANTS: usize = 10;

/// Planted motifs: `(motif, track, first window)`.
type Plants = Vec<(usize, usize, usize)>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(3_600_000), |s| s.parse())?;
    let dim: usize = args.next().map_or(Ok(512), |s| s.parse())?;
    let source = args.next().unwrap_or_else(|| "graph".into());
    let sample: usize = args.next().map_or(Ok(100), |s| s.parse())?;
    let defaults = GraphConfig::default();
    let graph_cfg = GraphConfig {
        m: args.next().map_or(Ok(defaults.m), |s| s.parse())?,
        ef_construction: args
            .next()
            .map_or(Ok(defaults.ef_construction), |s| s.parse())?,
        ef: args.next().map_or(Ok(defaults.ef), |s| s.parse())?,
    };
    if !["graph", "buckets", "both"].contains(&source.as_str()) {
        return Err(format!("SOURCE must be graph, buckets or both, not {source:?}").into());
    }
    println!(
        "n {n} dim {dim} source {source} {graph_cfg:?} threads {} vectors {:.2} GB; load average {}",
        rayon::current_num_threads(),
        (n * dim * 4) as f64 / 1e9,
        loadavg()
    );

    let t = Phase::start();
    let (mut data, spans, plants) = archive(n, dim);
    t.end("generate");

    let t = Phase::start();
    center(&mut data, dim)?;
    normalize(&mut data, dim)?;
    t.end("centre + normalise");

    let cfg = RecurringConfig {
        min_length: 3.0,
        ..RecurringConfig::default()
    };
    let probe = sample_rows(n, sample, &plants);
    let mut lists = Vec::new();
    if source != "buckets" {
        let t = Phase::start();
        let nb = GraphNeighbours::build_with(&data, dim, &graph_cfg)?;
        t.end("graph build");
        run("graph", &data, dim, &spans, &nb, &cfg, &plants)?;
        lists.push(("graph", nb.neighbours_batch(&probe, 21)));
    }
    if source != "graph" {
        let t = Phase::start();
        let nb = BucketNeighbours::build(&data, dim, 0)?;
        t.end("bucket build");
        run("buckets", &data, dim, &spans, &nb, &cfg, &plants)?;
        lists.push(("buckets", nb.neighbours_batch(&probe, 21)));
    }
    if sample > 0 {
        let t = Phase::start();
        let exact = ExactNeighbours::new(&data, dim)?.neighbours_batch(&probe, 21);
        t.end("exact 20-NN of the sample");
        for (name, got) in &lists {
            let half = probe.len() / 2;
            let th = cfg.threshold;
            let (bg, _, _) = list_recall(&probe[..half], &got[..half], &exact[..half], th);
            let (pl, close, m) = list_recall(&probe[half..], &got[half..], &exact[half..], th);
            println!(
                "{name}: 20-NN recall against exact: {bg:.4} on {half} background rows, {pl:.4} on {} \
                 planted rows; of the {m} exact neighbours at cosine >= {th}: {close:.4}",
                probe.len() - half
            );
        }
    }
    Ok(())
}

/// Runs `recurring` with `nb` and prints its phases and the planted-occurrence recall.
fn run(
    name: &str,
    data: &[f32],
    dim: usize,
    spans: &[Span],
    nb: &dyn Neighbours,
    cfg: &RecurringConfig,
    plants: &[(usize, usize, usize)],
) -> Result<(), Box<dyn std::error::Error>> {
    let timed = Timed {
        inner: nb,
        batch_ns: Mutex::new(0),
        single_ns: AtomicU64::new(0),
    };
    let t = Phase::start();
    let found = recurring(data, dim, spans, &timed, cfg)?;
    let total = t.end(&format!("recurring ({name})"));
    let batch = *timed.batch_ns.lock().unwrap() as f64 / 1e9;
    let single = timed.single_ns.load(Ordering::Relaxed) as f64 / 1e9;
    println!(
        "  of which: batch neighbour queries {batch:.1} s wall, widening queries {single:.1} s summed over \
         threads, the rest (verification, runs, grouping) about {:.1} s",
        (total - batch - single / rayon::current_num_threads() as f64).max(0.0)
    );
    let mut hit = 0;
    for &(_, t, w) in plants {
        let ok = found.iter().any(|m| {
            m.occurrences
                .iter()
                .any(|o| o.track as usize == t && (o.start - w as f32).abs() <= 1.0)
        });
        hit += ok as usize;
    }
    println!(
        "  {name}: motifs {} ({MOTIFS} planted), occurrence recall {:.3} ({hit}/{})",
        found.len(),
        hit as f64 / plants.len() as f64,
        plants.len()
    );
    Ok(())
}

/// The archive: rows (`n × dim`, unit), spans, and the plants `(motif, track, first window)`.
fn archive(n: usize, dim: usize) -> (Vec<f32>, Vec<Span>, Plants) {
    let mut rng = Rng::new(17);
    let centres: Vec<Vec<f32>> = (0..256).map(|_| unit(&mut rng, dim, None, 1.0)).collect();
    let motifs: Vec<Vec<Vec<f32>>> = (0..MOTIFS)
        .map(|_| {
            (0..MOTIF_LEN)
                .map(|_| unit(&mut rng, dim, None, 1.0))
                .collect()
        })
        .collect();
    let tracks = n.div_ceil(PER_TRACK);
    // Planted: (motif, track, first window), PLANTS per motif, not overlapping each other.
    let mut taken = HashSet::new();
    let mut plants: Vec<(usize, usize, usize)> = Vec::new();
    for m in 0..MOTIFS {
        let mut k = 0;
        while k < PLANTS {
            let t = rng.below(tracks);
            let w = rng.below(PER_TRACK - 10);
            let row = t * PER_TRACK + w;
            if row + MOTIF_LEN > n || (row..row + MOTIF_LEN).any(|r| taken.contains(&r)) {
                continue;
            }
            taken.extend(row..row + MOTIF_LEN);
            plants.push((m, t, w));
            k += 1;
        }
    }
    let mut plant_at = HashMap::new();
    for &(m, t, w) in &plants {
        for i in 0..MOTIF_LEN {
            plant_at.insert(t * PER_TRACK + w + i, (m, i));
        }
    }
    // One seeded generator per row, so that rows are generated in parallel and the same for any thread count.
    let mut data = vec![0f32; n * dim];
    data.par_chunks_mut(dim)
        .enumerate()
        .with_min_len(256)
        .for_each(|(row, out)| {
            let mut seed = 17 ^ (row as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let mut rng = Rng::new(splitmix64(&mut seed));
            let v = match plant_at.get(&row) {
                Some(&(m, i)) => unit(&mut rng, dim, Some(&motifs[m][i]), 0.005),
                None => {
                    let c = rng.below(centres.len());
                    unit(&mut rng, dim, Some(&centres[c]), 0.06)
                }
            };
            out.copy_from_slice(&v);
        });
    let spans = (0..n)
        .map(|row| {
            let start = (row % PER_TRACK) as f32;
            Span {
                track: (row / PER_TRACK) as u32,
                start,
                end: start + 2.0,
            }
        })
        .collect();
    (data, spans, plants)
}

fn unit(rng: &mut Rng, dim: usize, base: Option<&[f32]>, noise: f32) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim)
        .map(|i| base.map_or(0.0, |b| b[i]) + noise * rng.gaussian() as f32)
        .collect();
    let s = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= s);
    v
}

/// `sample` background rows then `sample` planted rows (first windows of plants), seeded.
fn sample_rows(n: usize, sample: usize, plants: &[(usize, usize, usize)]) -> Vec<usize> {
    let mut rng = Rng::new(5);
    let planted: HashSet<usize> = plants
        .iter()
        .flat_map(|&(_, t, w)| (0..MOTIF_LEN).map(move |i| t * PER_TRACK + w + i))
        .collect();
    let mut rows = Vec::new();
    while rows.len() < sample {
        let r = rng.below(n);
        if !planted.contains(&r) {
            rows.push(r);
        }
    }
    let step = (plants.len() / sample.max(1)).max(1);
    rows.extend(
        plants
            .iter()
            .step_by(step)
            .take(sample)
            .map(|&(_, t, w)| t * PER_TRACK + w),
    );
    rows
}

/// Share of the rows' exact 20 nearest others (each row itself left out) that `got` holds, over all and over
/// those at cosine `>= threshold` (the ones `recurring` links).
fn list_recall(
    rows: &[usize],
    got: &[Vec<(usize, f32)>],
    exact: &[Vec<(usize, f32)>],
    threshold: f32,
) -> (f64, f64, usize) {
    let (mut all, mut hit, mut close, mut close_hit) = (0, 0, 0, 0);
    for ((&r, g), e) in rows.iter().zip(got).zip(exact) {
        let g: HashSet<usize> = g.iter().map(|p| p.0).filter(|&c| c != r).take(20).collect();
        for &(c, s) in e.iter().filter(|p| p.0 != r).take(20) {
            let found = g.contains(&c) as usize;
            all += 1;
            hit += found;
            if s >= threshold {
                close += 1;
                close_hit += found;
            }
        }
    }
    let ratio = |a: usize, b: usize| a as f64 / b.max(1) as f64;
    (ratio(hit, all), ratio(close_hit, close), close)
}

/// A candidate source that times its calls.
struct Timed<'a> {
    inner: &'a dyn Neighbours,
    batch_ns: Mutex<u64>,
    single_ns: AtomicU64,
}

impl Neighbours for Timed<'_> {
    fn neighbours(&self, row: usize, k: usize) -> Vec<(usize, f32)> {
        let t = Instant::now();
        let out = self.inner.neighbours(row, k);
        self.single_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        out
    }

    fn neighbours_batch(&self, rows: &[usize], k: usize) -> Vec<Vec<(usize, f32)>> {
        let t = Instant::now();
        let out = self.inner.neighbours_batch(rows, k);
        *self.batch_ns.lock().unwrap() += t.elapsed().as_nanos() as u64;
        out
    }
}

/// Wall clock and process CPU time at a phase's start.
struct Phase {
    wall: Instant,
    cpu: f64,
}

impl Phase {
    fn start() -> Phase {
        Phase {
            wall: Instant::now(),
            cpu: cpu_s(),
        }
    }

    /// Prints the phase's wall and CPU time and the peak RSS so far; returns the wall seconds.
    fn end(self, name: &str) -> f64 {
        let wall = self.wall.elapsed().as_secs_f64();
        println!(
            "{name}: {wall:.1} s wall, {:.1} s CPU, peak RSS {} MiB, load average {}",
            cpu_s() - self.cpu,
            status_kib("VmHWM") / 1024,
            loadavg()
        );
        wall
    }
}

/// User + system CPU seconds of this process (`/proc/self/stat`, clock ticks of 1/100 s).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    // After the command name: state is field 0, utime 11, stime 12.
    (tick(11) + tick(12)) / 100.0
}

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
