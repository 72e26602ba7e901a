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
use super::linalg::{dot, dot4, for_each_dot, inv_norms, rows_of, TopK};
use super::{AnalysisError, Neighbours, Rng};

/// Parameters of [`BucketNeighbours::build_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct BucketConfig {
    /// Number of buckets; `None`: `round(√n)`.
    pub buckets: Option<usize>,
    /// Buckets scanned per query (the row's nearest ones). Cost is linear in it. The default, 6, found
    /// 100% of planted near-duplicate pairs (cosine ≈ 0.98) among 100k unstructured random 512-d vectors,
    /// the worst case for buckets; 4 found 99.4%.
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
            probes: 6,
            train_per_bucket: 32,
            max_iter: 10,
            seed: 0,
        }
    }
}

/// A query position and its candidates.
type Answer = (u32, Vec<(usize, f32)>);

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
                let mut top = TopK::<usize>::new(probes);
                for_each_dot(x, &centroids, |b, d| top.push(b, d));
                top.into_pairs()
                    .into_iter()
                    .map(|(b, _)| b as u32)
                    .collect()
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
        let mut top = TopK::<usize>::new(self.probes);
        for_each_dot(x, &self.centroids, |b, d| top.push(b, d));
        top.into_pairs()
            .into_iter()
            .map(|(b, _)| b as u32)
            .collect()
    }
}

impl Neighbours for BucketNeighbours<'_> {
    fn neighbours(&self, row: usize, k: usize) -> Vec<(usize, f32)> {
        let dim = self.dim;
        let q = &self.data[row * dim..(row + 1) * dim];
        let iq = self.inv[row];
        let mut top = TopK::<usize>::new(k);
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
        top.into_pairs()
    }

    /// Blocked version. For each bucket (in parallel), the queries that probe it are taken eight at a time
    /// and the bucket's rows are streamed against them four at a time, so the bucket stays in cache and each
    /// query row is read from memory once per probe; the per-bucket top-k lists are then merged per query.
    /// Returns exactly what per-row [`neighbours`](Neighbours::neighbours) calls return.
    fn neighbours_batch(&self, rows: &[usize], k: usize) -> Vec<Vec<(usize, f32)>> {
        const QUERY_BLOCK: usize = 8;
        let dim = self.dim;
        let nb = self.buckets();
        if nb == 0 || k == 0 {
            return vec![Vec::new(); rows.len()];
        }
        let probes: Vec<Vec<u32>> = rows
            .par_iter()
            .with_min_len(64)
            .map(|&r| {
                if self.inv[r] == 0.0 {
                    Vec::new()
                } else {
                    self.probes_of(r)
                }
            })
            .collect();
        // Query positions probing each bucket, ascending.
        let mut by_bucket: Vec<Vec<u32>> = vec![Vec::new(); nb];
        for (pos, p) in probes.iter().enumerate() {
            for &b in p {
                by_bucket[b as usize].push(pos as u32);
            }
        }
        let row_of = |i: usize| &self.data[i * dim..(i + 1) * dim];
        let partial: Vec<Vec<Answer>> = by_bucket
            .par_iter()
            .enumerate()
            .map(|(b, queries)| {
                let members = &self.members[self.start[b]..self.start[b + 1]];
                let mut found = Vec::with_capacity(queries.len());
                for block in queries.chunks(QUERY_BLOCK) {
                    let q: Vec<(usize, &[f32], f32)> = block
                        .iter()
                        .map(|&pos| {
                            let r = rows[pos as usize];
                            (r, row_of(r), self.inv[r])
                        })
                        .collect();
                    let mut tops: Vec<TopK<usize>> =
                        block.iter().map(|_| TopK::<usize>::new(k)).collect();
                    let mut tiles = members.chunks_exact(4);
                    for tile in &mut tiles {
                        let m = [
                            tile[0] as usize,
                            tile[1] as usize,
                            tile[2] as usize,
                            tile[3] as usize,
                        ];
                        let mrows = [row_of(m[0]), row_of(m[1]), row_of(m[2]), row_of(m[3])];
                        let minv = [
                            self.inv[m[0]],
                            self.inv[m[1]],
                            self.inv[m[2]],
                            self.inv[m[3]],
                        ];
                        for (&(r, x, iq), top) in q.iter().zip(tops.iter_mut()) {
                            let d = dot4(x, mrows);
                            for t in 0..4 {
                                if m[t] != r {
                                    top.push(m[t], (d[t] * (iq * minv[t])).clamp(-1.0, 1.0));
                                }
                            }
                        }
                    }
                    for &i in tiles.remainder() {
                        let i = i as usize;
                        for (&(r, x, iq), top) in q.iter().zip(tops.iter_mut()) {
                            if i != r {
                                let d = dot(x, row_of(i));
                                top.push(i, (d * (iq * self.inv[i])).clamp(-1.0, 1.0));
                            }
                        }
                    }
                    found.extend(
                        block
                            .iter()
                            .zip(tops)
                            .map(|(&pos, t)| (pos, t.into_pairs())),
                    );
                }
                found
            })
            .collect();
        // Merge per query; the union of candidates does not depend on the order, so neither does the result.
        let mut merged: Vec<TopK<usize>> = rows.iter().map(|_| TopK::<usize>::new(k)).collect();
        for bucket in partial {
            for (pos, list) in bucket {
                let top = &mut merged[pos as usize];
                for (i, s) in list {
                    top.push(i, s);
                }
            }
        }
        merged.into_iter().map(TopK::<usize>::into_pairs).collect()
    }
}
