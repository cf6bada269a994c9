//! `--resume`: a run cut short continues without repeating what succeeded.

use faastwin_measure::{SubmitPolicy, read_records};

use crate::{host, local, measure, options, relay_dataset, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_runs_only_what_is_missing_and_a_redone_failure_is_no_failure() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 10);
    let out = dir.path().join("run");
    let opts = options("local", 2, vec![host()], SubmitPolicy::Sequential);
    let full = measure(local(worker()), opts.clone(), dataset.clone(), &out).await;
    assert_eq!(full.records.len(), 10);

    // Simulate a crash after six invocations: keep the header and six rows, and one row of a
    // failed invocation, which resume must run again.
    let path = out.join("invocations.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().take(8).map(str::to_owned).collect();
    lines[7] = lines[7].replace(",succeeded,", ",failed,");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let kept: Vec<u64> = read_records(&path)
        .unwrap()
        .iter()
        .filter(|r| r.succeeded())
        .map(|r| r.invocation_id)
        .collect();
    assert_eq!(kept.len(), 6);

    let (_tx, rx) = tokio::sync::watch::channel(false);
    let resumed = crate::run(local(worker()), opts, dataset, &out, true, rx).await;
    let succeeded: Vec<u64> = resumed
        .records
        .iter()
        .filter(|r| r.succeeded())
        .map(|r| r.invocation_id)
        .collect();
    let mut unique = succeeded.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique,
        (0..10).collect::<Vec<_>>(),
        "every invocation succeeded once"
    );
    assert_eq!(succeeded.len(), 10, "none that had succeeded ran again");
    assert_eq!(
        resumed.records.len(),
        11,
        "the failed attempt stays in the record"
    );
    let meta = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(meta.contains("\"resumed\": true"), "{meta}");
    // Each session's machine CPU is kept: calibration weighs the records of every session.
    let meta = faastwin_measure::RunMeta::read(&out).unwrap();
    let sessions: Vec<u32> = meta.node_cpu_sessions().map(|n| n.session).collect();
    assert_eq!(sessions, vec![0, 1], "{meta:?}");

    // Issue 29.10: the failed attempt that the resume redid is superseded, not a failure.
    assert_eq!(resumed.failed(), 0, "every invocation ended up succeeding");
    assert_eq!(resumed.invocations(), 10);
    assert_eq!(resumed.summaries[0].failed, 0);
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = summary.lines().nth(1).unwrap().split(',').collect();
    let failed = header.iter().position(|h| *h == "failed").unwrap();
    assert_eq!(row[failed], "0", "summary.csv: {summary}");
}
