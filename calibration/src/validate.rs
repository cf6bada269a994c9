//! Predictions checked against measured runs: for each run, the scenario that describes it is
//! simulated with replications and compared metric by metric.

use std::collections::BTreeMap;
use std::sync::Arc;

use faastwin_models::{Distribution, Metric, RawDistribution, SubmitPolicy, quantile};
use faastwin_sim::{
    Calibration, CompiledPlatform, Discipline, PlatformSummary, VecTrace, Workload, replicate,
    replication_seed, simulate,
};
use serde::{Deserialize, Serialize};

use crate::CalibrationError;
use crate::fit::ks_two_sample;
use crate::interval::{Coverage, PredictionInterval, RunToRun};
use crate::runs::Run;
use faastwin_sim::interval::{refit_replications, refit_seed};

/// One metric, measured and predicted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// Which quantity.
    pub metric: Metric,
    /// Measured: median over the run's repetitions, or the mean over its invocations.
    pub measured: f64,
    /// Predicted: median over replications, or the mean decomposition.
    pub predicted: f64,
    /// predicted − measured.
    pub abs_error: f64,
    /// (predicted − measured) / measured.
    pub rel_error: f64,
}

impl MetricComparison {
    /// Compares two numbers.
    pub fn new(metric: Metric, measured: f64, predicted: f64) -> Self {
        MetricComparison {
            metric,
            measured,
            predicted,
            abs_error: predicted - measured,
            rel_error: (predicted - measured) / measured,
        }
    }
}

/// A prediction interval of one quantity, named, with the measured repetitions it is checked
/// against: (`"warm_makespan"` or `"p50_latency"`, the interval [s], the measured values [s]).
pub type IntervalCheck<'a> = (&'static str, Option<PredictionInterval>, &'a [f64]);

/// The validation of one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunValidation {
    /// The run directory.
    pub run: String,
    /// Platform.
    pub platform: String,
    /// The scenario it was simulated as, in words.
    pub scenario: String,
    /// Metric by metric.
    pub metrics: Vec<MetricComparison>,
    /// KS distance between the predicted and the measured Job latency distributions.
    pub latency_ks_distance: f64,
    /// The warm makespan of each measured repetition, in order of size [s]: how far the
    /// measurements themselves spread, against which an error is judged.
    #[serde(default)]
    pub measured_makespans_s: Vec<f64>,
    /// The level of the prediction intervals (0.9: 5th to 95th percentile).
    #[serde(default)]
    pub interval_level: f64,
    /// Prediction interval of the warm makespan [s]: the simulated replications (of every
    /// refit of the calibration, where it has refits) times the platform's run-to-run
    /// variation in the calibration runs (see [`PredictionInterval::of`]).
    #[serde(default)]
    pub makespan_interval: Option<PredictionInterval>,
    /// Prediction interval of the p50 Job latency [s], the same way.
    #[serde(default)]
    pub p50_interval: Option<PredictionInterval>,
    /// Why this prediction may not hold, where the calibration says (more invocations in flight
    /// per node than it was measured at).
    #[serde(default)]
    pub warning: Option<String>,
    /// The p50 Job latency of each measured repetition, in order of size [s].
    #[serde(default)]
    pub measured_p50s_s: Vec<f64>,
}

impl RunValidation {
    /// The relative error of the warm makespan.
    pub fn makespan_rel_error(&self) -> f64 {
        self.makespan().map_or(f64::NAN, |m| m.rel_error)
    }

    /// The prediction intervals with the measured repetitions they are checked against:
    /// `("warm_makespan", ...)`, then `("p50_latency", ...)`.
    pub fn intervals(&self) -> [IntervalCheck<'_>; 2] {
        [
            (
                "warm_makespan",
                self.makespan_interval,
                &self.measured_makespans_s,
            ),
            ("p50_latency", self.p50_interval, &self.measured_p50s_s),
        ]
    }

    fn metric(&self, metric: Metric) -> Option<&MetricComparison> {
        self.metrics.iter().find(|m| m.metric == metric)
    }

    fn makespan(&self) -> Option<&MetricComparison> {
        self.metrics
            .iter()
            .find(|m| m.metric == Metric::WarmMakespanS)
    }

    /// The lowest and highest measured warm makespan relative to the median that is compared
    /// (e.g. −0.1, +0.15), when at least two repetitions were measured.
    pub fn measured_spread(&self) -> Option<(f64, f64)> {
        let median = self.makespan()?.measured;
        match self.measured_makespans_s.as_slice() {
            [low, .., high] => Some((low / median - 1.0, high / median - 1.0)),
            _ => None,
        }
    }

    /// Whether the predicted makespan lies between the lowest and the highest measured
    /// repetition: an error no larger than the run-to-run variation of the measurements.
    pub fn within_measured_spread(&self) -> Option<bool> {
        let predicted = self.makespan()?.predicted;
        match self.measured_makespans_s.as_slice() {
            [low, .., high] => Some(*low <= predicted && predicted <= *high),
            _ => None,
        }
    }
}

/// The workload a run describes: its invocations (less warm-up), partitions, nodes, input
/// sizes and policy.
pub fn workload_of(run: &Run) -> Result<Workload, CalibrationError> {
    let o = &run.meta.options;
    let repetitions = run.records.iter().map(|r| r.repetition).max().unwrap_or(0) + 1;
    let per_repetition =
        run.records.iter().filter(|r| r.attempt == 1).count() as u64 / u64::from(repetitions);
    let warm = per_repetition
        .saturating_sub(o.warmup * u64::from(o.partitions))
        .max(1);
    let mut bytes: Vec<f64> = run.records.iter().map(|r| r.bytes_in as f64).collect();
    bytes.sort_by(f64::total_cmp);
    bytes.dedup();
    let input_bytes = Distribution::new(if bytes.len() == 1 {
        RawDistribution::Constant { value: bytes[0] }
    } else {
        RawDistribution::Empirical { values: bytes }
    })
    .map_err(|e| CalibrationError::Model {
        what: run.label(),
        source: e,
    })?;
    Ok(Workload {
        body: run.workload(),
        invocations: warm,
        partitions: o.partitions,
        nodes: (o.nodes.len() as u32).clamp(1, o.partitions.max(1)),
        input_bytes,
        policy: o.policy.clone(),
        placement: None,
        allocation_queue: None,
    })
}

/// Simulates the scenario of `run` on the calibration's platform `name` with `replications`
/// replications and compares.
pub fn validate(
    calibration: &Calibration,
    name: &str,
    run: &Run,
    replications: u32,
    seed: u64,
    threads: usize,
    level: f64,
) -> Result<RunValidation, CalibrationError> {
    let mut workload = workload_of(run)?;
    let platform = with_the_runs_cores(calibration, name, run).compile(name, workload.body)?;
    // An open-loop run is predicted on its own arrivals, repetition by repetition: the makespan
    // of 40 Poisson arrivals varies by up to 17 % from draw to draw, which would otherwise be
    // read as the model's error.
    let replays = measured_arrivals(run, &workload);
    let (predicted, replicated) = predict(
        &platform,
        &workload,
        replays.as_deref(),
        seed,
        replications,
        threads,
    )?;
    if let Some(first) = replays.as_ref().and_then(|r| r.first()) {
        workload.policy = SubmitPolicy::Arrivals {
            times_s: first.clone(),
        };
    }

    let summaries = faastwin_measure::summarise(&run.records, None);
    let metrics = compared(run, &summaries, &predicted);
    let sorted = |get: fn(&faastwin_measure::RepetitionSummary) -> Option<f64>| {
        let mut v: Vec<f64> = summaries.iter().filter_map(get).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let makespans = sorted(|s| s.warm_makespan_s);
    let p50s = sorted(|s| s.p50_latency_s);
    let run_to_run = RunToRun::from_calibration(calibration, name);
    let model_error = RunToRun::model_error(calibration, name);
    let groups = refitted(
        calibration,
        name,
        run,
        &workload,
        seed,
        replications,
        threads,
    )?
    .unwrap_or_else(|| Groups {
        warm_makespans_s: vec![replicated.warm_makespans_s],
        p50s_s: vec![replicated.p50s_s],
    });
    let mut measured: Vec<f64> = run.warm().filter_map(|r| r.e2e_s).collect();
    measured.sort_by(f64::total_cmp);
    let simulated = simulated_latencies(&platform, &workload, seed, replications)?;
    Ok(RunValidation {
        run: run.dir.display().to_string(),
        platform: name.to_owned(),
        scenario: format!(
            "{} x {} on {} partitions / {} nodes, {}{}, input {:.0} B",
            workload.invocations,
            workload.body,
            workload.partitions,
            workload.nodes,
            run.meta.options.policy.describe(),
            if replays.is_some() {
                " (the run's own arrivals)"
            } else {
                ""
            },
            workload.input_bytes.mean()
        ),
        metrics,
        latency_ks_distance: ks_two_sample(&measured, &simulated),
        measured_makespans_s: makespans,
        interval_level: level,
        makespan_interval: PredictionInterval::of(
            &groups.warm_makespans_s,
            &run_to_run.warm_makespan,
            &model_error.warm_makespan,
            level,
        ),
        p50_interval: PredictionInterval::of(
            &groups.p50s_s,
            &run_to_run.p50_latency,
            &model_error.p50_latency,
            level,
        ),
        measured_p50s_s: p50s,
        warning: crate::interval::extrapolation(calibration, name, run),
    })
}

/// Each metric of `run`, measured (the median over its repetitions `summaries`, or the mean
/// over its warm invocations) against `predicted`.
fn compared(
    run: &Run,
    summaries: &[faastwin_measure::RepetitionSummary],
    predicted: &PlatformSummary,
) -> Vec<MetricComparison> {
    let median = |get: fn(&faastwin_measure::RepetitionSummary) -> Option<f64>| {
        let v: Vec<f64> = summaries.iter().filter_map(get).collect();
        quantile::of(&v, 0.5).unwrap_or(f64::NAN)
    };
    let warm: Vec<&faastwin_measure::InvocationRecord> = run.warm().collect();
    let mean = |get: &dyn Fn(&faastwin_measure::InvocationRecord) -> Option<f64>| {
        let v: Vec<f64> = warm.iter().filter_map(|r| get(r)).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let d = &predicted.decomposition;
    vec![
        MetricComparison::new(
            Metric::WarmMakespanS,
            median(|s| s.warm_makespan_s),
            predicted.warm_makespan_s,
        ),
        MetricComparison::new(
            Metric::P50LatencyS,
            median(|s| s.p50_latency_s),
            predicted.p50_latency_s,
        ),
        MetricComparison::new(
            Metric::P95LatencyS,
            median(|s| s.p95_latency_s),
            predicted.p95_latency_s,
        ),
        MetricComparison::new(
            Metric::P99LatencyS,
            median(|s| s.p99_latency_s),
            predicted.p99_latency_s,
        ),
        MetricComparison::new(
            Metric::MeanPreBodyS,
            mean(&faastwin_measure::InvocationRecord::pre_body_s),
            d.control_plane_s + d.startup_s,
        ),
        MetricComparison::new(Metric::MeanBodyS, mean(&|r| r.body_s), d.body_s()),
        MetricComparison::new(
            Metric::MeanCompletionS,
            mean(&|r| r.completion_s),
            d.completion_s,
        ),
    ]
}

/// The prediction of a run: one per measured repetition's arrivals (`replays`), their median,
/// or, without them, of `workload` as it is.
fn predict(
    platform: &CompiledPlatform,
    workload: &Workload,
    replays: Option<&[Arc<[f64]>]>,
    seed: u64,
    replications: u32,
    threads: usize,
) -> Result<Prediction, CalibrationError> {
    let mut predictions = Vec::new();
    let mut replicated = Replicated::default();
    let mut keep = |runs: &[faastwin_sim::RunResult]| {
        replicated
            .warm_makespans_s
            .extend(runs.iter().map(|r| r.warm_makespan_s));
        replicated
            .p50s_s
            .extend(runs.iter().map(|r| r.latency.p50_s));
    };
    for arrivals in replays.unwrap_or_default() {
        let replay = Workload {
            policy: SubmitPolicy::Arrivals {
                times_s: arrivals.clone(),
            },
            ..workload.clone()
        };
        let runs = replicate(platform, &replay, seed, replications, threads, &|| {})?;
        keep(&runs);
        predictions.push(PlatformSummary::of(&runs, seed)?);
    }
    if predictions.is_empty() {
        let runs = replicate(platform, workload, seed, replications, threads, &|| {})?;
        keep(&runs);
        predictions.push(PlatformSummary::of(&runs, seed)?);
    }
    Ok((median_prediction(predictions), replicated))
}

/// Every simulated replication's warm makespan and p50 Job latency [s].
#[derive(Debug, Default)]
struct Replicated {
    warm_makespans_s: Vec<f64>,
    p50s_s: Vec<f64>,
}

/// A run's prediction and the replications behind it.
type Prediction = (PlatformSummary, Replicated);

/// Simulated values in groups, one per refit of the calibration [s].
#[derive(Debug, Default)]
struct Groups {
    warm_makespans_s: Vec<Vec<f64>>,
    p50s_s: Vec<Vec<f64>>,
}

/// `workload` simulated on each refit of platform `name` (`calibrate --refits`), a share of
/// `replications` each (at least 2); `None` when the calibration has no refits of it.
fn refitted(
    calibration: &Calibration,
    name: &str,
    run: &Run,
    workload: &Workload,
    seed: u64,
    replications: u32,
    threads: usize,
) -> Result<Option<Groups>, CalibrationError> {
    let refits = calibration.refit_calibrations(name);
    if refits.is_empty() {
        return Ok(None);
    }
    let each = refit_replications(replications, refits.len());
    let mut groups = Groups::default();
    for (i, one) in refits.iter().enumerate() {
        let platform = with_the_runs_cores(one, name, run).compile(name, workload.body)?;
        let runs = replicate(
            &platform,
            workload,
            refit_seed(seed, i),
            each,
            threads,
            &|| {},
        )?;
        groups
            .warm_makespans_s
            .push(runs.iter().map(|r| r.warm_makespan_s).collect());
        groups
            .p50s_s
            .push(runs.iter().map(|r| r.latency.p50_s).collect());
    }
    Ok(Some(groups))
}

/// The Job latencies of up to five replications of `workload`, sorted.
fn simulated_latencies(
    platform: &CompiledPlatform,
    workload: &Workload,
    seed: u64,
    replications: u32,
) -> Result<Vec<f64>, CalibrationError> {
    let mut simulated = Vec::new();
    for r in 0..replications.min(5) {
        let mut trace = VecTrace::default();
        simulate(platform, workload, replication_seed(seed, r), r, &mut trace)?;
        simulated.extend(
            trace
                .rows
                .iter()
                .map(faastwin_sim::OwnedTraceRow::latency_s),
        );
    }
    simulated.sort_by(f64::total_cmp);
    Ok(simulated)
}

/// The arrival times of an open-loop run, one list per repetition in the form
/// [`SubmitPolicy::Arrivals`] takes (invocation `p + k·partitions` is partition `p`'s `k`-th
/// warm submission, in seconds after the first warm submission on its node); `None` for a
/// closed-loop run, or when a repetition's partitions do not hold the invocations the
/// simulated workload gives them (failed submissions, say).
fn measured_arrivals(run: &Run, workload: &Workload) -> Option<Vec<Arc<[f64]>>> {
    if !matches!(run.meta.options.policy, SubmitPolicy::Poisson { .. }) {
        return None;
    }
    let mut by_rep: BTreeMap<u32, Vec<&faastwin_measure::InvocationRecord>> = BTreeMap::new();
    for r in run.records.iter().filter(|r| r.attempt == 1 && !r.warmup) {
        by_rep.entry(r.repetition).or_default().push(r);
    }
    let partitions = workload.partitions;
    by_rep
        .into_values()
        .map(|rows| {
            let mut submits: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
            let mut zero: BTreeMap<&str, u64> = BTreeMap::new();
            for r in &rows {
                let t = r.t_submit?;
                submits.entry(r.partition).or_default().push(t);
                let z = zero.entry(r.node.as_str()).or_insert(t);
                *z = (*z).min(t);
            }
            let node_of: BTreeMap<u32, &str> = rows
                .iter()
                .map(|r| (r.partition, r.node.as_str()))
                .collect();
            let mut times = vec![0.0; workload.invocations as usize];
            for p in 0..partitions {
                let mut own = submits.remove(&p).unwrap_or_default();
                if own.len() as u64 != workload.partition_size(p) {
                    return None;
                }
                own.sort_unstable();
                let Some(node) = node_of.get(&p) else {
                    continue;
                };
                let zero = zero[node];
                for (k, t) in own.into_iter().enumerate() {
                    times[p as usize + k * partitions as usize] = (t - zero) as f64 / 1e9;
                }
            }
            Some(Arc::from(times))
        })
        .collect::<Option<Vec<_>>>()
        .filter(|reps| !reps.is_empty())
}

/// The prediction of a run from one prediction per replayed repetition: the median of each
/// metric, as the measured side takes the median over repetitions; the decomposition of the
/// repetition whose makespan is the median.
fn median_prediction(mut predictions: Vec<PlatformSummary>) -> PlatformSummary {
    let median = |get: fn(&PlatformSummary) -> f64| {
        let v: Vec<f64> = predictions.iter().map(get).collect();
        quantile::of(&v, 0.5).unwrap_or(f64::NAN)
    };
    let (makespan, p50, p95, p99) = (
        median(|p| p.warm_makespan_s),
        median(|p| p.p50_latency_s),
        median(|p| p.p95_latency_s),
        median(|p| p.p99_latency_s),
    );
    predictions.sort_by(|a, b| a.warm_makespan_s.total_cmp(&b.warm_makespan_s));
    let mut middle = predictions.swap_remove(predictions.len() / 2);
    middle.warm_makespan_s = makespan;
    middle.p50_latency_s = p50;
    middle.p95_latency_s = p95;
    middle.p99_latency_s = p99;
    middle
}

/// The calibration with platform `name`'s nodes as many CPUs as the run's nodes had (its
/// `cpus_per_node`), where the platform's work shares the nodes' cores: the simulator's nodes are
/// the machine's nodes, so a calibration on nodes of one size predicts nodes of another. Copied
/// only when the sizes differ.
fn with_the_runs_cores<'a>(
    calibration: &'a Calibration,
    name: &str,
    run: &Run,
) -> std::borrow::Cow<'a, Calibration> {
    let capacity = |c: &Calibration| {
        c.platforms
            .get(name)
            .and_then(|p| p.resources.get(faastwin_models::CORES))
            .and_then(|cores| match cores.discipline {
                Discipline::ProcessorSharing { capacity, .. } => Some(capacity),
                _ => None,
            })
    };
    let Some(cpus) = run.meta.platform.cpus_per_node.map(f64::from) else {
        return std::borrow::Cow::Borrowed(calibration);
    };
    if capacity(calibration).is_none_or(|c| c == cpus) {
        return std::borrow::Cow::Borrowed(calibration);
    }
    let mut resized = calibration.clone();
    if let Some(Discipline::ProcessorSharing { capacity, .. }) = resized
        .platforms
        .get_mut(name)
        .and_then(|p| p.resources.get_mut(faastwin_models::CORES))
        .map(|cores| &mut cores.discipline)
    {
        *capacity = cpus;
    }
    std::borrow::Cow::Owned(resized)
}

/// How a set of predictions erred, as the fidelity goals judge it: the distribution of the
/// absolute relative errors over the validations (held-out configurations drawn at random, say).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorDistribution {
    /// Validations summarised.
    pub count: usize,
    /// Median, 90th percentile and largest |warm makespan error|.
    pub makespan: [f64; 3],
    /// Median |p50 Job latency error|.
    pub p50_median: f64,
    /// Median |p95 Job latency error|.
    pub p95_median: f64,
    /// Median and largest KS distance of the Job latency distributions.
    pub ks: [f64; 2],
}

impl ErrorDistribution {
    /// The distribution over `validations`; `None` for none.
    pub fn of(validations: &[RunValidation]) -> Option<Self> {
        let abs_errors = |metric: Metric| -> Vec<f64> {
            validations
                .iter()
                .filter_map(|v| v.metrics.iter().find(|m| m.metric == metric))
                .map(|m| m.rel_error.abs())
                .collect()
        };
        let makespan = abs_errors(Metric::WarmMakespanS);
        let ks: Vec<f64> = validations.iter().map(|v| v.latency_ks_distance).collect();
        let at = |v: &[f64], p: f64| quantile::of(v, p).unwrap_or(f64::NAN);
        (!validations.is_empty()).then(|| ErrorDistribution {
            count: validations.len(),
            makespan: [at(&makespan, 0.5), at(&makespan, 0.9), at(&makespan, 1.0)],
            p50_median: at(&abs_errors(Metric::P50LatencyS), 0.5),
            p95_median: at(&abs_errors(Metric::P95LatencyS), 0.5),
            ks: [at(&ks, 0.5), at(&ks, 1.0)],
        })
    }
}

impl std::fmt::Display for ErrorDistribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [median, p90, worst] = self.makespan.map(|e| 100.0 * e);
        write!(
            f,
            "over {} held-out configuration{}: |warm makespan error| median {median:.1} %, 90th percentile {p90:.1} %, worst {worst:.1} %; |p50 latency error| median {:.1} %, |p95| median {:.1} %; latency KS median {:.2}, worst {:.2}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            100.0 * self.p50_median,
            100.0 * self.p95_median,
            self.ks[0],
            self.ks[1]
        )
    }
}

/// Median absolute relative makespan error over validations.
pub fn median_abs_makespan_error(validations: &[RunValidation]) -> f64 {
    let errors: Vec<f64> = validations
        .iter()
        .map(|v| v.makespan_rel_error().abs())
        .collect();
    quantile::of(&errors, 0.5).unwrap_or(f64::NAN)
}

/// How many predicted makespans lie within their runs' measured spread, of how many runs
/// measured at least twice (none: `None`).
pub fn within_spread(validations: &[RunValidation]) -> Option<(usize, usize)> {
    let judged: Vec<bool> = validations
        .iter()
        .filter_map(RunValidation::within_measured_spread)
        .collect();
    (!judged.is_empty()).then(|| (judged.iter().filter(|w| **w).count(), judged.len()))
}

/// [`within_spread`] in words, to follow a median error: "; 2 of 3 predictions within the
/// spread of their measured repetitions", or nothing when no run was measured twice.
pub fn spread_note(validations: &[RunValidation]) -> String {
    within_spread(validations).map_or_else(String::new, |(within, of)| {
        format!("; {within} of {of} predictions within the spread of their measured repetitions")
    })
}

/// How well the prediction intervals of `validations` covered their measured repetitions:
/// warm makespan, then p50 Job latency (`None` where no run has an interval).
pub fn coverage(validations: &[RunValidation]) -> [Option<Coverage>; 2] {
    [Metric::WarmMakespanS, Metric::P50LatencyS]
        .into_iter()
        .enumerate()
        .map(|(k, metric)| {
            let checks: Vec<_> = validations
                .iter()
                .filter_map(|v| {
                    let (_, interval, measured) = v.intervals()[k];
                    let i = interval?;
                    Some(((i.low, i.high), v.metric(metric)?.predicted, measured))
                })
                .collect();
            (!checks.is_empty()).then(|| Coverage::of(checks))
        })
        .collect::<Vec<_>>()
        .try_into()
        .unwrap_or([None, None])
}

/// [`coverage`] in words: "90 % prediction intervals: warm makespan covered 20 of 24 measured
/// repetitions (83 %), median width 12.0 % of the prediction; p50 Job latency ...".
pub fn coverage_note(validations: &[RunValidation]) -> Option<String> {
    let level = validations.first()?.interval_level;
    let parts: Vec<String> = coverage(validations)
        .iter()
        .zip(["warm makespan", "p50 Job latency"])
        .filter_map(|(c, what)| {
            let c = c.as_ref()?;
            Some(format!(
                "{what} covered {} of {} measured repetitions ({:.0} %), median width {:.1} % of the prediction",
                c.inside,
                c.total,
                100.0 * c.share(),
                100.0 * c.median_width
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "{:.0} % prediction intervals (simulated replications, of each refit where the calibration has refits, times the calibration runs' run-to-run variation): {}",
            100.0 * level,
            parts.join("; ")
        )
    })
}

/// How the predictions that extrapolate beyond the calibrated loads erred against the others:
/// "3 of 8 predictions extrapolate beyond the calibrated loads: median |makespan error| 20.5 %
/// against 3.1 % for the others"; `None` when none does.
pub fn extrapolation_note(validations: &[RunValidation]) -> Option<String> {
    let (flagged, others): (Vec<&RunValidation>, Vec<&RunValidation>) =
        validations.iter().partition(|v| v.warning.is_some());
    if flagged.is_empty() {
        return None;
    }
    let median = |vs: &[&RunValidation]| {
        let e: Vec<f64> = vs.iter().map(|v| v.makespan_rel_error().abs()).collect();
        quantile::of(&e, 0.5).unwrap_or(f64::NAN)
    };
    let against = if others.is_empty() {
        String::new()
    } else {
        format!(" against {:.1} % for the others", 100.0 * median(&others))
    };
    Some(format!(
        "{} of {} predictions extrapolate beyond the calibrated loads (more than twice the invocations in flight per node): median |makespan error| {:.1} %{against}",
        flagged.len(),
        validations.len(),
        100.0 * median(&flagged)
    ))
}

/// Validations grouped by platform.
pub fn by_platform(validations: &[RunValidation]) -> BTreeMap<String, Vec<&RunValidation>> {
    let mut map: BTreeMap<String, Vec<&RunValidation>> = BTreeMap::new();
    for v in validations {
        map.entry(v.platform.clone()).or_default().push(v);
    }
    map
}

/// How validations are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationFormat {
    /// Aligned text, one block per run.
    Table,
    /// Long CSV: run, platform, metric, measured, predicted, abs_error, rel_error; after the
    /// metrics, `latency_ks_distance` (predicted), `lowest_`/`highest_warm_makespan_s`
    /// (measured), `extrapolates` (measured 1, where [`RunValidation::warning`] says so) and, for
    /// `warm_makespan` and `p50_latency`, `_interval_low_s` and
    /// `_interval_high_s` (predicted) and `_repetitions_inside_interval` (measured: how many,
    /// predicted: of how many).
    Csv,
    /// JSON: the list of [`RunValidation`]s (what `faastwin report` reads).
    Json,
}

/// Writes validations in `format`.
pub fn write_validations(
    out: &mut dyn std::io::Write,
    validations: &[RunValidation],
    format: ValidationFormat,
) -> Result<(), CalibrationError> {
    let io = |source: std::io::Error| CalibrationError::Measure {
        what: "writing validations".into(),
        source: faastwin_measure::MeasureError::Io {
            path: "standard output".into(),
            source,
        },
    };
    match format {
        ValidationFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, validations).map_err(|e| io(e.into()))?;
            writeln!(out).map_err(io)
        }
        ValidationFormat::Csv => {
            let csv = |e: csv::Error| io(e.into());
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "run",
                "platform",
                "metric",
                "measured",
                "predicted",
                "abs_error",
                "rel_error",
            ])
            .map_err(csv)?;
            for v in validations {
                for m in &v.metrics {
                    w.write_record([
                        &v.run,
                        &v.platform,
                        m.metric.name(),
                        &m.measured.to_string(),
                        &m.predicted.to_string(),
                        &m.abs_error.to_string(),
                        &m.rel_error.to_string(),
                    ])
                    .map_err(csv)?;
                }
                w.write_record([
                    &v.run,
                    &v.platform,
                    "latency_ks_distance",
                    "",
                    &v.latency_ks_distance.to_string(),
                    "",
                    "",
                ])
                .map_err(csv)?;
                if let [low, .., high] = v.measured_makespans_s.as_slice() {
                    for (metric, value) in [
                        ("lowest_warm_makespan_s", low),
                        ("highest_warm_makespan_s", high),
                    ] {
                        w.write_record([
                            &v.run,
                            &v.platform,
                            metric,
                            &value.to_string(),
                            "",
                            "",
                            "",
                        ])
                        .map_err(csv)?;
                    }
                }
                if v.warning.is_some() {
                    w.write_record([&v.run, &v.platform, "extrapolates", "1", "", "", ""])
                        .map_err(csv)?;
                }
                for (what, interval, measured) in v.intervals() {
                    let Some(PredictionInterval { low, high, .. }) = interval else {
                        continue;
                    };
                    let inside = measured
                        .iter()
                        .filter(|m| low <= **m && **m <= high)
                        .count();
                    for (metric, measured, predicted) in [
                        ("interval_low_s", String::new(), low.to_string()),
                        ("interval_high_s", String::new(), high.to_string()),
                        (
                            "repetitions_inside_interval",
                            inside.to_string(),
                            measured.len().to_string(),
                        ),
                    ] {
                        w.write_record([
                            &v.run,
                            &v.platform,
                            &format!("{what}_{metric}"),
                            &measured,
                            &predicted,
                            "",
                            "",
                        ])
                        .map_err(csv)?;
                    }
                }
            }
            w.flush().map_err(io)
        }
        ValidationFormat::Table => write_table(out, validations).map_err(io),
    }
}

fn write_table(out: &mut dyn std::io::Write, validations: &[RunValidation]) -> std::io::Result<()> {
    for v in validations {
        writeln!(out, "run {} ({}): {}", v.run, v.platform, v.scenario)?;
        writeln!(
            out,
            "  {:<20} {:>12} {:>12} {:>12} {:>9}",
            "metric", "measured", "predicted", "abs error", "rel error"
        )?;
        for m in &v.metrics {
            writeln!(
                out,
                "  {:<20} {:>12.4} {:>12.4} {:>12.4} {:>8.1}%",
                m.metric.name(),
                m.measured,
                m.predicted,
                m.abs_error,
                100.0 * m.rel_error
            )?;
        }
        writeln!(
            out,
            "  {:<20} {:>12.3}",
            "latency KS distance", v.latency_ks_distance
        )?;
        if let (Some((low, high)), Some(within)) = (v.measured_spread(), v.within_measured_spread())
        {
            writeln!(
                out,
                "  measured makespans span {:+.1} … {:+.1} % of their median over {} repetitions: the prediction lies {} them",
                100.0 * low,
                100.0 * high,
                v.measured_makespans_s.len(),
                if within { "within" } else { "outside" }
            )?;
        }
        if let Some(warning) = &v.warning {
            writeln!(out, "  warning: {warning}")?;
        }
        for (what, interval, measured) in v.intervals() {
            let Some(i) = interval else {
                continue;
            };
            let inside = measured
                .iter()
                .filter(|m| i.low <= **m && **m <= i.high)
                .count();
            writeln!(
                out,
                "  {:.0} % prediction interval of the {}: {:.4} … {:.4} s (width mostly {}); measured repetitions inside: {inside} of {}",
                100.0 * v.interval_level,
                what.replace('_', " "),
                i.low,
                i.high,
                i.dominant(),
                measured.len()
            )?;
        }
    }
    if validations.len() > 1 {
        writeln!(
            out,
            "median |makespan error| over {} runs: {:.1} %{}",
            validations.len(),
            100.0 * median_abs_makespan_error(validations),
            spread_note(validations)
        )?;
    }
    Ok(())
}
