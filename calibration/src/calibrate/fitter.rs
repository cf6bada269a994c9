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
        let shape = if max / min >= 1.5 {
            line_shape(&pairs)
        } else {
            Shape::PerByte { intercept: 0.0 }
        };
        let range = format!("least squares over {min:.0}-{max:.0} bytes");
        let (intercept, report, model, how) = match shape {
            Shape::Fixed { t } => {
                // The durations do not grow with the size: one distribution of them.
                let ys: Vec<f64> = pairs.iter().map(|p| p.1).collect();
                let report = fit(&ys, &self.what(component))?;
                let model = SizeModel::fixed(report.model.clone());
                let how = format!(
                    "{range}: durations do not grow with size (slope t = {t:.1} < {SIGNIFICANT_T}): fixed"
                );
                (None, report, model, how)
            }
            Shape::Additive { intercept, slope } => {
                // The fixed part dominates: the rows' scatter around the line is the fixed
                // part's, and the per-byte part is the line's slope.
                let fixed: Vec<f64> = pairs.iter().map(|(x, y)| y - slope * x).collect();
                let report = fit(&fixed, &self.what(component))?;
                let model = SizeModel {
                    latency: Some(report.model.clone()),
                    per_byte: Some(self.constant(component, slope)?),
                };
                let how = format!(
                    "{range}: {intercept:.3e} s + {slope:.3e} s per byte; the fixed part dominates and carries the scatter"
                );
                (Some(intercept), report, model, how)
            }
            Shape::PerByte { intercept } => {
                let how = if max / min < 1.5 {
                    format!(
                        "one input size ({min:.0} bytes): assumed proportional to bytes; extrapolation far from it is unsupported"
                    )
                } else if intercept > 0.0 {
                    format!("{range}: {intercept:.3e} s + slope per byte")
                } else {
                    format!("{range} gave no positive intercept: proportional to bytes")
                };
                // A clock resolves a microsecond at best: no invocation costs less than that.
                let per_byte: Vec<f64> = pairs
                    .iter()
                    .map(|(x, y)| ((y - intercept) / x).max(FLOOR_S / x))
                    .collect();
                let report = fit_with_floor(&per_byte, &self.what(component), f64::MIN_POSITIVE)?;
                let model = SizeModel {
                    latency: (intercept > 0.0)
                        .then(|| self.constant(component, intercept))
                        .transpose()?,
                    per_byte: Some(report.model.clone()),
                };
                (Some(intercept), report, model, how)
            }
        };
        self.components.push(ComponentFit {
            component: component.to_owned(),
            rows: pairs.len(),
            fit: report,
            intercept_s: intercept,
            bytes_range: Some((min as u64, max as u64)),
            method: format!("{how}; {method}"),
        });
        Ok(Some(model))
    }

    fn constant(&self, component: &str, value: f64) -> Result<Distribution, CalibrationError> {
        Distribution::constant(value).map_err(|e| CalibrationError::Model {
            what: self.what(component),
            source: e,
        })
    }
}

/// A slope this many standard errors above zero is a cost per byte; below, noise.
const SIGNIFICANT_T: f64 = 3.0;

/// How a component's durations depend on its input size.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// Not at all: the slope is not significantly above zero (its t statistic).
    Fixed { t: f64 },
    /// A fixed part that dominates the mean and carries the scatter, plus a constant cost
    /// per byte.
    Additive { intercept: f64, slope: f64 },
    /// A constant intercept (0: none) and a scattered cost per byte.
    PerByte { intercept: f64 },
}

/// The least-squares line through (bytes, seconds) pairs of several sizes, and where its
/// scatter belongs.
fn line_shape(pairs: &[(f64, f64)]) -> Shape {
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let a = my - slope * mx;
    let sse: f64 = pairs.iter().map(|(x, y)| (y - a - slope * x).powi(2)).sum();
    // Standard error of the slope; an exact line has none.
    let se = if n > 2.0 {
        (sse / (n - 2.0) / sxx).sqrt()
    } else {
        0.0
    };
    let t = if se > 0.0 {
        slope / se
    } else if slope > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    if t.is_nan() || t < SIGNIFICANT_T {
        Shape::Fixed { t }
    } else if a > 0.0 && a >= slope * mx {
        Shape::Additive {
            intercept: a,
            slope,
        }
    } else if a > 0.0 {
        Shape::PerByte { intercept: a }
    } else {
        Shape::PerByte { intercept: 0.0 }
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
        // The per-byte part dominates (4.7 ms of 5.7 at the mean size) and carries the scatter.
        let mut f = fitter(&[]);
        let pairs = line(0.001, 2e-9, &[1e6, 2e6, 4e6]);
        let model = f.sized("etl.read", pairs, 1.0, "m").unwrap().unwrap();
        let c = &f.components[0];
        assert_eq!((c.component.as_str(), c.rows), ("etl.read", 60));
        close(c.intercept_s.unwrap(), 0.001, 1e-9);
        assert_eq!(c.bytes_range, Some((1_000_000, 4_000_000)));
        assert_eq!(
            c.method,
            "least squares over 1000000-4000000 bytes: 1.000e-3 s + slope per byte; m"
        );
        close(model.latency.as_ref().unwrap().mean(), 0.001, 1e-9);
        close(model.per_byte.as_ref().unwrap().mean(), 2e-9, 2e-3);
        // Scaled to a service time, both parts shrink alike.
        let mut f = fitter(&[]);
        let model = f
            .sized("etl.read", line(0.001, 2e-9, &[1e6, 2e6, 4e6]), 0.5, "")
            .unwrap()
            .unwrap();
        close(model.latency.as_ref().unwrap().mean(), 0.0005, 1e-9);
        close(model.per_byte.as_ref().unwrap().mean(), 1e-9, 2e-3);
    }

    /// A small write: 86 µs fixed, 3 µs more per MB, rows scattered ±4 µs whatever the size.
    /// The scatter is the fixed part's; at 8 MB the model's mean stays on the line (spread
    /// per byte, the scatter would be multiplied by the size).
    #[test]
    fn a_fixed_part_that_dominates_carries_the_scatter() {
        let (a, b) = (86e-6, 3e-12);
        let pairs: Vec<(f64, f64)> = [1e6, 2e6]
            .iter()
            .flat_map(|&x| (0..40).map(move |i| (x, a + b * x + (f64::from(i % 5) - 2.0) * 2e-6)))
            .collect();
        let mut f = fitter(&[]);
        let model = f.sized("etl.write", pairs, 1.0, "").unwrap().unwrap();
        let c = &f.components[0];
        close(c.intercept_s.unwrap(), a, 1e-6);
        assert!(
            c.method
                .contains("the fixed part dominates and carries the scatter"),
            "{}",
            c.method
        );
        let per_byte = model.per_byte.as_ref().unwrap();
        assert_eq!(
            per_byte.quantile(0.01),
            per_byte.quantile(0.99),
            "a constant"
        );
        close(per_byte.mean(), b, 1e-9);
        close(model.latency.as_ref().unwrap().mean(), a, 0.01);
        for x in [1e6, 8e6] {
            close(model.mean(x), a + b * x, 0.01);
        }
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
        f.sized("relay.read", line(0.001, 2e-9, &[1e6, 1.5e6]), 1.0, "")
            .unwrap();
        close(f.components[0].intercept_s.unwrap(), 0.001, 1e-9);
        assert!(
            f.components[0].method.starts_with("least squares"),
            "{}",
            f.components[0].method
        );
    }

    /// The slope's t statistic uses n − 2 degrees of freedom: six rows (three at 1 MB, three
    /// at 2 MB, ±10 µs around 1 ms + a rise of `s`) at t = 3.2 keep the slope, at t = 2.8 not.
    #[test]
    fn the_slope_is_kept_from_three_standard_errors() {
        for (t, kept) in [(3.2, true), (2.8, false)] {
            let e = 1e-5;
            let rise = t * e / 1.5f64.sqrt();
            let pairs: Vec<(f64, f64)> = [(1e6, 0.0), (2e6, rise)]
                .iter()
                .flat_map(|&(x, r)| [-e, 0.0, e].map(|d| (x, 1e-3 + r + d)))
                .collect();
            let mut f = fitter(&[]);
            let model = f.sized("etl.write", pairs, 1.0, "").unwrap().unwrap();
            assert_eq!(
                model.per_byte.is_some(),
                kept,
                "t = {t}: {}",
                f.components[0].method
            );
        }
    }

    #[test]
    fn the_same_duration_at_every_size_is_a_fixed_cost() {
        let mut f = fitter(&[]);
        let pairs: Vec<(f64, f64)> = [1e6, 2e6, 4e6]
            .iter()
            .flat_map(|&x| [(x, 0.04); 5])
            .collect();
        let model = f.sized("relay.compute", pairs, 1.0, "").unwrap().unwrap();
        let c = &f.components[0];
        assert_eq!(c.intercept_s, None);
        assert!(
            c.method
                .contains("durations do not grow with size (slope t = 0.0 < 3)"),
            "{}",
            c.method
        );
        assert!(model.per_byte.is_none());
        close(model.mean(4e6), 0.04, 1e-9);
        close(model.mean(1e6), 0.04, 1e-9);
    }

    /// Durations that fall with the size, or rise less than their scatter explains, are one
    /// fixed distribution; a line through the origin's far side is proportional to bytes.
    #[test]
    fn a_falling_or_noisy_line_is_fixed_and_a_negative_intercept_proportional() {
        // Scatter ±20 µs around 86 µs + 3 µs per MB: the slope is 0.5 standard errors.
        let noisy: Vec<(f64, f64)> = [1e6, 2e6]
            .iter()
            .flat_map(|&x| {
                (0..20).map(move |i| (x, 86e-6 + 3e-12 * x + (f64::from(i % 5) - 2.0) * 1e-5))
            })
            .collect();
        for rows in [line(0.02, -2e-9, &[1e6, 2e6, 4e6]), noisy] {
            let mut f = fitter(&[]);
            let model = f
                .sized("etl.write", rows.clone(), 1.0, "")
                .unwrap()
                .unwrap();
            let c = &f.components[0];
            assert!(
                c.method.contains("durations do not grow with size"),
                "{}",
                c.method
            );
            assert!(model.per_byte.is_none());
            let want = rows.iter().map(|r| r.1).sum::<f64>() / rows.len() as f64;
            close(model.mean(8e6), want, 0.02);
        }
        let mut f = fitter(&[]);
        let model = f
            .sized("etl.write", line(-0.001, 2e-9, &[1e6, 2e6, 4e6]), 1.0, "")
            .unwrap()
            .unwrap();
        let c = &f.components[0];
        assert_eq!(c.intercept_s, Some(0.0));
        assert!(model.latency.is_none());
        assert!(
            c.method.contains("gave no positive intercept"),
            "{}",
            c.method
        );
        // Each row's own seconds per byte, so the mean stays that of the rows.
        let rows = line(-0.001, 2e-9, &[1e6, 2e6, 4e6]);
        let want = rows.iter().map(|(x, y)| y / x).sum::<f64>() / rows.len() as f64;
        close(model.per_byte.as_ref().unwrap().mean(), want, 0.02);
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
