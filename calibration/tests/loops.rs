//! `faastwin loop` inside the crate, on local processes: datasets of three sizes, every
//! configuration measured in rounds, A calibrated from, each held-out configuration measured as
//! it says and predicted.

use std::sync::Mutex;

use faastwin_calibration::{LoopOptions, Run, configurations, run_loop};
use faastwin_measure::{PlatformKind, PlatformSetup, SubmitPolicy};
use faastwin_workers::dataset::{self, DatasetSpec};

use crate::support::worker;

#[test]
fn kubernetes_and_container_loops_add_twice_the_load_to_a_and_predict_eight_partitions() {
    fn names(configs: &[faastwin_calibration::LoopConfig]) -> Vec<(&str, u32)> {
        configs
            .iter()
            .map(|c| (c.name.as_ref(), c.partitions))
            .collect()
    }
    for kind in [
        PlatformKind::K8s,
        PlatformKind::Ksi,
        PlatformKind::Container,
    ] {
        let (a, b) = configurations(kind);
        assert_eq!(
            names(&a),
            vec![("A-small", 2), ("A-double", 2), ("A-4-partitions", 4)]
        );
        assert_eq!(
            names(&b),
            vec![
                ("B1-8-partitions", 8),
                ("B2-8x-shards", 2),
                ("B3-window-2", 2)
            ]
        );
    }
    for kind in [PlatformKind::Local, PlatformKind::Slurm] {
        let (a, b) = configurations(kind);
        assert_eq!(names(&a), vec![("A-small", 2), ("A-double", 2)]);
        assert_eq!(
            names(&b),
            vec![
                ("B1-4-partitions", 4),
                ("B2-8x-shards", 2),
                ("B3-window-2", 2)
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_loop_measures_a_calibrates_and_predicts_each_held_out_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop");
    let options = LoopOptions {
        platform: PlatformKind::Local,
        out: out.clone(),
        invocations: 8,
        small_shard_bytes: 16 << 10,
        repetitions: 2,
        replications: 2,
        nodes: Vec::new(),
        calibration_nodes: None,
        held_out: None,
        seed: 1,
        warmup: None,
        timeout: 60.0,
        max_partitions: 32,
        setup: PlatformSetup {
            worker: worker(),
            ..PlatformSetup::default()
        },
    };
    let steps = Mutex::new(Vec::new());
    let progress = |what: &str| steps.lock().unwrap().push(what.to_owned());
    let (_cancel, cancelled) = tokio::sync::watch::channel(false);
    let outcome = run_loop(&options, &progress, cancelled).await.unwrap();

    let steps = steps.into_inner().unwrap();
    let order: Vec<&str> = steps
        .iter()
        .map(|s| s.split(" on ").next().unwrap().split(" (").next().unwrap())
        .collect();
    // Two rounds, the second starting one configuration later; then calibration and the
    // predictions.
    let round = |n: &[&str]| {
        n.iter()
            .map(|c| format!("measuring {c}"))
            .collect::<Vec<_>>()
    };
    let mut want = round(&["A-small", "A-double", "B1-4-partitions", "B2-8x-shards"]);
    want.extend(round(&[
        "B3-window-2",
        "A-double",
        "B1-4-partitions",
        "B2-8x-shards",
    ]));
    want.extend(round(&["B3-window-2", "A-small"]));
    want.push("calibrating from configuration A".into());
    for c in ["B1-4-partitions", "B2-8x-shards", "B3-window-2"] {
        want.push(format!("predicting held-out configuration {c}"));
    }
    assert_eq!(order[3..], want, "{steps:?}");
    assert!(
        steps[3].ends_with("(round 1 of 2: 8 invocations x 1 repetition)"),
        "{}",
        steps[3]
    );
    assert!(steps[8].contains("(round 2 of 2:"), "{}", steps[8]);
    for (step, factor) in steps[..3].iter().zip([1, 2, 8]) {
        let data = out.join(format!("data-{factor}x"));
        assert_eq!(*step, format!("writing dataset {}", data.display()));
        let dataset = dataset::read(&data).unwrap();
        assert_eq!(
            dataset.spec,
            DatasetSpec::Etl {
                count: 8,
                seed: 1,
                shard_bytes: factor * (16 << 10)
            }
        );
    }

    let host = faastwin_workers::host_name();
    for (name, partitions, window, factor) in [
        ("A-small", 2, None, 1),
        ("A-double", 2, None, 2),
        ("B1-4-partitions", 4, None, 1),
        ("B2-8x-shards", 2, None, 8),
        ("B3-window-2", 2, Some(2), 1),
    ] {
        let run = Run::load(&out.join(format!("run-{name}"))).unwrap();
        let o = &run.meta.options;
        // Named after the configuration and the loop's directory (issue 29.8).
        let tag = o.run_id.rsplit('-').next().unwrap();
        assert_eq!(o.run_id, format!("loop-{}-{tag}", name.to_lowercase()));
        assert!(
            tag.len() == 6 && tag.chars().all(|c| c.is_ascii_hexdigit()),
            "{}",
            o.run_id
        );
        assert_eq!(
            (o.partitions, o.repetitions, o.warmup),
            (partitions, 2, 0),
            "{name}"
        );
        assert_eq!(o.nodes, vec![host.clone()], "{name}");
        assert_eq!(
            o.policy,
            match window {
                Some(size) => SubmitPolicy::Window { size },
                None => SubmitPolicy::Sequential,
            },
            "{name}"
        );
        assert_eq!(o.timeout_s, 60.0);
        let setup = o.setup.as_ref().unwrap();
        assert_eq!(setup.worker, options.setup.worker);
        // KSI clusters for as many partitions as there are nodes to hold them: one here.
        assert_eq!(setup.ksi.ksi_nodes, Some(1), "{name}");
        assert_eq!(run.records.len(), 16, "{name}");
        let sessions: Vec<(u32, u32)> = run
            .records
            .iter()
            .map(|r| (r.repetition, r.session))
            .collect();
        assert!(
            sessions.iter().all(|(rep, session)| rep == session),
            "{name}: {sessions:?}"
        );
        let mean = run.records.iter().map(|r| r.bytes_in as f64).sum::<f64>() / 16.0;
        let nominal = (factor * (16 << 10)) as f64;
        assert!((mean / nominal - 1.0).abs() < 0.1, "{name}: {mean} B");
    }

    assert_eq!(outcome.calibration, out.join("calibration.toml"));
    let calibration = faastwin_sim::Calibration::from_toml(
        &std::fs::read_to_string(&outcome.calibration).unwrap(),
        "calibration.toml",
    )
    .unwrap();
    assert!(calibration.platforms.contains_key("local"));
    let scenarios: Vec<&str> = outcome
        .validations
        .iter()
        .map(|v| v.scenario.as_str())
        .collect();
    assert_eq!(scenarios.len(), 3);
    assert!(scenarios[0].contains("on 4 partitions"), "{scenarios:?}");
    assert!(scenarios[2].contains("window of 2"), "{scenarios:?}");
    for v in &outcome.validations {
        assert_eq!(v.platform, "local");
        assert!(v.makespan_rel_error().is_finite(), "{v:?}");
    }
}

/// Issue 25.3: with `--calibration-nodes 1` on two logical nodes, every configuration of A and
/// B runs on node n1 alone and one more, `B4-2-nodes`, runs A-small's load per node on both;
/// it is predicted like the others, on the two nodes it ran on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_calibrated_on_one_node_predicts_two() {
    let cpus = faastwin_models::cpus::allowed().unwrap();
    if cpus.len() % 2 != 0 {
        eprintln!("skipped: {} CPUs cannot make two equal nodes", cpus.len());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop");
    let mut setup = PlatformSetup {
        worker: worker(),
        ..PlatformSetup::default()
    };
    setup.logical_nodes = Some(2);
    let mut options = LoopOptions {
        platform: PlatformKind::Local,
        out: out.clone(),
        invocations: 8,
        small_shard_bytes: 16 << 10,
        repetitions: 1,
        replications: 2,
        nodes: Vec::new(),
        calibration_nodes: Some(2),
        held_out: None,
        seed: 1,
        warmup: None,
        timeout: 60.0,
        max_partitions: 32,
        setup,
    };
    let (_cancel, cancelled) = tokio::sync::watch::channel(false);
    // Two of two nodes leave nothing to hold out: refused before anything is measured.
    let err = run_loop(&options, &|_: &str| {}, cancelled.clone())
        .await
        .unwrap_err();
    let text = faastwin_models::error_chain(&err);
    assert!(
        text.contains("--calibration-nodes 2") && text.contains("n1, n2"),
        "{text}"
    );
    assert!(!out.join("data-1x").exists());

    options.calibration_nodes = Some(1);
    let outcome = run_loop(&options, &|_: &str| {}, cancelled).await.unwrap();
    for name in ["A-small", "A-double", "B1-4-partitions", "B3-window-2"] {
        let run = Run::load(&out.join(format!("run-{name}"))).unwrap();
        assert_eq!(run.meta.options.nodes, vec!["n1"], "{name}");
        assert!(run.records.iter().all(|r| r.node == "n1"), "{name}");
    }
    let wide = Run::load(&out.join("run-B4-2-nodes")).unwrap();
    assert_eq!(wide.meta.options.nodes, vec!["n1", "n2"]);
    assert_eq!(wide.meta.options.partitions, 4);
    for node in ["n1", "n2"] {
        assert_eq!(wide.records.iter().filter(|r| r.node == node).count(), 4);
    }
    let last = outcome.validations.last().unwrap();
    assert!(
        last.scenario.contains("4 partitions / 2 nodes"),
        "{}",
        last.scenario
    );
    assert!(last.makespan_rel_error().is_finite(), "{last:?}");
}

/// Issue 30.3: `--held-out 3 --seed 102` draws three configurations (seed 102's hold a relay
/// one, so A gains `A-relay`, and an open-loop one, whose rate the calibration sets), measures
/// A, calibrates, then measures and predicts each draw as it was drawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_loop_holds_out_configurations_drawn_at_random_and_measures_each_as_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop");
    let options = LoopOptions {
        platform: PlatformKind::Local,
        out: out.clone(),
        invocations: 8,
        small_shard_bytes: 16 << 10,
        repetitions: 1,
        replications: 2,
        nodes: Vec::new(),
        calibration_nodes: None,
        held_out: Some(3),
        seed: 102,
        warmup: None,
        timeout: 60.0,
        max_partitions: 32,
        setup: PlatformSetup {
            worker: worker(),
            ..PlatformSetup::default()
        },
    };
    let steps = Mutex::new(Vec::new());
    let progress = |what: &str| steps.lock().unwrap().push(what.to_owned());
    let (_cancel, cancelled) = tokio::sync::watch::channel(false);
    let outcome = run_loop(&options, &progress, cancelled).await.unwrap();
    let steps = steps.into_inner().unwrap();

    let drawn = [
        "H1-relay-p2-n1-w2",
        "H2-etl-p1-n1-w3-8k",
        "H3-etl-p3-n1-open70-28k",
    ];
    let measuring = |name: &str| {
        steps
            .iter()
            .position(|s| s.starts_with(&format!("measuring {name} on local")))
            .unwrap_or_else(|| panic!("{name} measured: {steps:?}"))
    };
    let calibrated = steps
        .iter()
        .position(|s| s == "calibrating from configuration A")
        .unwrap();
    for a in ["A-small", "A-double", "A-relay"] {
        assert!(measuring(a) < calibrated, "A before the calibration");
    }
    let rate_step = steps
        .iter()
        .position(|s| s.starts_with("H3-etl-p3-n1-open70-28k: open loop at 70 %"))
        .unwrap_or_else(|| panic!("the open-loop rate said: {steps:?}"));
    assert!(calibrated < rate_step);
    for name in drawn {
        assert!(rate_step < measuring(name), "{name} after its rate is set");
    }

    let relay = Run::load(&out.join("run-A-relay")).unwrap();
    assert_eq!(relay.workload(), faastwin_measure::Body::Relay);
    let policies: Vec<SubmitPolicy> = drawn
        .iter()
        .map(|name| {
            let run = Run::load(&out.join(format!("run-{name}"))).unwrap();
            run.meta.options.policy.clone()
        })
        .collect();
    assert_eq!(policies[0], SubmitPolicy::Window { size: 2 });
    assert_eq!(policies[1], SubmitPolicy::Window { size: 3 });
    let SubmitPolicy::Poisson { rate_per_s } = policies[2] else {
        panic!("H3 is open loop: {:?}", policies[2]);
    };
    assert!(
        steps[rate_step].ends_with(&format!("{rate_per_s} arrivals/s per partition")),
        "the run's rate is the one said: {rate_per_s} in {}",
        steps[rate_step]
    );
    for (name, partitions, invocations, body, shard) in [
        (drawn[0], 2, 8, faastwin_measure::Body::Relay, None),
        (drawn[1], 1, 8, faastwin_measure::Body::Etl, Some(8 << 10)),
        // 3 partitions of at least 4 invocations: twice --invocations.
        (drawn[2], 3, 16, faastwin_measure::Body::Etl, Some(28 << 10)),
    ] {
        let run = Run::load(&out.join(format!("run-{name}"))).unwrap();
        assert_eq!(run.meta.options.partitions, partitions, "{name}");
        assert_eq!(run.records.len(), invocations, "{name}");
        assert_eq!(run.workload(), body, "{name}");
        if let Some(nominal) = shard {
            let mean =
                run.records.iter().map(|r| r.bytes_in as f64).sum::<f64>() / invocations as f64;
            assert!(
                (mean / nominal as f64 - 1.0).abs() < 0.1,
                "{name}: {mean} B"
            );
        }
    }
    let validated: Vec<String> = outcome.validations.iter().map(|v| v.run.clone()).collect();
    let want: Vec<String> = drawn
        .iter()
        .map(|name| out.join(format!("run-{name}")).display().to_string())
        .collect();
    assert_eq!(validated, want);
    let distribution = faastwin_calibration::ErrorDistribution::of(&outcome.validations).unwrap();
    assert_eq!(distribution.count, 3);
    assert!(
        distribution.makespan.iter().all(|e| e.is_finite()),
        "{distribution}"
    );
    assert!(distribution.makespan[0] <= distribution.makespan[1]);
    assert!(distribution.makespan[1] <= distribution.makespan[2]);
}
