//! The sweep CSV: one row per grid point and platform, written and read here only.
//!
//! Columns: `point`, one column per swept parameter (its name), `platform`, `replications`,
//! `seed`, then the warm makespan's median, mean, std and 95 % CI, the medians of the p50, p95,
//! p99 and mean Job latency, the startup overhead (empty for persistent platforms), the
//! body share, and the prediction intervals: their level, then the low and high end of the
//! warm makespan's, the p50's, the p95's and the p99's (`warm_makespan_s_interval_low`, ...).

use std::io::{Read, Write};

use super::{SweepPlan, SweepResults};
use crate::SimError;
use crate::interval::{INTERVAL_METRICS, Intervals, RunToRun};
use crate::replicate::PlatformSummary;

/// The columns after the swept parameters.
const COLUMNS: [&str; 14] = [
    "platform",
    "replications",
    "seed",
    "warm_makespan_s",
    "warm_makespan_s_mean",
    "warm_makespan_s_std",
    "warm_makespan_s_ci95_low",
    "warm_makespan_s_ci95_high",
    "p50_latency_s",
    "p95_latency_s",
    "p99_latency_s",
    "mean_latency_s",
    "startup_overhead_s",
    "body_share",
];

/// One row of a sweep CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    /// Grid point index.
    pub point: usize,
    /// Value of each swept parameter, in the table's order.
    pub values: Vec<f64>,
    /// Platform name.
    pub platform: String,
    /// Replications.
    pub replications: usize,
    /// Base seed.
    pub seed: u64,
    /// Warm makespan: median, mean, std, 95 % CI of the mean [s].
    pub warm_makespan_s: [f64; 5],
    /// Medians of the p50, p95, p99 and mean Job latency [s].
    pub latency_s: [f64; 4],
    /// Median startup overhead [s]; `None` for a persistent platform.
    pub startup_overhead_s: Option<f64>,
    /// Median body share of the mean Job latency.
    pub body_share: f64,
    /// Level of the prediction intervals (NaN in a CSV without them).
    pub interval_level: f64,
    /// Prediction intervals (low, high) of the warm makespan and the p50, p95 and p99 Job
    /// latency [s], in [`INTERVAL_METRICS`]' order (NaN where missing).
    pub intervals_s: [[f64; 2]; 4],
}

/// The interval columns' names, in order.
fn interval_columns() -> Vec<String> {
    let mut names = vec!["interval_level".to_owned()];
    for (_, stem) in INTERVAL_METRICS {
        names.push(format!("{stem}_interval_low"));
        names.push(format!("{stem}_interval_high"));
    }
    names
}

/// A sweep CSV as read back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SweepTable {
    /// The swept parameters' names, in column order.
    pub parameters: Vec<String>,
    /// The rows.
    pub rows: Vec<SweepRow>,
}

fn csv_error(what: &str) -> impl Fn(csv::Error) -> SimError + '_ {
    move |source| SimError::Csv {
        what: what.to_owned(),
        source,
    }
}

/// Writes the sweep CSV of `plan`'s results.
pub fn write_csv(
    plan: &SweepPlan,
    results: &SweepResults,
    out: impl Write,
) -> Result<(), SimError> {
    let fail = csv_error("cannot write the sweep CSV");
    let mut w = csv::Writer::from_writer(out);
    let intervals = interval_columns();
    let mut header = vec!["point"];
    header.extend(plan.scenario.file.sweep.iter().map(|a| a.parameter.name()));
    header.extend(COLUMNS);
    header.extend(intervals.iter().map(String::as_str));
    w.write_record(&header).map_err(&fail)?;
    for point in &plan.grid {
        for index in 0..plan.scenario.file.platforms.len() {
            let fits = results
                .get(&(point.index, index))
                .filter(|fits| !fits.is_empty())
                .ok_or_else(|| SimError::Invalid {
                    what: format!("grid point {} has no results", point.index),
                })?;
            let s = PlatformSummary::of(&fits[0], plan.seed)?;
            let name = &plan.scenario.file.platforms[index];
            let calibration = &plan.scenario.calibration;
            let interval = Intervals::of(
                fits,
                &RunToRun::from_calibration(calibration, name),
                &RunToRun::model_error(calibration, name),
                plan.level,
            );
            let st = &s.stats;
            let mut row = vec![point.index.to_string()];
            row.extend(point.values.iter().map(|(_, v)| v.to_string()));
            row.extend([
                s.platform.clone(),
                s.replications.to_string(),
                s.seed.to_string(),
                st.warm_makespan_s.median.to_string(),
                st.warm_makespan_s.mean.to_string(),
                st.warm_makespan_s.std.to_string(),
                st.warm_makespan_s.ci95[0].to_string(),
                st.warm_makespan_s.ci95[1].to_string(),
                st.p50_latency_s.median.to_string(),
                st.p95_latency_s.median.to_string(),
                st.p99_latency_s.median.to_string(),
                st.mean_latency_s.median.to_string(),
                s.startup_overhead_s
                    .map_or(String::new(), |v| v.to_string()),
                st.body_share.median.to_string(),
                interval.level.to_string(),
            ]);
            for i in interval.all() {
                let (low, high) = i.map_or((f64::NAN, f64::NAN), |i| (i.low, i.high));
                row.extend([low.to_string(), high.to_string()]);
            }
            w.write_record(&row).map_err(&fail)?;
        }
    }
    w.flush().map_err(|e| fail(e.into()))
}

/// Reads a sweep CSV; an error names the line and the column (the caller names the file).
/// Only `point`, the swept parameters, `platform` and the warm makespan's median and CI are
/// required; a missing statistic reads as NaN (the startup overhead as none).
pub fn read_csv(input: impl Read) -> Result<SweepTable, SimError> {
    let invalid = |what: String| SimError::Invalid { what };
    let mut reader = csv::Reader::from_reader(input);
    let headers = reader
        .headers()
        .map_err(|source| SimError::Csv {
            what: "the header line".into(),
            source,
        })?
        .clone();
    if headers.get(0) != Some("point") {
        return Err(invalid(
            "not a sweep CSV of faastwin sweep (its first column is `point`)".into(),
        ));
    }
    let column = |name: &str| headers.iter().position(|h| h == name);
    let required = |name: &str| column(name).ok_or_else(|| invalid(format!("no `{name}` column")));
    let platform = required("platform")?;
    let makespan = [
        required("warm_makespan_s")?,
        column("warm_makespan_s_mean").unwrap_or(usize::MAX),
        column("warm_makespan_s_std").unwrap_or(usize::MAX),
        required("warm_makespan_s_ci95_low")?,
        required("warm_makespan_s_ci95_high")?,
    ];
    let latency = [
        "p50_latency_s",
        "p95_latency_s",
        "p99_latency_s",
        "mean_latency_s",
    ]
    .map(|c| column(c).unwrap_or(usize::MAX));
    let optional = |name: &str| column(name).unwrap_or(usize::MAX);
    let interval_columns: Vec<usize> = interval_columns()[1..]
        .iter()
        .map(|c| optional(c))
        .collect();
    let parameters: Vec<String> = headers
        .iter()
        .skip(1)
        .take(platform.saturating_sub(1))
        .map(str::to_owned)
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|source| SimError::Csv {
            what: "a row".into(),
            source,
        })?;
        let line = record.position().map_or(0, |p| p.line());
        // A column the file does not have (usize::MAX) reads as missing.
        let cell = |i: usize| record.get(i);
        let parsed = |i: usize, what: &str| -> Result<Option<f64>, SimError> {
            match cell(i) {
                None => Ok(None),
                Some("") if i == optional("startup_overhead_s") => Ok(None),
                Some(text) => text.parse::<f64>().map(Some).map_err(|_| {
                    invalid(format!(
                        "line {line}, column `{}`: {text:?} is not {what}",
                        &headers[i]
                    ))
                }),
            }
        };
        let number =
            |i: usize| -> Result<f64, SimError> { Ok(parsed(i, "a number")?.unwrap_or(f64::NAN)) };
        let interval_at: Vec<f64> = interval_columns
            .iter()
            .map(|c| number(*c))
            .collect::<Result<_, _>>()?;
        let count = |i: usize| -> Result<u64, SimError> {
            match parsed(i, "a count")? {
                Some(v) if v >= 0.0 && v.fract() == 0.0 => Ok(v as u64),
                Some(v) => Err(invalid(format!(
                    "line {line}, column `{}`: {v} is not a count",
                    &headers[i]
                ))),
                None => Ok(0),
            }
        };
        rows.push(SweepRow {
            point: count(0)? as usize,
            values: (1..platform).map(number).collect::<Result<_, _>>()?,
            platform: cell(platform).unwrap_or("").to_owned(),
            replications: count(optional("replications"))? as usize,
            seed: count(optional("seed"))?,
            warm_makespan_s: [
                number(makespan[0])?,
                number(makespan[1])?,
                number(makespan[2])?,
                number(makespan[3])?,
                number(makespan[4])?,
            ],
            latency_s: [
                number(latency[0])?,
                number(latency[1])?,
                number(latency[2])?,
                number(latency[3])?,
            ],
            startup_overhead_s: parsed(optional("startup_overhead_s"), "a number")?,
            body_share: number(optional("body_share"))?,
            interval_level: number(optional("interval_level"))?,
            intervals_s: [0, 1, 2, 3].map(|i| [interval_at[2 * i], interval_at[2 * i + 1]]),
        });
    }
    Ok(SweepTable { parameters, rows })
}
