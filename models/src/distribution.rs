//! Random durations: the distribution families and their serde form.

use std::sync::Arc;

use rand::Rng as _;
use rand_distr::Distribution as _;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Gamma as StatrsGamma, Normal as StatrsNormal};

use crate::{ModelError, Rng, quantile};

/// The serde form of a [`Distribution`]: a `family` and its parameters, all in seconds (or
/// seconds per byte inside a [`crate::SizeModel`]'s `per_byte`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawDistribution {
    /// Always `value` (≥ 0).
    Constant {
        /// The value.
        value: f64,
    },
    /// Uniform on `[low, high]`, `0 ≤ low ≤ high`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Normal with `mean` and `std`, truncated at zero (values below zero are redrawn);
    /// `std > 0`, `mean > -2 std`.
    Normal {
        /// Mean before truncation.
        mean: f64,
        /// Standard deviation before truncation.
        std: f64,
    },
    /// `exp(N(mu, sigma²))`: median `exp(mu)`; `sigma ≥ 0`.
    Lognormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// Gamma with `shape` k > 0 and `scale` θ > 0 (mean kθ).
    Gamma {
        /// Shape k.
        shape: f64,
        /// Scale θ.
        scale: f64,
    },
    /// Weibull with `shape` k > 0 and `scale` λ > 0.
    Weibull {
        /// Shape k.
        shape: f64,
        /// Scale λ.
        scale: f64,
    },
    /// `shift + Exp(rate)`: `shift ≥ 0`, `rate > 0` [1/s].
    ShiftedExponential {
        /// Smallest value.
        shift: f64,
        /// Rate of the exponential part.
        rate: f64,
    },
    /// Resamples measured `values` (each ≥ 0) with equal probability.
    Empirical {
        /// The measured values.
        values: Vec<f64>,
    },
    /// Inverse CDF given as `[probability, value]` points, linear in between: probabilities
    /// strictly increasing from 0 to 1, values non-decreasing and ≥ 0.
    QuantileTable {
        /// The points.
        points: Vec<[f64; 2]>,
    },
    /// Draws from one of several components, chosen with probability proportional to weight.
    Mixture {
        /// The components.
        components: Vec<MixtureComponent>,
    },
}

/// One component of a mixture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixtureComponent {
    /// Relative weight (> 0).
    pub weight: f64,
    /// The component's distribution.
    pub model: Distribution,
}

/// A validated random duration, ready to sample.
///
/// Built from a [`RawDistribution`] (also when deserialised, so a bad parameter in a file is
/// an error at load time) and serialised back to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawDistribution", into = "RawDistribution")]
pub struct Distribution {
    raw: RawDistribution,
    sampler: Sampler,
}

impl PartialEq for Distribution {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

#[derive(Debug, Clone)]
enum Sampler {
    Constant(f64),
    Uniform(f64, f64),
    Normal(rand_distr::Normal<f64>),
    Lognormal(rand_distr::LogNormal<f64>),
    Gamma(rand_distr::Gamma<f64>),
    Weibull(rand_distr::Weibull<f64>),
    ShiftedExponential(f64, rand_distr::Exp<f64>),
    /// Sorted values.
    Empirical(Arc<[f64]>),
    Table(Arc<[[f64; 2]]>),
    /// Cumulative weights (normalised to end at 1) and components.
    Mixture(Arc<[(f64, Distribution)]>),
}

impl TryFrom<RawDistribution> for Distribution {
    type Error = ModelError;

    fn try_from(raw: RawDistribution) -> Result<Self, ModelError> {
        Distribution::new(raw)
    }
}

impl From<Distribution> for RawDistribution {
    fn from(d: Distribution) -> Self {
        d.raw
    }
}

fn check(
    family: &'static str,
    field: &'static str,
    value: f64,
    ok: bool,
    allowed: &'static str,
) -> Result<(), ModelError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(ModelError::OutOfRange {
            family,
            field,
            value,
            allowed,
        })
    }
}

fn bad_list(family: &'static str, field: &'static str, problem: impl Into<String>) -> ModelError {
    ModelError::BadList {
        family,
        field,
        problem: problem.into(),
    }
}

/// The error for a parameter the sampler's constructor refused (after [`check`] passed it).
fn refused<E>(
    family: &'static str,
    field: &'static str,
    value: f64,
    allowed: &'static str,
) -> impl FnOnce(E) -> ModelError {
    move |_| ModelError::OutOfRange {
        family,
        field,
        value,
        allowed,
    }
}

/// Draws from the values themselves: none negative or infinite, at least one.
fn empirical(values: &[f64]) -> Result<Sampler, ModelError> {
    if values.is_empty() {
        return Err(bad_list("empirical", "values", "is empty"));
    }
    if let Some(v) = values.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        return Err(bad_list(
            "empirical",
            "values",
            format!("{v} is not a finite value >= 0"),
        ));
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(Sampler::Empirical(sorted.into()))
}

/// Chooses a component by its weight (each above 0), then draws from it.
fn mixture(components: &[MixtureComponent]) -> Result<Sampler, ModelError> {
    if components.is_empty() {
        return Err(bad_list("mixture", "components", "is empty"));
    }
    let total: f64 = components.iter().map(|c| c.weight).sum();
    if let Some(c) = components
        .iter()
        .find(|c| !(c.weight.is_finite() && c.weight > 0.0))
    {
        return Err(bad_list(
            "mixture",
            "weight",
            format!("{} is not > 0", c.weight),
        ));
    }
    let mut cumulative = 0.0;
    let prepared: Vec<(f64, Distribution)> = components
        .iter()
        .map(|c| {
            cumulative += c.weight / total;
            (cumulative, c.model.clone())
        })
        .collect();
    Ok(Sampler::Mixture(prepared.into()))
}

impl Distribution {
    /// Validates `raw` and prepares its sampler.
    pub fn new(raw: RawDistribution) -> Result<Self, ModelError> {
        let sampler = match &raw {
            &RawDistribution::Constant { value } => {
                check("constant", "value", value, value >= 0.0, ">= 0")?;
                Sampler::Constant(value)
            }
            &RawDistribution::Uniform { low, high } => {
                check("uniform", "low", low, low >= 0.0, ">= 0")?;
                check("uniform", "high", high, high >= low, ">= low")?;
                Sampler::Uniform(low, high)
            }
            &RawDistribution::Normal { mean, std } => {
                check("normal", "std", std, std > 0.0, "> 0")?;
                check("normal", "mean", mean, mean > -2.0 * std, "> -2 std")?;
                let normal = rand_distr::Normal::new(mean, std);
                Sampler::Normal(normal.map_err(refused("normal", "std", std, "> 0"))?)
            }
            &RawDistribution::Lognormal { mu, sigma } => {
                check(
                    "lognormal",
                    "mu",
                    mu,
                    mu.abs() < 700.0,
                    "finite, |mu| < 700",
                )?;
                check("lognormal", "sigma", sigma, sigma >= 0.0, ">= 0")?;
                let lognormal = rand_distr::LogNormal::new(mu, sigma);
                Sampler::Lognormal(lognormal.map_err(refused(
                    "lognormal",
                    "sigma",
                    sigma,
                    ">= 0",
                ))?)
            }
            &RawDistribution::Gamma { shape, scale } => {
                check("gamma", "shape", shape, shape > 0.0, "> 0")?;
                check("gamma", "scale", scale, scale > 0.0, "> 0")?;
                let gamma = rand_distr::Gamma::new(shape, scale);
                Sampler::Gamma(gamma.map_err(refused("gamma", "shape", shape, "> 0"))?)
            }
            &RawDistribution::Weibull { shape, scale } => {
                check("weibull", "shape", shape, shape > 0.0, "> 0")?;
                check("weibull", "scale", scale, scale > 0.0, "> 0")?;
                let weibull = rand_distr::Weibull::new(scale, shape);
                Sampler::Weibull(weibull.map_err(refused("weibull", "shape", shape, "> 0"))?)
            }
            &RawDistribution::ShiftedExponential { shift, rate } => {
                check("shifted_exponential", "shift", shift, shift >= 0.0, ">= 0")?;
                check("shifted_exponential", "rate", rate, rate > 0.0, "> 0")?;
                let exp = rand_distr::Exp::new(rate).map_err(refused(
                    "shifted_exponential",
                    "rate",
                    rate,
                    "> 0",
                ))?;
                Sampler::ShiftedExponential(shift, exp)
            }
            RawDistribution::Empirical { values } => empirical(values)?,
            RawDistribution::QuantileTable { points } => {
                validate_table(points)?;
                Sampler::Table(points.clone().into())
            }
            RawDistribution::Mixture { components } => mixture(components)?,
        };
        Ok(Distribution { raw, sampler })
    }

    /// Always `value` [s].
    pub fn constant(value: f64) -> Result<Self, ModelError> {
        Distribution::new(RawDistribution::Constant { value })
    }

    /// The serde form.
    pub fn raw(&self) -> &RawDistribution {
        &self.raw
    }

    /// The family's name as written in files.
    pub fn family(&self) -> &'static str {
        match self.raw {
            RawDistribution::Constant { .. } => "constant",
            RawDistribution::Uniform { .. } => "uniform",
            RawDistribution::Normal { .. } => "normal",
            RawDistribution::Lognormal { .. } => "lognormal",
            RawDistribution::Gamma { .. } => "gamma",
            RawDistribution::Weibull { .. } => "weibull",
            RawDistribution::ShiftedExponential { .. } => "shifted_exponential",
            RawDistribution::Empirical { .. } => "empirical",
            RawDistribution::QuantileTable { .. } => "quantile_table",
            RawDistribution::Mixture { .. } => "mixture",
        }
    }

    /// Draws one value. Always inlined: the simulator draws an invocation's values in one loop,
    /// where a call per draw cost it 5 % of its time.
    #[inline(always)]
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        match &self.sampler {
            Sampler::Constant(v) => *v,
            Sampler::Uniform(lo, hi) => lo + (hi - lo) * rng.random::<f64>(),
            Sampler::Normal(n) => {
                // Redraw below zero; validation keeps the acceptance rate above 2 %.
                for _ in 0..10_000 {
                    let x = n.sample(rng);
                    if x >= 0.0 {
                        return x;
                    }
                }
                0.0
            }
            Sampler::Lognormal(d) => d.sample(rng),
            Sampler::Gamma(d) => d.sample(rng),
            Sampler::Weibull(d) => d.sample(rng),
            Sampler::ShiftedExponential(shift, d) => shift + d.sample(rng),
            Sampler::Empirical(values) => values[rng.random_range(0..values.len())],
            Sampler::Table(points) => table_quantile(points, rng.random::<f64>()),
            Sampler::Mixture(components) => {
                let u: f64 = rng.random();
                let chosen = components
                    .iter()
                    .find(|(c, _)| u < *c)
                    .or(components.last());
                chosen.map_or(0.0, |(_, d)| d.sample(rng))
            }
        }
    }

    /// The mean [s].
    pub fn mean(&self) -> f64 {
        match &self.raw {
            &RawDistribution::Constant { value } => value,
            &RawDistribution::Uniform { low, high } => (low + high) / 2.0,
            &RawDistribution::Normal { mean, std } => {
                let alpha = -mean / std;
                let z = 1.0 - std_normal().cdf(alpha);
                mean + std * std_normal_pdf(alpha) / z
            }
            &RawDistribution::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            &RawDistribution::Gamma { shape, scale } => shape * scale,
            &RawDistribution::Weibull { shape, scale } => {
                scale * statrs::function::gamma::gamma(1.0 + 1.0 / shape)
            }
            &RawDistribution::ShiftedExponential { shift, rate } => shift + 1.0 / rate,
            RawDistribution::Empirical { values } => {
                values.iter().sum::<f64>() / values.len() as f64
            }
            RawDistribution::QuantileTable { points } => points
                .windows(2)
                .map(|w| (w[1][0] - w[0][0]) * (w[0][1] + w[1][1]) / 2.0)
                .sum(),
            RawDistribution::Mixture { components } => {
                let total: f64 = components.iter().map(|c| c.weight).sum();
                components
                    .iter()
                    .map(|c| c.weight * c.model.mean())
                    .sum::<f64>()
                    / total
            }
        }
    }

    /// The cumulative distribution function at `x`.
    pub fn cdf(&self, x: f64) -> f64 {
        match &self.raw {
            &RawDistribution::Constant { value } => f64::from(u8::from(x >= value)),
            &RawDistribution::Uniform { low, high } => {
                if x < low {
                    0.0
                } else if x >= high {
                    1.0
                } else {
                    (x - low) / (high - low)
                }
            }
            &RawDistribution::Normal { mean, std } => {
                if x < 0.0 {
                    return 0.0;
                }
                let n = std_normal();
                let below = n.cdf(-mean / std);
                (n.cdf((x - mean) / std) - below) / (1.0 - below)
            }
            &RawDistribution::Lognormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else if sigma == 0.0 {
                    f64::from(u8::from(x.ln() >= mu))
                } else {
                    std_normal().cdf((x.ln() - mu) / sigma)
                }
            }
            &RawDistribution::Gamma { shape, scale } => StatrsGamma::new(shape, 1.0 / scale)
                .map_or(f64::NAN, |g| if x <= 0.0 { 0.0 } else { g.cdf(x) }),
            &RawDistribution::Weibull { shape, scale } => {
                if x <= 0.0 {
                    0.0
                } else {
                    1.0 - (-(x / scale).powf(shape)).exp()
                }
            }
            &RawDistribution::ShiftedExponential { shift, rate } => {
                if x <= shift {
                    0.0
                } else {
                    1.0 - (-rate * (x - shift)).exp()
                }
            }
            RawDistribution::Empirical { values } => {
                values.iter().filter(|v| **v <= x).count() as f64 / values.len() as f64
            }
            RawDistribution::QuantileTable { points } => table_cdf(points, x),
            RawDistribution::Mixture { components } => {
                let total: f64 = components.iter().map(|c| c.weight).sum();
                components
                    .iter()
                    .map(|c| c.weight * c.model.cdf(x))
                    .sum::<f64>()
                    / total
            }
        }
    }

    /// The quantile at probability `p` (0–1) [s]; empirical values use [`quantile::sorted`].
    pub fn quantile(&self, p: f64) -> f64 {
        let p = p.clamp(0.0, 1.0);
        match (&self.raw, &self.sampler) {
            (&RawDistribution::Constant { value }, _) => value,
            (&RawDistribution::Uniform { low, high }, _) => low + p * (high - low),
            (&RawDistribution::Normal { mean, std }, _) => {
                let n = std_normal();
                let below = n.cdf(-mean / std);
                (mean + std * n.inverse_cdf(below + p * (1.0 - below))).max(0.0)
            }
            (&RawDistribution::Lognormal { mu, sigma }, _) => {
                (mu + sigma * std_normal().inverse_cdf(p)).exp()
            }
            (&RawDistribution::Gamma { shape, scale }, _) => {
                StatrsGamma::new(shape, 1.0 / scale).map_or(f64::NAN, |g| g.inverse_cdf(p))
            }
            (&RawDistribution::Weibull { shape, scale }, _) => {
                scale * (-(1.0 - p).ln()).powf(1.0 / shape)
            }
            (&RawDistribution::ShiftedExponential { shift, rate }, _) => {
                shift - (1.0 - p).ln() / rate
            }
            (_, Sampler::Empirical(sorted)) => quantile::sorted(sorted, p).unwrap_or(0.0),
            (_, Sampler::Table(points)) => table_quantile(points, p),
            _ => self.quantile_by_bisection(p),
        }
    }

    fn quantile_by_bisection(&self, p: f64) -> f64 {
        let mut hi = 1.0;
        while self.cdf(hi) < p && hi < 1e12 {
            hi *= 2.0;
        }
        let mut lo = 0.0;
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.cdf(mid) < p {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

fn std_normal() -> StatrsNormal {
    // Mean 0 and standard deviation 1 are always valid.
    StatrsNormal::standard()
}

fn std_normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

fn validate_table(points: &[[f64; 2]]) -> Result<(), ModelError> {
    let family = "quantile_table";
    if points.len() < 2 {
        return Err(bad_list(
            family,
            "points",
            "needs at least two [probability, value] points",
        ));
    }
    if points[0][0] != 0.0 || points[points.len() - 1][0] != 1.0 {
        return Err(bad_list(
            family,
            "points",
            "probabilities must start at 0 and end at 1",
        ));
    }
    for w in points.windows(2) {
        if w[1][0].partial_cmp(&w[0][0]) != Some(std::cmp::Ordering::Greater) {
            return Err(bad_list(
                family,
                "points",
                format!("probability {} does not increase past {}", w[1][0], w[0][0]),
            ));
        }
        if w[1][1]
            .partial_cmp(&w[0][1])
            .is_none_or(|o| o == std::cmp::Ordering::Less)
        {
            return Err(bad_list(
                family,
                "points",
                format!("value {} decreases after {}", w[1][1], w[0][1]),
            ));
        }
    }
    if let Some(p) = points.iter().find(|p| !(p[1].is_finite() && p[1] >= 0.0)) {
        return Err(bad_list(
            family,
            "points",
            format!("value {} is not a finite value >= 0", p[1]),
        ));
    }
    Ok(())
}

fn table_quantile(points: &[[f64; 2]], p: f64) -> f64 {
    let i = points
        .partition_point(|q| q[0] <= p)
        .clamp(1, points.len() - 1);
    let ([p0, v0], [p1, v1]) = (points[i - 1], points[i]);
    v0 + (p - p0) / (p1 - p0) * (v1 - v0)
}

fn table_cdf(points: &[[f64; 2]], x: f64) -> f64 {
    if x < points[0][1] {
        return 0.0;
    }
    // The last point whose value is <= x, then interpolate towards the next.
    let i = points.partition_point(|q| q[1] <= x);
    if i >= points.len() {
        return 1.0;
    }
    let ([p0, v0], [p1, v1]) = (points[i - 1], points[i]);
    p0 + (x - v0) / (v1 - v0) * (p1 - p0)
}
