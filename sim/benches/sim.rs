//! Simulator throughput, each figure beside an anchor measured in the same run:
//!
//! - the bare engine, ping-pong between 2 processes and among 1,000 processes with 10 peers
//!   each, beside the same ping-pong on DSLab's `simcore` (the engine of dslab-faas);
//! - the study's relay model (K3s and KSI) per simulated invocation at 1M and 10M
//!   invocations, with events per invocation and the process's peak memory;
//! - 1M invocations on 1,000 and on 10,000 nodes beside the same on 2 nodes;
//! - the relay model beside its random draws alone (the floor under its cost);
//! - 20 replications and a sweep (`scenarios/what-if/nodes.toml`) on 2 threads beside 1;
//! - `faastwin plan` over 1,000 configurations of 100,000 relay invocations (issue 27's goal:
//!   under a minute on 2 cores), its invocations per second beside one 2-node run's.
//!
//! The side-by-side figures alternate their two sides three times (the node counts five) and
//! print each ratio and their median (these machines are shared and noisy). Criterion then times the short cases.

#![allow(clippy::expect_used)]

use std::cell::RefCell;
use std::hint::black_box;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faastwin_models::{Rng, rng_from_seed};
use faastwin_sim::sweep::SweepPlan;
use faastwin_sim::{Body, Engine, NoTrace, Scenario, SubmitPolicy, Workload, replicate, simulate};
use rand::Rng as _;

/// Ping-pong on our engine: `processes` processes, each sending to one of its `peers`
/// successors (chosen at random) after a random delay, until `events` are handled.
fn ping_pong(processes: u32, peers: u32, events: u64) -> u64 {
    let mut engine: Engine<u32> = Engine::new();
    let mut rng: Rng = rng_from_seed(123);
    for p in 0..processes {
        engine.schedule(0, p);
    }
    let mut handled = 0;
    while let Some((_, to)) = engine.next_event() {
        handled += 1;
        if handled >= events {
            break;
        }
        let peer = (to + 1 + rng.random_range(0..peers)) % processes;
        let delay = rng.random_range(500_000_000..1_000_000_000);
        engine.schedule_in(delay, peer);
    }
    handled
}

/// The same ping-pong on simcore: one component per process, delays in seconds from the
/// simulation's own generator.
fn simcore_ping_pong(processes: u32, peers: u32, events: u64) -> u64 {
    #[derive(Clone, serde::Serialize)]
    struct Ping;
    struct Process {
        ctx: simcore::SimulationContext,
        peers: Vec<simcore::Id>,
    }
    impl simcore::EventHandler for Process {
        fn on(&mut self, _event: simcore::Event) {
            let peer = self.peers[self.ctx.gen_range(0..self.peers.len())];
            let delay = self.ctx.gen_range(0.5..1.0);
            self.ctx.emit(Ping, peer, delay);
        }
    }
    let mut sim = simcore::Simulation::new(123);
    let contexts: Vec<_> = (0..processes)
        .map(|p| sim.create_context(format!("p{p}")))
        .collect();
    let ids: Vec<_> = contexts.iter().map(|c| c.id()).collect();
    for (p, ctx) in contexts.into_iter().enumerate() {
        let peers = (1..=peers as usize)
            .map(|k| ids[(p + k) % ids.len()])
            .collect();
        ctx.emit_self_now(Ping);
        let name = ctx.name().to_owned();
        sim.add_handler(name, Rc::new(RefCell::new(Process { ctx, peers })));
    }
    let mut handled = 0;
    while handled < events && sim.step() {
        handled += 1;
    }
    handled
}

/// The study's relay model on `platform`, sequential partitions, one per node.
fn study_workload(
    platform: &str,
    invocations: u64,
    nodes: u32,
) -> (faastwin_sim::CompiledPlatform, Workload) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/study/relay-two-node.toml");
    let scenario = Scenario::load(&path).expect("study scenario");
    let compiled = scenario
        .calibration
        .compile(platform, Body::Relay)
        .expect("platform");
    let workload = Workload {
        invocations,
        nodes,
        partitions: nodes,
        policy: SubmitPolicy::Sequential,
        ..scenario.workload
    };
    (compiled, workload)
}

/// Simulates `invocations` of the relay model; returns (invocations per second, events).
fn relay_rate(platform: &str, invocations: u64, nodes: u32) -> (f64, u64) {
    let (platform, workload) = study_workload(platform, invocations, nodes);
    let start = Instant::now();
    let r = simulate(&platform, &workload, 1, 0, &mut NoTrace).expect("run");
    (
        r.invocations as f64 / start.elapsed().as_secs_f64(),
        r.events,
    )
}

/// Invocations per second if an invocation did nothing but its random draws: seed its own
/// stream, draw the eight lognormals of the relay model (seven stages and the client gap).
/// The floor under the simulator's cost per invocation.
fn draws_rate(invocations: u64) -> f64 {
    let stage = faastwin_models::Distribution::new(faastwin_models::RawDistribution::Lognormal {
        mu: -0.4,
        sigma: 0.05,
    })
    .expect("lognormal");
    let start = Instant::now();
    let mut sum = 0.0;
    for i in 0..invocations {
        let mut rng =
            rng_from_seed(faastwin_models::splitmix64(1) ^ faastwin_models::splitmix64(i));
        for _ in 0..8 {
            sum += stage.sample(&mut rng);
        }
    }
    black_box(sum);
    invocations as f64 / start.elapsed().as_secs_f64()
}

/// Replications per second of `replications` replications of 100,000 relay invocations on
/// KSI on `threads` threads.
fn replications_rate(replications: u32, threads: usize) -> f64 {
    let (platform, workload) = study_workload("ksi", 100_000, 2);
    let start = Instant::now();
    let runs = replicate(&platform, &workload, 1, replications, threads, &|| {}).expect("run");
    assert_eq!(runs.len(), replications as usize);
    f64::from(replications) / start.elapsed().as_secs_f64()
}

/// Units per second of the shipped node-count sweep (9 points, 2 platforms, 10 replications
/// of 4,096 invocations) on `threads` threads.
fn sweep_rate(threads: usize) -> f64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/what-if/nodes.toml");
    let plan = SweepPlan::load(&path, None, Some(10)).expect("sweep scenario");
    let units = plan.units().len();
    let start = Instant::now();
    black_box(plan.run_local(threads, &|| {}).expect("sweep"));
    units as f64 / start.elapsed().as_secs_f64()
}

/// `faastwin plan` of 100,000 relay invocations over 1,000 configurations (K3s and KSI × 10
/// node counts from 1 to 512 × 10 partitions per node × 5 windows), `replications` each, on 2
/// threads: (seconds, invocations per second).
fn plan_rate(replications: u32) -> (f64, f64) {
    use faastwin_sim::plan::{Deadline, PlanRun, PlanSpace, plan};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/study/relay-two-node.toml");
    let mut scenario = Scenario::load(&path).expect("study scenario");
    scenario.workload.invocations = 100_000;
    let space = PlanSpace {
        nodes: (0..10).map(|k| 1 << k).collect(),
        partitions_per_node: (1..=10).collect(),
        windows: (1..=5).collect(),
    };
    let deadline = Deadline {
        seconds: 3600.0,
        probability: 0.95,
    };
    let run = PlanRun {
        seed: 1,
        replications,
        threads: 2,
    };
    let start = Instant::now();
    let p = plan(&scenario, &space, deadline, run, &|| {}).expect("plan");
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(p.candidates.len(), 1000);
    let invocations = 1000.0 * 100_000.0 * f64::from(replications);
    (seconds, invocations / seconds)
}

/// Events per second of `f`, which returns the events it handled.
fn events_rate(f: impl FnOnce() -> u64) -> f64 {
    let start = Instant::now();
    let events = f();
    events as f64 / start.elapsed().as_secs_f64()
}

/// A rate, in millions from 100,000 on.
fn rate(per_s: f64) -> String {
    if per_s >= 1e5 {
        format!("{:.2}M", per_s / 1e6)
    } else {
        format!("{per_s:.1}")
    }
}

/// Runs `ours` and `anchor` alternately three times; prints both rates and their ratio.
fn side_by_side(what: &str, unit: &str, ours: impl FnMut() -> f64, anchor: impl FnMut() -> f64) {
    alternate(3, what, unit, ours, anchor);
}

/// Runs `ours` and `anchor` alternately `times` times; prints both rates, each ratio and
/// their median and range.
fn alternate(
    times: usize,
    what: &str,
    unit: &str,
    mut ours: impl FnMut() -> f64,
    mut anchor: impl FnMut() -> f64,
) {
    let mut ratios = Vec::new();
    for _ in 0..times {
        let (a, b) = (ours(), anchor());
        eprintln!(
            "{what}: {} {unit}/s against {}: ratio {:.2}",
            rate(a),
            rate(b),
            a / b
        );
        ratios.push(a / b);
    }
    ratios.sort_by(f64::total_cmp);
    eprintln!(
        "{what}: median ratio {:.2} (from {:.2} to {:.2})",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
}

/// The process's peak resident memory [MB], from /proc (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn benches(c: &mut Criterion) {
    side_by_side(
        "ping-pong, 2 processes: faastwin against simcore",
        "events",
        || events_rate(|| ping_pong(2, 1, 2_000_000)),
        || events_rate(|| simcore_ping_pong(2, 1, 2_000_000)),
    );
    side_by_side(
        "ping-pong, 1000 processes with 10 peers: faastwin against simcore",
        "events",
        || events_rate(|| ping_pong(1000, 10, 2_000_000)),
        || events_rate(|| simcore_ping_pong(1000, 10, 2_000_000)),
    );
    for platform in ["k3s", "ksi"] {
        for invocations in [1_000_000, 10_000_000] {
            let (rate, events) = relay_rate(platform, invocations, 2);
            eprintln!(
                "{platform} relay, {invocations} invocations on 2 nodes: {:.2}M invocations/s, {:.2} events per invocation, peak RSS so far {:.0} MB",
                rate / 1e6,
                events as f64 / invocations as f64,
                peak_rss_mb().unwrap_or(f64::NAN)
            );
        }
    }
    for nodes in [1_000, 10_000] {
        alternate(
            5,
            &format!("ksi relay, 1M invocations: {nodes} nodes against 2 nodes"),
            "invocations",
            || relay_rate("ksi", 1_000_000, nodes).0,
            || relay_rate("ksi", 1_000_000, 2).0,
        );
    }

    side_by_side(
        "ksi relay, 1M invocations on 2 nodes: the whole model against its random draws alone",
        "invocations",
        || relay_rate("ksi", 1_000_000, 2).0,
        || draws_rate(1_000_000),
    );

    side_by_side(
        "ksi relay, 20 replications of 100k invocations: 2 threads against 1",
        "replications",
        || replications_rate(20, 2),
        || replications_rate(20, 1),
    );
    side_by_side(
        "sweep what-if/nodes.toml, 10 replications: 2 threads against 1",
        "units",
        || sweep_rate(2),
        || sweep_rate(1),
    );

    for replications in [1, 3] {
        let mut seconds = Vec::new();
        side_by_side(
            &format!(
                "plan, 1000 configurations of 100k relay invocations, {replications} replication(s) each, 2 threads: against one 1M run on 2 nodes"
            ),
            "invocations",
            || {
                let (s, rate) = plan_rate(replications);
                seconds.push(s);
                rate
            },
            || relay_rate("ksi", 1_000_000, 2).0,
        );
        seconds.sort_by(f64::total_cmp);
        eprintln!(
            "plan, {replications} replication(s) each: {:.1} s (from {:.1} to {:.1}; goal: under 60 s)",
            seconds[1], seconds[0], seconds[2]
        );
    }

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("ping_pong_1M_events", |b| {
        b.iter(|| black_box(ping_pong(2, 1, 1_000_000)))
    });
    group.bench_function("simcore_ping_pong_1M_events", |b| {
        b.iter(|| black_box(simcore_ping_pong(2, 1, 1_000_000)))
    });
    group.finish();

    let mut group = c.benchmark_group("platform");
    group.sample_size(10);
    for name in ["ksi", "k3s"] {
        let (platform, workload) = study_workload(name, 200_000, 2);
        group.throughput(Throughput::Elements(workload.invocations));
        group.bench_function(format!("{name}_relay_200k_invocations"), |b| {
            b.iter(|| simulate(&platform, &workload, 1, 0, &mut NoTrace).expect("run"))
        });
    }
    let (platform, workload) = study_workload("ksi", 1_000_000, 1_000);
    group.throughput(Throughput::Elements(workload.invocations));
    group.bench_function("ksi_relay_1M_invocations_1000_nodes", |b| {
        b.iter(|| simulate(&platform, &workload, 1, 0, &mut NoTrace).expect("run"))
    });
    group.finish();
}

criterion_group!(sim, benches);
criterion_main!(sim);
