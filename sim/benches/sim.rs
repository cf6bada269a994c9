//! Simulator throughput: the bare engine (ping-pong, as DSLab's simcore benchmark), the K3s
//! and KSI platform models per simulated invocation, and one million invocations on 1,000
//! nodes. Each group also prints `Processed N events in X s (Y events/s)` once, as DSLab does.

#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faastwin_sim::{Body, Engine, NoTrace, Scenario, SubmitPolicy, Workload, simulate};

/// Two processes exchange messages with a small random-ish delay until `events` are handled.
fn ping_pong(events: u64) -> u64 {
    let mut engine: Engine<(u8, u64)> = Engine::new();
    engine.schedule(0, (0, 1));
    engine.schedule(0, (1, 1));
    let mut handled = 0;
    while let Some((_, (who, n))) = engine.next_event() {
        handled += 1;
        if handled >= events {
            break;
        }
        let delay = 1 + (n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54);
        engine.schedule_in(delay, (1 - who, n + 1));
    }
    handled
}

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

fn report(what: &str, f: impl FnOnce() -> (u64, u64)) {
    let start = Instant::now();
    let (events, invocations) = f();
    let s = start.elapsed().as_secs_f64();
    eprintln!(
        "{what}: Processed {events} events in {s:.3} s ({:.2}M events/s, {:.3}M invocations/s)",
        events as f64 / s / 1e6,
        invocations as f64 / s / 1e6
    );
}

fn benches(c: &mut Criterion) {
    report("engine ping-pong", || (ping_pong(10_000_000), 0));
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("ping_pong_1M_events", |b| {
        b.iter(|| black_box(ping_pong(1_000_000)))
    });
    group.finish();

    let mut group = c.benchmark_group("platform");
    group.sample_size(10);
    for name in ["ksi", "k3s"] {
        let (platform, workload) = study_workload(name, 200_000, 2);
        report(&format!("{name} relay 200k invocations, 2 nodes"), || {
            let r = simulate(&platform, &workload, 1, 0, &mut NoTrace).expect("run");
            (r.events, r.invocations)
        });
        group.throughput(Throughput::Elements(workload.invocations));
        group.bench_function(format!("{name}_relay_200k_invocations"), |b| {
            b.iter(|| simulate(&platform, &workload, 1, 0, &mut NoTrace).expect("run"))
        });
    }
    let (platform, workload) = study_workload("ksi", 1_000_000, 1_000);
    report("ksi relay 1M invocations, 1000 nodes", || {
        let r = simulate(&platform, &workload, 1, 0, &mut NoTrace).expect("run");
        (r.events, r.invocations)
    });
    group.throughput(Throughput::Elements(workload.invocations));
    group.bench_function("ksi_relay_1M_invocations_1000_nodes", |b| {
        b.iter(|| simulate(&platform, &workload, 1, 0, &mut NoTrace).expect("run"))
    });
    group.finish();
}

criterion_group!(sim, benches);
criterion_main!(sim);
