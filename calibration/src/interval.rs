//! How far to trust a prediction: the simulation's own variation over replications, the
//! calibration's (refits on bootstrap resamples of its runs) and the platform's run to run
//! (measured in the calibration's runs, kept in its provenance), combined into a prediction
//! interval; and a warning where a prediction extrapolates beyond the calibrated loads.

use std::collections::BTreeMap;

use faastwin_models::{PlatformKind, Rng, quantile, rng_from_seed, splitmix64};
use faastwin_sim::Calibration;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::runs::Run;
use crate::{CalibrationError, PlatformFit};

/// Key of the calibrated loads in a platform's provenance.
const LOADS: &str = "in_flight_per_node";

/// The least and the most invocations in flight per node among `runs` (closed loop; `None`
/// when every run was open loop).
pub(crate) fn load_range(runs: &[&Run]) -> Option<(u32, u32)> {
    let loads: Vec<u32> = runs.iter().filter_map(|r| r.in_flight_per_node()).collect();
    Some((*loads.iter().min()?, *loads.iter().max()?))
}

/// The provenance entry of `load_range`.
pub(crate) fn loads_toml((lo, hi): (u32, u32)) -> toml::Value {
    toml::Value::Array(vec![i64::from(lo).into(), i64::from(hi).into()])
}

/// Why a prediction of `run` may not hold: it has more than twice as many invocations in
/// flight per node as any run platform `name` was calibrated on (as the calibration's
/// provenance says), where held-out checks miss most; `None` otherwise or when unknown.
pub fn extrapolation(calibration: &Calibration, name: &str, run: &Run) -> Option<String> {
    let calibrated = calibration
        .provenance
        .get(name)?
        .get(LOADS)?
        .as_array()?
        .get(1)?
        .as_integer()?;
    let load = i64::from(run.in_flight_per_node()?);
    (load > 2 * calibrated).then(|| {
        format!(
            "{load} invocations in flight per node, more than twice the most the calibration's runs had ({calibrated}): the prediction extrapolates the model beyond its measured loads"
        )
    })
}

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

/// [`crate::calibrate`], then every platform fitted again `refits` times, each time on a
/// bootstrap resample of the runs (every run's repetitions drawn with replacement, seeded from
/// `seed` and the refit), kept in the calibration's `refits`: how much the fit itself could
/// differ, for prediction intervals. A run of one repetition is the same in every resample.
/// `progress` is called after each refit.
pub fn calibrate_with_refits(
    runs: &[Run],
    names: &BTreeMap<PlatformKind, String>,
    refits: u32,
    seed: u64,
    progress: &dyn Fn(u32),
) -> Result<(Calibration, Vec<PlatformFit>), CalibrationError> {
    let (mut calibration, fits) = crate::calibrate(runs, names)?;
    for k in 0..refits {
        let resampled: Vec<Run> = runs
            .iter()
            .enumerate()
            .map(|(i, run)| {
                let mut rng =
                    rng_from_seed(splitmix64(seed) ^ splitmix64(u64::from(k) << 32 | i as u64));
                resample(run, &mut rng)
            })
            .collect();
        let (refit, _) = crate::calibrate(&resampled, names).map_err(|e| {
            CalibrationError::Options(format!(
                "refit {} of {refits} (a bootstrap resample of the runs' repetitions): {e}",
                k + 1
            ))
        })?;
        for (name, spec) in refit.platforms {
            calibration.refits.entry(name).or_default().push(spec);
        }
        progress(k + 1);
    }
    Ok((calibration, fits))
}

/// `run` with its repetitions drawn with replacement: as many as it had, each a copy of a
/// measured one (all its rows, warm-ups included) numbered anew.
fn resample(run: &Run, rng: &mut Rng) -> Run {
    let mut reps: Vec<u32> = run.records.iter().map(|r| r.repetition).collect();
    reps.sort_unstable();
    reps.dedup();
    if reps.len() < 2 {
        return run.clone();
    }
    let mut records = Vec::with_capacity(run.records.len());
    for j in 0..reps.len() {
        let pick = reps[rng.random_range(0..reps.len())];
        records.extend(
            run.records
                .iter()
                .filter(|r| r.repetition == pick)
                .cloned()
                .map(|mut r| {
                    r.repetition = j as u32;
                    r
                }),
        );
    }
    Run {
        dir: run.dir.clone(),
        meta: run.meta.clone(),
        records,
    }
}

/// A prediction interval, and where its width comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictionInterval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// The share of the predicted variance from each of [`SOURCES`]: the simulation's own
    /// variation over replications, the calibration's (the spread of its refits), the
    /// platform's run to run.
    pub sources: [f64; 3],
}

/// What a prediction's variance comes from, in the order of [`PredictionInterval::sources`].
pub const SOURCES: [&str; 3] = [
    "the simulation's replications",
    "the calibration's refits",
    "the platform's run-to-run variation",
];

impl PredictionInterval {
    /// The interval at `level` (0.9: from the 5th to the 95th percentile) of a quantity
    /// simulated in `groups` (one group of replications per refit of the calibration, or one
    /// group without refits) whose run-to-run ratios are `ratios`: every simulated value times
    /// every ratio (the two independent), or the values alone without ratios. `None` without
    /// simulated values.
    pub fn of(groups: &[Vec<f64>], ratios: &[f64], level: f64) -> Option<PredictionInterval> {
        let simulated: Vec<f64> = groups.iter().flatten().copied().collect();
        let values: Vec<f64> = if ratios.is_empty() {
            simulated.clone()
        } else {
            simulated
                .iter()
                .flat_map(|s| ratios.iter().map(move |r| s * r))
                .collect()
        };
        let tail = (1.0 - level) / 2.0;
        let (low, high) = (
            quantile::of(&values, tail)?,
            quantile::of(&values, 1.0 - tail)?,
        );
        Some(PredictionInterval {
            low,
            high,
            sources: sources(groups, &simulated, ratios),
        })
    }

    /// The source most of the variance comes from.
    pub fn dominant(&self) -> &'static str {
        let (i, _) =
            self.sources
                .iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (i, s)| {
                    if *s > best.1 { (i, *s) } else { best }
                });
        SOURCES[i]
    }
}

/// The shares of the variance: within groups (the simulation), between group means beyond
/// what the simulation alone would give them (the calibration), and the ratios' variance at
/// the mean (the platform).
fn sources(groups: &[Vec<f64>], simulated: &[f64], ratios: &[f64]) -> [f64; 3] {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let variance = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64
    };
    let within: Vec<f64> = groups
        .iter()
        .filter(|g| g.len() > 1)
        .map(|g| variance(g))
        .collect();
    let v_sim = mean(&within);
    let v_cal = if groups.len() > 1 {
        let means: Vec<f64> = groups.iter().map(|g| mean(g)).collect();
        let size = mean(&groups.iter().map(|g| g.len() as f64).collect::<Vec<_>>());
        (variance(&means) - v_sim / size.max(1.0)).max(0.0)
    } else {
        0.0
    };
    let v_run = if ratios.len() > 1 {
        variance(ratios) * mean(simulated).powi(2)
    } else {
        0.0
    };
    let total = v_sim + v_cal + v_run;
    if total > 0.0 {
        [v_sim / total, v_cal / total, v_run / total]
    } else {
        [1.0, 0.0, 0.0]
    }
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
    /// The coverage of `checks`: each an interval (low, high), its prediction and the
    /// measured values.
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

    /// A resample has as many repetitions as the run, numbered anew, each a whole measured
    /// repetition; some resamples repeat one.
    #[test]
    fn a_resample_draws_whole_repetitions_with_replacement() {
        let run = crate::runs::kept("local-6/run-A-small");
        let latencies = |r: &Run, rep: u32| -> Vec<Option<f64>> {
            r.records
                .iter()
                .filter(|x| x.repetition == rep)
                .map(|x| x.e2e_s)
                .collect()
        };
        let measured: Vec<_> = (0..3).map(|rep| latencies(&run, rep)).collect();
        let mut repeated = 0;
        for seed in 0..12 {
            let resampled = resample(&run, &mut rng_from_seed(seed));
            assert_eq!(resampled.records.len(), run.records.len());
            let drawn: Vec<_> = (0..3).map(|rep| latencies(&resampled, rep)).collect();
            for d in &drawn {
                assert!(measured.contains(d), "a repetition that was not measured");
            }
            repeated +=
                usize::from(drawn[0] == drawn[1] || drawn[1] == drawn[2] || drawn[0] == drawn[2]);
        }
        assert!(repeated > 0, "no resample drew a repetition twice");
    }

    /// The interval holds the replications' spread, widens with the platform's run-to-run
    /// variation and with refits that disagree, narrows with the level, and names what its
    /// width comes from.
    #[test]
    fn an_interval_combines_replications_refits_and_run_to_run_variation() {
        let simulated: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i) * 0.1).collect();
        let alone = PredictionInterval::of(std::slice::from_ref(&simulated), &[], 0.9).unwrap();
        assert!(alone.low > 100.0 && alone.high < 102.0, "{alone:?}");
        assert_eq!(alone.sources, [1.0, 0.0, 0.0]);
        let ratios = [0.9, 0.95, 1.0, 1.0, 1.05, 1.1];
        let wide = PredictionInterval::of(std::slice::from_ref(&simulated), &ratios, 0.9).unwrap();
        assert!(wide.low < 92.0 && wide.high > 108.0, "{wide:?}");
        assert_eq!(wide.dominant(), SOURCES[2]);
        let narrow =
            PredictionInterval::of(std::slice::from_ref(&simulated), &ratios, 0.5).unwrap();
        assert!(narrow.low > wide.low && narrow.high < wide.high);
        // Refits 20 % apart: the calibration dominates.
        let refits: Vec<Vec<f64>> = [0.8, 1.0, 1.2]
            .iter()
            .map(|f| simulated.iter().map(|s| s * f).collect())
            .collect();
        let refitted = PredictionInterval::of(&refits, &ratios, 0.9).unwrap();
        assert!(refitted.low < 80.0 && refitted.high > 115.0, "{refitted:?}");
        assert_eq!(refitted.dominant(), SOURCES[1]);
        assert!((refitted.sources.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(PredictionInterval::of(&[], &ratios, 0.9), None);
        // Without repetitions and refits, the replications alone (type 7).
        let bare = PredictionInterval::of(&[vec![1.0, 2.0, 3.0]], &[], 0.5).unwrap();
        assert_eq!((bare.low, bare.high), (1.5, 2.5));
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
