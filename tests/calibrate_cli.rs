//! `faastwin loop`, `faastwin calibrate` and `faastwin validate`: the closed loop measure →
//! calibrate → predict → measure → validate, at small scale, for real, on local processes and
//! on the test Slurm and the testbed's Kubernetes. The accuracy target (median |makespan error| ≤ 5 %) needs more
//! invocations than a test should spend; here the tolerance is loose and the test checks that
//! the loop runs end to end and its numbers are sane.

use predicates::prelude::*;

use crate::components::slurm;
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

/// Issue 29.13: the README's block, as written: a calibration fitted `--as k3s` from k8s runs
/// validates a k8s run without `--as` (its only platform, said on stderr); with several
/// platforms and none of the run's kind, the error names the flag.
#[test]
fn validate_takes_a_calibrations_only_platform_and_names_the_flag_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let runs = ["run-A-small", "run-A-double", "run-A-4-partitions"]
        .map(|r| repo_path(&format!("docs/loops/k8s-1/{r}")));
    let k3s = dir.path().join("k3s.toml");
    faastwin()
        .arg("calibrate")
        .args(&runs)
        .args(["--as", "k3s", "--out"])
        .arg(&k3s)
        .assert()
        .success();
    let held_out = repo_path("docs/loops/k8s-1/run-B3-window-2");
    faastwin()
        .args(["validate", "--tolerance", "1", "--calibration"])
        .arg(&k3s)
        .arg("--runs")
        .arg(&held_out)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "a k8s run, predicted with the calibration's only platform, \"k3s\"",
        ))
        .stdout(predicate::str::contains(
            "90 % prediction interval of the warm makespan",
        ));
    // An interval's level is a share between 0 and 1, refused before any work.
    faastwin()
        .args(["validate", "--interval", "90", "--calibration"])
        .arg(&k3s)
        .arg("--runs")
        .arg(&held_out)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "\"90\" is not an interval level (a number between 0 and 1; 0.9 = 90 %)",
        ));
    let two = dir.path().join("two.toml");
    let text = std::fs::read_to_string(&k3s).unwrap();
    let copy = text.replace("[platforms.k3s", "[platforms.other");
    let copy = copy[copy.find("[platforms.other").unwrap()..].to_owned();
    let copy = copy[..copy.find("[provenance").unwrap_or(copy.len())].to_owned();
    std::fs::write(&two, format!("{text}\n{copy}")).unwrap();
    faastwin()
        .args(["validate", "--calibration"])
        .arg(&two)
        .arg("--runs")
        .arg(&held_out)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "the calibration has no platform \"k8s\", the run's kind; choose one of",
        ))
        .stderr(predicate::str::contains("with --as NAME"));
}

/// `calibrate --refits K` keeps K refits of the platform in the file, which `validate` then
/// simulates (its intervals name what their width comes from); an absurd count is refused.
#[test]
fn calibrate_keeps_refits_for_validates_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let runs = ["run-A-small", "run-A-double", "run-A-relay"]
        .map(|r| repo_path(&format!("docs/loops/local-6/{r}")));
    let out = dir.path().join("local.toml");
    faastwin()
        .arg("calibrate")
        .args(&runs)
        .args(["--refits", "3", "--out"])
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.matches("[[refits.local]]").count(), 3, "three refits");
    assert!(text.contains("[provenance.local.run_to_run]"));
    faastwin()
        .args(["validate", "--tolerance", "10", "--calibration"])
        .arg(&out)
        .arg("--runs")
        .arg(repo_path("docs/loops/local-6/run-H5-relay-p1-n1-w1"))
        .assert()
        .success()
        .stdout(predicate::str::contains("(width mostly the "));
    faastwin()
        .arg("calibrate")
        .args(&runs)
        .args(["--refits", "5000", "--out"])
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "\"5000\" is not a refit count from 0 to 1000",
        ));
}

/// `calibrate --model-error`: validations of held-out runs (here the kept local-1 loop's) are
/// kept per platform, widen `validate`'s intervals and are named as what their width mostly
/// comes from; a file that is not a validation is named with its line.
#[test]
fn calibrate_keeps_the_models_held_out_error_for_the_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let runs = ["run-A-small", "run-A-double", "run-A-relay"]
        .map(|r| repo_path(&format!("docs/loops/local-6/{r}")));
    let interval = |calibration: &std::path::Path| -> serde_json::Value {
        let out = faastwin()
            .args([
                "validate",
                "--tolerance",
                "10",
                "--format",
                "json",
                "--calibration",
            ])
            .arg(calibration)
            .arg("--runs")
            .arg(repo_path("docs/loops/local-6/run-H5-relay-p1-n1-w1"))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v[0]["makespan_interval"].clone()
    };
    let width = |i: &serde_json::Value| i["high"].as_f64().unwrap() - i["low"].as_f64().unwrap();
    let plain = dir.path().join("plain.toml");
    faastwin()
        .arg("calibrate")
        .args(&runs)
        .arg("--out")
        .arg(&plain)
        .assert()
        .success();
    let with = dir.path().join("with.toml");
    faastwin()
        .arg("calibrate")
        .args(&runs)
        .arg("--model-error")
        .arg(repo_path("docs/loops/local-1/validation.csv"))
        .arg("--out")
        .arg(&with)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "local: the model's error on 3 held-out runs kept",
        ));
    let text = std::fs::read_to_string(&with).unwrap();
    assert!(text.contains("[provenance.local.model_error]"), "{text}");
    let (a, b) = (interval(&plain), interval(&with));
    assert!(width(&b) > width(&a), "{b} is not wider than {a}");
    assert!(b["sources"][3].as_f64().unwrap() > 0.0, "{b}");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "run,platform,metric,measured,predicted\nr,local,warm_makespan_s,fast,1.0\n",
    )
    .unwrap();
    faastwin()
        .arg("calibrate")
        .args(&runs)
        .arg("--model-error")
        .arg(&bad)
        .arg("--out")
        .arg(&with)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "bad.csv, line 2: \"fast\" is not a number",
        ));
}

/// Issue 29.12: a loop whose configurations cannot all be measured (3 invocations cannot fill
/// the held-out configuration's 4 partitions) is refused before it writes or measures
/// anything, naming the configuration; it measured two configurations first.
#[test]
fn a_loop_that_cannot_measure_every_configuration_measures_none() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop");
    let output = local_loop("3", &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "configuration B1-4-partitions (4 partitions, 3 invocations) cannot be measured"
        ) && stderr.contains("only 3 invocations to share"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written: {stderr}");
}

/// `faastwin loop` on local processes with small shards, one repetition, into `out`.
fn local_loop(invocations: &str, out: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("faastwin"));
    command
        .args(["loop", "--platform", "local", "--invocations", invocations])
        .args([
            "--small-shard-bytes",
            "4KiB",
            "--repetitions",
            "1",
            "--worker",
        ])
        .arg(worker_binary())
        .arg("--out")
        .arg(out);
    command
}

/// SIGTERM (or Ctrl-C) during `faastwin loop` stops the run being measured as `faastwin
/// measure` stops (in-flight invocations cancelled, recorded as interrupted), keeps the
/// configurations measured before it whole, measures and calibrates nothing more, and exits 130.
#[test]
fn sigterm_stops_a_loop_and_keeps_what_it_measured() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop");
    let child = local_loop("1000", &out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let second = out.join("run-A-double");
    let output = crate::terminate_after_three_rows(child, &second);
    let rows = |run: &std::path::Path| {
        std::fs::read_to_string(run.join("invocations.csv")).map_or(0, |s| s.lines().count())
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "interrupted measuring A-double into {}",
            second.display()
        )),
        "{stderr}"
    );
    let status = |run: &str| -> String {
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(run).join("run.json")).unwrap())
                .unwrap();
        meta["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(status("run-A-small"), "complete");
    assert_eq!(rows(&out.join("run-A-small")), 1001);
    assert_eq!(status("run-A-double"), "interrupted");
    assert!(rows(&second) < 1001, "stopped early: {}", rows(&second));
    assert!(!out.join("run-B1-4-partitions").exists(), "{stderr}");
    assert!(!out.join("calibration.toml").exists(), "{stderr}");
}

#[test]
fn closed_loop_on_slurm() {
    if !slurm() {
        return;
    }
    let _jobs = crate::components::slurm_jobs();
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_loop("slurm", "8", &dir.path().join("loop"));
    check_loop_output(&stdout);
}

/// `faastwin loop --platform k8s` on the testbed's real cluster, small. Where A's latency stayed
/// flat (the testbed's does up to 4 Jobs in flight, though 4 Jobs per partition may not show
/// it), the loop says so and climbs one rung (`--max-partitions 16`): 8 partitions join A and 16
/// are held out; otherwise it warns of nothing and predicts 8 partitions.
#[test]
fn closed_loop_on_kubernetes() {
    let Some(t) = crate::testbed::testbed() else {
        return;
    };
    let _cluster = crate::testbed::lock();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop");
    let output = faastwin()
        .args(["loop", "--platform", "k8s", "--kubeconfig"])
        .arg(&t.kubeconfig)
        .args(["--image-pull-policy", "Never", "--invocations", "8"])
        .args(["--small-shard-bytes", "64KiB", "--repetitions", "1"])
        .args(["--replications", "5", "--tolerance", "10"])
        .args(["--max-partitions", "16", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    check_loop_output(&stdout);
    let calibration = std::fs::read_to_string(out.join("calibration.toml")).unwrap();
    let climbed = stderr.contains(
        "B1-8-partitions joins configuration A as A-8-partitions and B1-16-partitions is measured",
    );
    let (joined, held_out, gone) = if climbed {
        (
            "run-A-8-partitions",
            "on 16 partitions",
            "run-B1-8-partitions",
        )
    } else {
        assert!(!stderr.contains("hardly grew"), "{stderr}");
        (
            "run-A-4-partitions",
            "on 8 partitions",
            "run-B1-16-partitions",
        )
    };
    assert!(calibration.contains(joined), "{calibration}");
    assert!(stdout.contains(held_out), "{stdout}\n{stderr}");
    assert!(!out.join(gone).exists(), "{stderr}");
    assert!(
        !calibration.contains("run-B"),
        "held-out runs never calibrate:\n{calibration}"
    );
}

/// Issue 29.8: two loops started at once on one cluster (other `--out`s) used to share run
/// ids (`loop-<config>`), so each lost invocations to 409s and took the other's pods and
/// timings into its rows. Now each loop's runs are labelled with ids of its own directory:
/// every invocation of both succeeds, on Jobs of its own run.
#[test]
fn two_loops_at_once_on_one_cluster_keep_apart() {
    let Some(t) = crate::testbed::testbed() else {
        return;
    };
    let _cluster = crate::testbed::lock();
    let dir = tempfile::tempdir().unwrap();
    let outs = [dir.path().join("loop-1"), dir.path().join("loop-2")];
    let children: Vec<_> = outs
        .iter()
        .map(|out| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("faastwin"))
                .args(["loop", "--platform", "k8s", "--kubeconfig"])
                .arg(&t.kubeconfig)
                .args(["--image-pull-policy", "Never", "--invocations", "8"])
                .args(["--small-shard-bytes", "64KiB", "--repetitions", "1"])
                .args(["--replications", "2", "--tolerance", "100"])
                .args(["--max-partitions", "8", "--out"])
                .arg(out)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids: Vec<std::collections::BTreeSet<String>> = Vec::new();
    for (child, out) in children.into_iter().zip(&outs) {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("did not succeed"), "{stderr}");
        let mut own = std::collections::BTreeSet::new();
        for run in std::fs::read_dir(out).unwrap().flatten() {
            let records = run.path().join("invocations.csv");
            if !records.exists() {
                continue;
            }
            let rows = faastwin_measure::read_records(&records).unwrap();
            assert!(!rows.is_empty(), "{}", records.display());
            for r in &rows {
                assert!(r.succeeded(), "{}: {r:?}\n{stderr}", records.display());
                own.insert(r.run_id.clone());
            }
        }
        assert!(
            own.len() >= 3,
            "runs of {}: {own:?}\n{stderr}",
            out.display()
        );
        ids.push(own);
    }
    assert!(ids[0].is_disjoint(&ids[1]), "shared run ids: {ids:?}");
}
