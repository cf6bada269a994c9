//! `faastwin simulate` and `faastwin sweep` from the command line: documented JSON, determinism,
//! traces, and errors that name the file.

use predicates::prelude::*;

use crate::{faastwin, repo_path};

fn json(args: &[&str]) -> serde_json::Value {
    let out = faastwin().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn json_output_has_the_documented_fields_and_is_deterministic() {
    let scenario = repo_path("scenarios/study/relay-two-node.toml");
    let args = [
        "simulate",
        scenario.to_str().unwrap(),
        "--format",
        "json",
        "--replications",
        "2",
    ];
    let a = json(&args);
    assert_eq!(a, json(&args), "same seed, same output");
    assert_eq!(a["replications"], 2);
    let platforms = a["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 2);
    assert_eq!(platforms[0]["platform"], "ksi");
    for p in platforms {
        for key in [
            "warm_makespan_s",
            "p50_latency_s",
            "p95_latency_s",
            "p99_latency_s",
            "body_share",
        ] {
            assert!(p[key].as_f64().unwrap() > 0.0, "{key}");
        }
        let stats = &p["stats"]["warm_makespan_s"];
        assert_eq!(stats["n"], 2);
        assert_eq!(stats["median"], p["warm_makespan_s"]);
        assert!(stats["ci95"][0].as_f64().unwrap() <= stats["mean"].as_f64().unwrap());
    }
    assert!(platforms[0]["startup_overhead_s"].as_f64().unwrap() > 40.0);
    assert!(platforms[1]["startup_overhead_s"].is_null());
    let other = json(&[
        "simulate",
        scenario.to_str().unwrap(),
        "--format",
        "json",
        "--replications",
        "2",
        "--seed",
        "9",
    ]);
    assert_ne!(
        a["platforms"][0]["warm_makespan_s"],
        other["platforms"][0]["warm_makespan_s"]
    );
}

#[test]
fn table_output_reads_like_the_study() {
    let scenario = repo_path("scenarios/study/etl-two-node.toml");
    let out = faastwin()
        .arg("simulate")
        .arg(&scenario)
        .args(["--replications", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "warm makespan [s]",
        "p95 Job latency [s]",
        "startup overhead [s]",
        "compute [s]",
        "client gap",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}

#[test]
fn trace_has_one_row_per_invocation_and_replication() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.csv");
    faastwin()
        .arg("simulate")
        .arg(repo_path("scenarios/study/etl-two-node.toml"))
        .args(["--replications", "2", "--format", "csv", "--trace"])
        .arg(&trace)
        .assert()
        .success();
    let mut reader = csv::Reader::from_path(&trace).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert!(headers.iter().any(|h| h == "t_body_start"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 64 * 2 * 2);
}

#[test]
fn sweep_writes_one_row_per_point_and_platform_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo_path("scenarios/what-if/partitions.toml");
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("sweep-{threads}.csv"));
        faastwin()
            .arg("sweep")
            .arg(&scenario)
            .args(["--threads", threads, "--out"])
            .arg(&out)
            .assert()
            .success();
        outputs.push(std::fs::read_to_string(&out).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    let lines: Vec<&str> = outputs[0].lines().collect();
    assert_eq!(lines.len(), 1 + 7 * 2);
    assert!(lines[0].starts_with("point,partitions,platform,"));
}

#[test]
fn a_bad_scenario_is_named_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "platforms = [\"ksi\"]\n[workload]\nkind = \"relay\"\ninvocations = 5\ninput_bytes = { family = \"lognormal\", mu = 1.0, sigma = -2.0 }\n",
    )
    .unwrap();
    faastwin()
        .arg("simulate")
        .arg(&path)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("bad.toml").and(predicates::str::contains("sigma")));
    faastwin()
        .args(["simulate", "/nonexistent/scenario.toml"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("/nonexistent/scenario.toml"));
}
