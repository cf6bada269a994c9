//! `summary.csv`: the study's run-level metrics, one row per repetition.

use std::collections::BTreeMap;
use std::path::Path;

use faastwin_models::quantile;
use serde::Serialize;

use crate::{InvocationRecord, MeasureError};

/// Run-level metrics of one repetition (warm invocations only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepetitionSummary {
    /// Run id.
    pub run_id: String,
    /// Platform.
    pub platform: faastwin_models::PlatformKind,
    /// Repetition.
    pub repetition: u32,
    /// Invocations recorded (all attempts, warm-up included).
    pub invocations: usize,
    /// Warm invocations that succeeded.
    pub warm_succeeded: usize,
    /// Invocations that no attempt brought to success.
    pub failed: usize,
    /// Max over partitions of (last warm completion − first warm submission) [s].
    pub warm_makespan_s: Option<f64>,
    /// Per-partition warm makespans [s], `;`-separated by partition index.
    pub partition_makespans_s: String,
    /// Job latency quantiles (type 7) [s].
    pub p50_latency_s: Option<f64>,
    /// 95th percentile [s].
    pub p95_latency_s: Option<f64>,
    /// 99th percentile [s].
    pub p99_latency_s: Option<f64>,
    /// Mean Job latency [s].
    pub mean_latency_s: Option<f64>,
    /// Mean function body [s].
    pub mean_body_s: Option<f64>,
    /// Mean body / mean Job latency.
    pub body_share: Option<f64>,
    /// Launch until ready [s] (KSI), else empty.
    pub startup_overhead_s: Option<f64>,
    /// Mean Job latency of each partition's first invocation [s]: the cold start (on KSI, the
    /// first Job on a fresh cluster), reported apart from the warm metrics.
    pub first_job_latency_s: Option<f64>,
}

/// Summarises records per repetition. `startup_overhead_s` comes from the platform (KSI).
pub fn summarise(
    records: &[InvocationRecord],
    startup_overhead_s: Option<f64>,
) -> Vec<RepetitionSummary> {
    let mut by_rep: BTreeMap<u32, Vec<&InvocationRecord>> = BTreeMap::new();
    for r in records {
        by_rep.entry(r.repetition).or_default().push(r);
    }
    by_rep
        .into_iter()
        .map(|(repetition, rows)| {
            let warm: Vec<&&InvocationRecord> =
                rows.iter().filter(|r| !r.warmup && r.succeeded()).collect();
            // A partition's makespan is the sum of its spans in each session: the time a run
            // stood stopped before `--resume` is not part of it.
            let mut spans: BTreeMap<(u32, u32), (u64, u64)> = BTreeMap::new();
            for r in &warm {
                if let (Some(s), Some(d)) = (r.t_submit, r.t_done_seen) {
                    let e = spans.entry((r.partition, r.session)).or_insert((s, d));
                    e.0 = e.0.min(s);
                    e.1 = e.1.max(d);
                }
            }
            let mut partitions: BTreeMap<u32, f64> = BTreeMap::new();
            for ((partition, _), (s, d)) in spans {
                *partitions.entry(partition).or_insert(0.0) += d.saturating_sub(s) as f64 / 1e9;
            }
            let makespans: Vec<f64> = partitions.into_values().collect();
            let mut latencies: Vec<f64> = warm.iter().filter_map(|r| r.e2e_s).collect();
            latencies.sort_by(f64::total_cmp);
            let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            let bodies: Vec<f64> = warm.iter().filter_map(|r| r.body_s).collect();
            let mean_latency_s = mean(&latencies);
            let first: Vec<f64> = rows
                .iter()
                .filter(|r| r.seq == 0 && r.succeeded())
                .filter_map(|r| r.e2e_s)
                .collect();
            let mean_body_s = mean(&bodies);
            RepetitionSummary {
                run_id: rows[0].run_id.clone(),
                platform: rows[0].platform,
                repetition,
                invocations: rows.len(),
                warm_succeeded: warm.len(),
                failed: crate::record::invocations_and_failures(rows.iter().copied()).1,
                warm_makespan_s: makespans.iter().copied().reduce(f64::max),
                partition_makespans_s: makespans
                    .iter()
                    .map(|m| format!("{m:.6}"))
                    .collect::<Vec<_>>()
                    .join(";"),
                p50_latency_s: quantile::sorted(&latencies, 0.5),
                p95_latency_s: quantile::sorted(&latencies, 0.95),
                p99_latency_s: quantile::sorted(&latencies, 0.99),
                mean_latency_s,
                mean_body_s,
                body_share: mean_body_s.zip(mean_latency_s).map(|(b, l)| b / l),
                startup_overhead_s,
                first_job_latency_s: mean(&first),
            }
        })
        .collect()
}

/// Writes `summary.csv`.
pub fn write_summary(path: &Path, rows: &[RepetitionSummary]) -> Result<(), MeasureError> {
    let mut w = csv::Writer::from_path(path).map_err(|e| MeasureError::Csv {
        path: path.to_owned(),
        source: e,
    })?;
    for row in rows {
        w.serialize(row).map_err(|e| MeasureError::Csv {
            path: path.to_owned(),
            source: e,
        })?;
    }
    w.flush().map_err(|source| MeasureError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes the per-repetition summaries as an aligned table (what `faastwin measure` prints).
pub fn write_summary_table(
    out: &mut dyn std::io::Write,
    summaries: &[RepetitionSummary],
) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<10} {:>12} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "repetition", "makespan_s", "p50_s", "p95_s", "p99_s", "mean_body_s", "failed"
    )?;
    let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
    for s in summaries {
        writeln!(
            out,
            "{:<10} {:>12} {:>10} {:>10} {:>10} {:>12} {:>10}",
            s.repetition,
            f(s.warm_makespan_s),
            f(s.p50_latency_s),
            f(s.p95_latency_s),
            f(s.p99_latency_s),
            f(s.mean_body_s),
            s.failed
        )?;
    }
    Ok(())
}
