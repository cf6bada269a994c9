//! The orchestration stages of each platform kind (client gap aside): how an invocation gets
//! from submission to its body and from its body end to the client seeing completion.

use std::collections::BTreeMap;

use faastwin_measure::{InvocationRecord, PlatformKind};
use faastwin_models::{Distribution, SizeModel, quantile};
use faastwin_sim::{Discipline, OrchestrationStages, PlatformSpec, ResourceSpec, Scope, StageSpec};

use super::fitter::{Fitter, contention_scaled, delay};
use super::{ComponentFit, contention};
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
    let runs = f.runs;
    let (share, how) = share_and_how(runs);
    let mut o = Orchestration::default();
    o.stages.startup = split(
        f,
        "startup",
        contention_scaled(warm, runs, InvocationRecord::pre_body_s),
        share,
        &format!("spawn requested -> body start (worker clock); {how}"),
    )?;
    o.stages.completion = split(
        f,
        "completion",
        contention_scaled(warm, runs, |r| r.completion_s),
        share,
        &format!("body end -> exit seen (process teardown and reaping); {how}"),
    )?;
    Ok(o)
}

/// The CPU share of start and teardown, and how it was found, in words.
fn share_and_how(runs: &[&crate::runs::Run]) -> (f64, String) {
    match cpu_share(runs) {
        Ok(s) => (
            s,
            format!(
                "{:.0} % of it CPU work on the node's cores (the machine's busy CPU beyond the bodies, over the runs), the rest a wait",
                100.0 * s
            ),
        ),
        Err(why) => (1.0, format!("CPU work on the node's cores ({why})")),
    }
}

/// Below this share of CPU work a stage is all wait, above one minus it all work.
const WHOLE: f64 = 0.02;

/// A stage whose durations are `share` CPU work on the node's cores and the rest a delay,
/// each part fitted (and recorded) as a component of the calibration.
fn split(
    f: &mut Fitter<'_>,
    component: &str,
    values: Vec<f64>,
    share: f64,
    method: &str,
) -> Result<Option<StageSpec>, CalibrationError> {
    split_with(component, &values, share, &mut |c, v| f.fixed(c, v, method))
}

/// Fits one part of a stage: `(component, values)` to its model, `None` without values.
type FitPart<'a> = dyn FnMut(&str, Vec<f64>) -> Result<Option<Distribution>, CalibrationError> + 'a;

/// [`split`] with the parts fitted by `fit_part(component, values)`.
fn split_with(
    component: &str,
    values: &[f64],
    share: f64,
    fit_part: &mut FitPart<'_>,
) -> Result<Option<StageSpec>, CalibrationError> {
    let part = |s: f64| values.iter().map(|v| v * s).collect::<Vec<_>>();
    let work = if share > WHOLE {
        fit_part(component, part(share))?
    } else {
        None
    };
    let wait = if share < 1.0 - WHOLE {
        fit_part(&format!("{component}_wait"), part(1.0 - share))?
    } else {
        None
    };
    Ok((work.is_some() || wait.is_some()).then(|| StageSpec {
        delay: wait.map(SizeModel::fixed),
        resource: work.is_some().then(|| "cores".to_owned()),
        work: work.map(SizeModel::fixed),
    }))
}

/// The container engine's serial path (podman's locks, its database's writes): one FIFO server
/// per node that every container's start passes through.
const ENGINE: &str = "engine";

/// Containers measured at two loads (one at least twice the other): part of each start is
/// serial. With twice the containers in flight the machine's cores stay far from busy (65-69 %
/// at two in flight, 77-85 % at four, docs/loops/container-7..9), so the throughput is held by
/// something one container at a time passes through. `spec`'s startup (fitted from the runs at
/// the lowest load, `low`) gives up a constant serial time to an `engine` FIFO server of one,
/// visited first; the time is chosen so that the simulated mean and p95 latency of every run in
/// `all` fit best, none when none fits better.
pub(super) fn engine_serial(
    f: &mut Fitter<'_>,
    name: &str,
    spec: &mut PlatformSpec,
    low: &[&InvocationRecord],
    all: &[&crate::runs::Run],
) -> Result<(), CalibrationError> {
    let (share, how) = share_and_how(f.runs);
    let starts = contention_scaled(low, f.runs, InvocationRecord::pre_body_s);
    let Some(median) = quantile::of(&starts, 0.5) else {
        return Ok(());
    };
    let what = f.what("startup");
    // The starts less the serial time: the start's CPU work and wait.
    let rest =
        |serial: f64| -> Vec<f64> { starts.iter().map(|v| (v - serial).max(FLOOR_S)).collect() };
    let candidate = |serial: f64| -> Result<PlatformSpec, CalibrationError> {
        let mut s = spec.clone();
        s.stages.startup = split_with("startup", &rest(serial), share, &mut |_, v| {
            Ok(Some(crate::fit::fit(&v, &what)?.model))
        })?;
        if serial > 0.0 {
            s.resources.insert(
                ENGINE.into(),
                ResourceSpec {
                    scope: Scope::Node,
                    discipline: Discipline::Fifo { servers: 1 },
                },
            );
            s.stages.control_plane = Some(StageSpec {
                delay: None,
                resource: Some(ENGINE.into()),
                work: Some(SizeModel::fixed(Distribution::constant(serial).map_err(
                    |source| CalibrationError::Model {
                        what: f.what("engine.serial"),
                        source,
                    },
                )?)),
            });
        }
        Ok(s)
    };
    let best = contention::least_error(median, (), &[()], |serial, ()| {
        contention::latency_error(all, name, &candidate(serial)?)
    })?;
    let (serial, e, none) = (best.time, best.error, best.without);
    if serial == 0.0 {
        return Ok(());
    }
    *spec = candidate(serial)?;
    // The startup's components, recorded again without the serial time.
    f.components
        .retain(|c| c.component != "startup" && c.component != "startup_wait");
    split(
        f,
        "startup",
        rest(serial),
        share,
        &format!(
            "spawn requested -> body start (worker clock) at the lowest load, less the engine's serial {serial:.4} s; {how}"
        ),
    )?;
    let loads: Vec<u32> = all
        .iter()
        .map(|r| contention::in_flight(r, PlatformKind::Container))
        .collect();
    f.components.push(ComponentFit {
        component: "engine.serial".into(),
        rows: all.len(),
        fit: crate::fit::constant_report(serial, &f.what("engine.serial"))?,
        intercept_s: None,
        bytes_range: None,
        method: format!(
            "one FIFO server per node (the container engine's serial path); {serial:.4} s chosen from {} times (0 to 90 % of the median start at the lowest load) so that the simulated mean and p95 latency of every run (containers in flight: {loads:?}) fit best: summed squared relative error {e:.4}; with none it was {none:.4}",
            contention::CANDIDATES
        ),
    });
    Ok(())
}

/// Other work on the machine before a run above this many CPUs per core makes its busy time
/// no measurement of the run.
const OTHER_WORK_PER_CORE: f64 = 0.1;

/// The share of spawn, start and teardown that is CPU work: the machine's busy CPU time over
/// the runs' sessions, less what it spent on other work just before each and what the bodies
/// of that session spent, over the summed wall time of the invocations' startup and completion.
/// An error says why there is no trustworthy share: a run did not record the machine's CPU,
/// the machine was busy with other work, or the share is far outside 0-100 %.
pub(super) fn cpu_share(runs: &[&crate::runs::Run]) -> Result<f64, String> {
    let (mut cpu, mut wall) = (0.0, 0.0);
    for run in runs {
        if run.meta.node_cpu.is_none() {
            return Err(format!("{} did not record the machine's CPU", run.label()));
        }
        let cores = f64::from(run.meta.platform.cpus_per_node.unwrap_or(1).max(1));
        for node in run.meta.node_cpu_sessions() {
            if node.idle_busy_s_per_s > OTHER_WORK_PER_CORE * cores {
                return Err(format!(
                    "{}: the machine was busy with other work before it ({:.2} of {cores} CPUs), so its busy time measures more than the run",
                    run.label(),
                    node.idle_busy_s_per_s
                ));
            }
            let session = run.records.iter().filter(|r| r.session == node.session);
            let (mut bodies, mut around) = (0.0, 0.0);
            for r in session {
                bodies += r.body_s.unwrap_or(0.0);
                around +=
                    r.pre_body_s().unwrap_or(0.0).max(0.0) + r.completion_s.unwrap_or(0.0).max(0.0);
            }
            if around > 0.0 {
                cpu += node.busy_s - node.idle_busy_s_per_s * node.wall_s - bodies;
                wall += around;
            }
        }
    }
    if wall <= 0.0 {
        return Err("no run recorded a startup or completion of this session".into());
    }
    let share = cpu / wall;
    if !(-0.05..=1.15).contains(&share) {
        return Err(format!(
            "the machine's busy time gives a share of {:.0} %: other work ran during the runs",
            100.0 * share
        ));
    }
    Ok(share.clamp(0.0, 1.0))
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
        values(warm, InvocationRecord::completion_or_container_s),
        "body end (worker clock; no body, on fake nodes: container terminated seen) -> completion first seen",
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

#[cfg(test)]
mod tests {
    use faastwin_measure::NodeCpu;

    use super::cpu_share;
    use crate::runs::{Run, kept};

    #[test]
    fn the_cpu_share_is_the_machines_cpu_beyond_idle_and_bodies_over_start_and_teardown() {
        let mut a = kept("container-1/run-A-small");
        let mut b = kept("container-1/run-A-double");
        let err = cpu_share(&[&a, &b]).unwrap_err();
        assert!(err.contains("run-A-small did not record"), "{err}");
        let sums = |run: &Run| {
            run.records.iter().fold((0.0, 0.0), |(bodies, around), r| {
                (
                    bodies + r.body_s.unwrap_or(0.0),
                    around + r.pre_body_s().unwrap_or(0.0) + r.completion_s.unwrap_or(0.0),
                )
            })
        };
        let ((bodies_a, around_a), (bodies_b, around_b)) = (sums(&a), sums(&b));
        assert!(around_a > 1.0 && around_b > 1.0);
        // Machine busy for the bodies, 0.1 s/s of other work over 20 s, and 40 % of the
        // starts and teardowns in A, 60 % in B.
        let node = |bodies: f64, around: f64, share: f64| NodeCpu {
            session: 0,
            busy_s: bodies + 0.1 * 20.0 + share * around,
            wall_s: 20.0,
            idle_busy_s_per_s: 0.1,
            driver_s: 0.3,
        };
        a.meta.node_cpu = Some(node(bodies_a, around_a, 0.4));
        assert!((cpu_share(&[&a]).unwrap() - 0.4).abs() < 1e-9);
        b.meta.node_cpu = Some(node(bodies_b, around_b, 0.6));
        let want = (0.4 * around_a + 0.6 * around_b) / (around_a + around_b);
        assert!((cpu_share(&[&a, &b]).unwrap() - want).abs() < 1e-9);
        // Records of another session are not this session's CPU.
        b.meta.node_cpu = Some(NodeCpu {
            session: 1,
            ..node(bodies_b, around_b, 0.6)
        });
        assert!(
            cpu_share(&[&b]).unwrap_err().contains("no run recorded"),
            "no record of session 1: no wall time"
        );
        assert!(
            (cpu_share(&[&a, &b]).unwrap() - 0.4).abs() < 1e-9,
            "nor CPU to count"
        );
        // A share just outside [0, 1] is clamped; far outside, other work ran.
        a.meta.node_cpu = Some(node(bodies_a, around_a, 1.1));
        assert_eq!(cpu_share(&[&a]), Ok(1.0));
        a.meta.node_cpu = Some(node(bodies_a, around_a, -0.04));
        assert_eq!(cpu_share(&[&a]), Ok(0.0));
        a.meta.node_cpu = Some(node(bodies_a, around_a, 3.0));
        let err = cpu_share(&[&a]).unwrap_err();
        assert!(err.contains("share of 300 %"), "{err}");
        a.meta.node_cpu = Some(node(bodies_a, around_a, -1.0));
        assert!(cpu_share(&[&a]).is_err());
        // Other work on the machine before the run: more than 0.1 CPU per core.
        let cores = f64::from(a.meta.platform.cpus_per_node.unwrap());
        a.meta.node_cpu = Some(NodeCpu {
            idle_busy_s_per_s: 0.11 * cores,
            ..node(bodies_a, around_a, 0.4)
        });
        let err = cpu_share(&[&a]).unwrap_err();
        assert!(err.contains("busy with other work before it"), "{err}");
    }

    /// A run measured in several sessions (the loop's rounds) counts each session's records
    /// against that session's machine CPU.
    #[test]
    fn every_session_of_a_resumed_run_counts_with_its_own_cpu() {
        let mut run = kept("container-1/run-A-small");
        let half = run.records.len() / 2;
        for r in &mut run.records[half..] {
            r.session = 1;
        }
        let sums = |session: u32| {
            let rows = run.records.iter().filter(|r| r.session == session);
            rows.fold((0.0, 0.0), |(bodies, around), r| {
                (
                    bodies + r.body_s.unwrap_or(0.0),
                    around + r.pre_body_s().unwrap_or(0.0) + r.completion_s.unwrap_or(0.0),
                )
            })
        };
        let node = |session: u32, share: f64| {
            let (bodies, around) = sums(session);
            NodeCpu {
                session,
                busy_s: bodies + share * around,
                wall_s: 10.0,
                idle_busy_s_per_s: 0.0,
                driver_s: 0.1,
            }
        };
        let (around_0, around_1) = (sums(0).1, sums(1).1);
        run.meta.earlier_node_cpu = vec![node(0, 0.3)];
        run.meta.node_cpu = Some(node(1, 0.7));
        let want = (0.3 * around_0 + 0.7 * around_1) / (around_0 + around_1);
        assert!((cpu_share(&[&run]).unwrap() - want).abs() < 1e-9);
        // The last session alone, as before sessions were kept: its share only.
        run.meta.earlier_node_cpu.clear();
        assert!((cpu_share(&[&run]).unwrap() - 0.7).abs() < 1e-9);
    }

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
