//! Vector helpers of the analyses (cosine, norms, matrix shape checks) over the crate's one set of kernels
//! ([`crate::kernel`]: `dot`, `dot4`, `TopK`), re-exported here for the analysis modules.

use rayon::prelude::*;

use super::AnalysisError;
pub use crate::kernel::{dot, dot4};
pub(crate) use crate::kernel::{for_each_dot, TopK};

/// Cosine similarity of `a` and `b` computed from scratch (`dot / (|a| |b|)`, clamped to `[-1, 1]`);
/// 0 when either vector is zero. This is the "exact score" that [`duplicate_groups`](super::duplicate_groups)
/// reports, up to the rounding of the norms, which it caches.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let ia = inv_norm(a);
    let ib = inv_norm(b);
    (dot(a, b) * (ia * ib)).clamp(-1.0, 1.0)
}

/// `1 / |v|`, or 0 for the zero vector.
#[inline]
pub(crate) fn inv_norm(v: &[f32]) -> f32 {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        1.0 / n
    } else {
        0.0
    }
}

/// Checks the shape of a row-major matrix and returns the number of rows.
pub(crate) fn rows_of(data: &[f32], dim: usize) -> Result<usize, AnalysisError> {
    if dim == 0 {
        return Err(AnalysisError::ZeroDim);
    }
    if !data.len().is_multiple_of(dim) {
        return Err(AnalysisError::DimMismatch {
            len: data.len(),
            dim,
        });
    }
    Ok(data.len() / dim)
}

/// `1 / |row|` for every row (0 for zero rows), in parallel; errors on the first (lowest) row holding a
/// non-finite value.
pub(crate) fn inv_norms(data: &[f32], dim: usize) -> Result<Vec<f32>, AnalysisError> {
    let norms: Vec<f32> = data
        .par_chunks_exact(dim)
        .with_min_len(512)
        .map(|row| dot(row, row).sqrt())
        .collect();
    if let Some(row) = norms.iter().position(|n| !n.is_finite()) {
        return Err(AnalysisError::NonFinite { row });
    }
    Ok(norms
        .into_iter()
        .map(|n| if n > 0.0 { 1.0 / n } else { 0.0 })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_basics() {
        assert_eq!(cosine(&[1.0, 0.0], &[2.0, 0.0]), 1.0);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[0.0, 3.0]), 0.0);
        assert!((cosine(&[1.0, 1.0], &[1.0, 0.0]) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }
}
