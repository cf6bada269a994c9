//! How much of a process's or container's start and teardown is CPU work on the node's cores
//! (from the machine's busy CPU time over the runs, `run.json` `node_cpu`), and a stage split
//! into that work and a wait.

use faastwin_models::{Distribution, SizeModel};
use faastwin_sim::StageSpec;

use super::fitter::Fitter;
use crate::CalibrationError;

/// The CPU share of start and teardown, and how it was found, in words.
pub(super) fn share_and_how(runs: &[&crate::runs::Run]) -> (f64, String) {
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
pub(super) fn split(
    f: &mut Fitter<'_>,
    component: &str,
    values: Vec<f64>,
    share: f64,
    method: &str,
) -> Result<Option<StageSpec>, CalibrationError> {
    split_with(component, &values, share, &mut |c, v| f.fixed(c, v, method))
}

/// Fits one part of a stage: `(component, values)` to its model, `None` without values.
pub(super) type FitPart<'a> =
    dyn FnMut(&str, Vec<f64>) -> Result<Option<Distribution>, CalibrationError> + 'a;

/// [`split`] with the parts fitted by `fit_part(component, values)`.
pub(super) fn split_with(
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
        resource: work.is_some().then(|| faastwin_models::CORES.to_owned()),
        work: work.map(SizeModel::fixed),
        ..StageSpec::default()
    }))
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
            components: Default::default(),
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
                components: Default::default(),
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
}
