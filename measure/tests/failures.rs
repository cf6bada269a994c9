//! Failures are recorded, not fatal: a bad input, a hung worker, an unknown node, Ctrl-C.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use faastwin_measure::{NoProgress, Outcome, SubmitPolicy};

use crate::{host, local, measure, options, relay_dataset, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_input_fails_only_its_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 4);
    std::fs::write(dataset.dir.join("relay-000002.json"), b"{ not json").unwrap();
    let outcome = measure(
        local(worker()),
        options("local", 1, vec![host()], SubmitPolicy::Sequential),
        dataset,
        &dir.path().join("run"),
    )
    .await;
    assert_eq!(outcome.records.len(), 4);
    let bad = outcome
        .records
        .iter()
        .find(|r| r.invocation_id == 2)
        .unwrap();
    assert_eq!(bad.outcome, Outcome::Failed);
    assert_eq!(bad.exit_code, Some(6));
    assert!(bad.error.contains("relay-000002.json"), "{}", bad.error);
    assert!(bad.e2e_s.is_some() && bad.body_s.is_none());
    assert_eq!(outcome.records.iter().filter(|r| r.succeeded()).count(), 3);
    assert_eq!(outcome.summaries[0].failed, 1);
}

fn sleeping_worker(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("slow-worker");
    std::fs::write(
        &path,
        "#!/bin/sh\n[ \"$1\" = --version ] && { echo fake-worker 0; exit 0; }\nexec sleep 30\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_worker_times_out_and_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 2);
    let mut opts = options("local", 2, vec![host()], SubmitPolicy::Sequential);
    opts.timeout_s = 0.3;
    let platform = local(sleeping_worker(dir.path()));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let started = std::time::Instant::now();
    let result = faastwin_measure::run(
        platform,
        opts,
        dataset,
        dir.path().join("run"),
        false,
        Arc::new(NoProgress),
        rx,
    )
    .await;
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => panic!("{e}"),
    };
    assert!(
        started.elapsed().as_secs_f64() < 10.0,
        "killed, not waited for"
    );
    assert!(
        outcome
            .records
            .iter()
            .all(|r| r.outcome == Outcome::TimedOut),
        "{:?}",
        outcome.records
    );
    assert!(outcome.records[0].error.contains("0.3 s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_records_in_flight_invocations_as_cancelled_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 6);
    let out = dir.path().join("run");
    let (tx, run) = crate::spawned(
        local(sleeping_worker(dir.path())),
        options("local", 2, vec![host()], SubmitPolicy::Sequential),
        dataset,
        &out,
    );
    // The sleeping workers run for 30 s: by 1.5 s both partitions have one in flight.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    tx.send(true).unwrap();
    let outcome = run.await.unwrap().unwrap();
    assert!(outcome.interrupted);
    assert_eq!(
        outcome.records.len(),
        2,
        "two partitions had one invocation in flight each"
    );
    assert!(
        outcome
            .records
            .iter()
            .all(|r| r.outcome == Outcome::Cancelled)
    );
    let meta = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(meta.contains("\"interrupted\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_node_and_a_missing_worker_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 1);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let err = faastwin_measure::run(
        local(worker()),
        options(
            "local",
            1,
            vec!["node-that-is-not-here".into()],
            SubmitPolicy::Sequential,
        ),
        dataset.clone(),
        dir.path().join("a"),
        false,
        Arc::new(NoProgress),
        rx.clone(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("node-that-is-not-here"), "{err}");
    let err = faastwin_measure::run(
        local(dir.path().join("no-such-worker")),
        options("local", 1, vec![host()], SubmitPolicy::Sequential),
        dataset,
        dir.path().join("b"),
        false,
        Arc::new(NoProgress),
        rx,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("no-such-worker"), "{err}");
}
