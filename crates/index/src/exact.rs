//! Brute-force search: a dot-product kernel that LLVM vectorises (16 independent lanes, compiled
//! a second time for AVX2+FMA and picked at run time) and a parallel top-k scan over rows.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

use rayon::prelude::*;

/// A scored candidate; ordered so that a `BinaryHeap<Scored>` is a min-heap on score (the worst
/// kept candidate on top), ties broken by id for determinism.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scored {
    pub score: f32,
    pub id: u64,
}

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.id.cmp(&other.id))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the `k` best-scoring candidates.
#[derive(Debug)]
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Scored>,
}

impl TopK {
    pub fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    #[inline]
    pub fn push(&mut self, id: u64, score: f32) {
        if self.heap.len() < self.k {
            self.heap.push(Scored { score, id });
        } else if let Some(worst) = self.heap.peek() {
            if score > worst.score || (score == worst.score && id < worst.id) {
                self.heap.pop();
                self.heap.push(Scored { score, id });
            }
        }
    }

    pub fn merge(mut self, other: TopK) -> TopK {
        for s in other.heap {
            self.push(s.id, s.score);
        }
        self
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<Scored> {
        let mut v = self.heap.into_vec();
        v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        v
    }
}

#[inline(always)]
fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 16];
    let ca = a.chunks_exact(16);
    let cb = b.chunks_exact(16);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    let mut s = [0f32; 8];
    for i in 0..8 {
        s[i] = acc[i] + acc[i + 8];
    }
    (s[0] + s[4]) + (s[1] + s[5]) + (s[2] + s[6]) + (s[3] + s[7]) + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes(a, b)
}

fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes(a, b)
}

type DotFn = fn(&[f32], &[f32]) -> f32;

fn pick() -> DotFn {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return |a, b| unsafe { dot_avx2(a, b) };
        }
    }
    dot_portable
}

/// Dot product of two vectors (the cosine similarity of two L2-normalised vectors).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    static F: OnceLock<DotFn> = OnceLock::new();
    (F.get_or_init(pick))(a, b)
}

/// Rows per parallel task in a scan.
const CHUNK: usize = 4096;

/// Scores `query` against every id in `ids` (via `row`) and keeps the best `k`.
pub(crate) fn scan<'a, F>(query: &[f32], ids: &[u64], k: usize, row: F) -> Vec<Scored>
where
    F: Fn(u64) -> &'a [f32] + Sync,
{
    if ids.len() <= CHUNK {
        let mut top = TopK::new(k);
        for &id in ids {
            top.push(id, dot(query, row(id)));
        }
        return top.into_sorted();
    }
    ids.par_chunks(CHUNK)
        .map(|chunk| {
            let mut top = TopK::new(k);
            for &id in chunk {
                top.push(id, dot(query, row(id)));
            }
            top
        })
        .reduce(|| TopK::new(k), TopK::merge)
        .into_sorted()
}

/// Scores `query` against the id range `first..end`, skipping ids for which `keep` is false.
pub(crate) fn scan_range<'a, F, K>(
    query: &[f32],
    first: u64,
    end: u64,
    k: usize,
    row: F,
    keep: K,
) -> Vec<Scored>
where
    F: Fn(u64) -> &'a [f32] + Sync,
    K: Fn(u64) -> bool + Sync,
{
    let n = end.saturating_sub(first);
    let chunks = n.div_ceil(CHUNK as u64);
    let one = |c: u64| {
        let mut top = TopK::new(k);
        let s = first + c * CHUNK as u64;
        for id in s..(s + CHUNK as u64).min(end) {
            if keep(id) {
                top.push(id, dot(query, row(id)));
            }
        }
        top
    };
    if chunks <= 1 {
        return one(0).into_sorted();
    }
    (0..chunks)
        .into_par_iter()
        .map(one)
        .reduce(|| TopK::new(k), TopK::merge)
        .into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive() {
        for n in [0, 1, 7, 16, 17, 100, 512] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn topk_keeps_best() {
        let mut t = TopK::new(3);
        for (i, s) in [0.1, 0.9, 0.5, 0.7, 0.2].iter().enumerate() {
            t.push(i as u64, *s);
        }
        let ids: Vec<u64> = t.into_sorted().iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![1, 3, 2]);
    }
}
