//! Local processes: every invocation is recorded with its timing layers, partitions keep
//! their order and nodes, warm-up is left out of the warm metrics.

use std::sync::Arc;

use faastwin_measure::{Launch, Platform, ProcessPlatform, SubmitPolicy, read_records};

use crate::{check_succeeded, host, local, measure, options, relay_dataset, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_partitions_record_every_layer() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 12);
    let mut opts = options("local", 3, vec![host()], SubmitPolicy::Sequential);
    opts.warmup = 1;
    opts.repetitions = 2;
    let between_log = dir.path().join("between.log");
    opts.between = Some(format!("echo dropped >> {}", between_log.display()));
    let out = dir.path().join("run");
    let outcome = measure(local(worker()), opts.clone(), dataset, &out).await;

    assert!(!outcome.interrupted);
    assert_eq!(outcome.records.len(), 24);
    let on_disk = read_records(&out.join("invocations.csv")).unwrap();
    assert_eq!(
        on_disk, outcome.records,
        "the file holds exactly what was measured"
    );
    for r in &outcome.records {
        check_succeeded(r);
        assert_eq!(u64::from(r.partition), r.invocation_id % 3);
        assert_eq!(r.warmup, r.seq == 0);
        assert_eq!(r.node, host());
        assert_eq!(
            r.control_plane_s,
            Some(0.0),
            "a process has no control plane"
        );
    }
    for rep in 0..2 {
        for p in 0..3 {
            let mut rows: Vec<_> = outcome
                .records
                .iter()
                .filter(|r| r.repetition == rep && r.partition == p)
                .collect();
            rows.sort_by_key(|r| r.seq);
            assert_eq!(rows.len(), 4);
            for pair in rows.windows(2) {
                // Sequential: the next submission follows the previous completion.
                assert!(pair[0].t_done_seen.unwrap() <= pair[1].t_submit.unwrap());
                let gap = pair[0].gap_to_next_s.unwrap();
                assert!((0.0..1.0).contains(&gap), "gap {gap}");
                assert!(pair[0].invocation_id < pair[1].invocation_id);
            }
            assert!(rows.last().unwrap().gap_to_next_s.is_none());
        }
    }
    assert_eq!(outcome.summaries.len(), 2);
    let s = &outcome.summaries[0];
    assert_eq!((s.invocations, s.warm_succeeded, s.failed), (12, 9, 0));
    let makespans: Vec<f64> = s
        .partition_makespans_s
        .split(';')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(makespans.len(), 3);
    assert!(
        (s.warm_makespan_s.unwrap() - makespans.iter().copied().fold(0.0, f64::max)).abs() < 1e-5
    );
    assert!(s.p50_latency_s.unwrap() <= s.p95_latency_s.unwrap());

    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["status"], "complete");
    assert_eq!(meta["options"]["partitions"], 3);
    assert_eq!(meta["dataset_manifest_sha256"].as_str().unwrap().len(), 64);
    assert!(meta["driver_cpu_ms_per_invocation"].as_f64().is_some());
    // The machine's CPU over the measurement: at least the driver's own, over the run's wall.
    let node = &meta["node_cpu"];
    assert_eq!(node["session"], 0);
    let (busy, wall, driver) = (
        node["busy_s"].as_f64().unwrap(),
        node["wall_s"].as_f64().unwrap(),
        node["driver_s"].as_f64().unwrap(),
    );
    assert!(wall > 0.0 && wall < 600.0, "wall {wall}");
    assert!(
        busy >= driver && driver >= 0.0,
        "busy {busy}, driver {driver}"
    );
    assert!(node["idle_busy_s_per_s"].as_f64().unwrap() >= 0.0);
    // Issue 30: the bodies' own CPU (the processes the driver waited for), part of the whole.
    let bodies = node["components"]["bodies"].as_f64().unwrap();
    assert!(
        (0.0..=busy + 0.05).contains(&bodies),
        "bodies {bodies}, busy {busy}"
    );
    assert!(
        std::fs::read_to_string(out.join("summary.csv"))
            .unwrap()
            .lines()
            .count()
            == 3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_keeps_several_in_flight_and_open_loop_does_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 16);
    let out = dir.path().join("window");
    let outcome = measure(
        local(worker()),
        options("local", 1, vec![host()], SubmitPolicy::Window { size: 4 }),
        dataset.clone(),
        &out,
    )
    .await;
    assert_eq!(outcome.records.len(), 16);
    outcome.records.iter().for_each(check_succeeded);

    let out = dir.path().join("poisson");
    let opts = options(
        "local",
        2,
        vec![host()],
        SubmitPolicy::Poisson { rate_per_s: 200.0 },
    );
    let outcome = measure(local(worker()), opts, dataset, &out).await;
    assert_eq!(outcome.records.len(), 16);
    outcome.records.iter().for_each(check_succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_run_directory_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 2);
    let out = dir.path().join("run");
    measure(
        local(worker()),
        options("local", 1, vec![host()], SubmitPolicy::Sequential),
        dataset.clone(),
        &out,
    )
    .await;
    let before = std::fs::read(out.join("invocations.csv")).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let err = faastwin_measure::run(
        local(worker()),
        options("local", 1, vec![host()], SubmitPolicy::Sequential),
        dataset,
        out.clone(),
        false,
        std::sync::Arc::new(faastwin_measure::NoProgress),
        rx,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("--resume"), "{err}");
    assert_eq!(std::fs::read(out.join("invocations.csv")).unwrap(), before);
}

/// Issue 25: `--logical-nodes N` splits this host into nodes n1..nN that own equal shares of
/// its CPUs; every body placed on a node was allowed that node's CPUs and no other, and run.json
/// says how many CPUs each node has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logical_nodes_each_own_their_share_of_the_cpus() {
    let cpus = faastwin_measure::nodes::cpus_allowed().unwrap();
    if cpus.len() < 2 {
        eprintln!("one CPU: no two nodes can own one each");
        return;
    }
    let nodes = faastwin_measure::nodes::split(2, &cpus).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 6);
    let out = dir.path().join("run");
    let platform = ProcessPlatform::new(Launch::Local { worker: worker() })
        .with_logical_nodes(2)
        .unwrap();
    let opts = options(
        "local",
        2,
        vec!["n1".into(), "n2".into()],
        SubmitPolicy::Sequential,
    );
    let outcome = measure(Arc::new(platform), opts, dataset, &out).await;
    assert_eq!(outcome.records.len(), 6);
    for r in &outcome.records {
        check_succeeded(r);
        let node = nodes.iter().find(|n| n.name == r.node).unwrap();
        assert_eq!(r.w_cpus, Some(node.cpu_list()), "{}", r.node);
    }
    assert_ne!(nodes[0].cpu_list(), nodes[1].cpu_list());
    let meta = faastwin_measure::RunMeta::read(&out).unwrap();
    assert_eq!(meta.platform.nodes, ["n1", "n2"]);
    assert_eq!(
        meta.platform.cpus_per_node,
        Some(u32::try_from(cpus.len() / 2).unwrap())
    );
    assert_eq!(meta.platform.node_cpus.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logical_nodes_that_cannot_share_the_cpus_equally_or_a_node_outside_them_are_refused() {
    let cpus = faastwin_measure::nodes::cpus_allowed().unwrap();
    let local = || ProcessPlatform::new(Launch::Local { worker: worker() });
    let err = local()
        .with_logical_nodes(u32::try_from(cpus.len()).unwrap() + 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--logical-nodes"), "{err}");
    let platform = local().with_logical_nodes(1).unwrap();
    let err = platform
        .prepare(&["n2".into()])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"n2\"") && err.contains("n1"), "{err}");
}
