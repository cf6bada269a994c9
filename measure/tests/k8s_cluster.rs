//! The k8s platform on a real Kubernetes: the testbed's K3s-like cluster (kine, API server,
//! controller manager, scheduler, a kubelet with containerd running the worker image), built
//! from source and started by the tests (`tests/support/testbed.rs`).
//!
//! Each test holds the testbed lock for its whole length, across awaits: every test has its own
//! runtime, and the lock only keeps tests of this binary from measuring at the same time.
#![allow(clippy::await_holding_lock)]

use std::path::Path;
use std::time::Duration;

use faastwin_measure::k8s::{Pinning, RUN_LABEL};
use faastwin_measure::{
    InvocationRecord, Outcome, PlatformKind, PlatformSetup, RunOptions, RunOutcome, SubmitPolicy,
};
use faastwin_workers::dataset::{self, Dataset, DatasetSpec};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, PostParams};

use crate::testbed::{Testbed, lock, testbed};
use crate::{check_succeeded, relay_dataset};

fn setup(t: &Testbed, pin: Pinning) -> PlatformSetup {
    let mut setup = PlatformSetup::default();
    setup.kubernetes.kubeconfig = Some(t.kubeconfig.clone());
    setup.kubernetes.image_pull_policy = "Never".into();
    setup.kubernetes.pin = pin;
    setup
}

fn options(t: &Testbed, run_id: &str, partitions: u32, setup: PlatformSetup) -> RunOptions {
    RunOptions {
        run_id: run_id.into(),
        platform: PlatformKind::K8s,
        partitions,
        nodes: vec![t.node.clone()],
        policy: SubmitPolicy::Sequential,
        repetitions: 1,
        between: None,
        warmup: 0,
        invocations: None,
        timeout_s: 120.0,
        seed: 1,
        setup: Some(setup),
    }
}

async fn measure_with(
    options: RunOptions,
    dataset: Dataset,
    out: &Path,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> RunOutcome {
    let platform = options.build_platform(&dataset.dir, out).await.unwrap();
    crate::run(platform, options, dataset, out, false, cancel).await
}

async fn measure(options: RunOptions, dataset: Dataset, out: &Path) -> RunOutcome {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    measure_with(options, dataset, out, rx).await
}

fn client(t: &Testbed) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(&t.kubeconfig).unwrap();
    let config = futures::executor::block_on(kube::Config::from_custom_kubeconfig(
        kc,
        &Default::default(),
    ))
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Every layer a real Job fills: driver instants from watch events (the pod's running state
/// may be skipped by the kubelet's 1 s relist, so `t_running_seen` may stay empty), the
/// platform's own timestamps, the worker's report.
fn check_layers(r: &InvocationRecord) {
    check_succeeded(r);
    for (name, v) in [
        ("t_pod_seen", r.t_pod_seen),
        ("t_scheduled_seen", r.t_scheduled_seen),
        ("t_terminated_seen", r.t_terminated_seen),
        ("t_done_seen", r.t_done_seen),
    ] {
        assert!(v.is_some(), "{name} empty: {r:?}");
    }
    for (name, v) in [
        ("p_created", r.p_created),
        ("p_scheduled", r.p_scheduled),
        ("p_started", r.p_started),
        ("p_finished", r.p_finished),
        ("p_completed", r.p_completed),
    ] {
        assert!(v.is_some(), "{name} empty: {r:?}");
    }
    let (submit, scheduled, done) = (
        r.t_submit.unwrap(),
        r.t_scheduled_seen.unwrap(),
        r.t_done_seen.unwrap(),
    );
    assert!(submit <= scheduled && scheduled <= done, "{r:?}");
    assert!(r.control_plane_s.unwrap() >= 0.0 && r.startup_s.is_some() && r.completion_s.is_some());
    assert_eq!(r.p_clock.as_deref(), Some(faastwin_measure::k8s::K8S_CLOCK));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_and_etl_on_two_partitions_fill_every_timing_layer() {
    let Some(t) = testbed() else { return };
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_dataset(dir.path(), 6);
    let outcome = measure(
        options(t, "t-relay", 2, setup(t, Pinning::NodeSelector)),
        relay,
        &dir.path().join("relay"),
    )
    .await;
    assert_eq!(outcome.records.len(), 6);
    for r in &outcome.records {
        check_layers(r);
        assert_eq!(r.node, t.node);
    }
    assert_eq!(
        outcome
            .records
            .iter()
            .map(|r| r.partition)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        2
    );

    dataset::generate(
        &DatasetSpec::Etl {
            count: 4,
            seed: 1,
            shard_bytes: 256 << 10,
        },
        &dir.path().join("etl-data"),
        &|_| {},
    )
    .unwrap();
    let etl = dataset::read(&dir.path().join("etl-data")).unwrap();
    let outcome = measure(
        options(t, "t-etl", 2, setup(t, Pinning::NodeSelector)),
        etl,
        &dir.path().join("etl"),
    )
    .await;
    assert_eq!(outcome.records.len(), 4);
    for r in &outcome.records {
        check_layers(r);
        assert!(
            r.bytes_in > 200 << 10 && r.compute_s.unwrap() > 0.0,
            "{r:?}"
        );
    }
    // The run's Jobs are gone (cleanup by label) and the results are on the shared storage.
    let jobs: Api<Job> = Api::namespaced(client(t), "default");
    let left = jobs
        .list(&ListParams::default().labels(&format!("{RUN_LABEL}=t-etl")))
        .await
        .unwrap();
    assert!(
        left.items
            .iter()
            .all(|j| j.metadata.deletion_timestamp.is_some()),
        "{:?}",
        left.items.len()
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("etl/results"))
            .unwrap()
            .count(),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_worker_is_recorded_with_its_exit_code_and_cause() {
    let Some(t) = testbed() else { return };
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 2);
    // Invocation 1's input is garbage: the worker exits 6 and says why on stderr, which the
    // termination message carries (FallbackToLogsOnError).
    std::fs::write(dataset.dir.join(&dataset.entries[1].path), b"{ not json").unwrap();
    let outcome = measure(
        options(t, "t-fail", 1, setup(t, Pinning::NodeName)),
        dataset,
        &dir.path().join("run"),
    )
    .await;
    let bad = outcome
        .records
        .iter()
        .find(|r| r.invocation_id == 1)
        .unwrap();
    assert_eq!(bad.outcome, Outcome::Failed, "{bad:?}");
    assert_eq!(bad.exit_code, Some(6), "{bad:?}");
    assert!(
        !bad.error.is_empty() && bad.t_done_seen.is_some(),
        "{bad:?}"
    );
    check_succeeded(
        outcome
            .records
            .iter()
            .find(|r| r.invocation_id == 0)
            .unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_removes_only_this_runs_jobs() {
    let Some(t) = testbed() else { return };
    let _guard = lock();
    let client = client(t);
    let jobs: Api<Job> = Api::namespaced(client, "default");
    // A Job of someone else in the same namespace.
    let bystander: Job = serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "bystander", "labels": {"owner": "someone-else"}},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "nodeName": t.node,
            "containers": [{"name": "c", "image": "localhost/faastwin-worker:latest", "imagePullPolicy": "Never", "args": ["--version"]}]}}}
    }))
    .unwrap();
    if jobs.get_opt("bystander").await.unwrap().is_none() {
        jobs.create(&PostParams::default(), &bystander)
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 40);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(8)).await;
        tx.send(true).unwrap();
    });
    let outcome = measure_with(
        options(t, "t-cancel", 2, setup(t, Pinning::NodeName)),
        dataset,
        &dir.path().join("run"),
        rx,
    )
    .await;
    cancel.await.unwrap();
    assert!(outcome.interrupted);
    assert!(
        outcome
            .records
            .iter()
            .any(|r| r.outcome == Outcome::Succeeded)
    );
    assert!(
        outcome
            .records
            .iter()
            .any(|r| r.outcome == Outcome::Cancelled),
        "some were in flight"
    );
    assert!(outcome.records.len() < 40, "cancelled before the end");
    let ours = jobs
        .list(&ListParams::default().labels(&format!("{RUN_LABEL}=t-cancel")))
        .await
        .unwrap();
    assert!(
        ours.items
            .iter()
            .all(|j| j.metadata.deletion_timestamp.is_some()),
        "this run's Jobs are being deleted"
    );
    let other = jobs.get_opt("bystander").await.unwrap();
    assert!(
        other.is_some_and(|j| j.metadata.deletion_timestamp.is_none()),
        "the bystander survives"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_restart_mid_run_loses_and_duplicates_nothing() {
    let Some(t) = testbed() else { return };
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 24);
    let out = dir.path().join("run");
    let records = out.join("invocations.csv");
    let (bin, tb_dir) = (t.bin.clone(), t.dir.clone());
    let restart = std::thread::spawn(move || {
        // Once a few invocations are in, kill the API server and start it again.
        while std::fs::read_to_string(&records).map_or(0, |s| s.lines().count()) < 5 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let restarted = std::process::Command::new(bin)
            .args(["restart", "kube-apiserver", "--dir"])
            .arg(tb_dir)
            .output()
            .unwrap();
        // Shown if the run fails before the restart's status is checked below.
        eprintln!(
            "restart: {}; {}",
            restarted.status,
            String::from_utf8_lossy(&restarted.stderr).trim()
        );
        restarted
    });
    let outcome = measure(
        options(t, "t-restart", 2, setup(t, Pinning::NodeName)),
        dataset,
        &out,
    )
    .await;
    let restarted = restart.join().unwrap();
    assert!(
        restarted.status.success(),
        "{}",
        String::from_utf8_lossy(&restarted.stderr)
    );
    let mut ids: Vec<u64> = outcome.records.iter().map(|r| r.invocation_id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (0..24).collect::<Vec<_>>(),
        "every invocation recorded once"
    );
    for r in &outcome.records {
        check_succeeded(r);
    }
    assert!(
        outcome
            .records
            .iter()
            .any(|r| r.notes.contains("watch retried") || r.notes.contains("create attempt")),
        "some invocation saw the outage"
    );
}

/// Issue 29.9: a pod that can never run (an image that is not there, with pull policy Never)
/// fails its invocation at once with the kubelet's reason, not after the timeout with an empty
/// error, and once the first three invocations have failed that same way the run stops: the
/// fourth is never submitted, and no Job of the run is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_can_never_run_fails_at_once_and_stops_the_run() {
    let Some(t) = testbed() else { return };
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 6);
    let mut setup = setup(t, Pinning::NodeName);
    setup.image = "localhost/faastwin-no-such-image:latest".into();
    let mut options = options(t, "t-noimage", 1, setup);
    options.timeout_s = 600.0;
    let out = dir.path().join("run");
    let platform = options.build_platform(&dataset.dir, &out).await.unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let started = std::time::Instant::now();
    let result = faastwin_measure::run(
        platform,
        options,
        dataset,
        out.clone(),
        false,
        std::sync::Arc::new(faastwin_measure::NoProgress),
        rx,
    )
    .await;
    let Err(error) = result else {
        panic!("the run went on: {result:?}")
    };
    let error = faastwin_models::error_chain(&error);
    assert!(
        error.contains("the first 3 invocations all failed the same way")
            && error.contains("ErrImageNeverPull"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "failed at once, not after the timeout: {:?}",
        started.elapsed()
    );
    let records = faastwin_measure::read_records(&out.join("invocations.csv")).unwrap();
    let submitted: Vec<_> = records.iter().filter(|r| r.t_submit.is_some()).collect();
    assert_eq!(submitted.len(), 3, "{records:?}");
    for r in submitted {
        assert_eq!(r.outcome, Outcome::Failed, "{r:?}");
        assert!(r.error.contains("ErrImageNeverPull"), "{r:?}");
    }
    assert!(
        records
            .iter()
            .all(|r| r.t_submit.is_some() || r.outcome == Outcome::Cancelled),
        "the rest never submitted: {records:?}"
    );
    let jobs: kube::Api<k8s_openapi::api::batch::v1::Job> =
        kube::Api::namespaced(client(t), "default");
    let left = jobs
        .list(&kube::api::ListParams::default().labels("faastwin.io/run=t-noimage"))
        .await
        .unwrap();
    assert!(
        left.items
            .iter()
            .all(|j| j.metadata.deletion_timestamp.is_some()),
        "no Job of the run left"
    );
}

/// Issue 29.4: with the datastore (kine) killed mid-run, `--timeout` ends the in-flight
/// invocations (the create no longer waits out its 120 s of retries first), and Ctrl-C then
/// ends the run within seconds: cleanup's deletes give up on the dead datastore after 15 s and
/// say what they left. The datastore is started again afterwards for the tests that follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_datastore_neither_outlasts_the_timeout_nor_holds_up_ctrl_c() {
    let Some(t) = testbed() else { return };
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 40);
    let out = dir.path().join("run");
    let mut options = options(t, "t-kine", 2, setup(t, Pinning::NodeName));
    options.timeout_s = 8.0;
    let platform = options.build_platform(&dataset.dir, &out).await.unwrap();
    let (tx, run) = crate::spawned(platform, options, dataset, &out);
    let records = out.join("invocations.csv");
    while std::fs::read_to_string(&records).map_or(0, |s| s.lines().count()) < 4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kill_kine(t);
    // Two timeouts' worth with the datastore gone, then Ctrl-C.
    tokio::time::sleep(Duration::from_secs(20)).await;
    tx.send_replace(true);
    let cancelled = std::time::Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(60), run).await;
    let waited = cancelled.elapsed();
    // The datastore back before anything is asserted: the other tests need the cluster.
    restart_kine(t);
    let result = result.expect("the run ends within 60 s of Ctrl-C").unwrap();
    assert!(waited < Duration::from_secs(40), "Ctrl-C took {waited:?}");
    if let Err(e) = &result {
        let e = faastwin_models::error_chain(e);
        assert!(
            e.contains("left with the label faastwin.io/run=t-kine"),
            "{e}"
        );
    }
    let rows = faastwin_measure::read_records(&records).unwrap();
    let timed_out: Vec<_> = rows
        .iter()
        .filter(|r| r.outcome == Outcome::TimedOut)
        .collect();
    assert!(!timed_out.is_empty(), "{rows:?}");
    for r in timed_out {
        let took = (r.t_done_seen.or(r.t_create_ack).unwrap_or(0) as f64
            - r.t_submit.unwrap() as f64)
            / 1e9;
        assert!(took < 8.0 + 16.0, "timed out after {took} s: {r:?}");
    }
    // The cluster answers again.
    let jobs: kube::Api<k8s_openapi::api::batch::v1::Job> =
        kube::Api::namespaced(client(t), "default");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while jobs.list(&Default::default()).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the cluster came back"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let lp = kube::api::ListParams::default().labels("faastwin.io/run=t-kine");
    jobs.delete_collection(&Default::default(), &lp)
        .await
        .unwrap();
}

/// Issue 29.4: a run started while the datastore is dead is refused within seconds, naming
/// what did not answer (the node list used to wait for minutes on the API server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_datastore_at_the_start_is_named_within_seconds() {
    let Some(t) = testbed() else { return };
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 2);
    let out = dir.path().join("run");
    let options = options(t, "t-kine-start", 1, setup(t, Pinning::NodeName));
    kill_kine(t);
    let started = std::time::Instant::now();
    let platform = options.build_platform(&dataset.dir, &out).await;
    let result = match platform {
        Ok(platform) => {
            let (_tx, run) = crate::spawned(platform, options, dataset, &out);
            run.await.unwrap().map(|_| ())
        }
        Err(e) => Err(e),
    };
    let waited = started.elapsed();
    restart_kine(t);
    let e = faastwin_models::error_chain(&result.expect_err("no run without a datastore"));
    assert!(e.contains("did not list the nodes within 20 s"), "{e}");
    assert!(waited < Duration::from_secs(60), "refused after {waited:?}");
}

/// Kills the testbed's datastore as a crash would.
fn kill_kine(t: &Testbed) {
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.dir.join("testbed.json")).unwrap())
            .unwrap();
    let kine = state["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "kine")
        .unwrap()["pid"]
        .as_u64()
        .unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &kine.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// Starts the datastore again, as `faastwin-testbed restart kine` does.
fn restart_kine(t: &Testbed) {
    let restarted = std::process::Command::new(&t.bin)
        .args(["restart", "kine", "--dir"])
        .arg(&t.dir)
        .output()
        .unwrap();
    assert!(
        restarted.status.success(),
        "{}",
        String::from_utf8_lossy(&restarted.stderr)
    );
}

/// A testbed instance of its own, stopped when dropped (also when the test fails).
struct OwnInstance {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl Drop for OwnInstance {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.bin)
            .arg("down")
            .arg("--dir")
            .arg(&self.dir)
            .output();
    }
}

/// Issue 25: `faastwin-testbed up --nodes 2` gives two real nodes that own a CPU share each.
/// Every body placed on a node was allowed that node's CPUs and no other (its pod inherits the
/// affinity of the node's containerd and kubelet), the nodes share none, and `run.json` says
/// which CPUs each node owned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_testbed_of_two_nodes_each_body_runs_on_its_nodes_cpus_alone() {
    let Some(t) = testbed() else { return };
    let _guard = lock();
    let cpus = faastwin_models::cpus::allowed().unwrap();
    if cpus.len() % 2 != 0 {
        eprintln!("skipped: {} CPUs cannot make two equal nodes", cpus.len());
        return;
    }
    let instance = OwnInstance {
        bin: t.bin.clone(),
        dir: std::path::PathBuf::from(format!("{}-two-nodes", crate::testbed::DIR)),
    };
    let up = std::process::Command::new(&instance.bin)
        .args(["up", "--nodes", "2", "--no-probe", "--dir"])
        .arg(&instance.dir)
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(instance.dir.join("testbed.json")).unwrap())
            .unwrap();
    let owned: std::collections::BTreeMap<String, String> = state["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_owned(),
                n["cpus"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(owned.len(), 2, "{state}");
    let shares: Vec<Vec<u32>> = owned
        .values()
        .map(|c| faastwin_models::cpus::parse_list(c).unwrap())
        .collect();
    assert!(
        shares[0].iter().all(|c| !shares[1].contains(c)),
        "{owned:?}"
    );

    let two = Testbed {
        bin: t.bin.clone(),
        dir: instance.dir.clone(),
        kubeconfig: instance.dir.join("kubeconfig"),
        node: t.node.clone(),
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut opts = options(&two, "t-two-nodes", 4, setup(&two, Pinning::NodeName));
    opts.nodes = owned.keys().cloned().collect();
    let outcome = measure(opts, relay_dataset(dir.path(), 8), &out).await;
    assert_eq!(outcome.records.len(), 8);
    for r in &outcome.records {
        check_succeeded(r);
        assert_eq!(
            r.w_cpus.as_deref(),
            Some(owned[&r.node].as_str()),
            "the body of invocation {} on {}",
            r.invocation_id,
            r.node
        );
    }
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let recorded: Vec<(String, String)> =
        serde_json::from_value(run["platform"]["node_cpus"].clone()).unwrap();
    assert_eq!(
        recorded
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
        owned
    );
    // Issue 30: what each component of the nodes spent in CPU over the run, from the cgroups
    // the testbed accounts them in (where cpuacct is a hierarchy of its own, as here).
    if std::path::Path::new("/sys/fs/cgroup/cpuacct/cpuacct.usage").exists()
        && !std::path::Path::new("/sys/fs/cgroup/cpuacct/cpu.shares").exists()
    {
        let components = run["node_cpu"]["components"]
            .as_object()
            .unwrap_or_else(|| panic!("no components: {}", run["node_cpu"]));
        let cpu = |name: &str| components.get(name).and_then(serde_json::Value::as_f64);
        // Each Job's pod is started and stopped by containerd (its shim, runc) and the kubelet,
        // and passes the API server: at least a few ms of CPU each, per Job.
        for name in ["kubelet", "containerd", "pods", "kube-apiserver"] {
            let seconds = cpu(name).unwrap_or_else(|| panic!("{name}: {components:?}"));
            assert!(seconds > 0.005 * 8.0, "{name}: {components:?}");
        }
        // Calibration tells the control plane's CPU (served by node 1 for every node's Jobs)
        // from the nodes' own by these names: each must be what the testbed records.
        for name in faastwin_measure::components::CONTROL_PLANE {
            let seconds = cpu(name).unwrap_or_else(|| panic!("{name}: {components:?}"));
            assert!(seconds > 0.0, "{name}: {components:?}");
        }
        let busy = run["node_cpu"]["busy_s"].as_f64().unwrap();
        let sum: f64 = components
            .values()
            .filter_map(serde_json::Value::as_f64)
            .sum();
        assert!(
            sum <= busy + 0.5,
            "components {sum} s of the machine's {busy} s"
        );
    }
}
