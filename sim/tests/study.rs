//! The embedded calibration reproduces the study's published medians (Tables 2 and 3,
//! Figure 6) within 2 %, and the single-node control run shows the smaller KSI–K3s gap.

use std::path::Path;

use faastwin_sim::{PlatformSummary, Scenario, replicate};

fn summaries(file: &str) -> Vec<PlatformSummary> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/study")
        .join(file);
    let s = Scenario::load(&path).unwrap();
    s.file
        .platforms
        .iter()
        .map(|name| {
            let platform = s.calibration.compile(name, s.workload.body).unwrap();
            let runs = replicate(
                &platform,
                &s.workload,
                s.file.seed,
                s.file.replications,
                2,
                &|| {},
            )
            .unwrap();
            PlatformSummary::of(&runs, s.file.seed).unwrap()
        })
        .collect()
}

fn close(what: &str, got: f64, want: f64, tolerance: f64) {
    let err = got / want - 1.0;
    assert!(
        err.abs() <= tolerance,
        "{what}: simulated {got:.3}, study {want:.3} ({:+.1} %)",
        100.0 * err
    );
}

#[test]
fn relay_two_node_matches_table_2() {
    let s = summaries("relay-two-node.toml");
    let (ksi, k3s) = (&s[0], &s[1]);
    close("KSI warm makespan", ksi.warm_makespan_s, 1038.1, 0.02);
    close("K3s warm makespan", k3s.warm_makespan_s, 1202.8, 0.02);
    close("KSI p50", ksi.p50_latency_s, 3.87, 0.02);
    close("K3s p50", k3s.p50_latency_s, 4.58, 0.02);
    close("KSI p95", ksi.p95_latency_s, 3.92, 0.02);
    close("K3s p95", k3s.p95_latency_s, 4.95, 0.02);
    close(
        "KSI startup overhead",
        ksi.startup_overhead_s.unwrap(),
        49.98,
        0.03,
    );
    assert!(k3s.startup_overhead_s.is_none());
}

#[test]
fn etl_two_node_matches_table_3_and_figure_6() {
    let s = summaries("etl-two-node.toml");
    let (ksi, k3s) = (&s[0], &s[1]);
    close("KSI warm makespan", ksi.warm_makespan_s, 294.4, 0.02);
    close("K3s warm makespan", k3s.warm_makespan_s, 307.92, 0.02);
    close("KSI p50", ksi.p50_latency_s, 8.88, 0.02);
    close("K3s p50", k3s.p50_latency_s, 8.86, 0.02);
    close("KSI p95", ksi.p95_latency_s, 9.72, 0.02);
    close("K3s p95", k3s.p95_latency_s, 9.97, 0.02);
    close("KSI body share", ksi.body_share, 0.564, 0.03);
    close("K3s body share", k3s.body_share, 0.547, 0.03);
}

#[test]
fn single_node_gap_is_smaller_than_two_node_gap() {
    let one = summaries("relay-single-node.toml");
    let two = summaries("relay-two-node.toml");
    let gap = |s: &[PlatformSummary]| s[1].p50_latency_s - s[0].p50_latency_s;
    assert!(
        gap(&one) > 0.0,
        "KSI keeps the lower median latency on one node"
    );
    assert!(
        gap(&one) < gap(&two) / 2.0,
        "gap one node {:.3} s, two nodes {:.3} s",
        gap(&one),
        gap(&two)
    );
}
