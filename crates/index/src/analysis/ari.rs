//! Adjusted Rand index between two labelings (for evaluating clusterings).

use std::collections::HashMap;
use std::hash::Hash;

use super::AnalysisError;

/// Adjusted Rand index (Hubert & Arabie) of two labelings of the same points.
///
/// 1.0 for identical partitions (label values themselves do not matter, only the grouping), about 0 for
/// independent ones, and possibly negative. Follows scikit-learn's pair-confusion formulation, including its
/// convention for the degenerate cases: when no pair is ever split differently (for example both labelings
/// put everything in one cluster, or everything in singletons, or there are fewer than two points) the
/// result is 1.0.
///
/// Errors with [`AnalysisError::LengthMismatch`] if the slices differ in length.
pub fn adjusted_rand_index<A, B>(labels_a: &[A], labels_b: &[B]) -> Result<f64, AnalysisError>
where
    A: Eq + Hash,
    B: Eq + Hash,
{
    if labels_a.len() != labels_b.len() {
        return Err(AnalysisError::LengthMismatch {
            left: labels_a.len(),
            right: labels_b.len(),
        });
    }
    let n = labels_a.len() as i128;
    let mut ids_a: HashMap<&A, usize> = HashMap::new();
    let mut ids_b: HashMap<&B, usize> = HashMap::new();
    let mut contingency: HashMap<(usize, usize), i128> = HashMap::new();
    let mut size_a: Vec<i128> = Vec::new();
    let mut size_b: Vec<i128> = Vec::new();
    for (a, b) in labels_a.iter().zip(labels_b) {
        let next = ids_a.len();
        let ia = *ids_a.entry(a).or_insert(next);
        if ia == size_a.len() {
            size_a.push(0);
        }
        size_a[ia] += 1;
        let next = ids_b.len();
        let ib = *ids_b.entry(b).or_insert(next);
        if ib == size_b.len() {
            size_b.push(0);
        }
        size_b[ib] += 1;
        *contingency.entry((ia, ib)).or_insert(0) += 1;
    }
    let sum_sq: i128 = contingency.values().map(|c| c * c).sum();
    let sum_a: i128 = size_a.iter().map(|c| c * c).sum();
    let sum_b: i128 = size_b.iter().map(|c| c * c).sum();
    // Pair confusion matrix (ordered pairs, as in scikit-learn).
    let tp = sum_sq - n;
    let fp = sum_b - sum_sq;
    let fn_ = sum_a - sum_sq;
    let tn = n * n - fp - fn_ - sum_sq;
    if fn_ == 0 && fp == 0 {
        return Ok(1.0);
    }
    let (tp, fp, fn_, tn) = (tp as f64, fp as f64, fn_ as f64, tn as f64);
    Ok(2.0 * (tp * tn - fn_ * fp) / ((tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Permuted labels: identical partition.
        assert_eq!(
            adjusted_rand_index(&[0, 0, 1, 1, 2], &[5, 5, 3, 3, 9]).unwrap(),
            1.0
        );
        // scikit-learn docs: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) == 0.5714285714285715
        let v = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]).unwrap();
        assert!((v - 0.571_428_571_428_571_5).abs() < 1e-12, "{v}");
        // scikit-learn docs: adjusted_rand_score([0, 0, 1, 1], [0, 1, 0, 1]) == -0.5
        let v = adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap();
        assert!((v + 0.5).abs() < 1e-12, "{v}");
        // Degenerate cases.
        assert_eq!(adjusted_rand_index::<u32, u32>(&[], &[]).unwrap(), 1.0);
        assert_eq!(adjusted_rand_index(&[1, 1, 1], &[2, 2, 2]).unwrap(), 1.0);
        assert_eq!(adjusted_rand_index(&[1, 2, 3], &[3, 2, 1]).unwrap(), 1.0);
        assert!(adjusted_rand_index(&[1, 2], &[1]).is_err());
    }
}
