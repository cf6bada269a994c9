//! `faastwin measure` from the command line: dry run, a real local run, resume, clear errors.

use predicates::prelude::*;

use crate::{faastwin, worker_binary};

fn dataset(dir: &std::path::Path) -> std::path::PathBuf {
    let data = dir.join("data");
    faastwin()
        .args(["dataset", "relay", "--count", "6", "--out"])
        .arg(&data)
        .assert()
        .success();
    data
}

#[test]
fn dry_run_prints_every_submission_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let out = dir.path().join("run");
    faastwin()
        .args([
            "measure",
            "--platform",
            "slurm",
            "--nodes",
            "n1,n2",
            "--partitions",
            "2",
            "--dry-run",
            "--dataset",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("sbatch --parsable")
                .and(predicate::str::contains("--nodelist n2")),
        )
        .stdout(predicate::str::contains(
            "# partition 1 seq 2 invocation 5 on n2",
        ));
    assert!(!out.join("invocations.csv").exists());
}

#[test]
fn a_local_run_writes_its_directory_and_resume_finds_nothing_left() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let out = dir.path().join("run");
    faastwin()
        .args([
            "measure",
            "--platform",
            "local",
            "--partitions",
            "2",
            "--repetitions",
            "2",
            "--worker",
        ])
        .arg(worker_binary())
        .arg("--dataset")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("12 invocations recorded"));
    for file in ["invocations.csv", "run.json", "summary.csv"] {
        assert!(out.join(file).exists(), "{file}");
    }
    faastwin()
        .arg("measure")
        .arg("--worker")
        .arg(worker_binary())
        .arg("--resume")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("12 invocations recorded"));
}

#[test]
fn missing_dataset_and_bad_options_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    faastwin()
        .args([
            "measure",
            "--platform",
            "local",
            "--dataset",
            "/nonexistent/data",
            "--out",
        ])
        .arg(dir.path().join("run"))
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("/nonexistent/data")
                .and(predicate::str::contains("faastwin dataset")),
        );
    let data = dataset(dir.path());
    faastwin()
        .args([
            "measure",
            "--platform",
            "local",
            "--window",
            "2",
            "--rate",
            "1",
            "--dataset",
        ])
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("run"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("exclude each other"));
}

#[test]
fn kubernetes_dry_run_prints_the_jobs_and_an_unreachable_cluster_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    faastwin()
        .args([
            "measure",
            "--platform",
            "k8s",
            "--nodes",
            "w1,w2",
            "--partitions",
            "2",
            "--run-id",
            "dry1",
            "--dry-run",
        ])
        .arg("--dataset")
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("run"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            r#""name":"faastwin-dry1-r0-000005""#,
        ))
        .stdout(predicate::str::contains(r#""nodeName":"w2""#))
        .stdout(predicate::str::contains(r#""faastwin.io/run":"dry1""#));
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"http://127.0.0.1:9\"}}]\n\
         contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {}}]\n",
    )
    .unwrap();
    faastwin()
        .args([
            "measure",
            "--platform",
            "k8s",
            "--run-id",
            "unreach1",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .arg("--dataset")
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("run2"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cannot reach the Kubernetes API server",
        ));
}

/// Issue 29.6: `timeout` (or a batch script) sends SIGTERM to the whole process group of
/// `faastwin measure --platform ksi`. srun, in that group, was signalled too: Slurm cancelled
/// the step, the node scripts died before their teardown and both clusters stayed. Now srun has
/// a group of its own, and the measurement tears KSI down in order: exit 130, no allocation,
/// no cluster, no process of the run left.
#[test]
fn sigterm_to_the_process_group_of_a_ksi_run_leaves_nothing_running() {
    use std::os::unix::process::CommandExt;
    if !crate::calibrate_cli::slurm() {
        return;
    }
    let Some(t) = crate::testbed::testbed() else {
        return;
    };
    let _guard = crate::testbed::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let (shared, out) = (dir.path().join("shared"), dir.path().join("run"));
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("faastwin"))
        .args(["measure", "--platform", "ksi", "--run-id", "t-ksi-term"])
        .args(["--partitions", "2", "--image-pull-policy", "Never"])
        .arg("--ksi-run-workload")
        .arg(crate::repo_path("testbed/run-workload.sh"))
        .arg("--ksi-shared")
        .arg(&shared)
        .arg(format!(
            "--srun-arg=--export=ALL,FAASTWIN_TESTBED={}",
            t.bin.display()
        ))
        .arg("--dataset")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::fs::read_to_string(out.join("invocations.csv")).map_or(0, |s| s.lines().count()) < 2
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(400),
            "no invocation recorded"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // What `timeout` does: the signal to the process group.
    let group = format!("-{}", child.id());
    let killed = std::process::Command::new("kill")
        .args(["-TERM", "--", &group])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    let queue = std::process::Command::new("squeue")
        .args(["-h", "-n", "faastwin-ksi-t-ksi-term"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&queue.stdout).trim(),
        "",
        "allocation left"
    );
    let control = shared.join("faastwin-t-ksi-term");
    for entry in std::fs::read_dir(&control).unwrap().flatten() {
        assert!(
            !entry.path().join("testbed.json").exists(),
            "{} still up: {stderr}",
            entry.path().display()
        );
    }
    let mentioning = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(control.to_str().unwrap()))
        .count();
    assert_eq!(mentioning, 0, "processes of the run left");
}
