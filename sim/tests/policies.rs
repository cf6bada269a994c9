//! What the submission policies and the reported decomposition must satisfy, stated as
//! numbers a reader can check: the Poisson rate, the replayed arrival times, the decomposition
//! that sums to the latency.

use std::sync::Arc;

use faastwin_sim::{Body, Stage, SubmitPolicy, VecTrace, simulate};

use crate::{DELAYS_ONLY, PER_NODE, platform, workload};

fn submissions(trace: &VecTrace, partition: u32) -> Vec<f64> {
    let mut rows: Vec<_> = trace
        .rows
        .iter()
        .filter(|r| r.partition == partition)
        .collect();
    rows.sort_by_key(|r| r.invocation);
    rows.iter().map(|r| r.submit_s()).collect()
}

/// Open loop at rate r: inter-arrivals are exponential with mean 1/r (coefficient of variation
/// 1) in each partition, whatever the latencies, so invocations overlap.
#[test]
fn a_poisson_batch_arrives_at_its_rate_in_every_partition() {
    let platform = platform(DELAYS_ONLY, "p", Body::Relay);
    let rate = 4.0;
    let w = workload(8000, 2, 1, SubmitPolicy::Poisson { rate_per_s: rate });
    let mut trace = VecTrace::default();
    simulate(&platform, &w, 11, 0, &mut trace).unwrap();
    for partition in 0..2 {
        let times = submissions(&trace, partition);
        let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g >= 0.0), "arrivals in id order");
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        // 4,000 gaps: the mean's standard error is 1.6 %; allow about 4 of them.
        assert!(
            (mean * rate - 1.0).abs() < 0.065,
            "partition {partition}: mean gap {mean}"
        );
        assert!(
            (sd / mean - 1.0).abs() < 0.1,
            "partition {partition}: cv {}",
            sd / mean
        );
    }
    // A Job takes about 2.6 s: at 4 per second many are in flight at once.
    let overlapping = trace
        .rows
        .iter()
        .filter(|r| r.partition == 0)
        .filter(|r| {
            trace.rows.iter().any(|o| {
                o.partition == 0
                    && o.invocation != r.invocation
                    && o.submit_s() > r.submit_s()
                    && o.submit_s() < r.done_s()
            })
        })
        .count();
    assert!(
        overlapping > 3000,
        "{overlapping} of 4000 overlap a later submission"
    );
}

/// An arrival file is replayed exactly: invocation i is submitted times_s[i] after its node is
/// ready, however long the invocations before it take.
#[test]
fn an_arrival_file_is_replayed_exactly_after_the_node_is_ready() {
    let times: Vec<f64> = vec![0.0, 0.25, 0.5, 0.5, 3.0, 3.125, 40.0, 40.5];
    for (cal, nodes) in [(DELAYS_ONLY, 1), (PER_NODE, 1), (PER_NODE, 2)] {
        let platform = platform(cal, "p", Body::Relay);
        let w = workload(
            times.len() as u64,
            2,
            nodes,
            SubmitPolicy::Arrivals {
                times_s: Arc::from(times.clone()),
            },
        );
        let mut trace = VecTrace::default();
        let result = simulate(&platform, &w, 5, 0, &mut trace).unwrap();
        let mut rows: Vec<_> = trace.rows.iter().collect();
        rows.sort_by_key(|r| r.invocation);
        for row in rows {
            // The node's ready instant: the earliest possible submission on it is its first.
            let ready = trace
                .rows
                .iter()
                .filter(|o| o.node == row.node)
                .map(|o| o.submit_s() - times[o.invocation as usize])
                .fold(f64::INFINITY, f64::min);
            if nodes == 1 {
                let expected_ready = result.startup_overhead_s.unwrap_or(0.0);
                assert!(
                    (ready - expected_ready).abs() < 1e-6,
                    "ready {ready} vs {expected_ready}"
                );
            }
            let at = row.submit_s() - ready;
            assert!(
                (at - times[row.invocation as usize]).abs() < 1e-6,
                "{cal:.20}: invocation {} submitted at {at}, file says {}",
                row.invocation,
                times[row.invocation as usize]
            );
        }
    }
}

/// The mean decomposition is the mean of each stage's duration, in the stages' order, and its
/// parts add up to the mean latency; the body is read + compute + write.
#[test]
fn the_decomposition_sums_to_the_latency_stage_by_stage() {
    let cal = format!(
        "{}\n[platforms.p.stages.completion]\ndelay = {{ latency = {{ family = \"gamma\", shape = 2.0, scale = 0.02 }} }}\n",
        crate::SHARED
    );
    let platform = platform(&cal, "p", Body::Relay);
    let w = workload(300, 3, 2, SubmitPolicy::Window { size: 2 });
    let mut trace = VecTrace::default();
    let result = simulate(&platform, &w, 3, 0, &mut trace).unwrap();
    let d = &result.decomposition;
    let parts = d.as_array();
    let n = trace.rows.len() as f64;
    for stage in Stage::ALL {
        let part = d.of(stage);
        let mean = trace.rows.iter().map(|r| r.stage_s(stage)).sum::<f64>() / n;
        assert!(
            (part - mean).abs() < 1e-6,
            "stage {}: {part} vs {mean}",
            stage.name()
        );
    }
    assert!(
        parts.iter().all(|p| *p > 0.0),
        "every stage takes time here: {parts:?}"
    );
    let total: f64 = parts.iter().sum();
    assert!(
        (total - result.latency.mean_s).abs() < 1e-6,
        "{total} vs {}",
        result.latency.mean_s
    );
    assert!(
        (d.body_s() - (d.of(Stage::Read) + d.of(Stage::Compute) + d.of(Stage::Write))).abs()
            < 1e-12
    );
    assert!((result.body_share - d.body_s() / result.latency.mean_s).abs() < 1e-9);
}

/// A rate so low (or a delay so long) that simulated time would pass its end (2^64 ns, about
/// 584 years) is an error naming the platform, not a clock that wraps around to nonsense
/// (it once reported a makespan of 0 s).
#[test]
fn a_run_past_the_end_of_simulated_time_is_an_error() {
    let platform = platform(DELAYS_ONLY, "p", Body::Relay);
    let w = workload(10, 2, 1, SubmitPolicy::Poisson { rate_per_s: 1e-300 });
    let err = simulate(&platform, &w, 1, 0, &mut VecTrace::default()).unwrap_err();
    assert!(
        err.to_string().contains("simulated time ran past its end"),
        "{err}"
    );
    // A rate whose gaps stay within the clock still runs.
    let w = workload(10, 2, 1, SubmitPolicy::Poisson { rate_per_s: 1e-6 });
    let r = simulate(&platform, &w, 1, 0, &mut VecTrace::default()).unwrap();
    assert!(r.warm_makespan_s > 1e5, "{}", r.warm_makespan_s);
}

/// Why platform `p` of a calibration's text does not compile for the relay body.
fn compile_error(text: &str) -> String {
    faastwin_sim::Calibration::from_toml(text, "bad.toml")
        .unwrap()
        .compile("p", Body::Relay)
        .unwrap_err()
        .to_string()
}

/// A platform whose completion waits for each node's relist (a 1 s clock), then 2 s.
const RELIST: &str = r#"
[platforms.p]
client_gap = { family = "constant", value = 0.01 }
[platforms.p.resources.relist]
scope = "node"
discipline = { kind = "cycle", interval_s = 1.0 }
[platforms.p.stages.startup]
delay = { latency = { family = "lognormal", mu = -0.7, sigma = 0.4 } }
[platforms.p.stages.completion]
clock = "relist"
delay = { latency = { family = "constant", value = 2.0 } }
[platforms.p.workloads.relay.compute]
delay = { latency = { family = "constant", value = 0.001 } }
"#;

/// Issue 30: a stage with a clock starts its delay at the clock's next tick on the
/// invocation's node: every completion lies 2 s after a tick of its node's 1 s clock (one
/// phase per node), within a period of the body's end, so sequential latencies come in whole
/// periods plus the gap, as the kubelet's relist makes them on Kubernetes.
#[test]
fn a_stage_with_a_clock_waits_for_the_next_tick_of_its_nodes_clock() {
    let p = crate::platform(RELIST, "p", faastwin_sim::Body::Relay);
    let w = crate::workload(60, 2, 2, faastwin_sim::SubmitPolicy::Sequential);
    let mut trace = VecTrace::default();
    faastwin_sim::simulate(&p, &w, 7, 0, &mut trace).unwrap();
    assert_eq!(trace.rows.len(), 60);
    let residue = |t: f64| (t - 2.0).rem_euclid(1.0);
    let mut phases = [None, None];
    for row in &trace.rows {
        let tick = row.done_s() - 2.0;
        let waited = tick - row.start_of(Stage::Completion);
        assert!((0.0..=1.0 + 1e-9).contains(&waited), "waited {waited}");
        let phase = phases[row.node as usize].get_or_insert(residue(row.done_s()));
        let off = (residue(row.done_s()) - *phase).abs();
        assert!(off.min(1.0 - off) < 1e-6, "node {}: {off}", row.node);
    }
    let (a, b) = (phases[0].unwrap(), phases[1].unwrap());
    assert!(
        (a - b).abs() > 1e-3,
        "each node's clock has its own phase: {a} {b}"
    );

    // A clock must be a cycle: it ticks, it serves no work.
    let bad = RELIST.replace(
        r#"kind = "cycle", interval_s = 1.0"#,
        r#"kind = "fifo", servers = 1"#,
    );
    let err = compile_error(&bad);
    assert!(
        err.contains("stage completion") && err.contains("clock \"relist\""),
        "{err}"
    );
}

/// A platform whose Jobs each do 1 s of work on the control plane's node's one CPU, then 0.1 s
/// on their own node's.
const FIRST_NODE: &str = r#"
[platforms.p]
[platforms.p.resources.cpu]
scope = "node"
discipline = { kind = "fifo", servers = 1 }
[platforms.p.stages.control_plane]
work = { latency = { family = "constant", value = 1.0 } }
resource = "cpu"
on_first_node = true
[platforms.p.stages.completion]
work = { latency = { family = "constant", value = 0.1 } }
resource = "cpu"
[platforms.p.workloads.relay.compute]
delay = { latency = { family = "constant", value = 0.001 } }
"#;

/// Issue 30: work `on_first_node` is served by the first node's instance of its resource
/// whichever node the invocation runs on (a K3s control plane serves every node's Jobs from
/// its own node's CPUs): 40 Jobs on two nodes queue for one CPU's 1 s each, 40 s, not 20 s as
/// when each node served its own; the rest of their work still runs on their own node.
#[test]
fn work_on_the_first_node_is_served_there_whichever_node_the_job_runs_on() {
    let w = crate::workload(40, 4, 2, SubmitPolicy::Sequential);
    let makespan = |text: &str| {
        let p = crate::platform(text, "p", Body::Relay);
        let mut trace = VecTrace::default();
        let r = simulate(&p, &w, 3, 0, &mut trace).unwrap();
        assert_eq!(trace.rows.len(), 40);
        assert!(trace.rows.iter().any(|r| r.node == 1), "Jobs on node 2");
        r.warm_makespan_s
    };
    let first = makespan(FIRST_NODE);
    let own = makespan(&FIRST_NODE.replace("on_first_node = true\n", ""));
    assert!(
        (1.9..2.1).contains(&(first / own)) && first > 30.0,
        "on the first node {first} s, each on its own {own} s"
    );

    // Only a node's resource has a first node's instance.
    for (from, to) in [
        (r#"scope = "node""#, r#"scope = "cluster""#),
        ("resource = \"cpu\"\non_first_node", "on_first_node"),
    ] {
        let bad = FIRST_NODE.replacen(from, to, 1);
        let bad = if from.starts_with("resource") {
            bad.replacen(
                "work = { latency = { family = \"constant\", value = 1.0 } }\n",
                "delay = { latency = { family = \"constant\", value = 1.0 } }\n",
                1,
            )
        } else {
            bad
        };
        let err = compile_error(&bad);
        assert!(
            err.contains("stage control_plane") && err.contains("on_first_node"),
            "{err}"
        );
    }
}

/// [`FIRST_NODE`] on processor sharing, the first node's work not waited for.
fn detached() -> String {
    FIRST_NODE
        .replace(
            r#"kind = "fifo", servers = 1"#,
            r#"kind = "processor_sharing", capacity = 1.0"#,
        )
        .replace(
            "on_first_node = true\n",
            "on_first_node = true\ndetached = true\n",
        )
}

/// Issue 30: a Job does not wait for `detached` work, which still takes its share of the
/// resource: the control-plane stage takes no time, Jobs on node 2 take their own 0.1 s shared
/// by the two in flight there, and Jobs on node 1 share its CPU with the backlog that every
/// Job left there.
#[test]
fn detached_work_slows_its_resource_but_no_job_waits_for_it() {
    let text = detached();
    assert!(text.contains("detached = true") && text.contains("processor_sharing"));
    let p = crate::platform(&text, "p", Body::Relay);
    let w = crate::workload(40, 4, 2, SubmitPolicy::Sequential);
    let mut trace = VecTrace::default();
    simulate(&p, &w, 3, 0, &mut trace).unwrap();
    assert_eq!(trace.rows.len(), 40);
    for row in &trace.rows {
        let control_plane = row.start_of(Stage::Startup) - row.submit_s();
        assert!(control_plane.abs() < 1e-6, "waited {control_plane} s");
    }
    let latencies = |node: u32| -> Vec<f64> {
        trace
            .rows
            .iter()
            .filter(|r| r.node == node)
            .map(|r| r.latency_s())
            .collect()
    };
    let (first, second) = (latencies(0), latencies(1));
    assert!(!first.is_empty() && !second.is_empty());
    let worst_second = second.iter().copied().fold(0.0, f64::max);
    assert!(worst_second < 0.25, "node 2: {second:?}");
    let mean_first = first.iter().sum::<f64>() / first.len() as f64;
    assert!(mean_first > 1.0, "node 1: {first:?}");

    // A cycle holds the invocation itself: nothing to detach from.
    let bad = text.replace(
        r#"kind = "processor_sharing", capacity = 1.0"#,
        r#"kind = "cycle", interval_s = 1.0"#,
    );
    let err = compile_error(&bad);
    assert!(
        err.contains("stage control_plane") && err.contains("detached"),
        "{err}"
    );
}
