//! Native Slurm: a batch scheduler whose passes come every `sched_interval` over the nodes'
//! CPUs, then the launch, fitted from a kept run (`tests/data/slurm-etl`: 40 ETL jobs on the
//! two logical nodes of `measure/tests/support/slurm-up.sh`, `SchedulerParameters` interval 1 s).

use std::path::Path;

use faastwin_calibration::{Run, calibrate};
use faastwin_sim::{Discipline, Scope};

#[test]
fn slurm_is_a_batch_scheduler_over_the_nodes_cpus_then_the_launch() {
    let run =
        Run::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/slurm-etl")).unwrap();
    let (calibration, fits) = calibrate(std::slice::from_ref(&run), &Default::default()).unwrap();
    let spec = &calibration.platforms["slurm"];
    let scheduler = &spec.resources["scheduler"];
    assert_eq!(scheduler.scope, Scope::Cluster);
    assert_eq!(
        scheduler.discipline,
        Discipline::Batch {
            interval_s: 1.0,
            slots_per_node: 2,
            backfill: true
        }
    );
    let control = spec.stages.control_plane.as_ref().unwrap();
    assert_eq!(control.resource.as_deref(), Some("scheduler"));
    assert!(control.delay.is_none());
    // The launch: body start - (RUNNING first seen - poll / 2), by hand from the rows.
    let launch: Vec<f64> = run
        .warm()
        .filter_map(|r| Some((r.w_body_start? as f64 - r.t_scheduled_seen? as f64) / 1e9 + 0.025))
        .collect();
    let want = launch.iter().sum::<f64>() / launch.len() as f64;
    let got = control.work.as_ref().unwrap().mean(0.0);
    assert!(
        (got / want - 1.0).abs() < 0.1,
        "launch mean {got} s, rows {want} s"
    );
    // Completion: a plain delay (slurmctld notices the end), fitted to its own layer.
    let completion = spec.stages.completion.as_ref().unwrap();
    assert!(completion.work.is_none() && completion.resource.is_none());
    let ends: Vec<f64> = run.warm().filter_map(|r| r.completion_s).collect();
    let got = completion.delay.as_ref().unwrap().mean(0.0);
    let want = ends.iter().sum::<f64>() / ends.len() as f64;
    assert!(
        (got / want - 1.0).abs() < 0.1,
        "completion mean {got} s, rows {want} s"
    );
    let method = &fits[0]
        .components
        .iter()
        .find(|c| c.component == "control_plane")
        .unwrap()
        .method;
    assert!(method.contains("every 1 s"), "{method}");
}
