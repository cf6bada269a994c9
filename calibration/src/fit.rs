//! Maximum-likelihood fits of latency samples, compared by AIC and checked with a
//! Kolmogorov–Smirnov test.

use faastwin_models::{Distribution, RawDistribution, quantile};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal as StatrsNormal};
use statrs::function::gamma::{digamma, ln_gamma};

use crate::CalibrationError;

/// Values below this are treated as this (1 µs): a log-scale family needs positive values and a
/// clock cannot resolve less anyway.
pub const FLOOR_S: f64 = 1e-6;

/// One candidate family's fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Family name.
    pub family: String,
    /// Akaike information criterion, 2k − 2 ln L (lower is better).
    pub aic: f64,
    /// KS statistic against the sample.
    pub ks_statistic: f64,
    /// KS p-value (asymptotic Kolmogorov distribution).
    pub ks_p_value: f64,
}

/// The chosen model of one component and how it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Sample size.
    pub n: usize,
    /// Chosen family (`empirical` when every parametric family is rejected).
    pub family: String,
    /// The chosen model.
    pub model: Distribution,
    /// Its AIC (NaN for empirical and constant).
    pub aic: f64,
    /// KS statistic of the chosen model.
    pub ks_statistic: f64,
    /// KS p-value of the chosen model.
    pub ks_p_value: f64,
    /// Every parametric candidate, best AIC first.
    pub candidates: Vec<Candidate>,
    /// Values raised to [`FLOOR_S`] before fitting.
    pub floored: usize,
    /// Why the chosen model is what it is, in a sentence.
    pub note: String,
}

/// Below this KS p-value the best parametric family is rejected in favour of the empirical
/// distribution.
pub const KS_REJECT: f64 = 0.01;

/// Fits every family to `values` [s] and picks one; `what` names the component and run in
/// errors. Values below [`FLOOR_S`] are raised to it.
pub fn fit(values: &[f64], what: &str) -> Result<FitReport, CalibrationError> {
    fit_with_floor(values, what, FLOOR_S)
}

/// [`fit`] with another floor (per-byte costs are far below a microsecond).
pub fn fit_with_floor(
    values: &[f64],
    what: &str,
    floor: f64,
) -> Result<FitReport, CalibrationError> {
    if values.len() < 2 {
        return Err(CalibrationError::TooFewValues {
            what: what.to_owned(),
            n: values.len(),
        });
    }
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(CalibrationError::BadValue {
            what: what.to_owned(),
            value: *bad,
        });
    }
    let floored = values.iter().filter(|v| **v < floor).count();
    let mut x: Vec<f64> = values.iter().map(|v| v.max(floor)).collect();
    x.sort_by(f64::total_cmp);
    let n = x.len();
    if x[0] == x[n - 1] {
        let model = Distribution::constant(x[0]).map_err(|e| CalibrationError::Model {
            what: what.to_owned(),
            source: e,
        })?;
        return Ok(FitReport {
            n,
            family: "constant".into(),
            model,
            aic: f64::NAN,
            ks_statistic: 0.0,
            ks_p_value: 1.0,
            candidates: Vec::new(),
            floored,
            note: "every value is the same".into(),
        });
    }
    let mut fits = parametric_fits(&x);
    fits.sort_by(|a, b| a.0.aic.total_cmp(&b.0.aic));
    let candidates: Vec<Candidate> = fits.iter().map(|(c, _)| c.clone()).collect();
    match fits.into_iter().next() {
        Some((best, model)) if best.ks_p_value >= KS_REJECT => Ok(FitReport {
            n,
            family: best.family.clone(),
            model,
            aic: best.aic,
            ks_statistic: best.ks_statistic,
            ks_p_value: best.ks_p_value,
            candidates,
            floored,
            note: format!("lowest AIC; KS p = {:.3}", best.ks_p_value),
        }),
        best => {
            let model = empirical(&x, what)?;
            let d = ks_statistic(&x, &model);
            Ok(FitReport {
                n,
                family: model.family().to_owned(),
                model,
                aic: f64::NAN,
                ks_statistic: d,
                ks_p_value: ks_p_value(d, n),
                candidates,
                floored,
                note: match best {
                    Some((b, _)) => format!(
                        "best parametric family ({}) rejected by KS (p = {:.2e})",
                        b.family, b.ks_p_value
                    ),
                    None => "no parametric family could be fitted".into(),
                },
            })
        }
    }
}

/// Every parametric family fitted to the sorted values `x` by maximum likelihood, with its AIC
/// and KS statistic (families whose fit fails or whose AIC is not finite are left out).
fn parametric_fits(x: &[f64]) -> Vec<(Candidate, Distribution)> {
    let n = x.len();
    [
        fit_lognormal(x),
        fit_gamma(x),
        fit_weibull(x),
        fit_normal(x),
        fit_shifted_exponential(x),
    ]
    .into_iter()
    .flatten()
    .filter_map(|(raw, k, ll)| {
        let family = family_name(&raw).to_owned();
        let model = Distribution::new(raw).ok()?;
        let d = ks_statistic(x, &model);
        let candidate = Candidate {
            family,
            aic: 2.0 * k - 2.0 * ll,
            ks_statistic: d,
            ks_p_value: ks_p_value(d, n),
        };
        candidate.aic.is_finite().then_some((candidate, model))
    })
    .collect()
}

fn family_name(raw: &RawDistribution) -> &'static str {
    match raw {
        RawDistribution::Lognormal { .. } => "lognormal",
        RawDistribution::Gamma { .. } => "gamma",
        RawDistribution::Weibull { .. } => "weibull",
        RawDistribution::Normal { .. } => "normal",
        RawDistribution::ShiftedExponential { .. } => "shifted_exponential",
        _ => "other",
    }
}

/// The empirical distribution; large samples are condensed to a 101-point quantile table so
/// calibration files stay readable.
fn empirical(sorted: &[f64], what: &str) -> Result<Distribution, CalibrationError> {
    let raw = if sorted.len() <= 200 {
        RawDistribution::Empirical {
            values: sorted.to_vec(),
        }
    } else {
        let points = (0..=100)
            .map(|i| {
                let p = f64::from(i) / 100.0;
                [p, quantile::sorted(sorted, p).unwrap_or(0.0)]
            })
            .collect();
        RawDistribution::QuantileTable { points }
    };
    Distribution::new(raw).map_err(|e| CalibrationError::Model {
        what: what.to_owned(),
        source: e,
    })
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// (raw parameters, number of parameters, log-likelihood)
type Fitted = Option<(RawDistribution, f64, f64)>;

fn fit_lognormal(x: &[f64]) -> Fitted {
    let logs: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let mu = mean(&logs);
    let sigma = (logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    if sigma <= 0.0 {
        return None;
    }
    let ll: f64 = logs
        .iter()
        .map(|l| {
            -l - sigma.ln()
                - 0.5 * (2.0 * std::f64::consts::PI).ln()
                - (l - mu).powi(2) / (2.0 * sigma * sigma)
        })
        .sum();
    Some((RawDistribution::Lognormal { mu, sigma }, 2.0, ll))
}

fn fit_normal(x: &[f64]) -> Fitted {
    let m = mean(x);
    let sd = (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    if sd <= 0.0 {
        return None;
    }
    // The model is truncated at zero (faastwin_models::Distribution): its density is the
    // normal's over the mass above zero.
    let above = 1.0 - StatrsNormal::standard().cdf(-m / sd);
    let ll: f64 = x
        .iter()
        .map(|v| {
            -sd.ln()
                - 0.5 * (2.0 * std::f64::consts::PI).ln()
                - (v - m).powi(2) / (2.0 * sd * sd)
                - above.ln()
        })
        .sum();
    Some((RawDistribution::Normal { mean: m, std: sd }, 2.0, ll))
}

/// Solves `f(k) = 0` for an `f` decreasing in `k` on (lo, hi) by bisection in log space.
fn bisect_decreasing(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> Option<f64> {
    if f(lo) < 0.0 || f(hi) > 0.0 {
        return None;
    }
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        if f(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some((lo * hi).sqrt())
}

fn fit_gamma(x: &[f64]) -> Fitted {
    let m = mean(x);
    let s = m.ln() - mean(&x.iter().map(|v| v.ln()).collect::<Vec<_>>());
    if s <= 0.0 {
        return None;
    }
    // MLE of the shape: ln k − ψ(k) = s, decreasing in k.
    let shape = bisect_decreasing(|k| k.ln() - digamma(k) - s, 1e-4, 1e7)?;
    let scale = m / shape;
    let ll: f64 = x
        .iter()
        .map(|v| (shape - 1.0) * v.ln() - v / scale - ln_gamma(shape) - shape * scale.ln())
        .sum();
    Some((RawDistribution::Gamma { shape, scale }, 2.0, ll))
}

fn fit_weibull(x: &[f64]) -> Fitted {
    let logs: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let mean_log = mean(&logs);
    // Normalise by the largest value so that x^k cannot overflow for large k.
    let top = x.iter().copied().fold(f64::MIN, f64::max);
    let y: Vec<f64> = x.iter().map(|v| v / top).collect();
    let ln_y: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    // MLE of the shape: Σ yᵏ ln y / Σ yᵏ − 1/k − mean(ln y) = 0, increasing in k.
    let mean_ln_y = mean_log - top.ln();
    let g = |k: f64| {
        let (num, den) = y.iter().zip(&ln_y).fold((0.0, 0.0), |(n, d), (v, l)| {
            let p = v.powf(k);
            (n + p * l, d + p)
        });
        -(num / den - 1.0 / k - mean_ln_y)
    };
    let shape = bisect_decreasing(g, 1e-3, 1e4)?;
    let scale =
        top * (y.iter().map(|v| v.powf(shape)).sum::<f64>() / x.len() as f64).powf(1.0 / shape);
    let ll: f64 = x
        .iter()
        .map(|v| shape.ln() - shape * scale.ln() + (shape - 1.0) * v.ln() - (v / scale).powf(shape))
        .sum();
    Some((RawDistribution::Weibull { shape, scale }, 2.0, ll))
}

fn fit_shifted_exponential(x: &[f64]) -> Fitted {
    let n = x.len() as f64;
    let min = x.iter().copied().fold(f64::MAX, f64::min);
    let excess = mean(x) - min;
    if excess <= 0.0 {
        return None;
    }
    // MLE with the usual bias correction of the shift (the sample minimum overshoots it).
    let shift = (min - excess / (n - 1.0)).max(0.0);
    let rate = 1.0 / (mean(x) - shift);
    let ll: f64 = x.iter().map(|v| rate.ln() - rate * (v - shift)).sum();
    Some((RawDistribution::ShiftedExponential { shift, rate }, 2.0, ll))
}

/// The Kolmogorov–Smirnov statistic of sorted values against a model.
pub fn ks_statistic(sorted: &[f64], model: &Distribution) -> f64 {
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = model.cdf(v);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

/// Two-sample KS statistic of two sorted samples.
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> f64 {
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let v = a[i].min(b[j]);
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// Asymptotic p-value of a one-sample KS statistic (Kolmogorov distribution with Stephens'
/// small-sample correction).
pub fn ks_p_value(d: f64, n: usize) -> f64 {
    let sqrt_n = (n as f64).sqrt();
    let lambda = (sqrt_n + 0.12 + 0.11 / sqrt_n) * d;
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let term = 2.0 * (-1.0f64).powi(j - 1) * (-2.0 * f64::from(j * j) * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-12 {
            break;
        }
    }
    sum.clamp(0.0, 1.0)
}

/// The parameters of a fitted family, by name, for tests and reports.
pub fn parameters(model: &Distribution) -> Vec<(&'static str, f64)> {
    match *model.raw() {
        RawDistribution::Lognormal { mu, sigma } => vec![("mu", mu), ("sigma", sigma)],
        RawDistribution::Gamma { shape, scale } => vec![("shape", shape), ("scale", scale)],
        RawDistribution::Weibull { shape, scale } => vec![("shape", shape), ("scale", scale)],
        RawDistribution::Normal { mean, std } => vec![("mean", mean), ("std", std)],
        RawDistribution::ShiftedExponential { shift, rate } => {
            vec![("shift", shift), ("rate", rate)]
        }
        RawDistribution::Constant { value } => vec![("value", value)],
        _ => Vec::new(),
    }
}

/// Fits one family only (tests, and users who want a given family).
pub fn fit_family(values: &[f64], family: &str) -> Option<Distribution> {
    let mut x: Vec<f64> = values.iter().map(|v| v.max(FLOOR_S)).collect();
    x.sort_by(f64::total_cmp);
    let fitted = match family {
        "lognormal" => fit_lognormal(&x),
        "gamma" => fit_gamma(&x),
        "weibull" => fit_weibull(&x),
        "normal" => fit_normal(&x),
        "shifted_exponential" => fit_shifted_exponential(&x),
        _ => None,
    };
    fitted.and_then(|(raw, _, _)| Distribution::new(raw).ok())
}

/// The report of a value chosen rather than fitted (a service time found by simulation).
pub fn constant_report(value: f64, what: &str) -> Result<FitReport, CalibrationError> {
    let model = Distribution::constant(value).map_err(|source| CalibrationError::Model {
        what: what.to_owned(),
        source,
    })?;
    Ok(chosen_report(model))
}

/// The report of a model chosen by simulation rather than fitted to values.
pub fn chosen_report(model: Distribution) -> FitReport {
    FitReport {
        n: 1,
        family: model.family().to_owned(),
        model,
        aic: f64::NAN,
        ks_statistic: 0.0,
        ks_p_value: 1.0,
        candidates: Vec::new(),
        floored: 0,
        note: "chosen by simulation, not fitted".into(),
    }
}
