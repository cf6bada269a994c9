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
            // A flat line (slope 0) is a fixed cost: the intercept, nothing per byte.
            if slope >= 0.0 && a > 0.0 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::kept;

    fn fitter<'a>(runs: &'a [&'a Run]) -> Fitter<'a> {
        Fitter {
            platform: "p",
            runs,
            components: Vec::new(),
        }
    }

    /// 20 rows at each size on the line `a + b·x`, the slope part jittered by ±1 % around it
    /// (each size's rows average to the line, so least squares finds it exactly).
    fn line(a: f64, b: f64, sizes: &[f64]) -> Vec<(f64, f64)> {
        sizes
            .iter()
            .flat_map(|&x| {
                (0..20).map(move |i| (x, a + b * x * (1.0 + (f64::from(i) - 9.5) / 950.0)))
            })
            .collect()
    }

    fn close(got: f64, want: f64, rel: f64) {
        assert!((got / want - 1.0).abs() < rel, "{got} against {want}");
    }

    #[test]
    fn sizes_far_apart_give_the_least_squares_intercept_and_slope() {
        let mut f = fitter(&[]);
        let pairs = line(0.01, 2e-9, &[1e6, 2e6, 4e6]);
        let model = f.sized("etl.read", pairs, 1.0, "m").unwrap().unwrap();
        let c = &f.components[0];
        assert_eq!((c.component.as_str(), c.rows), ("etl.read", 60));
        close(c.intercept_s.unwrap(), 0.01, 1e-9);
        assert_eq!(c.bytes_range, Some((1_000_000, 4_000_000)));
        assert_eq!(
            c.method,
            "least squares over 1000000-4000000 bytes: 1.000e-2 s + slope per byte; m"
        );
        close(model.latency.as_ref().unwrap().mean(), 0.01, 1e-9);
        close(model.per_byte.as_ref().unwrap().mean(), 2e-9, 2e-3);
        // Scaled to a service time, both parts shrink alike.
        let mut f = fitter(&[]);
        let model = f
            .sized("etl.read", line(0.01, 2e-9, &[1e6, 2e6, 4e6]), 0.5, "")
            .unwrap()
            .unwrap();
        close(model.latency.as_ref().unwrap().mean(), 0.005, 1e-9);
        close(model.per_byte.as_ref().unwrap().mean(), 1e-9, 2e-3);
    }

    #[test]
    fn sizes_less_than_half_apart_are_taken_as_one_size_proportional_to_bytes() {
        let mut f = fitter(&[]);
        let model = f
            .sized("relay.read", line(0.01, 2e-9, &[1e6, 1.49e6]), 1.0, "m")
            .unwrap()
            .unwrap();
        let c = &f.components[0];
        assert_eq!(c.intercept_s, Some(0.0));
        assert!(model.latency.is_none());
        assert!(
            c.method
                .starts_with("one input size (1000000 bytes): assumed proportional"),
            "{}",
            c.method
        );
        // Half apart exactly is two sizes.
        let mut f = fitter(&[]);
        f.sized("relay.read", line(0.01, 2e-9, &[1e6, 1.5e6]), 1.0, "")
            .unwrap();
        close(f.components[0].intercept_s.unwrap(), 0.01, 1e-9);
    }

    #[test]
    fn the_same_duration_at_every_size_is_a_fixed_cost() {
        let mut f = fitter(&[]);
        let pairs: Vec<(f64, f64)> = [1e6, 2e6, 4e6]
            .iter()
            .flat_map(|&x| [(x, 0.04); 5])
            .collect();
        let model = f.sized("relay.compute", pairs, 1.0, "").unwrap().unwrap();
        close(f.components[0].intercept_s.unwrap(), 0.04, 1e-9);
        // Nothing is left per byte but the clock's microsecond.
        close(model.mean(4e6), 0.04, 1e-3);
        close(model.mean(1e6), 0.04, 1e-3);
    }

    #[test]
    fn a_falling_line_or_a_negative_intercept_is_proportional_to_bytes() {
        for (a, b) in [(0.02, -2e-9), (-0.001, 2e-9)] {
            let mut f = fitter(&[]);
            let model = f
                .sized("etl.write", line(a, b, &[1e6, 2e6, 4e6]), 1.0, "")
                .unwrap()
                .unwrap();
            let c = &f.components[0];
            assert_eq!(c.intercept_s, Some(0.0), "{a} + {b}·x");
            assert!(model.latency.is_none());
            assert!(
                c.method.contains("gave no positive intercept"),
                "{}",
                c.method
            );
            // Each row's own seconds per byte, so the mean stays that of the rows.
            let rows = line(a, b, &[1e6, 2e6, 4e6]);
            let want = rows.iter().map(|(x, y)| y / x).sum::<f64>() / rows.len() as f64;
            close(model.per_byte.as_ref().unwrap().mean(), want, 0.02);
        }
    }

    #[test]
    fn a_zero_duration_costs_the_clocks_microsecond() {
        let mut f = fitter(&[]);
        let pairs = vec![(1e4, 0.0); 10];
        let model = f.sized("etl.write", pairs, 1.0, "").unwrap().unwrap();
        close(model.per_byte.as_ref().unwrap().mean() * 1e4, FLOOR_S, 1e-9);
        // Sizes under a byte count as one byte.
        let mut f = fitter(&[]);
        let model = f
            .sized("etl.write", vec![(0.0, 2e-3); 10], 1.0, "")
            .unwrap()
            .unwrap();
        close(model.per_byte.as_ref().unwrap().mean(), 2e-3, 1e-9);
    }

    #[test]
    fn no_values_fit_nothing_and_a_single_value_names_the_runs() {
        let (a, b) = (kept("local-1/run-A-small"), kept("local-1/run-A-double"));
        let runs = [&a, &b];
        let mut f = fitter(&runs);
        assert!(f.fixed("client_gap", Vec::new(), "").unwrap().is_none());
        assert!(
            f.sized("relay.read", Vec::new(), 1.0, "")
                .unwrap()
                .is_none()
        );
        assert!(f.components.is_empty());
        let err = f
            .fixed("client_gap", vec![0.1], "")
            .unwrap_err()
            .to_string();
        let want = format!(
            "platform p, component client_gap (runs {}, {})",
            a.dir.display(),
            b.dir.display()
        );
        assert!(err.contains(&want), "{err}");
        let d = f
            .fixed("client_gap", vec![0.1, 0.3], "why")
            .unwrap()
            .unwrap();
        close(d.mean(), 0.2, 0.2);
        assert_eq!(f.components[0].method, "why");
        assert_eq!(f.components[0].rows, 2);
    }

    #[test]
    fn contention_is_divided_out_of_values_and_negative_values_dropped() {
        let b1 = kept("local-1/run-B1-4-partitions");
        let a = kept("local-1/run-A-small");
        let warm: Vec<&faastwin_measure::InvocationRecord> = b1.warm().take(3).collect();
        let values = [0.4, -0.1, 0.2];
        let get = |r: &faastwin_measure::InvocationRecord| {
            let i = warm.iter().position(|w| std::ptr::eq(*w, r))?;
            Some(values[i])
        };
        // Four bodies on two cores: half; two on two: as measured.
        assert_eq!(contention_scaled(&warm, &[&b1], get), vec![0.2, 0.1]);
        assert_eq!(contention_scaled(&warm, &[&a], get), vec![0.4, 0.2]);
        assert_eq!(scale_of(&[&&b1, &&a], Some(2)), 0.5);
        assert_eq!(scale_of(&[&&b1], Some(4)), 1.0);
        assert_eq!(scale_of(&[&&b1], Some(8)), 1.0, "fewer bodies than cores");
        assert_eq!(scale_of(&[&&b1], Some(3)), 0.75);
        assert_eq!(scale_of(&[&&b1], None), 1.0);
    }

    #[test]
    fn a_stage_is_work_on_the_cores_or_a_delay() {
        let d = Distribution::constant(0.5).unwrap();
        let work = stage(SizeModel::fixed(d.clone()), true);
        assert_eq!(
            (
                work.work.is_some(),
                work.resource.as_deref(),
                work.delay.is_none()
            ),
            (true, Some("cores"), true)
        );
        let wait = stage(SizeModel::fixed(d.clone()), false);
        assert_eq!(
            (
                wait.work.is_none(),
                wait.resource.is_none(),
                wait.delay.as_ref().map(|m| m.mean(0.0))
            ),
            (true, true, Some(0.5))
        );
        assert!(delay(None).is_none());
        assert_eq!(delay(Some(d)), Some(wait));
    }
}
