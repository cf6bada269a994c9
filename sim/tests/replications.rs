//! Replications: seeds that depend on nothing but the base seed and the index, the traced
//! path giving what the parallel one gives, and a summary whose means are over replications.

use faastwin_models::splitmix64;
use faastwin_sim::{
    PlatformSummary, VecTrace, Workload, replicate, replicate_traced, replication_seed,
};

fn study(platform: &str) -> (faastwin_sim::CompiledPlatform, Workload) {
    let (scenario, workload) = crate::relay_two_node(30);
    (
        scenario
            .calibration
            .compile(platform, workload.body)
            .unwrap(),
        workload,
    )
}

#[test]
fn replication_seeds_mix_the_base_seed_with_the_index_plus_one() {
    for (seed, r) in [(0, 0), (1, 0), (1, 7), (u64::MAX, u32::MAX)] {
        assert_eq!(
            replication_seed(seed, r),
            splitmix64(seed ^ splitmix64(u64::from(r) + 1))
        );
    }
    assert_ne!(replication_seed(1, 0), replication_seed(1, 1));
}

#[test]
fn the_traced_path_gives_the_parallel_results_in_order_and_streams_every_invocation() {
    let (platform, workload) = study("k3s");
    let parallel = replicate(&platform, &workload, 5, 3, 2, &|| {}).unwrap();
    let mut trace = VecTrace::default();
    let traced = replicate_traced(&platform, &workload, 5, 3, &mut trace, &|| {}).unwrap();
    // Recording completions in order for the trace costs events, nothing else.
    let results = |runs: Vec<faastwin_sim::RunResult>| {
        runs.into_iter()
            .map(|r| faastwin_sim::RunResult { events: 0, ..r })
            .collect::<Vec<_>>()
    };
    assert!(
        traced
            .iter()
            .zip(&parallel)
            .all(|(t, p)| t.events > p.events)
    );
    assert_eq!(results(traced), results(parallel));
    assert_eq!(trace.rows.len(), 3 * 30);
}

#[test]
fn a_summary_takes_medians_of_metrics_and_means_of_the_decomposition_gap_and_utilisation() {
    let (platform, workload) = study("ksi");
    let runs = replicate(&platform, &workload, 3, 4, 2, &|| {}).unwrap();
    let s = PlatformSummary::of(&runs, 3).unwrap();
    let mean = |f: &dyn Fn(&faastwin_sim::RunResult) -> f64| {
        runs.iter().map(f).sum::<f64>() / runs.len() as f64
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
    for i in 0..6 {
        let want = mean(&|r| r.decomposition.as_array()[i]);
        assert!(close(s.decomposition.as_array()[i], want), "stage {i}");
    }
    assert!(close(s.mean_client_gap_s, mean(&|r| r.mean_client_gap_s)));
    assert!(!s.utilisation.is_empty());
    for (i, u) in s.utilisation.iter().enumerate() {
        assert!(close(
            u.utilisation,
            mean(&|r| r.utilisation[i].utilisation)
        ));
    }
    let mut makespans: Vec<f64> = runs.iter().map(|r| r.warm_makespan_s).collect();
    makespans.sort_by(f64::total_cmp);
    assert!(close(
        s.warm_makespan_s,
        (makespans[1] + makespans[2]) / 2.0
    ));
    assert_eq!((s.replications, s.seed), (4, 3));
    assert!(s.quantiles_exact);
    assert!(PlatformSummary::of(&[], 3).is_err());
}

#[test]
fn a_summary_written_before_quantiles_exact_existed_reads_as_exact() {
    let (platform, workload) = study("k3s");
    let runs = replicate(&platform, &workload, 3, 1, 1, &|| {}).unwrap();
    let summary = PlatformSummary::of(&runs, 3).unwrap();
    let mut json = serde_json::to_value(&summary).unwrap();
    json.as_object_mut().unwrap().remove("quantiles_exact");
    let back: PlatformSummary = serde_json::from_value(json).unwrap();
    assert!(back.quantiles_exact);
}
