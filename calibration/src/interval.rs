//! How far to trust a prediction: the platform's run-to-run variation, measured in the runs a
//! calibration came from and kept in its provenance, combined with the simulation's own
//! variation over replications into a prediction interval (issue 27, first part: the
//! calibration's own uncertainty, from refits on resampled runs, is not in it yet).

use faastwin_models::quantile;
use faastwin_sim::Calibration;
use serde::{Deserialize, Serialize};

use crate::runs::Run;

/// The level of prediction intervals unless asked otherwise.
pub const DEFAULT_LEVEL: f64 = 0.9;

/// Key of the run-to-run table in a platform's provenance.
const KEY: &str = "run_to_run";

/// The run-to-run variation of a platform: each measured repetition's warm makespan and p50
/// Job latency divided by the median over the repetitions of its run (one configuration), for
/// every run with two repetitions or more.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunToRun {
    /// Warm makespan of a repetition over its run's median.
    pub warm_makespan: Vec<f64>,
    /// p50 Job latency of a repetition over its run's median.
    pub p50_latency: Vec<f64>,
}

impl RunToRun {
    /// The ratios of `runs`' repetitions (runs of one repetition tell nothing and are left out).
    pub fn of(runs: &[&Run]) -> RunToRun {
        let mut out = RunToRun::default();
        for run in runs {
            let reps = faastwin_measure::summarise(&run.records, None);
            for (get, into) in [
                (
                    (|s: &faastwin_measure::RepetitionSummary| s.warm_makespan_s)
                        as fn(&faastwin_measure::RepetitionSummary) -> Option<f64>,
                    &mut out.warm_makespan,
                ),
                (|s| s.p50_latency_s, &mut out.p50_latency),
            ] {
                let values: Vec<f64> = reps.iter().filter_map(get).filter(|v| *v > 0.0).collect();
                if values.len() < 2 {
                    continue;
                }
                let median = quantile::of(&values, 0.5).unwrap_or(f64::NAN);
                into.extend(values.iter().map(|v| v / median));
            }
        }
        out
    }

    /// True when no run had two repetitions.
    pub fn is_empty(&self) -> bool {
        self.warm_makespan.is_empty() && self.p50_latency.is_empty()
    }

    /// The provenance entry: the ratios and how they were taken.
    pub(crate) fn to_toml(&self) -> toml::Value {
        let floats = |v: &[f64]| toml::Value::Array(v.iter().map(|x| (*x).into()).collect());
        let mut t = toml::Table::new();
        t.insert("warm_makespan".into(), floats(&self.warm_makespan));
        t.insert("p50_latency".into(), floats(&self.p50_latency));
        t.insert(
            "method".into(),
            "each repetition's warm makespan and p50 Job latency over the median of its run's repetitions (runs of two repetitions or more); prediction intervals multiply simulated replications by them".into(),
        );
        toml::Value::Table(t)
    }

    /// Platform `name`'s variation as `calibration`'s provenance keeps it (empty when it has
    /// none: a calibration from runs of one repetition, or an older file).
    pub fn from_calibration(calibration: &Calibration, name: &str) -> RunToRun {
        let floats = |key: &str| -> Vec<f64> {
            calibration
                .provenance
                .get(name)
                .and_then(|p| p.get(KEY))
                .and_then(|t| t.get(key))
                .and_then(toml::Value::as_array)
                .map(|a| a.iter().filter_map(toml::Value::as_float).collect())
                .unwrap_or_default()
        };
        RunToRun {
            warm_makespan: floats("warm_makespan"),
            p50_latency: floats("p50_latency"),
        }
    }
}

/// A prediction interval at `level` (0.9: from the 5th to the 95th percentile) of a quantity
/// whose simulated replications are `simulated` and whose run-to-run ratios are `ratios`:
/// every replication times every ratio (the two independent), or the replications alone
/// without ratios. `None` without replications.
pub fn prediction_interval(simulated: &[f64], ratios: &[f64], level: f64) -> Option<(f64, f64)> {
    let values: Vec<f64> = if ratios.is_empty() {
        simulated.to_vec()
    } else {
        simulated
            .iter()
            .flat_map(|s| ratios.iter().map(move |r| s * r))
            .collect()
    };
    let tail = (1.0 - level) / 2.0;
    Some((
        quantile::of(&values, tail)?,
        quantile::of(&values, 1.0 - tail)?,
    ))
}

/// Intervals checked against measurements: how many measured values lay inside their
/// interval, and the median width of the intervals relative to their prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    /// Measured values inside their interval.
    pub inside: usize,
    /// Measured values with an interval.
    pub total: usize,
    /// Median of (high − low) / prediction.
    pub median_width: f64,
}

impl Coverage {
    /// The coverage of `checks`: each an interval, its prediction and the measured values.
    pub fn of<'a>(checks: impl IntoIterator<Item = ((f64, f64), f64, &'a [f64])>) -> Coverage {
        let (mut inside, mut total, mut widths) = (0, 0, Vec::new());
        for ((low, high), predicted, measured) in checks {
            widths.push((high - low) / predicted);
            for m in measured {
                total += 1;
                inside += usize::from(low <= *m && *m <= high);
            }
        }
        Coverage {
            inside,
            total,
            median_width: quantile::of(&widths, 0.5).unwrap_or(f64::NAN),
        }
    }

    /// The share inside.
    pub fn share(&self) -> f64 {
        self.inside as f64 / self.total.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interval holds the replications' spread, widens with the platform's run-to-run
    /// variation, and narrows with the level.
    #[test]
    fn an_interval_combines_replications_and_run_to_run_variation() {
        let simulated: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i) * 0.1).collect();
        let alone = prediction_interval(&simulated, &[], 0.9).unwrap();
        assert!(alone.0 > 100.0 && alone.1 < 102.0, "{alone:?}");
        let ratios = [0.9, 0.95, 1.0, 1.0, 1.05, 1.1];
        let wide = prediction_interval(&simulated, &ratios, 0.9).unwrap();
        assert!(wide.0 < 92.0 && wide.1 > 108.0, "{wide:?}");
        let narrow = prediction_interval(&simulated, &ratios, 0.5).unwrap();
        assert!(
            narrow.0 > wide.0 && narrow.1 < wide.1,
            "{narrow:?} {wide:?}"
        );
        assert_eq!(prediction_interval(&[], &ratios, 0.9), None);
    }

    /// Coverage counts every measured value against its own interval; the width is relative.
    #[test]
    fn coverage_counts_measured_values_inside_their_interval() {
        let c = Coverage::of([
            ((90.0, 110.0), 100.0, &[95.0, 111.0][..]),
            ((9.0, 10.0), 10.0, &[9.5][..]),
        ]);
        assert_eq!((c.inside, c.total), (2, 3));
        assert!((c.median_width - 0.15).abs() < 1e-12, "{}", c.median_width);
        assert!((c.share() - 2.0 / 3.0).abs() < 1e-12);
    }
}
