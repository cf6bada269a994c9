//! How far to trust a prediction: prediction intervals that combine the simulation's own
//! variation (replications), the calibration's (its refits on bootstrap resamples of the
//! calibration runs, `faastwin calibrate --refits K`), the platform's run to run (the
//! calibration runs' repetitions, kept in the calibration's provenance) and, where the
//! calibration was given validations of held-out runs (`calibrate --model-error`), the model's
//! own error on them.
//!
//! `simulate`, `sweep` and `plan` compute them here from a calibration alone, so a scenario file
//! and its seed reproduce an interval; `validate` (in the calibration crate) checks them against
//! measured runs.

use faastwin_models::quantile;
use serde::{Deserialize, Serialize};

use crate::metrics::RunResult;
use crate::platform::Calibration;
use crate::replicate::replication_seed;

/// The level of prediction intervals unless asked otherwise.
pub const DEFAULT_LEVEL: f64 = 0.9;

/// Key of the run-to-run table in a platform's provenance.
pub const RUN_TO_RUN: &str = "run_to_run";

/// Key of the model's held-out error in a platform's provenance.
pub const MODEL_ERROR: &str = "model_error";

/// What a prediction's variance comes from, in the order of [`PredictionInterval::sources`].
pub const SOURCES: [&str; 4] = [
    "the simulation's replications",
    "the calibration's refits",
    "the platform's run-to-run variation",
    "the model's held-out error",
];

/// A prediction interval, and where its width comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictionInterval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// The share of the predicted variance from each of [`SOURCES`]: the simulation's own
    /// variation over replications, the calibration's (the spread of its refits), the
    /// platform's run to run, the model's held-out error (files written before the fourth
    /// source have three: the fourth reads as 0).
    #[serde(deserialize_with = "three_or_four")]
    pub sources: [f64; 4],
}

/// Reads [`PredictionInterval::sources`] of three shares or four.
fn three_or_four<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[f64; 4], D::Error> {
    let v = Vec::<f64>::deserialize(d)?;
    match v[..] {
        [a, b, c] => Ok([a, b, c, 0.0]),
        [a, b, c, m] => Ok([a, b, c, m]),
        _ => Err(serde::de::Error::custom(format!(
            "{} shares of the variance: expected 3 or 4",
            v.len()
        ))),
    }
}

/// Every ratio of `a` times every ratio of `b` (independent), or the ones there are.
pub fn combined(a: &[f64], b: &[f64]) -> Vec<f64> {
    match (a.is_empty(), b.is_empty()) {
        (_, true) => a.to_vec(),
        (true, false) => b.to_vec(),
        _ => a
            .iter()
            .flat_map(|x| b.iter().map(move |y| x * y))
            .collect(),
    }
}

/// Every value a quantity may take: every simulated value (of every group) times every
/// ratio (the two independent), or the simulated values alone without ratios.
pub fn predictive_values(groups: &[Vec<f64>], ratios: &[f64]) -> Vec<f64> {
    let simulated = groups.iter().flatten().copied();
    if ratios.is_empty() {
        simulated.collect()
    } else {
        simulated
            .flat_map(|s| ratios.iter().map(move |r| s * r))
            .collect()
    }
}

impl PredictionInterval {
    /// The interval at `level` (0.9: from the 5th to the 95th percentile) of a quantity
    /// simulated in `groups` (one group of replications per refit of the calibration, or one
    /// group without refits) whose run-to-run ratios are `ratios` and whose model error
    /// (measured over predicted on held-out runs) is `model` ([`predictive_values`] of both
    /// [`combined`]). `None` without simulated values.
    pub fn of(
        groups: &[Vec<f64>],
        ratios: &[f64],
        model: &[f64],
        level: f64,
    ) -> Option<PredictionInterval> {
        let values = predictive_values(groups, &combined(ratios, model));
        let tail = (1.0 - level) / 2.0;
        let (low, high) = (
            quantile::of(&values, tail)?,
            quantile::of(&values, 1.0 - tail)?,
        );
        let simulated: Vec<f64> = groups.iter().flatten().copied().collect();
        Some(PredictionInterval {
            low,
            high,
            sources: sources(groups, &simulated, ratios, model),
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
/// what the simulation alone would give them (the calibration), the run-to-run ratios'
/// variance at the mean (the platform) and the model-error ratios' (the model).
fn sources(groups: &[Vec<f64>], simulated: &[f64], ratios: &[f64], model: &[f64]) -> [f64; 4] {
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
    let at_the_mean = |r: &[f64]| {
        if r.len() > 1 {
            variance(r) * mean(simulated).powi(2)
        } else {
            0.0
        }
    };
    let (v_run, v_model) = (at_the_mean(ratios), at_the_mean(model));
    let total = v_sim + v_cal + v_run + v_model;
    if total > 0.0 {
        [v_sim, v_cal, v_run, v_model].map(|v| v / total)
    } else {
        [1.0, 0.0, 0.0, 0.0]
    }
}

/// Ratios per metric. As the run-to-run variation of a platform: each measured repetition's
/// warm makespan and Job latency quantiles divided by the median over the repetitions of its
/// run (one configuration), for every calibration run with two repetitions or more. As the
/// model's error ([`RunToRun::model_error`]): measured over predicted on held-out runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunToRun {
    /// Warm makespan of a repetition over its run's median.
    pub warm_makespan: Vec<f64>,
    /// p50 Job latency of a repetition over its run's median.
    pub p50_latency: Vec<f64>,
    /// p95 Job latency, the same way (empty in calibrations written before it was kept).
    #[serde(default)]
    pub p95_latency: Vec<f64>,
    /// p99 Job latency, the same way.
    #[serde(default)]
    pub p99_latency: Vec<f64>,
}

impl RunToRun {
    /// True when no run had two repetitions.
    pub fn is_empty(&self) -> bool {
        self.warm_makespan.is_empty() && self.p50_latency.is_empty()
    }

    /// Platform `name`'s variation as `calibration`'s provenance keeps it (empty when it has
    /// none: a calibration from runs of one repetition, or one not measured by faastwin).
    pub fn from_calibration(calibration: &Calibration, name: &str) -> RunToRun {
        RunToRun::from_provenance(calibration, name, RUN_TO_RUN)
    }

    /// Platform `name`'s model error as `calibration`'s provenance keeps it: measured over
    /// predicted on held-out runs (`calibrate --model-error`), the same four metrics; empty
    /// without.
    pub fn model_error(calibration: &Calibration, name: &str) -> RunToRun {
        RunToRun::from_provenance(calibration, name, MODEL_ERROR)
    }

    fn from_provenance(calibration: &Calibration, name: &str, key: &str) -> RunToRun {
        let floats = |metric: &str| -> Vec<f64> {
            calibration
                .provenance
                .get(name)
                .and_then(|p| p.get(key))
                .and_then(|t| t.get(metric))
                .and_then(toml::Value::as_array)
                .map(|a| a.iter().filter_map(toml::Value::as_float).collect())
                .unwrap_or_default()
        };
        RunToRun {
            warm_makespan: floats("warm_makespan"),
            p50_latency: floats("p50_latency"),
            p95_latency: floats("p95_latency"),
            p99_latency: floats("p99_latency"),
        }
    }

    /// The ratios of each of [`Intervals`]' metrics, in its order.
    fn of_metrics(&self) -> [&[f64]; 4] {
        [
            &self.warm_makespan,
            &self.p50_latency,
            &self.p95_latency,
            &self.p99_latency,
        ]
    }
}

/// The replications each refit of a calibration with `refits` refits is simulated with, when
/// the prediction itself has `replications`: a share, at least 2 (a spread needs two).
pub fn refit_replications(replications: u32, refits: usize) -> u32 {
    (replications / refits.max(1) as u32).max(2)
}

/// The base seed of refit `i`'s replications: its own streams, apart from the prediction's.
pub fn refit_seed(seed: u64, i: usize) -> u64 {
    replication_seed(seed, u32::MAX - i as u32)
}

impl Calibration {
    /// Platform `name`'s refit `i` as a calibration of that platform alone.
    pub fn refit(&self, name: &str, i: usize) -> Option<Calibration> {
        let spec = self.refits.get(name)?.get(i)?;
        Some(Calibration {
            description: String::new(),
            platforms: [(name.to_owned(), spec.clone())].into(),
            refits: Default::default(),
            provenance: toml::Table::new(),
        })
    }

    /// Platform `name`'s refits (`calibrate --refits`), each as a calibration of that platform
    /// alone (empty without refits).
    pub fn refit_calibrations(&self, name: &str) -> Vec<Calibration> {
        (0..self.refits.get(name).map_or(0, Vec::len))
            .filter_map(|i| self.refit(name, i))
            .collect()
    }
}

/// The metrics that get a prediction interval, in [`Intervals`]' order: label and CSV stem.
pub const INTERVAL_METRICS: [(&str, &str); 4] = [
    ("warm makespan", "warm_makespan_s"),
    ("p50 Job latency", "p50_latency_s"),
    ("p95 Job latency", "p95_latency_s"),
    ("p99 Job latency", "p99_latency_s"),
];

/// One platform's prediction intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    /// Their level (0.9: from the 5th to the 95th percentile).
    pub level: f64,
    /// Refits of the calibration simulated (0: the calibration has none).
    pub refits: usize,
    /// Run-to-run ratios the calibration kept for the warm makespan (0: none).
    pub run_to_run: usize,
    /// Model-error ratios (held-out runs) the calibration kept for the warm makespan (0: none).
    #[serde(default)]
    pub model_error: usize,
    /// Warm makespan [s].
    pub warm_makespan_s: Option<PredictionInterval>,
    /// p50 Job latency [s].
    pub p50_latency_s: Option<PredictionInterval>,
    /// p95 Job latency [s].
    pub p95_latency_s: Option<PredictionInterval>,
    /// p99 Job latency [s].
    pub p99_latency_s: Option<PredictionInterval>,
}

impl Intervals {
    /// The intervals at `level` of a platform simulated as `fits`: the calibration's own
    /// replications first, then each refit's (when there are refits, the refits alone make
    /// the groups: they carry the calibration's uncertainty, the first fit is one of them).
    pub fn of(
        fits: &[Vec<RunResult>],
        run_to_run: &RunToRun,
        model_error: &RunToRun,
        level: f64,
    ) -> Intervals {
        let groups = if fits.len() > 1 { &fits[1..] } else { fits };
        let metric = |get: fn(&RunResult) -> f64| -> Vec<Vec<f64>> {
            groups.iter().map(|g| g.iter().map(get).collect()).collect()
        };
        let gets: [fn(&RunResult) -> f64; 4] = [
            |r| r.warm_makespan_s,
            |r| r.latency.p50_s,
            |r| r.latency.p95_s,
            |r| r.latency.p99_s,
        ];
        let (ratios, model) = (run_to_run.of_metrics(), model_error.of_metrics());
        let [warm_makespan_s, p50_latency_s, p95_latency_s, p99_latency_s] =
            std::array::from_fn(|i| {
                PredictionInterval::of(&metric(gets[i]), ratios[i], model[i], level)
            });
        Intervals {
            level,
            refits: fits.len().saturating_sub(1),
            run_to_run: run_to_run.warm_makespan.len(),
            model_error: model_error.warm_makespan.len(),
            warm_makespan_s,
            p50_latency_s,
            p95_latency_s,
            p99_latency_s,
        }
    }

    /// Each metric's interval, in [`INTERVAL_METRICS`]' order.
    pub fn all(&self) -> [Option<PredictionInterval>; 4] {
        [
            self.warm_makespan_s,
            self.p50_latency_s,
            self.p95_latency_s,
            self.p99_latency_s,
        ]
    }

    /// What the intervals hold, in words: which sources the calibration could give.
    pub fn describe(&self) -> String {
        let mut parts = vec!["the simulation's replications".to_owned()];
        if self.refits > 0 {
            parts.push(format!("{} refits of the calibration", self.refits));
        }
        if self.run_to_run > 0 {
            parts.push(format!(
                "the run-to-run variation of {} measured repetitions",
                self.run_to_run
            ));
        }
        if self.model_error > 0 {
            parts.push(format!(
                "the model's error on {} held-out runs",
                self.model_error
            ));
        }
        let mut out = format!(
            "{:.0} % prediction intervals from {}",
            100.0 * self.level,
            parts.join(", ")
        );
        let missing = match (self.refits, self.run_to_run) {
            (0, 0) => "neither refits nor repeated runs",
            (0, _) => "no refits",
            (_, 0) => "no repeated runs",
            _ => "",
        };
        if !missing.is_empty() {
            out.push_str(&format!(
                "; the calibration has {missing}, so they leave out the calibration's or the platform's variation (`faastwin calibrate --refits 20` on runs of 3 repetitions or more adds both)"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interval holds the replications' spread, widens with the platform's run-to-run
    /// variation and with refits that disagree, narrows with the level, and names what its
    /// width comes from.
    #[test]
    fn an_interval_combines_replications_refits_and_run_to_run_variation() {
        let simulated: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i) * 0.1).collect();
        let one = std::slice::from_ref(&simulated);
        let alone = PredictionInterval::of(one, &[], &[], 0.9).unwrap();
        assert!(alone.low > 100.0 && alone.high < 102.0, "{alone:?}");
        assert_eq!(alone.sources, [1.0, 0.0, 0.0, 0.0]);
        let ratios = [0.9, 0.95, 1.0, 1.0, 1.05, 1.1];
        let wide = PredictionInterval::of(one, &ratios, &[], 0.9).unwrap();
        assert!(wide.low < 92.0 && wide.high > 108.0, "{wide:?}");
        assert_eq!(wide.dominant(), SOURCES[2]);
        // A model that missed by -20 % .. +25 % on held-out runs: its error dominates.
        let model = [0.8, 0.9, 1.0, 1.1, 1.25];
        let honest = PredictionInterval::of(one, &ratios, &model, 0.9).unwrap();
        assert!(
            honest.low < 0.85 * wide.low && honest.high > 1.1 * wide.high,
            "{honest:?}"
        );
        assert_eq!(honest.dominant(), SOURCES[3]);
        let narrow = PredictionInterval::of(one, &ratios, &[], 0.5).unwrap();
        assert!(narrow.low > wide.low && narrow.high < wide.high);
        // Refits 20 % apart: the calibration dominates.
        let refits: Vec<Vec<f64>> = [0.8, 1.0, 1.2]
            .iter()
            .map(|f| simulated.iter().map(|s| s * f).collect())
            .collect();
        let refitted = PredictionInterval::of(&refits, &ratios, &[], 0.9).unwrap();
        assert!(refitted.low < 80.0 && refitted.high > 115.0, "{refitted:?}");
        assert_eq!(refitted.dominant(), SOURCES[1]);
        assert!((refitted.sources.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(PredictionInterval::of(&[], &ratios, &[], 0.9), None);
        // Without repetitions and refits, the replications alone (type 7).
        let bare = PredictionInterval::of(&[vec![1.0, 2.0, 3.0]], &[], &[], 0.5).unwrap();
        assert_eq!((bare.low, bare.high), (1.5, 2.5));
    }

    #[test]
    fn predictive_values_are_every_simulated_value_times_every_ratio() {
        let v = predictive_values(&[vec![10.0], vec![20.0]], &[0.5, 2.0]);
        assert_eq!(v, [5.0, 20.0, 10.0, 40.0]);
        assert_eq!(predictive_values(&[vec![1.0, 2.0]], &[]), [1.0, 2.0]);
    }

    #[test]
    fn ratios_combine_as_independent_factors() {
        assert_eq!(combined(&[0.5, 2.0], &[1.0, 3.0]), [0.5, 1.5, 2.0, 6.0]);
        assert_eq!(combined(&[], &[1.1]), [1.1]);
        assert_eq!(combined(&[0.9], &[]), [0.9]);
    }

    #[test]
    fn refits_get_a_share_of_the_replications_and_streams_of_their_own() {
        assert_eq!(refit_replications(20, 20), 2);
        assert_eq!(refit_replications(100, 20), 5);
        assert_eq!(refit_replications(10, 0), 10);
        assert_ne!(refit_seed(1, 0), refit_seed(1, 1));
        assert_ne!(refit_seed(1, 0), replication_seed(1, 0));
    }
}
