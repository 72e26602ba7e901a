//! Benchmarks of `avx_index::analysis` (criterion).
//!
//! ```text
//! cargo bench -p avx-index --bench analysis                    # small: n = 5 000, about a minute
//! AVX_BENCH_N=100000 cargo bench -p avx-index --bench analysis  # full size, 100k × 512
//! ```

use std::hint::black_box;
use std::time::Duration;

use avx_index::analysis::{
    dot, dot4, duplicate_groups, kmeans, BucketNeighbours, DupesConfig, KMeansConfig, Rng,
};
use criterion::{criterion_group, criterion_main, Criterion};

const DIM: usize = 512;

fn n_rows() -> usize {
    std::env::var("AVX_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000)
}

/// `n` unit rows around 12 random centres (cosine to the centre ≈ 0.55), plus near-duplicate pairs:
/// rows `2j`, `2j + 1` for `j < n / 100` are noisy copies of one vector.
fn data(n: usize) -> Vec<f32> {
    let mut rng = Rng::new(1);
    let unit = |rng: &mut Rng| {
        let mut v: Vec<f32> = (0..DIM).map(|_| rng.gaussian() as f32).collect();
        let s = 1.0 / v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x *= s);
        v
    };
    let around = |rng: &mut Rng, c: &[f32], eps: f32| {
        let s = eps / (DIM as f32).sqrt();
        let mut v: Vec<f32> = c.iter().map(|x| x + s * rng.gaussian() as f32).collect();
        let s = 1.0 / v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x *= s);
        v
    };
    let centres: Vec<Vec<f32>> = (0..12).map(|_| unit(&mut rng)).collect();
    let mut out = Vec::with_capacity(n * DIM);
    let mut i = 0;
    while i < n {
        if i + 1 < n && i / 2 < n / 100 {
            let base = unit(&mut rng);
            out.extend(around(&mut rng, &base, 0.15));
            out.extend(around(&mut rng, &base, 0.15));
            i += 2;
        } else {
            out.extend(around(&mut rng, &centres[i % 12], 1.5));
            i += 1;
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let n = n_rows();
    let data = data(n);

    let mut g = c.benchmark_group("analysis");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if n > 20_000 { 60 } else { 8 }));

    let (a, b) = (&data[..DIM], &data[DIM..2 * DIM]);
    g.bench_function("dot_512", |bench| {
        bench.iter(|| dot(black_box(a), black_box(b)))
    });
    let rows = [
        b,
        &data[2 * DIM..3 * DIM],
        &data[3 * DIM..4 * DIM],
        &data[4 * DIM..5 * DIM],
    ];
    g.bench_function("dot4_512", |bench| {
        bench.iter(|| dot4(black_box(a), black_box(rows)))
    });

    let cfg = KMeansConfig {
        k: 12,
        seed: 3,
        max_iter: 100,
        tol: 0.0,
    };
    g.bench_function(format!("kmeans_{n}x{DIM}_k12"), |bench| {
        bench.iter(|| kmeans(black_box(&data), DIM, &cfg).unwrap())
    });

    g.bench_function(format!("bucket_build_{n}x{DIM}"), |bench| {
        bench.iter(|| BucketNeighbours::build(black_box(&data), DIM, 7).unwrap())
    });
    let nb = BucketNeighbours::build(&data, DIM, 7).unwrap();
    let dcfg = DupesConfig {
        threshold: 0.95,
        k: 10,
    };
    g.bench_function(format!("duplicate_groups_{n}x{DIM}"), |bench| {
        bench.iter(|| duplicate_groups(black_box(&data), DIM, &nb, &dcfg).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
