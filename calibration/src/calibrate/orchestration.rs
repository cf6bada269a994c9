//! The orchestration stages of each platform kind (client gap aside): how an invocation gets
//! from submission to its body and from its body end to the client seeing completion.

use std::collections::BTreeMap;

use faastwin_measure::InvocationRecord;
use faastwin_models::{Distribution, SizeModel};
use faastwin_sim::{Discipline, OrchestrationStages, ResourceSpec, Scope, StageSpec};

use super::fitter::{Fitter, contention_scaled, delay, on_cores};
use crate::CalibrationError;
use crate::fit::FLOOR_S;

/// What a platform does around the function body.
#[derive(Default)]
pub(super) struct Orchestration {
    /// Shared resources (the Slurm scheduler, the nodes' cores).
    pub(super) resources: BTreeMap<String, ResourceSpec>,
    /// Control plane, startup and completion.
    pub(super) stages: OrchestrationStages,
    /// KSI: launch → the node's cluster answers.
    pub(super) node_startup: Option<Distribution>,
}

/// Submit → body start (worker clock) [s].
fn pre_body(r: &InvocationRecord) -> Option<f64> {
    Some((r.w_body_start? as f64 - r.t_submit? as f64) / 1e9)
}

/// Non-negative values of one column of the warm rows.
fn values(warm: &[&InvocationRecord], get: fn(&InvocationRecord) -> Option<f64>) -> Vec<f64> {
    warm.iter()
        .filter_map(|r| get(r))
        .filter(|v| *v >= 0.0)
        .collect()
}

/// Local processes and containers: spawning, starting and reaping are CPU work on the node's
/// cores, shared with the bodies.
pub(super) fn processes(
    f: &mut Fitter<'_>,
    warm: &[&InvocationRecord],
) -> Result<Orchestration, CalibrationError> {
    let runs = f.runs;
    let mut o = Orchestration::default();
    o.stages.startup = on_cores(f.fixed(
        "startup",
        contention_scaled(warm, runs, pre_body),
        "spawn requested -> body start (worker clock); CPU work on the node's cores",
    )?);
    o.stages.completion = on_cores(f.fixed(
        "completion",
        contention_scaled(warm, runs, |r| r.completion_s),
        "body end -> exit seen (process teardown and reaping); CPU work on the node's cores",
    )?);
    Ok(o)
}

/// Native Slurm: a batch scheduler whose passes come every `sched_interval` and whose slots
/// are the nodes' CPUs (one-CPU jobs), with Slurm's backfill, then the launch.
pub(super) fn slurm(
    f: &mut Fitter<'_>,
    warm: &[&InvocationRecord],
) -> Result<Orchestration, CalibrationError> {
    let info = &f.runs[0].meta.platform;
    let interval = info.scheduler_interval_s.unwrap_or(60.0);
    let poll = info.poll_interval_s.unwrap_or(0.05);
    let discipline = match info.cpus_per_node {
        Some(cpus) => Discipline::Batch {
            interval_s: interval,
            slots_per_node: cpus,
            backfill: true,
        },
        None => Discipline::Cycle {
            interval_s: interval,
        },
    };
    let mut o = Orchestration::default();
    o.resources.insert(
        "scheduler".into(),
        ResourceSpec {
            scope: Scope::Cluster,
            discipline,
        },
    );
    // The job starts at a scheduling cycle; the poller sees it RUNNING within one poll
    // interval after that, so the cycle happened about half a poll before.
    let launch: Vec<f64> = warm
        .iter()
        .filter_map(|r| {
            Some((r.w_body_start? as f64 - r.t_scheduled_seen? as f64) / 1e9 + poll / 2.0)
        })
        .map(|v| v.max(FLOOR_S))
        .collect();
    let launch = if launch.len() >= 2 {
        launch
    } else {
        vec![0.02, 0.02]
    };
    let model = f.fixed(
        "control_plane",
        launch,
        &format!(
            "Slurm's scheduling pass every {interval} s (sched_interval) over the nodes' CPUs, then the launch: body start - (RUNNING first seen - poll/2)"
        ),
    )?;
    o.stages.control_plane = model.map(|d| StageSpec {
        work: Some(SizeModel::fixed(d)),
        resource: Some("scheduler".into()),
        ..StageSpec::default()
    });
    o.stages.completion = completion_delay(f, warm)?;
    Ok(o)
}

/// Body end → completion seen as a plain delay (Slurm and Kubernetes: the platform notices
/// the end; no CPU work of the node's).
fn completion_delay(
    f: &mut Fitter<'_>,
    warm: &[&InvocationRecord],
) -> Result<Option<StageSpec>, CalibrationError> {
    Ok(delay(f.fixed(
        "completion",
        values(warm, completion_of),
        "body end (worker clock; no body, on fake nodes: container terminated seen) -> completion first seen",
    )?))
}

/// Placement seen → body start; for a Job whose pod ran no body (a fake node), placement →
/// the container seen terminated.
pub(super) fn startup_of(r: &InvocationRecord) -> Option<f64> {
    r.startup_s.or_else(|| {
        Some((r.t_terminated_seen? as f64 - r.t_scheduled_seen? as f64) / 1e9)
            .filter(|_| r.w_body_start.is_none())
    })
}

/// Body end → completion seen; with no body, container terminated seen → completion seen.
pub(super) fn completion_of(r: &InvocationRecord) -> Option<f64> {
    r.completion_s.or_else(|| {
        Some((r.t_done_seen? as f64 - r.t_terminated_seen? as f64) / 1e9)
            .filter(|_| r.w_body_end.is_none())
    })
}

/// A Kubernetes cluster (K3s-like): control plane (submit → placement seen), startup
/// (placement → body start) and completion (body end → Job complete seen).
pub(super) fn kubernetes(
    f: &mut Fitter<'_>,
    warm: &[&InvocationRecord],
) -> Result<Orchestration, CalibrationError> {
    let mut o = Orchestration::default();
    let with_scheduled = warm.iter().filter(|r| r.t_scheduled_seen.is_some()).count();
    if with_scheduled * 2 >= warm.len().max(1) {
        o.stages.control_plane = delay(f.fixed(
            "control_plane",
            values(warm, |r| r.control_plane_s),
            "submit -> placement first seen",
        )?);
        o.stages.startup = delay(f.fixed(
            "startup",
            values(warm, startup_of),
            "placement first seen -> body start (no body, on fake nodes: -> container terminated seen); negative values (clock skew) left out",
        )?);
    } else {
        o.stages.control_plane = delay(f.fixed(
            "control_plane",
            values(warm, pre_body),
            "submit -> body start: placement was seen for fewer than half the invocations",
        )?);
    }
    o.stages.completion = completion_delay(f, warm)?;
    Ok(o)
}

/// KSI: a Kubernetes cluster per node, started before the first Job.
pub(super) fn ksi(
    f: &mut Fitter<'_>,
    warm: &[&InvocationRecord],
) -> Result<Orchestration, CalibrationError> {
    let mut o = kubernetes(f, warm)?;
    o.node_startup = node_startup(f)?;
    Ok(o)
}

/// KSI's per-node startup overheads from every run's `ksi-startup.csv`.
fn node_startup(f: &mut Fitter<'_>) -> Result<Option<Distribution>, CalibrationError> {
    let mut values = Vec::new();
    for run in f.runs {
        let nodes = faastwin_measure::ksi::read_startup(&run.dir.join("ksi-startup.csv")).map_err(
            |source| CalibrationError::Measure {
                what: run.label(),
                source,
            },
        )?;
        values.extend(nodes.iter().filter_map(|n| n.overhead_s()));
    }
    if values.len() == 1 {
        values.push(values[0]);
    }
    f.fixed(
        "node_startup",
        values,
        "launch -> first successful API call, per node (ksi-startup.csv)",
    )
}
