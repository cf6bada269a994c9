//! Integration tests of the measurement mode on real processes, real containers and a real
//! Slurm; one module per behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/components.rs"]
mod components;
mod container;
mod failures;
mod k8s_api;
mod k8s_cluster;
mod k8s_objects;
mod ksi;
mod local;
mod resume;
mod slurm;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use faastwin_measure::{
    InvocationRecord, Launch, NoProgress, Platform, ProcessPlatform, RunOptions, RunOutcome,
    SubmitPolicy,
};
use faastwin_workers::dataset::{self, Dataset, DatasetSpec};

#[path = "../../tests/support/worker.rs"]
mod support;
#[path = "../../tests/support/testbed.rs"]
mod testbed;
pub(crate) use support::worker;

pub(crate) fn relay_dataset(dir: &Path, count: u64) -> Dataset {
    let spec = DatasetSpec::Relay {
        count,
        seed: 1,
        payload_bytes: 512,
    };
    dataset::generate(&spec, &dir.join("data"), &|_| {}).unwrap();
    dataset::read(&dir.join("data")).unwrap()
}

/// A number no other run of this test binary has.
fn next_run() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn options(
    platform: &str,
    partitions: u32,
    nodes: Vec<String>,
    policy: SubmitPolicy,
) -> RunOptions {
    // One id per run: a run's cleanup cancels every queued job named after its id, and the
    // tests of this binary run at once.
    RunOptions::new(
        format!("t{}-{}", std::process::id(), next_run()),
        platform.parse().unwrap(),
        partitions,
        nodes,
        policy,
    )
}

/// The CPUs each logical node of the test Slurm owns, as `slurm-up.sh` laid them out
/// (`/run/slurm-local/layout.csv`: node, cpus, quota).
pub(crate) fn slurm_layout() -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string("/run/slurm-local/layout.csv")
        .expect("slurm-up.sh writes the layout of its logical nodes")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut fields = l.split(',');
            Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
        })
        .collect()
}

pub(crate) fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

pub(crate) fn local(worker: PathBuf) -> Arc<dyn Platform> {
    Arc::new(ProcessPlatform::new(Launch::Local { worker }))
}

pub(crate) async fn measure(
    platform: Arc<dyn Platform>,
    options: RunOptions,
    dataset: Dataset,
    out: &Path,
) -> RunOutcome {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    run(platform, options, dataset, out, false, rx).await
}

/// One run (or its resumption) until it ends or `cancel` turns true.
pub(crate) async fn run(
    platform: Arc<dyn Platform>,
    options: RunOptions,
    dataset: Dataset,
    out: &Path,
    resume: bool,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> RunOutcome {
    faastwin_measure::run(
        platform,
        options,
        dataset,
        out.to_owned(),
        resume,
        Arc::new(NoProgress),
        cancel,
    )
    .await
    .unwrap()
}

/// A run started in the background with the sender that cancels it (Ctrl-C), and the run
/// itself, its error kept for the test to read.
pub(crate) fn spawned(
    platform: Arc<dyn Platform>,
    options: RunOptions,
    dataset: Dataset,
    out: &Path,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Result<RunOutcome, faastwin_measure::MeasureError>>,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(faastwin_measure::run(
        platform,
        options,
        dataset,
        out.to_owned(),
        false,
        Arc::new(NoProgress),
        rx,
    ));
    (tx, run)
}

/// Checks what every successful record must satisfy.
pub(crate) fn check_succeeded(r: &InvocationRecord) {
    assert!(r.succeeded(), "{r:?}");
    let (submit, done) = (r.t_submit.unwrap(), r.t_done_seen.unwrap());
    assert!(
        submit <= r.t_create_ack.unwrap_or(submit) && r.t_create_ack.unwrap_or(submit) <= done,
        "{r:?}"
    );
    assert!(r.e2e_s.unwrap() > 0.0 && r.body_s.unwrap() > 0.0);
    assert!(
        r.body_s.unwrap() <= r.e2e_s.unwrap(),
        "body inside the Job latency: {r:?}"
    );
    assert!(r.w_body_start.unwrap() <= r.w_body_end.unwrap());
    assert_eq!(r.exit_code, Some(0));
    assert!(r.bytes_out.unwrap() > 0);
}
