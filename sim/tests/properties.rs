//! Invariants of the simulator, checked by proptest over random workloads and seeds.

use std::collections::BTreeMap;

use faastwin_sim::{Body, SubmitPolicy, VecTrace, simulate};
use proptest::prelude::*;

use crate::{DELAYS_ONLY, PER_NODE, SHARED, platform, workload};

fn policy() -> impl Strategy<Value = SubmitPolicy> {
    prop_oneof![
        Just(SubmitPolicy::Sequential),
        (1u32..4).prop_map(|size| SubmitPolicy::Window { size }),
        (0.5f64..5.0).prop_map(|rate_per_s| SubmitPolicy::Poisson { rate_per_s }),
    ]
}

fn platforms() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(DELAYS_ONLY), Just(PER_NODE), Just(SHARED)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every invocation completes exactly once, no stage starts before the previous one ends,
    /// and a closed-loop partition submits in id order, never exceeding its window.
    #[test]
    fn invocations_complete_once_in_order(
        cal in platforms(), n in 1u64..120, p in 1u32..6, nodes in 1u32..4, policy in policy(), seed in any::<u64>()
    ) {
        let platform = platform(cal, "p", Body::Relay);
        let w = workload(n, p, nodes, policy.clone());
        let mut trace = VecTrace::default();
        let result = simulate(&platform, &w, seed, 0, &mut trace).unwrap();
        prop_assert_eq!(result.invocations, n);
        let mut ids: Vec<u64> = trace.rows.iter().map(|r| r.invocation).collect();
        ids.sort_unstable();
        prop_assert_eq!(ids, (0..n).collect::<Vec<_>>());
        for row in &trace.rows {
            prop_assert!(row.instants.windows(2).all(|w| w[0] <= w[1]), "stage order {:?}", row);
            prop_assert_eq!(row.partition as u64, row.invocation % p as u64);
            prop_assert_eq!(row.node, row.partition % nodes);
        }
        let mut by_partition: BTreeMap<u32, Vec<&faastwin_sim::OwnedTraceRow>> = BTreeMap::new();
        for row in &trace.rows {
            by_partition.entry(row.partition).or_default().push(row);
        }
        for rows in by_partition.values_mut() {
            rows.sort_by(|a, b| a.submit_s().total_cmp(&b.submit_s()).then(a.invocation.cmp(&b.invocation)));
            // Submission order is id order.
            prop_assert!(rows.windows(2).all(|w| w[0].invocation < w[1].invocation));
            if let Some(window) = policy.window() {
                // At each submission, fewer than `window` earlier invocations are still running.
                for (k, row) in rows.iter().enumerate() {
                    let running = rows[..k].iter().filter(|r| r.done_s() > row.submit_s()).count();
                    prop_assert!(running < window as usize, "{} running at a submission, window {}", running, window);
                }
            }
        }
    }

    /// With only pure delays there is no interaction: packing partitions onto fewer nodes
    /// changes nothing, and each partition's makespan is its own latencies plus gaps.
    #[test]
    fn without_shared_resources_partitions_do_not_interact(n in 1u64..80, p in 1u32..6, seed in any::<u64>()) {
        let platform = platform(DELAYS_ONLY, "p", Body::Relay);
        let mut packed = VecTrace::default();
        let mut spread = VecTrace::default();
        let a = simulate(&platform, &workload(n, p, 1, SubmitPolicy::Sequential), seed, 0, &mut packed).unwrap();
        let b = simulate(&platform, &workload(n, p, p, SubmitPolicy::Sequential), seed, 0, &mut spread).unwrap();
        prop_assert_eq!(&a.partition_makespans_s, &b.partition_makespans_s);
        prop_assert_eq!(a.latency.clone(), b.latency.clone());
        for (partition, makespan) in a.partition_makespans_s.iter().enumerate() {
            let mut rows: Vec<_> = packed.rows.iter().filter(|r| r.partition == partition as u32).collect();
            rows.sort_by_key(|r| r.invocation);
            let busy: f64 = rows.iter().map(|r| r.done_s() - r.submit_s()).sum();
            let gaps: f64 = rows.windows(2).map(|w| w[1].submit_s() - w[0].done_s()).sum();
            prop_assert!(gaps >= 0.0);
            prop_assert!((busy + gaps - makespan).abs() < 1e-6, "{} + {} vs {}", busy, gaps, makespan);
        }
    }

    /// With constant models the makespan is the closed form n·L + (n − 1)·g.
    #[test]
    fn constant_models_give_the_closed_form(
        n in 1u64..200, p in 1u32..8, cp in 0.0f64..3.0, start in 0.0f64..3.0, body in 0.0f64..2.0, done in 0.0f64..2.0, gap in 0.0f64..1.0
    ) {
        let cal = format!(r#"
[platforms.c]
client_gap = {{ family = "constant", value = {gap} }}
[platforms.c.stages.control_plane]
delay = {{ latency = {{ family = "constant", value = {cp} }} }}
[platforms.c.stages.startup]
delay = {{ latency = {{ family = "constant", value = {start} }} }}
[platforms.c.stages.completion]
delay = {{ latency = {{ family = "constant", value = {done} }} }}
[platforms.c.workloads.relay.compute]
delay = {{ latency = {{ family = "constant", value = {body} }} }}
"#);
        let platform = platform(&cal, "c", Body::Relay);
        let r = simulate(&platform, &workload(n, p, p, SubmitPolicy::Sequential), 1, 0, &mut faastwin_sim::NoTrace).unwrap();
        let ns = |s: f64| (s * 1e9).round() / 1e9;
        let latency = ns(cp) + ns(start) + ns(body) + ns(done);
        let per_partition = n.div_ceil(u64::from(p)) as f64;
        let expected = per_partition * latency + (per_partition - 1.0) * ns(gap);
        prop_assert!((r.warm_makespan_s - expected).abs() < 1e-6, "{} vs {}", r.warm_makespan_s, expected);
        prop_assert!((r.latency.p50_s - latency).abs() < 1e-9);
    }

    /// Same seed → identical results; another seed → other results.
    #[test]
    fn seed_determines_the_run(cal in platforms(), n in 20u64..100, p in 1u32..4, seed in any::<u64>()) {
        let platform = platform(cal, "p", Body::Relay);
        let w = workload(n, p, 2, SubmitPolicy::Window { size: 2 });
        let a = simulate(&platform, &w, seed, 0, &mut faastwin_sim::NoTrace).unwrap();
        let b = simulate(&platform, &w, seed, 0, &mut faastwin_sim::NoTrace).unwrap();
        let c = simulate(&platform, &w, seed.wrapping_add(1), 0, &mut faastwin_sim::NoTrace).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_ne!(a.warm_makespan_s, c.warm_makespan_s);
    }

    /// KSI-like platforms: one more node with its own control plane never increases the warm
    /// makespan of a fixed per-partition workload (common random numbers make this hold run by
    /// run, not just on average). With p ≤ nodes + 1 partitions, the extra node can only take
    /// a partition off a shared node.
    #[test]
    fn one_more_ksi_node_never_slows_the_batch(nodes in 1u32..6, extra in 0u32..2, n in 1u64..150, seed in any::<u64>()) {
        let platform = platform(PER_NODE, "p", Body::Relay);
        let p = nodes + extra;
        let before = simulate(&platform, &workload(n, p, nodes, SubmitPolicy::Sequential), seed, 0, &mut faastwin_sim::NoTrace).unwrap();
        let after = simulate(&platform, &workload(n, p, nodes + 1, SubmitPolicy::Sequential), seed, 0, &mut faastwin_sim::NoTrace).unwrap();
        prop_assert!(after.warm_makespan_s <= before.warm_makespan_s + 1e-9, "{} > {}", after.warm_makespan_s, before.warm_makespan_s);
    }
}
