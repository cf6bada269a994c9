//! The worker image: built from the static binary, it runs both bodies on a generated dataset
//! under podman and gives the same results as the native worker.
//!
//! Needs podman (`.ci/run` installs it). Set `FAASTWIN_NO_PODMAN=1` to skip on a machine
//! without it; the test then says so on stderr.

use std::path::Path;
use std::process::Command;

use crate::{faastwin, repo_path};

const IMAGE: &str = "localhost/faastwin-worker:test";

/// `podman run` with the settings these machines need (runc, lower ulimits, no network).
fn podman_run(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new("podman")
        .args(["--runtime", "runc", "run", "--rm", "--network=none"])
        .args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=4096:4096",
        ])
        .arg("-v")
        .arg(format!("{}:/data", data.display()))
        .arg(IMAGE)
        .args(args)
        .output()
        .expect("podman runs")
}

fn native_worker(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("faastwin-worker")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn image_runs_both_bodies_like_the_native_worker() {
    if !crate::components::podman() {
        return;
    }
    let built = Command::new(repo_path("workers/container/build-image.sh"))
        .arg(IMAGE)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "image build failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    faastwin()
        .args(["dataset", "relay", "--count", "2", "--out"])
        .arg(data.join("relay"))
        .assert()
        .success();
    faastwin()
        .args([
            "dataset",
            "etl",
            "--count",
            "1",
            "--shard-bytes",
            "1MiB",
            "--out",
        ])
        .arg(data.join("etl"))
        .assert()
        .success();
    std::fs::create_dir(data.join("out")).unwrap();

    let cases = [
        ("relay", "relay/relay-000001.json", "relay.json"),
        ("etl", "etl/shard-000000.jsonl", "etl.json"),
    ];
    for (body, input, output) in cases {
        let in_container = podman_run(
            data,
            &[
                body,
                "--host",
                "fixed",
                "--input",
                &format!("/data/{input}"),
                "--output",
                &format!("/data/out/c-{output}"),
            ],
        );
        assert!(
            in_container.status.success(),
            "{body} in container failed: {}",
            String::from_utf8_lossy(&in_container.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&in_container.stdout).unwrap();
        assert_eq!(report["workload"], body);

        let native_out = data.join(format!("out/n-{output}"));
        let native = native_worker(&[
            body,
            "--host",
            "fixed",
            "--input",
            data.join(input).to_str().unwrap(),
            "--output",
            native_out.to_str().unwrap(),
        ]);
        assert!(native.status.success());
        let container_result: serde_json::Value =
            serde_json::from_slice(&std::fs::read(data.join(format!("out/c-{output}"))).unwrap())
                .unwrap();
        let native_result: serde_json::Value =
            serde_json::from_slice(&std::fs::read(native_out).unwrap()).unwrap();
        for key in ["sha256", "groups", "records_kept", "invocation_id"] {
            assert_eq!(
                container_result.get(key),
                native_result.get(key),
                "{body}: {key}"
            );
        }
    }

    // A bad input gives the documented exit code inside the container too.
    let missing = podman_run(
        data,
        &[
            "relay",
            "--input",
            "/data/nope.json",
            "--output",
            "/data/out/x.json",
        ],
    );
    assert_eq!(missing.status.code(), Some(3));

    // Relative --dataset and --out are resolved before they reach the container.
    faastwin()
        .current_dir(data)
        .args([
            "measure",
            "--platform",
            "container",
            "--image",
            IMAGE,
            "--dataset",
            "relay",
            "--out",
            "run",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("2 invocations recorded"));
    let rows = std::fs::read_to_string(data.join("run/invocations.csv")).unwrap();
    assert_eq!(rows.matches(",succeeded,").count(), 2, "{rows}");
}
