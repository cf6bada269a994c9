//! What `simulate` writes: the JSON report reads back whole, the CSV has one row per defined
//! metric and platform with its statistics, the table shows every metric, the decomposition
//! (shares summing to 100 %) and the shared resources' utilisation.

use faastwin_sim::{SimulationReport, Workload, simulate_scenario};

/// The study's two-node relay scenario (K3s and KSI), 40 invocations, 3 replications.
fn report() -> (SimulationReport, Workload) {
    let (scenario, workload) = crate::relay_two_node(40);
    let report = simulate_scenario(&scenario, &workload, 7, 3, 2, None, &|| {}).unwrap();
    (report, workload)
}

#[test]
fn the_json_report_reads_back_as_written() {
    let (report, _) = report();
    let mut out = Vec::new();
    report.write_json(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with("}\n"));
    let back: SimulationReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);
    assert_eq!((back.seed, back.replications), (7, 3));
}

#[test]
fn the_csv_has_a_row_per_defined_metric_and_platform() {
    let (report, _) = report();
    let mut out = Vec::new();
    report.write_csv(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("metric,platform,median,mean,std,min,max,ci95_low,ci95_high,replications,seed")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let metrics = [
        "warm_makespan_s",
        "p50_latency_s",
        "p95_latency_s",
        "p99_latency_s",
        "mean_latency_s",
        "startup_overhead_s",
        "body_share",
    ];
    let mut want = Vec::new();
    for p in &report.platforms {
        for m in metrics {
            if m != "startup_overhead_s" || p.stats.startup_overhead_s.is_some() {
                want.push((m, p.platform.as_str()));
            }
        }
    }
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    assert_eq!(got, want);
    let makespan = &report.platforms[0].stats.warm_makespan_s;
    let first = &rows[0];
    assert_eq!(first[2], makespan.median.to_string());
    assert_eq!(first[3], makespan.mean.to_string());
    assert_eq!(first[7], makespan.ci95[0].to_string());
    assert_eq!((first[9], first[10]), ("3", "7"));
}

#[test]
fn the_table_shows_every_metric_the_decomposition_and_the_utilisation() {
    let (report, workload) = report();
    let mut out = Vec::new();
    report.write_table(&workload, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("scenario: {}", report.scenario));
    assert!(
        lines[2].starts_with("workload: relay, 40 invocations, 2 partitions on 2 nodes"),
        "{text}"
    );
    assert_eq!(lines[3], "runs:     3 replications per platform, seed 7");
    for label in [
        "warm makespan [s]",
        "p50 Job latency [s]",
        "p95 Job latency [s]",
        "p99 Job latency [s]",
        "mean Job latency [s]",
        "startup overhead [s]",
        "body share of mean latency",
    ] {
        for p in &report.platforms {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(label) && l[29..].starts_with(&p.platform)),
                "{label} of {}: {text}",
                p.platform
            );
        }
    }
    let makespan = &report.platforms[0].stats.warm_makespan_s;
    assert!(
        text.contains(&format!(
            "{:>10.3} {:>10.3} {:>9.3}",
            makespan.median, makespan.mean, makespan.std
        )),
        "{text}"
    );
    // Each platform's shares of the mean latency add up to 100 %.
    let start = lines
        .iter()
        .position(|l| l.starts_with("mean latency decomposition"))
        .unwrap();
    let stages: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|l| l.starts_with("  ") && !l.contains("client gap"))
        .copied()
        .collect();
    assert_eq!(stages.len(), 6, "{text}");
    for (column, _) in report.platforms.iter().enumerate() {
        let total: f64 = stages
            .iter()
            .map(|l| {
                let share = l.split('(').nth(column + 1).unwrap();
                share
                    .split('%')
                    .next()
                    .unwrap()
                    .trim()
                    .parse::<f64>()
                    .unwrap()
            })
            .sum();
        assert!((total - 100.0).abs() < 0.5, "{total}: {text}");
    }
    assert!(text.contains("utilisation of shared resources"), "{text}");
    for p in &report.platforms {
        for u in &p.utilisation {
            assert!(
                text.contains(&format!(
                    "  {:<8} {:<20} {:>6.1}%",
                    p.platform,
                    u.resource,
                    100.0 * u.utilisation
                )),
                "{text}"
            );
        }
    }
}
