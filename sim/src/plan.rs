//! Capacity planning: the cheapest configuration (platform × nodes × partitions × window) that
//! finishes a workload by a deadline with a given probability.
//!
//! Every candidate is a grid point of a sweep (`nodes`, then `partitions_per_node`, then
//! `window`), simulated with the calibration's refits like any sweep, so the probability of
//! meeting the deadline holds the simulation's, the calibration's and the platform's
//! run-to-run variation: the predicted time of one booking is its startup overhead (KSI's
//! per-node clusters; 0 for a standing platform) plus its warm makespan times a run-to-run
//! ratio, over every simulated replication of every refit and every ratio.

use std::path::Path;

use faastwin_models::{SubmitPolicy, quantile};
use serde::{Deserialize, Serialize};

use crate::SimError;
use crate::interval::RunToRun;
use crate::metrics::RunResult;
use crate::scenario::{Scenario, SweepAxis, SweepParameter};
use crate::sweep::{SweepResults, merge, refit_counts, run_units, units};

/// What a plan searches.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSpace {
    /// Node counts.
    pub nodes: Vec<u32>,
    /// Partitions per node.
    pub partitions_per_node: Vec<u32>,
    /// Window sizes (empty: the scenario's own policy).
    pub windows: Vec<u32>,
}

/// What a plan must meet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deadline {
    /// From booking to the last completion [s].
    pub seconds: f64,
    /// With at least this probability.
    pub probability: f64,
}

/// How a plan simulates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanRun {
    /// Base seed (the same at every candidate: common random numbers).
    pub seed: u64,
    /// Replications per candidate (the refits get a share each).
    pub replications: u32,
    /// Threads.
    pub threads: usize,
}

/// One configuration, predicted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Platform name.
    pub platform: String,
    /// Nodes booked.
    pub nodes: u32,
    /// Partitions (nodes × partitions per node).
    pub partitions: u32,
    /// Window size; `None`: the scenario's policy.
    pub window: Option<u32>,
    /// Probability that the booking ends by the deadline.
    pub chance: f64,
    /// The predicted time from booking to the last completion at the deadline's
    /// probability: the shortest time that at least that share of the predictions reach
    /// (the inverse of their empirical distribution), so the candidate meets the deadline
    /// exactly when this is within it [s].
    pub time_s: f64,
    /// Its median [s].
    pub median_time_s: f64,
    /// Cost: nodes × the mean predicted time [node-hours].
    pub node_hours: f64,
    /// Whether it meets the deadline at its probability.
    pub meets: bool,
}

/// A plan: every candidate, the choice and the runner-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The deadline [s].
    pub deadline_s: f64,
    /// Its probability.
    pub probability: f64,
    /// Every configuration searched, platform-major in the scenario's order, then by nodes,
    /// partitions per node and window.
    pub candidates: Vec<Candidate>,
    /// Index of the cheapest that meets the deadline (ties: the faster); `None`: none does.
    pub choice: Option<usize>,
    /// Index of the next cheapest that meets it.
    pub runner_up: Option<usize>,
}

/// Checks `space` against `scenario` before any simulation: values present and positive, and
/// windows only for a closed-loop policy.
fn check(scenario: &Scenario, space: &PlanSpace, deadline: Deadline) -> Result<(), SimError> {
    let invalid = |what: String| Err(SimError::Invalid { what });
    for (name, values) in [
        ("nodes", &space.nodes),
        ("partitions per node", &space.partitions_per_node),
    ] {
        if values.is_empty() || values.contains(&0) {
            return invalid(format!("{name}: give one or more counts of at least 1"));
        }
    }
    if space.windows.contains(&0) {
        return invalid("windows: a window holds at least 1 Job".into());
    }
    if !space.windows.is_empty()
        && !matches!(
            scenario.workload.policy,
            SubmitPolicy::Sequential | SubmitPolicy::Window { .. }
        )
    {
        return invalid(format!(
            "windows apply to a closed-loop policy (sequential or window); the scenario submits {}",
            scenario.workload.policy.describe()
        ));
    }
    if !(deadline.seconds.is_finite() && deadline.seconds > 0.0) {
        return invalid(format!("the deadline {} s is not a time", deadline.seconds));
    }
    if !(deadline.probability > 0.0 && deadline.probability < 1.0) {
        return invalid(format!(
            "the probability {} is not between 0 and 1",
            deadline.probability
        ));
    }
    Ok(())
}

/// The sweep axes of `space`: nodes, then partitions per node, then windows.
fn axes(space: &PlanSpace) -> Vec<SweepAxis> {
    let axis = |parameter, values: &[u32]| SweepAxis {
        parameter,
        values: values.iter().map(|v| f64::from(*v)).collect(),
    };
    let mut axes = vec![
        axis(SweepParameter::Nodes, &space.nodes),
        axis(
            SweepParameter::PartitionsPerNode,
            &space.partitions_per_node,
        ),
    ];
    if !space.windows.is_empty() {
        axes.push(axis(SweepParameter::Window, &space.windows));
    }
    axes
}

/// The scenario file of `scenario`'s plan over `space` (its sweep axes; the files it names
/// made absolute from `base`, the original file's folder), to be written anywhere and run as a
/// sweep, e.g. a Slurm job array; checked as [`plan`] checks it.
pub fn search_file(
    scenario: &Scenario,
    space: &PlanSpace,
    deadline: Deadline,
    base: &Path,
) -> Result<String, SimError> {
    check(scenario, space, deadline)?;
    searched(scenario, space)?;
    let mut file = scenario.file.clone();
    file.sweep = axes(space);
    if file.calibration != crate::scenario::EMBEDDED {
        file.calibration = base.join(&file.calibration).display().to_string();
    }
    if let crate::scenario::PolicySpec::Arrivals { file: arrivals } = &mut file.workload.policy {
        *arrivals = base.join(&*arrivals);
    }
    toml::to_string(&file).map_err(|e| SimError::Invalid {
        what: format!("cannot write the plan's search as a scenario: {e}"),
    })
}

/// `scenario` with `space` as its sweep grid.
fn searched(scenario: &Scenario, space: &PlanSpace) -> Result<Scenario, SimError> {
    let mut out = scenario.clone();
    out.file.sweep = axes(space);
    for point in out.grid() {
        point.workload.validate().map_err(|e| SimError::Invalid {
            what: format!(
                "candidate {}: {e}",
                crate::scenario::describe(&point.values)
            ),
        })?;
    }
    Ok(out)
}

/// The number of simulations `plan` will run (for progress).
pub fn simulations(scenario: &Scenario, space: &PlanSpace, replications: u32) -> usize {
    let points = space.nodes.len() * space.partitions_per_node.len() * space.windows.len().max(1);
    units(points, &refit_counts(scenario), replications).len()
}

/// Searches `space` for the cheapest configuration of `scenario`'s workload, on each of its
/// platforms, that meets `deadline`. `progress` is called after each simulation.
pub fn plan(
    scenario: &Scenario,
    space: &PlanSpace,
    deadline: Deadline,
    run: PlanRun,
    progress: &(dyn Fn() + Sync),
) -> Result<Plan, SimError> {
    check(scenario, space, deadline)?;
    let search = searched(scenario, space)?;
    let grid = search.grid();
    let refits = refit_counts(&search);
    let all = units(grid.len(), &refits, run.replications);
    let results = run_units(&search, &grid, run.seed, &all, run.threads, progress)?;
    let chunk = crate::sweep::ChunkFile {
        scenario_hash: String::new(),
        chunk: 0,
        chunks: 1,
        results,
    };
    let platforms = &search.file.platforms;
    let merged = merge(
        &[chunk],
        "",
        grid.len(),
        platforms,
        &refits,
        run.replications,
    )?;
    evaluate(&search, &merged, deadline)
}

/// The plan from the simulated `results` of `search` (a plan's search, as [`search_file`]
/// writes it, run as a sweep): every grid point and platform a candidate.
pub fn evaluate(
    search: &Scenario,
    results: &SweepResults,
    deadline: Deadline,
) -> Result<Plan, SimError> {
    let grid = search.grid();
    let mut candidates = Vec::new();
    for (index, name) in search.file.platforms.iter().enumerate() {
        // The run-to-run variation and the model's held-out error, as the intervals take them.
        let ratios = crate::interval::combined(
            &RunToRun::from_calibration(&search.calibration, name).warm_makespan,
            &RunToRun::model_error(&search.calibration, name).warm_makespan,
        );
        for point in &grid {
            let fits = results
                .get(&(point.index, index))
                .ok_or_else(|| SimError::Invalid {
                    what: format!("no results for {name} at grid point {}", point.index),
                })?;
            let times = booking_times(fits, &ratios);
            candidates.push(candidate(name, &point.workload, &times, deadline));
        }
    }
    let (choice, runner_up) = choose(&candidates);
    Ok(Plan {
        deadline_s: deadline.seconds,
        probability: deadline.probability,
        candidates,
        choice,
        runner_up,
    })
}

/// Every predicted time from booking to the last completion: each simulated replication (of
/// every refit where there are refits, as the intervals take them) with its warm makespan
/// times every run-to-run ratio.
fn booking_times(fits: &[Vec<RunResult>], ratios: &[f64]) -> Vec<f64> {
    let groups = if fits.len() > 1 { &fits[1..] } else { fits };
    let ratios = if ratios.is_empty() {
        &[1.0][..]
    } else {
        ratios
    };
    let mut times = Vec::new();
    for r in groups.iter().flatten() {
        let startup = r.startup_overhead_s.unwrap_or(0.0);
        times.extend(ratios.iter().map(|m| startup + r.warm_makespan_s * m));
    }
    times
}

fn candidate(
    platform: &str,
    workload: &crate::Workload,
    times: &[f64],
    deadline: Deadline,
) -> Candidate {
    let within = times.iter().filter(|t| **t <= deadline.seconds).count();
    let chance = within as f64 / times.len().max(1) as f64;
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let time_s = at_least(times, deadline.probability);
    Candidate {
        platform: platform.to_owned(),
        nodes: workload.nodes,
        partitions: workload.partitions,
        window: match workload.policy {
            SubmitPolicy::Window { size } => Some(size),
            _ => None,
        },
        chance,
        time_s,
        median_time_s: quantile::of(times, 0.5).unwrap_or(f64::NAN),
        node_hours: f64::from(workload.nodes) * mean / 3600.0,
        meets: time_s <= deadline.seconds,
    }
}

/// The shortest of `times` that at least a share `p` of them reach (NaN without times).
fn at_least(times: &[f64], p: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Less a rounding error: 0.9 x 10 must give the 9th, not the 10th.
    let k = (p * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted
        .get(k.clamp(1, sorted.len().max(1)) - 1)
        .copied()
        .unwrap_or(f64::NAN)
}

/// The cheapest candidate that meets its deadline and the next cheapest (ties: the faster).
fn choose(candidates: &[Candidate]) -> (Option<usize>, Option<usize>) {
    let mut meeting: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].meets)
        .collect();
    meeting.sort_by(|&a, &b| {
        let (a, b) = (&candidates[a], &candidates[b]);
        a.node_hours
            .total_cmp(&b.node_hours)
            .then(a.time_s.total_cmp(&b.time_s))
    });
    (meeting.first().copied(), meeting.get(1).copied())
}

impl Plan {
    /// The cheapest candidate of `platform` that meets the deadline (ties: the faster).
    pub fn cheapest(&self, platform: &str) -> Option<&Candidate> {
        self.candidates
            .iter()
            .filter(|c| c.platform == platform && c.meets)
            .min_by(|a, b| {
                a.node_hours
                    .total_cmp(&b.node_hours)
                    .then(a.time_s.total_cmp(&b.time_s))
            })
    }

    /// Each platform's frontier: cheapest first, each candidate at least 1 % faster (at the
    /// deadline's probability) than every cheaper one of its platform, so that configurations
    /// no other beats on both cost and time stay and near ties of simulation noise go.
    pub fn frontier(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.candidates.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&self.candidates[a], &self.candidates[b]);
            a.platform
                .cmp(&b.platform)
                .then(a.node_hours.total_cmp(&b.node_hours))
                .then(a.time_s.total_cmp(&b.time_s))
        });
        let mut out = Vec::new();
        let mut best: Option<(&str, f64)> = None;
        for i in order {
            let c = &self.candidates[i];
            let faster = match best {
                Some((platform, time)) if platform == c.platform => c.time_s < 0.99 * time,
                _ => true,
            };
            if faster {
                best = Some((&c.platform, c.time_s));
                out.push(i);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(platform: &str, node_hours: f64, time_s: f64, meets: bool) -> Candidate {
        Candidate {
            platform: platform.into(),
            nodes: 1,
            partitions: 1,
            window: None,
            chance: if meets { 1.0 } else { 0.0 },
            time_s,
            median_time_s: time_s,
            node_hours,
            meets,
        }
    }

    #[test]
    fn the_choice_is_the_cheapest_that_meets_and_the_frontier_drops_the_beaten() {
        let candidates = vec![
            candidate("a", 1.0, 100.0, false),
            candidate("a", 2.0, 50.0, true),
            candidate("a", 3.0, 60.0, true),
            candidate("b", 2.0, 40.0, true),
            candidate("b", 1.5, 70.0, true),
        ];
        assert_eq!(choose(&candidates), (Some(4), Some(3)));
        let plan = Plan {
            deadline_s: 80.0,
            probability: 0.9,
            candidates,
            choice: None,
            runner_up: None,
        };
        // a: 1.0/100 and 2.0/50 (3.0/60 is beaten); b: 1.5/70 and 2.0/40.
        assert_eq!(plan.frontier(), vec![0, 1, 4, 3]);
    }

    /// The time at a probability is the one the deadline test uses: a candidate meets its
    /// deadline exactly when that time is within it.
    #[test]
    fn the_time_at_a_probability_agrees_with_the_chance_of_meeting_the_deadline() {
        let times: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(at_least(&times, 0.95), 10.0);
        assert_eq!(at_least(&times, 0.9), 9.0);
        assert_eq!(at_least(&times, 0.5), 5.0);
        assert!(at_least(&[], 0.5).is_nan());
        for p in [0.5, 0.8, 0.9, 0.95, 0.99] {
            for d in [0.5, 4.5, 5.0, 8.9, 9.0, 9.5, 10.0, 11.0] {
                let within = times.iter().filter(|t| **t <= d).count() as f64 / 10.0;
                assert_eq!(within >= p, at_least(&times, p) <= d, "p {p}, deadline {d}");
            }
        }
    }

    #[test]
    fn booking_times_add_the_startup_and_scale_the_warm_makespan_by_every_ratio() {
        let run = |startup: Option<f64>, warm: f64| RunResult {
            platform: "p".into(),
            seed: 0,
            invocations: 1,
            warm_makespan_s: warm,
            partition_makespans_s: vec![warm],
            latency: Default::default(),
            startup_overhead_s: startup,
            decomposition: Default::default(),
            mean_client_gap_s: 0.0,
            body_share: 0.0,
            utilisation: Vec::new(),
            events: 0,
            end_s: warm,
        };
        let fits = vec![vec![run(Some(50.0), 100.0)]];
        assert_eq!(booking_times(&fits, &[0.5, 1.0]), [100.0, 150.0]);
        // With refits, the refits alone (as the intervals take them).
        let fits = vec![
            vec![run(None, 1.0)],
            vec![run(None, 10.0)],
            vec![run(None, 20.0)],
        ];
        assert_eq!(booking_times(&fits, &[]), [10.0, 20.0]);
    }
}
