//! Independent seeded replications, run in parallel, and their summary statistics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use faastwin_models::{quantile, splitmix64};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::SimError;
use crate::metrics::{Decomposition, RunResult};
use crate::model::simulate;
use crate::platform::{CompiledPlatform, Stage};
use crate::trace::{NoTrace, TraceSink};
use crate::workload::Workload;

/// The seed of replication `r` of a run seeded with `seed`: independent streams that depend on
/// nothing but the two numbers (not on threads or chunking).
pub fn replication_seed(seed: u64, r: u32) -> u64 {
    splitmix64(seed ^ splitmix64(u64::from(r) + 1))
}

/// Runs `replications` replications one after another, streaming every invocation to `trace`
/// (rows never interleave); results in replication order. One pass: the trace and the
/// statistics come from the same simulations.
pub fn replicate_traced(
    platform: &CompiledPlatform,
    workload: &Workload,
    seed: u64,
    replications: u32,
    trace: &mut dyn TraceSink,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<RunResult>, SimError> {
    (0..replications)
        .map(|r| {
            let result = simulate(platform, workload, replication_seed(seed, r), r, trace);
            progress();
            result
        })
        .collect()
}

/// Runs `replications` replications on up to `threads` threads; results in replication order.
/// `progress` is called after each finished replication.
pub fn replicate(
    platform: &CompiledPlatform,
    workload: &Workload,
    seed: u64,
    replications: u32,
    threads: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<RunResult>, SimError> {
    parallel_indexed(
        replications as usize,
        threads,
        "a replication",
        |r| {
            simulate(
                platform,
                workload,
                replication_seed(seed, r as u32),
                r as u32,
                &mut NoTrace,
            )
        },
        progress,
    )
}

/// Runs `run(0..count)` on up to `threads` threads, calling `progress` after each; results in
/// index order, the first error (by index) returned. `what` names one item in the error said
/// when a thread panicked and left an item unrun.
pub(crate) fn parallel_indexed<R: Send>(
    count: usize,
    threads: usize,
    what: &str,
    run: impl Fn(usize) -> Result<R, SimError> + Sync,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<R>, SimError> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<R, SimError>>>> =
        Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, count.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let result = run(i);
                    progress();
                    slots.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(result);
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(SimError::Invalid {
                    what: format!("{what} did not run (a thread panicked)"),
                })
            })
        })
        .collect()
}

/// Statistics of one metric over replications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Number of replications.
    pub n: usize,
    /// Median (type-7 quantile 0.5).
    pub median: f64,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for one replication.
    pub std: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// 95 % confidence interval of the mean (Student's t); equal to the mean for one replication.
    pub ci95: [f64; 2],
}

impl Stats {
    /// Statistics of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Stats> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let half = if n > 1 {
            let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
                .map(|t| t.inverse_cdf(0.975))
                .unwrap_or(f64::NAN);
            t * std / (n as f64).sqrt()
        } else {
            0.0
        };
        Some(Stats {
            n,
            median: quantile::sorted(&sorted, 0.5).unwrap_or(f64::NAN),
            mean,
            std,
            min: sorted[0],
            max: sorted[n - 1],
            ci95: [mean - half, mean + half],
        })
    }
}

/// One platform's results over all replications: the study's run-level table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformSummary {
    /// Platform name.
    pub platform: String,
    /// Base seed of the replications.
    pub seed: u64,
    /// Number of replications.
    pub replications: usize,
    /// Median warm makespan over replications [s].
    pub warm_makespan_s: f64,
    /// Median of the per-run p50 Job latency [s].
    pub p50_latency_s: f64,
    /// Median of the per-run p95 Job latency [s].
    pub p95_latency_s: f64,
    /// Median of the per-run p99 Job latency [s].
    pub p99_latency_s: f64,
    /// Median startup overhead [s]; `None` for a persistent platform.
    pub startup_overhead_s: Option<f64>,
    /// Median share of the function body in the mean Job latency.
    pub body_share: f64,
    /// Mean latency decomposition, averaged over replications [s].
    pub decomposition: Decomposition,
    /// Mean client gap [s].
    pub mean_client_gap_s: f64,
    /// Mean utilisation of each resource over replications.
    pub utilisation: Vec<crate::metrics::Utilisation>,
    /// Every statistic of every metric.
    pub stats: MetricStats,
    /// True when every replication's latency quantiles are exact (type 7); false when some
    /// come from the DDSketch (runs above [`crate::EXACT_LATENCY_LIMIT`] invocations).
    #[serde(default = "yes")]
    pub quantiles_exact: bool,
    /// Prediction intervals of the warm makespan and the latency quantiles (`None` where
    /// they were not asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<crate::interval::Intervals>,
}

fn yes() -> bool {
    true
}

/// The full statistics behind [`PlatformSummary`]'s medians.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricStats {
    /// Warm makespan [s].
    pub warm_makespan_s: Stats,
    /// Per-run p50 Job latency [s].
    pub p50_latency_s: Stats,
    /// Per-run p95 Job latency [s].
    pub p95_latency_s: Stats,
    /// Per-run p99 Job latency [s].
    pub p99_latency_s: Stats,
    /// Per-run mean Job latency [s].
    pub mean_latency_s: Stats,
    /// Startup overhead [s].
    pub startup_overhead_s: Option<Stats>,
    /// Body share.
    pub body_share: Stats,
}

impl PlatformSummary {
    /// Summarises the replications of one platform (at least one).
    pub fn of(runs: &[RunResult], seed: u64) -> Result<PlatformSummary, SimError> {
        let first = runs.first().ok_or_else(|| SimError::Invalid {
            what: "no replications to summarise".into(),
        })?;
        let stats = |f: &dyn Fn(&RunResult) -> f64| {
            Stats::of(&runs.iter().map(f).collect::<Vec<_>>()).unwrap_or_else(unreachable_stats)
        };
        let startup: Vec<f64> = runs.iter().filter_map(|r| r.startup_overhead_s).collect();
        let metric = MetricStats {
            warm_makespan_s: stats(&|r| r.warm_makespan_s),
            p50_latency_s: stats(&|r| r.latency.p50_s),
            p95_latency_s: stats(&|r| r.latency.p95_s),
            p99_latency_s: stats(&|r| r.latency.p99_s),
            mean_latency_s: stats(&|r| r.latency.mean_s),
            startup_overhead_s: Stats::of(&startup),
            body_share: stats(&|r| r.body_share),
        };
        let n = runs.len() as f64;
        let mut decomposition = [0.0; Stage::COUNT];
        for r in runs {
            for (sum, v) in decomposition.iter_mut().zip(r.decomposition.as_array()) {
                *sum += v / n;
            }
        }
        let utilisation = first
            .utilisation
            .iter()
            .enumerate()
            .map(|(i, u)| crate::metrics::Utilisation {
                resource: u.resource.clone(),
                utilisation: runs
                    .iter()
                    .map(|r| r.utilisation[i].utilisation)
                    .sum::<f64>()
                    / n,
            })
            .collect();
        Ok(PlatformSummary {
            platform: first.platform.clone(),
            seed,
            replications: runs.len(),
            warm_makespan_s: metric.warm_makespan_s.median,
            p50_latency_s: metric.p50_latency_s.median,
            p95_latency_s: metric.p95_latency_s.median,
            p99_latency_s: metric.p99_latency_s.median,
            startup_overhead_s: metric.startup_overhead_s.as_ref().map(|s| s.median),
            body_share: metric.body_share.median,
            decomposition: Decomposition::from_array(decomposition),
            mean_client_gap_s: runs.iter().map(|r| r.mean_client_gap_s).sum::<f64>() / n,
            utilisation,
            stats: metric,
            quantiles_exact: runs.iter().all(|r| r.latency.exact),
            intervals: None,
        })
    }
}

fn unreachable_stats() -> Stats {
    // Callers pass at least one run, so `Stats::of` never sees an empty slice.
    Stats {
        n: 0,
        median: f64::NAN,
        mean: f64::NAN,
        std: f64::NAN,
        min: f64::NAN,
        max: f64::NAN,
        ci95: [f64::NAN; 2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_match_hand_computed_values() {
        let s = Stats::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!((s.median, s.mean, s.min, s.max), (2.5, 2.5, 1.0, 4.0));
        assert!((s.std - 1.290_994_448_735_805_6).abs() < 1e-12);
        // t(0.975, 3) = 3.182446305284263
        let half = 3.182_446_305_284_263 * s.std / 2.0;
        assert!((s.ci95[0] - (2.5 - half)).abs() < 1e-9 && (s.ci95[1] - (2.5 + half)).abs() < 1e-9);
        let one = Stats::of(&[5.0]).unwrap();
        assert_eq!((one.std, one.ci95), (0.0, [5.0, 5.0]));
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn replication_seeds_differ_and_do_not_depend_on_anything_else() {
        assert_ne!(replication_seed(1, 0), replication_seed(1, 1));
        assert_ne!(replication_seed(1, 0), replication_seed(2, 0));
        assert_eq!(replication_seed(7, 3), replication_seed(7, 3));
    }
}
