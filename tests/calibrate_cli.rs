//! `faastwin loop`, `faastwin calibrate` and `faastwin validate`: the closed loop measure →
//! calibrate → predict → measure → validate, at small scale, for real, on local processes and
//! on the test Slurm. The accuracy target (median |makespan error| ≤ 5 %) needs more
//! invocations than a test should spend; here the tolerance is loose and the test checks that
//! the loop runs end to end and its numbers are sane.

use std::sync::OnceLock;

use predicates::prelude::*;

use crate::{faastwin, repo_path, worker_binary};

fn run_loop(platform: &str, invocations: &str, out: &std::path::Path) -> String {
    let output = faastwin()
        .args([
            "loop",
            "--platform",
            platform,
            "--invocations",
            invocations,
            "--small-shard-bytes",
            "64KiB",
        ])
        .args(["--replications", "5", "--tolerance", "10", "--worker"])
        .arg(worker_binary())
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn check_loop_output(stdout: &str) {
    assert_eq!(
        stdout.matches("warm_makespan_s").count(),
        3,
        "three held-out configurations:\n{stdout}"
    );
    let median: f64 = stdout
        .lines()
        .find(|l| l.starts_with("closed loop"))
        .and_then(|l| l.split("median |makespan error| ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        median < 100.0,
        "predictions within a factor of two even at this scale: {median} %"
    );
}

#[test]
fn closed_loop_on_local_processes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop");
    let stdout = run_loop("local", "20", &out);
    check_loop_output(&stdout);
    rounds_are_interleaved(&out, 3);

    // The loop's calibration file drives `faastwin validate` and `faastwin calibrate` alike.
    let calibration = out.join("calibration.toml");
    faastwin()
        .args([
            "validate",
            "--replications",
            "5",
            "--tolerance",
            "10",
            "--format",
            "json",
            "--calibration",
        ])
        .arg(&calibration)
        .arg("--runs")
        .arg(out.join("run-B1-4-partitions"))
        .assert()
        .success()
        .stdout(predicate::str::contains("\"latency_ks_distance\""));
    let again = dir.path().join("again.toml");
    faastwin()
        .arg("calibrate")
        .arg(out.join("run-A-small"))
        .arg(out.join("run-A-double"))
        .arg("--out")
        .arg(&again)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("etl.compute").and(predicate::str::contains("client_gap")),
        );
    assert_eq!(
        std::fs::read_to_string(&again).unwrap(),
        std::fs::read_to_string(&calibration).unwrap()
    );
    // A tolerance nobody meets makes validate fail.
    faastwin()
        .args([
            "validate",
            "--replications",
            "5",
            "--tolerance",
            "0",
            "--calibration",
        ])
        .arg(&calibration)
        .arg("--runs")
        .arg(out.join("run-B2-8x-shards"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("exceeds the tolerance"));
}

/// The loop measured in rounds: repetition r of every configuration ran after repetition r − 1
/// of every other, each in a session of its own, and each session's machine CPU is kept.
fn rounds_are_interleaved(out: &std::path::Path, rounds: u32) {
    let configs = [
        "A-small",
        "A-double",
        "B1-4-partitions",
        "B2-8x-shards",
        "B3-window-2",
    ];
    // Per configuration and repetition: first submission and last completion.
    let mut spans = Vec::new();
    for config in configs {
        let dir = out.join(format!("run-{config}"));
        let records = faastwin_measure::read_records(&dir.join("invocations.csv")).unwrap();
        for r in 0..rounds {
            let rows: Vec<_> = records.iter().filter(|x| x.repetition == r).collect();
            assert!(!rows.is_empty(), "{config} has no repetition {r}");
            assert!(
                rows.iter().all(|x| x.session == r),
                "{config}: repetition {r} in session {r}"
            );
            let start = rows.iter().filter_map(|x| x.t_submit).min().unwrap();
            let end = rows.iter().filter_map(|x| x.t_done_seen).max().unwrap();
            spans.push((config, r, start, end));
        }
        let meta = faastwin_measure::RunMeta::read(&dir).unwrap();
        let sessions: Vec<u32> = meta.node_cpu_sessions().map(|n| n.session).collect();
        assert_eq!(
            sessions,
            (0..rounds).collect::<Vec<_>>(),
            "{config}: machine CPU of every session"
        );
    }
    for &(a, ra, _, end) in &spans {
        for &(b, rb, start, _) in &spans {
            if rb == ra + 1 {
                assert!(
                    start > end,
                    "repetition {rb} of {b} started before repetition {ra} of {a} ended"
                );
            }
        }
    }
}

pub(crate) fn slurm() -> bool {
    static UP: OnceLock<bool> = OnceLock::new();
    *UP.get_or_init(|| {
        if std::env::var_os("FAASTWIN_NO_SLURM").is_some() {
            eprintln!("skipped: FAASTWIN_NO_SLURM is set");
            return false;
        }
        let status = std::process::Command::new("bash")
            .arg(repo_path("measure/tests/support/ensure-slurm.sh"))
            .status()
            .unwrap();
        assert!(
            status.success(),
            "could not start Slurm (or set FAASTWIN_NO_SLURM=1)"
        );
        true
    })
}

#[test]
fn closed_loop_on_slurm() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_loop("slurm", "8", &dir.path().join("loop"));
    check_loop_output(&stdout);
}
