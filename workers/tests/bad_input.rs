//! Every bad input gives its documented exit code, one line on stderr, and no result file.

use std::path::Path;

use crate::{worker, write};

fn expect_failure(body: &str, input: &Path, output: &Path, code: i32, extra: &[&str]) {
    let log = output.with_file_name("termination-log");
    let assert = worker()
        .arg(body)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .arg("--termination-log")
        .arg(&log)
        .args(extra)
        .assert()
        .code(code);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line on stderr, got {stderr:?}"
    );
    assert!(stderr.starts_with("faastwin-worker: "), "{stderr}");
    assert!(!output.exists(), "no result file after a failure");
    let leftovers: Vec<_> = std::fs::read_dir(output.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let message: serde_json::Value = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
    assert_eq!(message["exit_code"], code);
}

#[test]
fn missing_input_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    for body in ["relay", "etl"] {
        expect_failure(
            body,
            &dir.path().join("nope"),
            &dir.path().join("out.json"),
            3,
            &[],
        );
    }
}

#[test]
fn unreadable_input_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a-directory");
    std::fs::create_dir(&sub).unwrap();
    for body in ["relay", "etl"] {
        expect_failure(body, &sub, &dir.path().join("out.json"), 4, &[]);
    }
}

#[test]
fn empty_input_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "empty", b"");
    for body in ["relay", "etl"] {
        expect_failure(body, &input, &dir.path().join("out.json"), 5, &[]);
    }
}

#[test]
fn garbage_input_exits_6() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = write(
        dir.path(),
        "garbage",
        &[0xff, 0xfe, b'\n', 0x00, b'{', b'\n', b'x'],
    );
    for body in ["relay", "etl"] {
        expect_failure(body, &garbage, &dir.path().join("out.json"), 6, &[]);
    }
    let wrong_shape = write(dir.path(), "wrong.json", br#"{"id":1,"no_payload":true}"#);
    expect_failure("relay", &wrong_shape, &dir.path().join("out.json"), 6, &[]);
    let blank = write(dir.path(), "blank.jsonl", b"\n\n  \n");
    expect_failure("etl", &blank, &dir.path().join("out.json"), 6, &[]);
}

#[test]
fn too_many_malformed_records_exit_7_but_a_few_are_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"event_id":1,"ts_ms":1767225600000,"station":"ST-0001","category":"humidity","value":50.0,"unit":"pct","quality":0.9}"#;
    let shard = format!("{good}\n{{broken\n{good}\n{good}\n");
    let input = write(dir.path(), "shard.jsonl", shard.as_bytes());
    let output = dir.path().join("out.json");
    expect_failure("etl", &input, &output, 7, &[]);
    worker()
        .args(["etl", "--max-bad-share", "0.25", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .arg("--termination-log")
        .arg(dir.path().join("log"))
        .assert()
        .success();
    assert!(output.exists());
}

#[test]
fn unwritable_output_exits_8() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.json", br#"{"id":1,"payload":"p"}"#);
    let log = dir.path().join("log");
    worker()
        .args(["relay", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(dir.path().join("missing-dir/out.json"))
        .arg("--termination-log")
        .arg(&log)
        .assert()
        .code(8);
    assert!(!dir.path().join("missing-dir").exists());
}

#[test]
fn out_of_range_share_is_a_usage_error() {
    worker()
        .args([
            "etl",
            "--input",
            "a",
            "--output",
            "b",
            "--max-bad-share",
            "1.5",
        ])
        .assert()
        .code(2);
}
