//! The relay body hashes `payload|invocation_id|host` and reports its timings.

use faastwin_workers::relay::{self, RelayOptions, RelayOutput};
use faastwin_workers::{Body, Report};

use crate::{worker, write};

#[test]
fn digest_matches_a_hand_computed_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.json",
        br#"{"id":7,"payload":"abc","metadata":{"x":1}}"#,
    );
    let output = dir.path().join("out.json");
    let options = RelayOptions {
        invocation_id: None,
        host: Some("node-a".into()),
    };
    let report = relay::run(&input, &output, &options).unwrap();

    let out: RelayOutput = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    // printf 'abc|7|node-a' | sha256sum
    assert_eq!(
        out.sha256,
        "8661230794cf1be7a40a288efb26fb58d16cb2e10acf00edc9681e819a4445cc"
    );
    assert_eq!(out.invocation_id, "7");
    assert_eq!(out.payload_bytes, 3);
    assert_eq!(report.workload, Body::Relay);
    assert_eq!(
        report.bytes_written,
        std::fs::metadata(&output).unwrap().len()
    );
    assert_eq!(report.bytes_read, std::fs::metadata(&input).unwrap().len());
    assert!(report.body_end_unix_ns >= report.body_start_unix_ns);
    assert!(report.read_ns + report.compute_ns + report.write_ns <= report.body_ns);
}

#[test]
fn binary_reports_to_stdout_and_termination_log() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.json",
        br#"{"id":42,"payload":"hello world"}"#,
    );
    let output = dir.path().join("out.json");
    let log = dir.path().join("termination-log");
    let assert = worker()
        .args(["relay", "--host", "h1", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .arg("--termination-log")
        .arg(&log)
        .assert()
        .success();
    let stdout: Report = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let logged: Report = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
    assert_eq!(stdout, logged);
    assert_eq!(stdout.invocation_id, "42");
    assert!(std::fs::read(&log).unwrap().len() <= faastwin_workers::TERMINATION_MESSAGE_MAX_BYTES);
    let out: RelayOutput = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    // printf 'hello world|42|h1' | sha256sum
    assert_eq!(
        out.sha256,
        "dcf3a499671b4a5b77e0f9c0daf960e273664420cea2c020858f7c2b0d1aeb8b"
    );
}

#[test]
fn invocation_id_option_changes_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.json", br#"{"id":7,"payload":"abc"}"#);
    let run = |id: Option<&str>| {
        let output = dir.path().join("out.json");
        let options = RelayOptions {
            invocation_id: id.map(Into::into),
            host: Some("node-a".into()),
        };
        relay::run(&input, &output, &options).unwrap();
        serde_json::from_slice::<RelayOutput>(&std::fs::read(&output).unwrap())
            .unwrap()
            .sha256
    };
    assert_ne!(run(None), run(Some("8")));
    assert_eq!(run(None), run(Some("7")));
}

/// A result sent to something that is not a file (a pipe here; `/dev/null` is the case that
/// matters) is written into it, never renamed over it: as root, the rename replaced the
/// machine's `/dev/null` with a regular file.
#[test]
fn a_result_sent_to_a_pipe_or_device_is_written_into_it_not_renamed_over_it() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.json", br#"{"id":7,"payload":"abc"}"#);
    let fifo = dir.path().join("result.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // The reading end, opened first without blocking (O_NONBLOCK on Linux), so that the
    // worker's open does not wait and, had the pipe been replaced, the read ends empty at once.
    let mut reader = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(0o4000)
            .open(&fifo)
            .unwrap()
    };
    let options = RelayOptions {
        invocation_id: None,
        host: Some("node-a".into()),
    };
    relay::run(&input, &fifo, &options).unwrap();
    let mut written = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut written).unwrap();
    let out: RelayOutput = serde_json::from_slice(&written)
        .unwrap_or_else(|e| panic!("the pipe got {} bytes: {e}", written.len()));
    assert_eq!(out.invocation_id, "7");
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "still a pipe, not a file: {kind:?}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary file left beside it"
    );
}
