//! Spherical k-means (cosine similarity, unit-length centroids) with k-means++ seeding.
//!
//! # Semantics
//!
//! Rows are treated as *directions*: every similarity is the cosine, so rows need not be normalised
//! (embeddings from `avx_embed` already are). A point is assigned to the centroid with the highest cosine
//! (ties to the lowest cluster index). A centroid is the L2-normalised mean of its members' unit vectors
//! (the spherical k-means update, which maximises the summed cosine). [`KMeansResult::inertia`] is
//! `Σ (1 − cos(x, c(x)))`; for unit vectors that is half the usual squared-Euclidean inertia.
//!
//! *Seeding* is greedy k-means++ with the same geometry: the first seed is a uniformly drawn row; for each
//! next seed, `2 + ⌊ln k⌋` candidates are drawn with probability proportional to `1 − max cos` to the
//! seeds so far (the squared chord length on the unit sphere, up to a factor 2), and the candidate that
//! lowers the summed weight most is kept (as scikit-learn does). All draws come from [`Rng`] seeded with
//! `seed`.
//!
//! *Iteration* (Lloyd): assign, recompute centroids, reassign; stop when no assignment changes
//! (`converged`), when no centroid moved by more than `tol` (Euclidean distance between the old and new unit
//! centroid; `converged` too), or after `max_iter` updates (`converged == false`). The returned
//! assignment is always the nearest-centroid assignment for the returned centroids, except for rows moved
//! into clusters that were empty at the very end (see below).
//!
//! *Empty clusters* are repaired before each update: in increasing cluster order, an empty cluster takes the
//! row farthest from its current centroid (lowest cosine; ties to the lowest row) among rows whose cluster
//! has more than one member. If a cluster is still empty after the last assignment (possible only when the
//! loop stopped on `max_iter` or `tol`), the same repair runs once more and that cluster's centroid becomes
//! the moved row. Every cluster of a result therefore has at least one member.
//!
//! *Determinism*: the result is a pure function of `(data, dim, cfg)`. The assignment step runs in parallel
//! (rayon) but each row's work is independent. Centroid sums (f64) are taken over fixed chunks of 2048
//! rows in row order and the chunk sums are added in chunk order; seeding weights and inertia are summed
//! sequentially in row order. Chunk boundaries depend only on `n`, so results are bit-identical for any
//! thread count.

use rayon::prelude::*;

use super::linalg::{dot, for_each_dot, inv_norms, rows_of};
use super::{AnalysisError, Rng};

/// Parameters of [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansConfig {
    /// Number of clusters, `1..=n`.
    pub k: usize,
    /// Seed of the k-means++ draws.
    pub seed: u64,
    /// Maximum number of centroid updates (0: return the seeding and its assignment).
    pub max_iter: usize,
    /// Stop once no centroid moves by more than this (Euclidean distance between unit vectors). `0.0` stops
    /// only when the assignment is stable.
    pub tol: f32,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            k: 8,
            seed: 0,
            max_iter: 100,
            tol: 0.0,
        }
    }
}

/// Output of [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansResult {
    /// Vector dimension.
    pub dim: usize,
    /// Unit-length centroids, `k × dim`, row-major.
    pub centroids: Vec<f32>,
    /// Cluster of each row, `0..k`.
    pub assignment: Vec<u32>,
    /// Cosine of each row to its centroid.
    pub similarity: Vec<f32>,
    /// Number of centroid updates performed.
    pub iterations: usize,
    /// Whether iteration stopped on a stable assignment or on `tol` (not on `max_iter`).
    pub converged: bool,
    /// `Σ (1 − cos(row, its centroid))`.
    pub inertia: f64,
    /// Members per cluster (all ≥ 1, summing to n).
    pub sizes: Vec<usize>,
    /// Per cluster, the member with the highest cosine to the centroid (ties to the lowest row).
    pub exemplars: Vec<usize>,
}

impl KMeansResult {
    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.sizes.len()
    }

    /// Centroid `j` (unit length).
    pub fn centroid(&self, j: usize) -> &[f32] {
        &self.centroids[j * self.dim..(j + 1) * self.dim]
    }

    /// Rows of cluster `j`, ascending.
    pub fn members(&self, j: usize) -> Vec<usize> {
        self.assignment
            .iter()
            .enumerate()
            .filter(|&(_, &a)| a as usize == j)
            .map(|(i, _)| i)
            .collect()
    }

    /// Nearest centroid of a new vector and its cosine (ties to the lowest cluster; cosine 0 for a zero
    /// vector).
    ///
    /// # Panics
    /// If `v.len() != dim`.
    pub fn predict(&self, v: &[f32]) -> (usize, f32) {
        assert_eq!(v.len(), self.dim, "predict: dimension mismatch");
        let inv = super::linalg::inv_norm(v);
        let (j, s) = nearest(v, &self.centroids, self.dim);
        (j, s * inv)
    }
}

/// Index and dot product of the centroid with the highest dot product with `row` (ties to the lowest).
#[inline]
fn nearest(row: &[f32], centroids: &[f32], dim: usize) -> (usize, f32) {
    debug_assert_eq!(row.len(), dim);
    let mut best = 0usize;
    let mut best_s = f32::NEG_INFINITY;
    for_each_dot(row, centroids, |j, s| {
        if s > best_s {
            best_s = s;
            best = j;
        }
    });
    (best, best_s)
}

/// Spherical k-means with k-means++ seeding. See the [module documentation](self) for the exact semantics.
///
/// `data` is `n × dim`, row-major. Errors: `dim == 0`, `data.len()` not a multiple of `dim`, `k == 0`,
/// `k > n`, a non-finite value, or a zero row (which has no direction).
pub fn kmeans(data: &[f32], dim: usize, cfg: &KMeansConfig) -> Result<KMeansResult, AnalysisError> {
    let trials = 2 + (cfg.k.max(1) as f64).ln().floor() as usize;
    kmeans_with_trials(data, dim, cfg, trials)
}

/// [`kmeans`] with a given number of k-means++ candidates per seed (1: plain k-means++).
pub(crate) fn kmeans_with_trials(
    data: &[f32],
    dim: usize,
    cfg: &KMeansConfig,
    trials: usize,
) -> Result<KMeansResult, AnalysisError> {
    let n = rows_of(data, dim)?;
    if cfg.k == 0 {
        return Err(AnalysisError::ZeroK);
    }
    if cfg.k > n {
        return Err(AnalysisError::TooManyClusters { k: cfg.k, n });
    }
    if cfg.k > u32::MAX as usize {
        return Err(AnalysisError::TooManyClusters { k: cfg.k, n });
    }
    let inv = inv_norms(data, dim)?;
    if let Some(row) = inv.iter().position(|&x| x == 0.0) {
        return Err(AnalysisError::ZeroVector { row });
    }
    let k = cfg.k;

    let mut centroids = seed_plus_plus(data, dim, &inv, k, cfg.seed, trials);
    let mut assignment = vec![u32::MAX; n];
    let mut similarity = vec![0.0f32; n];
    let (_, mut sums) = assign_and_sum(
        data,
        dim,
        &inv,
        &centroids,
        &mut assignment,
        &mut similarity,
    );
    let mut iterations = 0usize;
    let mut converged = false;
    while iterations < cfg.max_iter {
        let mut sizes = cluster_sizes(&assignment, k);
        if !repair_empty(&mut sizes, &mut assignment, &mut similarity, k).is_empty() {
            sums = sums_of(data, dim, &inv, &assignment, k);
        }
        let updated = centroids_from_sums(data, dim, &inv, &assignment, &sums);
        let shift = centroids
            .chunks_exact(dim)
            .zip(updated.chunks_exact(dim))
            .map(|(a, b)| {
                a.iter()
                    .zip(b)
                    .map(|(x, y)| ((x - y) as f64).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .fold(0.0f64, f64::max);
        centroids = updated;
        iterations += 1;
        let (changes, new_sums) = assign_and_sum(
            data,
            dim,
            &inv,
            &centroids,
            &mut assignment,
            &mut similarity,
        );
        sums = new_sums;
        if changes == 0 || shift <= cfg.tol as f64 {
            converged = true;
            break;
        }
    }

    // Final repair: only needed when the loop stopped with an empty cluster.
    let mut sizes = cluster_sizes(&assignment, k);
    let moved = repair_empty(&mut sizes, &mut assignment, &mut similarity, k);
    for (j, row) in moved {
        let x = &data[row * dim..(row + 1) * dim];
        for (c, v) in centroids[j * dim..(j + 1) * dim].iter_mut().zip(x) {
            *c = v * inv[row];
        }
        similarity[row] = (dot(x, &centroids[j * dim..(j + 1) * dim]) * inv[row]).clamp(-1.0, 1.0);
    }

    let mut exemplars = vec![usize::MAX; k];
    let mut best = vec![f32::NEG_INFINITY; k];
    let mut inertia = 0.0f64;
    for (i, (&a, &s)) in assignment.iter().zip(&similarity).enumerate() {
        let a = a as usize;
        if s > best[a] {
            best[a] = s;
            exemplars[a] = i;
        }
        inertia += 1.0 - s as f64;
    }
    Ok(KMeansResult {
        dim,
        centroids,
        assignment,
        similarity,
        iterations,
        converged,
        inertia,
        sizes,
        exemplars,
    })
}

/// Greedy k-means++ seeding on the sphere; returns `k × dim` unit centroids.
///
/// Each step draws `trials` candidates with probability proportional to the current weight
/// (`1 − max cos` to the seeds so far) and keeps the one that lowers the total weight most (ties to the
/// first drawn), as scikit-learn does with `2 + ln k` trials.
fn seed_plus_plus(
    data: &[f32],
    dim: usize,
    inv: &[f32],
    k: usize,
    seed: u64,
    trials: usize,
) -> Vec<f32> {
    let n = inv.len();
    let mut rng = Rng::new(seed);
    let mut centroids = Vec::with_capacity(k * dim);
    let mut chosen = vec![false; n];
    let unit = |row: usize| -> Vec<f32> {
        data[row * dim..(row + 1) * dim]
            .iter()
            .map(|v| v * inv[row])
            .collect()
    };
    // Weights after adding seed `c` to the seeds behind `weight`.
    const BLOCK: usize = 64;
    let with_seed = |weight: &[f32], c: &[f32]| -> Vec<f32> {
        let mut out = weight.to_vec();
        out.par_chunks_mut(BLOCK)
            .zip(data.par_chunks(BLOCK * dim))
            .zip(inv.par_chunks(BLOCK))
            .for_each(|((w, x), iv)| {
                // dot(c, x) is bit-identical to dot(x, c).
                for_each_dot(c, x, |i, d| {
                    w[i] = w[i].min((1.0 - d * iv[i]).max(0.0));
                });
            });
        out
    };
    let total = |w: &[f32]| -> f64 { w.iter().map(|&w| w as f64).sum() };

    let first = rng.below(n);
    chosen[first] = true;
    let c = unit(first);
    let mut weight = with_seed(&vec![f32::INFINITY; n], &c);
    centroids.extend(c);
    for _ in 1..k {
        let sum = total(&weight);
        let mut best: Option<(usize, Vec<f32>, Vec<f32>, f64)> = None;
        if sum > 0.0 {
            for _ in 0..trials.max(1) {
                let target = rng.next_f64() * sum;
                let mut cum = 0.0f64;
                let mut pick = None;
                for (i, &w) in weight.iter().enumerate() {
                    if w > 0.0 {
                        cum += w as f64;
                        pick = Some(i);
                        if cum > target {
                            break;
                        }
                    }
                }
                let Some(row) = pick.filter(|&i| !chosen[i]) else {
                    continue;
                };
                let c = unit(row);
                let w = with_seed(&weight, &c);
                let pot = total(&w);
                if best.as_ref().is_none_or(|b| pot < b.3) {
                    best = Some((row, c, w, pot));
                }
            }
        }
        let (row, c, w) = match best {
            Some((row, c, w, _)) => (row, c, w),
            None => {
                // Every row coincides with a seed: take the lowest row not chosen yet (k <= n).
                let row = chosen.iter().position(|&c| !c).unwrap_or(0);
                let c = unit(row);
                let w = with_seed(&weight, &c);
                (row, c, w)
            }
        };
        chosen[row] = true;
        centroids.extend(c);
        weight = w;
    }
    centroids
}

/// Rows per partial-sum chunk and chunks per parallel wave. Both are constants, so the floating-point
/// summation order depends only on `n`, never on the thread count.
const SUM_CHUNK: usize = 2048;
const WAVE: usize = 8;

/// Nearest-centroid assignment in parallel, fused with the centroid sums of the new assignment (one pass
/// over the data per iteration). Returns how many rows changed cluster and the per-cluster sums of the
/// members' unit vectors (`k × dim`, f64), each chunk summed in row order and chunks added in order.
fn assign_and_sum(
    data: &[f32],
    dim: usize,
    inv: &[f32],
    centroids: &[f32],
    assignment: &mut [u32],
    similarity: &mut [f32],
) -> (usize, Vec<f64>) {
    let k = centroids.len() / dim;
    let n = inv.len();
    let mut sums = vec![0.0f64; k * dim];
    let mut changes = 0usize;
    let wave_rows = SUM_CHUNK * WAVE;
    let mut start = 0;
    while start < n {
        let end = (start + wave_rows).min(n);
        let parts: Vec<(usize, Vec<f64>)> = assignment[start..end]
            .par_chunks_mut(SUM_CHUNK)
            .zip(similarity[start..end].par_chunks_mut(SUM_CHUNK))
            .zip(data[start * dim..end * dim].par_chunks(SUM_CHUNK * dim))
            .zip(inv[start..end].par_chunks(SUM_CHUNK))
            .map(|(((a, s), x), iv)| {
                let mut local = vec![0.0f64; k * dim];
                let mut changed = 0usize;
                for (((a, s), x), &iv) in a.iter_mut().zip(s).zip(x.chunks_exact(dim)).zip(iv) {
                    let (j, d) = nearest(x, centroids, dim);
                    *s = (d * iv).clamp(-1.0, 1.0);
                    changed += usize::from(*a != j as u32);
                    *a = j as u32;
                    let ivd = iv as f64;
                    for (acc, &v) in local[j * dim..(j + 1) * dim].iter_mut().zip(x) {
                        *acc += v as f64 * ivd;
                    }
                }
                (changed, local)
            })
            .collect();
        for (c, local) in parts {
            changes += c;
            for (t, v) in sums.iter_mut().zip(&local) {
                *t += v;
            }
        }
        start = end;
    }
    (changes, sums)
}

/// Centroid sums of a given assignment, with the same chunking and order as [`assign_and_sum`].
fn sums_of(data: &[f32], dim: usize, inv: &[f32], assignment: &[u32], k: usize) -> Vec<f64> {
    let n = inv.len();
    let mut sums = vec![0.0f64; k * dim];
    let wave_rows = SUM_CHUNK * WAVE;
    let mut start = 0;
    while start < n {
        let end = (start + wave_rows).min(n);
        let parts: Vec<Vec<f64>> = assignment[start..end]
            .par_chunks(SUM_CHUNK)
            .zip(data[start * dim..end * dim].par_chunks(SUM_CHUNK * dim))
            .zip(inv[start..end].par_chunks(SUM_CHUNK))
            .map(|((a, x), iv)| {
                let mut local = vec![0.0f64; k * dim];
                for ((&j, x), &iv) in a.iter().zip(x.chunks_exact(dim)).zip(iv) {
                    let j = j as usize;
                    let ivd = iv as f64;
                    for (acc, &v) in local[j * dim..(j + 1) * dim].iter_mut().zip(x) {
                        *acc += v as f64 * ivd;
                    }
                }
                local
            })
            .collect();
        for local in parts {
            for (t, v) in sums.iter_mut().zip(&local) {
                *t += v;
            }
        }
        start = end;
    }
    sums
}

fn cluster_sizes(assignment: &[u32], k: usize) -> Vec<usize> {
    let mut sizes = vec![0usize; k];
    for &a in assignment {
        sizes[a as usize] += 1;
    }
    sizes
}

/// Moves the farthest rows into empty clusters (see module docs). Returns `(cluster, row)` per move.
fn repair_empty(
    sizes: &mut [usize],
    assignment: &mut [u32],
    similarity: &mut [f32],
    k: usize,
) -> Vec<(usize, usize)> {
    let mut moved = Vec::new();
    for j in 0..k {
        if sizes[j] != 0 {
            continue;
        }
        let mut far: Option<usize> = None;
        for (i, &a) in assignment.iter().enumerate() {
            if sizes[a as usize] > 1 && far.is_none_or(|f| similarity[i] < similarity[f]) {
                far = Some(i);
            }
        }
        // k <= n guarantees a cluster with more than one member while one is empty.
        let Some(i) = far else { break };
        sizes[assignment[i] as usize] -= 1;
        sizes[j] = 1;
        assignment[i] = j as u32;
        similarity[i] = 1.0;
        moved.push((j, i));
    }
    moved
}

/// Spherical centroid update: the normalised sums. A cluster whose sum vanishes (empty, or members
/// cancelling out) takes the direction of its lowest member (of row 0 if empty; the caller repairs
/// empty clusters first).
fn centroids_from_sums(
    data: &[f32],
    dim: usize,
    inv: &[f32],
    assignment: &[u32],
    sums: &[f64],
) -> Vec<f32> {
    let k = sums.len() / dim;
    let mut out = Vec::with_capacity(k * dim);
    for (j, acc) in sums.chunks_exact(dim).enumerate() {
        let norm = acc.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 0.0 && norm.is_finite() {
            out.extend(acc.iter().map(|a| (a / norm) as f32));
        } else {
            let i = assignment
                .iter()
                .position(|&a| a as usize == j)
                .unwrap_or(0);
            out.extend(data[i * dim..(i + 1) * dim].iter().map(|v| v * inv[i]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut r = Rng::new(seed);
        let mut v = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let row: Vec<f32> = (0..dim).map(|_| r.gaussian() as f32).collect();
            let s = 1.0 / row.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.extend(row.iter().map(|x| x * s));
        }
        v
    }

    #[test]
    fn k_equals_n_gives_singletons() {
        let data = unit_rows(7, 5, 1);
        let r = kmeans(
            &data,
            5,
            &KMeansConfig {
                k: 7,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(r.sizes.iter().all(|&s| s == 1));
        assert!(r.inertia.abs() < 1e-5);
        let mut ex = r.exemplars.clone();
        ex.sort_unstable();
        assert_eq!(ex, (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn duplicate_points_more_clusters_than_distinct() {
        // 6 identical rows and 1 distinct, k = 4: every cluster must still get a member.
        let mut data = vec![];
        for _ in 0..6 {
            data.extend([1.0f32, 0.0, 0.0]);
        }
        data.extend([0.0f32, 1.0, 0.0]);
        for max_iter in [0, 1, 5, 100] {
            let r = kmeans(
                &data,
                3,
                &KMeansConfig {
                    k: 4,
                    seed: 9,
                    max_iter,
                    tol: 0.0,
                },
            )
            .unwrap();
            assert!(r.sizes.iter().all(|&s| s >= 1), "{max_iter}: {:?}", r.sizes);
            assert_eq!(r.sizes.iter().sum::<usize>(), 7);
            assert!(r.assignment.iter().all(|&a| a < 4));
            for j in 0..4 {
                assert_eq!(r.assignment[r.exemplars[j]] as usize, j);
            }
        }
    }

    #[test]
    fn empty_repair_picks_farthest() {
        let mut sizes = vec![3, 0];
        let mut assignment = vec![0, 0, 0];
        let mut sim = vec![0.9, 0.2, 0.2];
        let moved = repair_empty(&mut sizes, &mut assignment, &mut sim, 2);
        assert_eq!(moved, vec![(1, 1)]);
        assert_eq!(assignment, vec![0, 1, 0]);
        assert_eq!(sizes, vec![2, 1]);
    }
}
