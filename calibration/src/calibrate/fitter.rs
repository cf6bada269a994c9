//! Fitting one component: a fixed distribution, or `a + b·bytes`, with its report.

use faastwin_models::{Distribution, SizeModel};
use faastwin_sim::StageSpec;

use super::ComponentFit;
use crate::CalibrationError;
use crate::fit::{FLOOR_S, fit, fit_with_floor};
use crate::runs::Run;

/// Fits components of one platform and keeps a report of each.
pub(super) struct Fitter<'a> {
    /// The platform's name in the calibration (for errors).
    pub(super) platform: &'a str,
    /// The runs it is fitted to.
    pub(super) runs: &'a [&'a Run],
    /// What was fitted so far.
    pub(super) components: Vec<ComponentFit>,
}

impl Fitter<'_> {
    pub(super) fn what(&self, component: &str) -> String {
        format!(
            "platform {}, component {component} (runs {})",
            self.platform,
            self.runs
                .iter()
                .map(|r| r.dir.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// Fits a fixed (size-independent) component; `None` when no run has values for it.
    pub(super) fn fixed(
        &mut self,
        component: &str,
        values: Vec<f64>,
        method: &str,
    ) -> Result<Option<Distribution>, CalibrationError> {
        if values.is_empty() {
            return Ok(None);
        }
        let report = fit(&values, &self.what(component))?;
        let model = report.model.clone();
        self.components.push(ComponentFit {
            component: component.to_owned(),
            rows: values.len(),
            fit: report,
            intercept_s: None,
            bytes_range: None,
            method: method.to_owned(),
        });
        Ok(Some(model))
    }

    /// Fits `latency + per_byte · bytes` to (bytes, seconds) pairs.
    pub(super) fn sized(
        &mut self,
        component: &str,
        pairs: Vec<(f64, f64)>,
        scale: f64,
        method: &str,
    ) -> Result<Option<SizeModel>, CalibrationError> {
        if pairs.is_empty() {
            return Ok(None);
        }
        let pairs: Vec<(f64, f64)> = pairs
            .into_iter()
            .map(|(x, y)| (x.max(1.0), y * scale))
            .collect();
        let (min, max) = pairs.iter().fold((f64::MAX, 0.0f64), |(lo, hi), (x, _)| {
            (lo.min(*x), hi.max(*x))
        });
        let (intercept, how) = if max / min >= 1.5 {
            let n = pairs.len() as f64;
            let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
            let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
            let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
            let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
            let slope = sxy / sxx;
            let a = my - slope * mx;
            if slope > 0.0 && a > 0.0 {
                (
                    a,
                    format!(
                        "least squares over {:.0}-{:.0} bytes: {a:.3e} s + slope per byte",
                        min, max
                    ),
                )
            } else {
                (
                    0.0,
                    format!(
                        "least squares over {:.0}-{:.0} bytes gave no positive intercept: proportional to bytes",
                        min, max
                    ),
                )
            }
        } else {
            (
                0.0,
                format!(
                    "one input size ({:.0} bytes): assumed proportional to bytes; extrapolation far from it is unsupported",
                    min
                ),
            )
        };
        // A clock resolves a microsecond at best: no invocation costs less than that.
        let per_byte: Vec<f64> = pairs
            .iter()
            .map(|(x, y)| ((y - intercept) / x).max(FLOOR_S / x))
            .collect();
        let report = fit_with_floor(&per_byte, &self.what(component), f64::MIN_POSITIVE)?;
        let model = SizeModel {
            latency: (intercept > 0.0)
                .then(|| Distribution::constant(intercept))
                .transpose()
                .map_err(|e| CalibrationError::Model {
                    what: self.what(component),
                    source: e,
                })?,
            per_byte: Some(report.model.clone()),
        };
        self.components.push(ComponentFit {
            component: component.to_owned(),
            rows: pairs.len(),
            fit: report,
            intercept_s: Some(intercept),
            bytes_range: Some((min as u64, max as u64)),
            method: format!("{how}; {method}"),
        });
        Ok(Some(model))
    }
}

/// A stage that is work on the node's cores, or else a pure delay.
pub(super) fn stage(model: SizeModel, on_cores: bool) -> StageSpec {
    if on_cores {
        StageSpec {
            work: Some(model),
            resource: Some("cores".into()),
            ..StageSpec::default()
        }
    } else {
        StageSpec {
            delay: Some(model),
            ..StageSpec::default()
        }
    }
}

/// The factor that turns a duration measured with more bodies per node than cores into the
/// service time on one core (processor sharing stretched it by bodies / cores).
pub(super) fn scale_of(runs: &[&&Run], cpus: Option<u32>) -> f64 {
    let busiest = runs.iter().map(|r| r.bodies_per_node()).max().unwrap_or(1);
    match cpus {
        Some(c) if busiest > c => f64::from(c) / f64::from(busiest),
        _ => 1.0,
    }
}

/// Values of one component, each scaled to a service time by its run's contention.
pub(super) fn contention_scaled(
    warm: &[&faastwin_measure::InvocationRecord],
    runs: &[&Run],
    get: impl Fn(&faastwin_measure::InvocationRecord) -> Option<f64>,
) -> Vec<f64> {
    let cpus = runs.first().and_then(|r| r.meta.platform.cpus_per_node);
    let scale = scale_of(&runs.iter().collect::<Vec<_>>(), cpus);
    warm.iter()
        .filter_map(|r| get(r))
        .filter(|v| *v >= 0.0)
        .map(|v| v * scale)
        .collect()
}

pub(super) fn delay(model: Option<Distribution>) -> Option<StageSpec> {
    model.map(|d| stage(SizeModel::fixed(d), false))
}
