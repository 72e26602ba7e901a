//! Bucketed candidate neighbours (SemDeDup-style): k-means buckets plus multi-probe.
//!
//! [`BucketNeighbours::build`] trains spherical [`kmeans`](super::kmeans()) with about `√n` clusters on a seeded sample, puts
//! every row into the bucket of its nearest centroid and remembers each row's `probes` nearest buckets. A
//! query scans the rows of the query row's probed buckets and returns the top `k` by exact cosine.
//!
//! Candidate generation is **approximate**: a pair `(a, b)` is seen only if `b`'s bucket is among `a`'s
//! probed buckets or vice versa. Near-duplicates (cosine ≥ 0.9 or so) nearly always share their nearest
//! bucket, and multi-probe covers the pairs that straddle a boundary; the test suite measures pair recall
//! against brute force (≥ 0.99 at threshold 0.95). Scores returned are exact, and
//! [`duplicate_groups`](super::duplicate_groups) re-verifies every pair anyway.
//!
//! Cost: building is `O(n · √n · dim)`; a query costs `probes × (bucket size) × dim`, so about
//! `probes · n · √n · dim` for all rows when buckets are balanced (skewed data gives larger buckets and
//! proportionally slower queries).

use rayon::prelude::*;

use super::kmeans::{kmeans_with_trials, KMeansConfig};
use super::linalg::{dot, inv_norms, rows_of, TopK};
use super::{AnalysisError, Neighbours, Rng};

/// Parameters of [`BucketNeighbours::build_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct BucketConfig {
    /// Number of buckets; `None`: `round(√n)`.
    pub buckets: Option<usize>,
    /// Buckets scanned per query (the row's nearest ones).
    pub probes: usize,
    /// Training rows per bucket for the k-means sample (the sample is at most `n`).
    pub train_per_bucket: usize,
    /// k-means iterations on the sample.
    pub max_iter: usize,
    /// Seed of sampling and k-means.
    pub seed: u64,
}

impl Default for BucketConfig {
    fn default() -> Self {
        Self {
            buckets: None,
            probes: 4,
            train_per_bucket: 32,
            max_iter: 10,
            seed: 0,
        }
    }
}

/// Approximate candidate source over k-means buckets; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct BucketNeighbours<'a> {
    data: &'a [f32],
    dim: usize,
    inv: Vec<f32>,
    centroids: Vec<f32>,
    /// Bucket `b` holds `members[start[b]..start[b + 1]]` (ascending rows).
    start: Vec<usize>,
    members: Vec<u32>,
    probes: usize,
    /// Probed buckets of indexed rows (`probes` per row, nearest first), by row; empty for others.
    row_probes: Vec<u32>,
    indexed: Vec<bool>,
}

impl<'a> BucketNeighbours<'a> {
    /// Index all rows of `data` (`n × dim`) with default parameters and the given seed.
    pub fn build(data: &'a [f32], dim: usize, seed: u64) -> Result<Self, AnalysisError> {
        Self::build_with(
            data,
            dim,
            None,
            &BucketConfig {
                seed,
                ..Default::default()
            },
        )
    }

    /// Index `rows` (all rows when `None`) of `data`. Zero rows are never indexed (their cosine to
    /// anything is 0). Answers use the original row numbers; any row may be queried.
    pub fn build_with(
        data: &'a [f32],
        dim: usize,
        rows: Option<&[usize]>,
        cfg: &BucketConfig,
    ) -> Result<Self, AnalysisError> {
        let n = rows_of(data, dim)?;
        let inv = inv_norms(data, dim)?;
        let mut indexed = vec![false; n];
        match rows {
            None => indexed.iter_mut().for_each(|x| *x = true),
            Some(rows) => {
                for &r in rows {
                    if r >= n {
                        return Err(AnalysisError::RowOutOfRange { row: r, n });
                    }
                    indexed[r] = true;
                }
            }
        }
        for (x, &iv) in indexed.iter_mut().zip(&inv) {
            *x &= iv > 0.0;
        }
        let list: Vec<usize> = (0..n).filter(|&i| indexed[i]).collect();
        let m = list.len();
        let probes = cfg.probes.max(1);
        if m == 0 {
            return Ok(Self {
                data,
                dim,
                inv,
                centroids: Vec::new(),
                start: vec![0],
                members: Vec::new(),
                probes,
                row_probes: Vec::new(),
                indexed,
            });
        }
        let buckets = cfg
            .buckets
            .unwrap_or_else(|| (m as f64).sqrt().round() as usize)
            .clamp(1, m);
        let train = (buckets.saturating_mul(cfg.train_per_bucket.max(1))).clamp(buckets, m);

        // Seeded sample without replacement (partial Fisher–Yates), in row order.
        let mut rng = Rng::new(cfg.seed ^ 0x5EED_B0C4_E7AB_1E00);
        let mut pool = list.clone();
        for i in 0..train {
            let j = i + rng.below(m - i);
            pool.swap(i, j);
        }
        let mut sample_rows = pool[..train].to_vec();
        sample_rows.sort_unstable();
        let mut sample = Vec::with_capacity(train * dim);
        for &r in &sample_rows {
            sample.extend_from_slice(&data[r * dim..(r + 1) * dim]);
        }
        // Plain k-means++ (one candidate per seed): bucket quality matters little, build time does.
        let km = kmeans_with_trials(
            &sample,
            dim,
            &KMeansConfig {
                k: buckets,
                seed: cfg.seed,
                max_iter: cfg.max_iter,
                tol: 0.0,
            },
            1,
        )?;
        let centroids = km.centroids;
        let probes = probes.min(buckets);

        // Each indexed row's nearest `probes` buckets.
        let per_row: Vec<Vec<u32>> = list
            .par_iter()
            .with_min_len(32)
            .map(|&r| {
                let x = &data[r * dim..(r + 1) * dim];
                let mut top = TopK::new(probes);
                for (b, c) in centroids.chunks_exact(dim).enumerate() {
                    top.push(b, dot(x, c));
                }
                top.into_sorted().into_iter().map(|(b, _)| b as u32).collect()
            })
            .collect();
        let mut row_probes = vec![0u32; n * probes];
        let mut sizes = vec![0usize; buckets];
        for (&r, p) in list.iter().zip(&per_row) {
            row_probes[r * probes..(r + 1) * probes].copy_from_slice(p);
            sizes[p[0] as usize] += 1;
        }
        let mut start = vec![0usize; buckets + 1];
        for b in 0..buckets {
            start[b + 1] = start[b] + sizes[b];
        }
        let mut fill = start.clone();
        let mut members = vec![0u32; m];
        for (&r, p) in list.iter().zip(&per_row) {
            let b = p[0] as usize;
            members[fill[b]] = r as u32;
            fill[b] += 1;
        }
        Ok(Self {
            data,
            dim,
            inv,
            centroids,
            start,
            members,
            probes,
            row_probes,
            indexed,
        })
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.start.len() - 1
    }

    /// Bucket sizes (for diagnostics: skew makes queries slower).
    pub fn bucket_sizes(&self) -> Vec<usize> {
        self.start.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn probes_of(&self, row: usize) -> Vec<u32> {
        if self.indexed[row] {
            return self.row_probes[row * self.probes..(row + 1) * self.probes].to_vec();
        }
        let x = &self.data[row * self.dim..(row + 1) * self.dim];
        let mut top = TopK::new(self.probes);
        for (b, c) in self.centroids.chunks_exact(self.dim).enumerate() {
            top.push(b, dot(x, c));
        }
        top.into_sorted().into_iter().map(|(b, _)| b as u32).collect()
    }
}

impl Neighbours for BucketNeighbours<'_> {
    fn neighbours(&self, row: usize, k: usize) -> Vec<(usize, f32)> {
        let dim = self.dim;
        let q = &self.data[row * dim..(row + 1) * dim];
        let iq = self.inv[row];
        let mut top = TopK::new(k);
        if iq == 0.0 || self.buckets() == 0 {
            return Vec::new();
        }
        for b in self.probes_of(row) {
            let b = b as usize;
            for &i in &self.members[self.start[b]..self.start[b + 1]] {
                let i = i as usize;
                if i != row {
                    let s = dot(q, &self.data[i * dim..(i + 1) * dim]) * (iq * self.inv[i]);
                    top.push(i, s.clamp(-1.0, 1.0));
                }
            }
        }
        top.into_sorted()
    }
}
