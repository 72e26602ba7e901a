//! The vector kernels of the crate, written once: [`dot`] (and [`dot4`], four rows at a time) and [`TopK`].
//!
//! [`dot`] is written so that LLVM auto-vectorises it: 16 independent accumulators over chunks of 16,
//! combined by a fixed pairwise tree. On x86-64 the same code is also compiled with AVX2 enabled and picked
//! at run time. Both versions perform exactly the same IEEE operations in the same order (no FMA
//! contraction), so the result is bit-identical whichever is used: only the register width changes. Its
//! contract: both slices have the same length (a different length is a bug of the caller and panics); the
//! exact scan, the graph search, k-means and duplicate grouping all score with it.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

const LANES: usize = 16;

#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut acc = [0.0f32; LANES];
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    // Fixed-order pairwise reduction: 16 -> 8 -> 4 -> 2 -> 1.
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    acc[0] + tail
}

#[inline(always)]
fn reduce(mut acc: [f32; LANES], tail: f32) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0] + tail
}

/// Four dot products of `q` with `rows[j]`, each computed exactly as [`dot_portable`] computes it (same
/// lanes, same reduction tree, same tail), but loading each chunk of `q` once for all four rows.
#[inline(always)]
fn dot4_portable(q: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
    let [r0, r1, r2, r3] = rows;
    let (mut a0, mut a1, mut a2, mut a3) = (
        [0.0f32; LANES],
        [0.0f32; LANES],
        [0.0f32; LANES],
        [0.0f32; LANES],
    );
    let it = q
        .chunks_exact(LANES)
        .zip(r0.chunks_exact(LANES))
        .zip(r1.chunks_exact(LANES))
        .zip(r2.chunks_exact(LANES))
        .zip(r3.chunks_exact(LANES));
    for ((((x, y0), y1), y2), y3) in it {
        for i in 0..LANES {
            a0[i] += x[i] * y0[i];
            a1[i] += x[i] * y1[i];
            a2[i] += x[i] * y2[i];
            a3[i] += x[i] * y3[i];
        }
    }
    let full = q.len() - q.len() % LANES;
    let tail = |r: &[f32]| {
        let mut t = 0.0f32;
        for (x, y) in q[full..].iter().zip(&r[full..]) {
            t += x * y;
        }
        t
    };
    [
        reduce(a0, tail(r0)),
        reduce(a1, tail(r1)),
        reduce(a2, tail(r2)),
        reduce(a3, tail(r3)),
    ]
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot4_avx2(q: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
    dot4_portable(q, rows)
}

/// Four dot products `q · rows[j]`, bit-identical to four calls of [`dot`] but faster (each chunk of `q`
/// is loaded once, and the four accumulator chains run in parallel).
///
/// # Panics
/// If any row's length differs from `q`'s.
#[inline]
pub fn dot4(q: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
    for r in rows {
        assert_eq!(r.len(), q.len(), "dot4: length mismatch");
    }
    #[cfg(target_arch = "x86_64")]
    {
        if q.len() >= 64 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of `dot4_avx2`.
            return unsafe { dot4_avx2(q, rows) };
        }
    }
    dot4_portable(q, rows)
}

/// Calls `f(j, q · rows[j])` for every row of the row-major matrix `rows` (`dim = q.len()`), four rows at a
/// time with [`dot4`]. Scores are bit-identical to [`dot`].
#[inline]
pub(crate) fn for_each_dot(q: &[f32], rows: &[f32], mut f: impl FnMut(usize, f32)) {
    let dim = q.len();
    let mut chunks = rows.chunks_exact(4 * dim);
    let mut j = 0;
    for block in &mut chunks {
        let (r0, rest) = block.split_at(dim);
        let (r1, rest) = rest.split_at(dim);
        let (r2, r3) = rest.split_at(dim);
        let s = dot4(q, [r0, r1, r2, r3]);
        for (o, v) in s.into_iter().enumerate() {
            f(j + o, v);
        }
        j += 4;
    }
    for r in chunks.remainder().chunks_exact(dim) {
        f(j, dot(q, r));
        j += 1;
    }
}

/// Dot product of two equally long slices.
///
/// Deterministic: the summation order depends only on the length, never on the CPU features or thread.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot: length mismatch");
    #[cfg(target_arch = "x86_64")]
    {
        if a.len() >= 64 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of `dot_avx2`.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_portable(a, b)
}

/// Symmetric int8 quantisation of one row: `codes[i] = round(v[i] / step)` in `-127..=127` with
/// `step = max|v| / 127`; returns `step` (0 for an all-zero row), so that
/// `dot_i8(a, b) as f32 * step_a * step_b` approximates `dot(a, b)`.
pub(crate) fn quantize(v: &[f32], codes: &mut [i8]) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        codes.iter_mut().for_each(|c| *c = 0);
        return 0.0;
    }
    let inv = 127.0 / max;
    for (c, x) in codes.iter_mut().zip(v) {
        *c = (x * inv).round().clamp(-127.0, 127.0) as i8;
    }
    max / 127.0
}

#[inline(always)]
fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

/// AVX2 int8 dot product: `|a| * (b * sign(a))` by `maddubs` (pairs of products stay below `2 * 127 * 127`,
/// so the 16-bit sums never saturate: codes are in `-127..=127`), then widened to 32 bits by `madd`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let full = n - n % 32;
    let ones = _mm256_set1_epi16(1);
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    // SAFETY: every load reads 32 bytes at `i < full <= len` of both slices (unaligned loads).
    unsafe {
        while i + 64 <= full {
            let x0 = _mm256_loadu_si256(a.as_ptr().add(i).cast());
            let y0 = _mm256_loadu_si256(b.as_ptr().add(i).cast());
            let x1 = _mm256_loadu_si256(a.as_ptr().add(i + 32).cast());
            let y1 = _mm256_loadu_si256(b.as_ptr().add(i + 32).cast());
            let p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(x0, x0), _mm256_sign_epi8(y0, x0));
            let p1 = _mm256_maddubs_epi16(_mm256_sign_epi8(x1, x1), _mm256_sign_epi8(y1, x1));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, ones));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(p1, ones));
            i += 64;
        }
        if i < full {
            let x0 = _mm256_loadu_si256(a.as_ptr().add(i).cast());
            let y0 = _mm256_loadu_si256(b.as_ptr().add(i).cast());
            let p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(x0, x0), _mm256_sign_epi8(y0, x0));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, ones));
        }
        let acc = _mm256_add_epi32(acc0, acc1);
        let s = _mm_add_epi32(
            _mm256_castsi256_si128(acc),
            _mm256_extracti128_si256::<1>(acc),
        );
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s) + dot_i8_portable(&a[full..n], &b[full..n])
    }
}

/// AVX-512 VNNI int8 dot product: `vpdpbusd` multiplies unsigned by signed bytes, so `a` is shifted to
/// `a + 128` (a flip of the top bit) and `128 * sum(b)` (summed by a second `vpdpbusd` against ones) taken
/// off again. Exact for every code, -128 included (32-bit sums, no saturation).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn dot_i8_vnni(a: &[i8], b: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let full = n - n % 64;
    let flip = _mm512_set1_epi8(i8::MIN);
    let ones = _mm512_set1_epi8(1);
    let mut acc = _mm512_setzero_si512();
    let mut sum_b = _mm512_setzero_si512();
    let mut i = 0;
    // SAFETY: every load reads 64 bytes at `i < full <= len` of both slices (unaligned loads).
    unsafe {
        while i < full {
            let x = _mm512_loadu_si512(a.as_ptr().add(i).cast());
            let y = _mm512_loadu_si512(b.as_ptr().add(i).cast());
            acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(x, flip), y);
            sum_b = _mm512_dpbusd_epi32(sum_b, ones, y);
            i += 64;
        }
    }
    _mm512_reduce_add_epi32(acc) - 128 * _mm512_reduce_add_epi32(sum_b)
        + dot_i8_portable(&a[full..n], &b[full..n])
}

/// [`dot_i8_vnni`] with the query's side shifted instead: `vpdpbusd(row + 128, query)` sums
/// `dot + 128 * sum(query)`, and `sum(query)` (`query_sum`, [`code_sum`]) is the same for every row of a
/// search, so one `vpdpbusd` per 64 bytes instead of two. Exact, as `dot_i8_vnni`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn dot_i8_vnni_query(query: &[i8], query_sum: i32, row: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    let n = query.len().min(row.len());
    let full = n - n % 64;
    let flip = _mm512_set1_epi8(i8::MIN);
    let mut acc0 = _mm512_setzero_si512();
    let mut acc1 = _mm512_setzero_si512();
    let mut i = 0;
    // SAFETY: every load reads 64 bytes at `i < full <= len` of both slices (unaligned loads).
    unsafe {
        while i + 128 <= full {
            let x0 = _mm512_loadu_si512(row.as_ptr().add(i).cast());
            let y0 = _mm512_loadu_si512(query.as_ptr().add(i).cast());
            let x1 = _mm512_loadu_si512(row.as_ptr().add(i + 64).cast());
            let y1 = _mm512_loadu_si512(query.as_ptr().add(i + 64).cast());
            acc0 = _mm512_dpbusd_epi32(acc0, _mm512_xor_si512(x0, flip), y0);
            acc1 = _mm512_dpbusd_epi32(acc1, _mm512_xor_si512(x1, flip), y1);
            i += 128;
        }
        if i < full {
            let x0 = _mm512_loadu_si512(row.as_ptr().add(i).cast());
            let y0 = _mm512_loadu_si512(query.as_ptr().add(i).cast());
            acc0 = _mm512_dpbusd_epi32(acc0, _mm512_xor_si512(x0, flip), y0);
        }
    }
    // The shifted sum covers the first `full` codes only.
    let head_sum = query_sum - query[full..n].iter().map(|&x| x as i32).sum::<i32>();
    _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1)) - 128 * head_sum
        + dot_i8_portable(&query[full..n], &row[full..n])
}

/// Sum of a row's codes, for [`dot_i8_query`].
pub(crate) fn code_sum(codes: &[i8]) -> i32 {
    codes.iter().map(|&x| x as i32).sum()
}

/// [`dot_i8`]`(query, row)` for many rows against one query whose [`code_sum`] is `query_sum`: the same
/// exact integer, faster with AVX-512 VNNI (one multiply-add per 64 codes instead of two).
///
/// # Panics
/// If the lengths differ.
#[inline]
pub(crate) fn dot_i8_query(query: &[i8], query_sum: i32, row: &[i8]) -> i32 {
    assert_eq!(query.len(), row.len(), "dot_i8_query: length mismatch");
    #[cfg(target_arch = "x86_64")]
    {
        if query.len() >= 64 && vnni() {
            // SAFETY: the CPU supports AVX-512 F, BW and VNNI (checked by `vnni`), the only requirement of
            // `dot_i8_vnni_query`.
            return unsafe { dot_i8_vnni_query(query, query_sum, row) };
        }
    }
    dot_i8(query, row)
}

/// Whether the CPU has AVX-512 VNNI and BW (BW implies F), for the int8 kernels.
#[cfg(target_arch = "x86_64")]
#[inline]
fn vnni() -> bool {
    std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

/// Exact integer dot product of two int8 code rows written by [`quantize`] (codes in `-127..=127`; a code
/// of -128 may make the AVX2 path differ). Integer sums are exact, so every path (AVX-512 VNNI, AVX2,
/// scalar, picked at run time) gives the same result.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub(crate) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    assert_eq!(a.len(), b.len(), "dot_i8: length mismatch");
    #[cfg(target_arch = "x86_64")]
    {
        if a.len() >= 64 && vnni() {
            // SAFETY: the CPU supports AVX-512 F, BW and VNNI (checked by `vnni`; BW implies F), the only
            // requirement of `dot_i8_vnni`.
            return unsafe { dot_i8_vnni(a, b) };
        }
        if a.len() >= 32 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of `dot_i8_avx2`.
            return unsafe { dot_i8_avx2(a, b) };
        }
    }
    dot_i8_portable(a, b)
}

/// A scored candidate; ordered so that a `BinaryHeap<Scored>` keeps the *worst* kept candidate on top
/// (lower score, then higher id, is worse), which makes every top-k deterministic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scored<I = u64> {
    pub score: f32,
    pub id: I,
}

impl<I: Ord> Eq for Scored<I> where I: PartialEq {}

impl<I: Ord> Ord for Scored<I> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.id.cmp(&other.id))
    }
}

impl<I: Ord> PartialOrd for Scored<I> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the best `k` of a stream of `(id, score)` pairs: higher score first, ties to the lower id.
#[derive(Debug)]
pub(crate) struct TopK<I = u64> {
    k: usize,
    heap: BinaryHeap<Scored<I>>,
}

impl<I: Ord + Copy> TopK<I> {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, id: I, score: f32) {
        if self.k == 0 {
            return;
        }
        let e = Scored { score, id };
        if self.heap.len() < self.k {
            self.heap.push(e);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if e < *worst {
                *worst = e;
            }
        }
    }

    /// The best `k` of both.
    pub(crate) fn merge(mut self, other: TopK<I>) -> TopK<I> {
        for s in other.heap {
            self.push(s.id, s.score);
        }
        self
    }

    /// Best first.
    pub(crate) fn into_sorted(self) -> Vec<Scored<I>> {
        self.heap.into_sorted_vec()
    }

    /// Best first, as `(id, score)` pairs.
    pub(crate) fn into_pairs(self) -> Vec<(I, f32)> {
        self.into_sorted()
            .into_iter()
            .map(|s| (s.id, s.score))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn dot_matches_naive_all_lengths() {
        let mut r = crate::analysis::Rng::new(3);
        for len in 0..200 {
            let a: Vec<f32> = (0..len).map(|_| r.gaussian() as f32).collect();
            let b: Vec<f32> = (0..len).map(|_| r.gaussian() as f32).collect();
            let d = dot(&a, &b) as f64;
            assert!(
                (d - naive(&a, &b)).abs() < 1e-4 * (1.0 + len as f64),
                "len {len}"
            );
            // Portable and dispatched versions are bit-identical.
            assert_eq!(dot(&a, &b).to_bits(), dot_portable(&a, &b).to_bits());
            // Symmetric bit for bit.
            assert_eq!(dot(&a, &b).to_bits(), dot(&b, &a).to_bits());
            // dot4 / for_each_dot agree bit for bit.
            let c: Vec<f32> = a.iter().map(|x| x * 0.5 - 0.25).collect();
            let d: Vec<f32> = b.iter().rev().copied().collect();
            let four = dot4(&a, [&b, &c, &d, &a]);
            for (got, other) in four.iter().zip([&b, &c, &d, &a]) {
                assert_eq!(got.to_bits(), dot(&a, other).to_bits(), "len {len}");
            }
            let mat: Vec<f32> = [&b, &c, &d, &a, &b, &c, &d]
                .iter()
                .flat_map(|v| v.iter().copied())
                .collect();
            let mut seen = 0;
            if len > 0 {
                for_each_dot(&a, &mat, |j, s| {
                    let other = &mat[j * len..(j + 1) * len];
                    assert_eq!(s.to_bits(), dot(&a, other).to_bits());
                    seen += 1;
                });
                assert_eq!(seen, 7);
            }
        }
    }

    #[test]
    fn dot_i8_is_exact_on_every_path_and_quantize_approximates_dot() {
        let mut r = crate::analysis::Rng::new(5);
        for len in [0usize, 1, 31, 32, 33, 63, 64, 65, 100, 512, 515] {
            let a: Vec<i8> = (0..len)
                .map(|_| (r.below(255) as i32 - 127) as i8)
                .collect();
            let b: Vec<i8> = (0..len)
                .map(|_| (r.below(255) as i32 - 127) as i8)
                .collect();
            assert_eq!(dot_i8(&a, &b), dot_i8_portable(&a, &b), "len {len}");
            // The per-query form, on whichever path the CPU takes (VNNI with the query's sum, or
            // `dot_i8`).
            assert_eq!(
                dot_i8_query(&a, code_sum(&a), &b),
                dot_i8_portable(&a, &b),
                "len {len}"
            );
            let low = vec![i8::MIN; len];
            // Each SIMD path on its own, where the CPU has it.
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 is present (checked just above).
                    assert_eq!(unsafe { dot_i8_avx2(&a, &b) }, dot_i8_portable(&a, &b));
                }
                if std::arch::is_x86_feature_detected!("avx512vnni")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                {
                    // SAFETY: AVX-512 F, BW and VNNI are present (checked just above).
                    assert_eq!(unsafe { dot_i8_vnni(&a, &b) }, dot_i8_portable(&a, &b));
                    // SAFETY: as above.
                    assert_eq!(unsafe { dot_i8_vnni(&low, &b) }, dot_i8_portable(&low, &b));
                    // SAFETY: as above.
                    let q = unsafe { dot_i8_vnni_query(&a, code_sum(&a), &b) };
                    assert_eq!(q, dot_i8_portable(&a, &b));
                    // SAFETY: as above. A row of -128 codes (never written by `quantize`) is exact too.
                    let q = unsafe { dot_i8_vnni_query(&a, code_sum(&a), &low) };
                    assert_eq!(q, dot_i8_portable(&a, &low));
                }
            }
            let extreme = vec![-127i8; len];
            assert_eq!(dot_i8(&extreme, &extreme), 127 * 127 * len as i32);
            assert_eq!(dot_i8(&extreme, &a), dot_i8_portable(&extreme, &a));
        }
        for _ in 0..50 {
            let mut x: Vec<f32> = (0..512).map(|_| r.gaussian() as f32).collect();
            let mut y: Vec<f32> = x.iter().map(|v| v + r.gaussian() as f32).collect();
            for v in [&mut x, &mut y] {
                let n = v.iter().map(|t| t * t).sum::<f32>().sqrt();
                v.iter_mut().for_each(|t| *t /= n);
            }
            let (mut cx, mut cy) = (vec![0i8; 512], vec![0i8; 512]);
            let (sx, sy) = (quantize(&x, &mut cx), quantize(&y, &mut cy));
            let approx = dot_i8(&cx, &cy) as f32 * sx * sy;
            assert!(
                (approx - dot(&x, &y)).abs() < 0.01,
                "{approx} vs {}",
                dot(&x, &y)
            );
        }
        let mut z = vec![5i8; 4];
        assert_eq!(quantize(&[0.0; 4], &mut z), 0.0);
        assert_eq!(z, vec![0; 4]);
    }

    #[test]
    #[should_panic(expected = "dot: length mismatch")]
    fn dot_of_different_lengths_panics() {
        dot(&[1.0, 2.0], &[1.0]);
    }

    #[test]
    fn topk_keeps_the_best_ties_to_the_lower_id_and_merges() {
        let mut t = TopK::new(3);
        for (i, s) in [0.5, 0.9, 0.1, 0.7, 0.9].iter().enumerate() {
            t.push(i as u64, *s);
        }
        let mut u = TopK::new(3);
        u.push(9, 0.8);
        assert_eq!(t.merge(u).into_pairs(), vec![(1, 0.9), (4, 0.9), (9, 0.8)]);
        let mut z = TopK::<usize>::new(0);
        z.push(1, 1.0);
        assert!(z.into_sorted().is_empty());
    }
}
