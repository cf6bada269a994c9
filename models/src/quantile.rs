//! The quantile estimator used by measurement summaries, the simulator and validation.
//!
//! Linear interpolation between order statistics (Hyndman & Fan type 7, the default of R and
//! NumPy): for sorted values `x[0..n]` and probability `p`, `h = (n - 1) p`, and the quantile is
//! `x[⌊h⌋] + (h - ⌊h⌋) (x[⌊h⌋ + 1] - x[⌊h⌋])`. It is exact at the sample minimum (p = 0) and
//! maximum (p = 1) and needs no tie handling.

/// The type-7 quantile of already sorted values; `None` for an empty slice.
pub fn sorted(values: &[f64], p: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    Some(values[lo] + (h - lo as f64) * (values[hi] - values[lo]))
}

/// Sorts a copy of `values` (NaN last) and returns its type-7 quantile.
pub fn of(values: &[f64], p: f64) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    sorted(&v, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_default() {
        // numpy.quantile([1, 2, 3, 4], [0, .25, .5, .95, 1]) = [1, 1.75, 2.5, 3.85, 4]
        let v = [1.0, 2.0, 3.0, 4.0];
        let got: Vec<f64> = [0.0, 0.25, 0.5, 0.95, 1.0]
            .iter()
            .map(|&p| sorted(&v, p).unwrap())
            .collect();
        let want = [1.0, 1.75, 2.5, 3.85, 4.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert_eq!(sorted(&[], 0.5), None);
        assert_eq!(of(&[3.0, 1.0, 2.0], 0.5), Some(2.0));
    }
}
