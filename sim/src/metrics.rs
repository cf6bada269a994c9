//! What one simulated run reports, and the latency recorder behind its quantiles.

use serde::{Deserialize, Serialize};

use faastwin_models::quantile;

use crate::engine::{NS_PER_S, SimTime, to_secs};
use crate::platform::Stage;
use crate::sketch::Sketch;

/// Up to this many latencies are kept exactly (type-7 quantiles, the estimator measurement and
/// validation use); beyond it a DDSketch with 0.1 % relative error takes over, so memory stays
/// bounded whatever the number of invocations.
pub const EXACT_LATENCY_LIMIT: usize = 100_000;

/// Records Job latencies [s].
#[derive(Clone, Default)]
pub(crate) struct LatencyRecorder {
    exact: Vec<f64>,
    sketch: Option<Sketch>,
    count: u64,
    /// Exact, so the mean does not depend on the order latencies arrive in.
    sum_ns: u128,
}

impl LatencyRecorder {
    #[inline]
    pub(crate) fn add(&mut self, latency: SimTime) {
        let latency_s = to_secs(latency);
        self.count += 1;
        self.sum_ns += u128::from(latency);
        match &mut self.sketch {
            Some(sketch) => sketch.add(latency_s),
            None if self.exact.len() < EXACT_LATENCY_LIMIT => self.exact.push(latency_s),
            None => {
                let mut sketch = Sketch::default();
                for v in self.exact.drain(..) {
                    sketch.add(v);
                }
                sketch.add(latency_s);
                self.exact = Vec::new();
                self.sketch = Some(sketch);
            }
        }
    }

    pub(crate) fn summary(&mut self) -> LatencySummary {
        let mean_s = if self.count == 0 {
            f64::NAN
        } else {
            self.sum_ns as f64 / self.count as f64 / NS_PER_S
        };
        if let Some(sketch) = &self.sketch {
            let q = |p| sketch.quantile(p).unwrap_or(f64::NAN);
            return LatencySummary {
                mean_s,
                p50_s: q(0.5),
                p95_s: q(0.95),
                p99_s: q(0.99),
                min_s: sketch.min().unwrap_or(f64::NAN),
                max_s: sketch.max().unwrap_or(f64::NAN),
                exact: false,
            };
        }
        self.exact.sort_by(f64::total_cmp);
        let q = |p| quantile::sorted(&self.exact, p).unwrap_or(f64::NAN);
        LatencySummary {
            mean_s,
            p50_s: q(0.5),
            p95_s: q(0.95),
            p99_s: q(0.99),
            min_s: q(0.0),
            max_s: q(1.0),
            exact: true,
        }
    }
}

/// Job latency (submit → completion observed) of one run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Mean [s].
    pub mean_s: f64,
    /// Median [s].
    pub p50_s: f64,
    /// 95th percentile [s].
    pub p95_s: f64,
    /// 99th percentile [s].
    pub p99_s: f64,
    /// Smallest [s].
    pub min_s: f64,
    /// Largest [s].
    pub max_s: f64,
    /// True when quantiles are exact (type 7); false when they come from the sketch (0.1 %).
    pub exact: bool,
}

/// Mean time per invocation in each stage [s] (the study's Figure 6), including waiting for a
/// shared resource; they add up to the mean Job latency.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Decomposition {
    /// Submit → placed.
    pub control_plane_s: f64,
    /// Placed → body starts.
    pub startup_s: f64,
    /// Reading input.
    pub read_s: f64,
    /// Computing.
    pub compute_s: f64,
    /// Writing output.
    pub write_s: f64,
    /// Body ends → completion observed.
    pub completion_s: f64,
}

impl Decomposition {
    /// The mean of one stage [s].
    pub fn of(&self, stage: Stage) -> f64 {
        match stage {
            Stage::ControlPlane => self.control_plane_s,
            Stage::Startup => self.startup_s,
            Stage::Read => self.read_s,
            Stage::Compute => self.compute_s,
            Stage::Write => self.write_s,
            Stage::Completion => self.completion_s,
        }
    }

    /// Stage means in [`Stage::ALL`] order.
    pub fn as_array(&self) -> [f64; Stage::COUNT] {
        Stage::ALL.map(|stage| self.of(stage))
    }

    pub(crate) fn from_array(a: [f64; Stage::COUNT]) -> Self {
        let of = |stage: Stage| a[stage.index()];
        Decomposition {
            control_plane_s: of(Stage::ControlPlane),
            startup_s: of(Stage::Startup),
            read_s: of(Stage::Read),
            compute_s: of(Stage::Compute),
            write_s: of(Stage::Write),
            completion_s: of(Stage::Completion),
        }
    }

    /// Mean function body (read + compute + write) [s].
    pub fn body_s(&self) -> f64 {
        self.read_s + self.compute_s + self.write_s
    }
}

/// Utilisation of one resource over the run: busy share of its capacity, averaged over its
/// instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utilisation {
    /// The resource's name in the calibration.
    pub resource: String,
    /// Busy share, 0–1.
    pub utilisation: f64,
}

/// Everything one simulated run reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Platform name.
    pub platform: String,
    /// Seed of this run.
    pub seed: u64,
    /// Invocations completed.
    pub invocations: u64,
    /// Max over partitions of (last completion − first submission) [s].
    pub warm_makespan_s: f64,
    /// Per-partition makespans [s], by partition index.
    pub partition_makespans_s: Vec<f64>,
    /// Job latency statistics.
    pub latency: LatencySummary,
    /// Launch until every node is ready [s]; `None` for a persistent platform.
    pub startup_overhead_s: Option<f64>,
    /// Mean latency decomposition by stage.
    pub decomposition: Decomposition,
    /// Mean client gap between a completion and the partition's next submission [s].
    pub mean_client_gap_s: f64,
    /// Mean function body / mean Job latency.
    pub body_share: f64,
    /// Utilisation of every resource.
    pub utilisation: Vec<Utilisation>,
    /// Events processed.
    pub events: u64,
    /// Simulated time at the last completion [s].
    pub end_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_exact_up_to_the_limit_and_from_a_sketch_beyond() {
        let mut recorder = LatencyRecorder::default();
        for i in 0..EXACT_LATENCY_LIMIT as u64 {
            recorder.add(1_000_000_000 + i * 1_000);
        }
        let at_limit = recorder.summary();
        assert!(at_limit.exact);
        recorder.add(2_000_000_000);
        let beyond = recorder.summary();
        assert!(!beyond.exact);
        assert_eq!(beyond.max_s, 2.0);
        assert!((beyond.p50_s / at_limit.p50_s - 1.0).abs() < 0.002);
    }
}
