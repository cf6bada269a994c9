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
    // A run.json that cannot be read is refused, never resumed without the sessions it records.
    std::fs::write(out.join("run.json"), "{ \"run_id\": ").unwrap();
    faastwin()
        .arg("measure")
        .arg("--worker")
        .arg(worker_binary())
        .arg("--resume")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains("run.json"));
}

/// A failed `scontrol show config` used to become a 60 s scheduling cycle without a word. The
/// controller cannot be made to refuse `scontrol` while it still answers `sinfo`, so `scontrol`
/// alone is replaced by one that fails as an unreachable controller makes it fail.
#[test]
fn a_scheduling_interval_slurm_will_not_tell_refuses_the_run_not_guesses_it() {
    if !crate::components::slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let scontrol = bin.join("scontrol");
    std::fs::write(
        &scontrol,
        "#!/bin/sh\necho 'slurm_load_ctl_conf error: Unable to contact slurm controller' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&scontrol, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = dir.path().join("run");
    faastwin()
        .env("PATH", path)
        .args(["measure", "--platform", "slurm", "--nodes", "n1,n2"])
        .args(["--partitions", "2", "--dataset"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("scontrol (reading the scheduling interval)").and(
                predicate::str::contains("Unable to contact slurm controller"),
            ),
        );
    assert!(!out.join("invocations.csv").exists());
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
    let Some(run) = KsiRun::start("t-ksi-term") else {
        return;
    };
    // What `timeout` does: the signal to the process group.
    let group = format!("-{}", run.child.id());
    let killed = std::process::Command::new("kill")
        .args(["-TERM", "--", &group])
        .status()
        .unwrap();
    assert!(killed.success());
    let (run, output) = run.wait();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert_eq!(run.left(), "", "{stderr}");
}

/// Issue 29.5: the driver killed outright (SIGKILL: no teardown of its own) used to leave the
/// allocation, srun, the node scripts and both clusters running for ever, and `--resume` drove
/// the old clusters through their stale kubeconfigs, recorded a startup of 0.04 s and called
/// the run complete with invocations never measured. Now the clusters end once the driver's
/// heartbeat stops, and the resume starts clusters of its own and measures every invocation.
#[test]
fn a_ksi_run_whose_driver_is_killed_ends_its_clusters_and_resumes_whole() {
    let Some(run) = KsiRun::start("t-ksi-kill") else {
        return;
    };
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &run.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (run, _) = run.wait();
    // The heartbeat is two minutes; the workload looks every few seconds, then tears down.
    let deadline = std::time::Instant::now()
        + faastwin_measure::ksi::ORPHANED_AFTER
        + std::time::Duration::from_secs(120);
    let mut left = run.left();
    while !left.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "still running: {left}"
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
        left = run.left();
    }
    // Everything else, the platform's options included, comes from the run's run.json.
    let resumed = std::process::Command::new(assert_cmd::cargo::cargo_bin("faastwin"))
        .args(["measure", "--resume"])
        .arg(&run.out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    let rows = faastwin_measure::read_records(&run.out.join("invocations.csv")).unwrap();
    let mut measured: Vec<_> = rows
        .iter()
        .filter(|r| r.succeeded())
        .map(|r| r.invocation_id)
        .collect();
    measured.sort_unstable();
    measured.dedup();
    assert_eq!(measured.len(), 6, "every invocation measured: {rows:?}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.out.join("run.json")).unwrap()).unwrap();
    let startup = meta["platform"]["startup_overhead_s"].as_f64().unwrap();
    assert!(
        startup > 1.0,
        "the resume started clusters of its own: {startup} s"
    );
    assert_eq!(run.left(), "");
}

/// A KSI measurement of six relay invocations on the testbed's components under the two-node
/// Slurm, started in a process group of its own (as a shell started it).
struct KsiRun {
    child: std::process::Child,
    run_id: &'static str,
    shared: std::path::PathBuf,
    data: std::path::PathBuf,
    out: std::path::PathBuf,
    testbed: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _jobs: std::sync::MutexGuard<'static, ()>,
    _guard: std::sync::MutexGuard<'static, ()>,
}

impl KsiRun {
    /// Started, with its first invocation recorded; None without Slurm or the testbed.
    fn start(run_id: &'static str) -> Option<Self> {
        use std::os::unix::process::CommandExt;
        if !crate::components::slurm() {
            return None;
        }
        let t = crate::testbed::testbed()?;
        let guard = crate::testbed::lock();
        let jobs = crate::components::slurm_jobs();
        let dir = tempfile::tempdir().unwrap();
        let data = dataset(dir.path());
        let (shared, out) = (dir.path().join("shared"), dir.path().join("run"));
        let mut run = KsiRun {
            child: std::process::Command::new("true").spawn().unwrap(),
            run_id,
            shared,
            data,
            out,
            testbed: t.bin.clone(),
            _dir: dir,
            _jobs: jobs,
            _guard: guard,
        };
        run.child = run
            .command()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while std::fs::read_to_string(run.out.join("invocations.csv"))
            .map_or(0, |s| s.lines().count())
            < 2
        {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(400),
                "no invocation recorded"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Some(run)
    }

    /// The command line of this run.
    fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("faastwin"));
        command
            .args(["measure", "--platform", "ksi", "--run-id", self.run_id])
            .args(["--partitions", "2", "--image-pull-policy", "Never"])
            .arg("--ksi-run-workload")
            .arg(crate::repo_path("testbed/run-workload.sh"))
            .arg("--ksi-shared")
            .arg(&self.shared)
            .arg(format!(
                "--srun-arg=--export=ALL,FAASTWIN_TESTBED={}",
                self.testbed.display()
            ))
            .arg("--dataset")
            .arg(&self.data)
            .arg("--out")
            .arg(&self.out);
        command
    }

    /// Waits for the driver to exit.
    fn wait(mut self) -> (Self, std::process::Output) {
        let child = std::mem::replace(
            &mut self.child,
            std::process::Command::new("true").spawn().unwrap(),
        );
        (self, child.wait_with_output().unwrap())
    }

    /// What of the run is still there: its allocation, a cluster (an instance's state file),
    /// a process naming its folder. Empty when nothing is.
    fn left(&self) -> String {
        let mut left = Vec::new();
        let queue = std::process::Command::new("squeue")
            .args(["-h", "-n", &format!("faastwin-ksi-{}", self.run_id)])
            .output()
            .unwrap();
        let queued = String::from_utf8_lossy(&queue.stdout).trim().to_string();
        if !queued.is_empty() {
            left.push(format!("allocation: {queued}"));
        }
        let control = self.shared.join(format!("faastwin-{}", self.run_id));
        for entry in std::fs::read_dir(&control).into_iter().flatten().flatten() {
            if entry.path().join("testbed.json").exists() {
                left.push(format!("cluster {}", entry.path().display()));
            }
        }
        let processes = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .filter(|c| String::from_utf8_lossy(c).contains(control.to_str().unwrap()))
            .count();
        if processes > 0 {
            left.push(format!("{processes} process(es)"));
        }
        left.join("; ")
    }
}
