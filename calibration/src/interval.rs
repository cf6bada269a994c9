//! How far to trust a prediction: the simulation's own variation over replications, the
//! calibration's (refits on bootstrap resamples of its runs) and the platform's run to run
//! (measured in the calibration's runs, kept in its provenance), combined into a prediction
//! interval; and a warning where a prediction extrapolates beyond the calibrated loads.

use std::collections::BTreeMap;

use faastwin_models::{PlatformKind, Rng, quantile, rng_from_seed, splitmix64};
use faastwin_sim::Calibration;
pub use faastwin_sim::interval::{DEFAULT_LEVEL, PredictionInterval, RunToRun, SOURCES};
use rand::Rng as _;

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

/// The run-to-run variation of a platform: each measured repetition's warm makespan and p50,
/// p95, p99 Job latency divided by the median over the repetitions of its run (one
/// configuration), for every run with two repetitions or more (runs of one repetition tell
/// nothing and are left out).
pub fn run_to_run(runs: &[&Run]) -> RunToRun {
    type Get = fn(&faastwin_measure::RepetitionSummary) -> Option<f64>;
    let mut out = RunToRun::default();
    for run in runs {
        let reps = faastwin_measure::summarise(&run.records, None);
        let metrics: [(Get, &mut Vec<f64>); 4] = [
            (|s| s.warm_makespan_s, &mut out.warm_makespan),
            (|s| s.p50_latency_s, &mut out.p50_latency),
            (|s| s.p95_latency_s, &mut out.p95_latency),
            (|s| s.p99_latency_s, &mut out.p99_latency),
        ];
        for (get, into) in metrics {
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

/// The provenance entry of [`run_to_run`]: the ratios and how they were taken.
pub(crate) fn run_to_run_toml(ratios: &RunToRun) -> toml::Value {
    let floats = |v: &[f64]| toml::Value::Array(v.iter().map(|x| (*x).into()).collect());
    let mut t = toml::Table::new();
    t.insert("warm_makespan".into(), floats(&ratios.warm_makespan));
    t.insert("p50_latency".into(), floats(&ratios.p50_latency));
    t.insert("p95_latency".into(), floats(&ratios.p95_latency));
    t.insert("p99_latency".into(), floats(&ratios.p99_latency));
    t.insert(
        "method".into(),
        "each repetition's warm makespan and p50/p95/p99 Job latency over the median of its run's repetitions (runs of two repetitions or more); prediction intervals multiply simulated replications by them".into(),
    );
    toml::Value::Table(t)
}

/// Adds the model's error on held-out runs to `calibration`'s provenance: from `validate
/// --format csv` files (`files`: (path, text)), measured over predicted of each row of a
/// platform the calibration has, for the warm makespan and the p50, p95 and p99 Job latency,
/// kept as `[provenance.NAME.model_error]` (prediction intervals multiply by these ratios, so
/// they hold how far the model missed where it was checked). Returns the warm-makespan ratios
/// kept per platform. An error names the file and line.
pub fn add_model_error(
    calibration: &mut Calibration,
    files: &[(String, String)],
) -> Result<BTreeMap<String, usize>, CalibrationError> {
    const METRICS: [(&str, &str); 4] = [
        ("warm_makespan_s", "warm_makespan"),
        ("p50_latency_s", "p50_latency"),
        ("p95_latency_s", "p95_latency"),
        ("p99_latency_s", "p99_latency"),
    ];
    let mut ratios: BTreeMap<String, BTreeMap<&str, Vec<f64>>> = BTreeMap::new();
    for (path, text) in files {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let bad = |line: u64, what: String| {
            CalibrationError::Options(format!("{path}, line {line}: {what}"))
        };
        let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
        let column = |name: &str| {
            headers.iter().position(|h| h == name).ok_or_else(|| {
                bad(
                    1,
                    format!("no `{name}` column: not a `faastwin validate --format csv` file"),
                )
            })
        };
        let (platform, metric, measured, predicted) = (
            column("platform")?,
            column("metric")?,
            column("measured")?,
            column("predicted")?,
        );
        for record in reader.records() {
            let record = record.map_err(|e| bad(0, e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            let Some((_, key)) = METRICS.iter().find(|(m, _)| Some(*m) == record.get(metric))
            else {
                continue;
            };
            let name = record.get(platform).unwrap_or_default();
            if !calibration.platforms.contains_key(name) {
                continue;
            }
            let number = |i: usize| -> Result<f64, CalibrationError> {
                let cell = record.get(i).unwrap_or_default();
                cell.parse::<f64>()
                    .map_err(|_| bad(line, format!("{cell:?} is not a number")))
            };
            let (m, p) = (number(measured)?, number(predicted)?);
            if m > 0.0 && p > 0.0 {
                ratios
                    .entry(name.to_owned())
                    .or_default()
                    .entry(key)
                    .or_default()
                    .push(m / p);
            }
        }
    }
    let mut kept = BTreeMap::new();
    for (name, by_metric) in ratios {
        let mut t = toml::Table::new();
        for (key, values) in &by_metric {
            t.insert(
                (*key).into(),
                toml::Value::Array(values.iter().map(|v| (*v).into()).collect()),
            );
        }
        t.insert(
            "method".into(),
            "measured over predicted on held-out runs (validate --format csv); prediction intervals multiply simulated replications by them".into(),
        );
        t.insert(
            "from".into(),
            toml::Value::Array(files.iter().map(|(p, _)| p.clone().into()).collect()),
        );
        kept.insert(
            name.clone(),
            by_metric.get("warm_makespan").map_or(0, Vec::len),
        );
        let entry = calibration
            .provenance
            .entry(name)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let Some(table) = entry.as_table_mut() {
            table.insert(
                faastwin_sim::interval::MODEL_ERROR.into(),
                toml::Value::Table(t),
            );
        }
    }
    Ok(kept)
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
