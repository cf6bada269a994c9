//! The Slurm platform on a real single-host Slurm with two logical nodes, started by the test
//! itself with `tests/support/slurm-up.sh` (Debian's slurm-wlm and munge; root needed). Set
//! `FAASTWIN_NO_SLURM=1` to skip on a machine without them; the test says so on stderr.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use faastwin_measure::{DriverClock, Launcher, NoProgress, Platform, SlurmPlatform, SubmitPolicy};

use crate::components::slurm;
use crate::{check_succeeded, measure, options, relay_dataset, slurm_layout as layout, worker};

fn platform(results: &Path, launcher: Launcher) -> Arc<dyn Platform> {
    Arc::new(SlurmPlatform::new(
        worker(),
        results.to_owned(),
        launcher,
        Duration::from_millis(50),
        DriverClock::start(),
    ))
}

/// `count` relay invocations in two partitions on n1 and n2 through sbatch, into `dir/run`.
async fn sbatch_on_both_nodes(
    dir: &Path,
    count: u64,
) -> (faastwin_measure::RunOutcome, std::path::PathBuf) {
    let dataset = relay_dataset(dir, count);
    let out = dir.join("run");
    let opts = options(
        "slurm",
        2,
        vec!["n1".into(), "n2".into()],
        SubmitPolicy::Sequential,
    );
    let platform = platform(&out.join("results"), Launcher::Sbatch);
    (measure(platform, opts, dataset, &out).await, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sbatch_jobs_run_on_their_partitions_nodes_with_slurm_times() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = sbatch_on_both_nodes(dir.path(), 4).await;
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

/// Issue 25: each logical node owns its CPUs, and everything its slurmd starts stays on them:
/// every body placed on n1 was allowed n1's CPUs and no other, every body on n2 n2's, and the
/// two nodes share none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_on_a_node_is_allowed_that_nodes_cpus_and_no_other() {
    if !slurm() {
        return;
    }
    let layout = layout();
    assert_ne!(
        layout["n1"], layout["n2"],
        "the nodes own CPUs of their own"
    );
    let dir = tempfile::tempdir().unwrap();
    let (outcome, out) = sbatch_on_both_nodes(dir.path(), 6).await;
    assert_eq!(outcome.records.len(), 6);
    for r in &outcome.records {
        check_succeeded(r);
        assert_eq!(
            r.w_cpus.as_deref(),
            Some(layout[&r.node].as_str()),
            "the body of invocation {} on {}",
            r.invocation_id,
            r.node
        );
    }
    // What invocations.csv keeps says the same.
    let kept = faastwin_measure::read_records(&out.join("invocations.csv")).unwrap();
    assert!(
        kept.iter()
            .all(|r| r.w_cpus.as_deref() == Some(layout[&r.node].as_str()))
    );
}

/// The body times of `bodies` ETL bodies run at once in one Slurm step on `node` [s].
fn bodies_at_once(node: &str, bodies: usize, shard: &Path) -> std::process::Child {
    let worker = worker();
    // Each body its own result file beside the shard (never a device: the worker renames its
    // result into place).
    let script = (0..bodies)
        .map(|i| {
            format!(
                "{} etl --input {} --output {} &",
                worker.display(),
                shard.display(),
                shard
                    .with_file_name(format!("result-{node}-{i}.json"))
                    .display()
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
        + " wait";
    std::process::Command::new("srun")
        .args(["-w", node, "-N1", "-n1", "bash", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn body_seconds(child: std::process::Child) -> Vec<f64> {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let report: serde_json::Value = serde_json::from_str(l).unwrap();
            report["body_ns"].as_f64().unwrap() / 1e9
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Issue 25: a node's CPUs are its own. Two CPU-bound bodies at once on n1 take about twice as
/// long as one (they share n1's CPU), and a body kept busy on n2 meanwhile does not slow them
/// (it has a CPU of its own). Medians over three rounds; only on a layout of one CPU a node.
#[test]
fn two_bodies_on_a_node_share_its_cpu_and_a_body_on_another_node_does_not_slow_them() {
    if !slurm() {
        return;
    }
    // Not beside the cluster tests of this binary, whose pods would load both CPUs unevenly.
    let _quiet = crate::testbed::lock();
    let layout = layout();
    if layout["n1"].contains(['-', ',']) {
        eprintln!("the nodes own more than one CPU each here: nothing to share");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = faastwin_workers::dataset::DatasetSpec::Etl {
        count: 1,
        seed: 1,
        shard_bytes: 8 << 20,
    };
    faastwin_workers::dataset::generate(&spec, dir.path(), &|_| {}).unwrap();
    let shard = dir.path().join("shard-000000.jsonl");
    let (mut alone, mut two, mut beside) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        alone.extend(body_seconds(bodies_at_once("n1", 1, &shard)));
        two.extend(body_seconds(bodies_at_once("n1", 2, &shard)));
        let other = bodies_at_once("n2", 2, &shard);
        beside.extend(body_seconds(bodies_at_once("n1", 2, &shard)));
        body_seconds(other);
    }
    let (alone, two, beside) = (median(alone), median(two), median(beside));
    eprintln!(
        "bodies on n1: one alone {alone:.3} s, two at once {two:.3} s each, two beside two on n2 {beside:.3} s"
    );
    assert!(
        (1.5..2.6).contains(&(two / alone)),
        "two bodies on n1 take {two:.3} s each, one alone {alone:.3} s"
    );
    assert!(
        beside / two < 1.25,
        "two bodies on n1 beside two on n2 take {beside:.3} s each, without them {two:.3} s"
    );
}
