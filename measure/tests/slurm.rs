//! The Slurm platform on a real single-host Slurm with two logical nodes, started by the test
//! itself with `tests/support/slurm-up.sh` (Debian's slurm-wlm and munge; root needed). Set
//! `FAASTWIN_NO_SLURM=1` to skip on a machine without them; the test says so on stderr.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use faastwin_measure::{DriverClock, Launcher, NoProgress, Platform, SlurmPlatform, SubmitPolicy};

use crate::components::slurm;
use crate::{check_succeeded, measure, options, relay_dataset, worker};

fn platform(results: &Path, launcher: Launcher) -> Arc<dyn Platform> {
    Arc::new(SlurmPlatform::new(
        worker(),
        results.to_owned(),
        launcher,
        Duration::from_millis(50),
        DriverClock::start(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sbatch_jobs_run_on_their_partitions_nodes_with_slurm_times() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 4);
    let out = dir.path().join("run");
    let opts = options(
        "slurm",
        2,
        vec!["n1".into(), "n2".into()],
        SubmitPolicy::Sequential,
    );
    let outcome = measure(
        platform(&out.join("results"), Launcher::Sbatch),
        opts,
        dataset,
        &out,
    )
    .await;
    assert_eq!(outcome.records.len(), 4);
    for r in &outcome.records {
        check_succeeded(r);
        assert_eq!(r.node, if r.partition == 0 { "n1" } else { "n2" });
        assert_eq!(
            r.p_clock.as_deref(),
            Some("slurm scontrol, 1 s, local time")
        );
        let (created, finished) = (r.p_created.unwrap(), r.p_finished.unwrap());
        assert!(created <= finished);
        // Slurm's whole seconds agree with the driver's clock to within their resolution.
        let submit = r.t_submit.unwrap() as i64;
        assert!(
            (created - submit).abs() < 2_000_000_000,
            "created {created} submit {submit}"
        );
        assert!(
            r.e2e_s.unwrap() > 0.01,
            "a Slurm job takes longer than a spawn"
        );
    }
    assert_eq!(outcome.summaries[0].failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srun_runs_blocking_steps() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 2);
    let out = dir.path().join("run");
    let opts = options("slurm", 1, vec!["n2".into()], SubmitPolicy::Sequential);
    let outcome = measure(
        platform(&out.join("results"), Launcher::Srun),
        opts,
        dataset,
        &out,
    )
    .await;
    assert_eq!(outcome.records.len(), 2);
    for r in &outcome.records {
        assert!(r.succeeded(), "{r:?}");
        assert!(r.t_scheduled_seen.is_none() && r.e2e_s.unwrap() > 0.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_slurm_node_is_refused_before_anything_is_submitted() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 1);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let err = faastwin_measure::run(
        platform(&dir.path().join("results"), Launcher::Sbatch),
        options("slurm", 1, vec!["n9".into()], SubmitPolicy::Sequential),
        dataset,
        dir.path().join("run"),
        false,
        Arc::new(NoProgress),
        rx,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("unknown node \"n9\"") && err.contains("n1, n2"),
        "{err}"
    );
}

/// What a killed session leaves behind: a queued job of the run. A resumed run removes it (by
/// the run's job names) before running anything, and leaves another run's job alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_cancels_the_jobs_an_earlier_session_left_queued() {
    if !slurm() {
        return;
    }
    let run_id = format!("left{}", std::process::id());
    let submit = |name: String| {
        let out = std::process::Command::new("sbatch")
            .args([
                "--parsable",
                "--hold",
                "--job-name",
                &name,
                "--wrap",
                "sleep 60",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 2);
    let mut options = options("slurm", 1, vec!["n1".into()], SubmitPolicy::Sequential);
    options.run_id = run_id.clone();
    let out = dir.path().join("run");
    // The earlier session, then what its killing left queued (a job of this run, and one of a
    // run whose id starts the same way).
    measure(
        platform(&out.join("results"), Launcher::Sbatch),
        options.clone(),
        dataset.clone(),
        &out,
    )
    .await;
    let leftover = submit(format!("faastwin-{run_id}-r0-5"));
    let others = submit(format!("faastwin-{run_id}-r1-x-r0-5"));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    crate::run(
        platform(&out.join("results"), Launcher::Sbatch),
        options,
        dataset,
        &out,
        true,
        rx,
    )
    .await;
    let queued = |id: &str| {
        let out = std::process::Command::new("squeue")
            .args(["-h", "-j", id, "-o", "%T"])
            .output()
            .unwrap();
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    };
    assert!(!queued(&leftover), "the run's leftover job is cancelled");
    assert!(queued(&others), "another run's job stays");
    std::process::Command::new("scancel")
        .arg(&others)
        .status()
        .unwrap();
}
