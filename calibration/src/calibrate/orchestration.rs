//! The orchestration stages of each platform kind (client gap aside): how an invocation gets
//! from submission to its body and from its body end to the client seeing completion.

use std::collections::BTreeMap;

use faastwin_measure::InvocationRecord;
use faastwin_models::{Distribution, SizeModel};
use faastwin_sim::{Discipline, OrchestrationStages, ResourceSpec, Scope, StageSpec};

use super::cpu_work::split;
use super::fitter::{Fitter, delay};
use super::relist;
use super::starts::StartSplit;
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

/// Non-negative values of one column of the warm rows.
fn values(warm: &[&InvocationRecord], get: fn(&InvocationRecord) -> Option<f64>) -> Vec<f64> {
    warm.iter()
        .filter_map(|r| get(r))
        .filter(|v| *v >= 0.0)
        .collect()
}

/// Local processes and containers: spawning, starting and reaping take the node's CPU for a
/// share of their wall time and wait (on locks, the kernel, conmon) for the rest. The share
/// comes from the machine's busy CPU time over the runs beyond the bodies' (`run.json`
/// `node_cpu`); runs that did not record it count the whole as CPU work.
pub(super) fn processes(
    f: &mut Fitter<'_>,
    warm: &[&InvocationRecord],
) -> Result<Orchestration, CalibrationError> {
    let at = StartSplit::of(f.runs);
    let (share, how) = (at.share, &at.how);
    let mut o = Orchestration::default();
    o.stages.startup = split(
        f,
        "startup",
        at.values(warm, InvocationRecord::pre_body_s),
        share,
        &format!("spawn requested -> body start (worker clock); {how}"),
    )?;
    o.stages.completion = split(
        f,
        "completion",
        at.values(warm, |r| r.completion_s),
        share,
        &format!("body end -> exit seen (process teardown and reaping); {how}"),
    )?;
    Ok(o)
}

/// Native Slurm: a batch scheduler whose passes come every `sched_interval` and whose slots
/// are the nodes' CPUs (one-CPU jobs), with Slurm's backfill, then the launch.
pub(super) fn slurm(
    f: &mut Fitter<'_>,
    warm: &[&InvocationRecord],
) -> Result<Orchestration, CalibrationError> {
    let info = &f.runs[0].meta.platform;
    let interval = match info.scheduler_interval_s {
        Some(interval) => interval,
        None => {
            f.warnings.push(format!(
                "{}: run.json does not say Slurm's scheduling interval; the model assumes Slurm's default, 60 s (measure the run again to record it)",
                f.runs[0].dir.display()
            ));
            60.0
        }
    };
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
    o.stages.completion = completion_delay(f, warm, None)?;
    Ok(o)
}

/// Body end → completion seen as a plain delay (Slurm and Kubernetes: the platform notices
/// the end; no CPU work of the node's), with `note` after how it was measured.
fn completion_delay(
    f: &mut Fitter<'_>,
    warm: &[&InvocationRecord],
    note: Option<&str>,
) -> Result<Option<StageSpec>, CalibrationError> {
    let measured = "body end (worker clock; no body, on fake nodes: container terminated seen) -> completion first seen";
    let method = match note {
        Some(note) => format!("{measured}; {note}"),
        None => measured.to_owned(),
    };
    Ok(delay(f.fixed(
        "completion",
        values(warm, InvocationRecord::completion_or_container_s),
        &method,
    )?))
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
            values(warm, InvocationRecord::startup_or_container_s),
            "placement first seen -> body start (no body, on fake nodes: -> container terminated seen); negative values (clock skew) left out",
        )?);
    } else {
        o.stages.control_plane = delay(f.fixed(
            "control_plane",
            values(warm, InvocationRecord::pre_body_s),
            "submit -> body start: placement was seen for fewer than half the invocations",
        )?);
    }
    // Where the pods' terminated instants keep the kubelet's relist clock, the provenance says
    // so (fake nodes keep none: kwok ends their containers at once).
    let relist = relist::read(warm).ok();
    o.stages.completion = completion_delay(f, warm, relist.as_ref().map(|r| r.how.as_str()))?;
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

#[cfg(test)]
mod tests {
    use crate::runs::kept;

    /// Fake nodes (kwok) run no body: startup ends when the container is seen terminated and
    /// completion starts there. Records with a body never take that fallback.
    #[test]
    fn without_a_body_startup_and_completion_meet_at_the_container_terminated_seen() {
        let run = kept("k8s-2/run-A-small");
        let mut r = run.warm().next().unwrap().clone();
        let s = 1_000_000_000u64;
        (r.t_scheduled_seen, r.t_terminated_seen, r.t_done_seen) =
            (Some(s), Some(3 * s), Some(7 * s));
        assert_eq!(r.startup_or_container_s(), r.startup_s);
        assert_eq!(r.completion_or_container_s(), r.completion_s);
        r.startup_s = None;
        r.completion_s = None;
        assert_eq!(
            r.startup_or_container_s(),
            None,
            "a body ran, its start is missing"
        );
        assert_eq!(
            r.completion_or_container_s(),
            None,
            "a body ran, its end is missing"
        );
        r.w_body_start = None;
        r.w_body_end = None;
        assert_eq!(r.startup_or_container_s(), Some(2.0));
        assert_eq!(r.completion_or_container_s(), Some(4.0));
        r.t_terminated_seen = None;
        assert_eq!(
            (r.startup_or_container_s(), r.completion_or_container_s()),
            (None, None)
        );
    }

    /// Where placement was seen for fewer than half the Jobs, the control plane runs to the body
    /// start and no startup is fitted; from half on, both are.
    #[test]
    fn the_control_plane_ends_at_placement_only_if_half_the_jobs_showed_it() {
        let run = kept("k8s-2/run-A-small");
        let mut warm: Vec<faastwin_measure::InvocationRecord> =
            run.warm().take(10).cloned().collect();
        let fit = |warm: &[faastwin_measure::InvocationRecord]| {
            let refs: Vec<&faastwin_measure::InvocationRecord> = warm.iter().collect();
            let mut f = super::Fitter {
                warnings: Vec::new(),
                platform: "k8s",
                runs: &[],
                components: Vec::new(),
            };
            let o = super::kubernetes(&mut f, &refs).unwrap();
            (o.stages.startup.is_some(), f.components[0].method.clone())
        };
        for r in &mut warm[..5] {
            r.t_scheduled_seen = None;
        }
        let (startup, method) = fit(&warm);
        assert!(startup, "half: {method}");
        assert_eq!(method, "submit -> placement first seen");
        warm[5].t_scheduled_seen = None;
        let (startup, method) = fit(&warm);
        assert!(!startup, "four of ten: {method}");
        assert!(method.starts_with("submit -> body start"), "{method}");
    }
}
