//! What `simulate` writes: the JSON report reads back whole, the CSV has one row per defined
//! metric and platform with its statistics, the table shows every metric, the decomposition
//! (shares summing to 100 %) and the shared resources' utilisation.

use faastwin_sim::{SimulationReport, Workload, simulate_scenario};

/// The study's two-node relay scenario (K3s and KSI), 40 invocations, 3 replications.
fn report() -> (SimulationReport, Workload) {
    let (scenario, workload) = crate::relay_two_node(40);
    let report = simulate_scenario(
        &scenario,
        &workload,
        faastwin_sim::SimulateOptions {
            seed: 7,
            replications: 3,
            threads: 2,
            level: 0.9,
        },
        None,
        &|| {},
    )
    .unwrap();
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
        Some(
            "metric,platform,median,mean,std,min,max,ci95_low,ci95_high,replications,seed,interval_level,interval_low,interval_high"
        )
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
    let interval = report.platforms[0].intervals.as_ref().unwrap();
    let makespan_interval = interval.warm_makespan_s.unwrap();
    assert_eq!(
        (first[11], first[12], first[13]),
        (
            "0.9",
            makespan_interval.low.to_string().as_str(),
            makespan_interval.high.to_string().as_str()
        )
    );
    // The mean latency and the body share have no interval.
    let mean = rows.iter().find(|r| r[0] == "mean_latency_s").unwrap();
    assert_eq!(&mean[11..], ["", "", ""]);
}

/// A calibration with refits and run-to-run ratios: the intervals simulate every refit, hold
/// their disagreement and the platform's variation, say which dominates, come back the same
/// from the same seed, and narrow with the level.
#[test]
fn intervals_hold_refits_and_run_to_run_variation_and_reproduce_from_the_seed() {
    use faastwin_sim::interval::SOURCES;
    let (mut scenario, workload) = crate::relay_two_node(40);
    scenario.file.platforms = vec!["k3s".into()];
    let options = |level| faastwin_sim::SimulateOptions {
        seed: 3,
        replications: 4,
        threads: 2,
        level,
    };
    let simulate = |scenario: &faastwin_sim::Scenario, level| {
        let count = std::sync::atomic::AtomicU64::new(0);
        let report = simulate_scenario(scenario, &workload, options(level), None, &|| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(count.into_inner(), options(level).simulations(scenario));
        report.platforms[0].intervals.clone().unwrap()
    };
    let bare = simulate(&scenario, 0.9);
    assert_eq!((bare.refits, bare.run_to_run), (0, 0));
    let bare_makespan = bare.warm_makespan_s.unwrap();
    assert_eq!(bare_makespan.dominant(), SOURCES[0]);

    // Refits that disagree: the study's K3s twice and, between them, KSI's model.
    let calibration = &mut scenario.calibration;
    let k3s = calibration.platforms["k3s"].clone();
    let ksi = calibration.platforms["ksi"].clone();
    calibration
        .refits
        .insert("k3s".into(), vec![k3s.clone(), ksi, k3s]);
    let refitted = simulate(&scenario, 0.9);
    assert_eq!(options(0.9).simulations(&scenario), 4 + 3 * 2);
    let makespan = refitted.warm_makespan_s.unwrap();
    assert_eq!(refitted.refits, 3);
    assert_eq!(makespan.dominant(), SOURCES[1], "{makespan:?}");
    assert!(
        makespan.high - makespan.low > 3.0 * (bare_makespan.high - bare_makespan.low),
        "{makespan:?} against {bare_makespan:?}"
    );
    assert_eq!(simulate(&scenario, 0.9), refitted, "not reproducible");
    let narrow = simulate(&scenario, 0.5).warm_makespan_s.unwrap();
    assert!(narrow.low >= makespan.low && narrow.high <= makespan.high);

    // The platform's run-to-run variation from the provenance, as `calibrate` keeps it.
    let ratios: toml::Table = toml::from_str(
        "warm_makespan = [0.7, 1.0, 1.3]\np50_latency = [0.99, 1.0, 1.01]\np95_latency = [1.0, 1.0]",
    )
    .unwrap();
    let mut k3s_provenance = toml::Table::new();
    k3s_provenance.insert("run_to_run".into(), ratios.into());
    scenario.calibration.refits.clear();
    scenario
        .calibration
        .provenance
        .insert("k3s".into(), k3s_provenance.into());
    let varied = simulate(&scenario, 0.9);
    assert_eq!(varied.run_to_run, 3);
    let makespan = varied.warm_makespan_s.unwrap();
    assert_eq!(makespan.dominant(), SOURCES[2]);
    assert!(makespan.low < 0.75 * bare_makespan.low && makespan.high > 1.25 * bare_makespan.high);
    assert!(varied.p99_latency_s.is_some());
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
