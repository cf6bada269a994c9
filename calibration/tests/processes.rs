//! Local processes and containers: start and teardown are split into CPU work on the node's
//! cores and a wait by the share of the machine's CPU the runs measured (`node_cpu`); containers
//! measured at two loads also pass their starts through the engine's serial path.

use faastwin_calibration::{calibrate, validate};
use faastwin_sim::{Discipline, Scope};

use crate::component;
use crate::kept::{a_runs, run};

#[test]
fn container_start_and_teardown_are_split_by_the_measured_cpu_share() {
    let runs = a_runs("container-4");
    let (calibration, fits) = calibrate(&runs, &Default::default()).unwrap();
    let spec = &calibration.platforms["container"];
    let startup_method = &component(&fits[0], "startup").method;
    let percent: f64 = startup_method
        .split(" % of it CPU work")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no share in {startup_method}"));
    assert!((60.0..90.0).contains(&percent), "{percent}");
    for (name, stage) in [
        ("startup", spec.stages.startup.as_ref().unwrap()),
        ("completion", spec.stages.completion.as_ref().unwrap()),
    ] {
        assert_eq!(stage.resource.as_deref(), Some("cores"), "{name}");
        let work = stage.work.as_ref().unwrap().mean(0.0);
        let wait = stage.delay.as_ref().unwrap().mean(0.0);
        let share = work / (work + wait);
        assert!(
            (share * 100.0 - percent).abs() < 3.0,
            "{name}: work {work} s, wait {wait} s, share {share} against {percent} %"
        );
        // Together they are the measured wall time of the stage.
        let measured: Vec<f64> = runs
            .iter()
            .flat_map(|r| {
                r.warm()
                    .filter_map(|i| match name {
                        "startup" => i.pre_body_s(),
                        _ => i.completion_s,
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let mean = measured.iter().sum::<f64>() / measured.len() as f64;
        assert!(
            ((work + wait) / mean - 1.0).abs() < 0.05,
            "{name}: {work} + {wait} s against {mean} s measured"
        );
    }
}

#[test]
fn runs_that_did_not_record_the_machines_cpu_take_start_and_teardown_as_cpu_work() {
    let runs = a_runs("container-1");
    assert!(runs.iter().all(|r| r.meta.node_cpu.is_none()));
    let (calibration, fits) = calibrate(&runs, &Default::default()).unwrap();
    let spec = &calibration.platforms["container"];
    for stage in [&spec.stages.startup, &spec.stages.completion] {
        let stage = stage.as_ref().unwrap();
        assert!(stage.work.is_some() && stage.delay.is_none(), "{stage:?}");
    }
    let components: Vec<&str> = fits[0]
        .components
        .iter()
        .map(|c| c.component.as_str())
        .collect();
    assert!(
        !components.iter().any(|c| c.ends_with("_wait")),
        "{components:?}"
    );
    let startup = component(&fits[0], "startup");
    assert!(
        startup.method.contains("did not record the machine's CPU"),
        "{}",
        startup.method
    );
}

/// Containers at two loads (two and four in flight): part of each start is the container
/// engine's serial path, one FIFO server per node, sized by simulating the runs. Four in flight
/// held out of the calibration (a window of two) is then predicted better than from one load,
/// where the model can only share the cores.
#[test]
fn containers_at_two_loads_pass_their_starts_through_a_serial_engine() {
    let mut two_loads = a_runs("container-7");
    two_loads.push(run("container-7/run-B1-4-partitions"));
    let (calibration, fits) = calibrate(&two_loads, &Default::default()).unwrap();
    let spec = &calibration.platforms["container"];
    let engine = &spec.resources["engine"];
    assert_eq!(engine.discipline, Discipline::Fifo { servers: 1 });
    assert_eq!(engine.scope, Scope::Node);
    let control = spec.stages.control_plane.as_ref().unwrap();
    assert_eq!(control.resource.as_deref(), Some("engine"));
    let serial = control.work.as_ref().unwrap().mean(0.0);
    assert!((0.02..0.2).contains(&serial), "serial {serial} s");
    let fit = component(&fits[0], "engine.serial");
    assert!(
        fit.method.contains("containers in flight: [2, 2, 4]"),
        "{}",
        fit.method
    );
    assert!(
        component(&fits[0], "startup")
            .method
            .contains("less the engine's serial"),
        "{}",
        component(&fits[0], "startup").method
    );
    assert_eq!(
        fits[0].rows,
        two_loads.iter().map(|r| r.warm().count()).sum::<usize>()
    );

    assert!(fits[0].warnings.is_empty(), "{:?}", fits[0].warnings);
    let one_load = a_runs("container-7");
    let (alone, alone_fits) = calibrate(&one_load, &Default::default()).unwrap();
    // Issue 30.4: one load gives an answer and says which predictions it puts at risk.
    assert!(
        alone_fits[0].warnings.iter().any(|w| w.contains(
            "every run had 2 containers in flight, so the container engine's serial path cannot be read"
        ) && w.contains("more than 2 containers in flight")),
        "{:?}",
        alone_fits[0].warnings
    );
    assert!(
        !alone.platforms["container"]
            .resources
            .contains_key("engine")
    );
    let window = run("container-7/run-B3-window-2");
    let error = |c: &faastwin_sim::Calibration| {
        validate(c, "container", &window, 10, 1, 2, 0.9)
            .unwrap()
            .makespan_rel_error()
    };
    let (with, without) = (error(&calibration), error(&alone));
    assert!(with.abs() < 0.6 * without.abs(), "{with} against {without}");
}

/// On logical nodes of one CPU with two partitions each, starts and teardowns are not halved
/// as the bodies are (that took all of them for CPU work and put A's own runs 38-52 % too
/// fast): their CPU work is what the machine's busy time measured, their wait what is left of
/// the wall time once that work is stretched by two. Kept loops local-6 and container-16 (A on
/// node 1 of two one-CPU nodes).
#[test]
fn starts_on_nodes_with_fewer_cores_than_partitions_keep_their_measured_cpu_work() {
    for (name, kind) in [("local-6", "local"), ("container-16", "container")] {
        let runs = a_runs(name);
        let (calibration, fits) = calibrate(&runs, &Default::default()).unwrap();
        let method = &component(&fits[0], "completion").method;
        assert!(
            method.contains(
                "up to 2 partitions per node on 1 cores, so that work was stretched 2.00x"
            ),
            "{name}: {method}"
        );
        for run in &runs {
            let v = validate(&calibration, kind, run, 5, 1, 2, 0.9).unwrap();
            for metric in [
                faastwin_models::Metric::P50LatencyS,
                faastwin_models::Metric::WarmMakespanS,
            ] {
                let m = v.metrics.iter().find(|m| m.metric == metric).unwrap();
                assert!(
                    m.rel_error.abs() < 0.2,
                    "{name} {}: {metric} predicted {:.4}, measured {:.4}",
                    run.dir.display(),
                    m.predicted,
                    m.measured
                );
            }
        }
    }
}
