//! Brute-force search: a parallel top-k scan over rows, scored with the crate's one [`dot`] kernel
//! ([`crate::kernel`]).

use rayon::prelude::*;

pub use crate::kernel::dot;
pub(crate) use crate::kernel::{Scored, TopK};

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
