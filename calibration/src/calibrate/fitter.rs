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
    /// What the user should know about the fit before trusting its predictions.
    pub(super) warnings: Vec<String>,
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
            Shape::Fixed { z } => {
                // The durations do not grow with the size: one distribution of them.
                let ys: Vec<f64> = pairs.iter().map(|p| p.1).collect();
                let report = fit(&ys, &self.what(component))?;
                let model = SizeModel::fixed(report.model.clone());
                let how = format!(
                    "{min:.0}-{max:.0} bytes: durations do not grow with size (rank test z = {z:.1} < {SIGNIFICANT_Z}): fixed"
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
                    "{min:.0}-{max:.0} bytes: {intercept:.3e} s + {slope:.3e} s per byte through each size's median; the fixed part dominates and carries the scatter"
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

/// Durations that grow with size by this many standard scores (of the rank test in
/// [`growth_z`]) have a cost per byte; below, the growth is noise.
const SIGNIFICANT_Z: f64 = 3.0;

/// How a component's durations depend on its input size.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// Not at all: the growth with size is not significant (its standard score).
    Fixed { z: f64 },
    /// A fixed part that dominates the mean and carries the scatter, plus a constant cost
    /// per byte.
    Additive { intercept: f64, slope: f64 },
    /// A constant intercept (0: none) and a scattered cost per byte.
    PerByte { intercept: f64 },
}

/// Where a component's cost and scatter belong, from (bytes, seconds) pairs of several sizes.
///
/// Whether the durations grow with size is a rank test: on the Kubernetes, KSI and container
/// runs of `docs/loops`, a stage's durations have a heavy tail of interference (a mean 2–5
/// times the median), which hid the growth of reads and parses from a least-squares slope's
/// t statistic (their predicted 8 MB bodies came out a third of the measured). The bulk of the
/// rows, the line through each size's median, decides which part dominates: when its fixed
/// part is at least its per-byte part at the mean size (a small write), the fixed part carries
/// the scatter and the per-byte cost is the medians' slope; else (reads and parses) the cost
/// per byte is scattered, around the least-squares intercept. (Tried on the same loops: every
/// significant stage additive, or the intercept lowered to the least duration, or taken from
/// the medians: each predicted the 8 MB bodies or the 8-partition makespans worse.)
fn line_shape(pairs: &[(f64, f64)]) -> Shape {
    let z = growth_z(pairs);
    if z.is_nan() || z < SIGNIFICANT_Z {
        return Shape::Fixed { z };
    }
    let (intercept, _, mean_size) = least_squares(pairs);
    let medians: Vec<(f64, f64)> = size_groups(pairs)
        .into_iter()
        .map(|group| {
            let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = group.into_iter().unzip();
            (median(&mut xs), median(&mut ys))
        })
        .collect();
    let (bulk_intercept, bulk_slope, _) = least_squares(&medians);
    if bulk_intercept > 0.0 && bulk_intercept >= bulk_slope * mean_size {
        Shape::Additive {
            intercept: bulk_intercept,
            slope: bulk_slope.max(0.0),
        }
    } else {
        Shape::PerByte {
            intercept: intercept.max(0.0),
        }
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Intercept, slope and mean size of the least-squares line.
fn least_squares(pairs: &[(f64, f64)]) -> (f64, f64, f64) {
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    (my - slope * mx, slope, mx)
}

/// Pairs grouped by size, smallest first: a group holds sizes less than 1.25 times its
/// smallest (the shards of one configuration differ by bytes, not by factors).
fn size_groups(pairs: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|p, q| p.0.total_cmp(&q.0));
    let mut groups: Vec<Vec<(f64, f64)>> = Vec::new();
    for p in sorted {
        match groups.last_mut() {
            Some(g) if p.0 < 1.25 * g[0].0 => g.push(p),
            _ => groups.push(vec![p]),
        }
    }
    groups
}

/// How far durations grow with size, as a standard normal score: the Jonckheere–Terpstra
/// test of groups ordered by size (how many pairs across two groups have the longer duration
/// at the larger size, against half of them). It ranks, so a heavy tail of interference
/// cannot hide a growth that the bulk of the rows shows, nor fake one.
fn growth_z(pairs: &[(f64, f64)]) -> f64 {
    let groups = size_groups(pairs);
    let mut all: Vec<(f64, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, rows)| rows.iter().map(move |p| (p.1, g)))
        .collect();
    all.sort_by(|p, q| p.0.total_cmp(&q.0));
    let k = groups.len();
    let mut below = vec![0.0f64; k];
    let mut j = 0.0;
    let mut i = 0;
    while i < all.len() {
        let end = i + all[i..].iter().take_while(|p| p.0 == all[i].0).count();
        let mut tied = vec![0.0f64; k];
        for &(_, g) in &all[i..end] {
            j += below[..g].iter().sum::<f64>() + 0.5 * tied[..g].iter().sum::<f64>();
            tied[g] += 1.0;
        }
        for (b, t) in below.iter_mut().zip(&tied) {
            *b += t;
        }
        i = end;
    }
    let n = all.len() as f64;
    let sizes: Vec<f64> = groups.iter().map(|g| g.len() as f64).collect();
    let mean = (n * n - sizes.iter().map(|m| m * m).sum::<f64>()) / 4.0;
    let var = (n * n * (2.0 * n + 3.0)
        - sizes.iter().map(|m| m * m * (2.0 * m + 3.0)).sum::<f64>())
        / 72.0;
    (j - mean) / var.sqrt()
}

/// A stage that is work on the node's cores, or else a pure delay.
pub(super) fn stage(model: SizeModel, on_cores: bool) -> StageSpec {
    if on_cores {
        StageSpec {
            work: Some(model),
            resource: Some(faastwin_models::CORES.into()),
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
            warnings: Vec::new(),
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

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_two() {
        assert_eq!(median(&mut [5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 10.0]), 3.5);
        assert_eq!(median(&mut [2.0]), 2.0);
    }

    /// Sizes within 1.25 times a group's smallest are one group; groups come smallest first.
    #[test]
    fn sizes_are_grouped_by_factors_not_bytes() {
        let pairs = [
            (2.0e6, 1.0),
            (1.0e6, 2.0),
            (1.2e6, 3.0),
            (1.25e6, 4.0),
            (2.4e6, 5.0),
        ];
        let groups: Vec<Vec<f64>> = size_groups(&pairs)
            .into_iter()
            .map(|g| g.into_iter().map(|p| p.1).collect())
            .collect();
        assert_eq!(groups, vec![vec![2.0, 3.0], vec![4.0], vec![1.0, 5.0]]);
    }

    /// Ten rows at 1 MB (1..10 ms) and ten at 2 MB: the rank test counts the pairs across
    /// sizes in which the larger size took longer, 50 expected without growth, standard
    /// deviation √175. 90 such pairs (z = 3.02) keep a cost per byte, 89 (z = 2.95) do not.
    #[test]
    fn growth_is_kept_from_three_standard_scores_of_the_rank_test() {
        for (smallest, kept) in [(6.5, true), (5.7, false)] {
            let mut pairs: Vec<(f64, f64)> = (1..=10).map(|i| (1e6, f64::from(i) * 1e-3)).collect();
            // 2 MB: 6.5, 7.5, ... 15.5 ms (each above i + 5 of the 1 MB rows: 90 pairs).
            pairs.extend((1..=10).map(|i| (2e6, (f64::from(i) + 5.5) * 1e-3)));
            pairs[10].1 = smallest * 1e-3;
            let mut f = fitter(&[]);
            let model = f.sized("etl.write", pairs, 1.0, "").unwrap().unwrap();
            let method = &f.components[0].method;
            assert_eq!(model.per_byte.is_some(), kept, "{method}");
            if !kept {
                assert!(method.contains("(rank test z = 2.9 < 3)"), "{method}");
            }
        }
    }

    /// A read whose bulk grows with the size (1 ms per MB, ±5 %) while a tenth of the rows
    /// are 30 ms of interference at either size: a least-squares slope is lost in the tail
    /// (its t statistic under 3, the rule before the rank test), the ranks see the growth and
    /// the cost is per byte. A write whose bulk stays at 90 µs with the same tail is fixed.
    #[test]
    fn a_heavy_tail_neither_hides_growth_nor_fakes_it() {
        let rows = |x: f64, bulk: f64| -> Vec<(f64, f64)> {
            (0..40)
                .map(|i| {
                    let y = if i % 10 == 0 {
                        0.03
                    } else {
                        bulk * (1.0 + (f64::from(i % 5) - 2.0) * 0.025)
                    };
                    (x, y)
                })
                .collect()
        };
        let read: Vec<(f64, f64)> = [rows(1e6, 1e-3), rows(2e6, 2e-3)].concat();
        let (a, b, mx) = least_squares(&read);
        let sse: f64 = read.iter().map(|(x, y)| (y - a - b * x).powi(2)).sum();
        let sxx: f64 = read.iter().map(|(x, _)| (x - mx).powi(2)).sum();
        let t = b / (sse / (read.len() as f64 - 2.0) / sxx).sqrt();
        assert!(
            t < 1.0,
            "the tail hides the slope from least squares: t = {t}"
        );
        let mut f = fitter(&[]);
        let model = f.sized("etl.read", read, 1.0, "").unwrap().unwrap();
        assert!(
            f.components[0].method.contains("slope per byte"),
            "{}",
            f.components[0].method
        );
        assert!(model.mean(8e6) > 2.0 * model.mean(2e6));
        let write: Vec<(f64, f64)> = [rows(1e6, 90e-6), rows(2e6, 90e-6)].concat();
        let mut f = fitter(&[]);
        let model = f.sized("etl.write", write, 1.0, "").unwrap().unwrap();
        assert!(model.per_byte.is_none(), "{}", f.components[0].method);
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
                .contains("durations do not grow with size (rank test z = 0.0 < 3)"),
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
    fn contention_scales_bodies_by_cores_over_bodies_per_node() {
        let b1 = kept("local-1/run-B1-4-partitions");
        let a = kept("local-1/run-A-small");
        // Four bodies on two cores: half; two on two: as measured.
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
