//! What `faastwin simulate` reports, computed in one pass and written as a table, CSV or JSON.
//! The JSON form ([`SimulationReport`]) is also what `faastwin report` reads back.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::SimError;
use crate::interval::{
    INTERVAL_METRICS, Intervals, PredictionInterval, RunToRun, refit_replications, refit_seed,
};
use crate::platform::Stage;
use crate::replicate::{PlatformSummary, Stats, replicate, replicate_traced};
use crate::scenario::Scenario;
use crate::trace::TraceSink;
use crate::workload::Workload;

/// The type-7 estimator, as measurement and validation use.
pub const QUANTILES_TYPE_7: &str = "type 7 (linear interpolation between order statistics)";
/// Quantiles from the sketch, above the exact limit.
pub const QUANTILES_SKETCH: &str =
    "DDSketch with 0.1 % relative error (runs above 100000 invocations); type 7 below";

/// The documented JSON output of `faastwin simulate --format json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    /// The scenario file.
    pub scenario: String,
    /// Its description.
    pub description: String,
    /// Base seed.
    pub seed: u64,
    /// Replications per platform.
    pub replications: u32,
    /// How latency quantiles were estimated.
    pub quantile_estimator: String,
    /// One summary per platform, in the scenario's order.
    pub platforms: Vec<PlatformSummary>,
}

/// How [`simulate_scenario`] runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimulateOptions {
    /// Base seed.
    pub seed: u64,
    /// Replications per platform.
    pub replications: u32,
    /// Threads to run them on.
    pub threads: usize,
    /// Level of the prediction intervals (0.9: 5th to 95th percentile).
    pub level: f64,
}

impl SimulateOptions {
    /// The simulations `scenario` takes: every platform's replications and its refits'.
    pub fn simulations(&self, scenario: &Scenario) -> u64 {
        scenario
            .file
            .platforms
            .iter()
            .map(|name| {
                let refits = scenario.calibration.refits.get(name).map_or(0, Vec::len);
                u64::from(self.replications)
                    + refits as u64 * u64::from(refit_replications(self.replications, refits))
            })
            .sum()
    }
}

/// Simulates every platform of `scenario` on `workload` as `options` say: in parallel, or,
/// with a `trace`, one replication after another streaming every invocation to it (the
/// statistics come from the same pass). Each platform's refits (`calibrate --refits`) are
/// simulated too, for its prediction intervals. `progress` is called after each simulation.
pub fn simulate_scenario(
    scenario: &Scenario,
    workload: &Workload,
    options: SimulateOptions,
    mut trace: Option<&mut dyn TraceSink>,
    progress: &(dyn Fn() + Sync),
) -> Result<SimulationReport, SimError> {
    let SimulateOptions {
        seed,
        replications,
        threads,
        level,
    } = options;
    let mut platforms = Vec::new();
    for name in &scenario.file.platforms {
        let platform = scenario.calibration.compile(name, workload.body)?;
        let runs = match trace.as_deref_mut() {
            Some(sink) => {
                replicate_traced(&platform, workload, seed, replications, sink, progress)?
            }
            None => replicate(&platform, workload, seed, replications, threads, progress)?,
        };
        let mut summary = PlatformSummary::of(&runs, seed)?;
        let mut fits = vec![runs];
        let refits = scenario.calibration.refit_calibrations(name);
        for (i, refit) in refits.iter().enumerate() {
            let platform = refit.compile(name, workload.body)?;
            let each = refit_replications(replications, refits.len());
            fits.push(replicate(
                &platform,
                workload,
                refit_seed(seed, i),
                each,
                threads,
                progress,
            )?);
        }
        summary.intervals = Some(Intervals::of(
            &fits,
            &RunToRun::from_calibration(&scenario.calibration, name),
            &RunToRun::model_error(&scenario.calibration, name),
            level,
        ));
        platforms.push(summary);
    }
    let exact = platforms.iter().all(|p| p.quantiles_exact);
    Ok(SimulationReport {
        scenario: scenario.origin.clone(),
        description: scenario.file.description.clone(),
        seed,
        replications,
        quantile_estimator: if exact {
            QUANTILES_TYPE_7
        } else {
            QUANTILES_SKETCH
        }
        .to_owned(),
        platforms,
    })
}

/// The prediction interval of metric `csv_name` (a CSV name of [`metrics`]) in `s`, with its
/// level.
fn interval_of(s: &PlatformSummary, csv_name: &str) -> Option<(f64, PredictionInterval)> {
    let intervals = s.intervals.as_ref()?;
    let i = INTERVAL_METRICS.iter().position(|(_, n)| *n == csv_name)?;
    Some((intervals.level, intervals.all()[i]?))
}

/// The run-level metrics of a summary: table label, CSV name, statistics (`None`: not defined
/// for this platform).
fn metrics(s: &PlatformSummary) -> [(&'static str, &'static str, Option<&Stats>); 7] {
    let st = &s.stats;
    [
        (
            "warm makespan [s]",
            "warm_makespan_s",
            Some(&st.warm_makespan_s),
        ),
        (
            "p50 Job latency [s]",
            "p50_latency_s",
            Some(&st.p50_latency_s),
        ),
        (
            "p95 Job latency [s]",
            "p95_latency_s",
            Some(&st.p95_latency_s),
        ),
        (
            "p99 Job latency [s]",
            "p99_latency_s",
            Some(&st.p99_latency_s),
        ),
        (
            "mean Job latency [s]",
            "mean_latency_s",
            Some(&st.mean_latency_s),
        ),
        (
            "startup overhead [s]",
            "startup_overhead_s",
            st.startup_overhead_s.as_ref(),
        ),
        (
            "body share of mean latency",
            "body_share",
            Some(&st.body_share),
        ),
    ]
}

fn io(source: std::io::Error) -> SimError {
    SimError::Io {
        path: "standard output".into(),
        source,
    }
}

impl SimulationReport {
    /// The table's prediction intervals: what they hold, then one line per metric and
    /// platform with the source most of its width comes from.
    fn write_intervals(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let Some(first) = self.platforms.iter().find_map(|p| p.intervals.as_ref()) else {
            return Ok(());
        };
        writeln!(out)?;
        writeln!(out, "{}", first.describe())?;
        for (i, (label, _)) in INTERVAL_METRICS.iter().enumerate() {
            for s in &self.platforms {
                let Some(interval) = s.intervals.as_ref().and_then(|x| x.all()[i]) else {
                    continue;
                };
                writeln!(
                    out,
                    "  {:<26} {:<8} {:>10.3} … {:<10.3} (width mostly from {})",
                    format!("{label} [s]"),
                    s.platform,
                    interval.low,
                    interval.high,
                    interval.dominant()
                )?;
            }
        }
        Ok(())
    }

    /// Writes the JSON form.
    pub fn write_json(&self, mut out: impl Write) -> Result<(), SimError> {
        serde_json::to_writer_pretty(&mut out, self).map_err(|source| SimError::Json {
            what: "cannot write the simulation report".into(),
            source,
        })?;
        writeln!(out).map_err(io)
    }

    /// Writes the long CSV: metric, platform, median, mean, std, min, max, ci95_low, ci95_high,
    /// replications, seed, and the prediction interval's level, low and high end (empty for a
    /// metric without one).
    pub fn write_csv(&self, out: impl Write) -> Result<(), SimError> {
        let fail = |source| SimError::Csv {
            what: "cannot write the simulation CSV".into(),
            source,
        };
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "metric",
            "platform",
            "median",
            "mean",
            "std",
            "min",
            "max",
            "ci95_low",
            "ci95_high",
            "replications",
            "seed",
            "interval_level",
            "interval_low",
            "interval_high",
        ])
        .map_err(fail)?;
        for s in &self.platforms {
            for (_, metric, st) in metrics(s) {
                let Some(st) = st else { continue };
                let (level, low, high) = match interval_of(s, metric) {
                    Some((level, i)) => (level.to_string(), i.low.to_string(), i.high.to_string()),
                    None => Default::default(),
                };
                w.write_record([
                    metric.to_owned(),
                    s.platform.clone(),
                    st.median.to_string(),
                    st.mean.to_string(),
                    st.std.to_string(),
                    st.min.to_string(),
                    st.max.to_string(),
                    st.ci95[0].to_string(),
                    st.ci95[1].to_string(),
                    st.n.to_string(),
                    s.seed.to_string(),
                    level,
                    low,
                    high,
                ])
                .map_err(fail)?;
            }
        }
        w.flush().map_err(io)
    }

    /// Writes the study's tables: run-level metrics, the mean latency decomposition and the
    /// utilisation of shared resources.
    pub fn write_table(&self, w: &Workload, mut out: impl Write) -> Result<(), SimError> {
        self.write_table_to(w, &mut out).map_err(io)
    }

    fn write_table_to(&self, w: &Workload, out: &mut dyn Write) -> std::io::Result<()> {
        let summaries = &self.platforms;
        writeln!(out, "scenario: {}", self.scenario)?;
        if !self.description.is_empty() {
            writeln!(out, "          {}", self.description)?;
        }
        writeln!(
            out,
            "workload: {}, {} invocations, {} partitions on {} nodes, input {:.0} B (mean), {}",
            w.body,
            w.invocations,
            w.partitions,
            w.nodes,
            w.input_bytes.mean(),
            w.policy.describe()
        )?;
        writeln!(
            out,
            "runs:     {} replications per platform, seed {}",
            self.replications, self.seed
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "{:<28} {:<8} {:>10} {:>10} {:>9} {:>10} {:>10}   {:<21}",
            "metric", "platform", "median", "mean", "std", "min", "max", "95% CI of mean"
        )?;
        let Some(first) = summaries.first() else {
            return Ok(());
        };
        for (i, (label, _, _)) in metrics(first).iter().enumerate() {
            for s in summaries {
                match metrics(s)[i].2 {
                    Some(st) => writeln!(
                        out,
                        "{:<28} {:<8} {:>10.3} {:>10.3} {:>9.3} {:>10.3} {:>10.3}   [{:.3}, {:.3}]",
                        label,
                        s.platform,
                        st.median,
                        st.mean,
                        st.std,
                        st.min,
                        st.max,
                        st.ci95[0],
                        st.ci95[1]
                    )?,
                    None => writeln!(out, "{:<28} {:<8} {:>10}", label, s.platform, "n/a")?,
                }
            }
        }
        self.write_intervals(out)?;
        writeln!(out)?;
        write!(out, "{:<28}", "mean latency decomposition")?;
        for s in summaries {
            write!(out, " {:>20}", s.platform)?;
        }
        writeln!(out)?;
        for (i, stage) in Stage::ALL.iter().enumerate() {
            write!(out, "  {:<26}", format!("{} [s]", stage.name()))?;
            for s in summaries {
                let v = s.decomposition.as_array()[i];
                let total: f64 = s.decomposition.as_array().iter().sum();
                write!(out, " {:>11.3} ({:>5.1}%)", v, 100.0 * v / total)?;
            }
            writeln!(out)?;
        }
        write!(out, "  {:<26}", "client gap [s]")?;
        for s in summaries {
            write!(out, " {:>11.3} {:>8}", s.mean_client_gap_s, "")?;
        }
        writeln!(out)?;
        let mut any = false;
        for s in summaries {
            for u in &s.utilisation {
                if !any {
                    writeln!(
                        out,
                        "\nutilisation of shared resources (mean over instances and replications)"
                    )?;
                    any = true;
                }
                writeln!(
                    out,
                    "  {:<8} {:<20} {:>6.1}%",
                    s.platform,
                    u.resource,
                    100.0 * u.utilisation
                )?;
            }
        }
        Ok(())
    }
}
