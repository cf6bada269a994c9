//! A DDSketch (C. Masson, J. E. Rim, H. K. Lee, VLDB 2019) of non-negative latencies with 0.1 %
//! relative error, giving exactly what `sketches-ddsketch`'s `DDSketch` gives for the same values
//! (same keys, same quantiles), at a fraction of its cost per value.
//!
//! A value `v` falls in bin `floor(ln(v) / ln(gamma))`. The crate takes a libm `ln` per value;
//! here a short series gives the key to within a hundredth of a bin, and the exact lower bounds
//! of the bins (computed once per bin, with the crate's own formula) settle it: a key is the
//! crate's key whenever `ln` is monotonic, which the tests check against the crate.

/// Relative accuracy of the quantiles.
const ALPHA: f64 = 0.001;
/// Values at or below this count as zero (the crate's default).
const MIN_VALUE: f64 = 1e-9;
/// Bins are added this many at a time, as the crate does.
const CHUNK: i32 = 128;

/// `(ln c, 1/c)` for `c = 1 + j/256`, `j` in 0..256.
static LN_TABLE: std::sync::LazyLock<[(f64, f64); 256]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|j| {
        let c = 1.0 + j as f64 / 256.0;
        (c.ln(), 1.0 / c)
    })
});

/// The sketch.
#[derive(Clone, Debug)]
pub(crate) struct Sketch {
    gamma: f64,
    gamma_ln: f64,
    inv_gamma_ln: f64,
    /// Counts of the bins `offset ..`, by key.
    bins: Vec<u64>,
    /// `lower[i]`: the least value in bin `offset + i`; one more entry than `bins`.
    lower: Vec<f64>,
    offset: i32,
    zero_count: u64,
    count: u64,
    min: f64,
    max: f64,
}

impl Default for Sketch {
    fn default() -> Self {
        let gamma = (1.0 + ALPHA) / (1.0 - ALPHA);
        Sketch {
            gamma,
            gamma_ln: gamma.ln(),
            inv_gamma_ln: 1.0 / gamma.ln(),
            bins: Vec::new(),
            lower: Vec::new(),
            offset: 0,
            zero_count: 0,
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Sketch {
    /// The crate's key: `floor(ln(v) / ln(gamma))`.
    fn exact_key(&self, v: f64) -> i32 {
        (v.ln() / self.gamma_ln).floor() as i32
    }

    /// `ln(v)` for a positive, normal `v`, to within about 1e-9: the exponent times ln 2, plus
    /// `ln(c)` from a table for the mantissa's leading 8 bits `c`, plus `ln(1 + r)` to the
    /// third power for the rest, `r = m/c − 1` below 1/256 (no division, no libm call).
    #[inline]
    fn approx_ln(v: f64) -> f64 {
        let bits = v.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
        let m = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52));
        let j = ((bits >> 44) & 0xff) as usize;
        let (ln_c, inv_c) = LN_TABLE[j];
        let r = m * inv_c - 1.0;
        exponent as f64 * std::f64::consts::LN_2 + ln_c + r * (1.0 - r * (0.5 - r / 3.0))
    }

    /// Adds one value (negative values, which latencies never are, count as zero, as do
    /// infinite ones).
    #[inline]
    pub(crate) fn add(&mut self, v: f64) {
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if !(v > MIN_VALUE && v.is_finite()) {
            self.zero_count += 1;
            return;
        }
        let i = self.index(v);
        self.bins[i] += 1;
    }

    /// The index in `bins` of the bin of `v` (positive, finite), extending the bins first if
    /// they do not reach it.
    #[inline]
    fn index(&mut self, v: f64) -> usize {
        // The floor, without a libm call: keys of finite values lie within ±2^16.
        let guess = ((Self::approx_ln(v) * self.inv_gamma_ln + 65_536.0) as i32) - 65_536;
        let i = guess.wrapping_sub(self.offset) as usize;
        if i < self.bins.len() {
            // The guess is off by at most one bin; the bounds say which.
            let k = if v < self.lower[i] {
                i.wrapping_sub(1)
            } else if v >= self.lower[i + 1] {
                i + 1
            } else {
                i
            };
            if k < self.bins.len() {
                return k;
            }
        }
        let key = self.exact_key(v);
        self.cover(key);
        (key - self.offset) as usize
    }

    /// Extends the bins (by chunks) so that they include `key`.
    #[cold]
    fn cover(&mut self, key: i32) {
        let chunk = key.div_euclid(CHUNK) * CHUNK;
        if self.bins.is_empty() {
            self.offset = chunk;
        }
        let end = self.offset + self.bins.len() as i32;
        let first = self.offset.min(chunk);
        let last = end.max(chunk + CHUNK);
        let mut bins = vec![0; (last - first) as usize];
        bins[(self.offset - first) as usize..(end - first) as usize].copy_from_slice(&self.bins);
        let known = |k: i32| (self.offset..=end).contains(&k) && !self.lower.is_empty();
        self.lower = (first..=last)
            .map(|k| {
                if known(k) {
                    self.lower[(k - self.offset) as usize]
                } else {
                    self.lower_bound(k)
                }
            })
            .collect();
        self.bins = bins;
        self.offset = first;
    }

    /// The least value whose key is `key`: `gamma^key`, moved to the exact boundary of the
    /// crate's key function.
    fn lower_bound(&self, key: i32) -> f64 {
        let mut v = (f64::from(key) * self.gamma_ln).exp();
        while v > 0.0 && self.exact_key(v) >= key {
            v = f64::from_bits(v.to_bits() - 1);
        }
        while self.exact_key(v) < key {
            v = f64::from_bits(v.to_bits() + 1);
        }
        v
    }

    /// Values added.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The crate's quantile `q` in [0, 1]: the bin holding rank `floor(q·(n − 1))`, reported at
    /// its centre `gamma^key · 2·gamma/(1 + gamma)`; the least and largest values themselves at 0
    /// and 1; `None` when empty.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        if q == 0.0 {
            return Some(self.min);
        }
        if q == 1.0 {
            return Some(self.max);
        }
        let rank = (q * (self.count as f64 - 1.0)) as u64;
        if rank < self.zero_count {
            return Some(0.0);
        }
        let rank = rank - self.zero_count;
        let mut seen = 0;
        let mut key = self.offset + self.bins.len() as i32 - 1;
        for (i, bin) in self.bins.iter().enumerate() {
            seen += bin;
            if seen > rank {
                key = self.offset + i as i32;
                break;
            }
        }
        let gamma = self.gamma;
        Some((f64::from(key) * self.gamma_ln).exp() * (2.0 * gamma / (1.0 + gamma)))
    }

    /// The least value added.
    pub(crate) fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// The largest value added.
    pub(crate) fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faastwin_models::rng_from_seed;
    use proptest::prelude::*;
    use sketches_ddsketch::{Config, DDSketch};

    fn crate_sketch() -> DDSketch {
        DDSketch::new(Config::new(ALPHA, 65_536, MIN_VALUE))
    }

    const QUANTILES: [f64; 9] = [0.0, 0.001, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0];

    /// On latencies spread over eleven orders of magnitude (and zeros), every key is the
    /// crate's and so every quantile is the crate's, bit for bit.
    #[test]
    fn quantiles_are_the_crates_bit_for_bit() {
        let mut rng = rng_from_seed(17);
        for round in 0..20 {
            let mut ours = Sketch::default();
            let mut theirs = crate_sketch();
            let centre: f64 = rng.random_range(-8.0..6.0);
            for _ in 0..20_000 {
                let v = if rng.random_range(0..1000) == 0 {
                    0.0
                } else {
                    (centre + rng.random_range(-3.0..3.0f64)).exp()
                };
                ours.add(v);
                theirs.add(v);
            }
            for q in QUANTILES {
                let want = theirs.quantile(q).unwrap().unwrap();
                let got = ours.quantile(q).unwrap();
                assert_eq!(got.to_bits(), want.to_bits(), "round {round}, q {q}");
            }
            assert_eq!(ours.count(), theirs.count() as u64);
        }
    }

    /// The fast key is the crate's key at and around every bound of the bins from 1 µs to
    /// three hours, where a key is most easily wrong.
    #[test]
    fn keys_at_the_bounds_are_the_crates() {
        let mut sketch = Sketch::default();
        sketch.add(1e-6);
        sketch.add(1e4);
        let config = Config::new(ALPHA, 65_536, MIN_VALUE);
        let bounds = sketch.lower.clone();
        assert!(bounds.len() > 10_000, "{}", bounds.len());
        for bound in bounds {
            let step = |d: i64| f64::from_bits(bound.to_bits().wrapping_add_signed(d));
            for v in [step(-1), bound, step(1)] {
                let key = sketch.index(v) as i32 + sketch.offset;
                assert_eq!(key, config.key(v), "{v:e}");
            }
        }
    }

    proptest! {
        /// Whatever the values, the count and the quantiles are the crate's.
        #[test]
        fn any_values_give_the_crates_quantiles(values in prop::collection::vec(0.0f64..1e9, 1..300)) {
            let mut ours = Sketch::default();
            let mut theirs = crate_sketch();
            for &v in &values {
                ours.add(v);
                theirs.add(v);
            }
            for q in QUANTILES {
                let want = theirs.quantile(q).unwrap().unwrap();
                prop_assert_eq!(ours.quantile(q).unwrap().to_bits(), want.to_bits());
            }
        }
    }
}
