//! What `validate` reports: the warm makespan's error picked by name, the median over runs,
//! the grouping by platform, and the three output formats, written exactly.

use faastwin_calibration::{
    MetricComparison, RunValidation, ValidationFormat, by_platform, median_abs_makespan_error,
    within_spread, write_validations,
};
use faastwin_models::Metric;

fn validation(run: &str, platform: &str, makespan: Option<(f64, f64)>) -> RunValidation {
    let mut metrics = vec![MetricComparison::new(Metric::P50LatencyS, 2.0, 2.5)];
    if let Some((measured, predicted)) = makespan {
        metrics.push(MetricComparison::new(
            Metric::WarmMakespanS,
            measured,
            predicted,
        ));
    }
    RunValidation {
        run: run.into(),
        platform: platform.into(),
        scenario: "6 x relay on 2 partitions / 1 nodes".into(),
        metrics,
        latency_ks_distance: 0.125,
        ..RunValidation::default()
    }
}

fn written(validations: &[RunValidation], format: ValidationFormat) -> String {
    let mut out = Vec::new();
    write_validations(&mut out, validations, format).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_makespan_error_is_that_of_the_warm_makespan_whatever_its_place() {
    let v = validation("r", "local", Some((10.0, 9.0)));
    assert_eq!(v.metrics[0].metric, Metric::P50LatencyS);
    assert!((v.makespan_rel_error() - -0.1).abs() < 1e-12);
    assert!(validation("r", "local", None).makespan_rel_error().is_nan());
}

#[test]
fn the_median_error_is_of_absolute_values_over_runs() {
    let runs = [
        validation("a", "local", Some((10.0, 7.0))),  // -30 %
        validation("b", "local", Some((10.0, 11.0))), // +10 %
        validation("c", "local", Some((10.0, 8.0))),  // -20 %
    ];
    assert!((median_abs_makespan_error(&runs) - 0.2).abs() < 1e-12);
    assert!(median_abs_makespan_error(&[]).is_nan());
}

#[test]
fn validations_are_grouped_by_platform_in_name_order_keeping_run_order() {
    let runs = [
        validation("a", "slurm", Some((1.0, 1.0))),
        validation("b", "local", Some((1.0, 1.0))),
        validation("c", "slurm", Some((1.0, 1.0))),
    ];
    let groups = by_platform(&runs);
    let names: Vec<(&str, Vec<&str>)> = groups
        .iter()
        .map(|(p, v)| (p.as_str(), v.iter().map(|v| v.run.as_str()).collect()))
        .collect();
    assert_eq!(names, vec![("local", vec!["b"]), ("slurm", vec!["a", "c"])]);
}

#[test]
fn csv_has_one_row_per_metric_and_one_for_the_ks_distance() {
    let csv = written(
        &[validation("runs/a", "local", Some((10.0, 9.0)))],
        ValidationFormat::Csv,
    );
    assert_eq!(
        csv,
        "run,platform,metric,measured,predicted,abs_error,rel_error\n\
         runs/a,local,p50_latency_s,2,2.5,0.5,0.25\n\
         runs/a,local,warm_makespan_s,10,9,-1,-0.1\n\
         runs/a,local,latency_ks_distance,,0.125,,\n"
    );
}

#[test]
fn json_reads_back_as_the_same_validations() {
    let runs = vec![
        validation("a", "local", Some((10.0, 9.0))),
        validation("b", "k3s", None),
    ];
    let json = written(&runs, ValidationFormat::Json);
    assert!(json.ends_with("}\n]\n"), "{json}");
    let back: Vec<RunValidation> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.len(), 2);
    for (a, b) in back.iter().zip(&runs) {
        assert_eq!(
            (&a.run, &a.platform, &a.metrics),
            (&b.run, &b.platform, &b.metrics)
        );
        assert_eq!(a.latency_ks_distance, b.latency_ks_distance);
    }
}

#[test]
fn the_table_shows_each_metric_in_percent_and_the_median_only_over_several_runs() {
    let one = written(
        &[validation("runs/a", "local", Some((10.0, 9.0)))],
        ValidationFormat::Table,
    );
    assert_eq!(
        one,
        "run runs/a (local): 6 x relay on 2 partitions / 1 nodes\n\
         \x20 metric                   measured    predicted    abs error rel error\n\
         \x20 p50_latency_s              2.0000       2.5000       0.5000     25.0%\n\
         \x20 warm_makespan_s           10.0000       9.0000      -1.0000    -10.0%\n\
         \x20 latency KS distance         0.125\n"
    );
    let two = written(
        &[
            validation("a", "local", Some((10.0, 9.0))),
            validation("b", "local", Some((10.0, 13.0))),
        ],
        ValidationFormat::Table,
    );
    assert!(
        two.ends_with("median |makespan error| over 2 runs: 20.0 %\n"),
        "{two}"
    );
    assert_eq!(two.matches("run ").count(), 2);
}

#[test]
fn an_error_is_judged_against_the_spread_of_the_measured_repetitions() {
    // Repetitions of 9, 10 and 12 s, median 10: they span -10 … +20 %.
    let spread = |predicted: f64| RunValidation {
        measured_makespans_s: vec![9.0, 10.0, 12.0],
        ..validation("runs/a", "local", Some((10.0, predicted)))
    };
    let (low, high) = spread(11.0).measured_spread().unwrap();
    assert!((low - -0.1).abs() < 1e-12 && (high - 0.2).abs() < 1e-12);
    assert_eq!(spread(11.0).within_measured_spread(), Some(true));
    assert_eq!(
        spread(9.0).within_measured_spread(),
        Some(true),
        "the lowest itself"
    );
    assert_eq!(spread(8.9).within_measured_spread(), Some(false));
    assert_eq!(spread(12.1).within_measured_spread(), Some(false));
    // One repetition, or no makespan: nothing to judge by.
    let one = RunValidation {
        measured_makespans_s: vec![10.0],
        ..validation("b", "local", Some((10.0, 11.0)))
    };
    assert_eq!(one.within_measured_spread(), None);
    let none = RunValidation {
        measured_makespans_s: vec![9.0, 12.0],
        ..validation("c", "local", None)
    };
    assert_eq!(none.within_measured_spread(), None);
    assert_eq!(
        within_spread(&[spread(11.0), spread(13.0), one.clone()]),
        Some((1, 2))
    );
    assert_eq!(within_spread(&[one]), None);

    let table = written(&[spread(13.0), spread(11.0)], ValidationFormat::Table);
    assert!(
        table.contains(
            "  measured makespans span -10.0 … +20.0 % of their median over 3 repetitions: the prediction lies outside them\n"
        ),
        "{table}"
    );
    assert!(
        table.contains("the prediction lies within them\n"),
        "{table}"
    );
    assert!(
        table.ends_with(
            "median |makespan error| over 2 runs: 20.0 %; 1 of 2 predictions within the spread of their measured repetitions\n"
        ),
        "{table}"
    );
    let csv = written(&[spread(11.0)], ValidationFormat::Csv);
    assert!(
        csv.ends_with(
            "runs/a,local,lowest_warm_makespan_s,9,,,\nruns/a,local,highest_warm_makespan_s,12,,,\n"
        ),
        "{csv}"
    );
    let json = written(&[spread(11.0)], ValidationFormat::Json);
    let back: Vec<RunValidation> = serde_json::from_str(&json).unwrap();
    assert_eq!(back[0].measured_makespans_s, vec![9.0, 10.0, 12.0]);
    // Validations written before the spread was: none.
    let old = json.replace("\"measured_makespans_s\"", "\"unknown\"");
    let back: Vec<RunValidation> = serde_json::from_str(&old).unwrap();
    assert!(back[0].measured_makespans_s.is_empty());
}

#[test]
fn the_fit_table_has_a_header_and_one_aligned_line_per_component() {
    let runs = crate::kept::a_runs("local-1");
    let (_, fits) = faastwin_calibration::calibrate(&runs, &Default::default()).unwrap();
    let mut out = Vec::new();
    faastwin_calibration::write_fits(&mut out, &fits).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "platform   component                   n family                    KS D      KS p  method"
    );
    assert_eq!(lines.len(), 1 + fits[0].components.len());
    for (line, c) in lines[1..].iter().zip(&fits[0].components) {
        let want = format!(
            "local      {:<22} {:>6} {:<20} {:>9.4} {:>9.3}  {}",
            c.component, c.rows, c.fit.family, c.fit.ks_statistic, c.fit.ks_p_value, c.method
        );
        assert_eq!(*line, want);
    }
}

#[test]
fn a_runs_own_prediction_compares_the_means_of_its_rows_and_its_latency_distribution() {
    let runs = crate::kept::a_runs("local-1");
    let (calibration, _) = faastwin_calibration::calibrate(&runs, &Default::default()).unwrap();
    let run = &runs[0];
    let v = faastwin_calibration::validate(&calibration, "local", run, 5, 1, 2, 0.9).unwrap();
    let metric = |name: Metric| v.metrics.iter().find(|m| m.metric == name).unwrap();
    let warm: Vec<_> = run.warm().collect();
    let mean = |values: Vec<f64>| values.iter().sum::<f64>() / values.len() as f64;
    let body = mean(warm.iter().filter_map(|r| r.body_s).collect());
    let completion = mean(warm.iter().filter_map(|r| r.completion_s).collect());
    assert!((metric(Metric::MeanBodyS).measured - body).abs() < 1e-12);
    assert!((metric(Metric::MeanCompletionS).measured - completion).abs() < 1e-12);
    // Its own latencies, predicted from itself: the distributions overlap.
    assert!(v.latency_ks_distance < 0.5, "{}", v.latency_ks_distance);
    assert!(v.makespan_rel_error().abs() < 0.15, "{v:?}");
}

/// A calibration keeps how much its runs' repetitions varied, and validation turns it into
/// prediction intervals: an interval holds its prediction, widens with the level, and the
/// coverage counts the measured repetitions each interval holds, as the table says run by run.
#[test]
fn prediction_intervals_come_from_the_calibration_runs_variation_and_their_coverage_is_counted() {
    use faastwin_calibration::interval::{RunToRun, SOURCES};
    let runs = crate::kept::a_runs("local-6");
    let (calibration, fits) = faastwin_calibration::calibrate(&runs, &Default::default()).unwrap();
    let variation = RunToRun::from_calibration(&calibration, "local");
    assert_eq!(variation, fits[0].run_to_run, "the provenance keeps it");
    // Three runs of three repetitions: each run's median repetition is a ratio of 1.
    assert_eq!(variation.warm_makespan.len(), 9);
    assert!(
        variation
            .warm_makespan
            .iter()
            .filter(|r| **r == 1.0)
            .count()
            >= 3
    );
    assert!(variation.warm_makespan.iter().any(|r| *r != 1.0));

    let held_out = [
        crate::kept::run("local-6/run-H3-etl-p8-n2-w3-3328k"),
        crate::kept::run("local-6/run-H5-relay-p1-n1-w1"),
    ];
    let at = |run, level| {
        faastwin_calibration::validate(&calibration, "local", run, 10, 1, 2, level).unwrap()
    };
    let validations: Vec<RunValidation> = held_out.iter().map(|run| at(run, 0.9)).collect();
    let mut inside = 0;
    for (v, run) in validations.iter().zip(&held_out) {
        let i = v.makespan_interval.unwrap();
        let predicted = v.metrics[0].predicted;
        assert!(i.low < predicted && predicted < i.high, "{i:?} {predicted}");
        // Wider than the replications alone would make it: the platform's variation leads.
        assert!(i.high / i.low > 1.05, "{i:?}");
        assert_eq!(i.dominant(), SOURCES[2], "{i:?}");
        inside += v
            .measured_makespans_s
            .iter()
            .filter(|m| i.low <= **m && **m <= i.high)
            .count();
        let half = at(run, 0.5).makespan_interval.unwrap();
        assert!(
            i.low < half.low && half.high < i.high,
            "{half:?} within {i:?}"
        );
    }
    let [makespan, p50] = faastwin_calibration::coverage(&validations);
    let makespan = makespan.unwrap();
    assert_eq!((makespan.inside, makespan.total), (inside, 6));
    assert_eq!(p50.unwrap().total, 6);
    let table = written(&validations, ValidationFormat::Table);
    assert_eq!(
        table
            .matches("90 % prediction interval of the warm makespan")
            .count(),
        2
    );
    let note = faastwin_calibration::coverage_note(&validations).unwrap();
    assert!(note.contains(&format!("covered {inside} of 6")), "{note}");
}

/// Refits on bootstrap resamples of the runs' repetitions are kept in the calibration file (and
/// read back), differ from each other, and widen the prediction intervals by how much they
/// disagree: the interval says how much of its width is the calibration's.
#[test]
fn refits_keep_the_calibrations_own_uncertainty_in_its_file_and_its_intervals() {
    let runs = crate::kept::a_runs("local-6");
    let calls = std::cell::Cell::new(0);
    let (calibration, _) = faastwin_calibration::interval::calibrate_with_refits(
        &runs,
        &Default::default(),
        6,
        1,
        &|k| calls.set(k),
    )
    .unwrap();
    assert_eq!(calls.get(), 6);
    let refits = &calibration.refits["local"];
    assert_eq!(refits.len(), 6);
    assert!(refits.iter().any(|r| r != &calibration.platforms["local"]));
    let text = calibration.to_toml().unwrap();
    let back = faastwin_sim::Calibration::from_toml(&text, "refits").unwrap();
    assert_eq!(back.refits, calibration.refits);
    let run = crate::kept::run("local-6/run-H5-relay-p1-n1-w1");
    let (plain, _) = faastwin_calibration::calibrate(&runs, &Default::default()).unwrap();
    let with = faastwin_calibration::validate(&calibration, "local", &run, 12, 1, 2, 0.9).unwrap();
    let without = faastwin_calibration::validate(&plain, "local", &run, 12, 1, 2, 0.9).unwrap();
    let (w, o) = (
        with.makespan_interval.unwrap(),
        without.makespan_interval.unwrap(),
    );
    assert_eq!(o.sources[1], 0.0, "no refits, no calibration share: {o:?}");
    assert!(w.sources[1] > 0.0, "{w:?}");
    // The point prediction is the fit's, refits or not.
    assert_eq!(with.metrics[0].predicted, without.metrics[0].predicted);
}

/// A held-out run with more than twice the invocations in flight per node of any calibration
/// run is flagged (the calibration keeps its runs' loads), and the note sets the flagged
/// predictions' errors against the others'.
#[test]
fn predictions_beyond_the_calibrated_loads_are_flagged() {
    let runs = crate::kept::a_runs("local-6");
    let (calibration, fits) = faastwin_calibration::calibrate(&runs, &Default::default()).unwrap();
    let (_, most) = fits[0].loads.unwrap();
    let loads = calibration.provenance["local"]["in_flight_per_node"]
        .as_array()
        .unwrap();
    assert_eq!(loads[1].as_integer(), Some(i64::from(most)));
    let validations: Vec<RunValidation> = [
        "local-6/run-H3-etl-p8-n2-w3-3328k",
        "local-6/run-H5-relay-p1-n1-w1",
        "local-6/run-H2-etl-p1-n1-open45-896k",
    ]
    .iter()
    .map(|r| {
        let run = crate::kept::run(r);
        faastwin_calibration::validate(&calibration, "local", &run, 5, 1, 2, 0.9).unwrap()
    })
    .collect();
    // 8 partitions on 2 nodes with a window of 3: 12 per node, against A's few.
    assert!(2 * most < 12, "{most}");
    let warning = validations[0].warning.as_deref().unwrap();
    assert!(warning.starts_with(&format!("12 invocations in flight per node, more than twice the most the calibration's runs had ({most})")), "{warning}");
    assert_eq!(validations[1].warning, None, "one in flight");
    assert_eq!(
        validations[2].warning, None,
        "open loop: its arrivals set the load"
    );
    assert!(
        written(&validations, ValidationFormat::Table).contains(&format!("  warning: {warning}"))
    );
    let note = faastwin_calibration::extrapolation_note(&validations).unwrap();
    assert!(
        note.starts_with("1 of 3 predictions extrapolate beyond the calibrated loads"),
        "{note}"
    );
    let flagged = 100.0 * validations[0].makespan_rel_error().abs();
    assert!(
        note.contains(&format!("median |makespan error| {flagged:.1} %")),
        "{note}"
    );
    assert_eq!(
        faastwin_calibration::extrapolation_note(&validations[1..]),
        None
    );
}
