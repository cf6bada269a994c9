//! KSI for real on the real Slurm (two logical nodes): the testbed's run-workload.sh starts, in
//! each Slurm task, a temporary single-node Kubernetes (built from source, like the K3s-like
//! testbed), the measurement runs one partition per node cluster, and KSI tears every cluster
//! down when the workload returns.
//!
//! Each test holds the testbed lock for its whole length, across awaits: every test has its own
//! runtime, and the lock only keeps tests of this binary from measuring at the same time.
#![allow(clippy::await_holding_lock)]

use std::path::PathBuf;
use std::time::Duration;

use faastwin_measure::ksi::{KsiConfig, KsiLauncher, NodeStartup, read_startup};
use faastwin_measure::{DriverClock, PlatformKind, PlatformSetup, RunOptions, SubmitPolicy};

use crate::testbed::{lock, testbed, testbed_binary};
use crate::{check_succeeded, relay_dataset};

fn run_workload() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testbed/run-workload.sh")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_slurm_nodes_get_a_real_cluster_each_measured_step_by_step_and_torn_down() {
    if !crate::components::slurm() {
        return;
    }
    // The shared testbed is built (and its cache filled) first; KSI's clusters use that cache.
    if testbed().is_none() {
        return;
    }
    let _guard = lock();
    // run-workload.sh finds the testbed binary through FAASTWIN_TESTBED, given to the Slurm
    // tasks by srun.
    let testbed_bin = testbed_binary();
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let dataset = relay_dataset(dir.path(), 6);
    let mut setup = PlatformSetup::default();
    setup.kubernetes.image_pull_policy = "Never".into();
    setup.ksi.ksi_run_workload = Some(run_workload());
    setup.ksi.ksi_shared = Some(shared.clone());
    setup.ksi.srun_args = vec![format!(
        "--export=ALL,FAASTWIN_TESTBED={}",
        testbed_bin.display()
    )];
    setup.ksi.ksi_ready_timeout = 300.0;
    let options = RunOptions {
        warmup: 1,
        timeout_s: 120.0,
        setup: Some(setup),
        ..RunOptions::new(
            "t-ksi".into(),
            PlatformKind::Ksi,
            2,
            Vec::new(),
            SubmitPolicy::Sequential,
        )
    };
    let out = dir.path().join("run");
    let platform = options.build_platform(&dataset.dir, &out).await.unwrap();
    let outcome = crate::measure(platform, options, dataset, &out).await;
    assert_eq!(outcome.records.len(), 6);
    let mut nodes: Vec<&str> = outcome.records.iter().map(|r| r.node.as_str()).collect();
    nodes.sort_unstable();
    nodes.dedup();
    assert_eq!(
        nodes,
        ["n1", "n2"],
        "one partition per Slurm node's cluster"
    );
    // Issue 25: each node's cluster runs inside its node's CPUs, and so do its pods' bodies.
    let layout = crate::slurm_layout();
    for r in &outcome.records {
        check_succeeded(r);
        assert!(
            r.p_created.is_some() && r.t_pod_seen.is_some() && r.t_terminated_seen.is_some(),
            "{r:?}"
        );
        assert_eq!(
            r.w_cpus.as_deref(),
            Some(layout[&r.node].as_str()),
            "the body of invocation {} in the cluster of {}",
            r.invocation_id,
            r.node
        );
    }
    assert_eq!(
        outcome.records.iter().filter(|r| r.warmup).count(),
        2,
        "each cluster's first Job"
    );
    let startup: Vec<NodeStartup> = read_startup(&out.join("ksi-startup.csv")).unwrap();
    assert_eq!(startup.len(), 2);
    for s in &startup {
        let steps = [
            s.t_allocated,
            s.t_containerd_up,
            s.t_datastore_up,
            s.t_apiserver_ready,
            s.t_node_ready,
            s.t_first_job_accepted,
            s.t_kubeconfig,
            s.t_api_ready,
        ];
        assert!(steps.iter().all(Option::is_some), "every step seen: {s:?}");
        let t: Vec<u64> = steps.iter().flatten().copied().collect();
        assert!(
            s.t_launch <= t[0] && t[1..6].windows(2).all(|w| w[0] <= w[1]),
            "in order: {s:?}"
        );
        let overhead = s.overhead_s().unwrap();
        assert!(overhead > 1.0 && overhead < 300.0, "{overhead}");
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert!(meta["platform"]["startup_overhead_s"].as_f64().unwrap() > 1.0);
    // KSI tore everything down: no kubeconfig left, every instance stopped, the allocation gone.
    // Issue 29.5: the run's KSI folder is its own, inside the shared one.
    let shared = shared.join("faastwin-t-ksi");
    assert!(std::fs::read_dir(&shared).unwrap().flatten().all(|e| {
        !e.file_name()
            .to_string_lossy()
            .starts_with("kubeconfig-liqo")
    }));
    // Issue 29.14: of each node's cluster only its logs stay (the rest was ~10 MB a node).
    let mut kept = Vec::new();
    for entry in std::fs::read_dir(&shared).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("ksi-") && entry.path().is_dir() {
            assert!(
                name.ends_with(".logs"),
                "{name} left in {}",
                shared.display()
            );
            assert!(entry.path().join("kube-apiserver.log").is_file(), "{name}");
            kept.push(name);
        }
    }
    assert_eq!(kept.len(), 2, "one log folder per node: {kept:?}");
    let queue = std::process::Command::new("squeue")
        .args(["-h", "-n", "faastwin-ksi-t-ksi"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&queue.stdout).trim().is_empty(),
        "the allocation is gone"
    );
}

#[test]
fn startup_steps_are_read_from_the_lines_of_their_own_node() {
    let mut s = NodeStartup {
        procid: 1,
        ..NodeStartup::default()
    };
    s.apply_step("[ksi 0 n1] testbed: step datastore_up 0.5", 10);
    s.apply_step("[ksi 1 n2] testbed: step datastore_up 0.7", 20);
    s.apply_step("[ksi 1 n2] testbed: step node_ready 9.1", 30);
    s.apply_step("[ksi 1 n2] testbed: step node_ready 9.2", 40);
    s.apply_step("[ksi 1 n2] creating cluster", 50);
    assert_eq!(
        (s.t_datastore_up, s.t_node_ready, s.t_apiserver_ready),
        (Some(20), Some(30), None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_run_workload_script_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = KsiConfig {
        nodes: Some(1),
        partitions: 1,
        run_workload: dir.path().join("nope/run-workload.sh"),
        shared_dir: dir.path().to_owned(),
        srun_args: vec![],
        ready_timeout: Duration::from_secs(5),
        poll: Duration::from_millis(50),
    };
    let launcher = KsiLauncher::new(config, "ksitest2", DriverClock::start()).unwrap();
    let err = launcher.launch(&[]).await.err().unwrap().to_string();
    assert!(err.contains("nope/run-workload.sh"), "{err}");
}

/// A node whose cluster fails to start ends the launch at once, naming its Slurm task, while
/// the other node's task runs on (srun does not end): before, the launch waited out its whole
/// ready timeout (600 s by default, 300 here) for a node that could never be ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_cluster_fails_ends_the_launch_at_once() {
    if !crate::components::slurm() {
        return;
    }
    // Not beside the test that holds both nodes for its clusters.
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    // KSI's contract: run-workload.sh WORKLOAD SHARED in every task. Task 1 fails as
    // run-workload.sh does when its cluster does not start; task 0 runs the workload (which
    // waits until the launcher says it is done), with no cluster.
    let script = dir.path().join("run-workload.sh");
    std::fs::write(
        &script,
        "#!/bin/bash\nif [ \"$SLURM_PROCID\" = 1 ]; then echo \"[ksi 1 x] cluster did not start in 3 attempts\" >&2; exit 1; fi\nbash \"$1\"\n",
    )
    .unwrap();
    let config = KsiConfig {
        nodes: Some(2),
        partitions: 2,
        run_workload: script,
        shared_dir: dir.path().to_owned(),
        srun_args: vec![],
        ready_timeout: Duration::from_secs(300),
        poll: Duration::from_millis(100),
    };
    let launcher = KsiLauncher::new(config, "ksitest3", DriverClock::start()).unwrap();
    let started = std::time::Instant::now();
    let err = launcher.launch(&[]).await.err().unwrap().to_string();
    assert!(
        err.contains("KSI task 1 ended before its cluster was ready"),
        "{err}"
    );
    // Well before the ready timeout, even if srun first waits for the nodes.
    assert!(
        started.elapsed() < Duration::from_secs(150),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_failed_cluster_start_begins_the_nodes_steps_anew() {
    let mut s = NodeStartup {
        procid: 1,
        ..NodeStartup::default()
    };
    s.apply_step("[ksi 1 n2] testbed: step containerd_up 0.3", 10);
    s.apply_step("[ksi 1 n2] testbed: step datastore_up 0.4", 20);
    s.apply_step(
        "[ksi 0 n1] cluster start failed (attempt 1); removing it and starting again",
        25,
    );
    assert_eq!(s.t_datastore_up, Some(20), "another node's failure");
    s.apply_step(
        "[ksi 1 n2] cluster start failed (attempt 1); removing it and starting again",
        30,
    );
    s.apply_step("[ksi 1 n2] testbed: step containerd_up 0.2", 40);
    assert_eq!((s.t_containerd_up, s.t_datastore_up), (Some(40), None));
}

/// A launcher of `nodes` nodes for `partitions` partitions with a stand-in run-workload.sh
/// (`script`: what each Slurm task runs) and extra srun arguments.
fn launcher(
    dir: &std::path::Path,
    run: &str,
    nodes: Option<u32>,
    partitions: u32,
    script: &str,
    srun_args: &[&str],
) -> KsiLauncher {
    let path = dir.join("run-workload.sh");
    std::fs::write(&path, script).unwrap();
    let config = KsiConfig {
        nodes,
        partitions,
        run_workload: path,
        shared_dir: dir.to_owned(),
        srun_args: srun_args.iter().map(|s| (*s).to_owned()).collect(),
        ready_timeout: Duration::from_secs(300),
        poll: Duration::from_millis(100),
    };
    KsiLauncher::new(config, run, DriverClock::start()).unwrap()
}

/// The Slurm jobs named `name` still queued or running.
fn queued(name: &str) -> String {
    let out = std::process::Command::new("squeue")
        .args(["-h", "-n", name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Issue 29.2: eight nodes on a two-node Slurm are refused before srun, naming the nodes
/// there are; it used to submit `srun -N8` and wait for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocation_slurm_cannot_satisfy_is_refused_before_anything_is_submitted() {
    if !crate::components::slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let launcher = launcher(dir.path(), "ksi-eight", Some(8), 8, "exit 0\n", &[]);
    let err = launcher.launch(&[]).await.err().unwrap().to_string();
    assert!(
        err.contains("KSI would allocate 8 nodes (one cluster each) but Slurm has 2 (n1, n2)"),
        "{err}"
    );
    assert_eq!(queued("faastwin-ksi-ksi-eight"), "", "nothing submitted");
}

/// Issue 29.2: without --ksi-nodes, eight partitions share the two nodes' clusters: the
/// allocation is two nodes, not eight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_partitions_allocate_the_two_nodes_there_are() {
    if !crate::components::slurm() {
        return;
    }
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    // Each task says how many nodes the allocation has, then fails as a cluster that does not
    // start would: the launch ends at once.
    let script = "#!/bin/bash\necho \"$SLURM_NNODES\" > \"$2/nnodes-$SLURM_PROCID\"\necho \"[ksi $SLURM_PROCID x] cluster did not start in 3 attempts\" >&2\nexit 1\n";
    let launcher = launcher(dir.path(), "ksi-share", None, 8, script, &[]);
    let err = launcher.launch(&[]).await.err().unwrap().to_string();
    assert!(
        err.contains("ended before its cluster was ready")
            || err.contains("before every node was ready"),
        "{err}"
    );
    // SHARED is the run's own folder inside the shared one (issue 29.5).
    let nnodes =
        std::fs::read_to_string(dir.path().join("faastwin-ksi-share").join("nnodes-0")).unwrap();
    assert_eq!(nnodes.trim(), "2");
}

/// Issue 29.2: an allocation pending for a reason that waiting does not clear (more nodes than
/// the partition has, given past the check as an srun argument) ends the launch within
/// seconds, naming Slurm's reason, and is cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_reason_that_never_clears_ends_the_launch_at_once() {
    if !crate::components::slurm() {
        return;
    }
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let launcher = launcher(dir.path(), "ksi-hopeless", Some(1), 1, "exit 0\n", &["-N3"]);
    let started = std::time::Instant::now();
    let err = launcher.launch(&[]).await.err().unwrap().to_string();
    // Slurm names either reason for -N3 on a two-node partition, depending on which check of
    // its scheduler saw the job first; both are ones waiting does not clear.
    assert!(
        err.contains("stays pending: Slurm says Reason=PartitionConfig")
            || err.contains("stays pending: Slurm says Reason=PartitionNodeLimit"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(queued("faastwin-ksi-ksi-hopeless"), "", "cancelled");
}

/// Issue 29.3: Ctrl-C while KSI's allocation waits in the queue ends the run at once: the
/// pending allocation is cancelled (no script of it runs to be told), not waited on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_the_allocation_waits_cancels_it_at_once() {
    if !crate::components::slurm() {
        return;
    }
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 2);
    let script = dir.path().join("run-workload.sh");
    std::fs::write(&script, "exit 0\n").unwrap();
    let mut setup = PlatformSetup::default();
    setup.ksi.ksi_run_workload = Some(script);
    setup.ksi.ksi_shared = Some(dir.path().join("shared"));
    // Pending for an hour (Reason=BeginTime: it would clear, by waiting).
    setup.ksi.srun_args = vec!["--begin=now+3600".into()];
    let options = RunOptions {
        setup: Some(setup),
        ..RunOptions::new(
            "t-ksi-wait".into(),
            PlatformKind::Ksi,
            1,
            Vec::new(),
            SubmitPolicy::Sequential,
        )
    };
    let out = dir.path().join("run");
    let platform = options.build_platform(&dataset.dir, &out).await.unwrap();
    let (tx, run) = crate::spawned(platform, options, dataset, &out);
    let name = "faastwin-ksi-t-ksi-wait";
    let waited = std::time::Instant::now();
    while queued(name).is_empty() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "never submitted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tx.send_replace(true);
    let cancelled = std::time::Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the run ends within 30 s of Ctrl-C")
        .unwrap()
        .unwrap();
    assert!(outcome.interrupted && outcome.records.is_empty());
    assert!(
        cancelled.elapsed() < Duration::from_secs(15),
        "{:?}",
        cancelled.elapsed()
    );
    assert_eq!(queued(name), "", "the pending allocation is cancelled");
}

/// A loop first removes what an earlier session of its run left (issue 29.8). On KSI that
/// cleanup comes before any launch, into a run directory not made yet and a shared directory
/// with no control directory: it failed there (`ksi.log: No such file or directory`), ending a
/// KSI loop into a new directory before it measured anything. It succeeds, and says nothing
/// was launched by launching nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanup_before_any_launch_succeeds_in_a_run_directory_not_made_yet() {
    if !crate::components::slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 2);
    let out = dir.path().join("run-not-yet");
    let mut setup = PlatformSetup::default();
    setup.ksi.ksi_run_workload = Some(run_workload());
    setup.ksi.ksi_shared = Some(dir.path().join("shared"));
    let platform = setup
        .build(PlatformKind::Ksi, "t-ksi-clean", &dataset.dir, &out, 2)
        .await
        .unwrap();
    platform.cleanup("t-ksi-clean").await.unwrap();
    assert!(out.join("ksi.log").is_file());
    let queued = std::process::Command::new("squeue")
        .args(["-h", "-n", "faastwin-ksi-t-ksi-clean"])
        .output()
        .unwrap();
    assert!(queued.stdout.is_empty(), "nothing was submitted");
}
