//! Regressions of the findings of trying faastwin as a new user would: each test is named after
//! what it pins, and failed before its fix.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::{faastwin, repo_path, worker_binary};

fn relay(dir: &Path, count: u32) -> PathBuf {
    let data = dir.join("data");
    faastwin()
        .args(["dataset", "relay", "--count", &count.to_string(), "--out"])
        .arg(&data)
        .assert()
        .success();
    data
}

fn measure_local(data: &Path, out: &Path) -> assert_cmd::Command {
    let mut cmd = faastwin();
    cmd.args(["measure", "--platform", "local", "--worker"])
        .arg(worker_binary())
        .arg("--dataset")
        .arg(data)
        .arg("--out")
        .arg(out);
    cmd
}

#[test]
fn the_plain_release_build_builds_every_binary_a_user_runs() {
    let manifest = std::fs::read_to_string(repo_path("Cargo.toml")).unwrap();
    let members = manifest
        .lines()
        .find(|l| l.starts_with("default-members"))
        .expect("default-members");
    for member in ["\".\"", "\"workers\"", "\"testbed\""] {
        assert!(members.contains(member), "{members}");
    }
}

#[test]
fn quantiles_from_the_sketch_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("big.toml");
    std::fs::write(
        &scenario,
        "platforms = [\"ksi\"]\nreplications = 1\n[workload]\nkind = \"relay\"\ninvocations = 150000\nnodes = 2\ninput_bytes = { family = \"constant\", value = 2048 }\n",
    )
    .unwrap();
    let out = faastwin()
        .args(["simulate", "--format", "json"])
        .arg(&scenario)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["quantile_estimator"]
            .as_str()
            .unwrap()
            .contains("DDSketch"),
        "{json}"
    );
    assert_eq!(json["platforms"][0]["quantiles_exact"], false);
}

#[test]
fn durations_rates_windows_and_tolerances_are_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = relay(dir.path(), 3);
    for (option, value) in [
        ("--rate", "-1"),
        ("--rate", "NaN"),
        ("--rate", "0"),
        ("--rate", "1e-300"),
        ("--timeout", "NaN"),
        ("--timeout", "0"),
        ("--window", "0"),
        ("--partitions", "0"),
    ] {
        measure_local(&data, &dir.path().join(format!("run{option}{value}")))
            .args([option, value])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(option));
        assert!(
            !dir.path().join(format!("run{option}{value}")).exists(),
            "nothing ran"
        );
    }
    faastwin()
        .args([
            "validate",
            "--calibration",
            "x.toml",
            "--runs",
            "r",
            "--tolerance",
            "NaN",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--tolerance"));
}

#[test]
fn more_invocations_than_the_dataset_holds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = relay(dir.path(), 3);
    measure_local(&data, &dir.path().join("run"))
        .args(["--invocations", "1000"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("holds 3 inputs"));
}

#[test]
fn absurd_sizes_are_refused_naming_the_field_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    for (field, value) in [
        ("nodes", "1000000000"),
        ("partitions", "1000000000"),
        ("invocations", "1000000000000000000"),
    ] {
        let mut workload = vec![
            ("kind", "\"relay\""),
            ("invocations", "10"),
            ("nodes", "2"),
            ("input_bytes", "{ family = \"constant\", value = 2048 }"),
        ];
        workload.retain(|(k, _)| *k != field);
        workload.push((field, value));
        let body: String = workload
            .iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect();
        let scenario = dir.path().join(format!("{field}.toml"));
        std::fs::write(
            &scenario,
            format!("platforms = [\"ksi\"]\n[workload]\n{body}"),
        )
        .unwrap();
        faastwin()
            .arg("simulate")
            .arg(&scenario)
            .assert()
            .code(1)
            .stderr(
                predicate::str::contains(format!("workload.{field}"))
                    .and(predicate::str::contains("limit")),
            );
    }
    let scenario = dir.path().join("replications.toml");
    std::fs::write(
        &scenario,
        "platforms = [\"ksi\"]\nreplications = 1000000000\n[workload]\nkind = \"relay\"\ninvocations = 10\ninput_bytes = { family = \"constant\", value = 2048 }\n",
    )
    .unwrap();
    faastwin()
        .arg("simulate")
        .arg(&scenario)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("replications"));
    for args in [
        vec!["relay", "--count", "1000000000000"],
        vec!["relay", "--count", "3", "--payload-bytes", "100000000000"],
        vec!["etl", "--count", "3", "--shard-bytes", "1000GB"],
    ] {
        let out = dir.path().join("never");
        faastwin()
            .arg("dataset")
            .args(&args)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("limit").or(predicate::str::contains("free")));
        assert!(!out.exists(), "nothing written for {args:?}");
    }
}

#[test]
fn a_bad_calibration_value_names_the_calibration_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cal.toml"),
        "[platforms.x]\n[platforms.x.resources.cp]\nscope = \"cluster\"\ndiscipline = { kind = \"fifo\", servers = 0 }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "calibration = \"cal.toml\"\nplatforms = [\"x\"]\n[workload]\nkind = \"relay\"\ninvocations = 10\ninput_bytes = { family = \"constant\", value = 1000 }\n",
    )
    .unwrap();
    faastwin()
        .arg("simulate")
        .arg(dir.path().join("s.toml"))
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("cal.toml")
                .and(predicate::str::contains("line 2"))
                .and(predicate::str::contains("at least 1 server")),
        );
}

#[test]
fn a_bad_cell_is_named_by_its_column_and_os_errors_are_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = relay(dir.path(), 2);
    let run = dir.path().join("run");
    measure_local(&data, &run).assert().success();
    let csv = run.join("invocations.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let e2e = header.iter().position(|h| *h == "e2e_s").unwrap();
    let mut cells: Vec<String> = lines[1].split(',').map(str::to_owned).collect();
    cells[e2e] = "soon".into();
    lines[1] = cells.join(",");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    faastwin()
        .args(["calibrate", "--out"])
        .arg(dir.path().join("c.toml"))
        .arg(&run)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("column `e2e_s`").and(predicate::str::contains("line 2")));
    let missing = faastwin()
        .args(["calibrate", "--out", "c.toml", "/nonexistent/run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_torn_last_row_is_left_out_by_readers_and_cut_by_resume() {
    let dir = tempfile::tempdir().unwrap();
    let data = relay(dir.path(), 4);
    let run = dir.path().join("run");
    measure_local(&data, &run).assert().success();
    let csv = run.join("invocations.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    // A full disk in the middle of the last row: it ends without its newline.
    let torn = &text[..text.len() - 40];
    std::fs::write(&csv, torn).unwrap();
    faastwin()
        .args(["calibrate", "--out"])
        .arg(dir.path().join("c.toml"))
        .arg(&run)
        .assert()
        .success()
        .stderr(predicate::str::contains("torn"));
    faastwin()
        .args(["measure", "--worker"])
        .arg(worker_binary())
        .arg("--resume")
        .arg(&run)
        .assert()
        .success()
        .stdout(predicate::str::contains("4 invocations recorded"));
    let repaired = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        repaired.lines().count(),
        5,
        "header and four whole rows: {repaired}"
    );
}

#[test]
fn sigterm_stops_a_run_like_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let data = relay(dir.path(), 400);
    let run = dir.path().join("run");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("faastwin"))
        .args(["measure", "--platform", "local", "--worker"])
        .arg(worker_binary())
        .arg("--dataset")
        .arg(&data)
        .arg("--out")
        .arg(&run)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = crate::terminate_after_three_rows(child, &run);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["status"], "interrupted");
    let rows = std::fs::read_to_string(run.join("invocations.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert!(rows < 400, "stopped early: {rows}");
}

#[test]
fn a_resume_keeps_its_options_counts_attempts_and_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = relay(dir.path(), 4);
    let run = dir.path().join("run");
    let input = data.join("relay-000002.json");
    let good = std::fs::read(&input).unwrap();
    std::fs::write(&input, b"{ broken").unwrap();
    measure_local(&data, &run)
        .args(["--partitions", "2"])
        .assert()
        .success();
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        first["options"]["setup"]["worker"],
        worker_binary().display().to_string()
    );
    // Another image or worker on resume is refused; the same one is fine.
    faastwin()
        .args(["measure", "--image", "other:latest", "--resume"])
        .arg(&run)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--image"));
    std::fs::write(&input, good).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    faastwin()
        .args(["measure", "--worker"])
        .arg(worker_binary())
        .arg("--resume")
        .arg(&run)
        .assert()
        .success();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        meta["started_unix_ns"], first["started_unix_ns"],
        "the first start is kept"
    );
    assert_eq!(meta["resumed_unix_ns"].as_array().unwrap().len(), 1);
    let mut reader = csv::Reader::from_path(run.join("invocations.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let retried: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| &r[col("invocation_id")] == "2")
        .collect();
    assert_eq!(retried.len(), 2);
    assert_eq!(
        (&retried[1][col("attempt")], &retried[1][col("session")]),
        ("2", "1")
    );
    assert_eq!(&retried[1][col("outcome")], "succeeded");
    // Partition 0's makespan counts its two sessions, not the pause between them.
    let summary = std::fs::read_to_string(run.join("summary.csv")).unwrap();
    let mut s = csv::Reader::from_reader(summary.as_bytes());
    let h = s.headers().unwrap().clone();
    let row = s.records().next().unwrap().unwrap();
    let makespan: f64 = row[h.iter().position(|x| x == "warm_makespan_s").unwrap()]
        .parse()
        .unwrap();
    assert!(makespan < 0.3, "no 300 ms pause inside: {makespan}");
}

#[test]
fn a_run_in_which_every_invocation_failed_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = relay(dir.path(), 2);
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("relay-")
        {
            std::fs::write(path, b"garbage").unwrap();
        }
    }
    measure_local(&data, &dir.path().join("run"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("every invocation failed"));
}

/// A replication or thread count given on the command line has the limits a scenario file has
/// (`--replications 4000000000` once ran for ever; `--threads 0` was taken).
#[test]
fn replication_and_thread_counts_from_the_command_line_are_bounded() {
    let scenario = repo_path("scenarios/study/relay-two-node.toml");
    for (command, flag, value, limit) in [
        ("simulate", "--replications", "4000000000", "1 to 100000"),
        ("simulate", "--replications", "0", "1 to 100000"),
        ("simulate", "--threads", "0", "1 to 4096"),
        ("sweep", "--replications", "100001", "1 to 100000"),
        ("sweep", "--threads", "0", "1 to 4096"),
    ] {
        faastwin()
            .arg(command)
            .arg(&scenario)
            .args([flag, value])
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(flag).and(predicate::str::contains(limit)));
    }
    faastwin()
        .args([
            "validate",
            "--replications",
            "0",
            "--calibration",
            "c.toml",
            "--runs",
            "r",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("1 to 100000"));
}

/// A run that would measure nothing warm in some partition, or leave partitions without an
/// invocation, or write into its own dataset, is refused before anything runs (`--warmup
/// 1000000000` exited 0 with an empty table; `--out` equal to `--dataset` mixed the run's
/// files with the inputs).
#[test]
fn runs_that_would_measure_nothing_or_write_into_their_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = relay(dir.path(), 4);
    for (args, says) in [
        (vec!["--warmup", "1000000000"], "--warmup 1000000000"),
        (
            vec!["--partitions", "2", "--warmup", "2"],
            "would measure none warm",
        ),
        (
            vec!["--partitions", "64"],
            "60 partitions would submit nothing",
        ),
    ] {
        let out = dir.path().join("run");
        measure_local(&data, &out)
            .args(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(says));
        assert!(
            !out.join("invocations.csv").exists(),
            "{args:?}: nothing ran"
        );
    }
    measure_local(&data, &data.join("run"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is inside the dataset"));
    assert!(!data.join("run").exists());
}
