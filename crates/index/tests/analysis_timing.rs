//! Timing runs at full size (100k × 512), ignored by default. Run in release:
//!
//! ```text
//! cargo test --release -p avx-index --test analysis_timing -- --ignored --nocapture
//! ```
//!
//! `AVX_BENCH_N` overrides the number of rows.

use std::time::Instant;

use avx_index::analysis::{
    duplicate_groups, kmeans, BucketConfig, BucketNeighbours, DupesConfig, KMeansConfig, Rng,
};
use rayon::prelude::*;

const DIM: usize = 512;

fn n_rows() -> usize {
    std::env::var("AVX_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// Row `i` = normalise(centre[i % centres.len()] + noise), generated in parallel, seeded per row.
fn rows_around(n: usize, centres: &[Vec<f32>], noise: f32, seed: u64) -> Vec<f32> {
    let mut data = vec![0.0f32; n * DIM];
    data.par_chunks_mut(DIM).enumerate().for_each(|(i, r)| {
        let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let s = noise / (DIM as f32).sqrt();
        let c = &centres[i % centres.len()];
        for (x, &m) in r.iter_mut().zip(c) {
            *x = m + s * rng.gaussian() as f32;
        }
        let inv = 1.0 / r.iter().map(|x| x * x).sum::<f32>().sqrt();
        r.iter_mut().for_each(|x| *x *= inv);
    });
    data
}

#[test]
#[ignore = "timing run; use --release --ignored"]
fn timing_kmeans_100k_512_k12() {
    let n = n_rows();
    let mut rng = Rng::new(1);
    let centres: Vec<Vec<f32>> = (0..12)
        .map(|_| (0..DIM).map(|_| rng.gaussian() as f32).collect())
        .collect();
    let centres: Vec<Vec<f32>> = centres
        .into_iter()
        .map(|c| {
            let s = 1.0 / c.iter().map(|x| x * x).sum::<f32>().sqrt();
            c.iter().map(|x| x * s).collect()
        })
        .collect();
    // Overlapping blobs (noise 1.5: cosine to own centre ≈ 0.55) make Lloyd iterate a few dozen times.
    let noise = std::env::var("AVX_BENCH_NOISE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.5);
    let data = rows_around(n, &centres, noise, 2);
    let t = Instant::now();
    let r = kmeans(
        &data,
        DIM,
        &KMeansConfig {
            k: 12,
            seed: 3,
            max_iter: 100,
            tol: 0.0,
        },
    )
    .unwrap();
    let el = t.elapsed();
    let truth: Vec<usize> = (0..n).map(|i| i % 12).collect();
    let ari = avx_index::analysis::adjusted_rand_index(&truth, &r.assignment).unwrap();
    println!(
        "kmeans n={n} dim={DIM} k=12 noise={noise} threads={}: {el:?}, {} iterations, converged {}, ARI {ari:.4}",
        rayon::current_num_threads(),
        r.iterations,
        r.converged
    );
}

#[test]
#[ignore = "timing run; use --release --ignored"]
fn timing_dupes_100k_512() {
    let n = n_rows();
    // Unstructured background (the hardest case for buckets) with planted near-duplicate pairs:
    // rows 2j and 2j+1 for j < n/100 are copies of one random vector with noise (cos ≈ 0.98).
    let planted = n / 100;
    let mut data = rows_around(n, &[vec![0.0; DIM]], 1.0, 4);
    let copies = rows_around(planted, &[vec![0.0; DIM]], 1.0, 5);
    let mut rng = Rng::new(6);
    for j in 0..planted {
        let base = &copies[j * DIM..(j + 1) * DIM];
        for r in [2 * j, 2 * j + 1] {
            let row = &mut data[r * DIM..(r + 1) * DIM];
            for (x, &b) in row.iter_mut().zip(base) {
                *x = b + 0.15 / (DIM as f32).sqrt() * rng.gaussian() as f32;
            }
            let inv = 1.0 / row.iter().map(|x| x * x).sum::<f32>().sqrt();
            row.iter_mut().for_each(|x| *x *= inv);
        }
    }
    let t = Instant::now();
    let probes = std::env::var("AVX_BENCH_PROBES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(BucketConfig::default().probes);
    let nb = BucketNeighbours::build_with(
        &data,
        DIM,
        None,
        &BucketConfig {
            probes,
            seed: 7,
            ..Default::default()
        },
    )
    .unwrap();
    let t_build = t.elapsed();
    let t = Instant::now();
    let groups = duplicate_groups(
        &data,
        DIM,
        &nb,
        &DupesConfig {
            threshold: 0.95,
            k: 10,
        },
    )
    .unwrap();
    let t_groups = t.elapsed();
    let found = groups
        .iter()
        .filter(|g| {
            g.len() == 2 && g.members[0].0 / 2 == g.members[1].0 / 2 && g.first() < 2 * planted
        })
        .count();
    let sizes = nb.bucket_sizes();
    println!(
        "dupes n={n} dim={DIM} threads={} probes={probes}: build {t_build:?} ({} buckets, largest {}), \
         groups {t_groups:?}, total {:?}; {} groups, planted pairs found {found}/{planted}",
        rayon::current_num_threads(),
        nb.buckets(),
        sizes.iter().max().unwrap(),
        t_build + t_groups,
        groups.len()
    );
    // Unstructured random background is the worst case for bucket candidates; real embeddings cluster.
    assert!(found as f64 >= 0.99 * planted as f64);
}
