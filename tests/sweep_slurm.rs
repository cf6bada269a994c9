//! `faastwin sweep --slurm` on the real two-node test Slurm: the merged sweep equals the local
//! sweep byte for byte whatever the array size, and a task killed with scancel is reported by
//! name and completed alone with --retry-failed.

use std::path::Path;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::components::slurm;
use crate::{faastwin, repo_path};

fn local_sweep(dir: &Path) -> String {
    let out = dir.join("local.csv");
    faastwin()
        .arg("sweep")
        .arg(repo_path("scenarios/what-if/partitions.toml"))
        .args(["--replications", "2", "--out"])
        .arg(&out)
        .assert()
        .success();
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn a_slurm_array_sweep_equals_the_local_sweep_byte_for_byte() {
    if !slurm() {
        return;
    }
    let _jobs = crate::components::slurm_jobs();
    let dir = tempfile::tempdir().unwrap();
    let local = local_sweep(dir.path());
    for k in ["1", "3"] {
        let out = dir.path().join(format!("slurm-{k}"));
        faastwin()
            .arg("sweep")
            .arg(repo_path("scenarios/what-if/partitions.toml"))
            .args(["--replications", "2", "--slurm", "--array-size", k, "--out"])
            .arg(&out)
            .assert()
            .success();
        assert_eq!(
            std::fs::read_to_string(out.join("sweep.csv")).unwrap(),
            local,
            "array size {k}"
        );
        assert_eq!(
            std::fs::read_dir(out.join("chunks")).unwrap().count(),
            k.parse::<usize>().unwrap()
        );
    }
}

#[test]
fn a_cancelled_task_is_named_and_retried_alone() {
    if !slurm() {
        return;
    }
    let _jobs = crate::components::slurm_jobs();
    let dir = tempfile::tempdir().unwrap();
    let local = local_sweep(dir.path());
    let out = dir.path().join("sweep");
    // Hold the array for a minute so that one task can be cancelled before it runs.
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("faastwin"))
        .arg("sweep")
        .arg(repo_path("scenarios/what-if/partitions.toml"))
        .args([
            "--replications",
            "2",
            "--slurm",
            "--array-size",
            "3",
            "--sbatch-arg=--begin=now+60",
            "--out",
        ])
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let job = loop {
        let meta = std::fs::read_to_string(out.join("sweep.json")).unwrap_or_default();
        let ids = serde_json::from_str::<serde_json::Value>(&meta)
            .ok()
            .and_then(|m| m["job_ids"][0].as_u64());
        if let Some(id) = ids {
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the array was not submitted"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let run = |args: &[&str]| {
        assert!(
            std::process::Command::new(args[0])
                .args(&args[1..])
                .status()
                .unwrap()
                .success()
        )
    };
    run(&["scancel", &format!("{job}_1")]);
    std::thread::sleep(Duration::from_millis(300));
    run(&[
        "scontrol",
        "update",
        &format!("JobId={job}"),
        "StartTime=now",
    ]);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("task 1 ({job}_1)")) && stderr.contains("--retry-failed"),
        "{stderr}"
    );
    assert!(
        !out.join("sweep.csv").exists(),
        "nothing merged from an incomplete sweep"
    );

    faastwin()
        .args(["sweep", "--retry-failed"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("resubmitting 1 chunk(s): 1"));
    assert_eq!(
        std::fs::read_to_string(out.join("sweep.csv")).unwrap(),
        local
    );
}

#[test]
fn dry_run_prints_the_array_script() {
    let dir = tempfile::tempdir().unwrap();
    faastwin()
        .arg("sweep")
        .arg(repo_path("scenarios/what-if/nodes.toml"))
        .args([
            "--slurm",
            "--array-size",
            "5",
            "--partition",
            "batch",
            "--time",
            "00:30:00",
            "--dry-run",
            "--out",
        ])
        .arg(dir.path().join("s"))
        .assert()
        .success()
        .stdout(predicate::str::contains("#SBATCH --array=0-4"))
        .stdout(predicate::str::contains("#SBATCH --partition=batch"))
        .stdout(predicate::str::contains(
            "--chunk \"${SLURM_ARRAY_TASK_ID}/5\"",
        ));
    assert!(!dir.path().join("s").exists());
}

/// Issue 29.13: sbatch's refusal is shown, not hidden behind "sbatch (submitting a job)", and
/// the sweep it leaves is one that `--retry-failed` submits once the cause is fixed.
#[test]
fn a_refused_array_names_sbatchs_reason_and_retry_failed_submits_it() {
    if !slurm() {
        return;
    }
    let _jobs = crate::components::slurm_jobs();
    let dir = tempfile::tempdir().unwrap();
    let local = local_sweep(dir.path());
    let out = dir.path().join("sweep");
    faastwin()
        .arg("sweep")
        .arg(repo_path("scenarios/what-if/partitions.toml"))
        .args(["--replications", "2", "--slurm", "--array-size", "2"])
        .args(["--partition", "no-such-partition", "--out"])
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains("invalid partition"))
        .stderr(predicate::str::contains("--retry-failed"));
    faastwin()
        .args(["sweep", "--retry-failed"])
        .arg(&out)
        .args(["--partition", "debug"])
        .assert()
        .success()
        .stderr(predicate::str::contains("resubmitting 2 chunk(s): 0,1"));
    assert_eq!(
        std::fs::read_to_string(out.join("sweep.csv")).unwrap(),
        local
    );
}
