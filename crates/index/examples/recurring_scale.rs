//! Times `analysis::recurring` on a synthetic archive of window vectors (vectors only, no audio), and checks
//! that planted motifs are found.
//!
//!     cargo run --release -p avx-index --example recurring_scale -- [N=3600000] [DIM=512]
//!
//! Tracks of 3,600 windows (one hour at a 1 s hop, 2 s windows). Background windows are drawn around 256
//! Gaussian centres (so buckets see clustered data, as real embeddings are); 100 motifs of 5 windows are each
//! planted 10 times at random places, perturbed (cosine about 0.99 to the original). Prints the time of the
//! bucket build and of `recurring`, the peak RSS (`VmHWM`), and the occurrence recall of the planted motifs.

use std::time::Instant;

use avx_index::analysis::{center, recurring, BucketNeighbours, RecurringConfig, Rng, Span};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(3_600_000), |s| s.parse())?;
    let dim: usize = args.next().map_or(Ok(512), |s| s.parse())?;
    let per_track = 3600usize;
    let mut rng = Rng::new(17);
    let unit = |rng: &mut Rng, base: Option<&[f32]>, noise: f32| -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim)
            .map(|i| base.map_or(0.0, |b| b[i]) + noise * rng.gaussian() as f32)
            .collect();
        let s = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= s);
        v
    };
    let centres: Vec<Vec<f32>> = (0..256).map(|_| unit(&mut rng, None, 1.0)).collect();
    let motifs: Vec<Vec<Vec<f32>>> = (0..100)
        .map(|_| (0..5).map(|_| unit(&mut rng, None, 1.0)).collect())
        .collect();
    let tracks = n.div_ceil(per_track);
    // Planted: (track, first window) per motif, 10 each, not overlapping each other.
    let mut taken = vec![false; n];
    let mut plants: Vec<(usize, usize, usize)> = Vec::new(); // (motif, track, window)
    for m in 0..motifs.len() {
        let mut k = 0;
        while k < 10 {
            let t = rng.below(tracks);
            let w = rng.below(per_track - 10);
            let row = t * per_track + w;
            if row + 5 > n || taken[row..row + 5].iter().any(|&x| x) {
                continue;
            }
            taken[row..row + 5].iter_mut().for_each(|x| *x = true);
            plants.push((m, t, w));
            k += 1;
        }
    }
    let t0 = Instant::now();
    let mut data = Vec::with_capacity(n * dim);
    let mut spans = Vec::with_capacity(n);
    let mut plant_at = std::collections::HashMap::new();
    for &(m, t, w) in &plants {
        for i in 0..5 {
            plant_at.insert(t * per_track + w + i, (m, i));
        }
    }
    for row in 0..n {
        let v = match plant_at.get(&row) {
            Some(&(m, i)) => unit(&mut rng, Some(&motifs[m][i]), 0.005),
            None => {
                let c = rng.below(centres.len());
                unit(&mut rng, Some(&centres[c]), 0.06)
            }
        };
        data.extend_from_slice(&v);
        let start = (row % per_track) as f32;
        spans.push(Span {
            track: (row / per_track) as u32,
            start,
            end: start + 2.0,
        });
    }
    eprintln!(
        "{n} windows x {dim} in {tracks} tracks generated in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let t1 = Instant::now();
    center(&mut data, dim)?;
    let buckets = BucketNeighbours::build(&data, dim, 0)?;
    let build_s = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let cfg = RecurringConfig {
        min_length: 3.0,
        ..RecurringConfig::default()
    };
    let found = recurring(&data, dim, &spans, &buckets, &cfg)?;
    let rec_s = t2.elapsed().as_secs_f64();
    let mut hit = 0;
    for &(_, t, w) in &plants {
        let ok = found.iter().any(|m| {
            m.occurrences
                .iter()
                .any(|o| o.track as usize == t && (o.start - w as f32).abs() <= 1.0)
        });
        hit += ok as usize;
    }
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.to_string())
        })
        .unwrap_or_default();
    println!(
        "n {n} dim {dim}: centring + bucket build {build_s:.1} s, recurring {rec_s:.1} s, motifs {} \
         (100 planted), occurrence recall {:.3} ({hit}/{}), {hwm}, vectors {:.2} GB",
        found.len(),
        hit as f64 / plants.len() as f64,
        plants.len(),
        (n * dim * 4) as f64 / 1e9
    );
    Ok(())
}
