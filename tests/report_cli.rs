//! `faastwin report`: every figure for every input kind is written as well-formed SVG and PNG,
//! the HTML page holds only embedded content, and a bad input is named.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::{faastwin, repo_path, worker_binary};

fn run(args: &[&str]) {
    let out = faastwin().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "faastwin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_stdout(path: &Path, args: &[&str]) {
    let out = faastwin().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(path, out.stdout).unwrap();
}

/// One input of every kind, made by the tool itself.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let data = dir.join("data");
    let runs = [dir.join("run-a"), dir.join("run-b")];
    run(&[
        "dataset",
        "etl",
        "--count",
        "12",
        "--shard-bytes",
        "32KiB",
        "--out",
        &s(&data),
    ]);
    for (run_dir, partitions) in runs.iter().zip(["1", "2"]) {
        run(&[
            "measure",
            "--platform",
            "local",
            "--partitions",
            partitions,
            "--worker",
            &s(&worker_binary()),
            "--dataset",
            &s(&data),
            "--out",
            &s(run_dir),
        ]);
    }
    let calibration = dir.join("calibration.toml");
    run(&["calibrate", &s(&runs[0]), "--out", &s(&calibration)]);
    let simulation = dir.join("simulation.json");
    write_stdout(
        &simulation,
        &[
            "simulate",
            &s(&repo_path("scenarios/study/etl-two-node.toml")),
            "--replications",
            "2",
            "--format",
            "json",
        ],
    );
    let sweep = dir.join("sweep.csv");
    run(&[
        "sweep",
        &s(&repo_path("scenarios/what-if/partitions.toml")),
        "--replications",
        "1",
        "--out",
        &s(&sweep),
    ]);
    let validation = dir.join("validation.json");
    write_stdout(
        &validation,
        &[
            "validate",
            "--calibration",
            &s(&calibration),
            "--runs",
            &s(&runs[1]),
            "--replications",
            "3",
            "--tolerance",
            "100",
            "--format",
            "json",
        ],
    );
    vec![
        runs[0].clone(),
        runs[1].clone(),
        calibration,
        simulation,
        sweep,
        validation,
    ]
}

#[test]
fn every_input_kind_gives_well_formed_figures_and_a_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path());
    let out = dir.path().join("report");
    faastwin()
        .arg("report")
        .args(&inputs)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("wrote 7 figures"));
    let expected = [
        "latency-boxplot",
        "latency-ecdf",
        "decomposition-measured",
        "fits-2-local",
        "decomposition-simulated-3",
        "sweep-4",
        "validation-5",
    ];
    for name in expected {
        let svg = std::fs::read_to_string(out.join(format!("{name}.svg")))
            .unwrap_or_else(|e| panic!("{name}.svg: {e}"));
        let doc = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{name}.svg is not well-formed XML: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(
            doc.descendants().filter(|n| n.has_tag_name("text")).count() >= 5,
            "{name}: axis labels and captions"
        );
        let png = std::fs::read(out.join(format!("{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png");
        let (w, h) = (
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            u32::from_be_bytes(png[20..24].try_into().unwrap()),
        );
        assert!(w >= 900 && h >= 500, "{name}.png is {w}x{h}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        expected.len(),
        "every figure inline"
    );
    for external in ["http://", "https://", "src=", "<link", "<script", "url("] {
        let outside_svg_namespace = html.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !outside_svg_namespace.contains(external),
            "the page refers to something outside itself: {external}"
        );
    }
    for table in [
        "Measured runs",
        "Simulated: simulation.json",
        "Validation",
        "Prediction intervals against the measured repetitions",
        "prediction intervals [s]: warm makespan, p50, p95, p99",
    ] {
        assert!(html.contains(table), "{table} table missing");
    }
    // Every predicted figure shows its intervals.
    let svg = |name: &str| std::fs::read_to_string(out.join(format!("{name}.svg"))).unwrap();
    assert!(svg("sweep-4").contains("90 % prediction interval band"));
    assert!(svg("validation-5").contains("prediction interval"));
}

#[test]
fn a_bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "hello").unwrap();
    faastwin()
        .arg("report")
        .arg(&notes)
        .arg("--out")
        .arg(dir.path().join("r"))
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("notes.txt")
                .and(predicate::str::contains("expected a run directory")),
        );
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, "point,partitions,platform,replications,seed,warm_makespan_s,warm_makespan_s_mean,warm_makespan_s_std,warm_makespan_s_ci95_low,warm_makespan_s_ci95_high\n0,1,ksi,1,1,abc,1,0,1,1\n").unwrap();
    faastwin()
        .arg("report")
        .arg(&broken)
        .arg("--out")
        .arg(dir.path().join("r"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("broken.csv").and(predicate::str::contains("line 2")));
    faastwin()
        .arg("report")
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("r"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no run.json"));
}

/// The bars of a figure's SVG: (x, width, fill) of every filled rectangle wider than a legend
/// swatch, background aside.
fn bars(svg: &str) -> Vec<(f64, f64, String)> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter_map(|n| {
            let num = |a: &str| n.attribute(a).and_then(|v| v.parse::<f64>().ok());
            let (x, width, height) = (num("x")?, num("width")?, num("height")?);
            let fill = n.attribute("fill")?.to_owned();
            (width > 20.0 && width < 900.0 && height > 0.0 && fill != "#FFFFFF" && fill != "none")
                .then_some((x, width, fill))
        })
        .collect()
}

#[test]
fn one_measured_run_draws_visible_bars_and_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let data = dir.path().join("data");
    let run_dir = dir.path().join("run");
    run(&["dataset", "relay", "--count", "6", "--out", &s(&data)]);
    run(&[
        "measure",
        "--platform",
        "local",
        "--worker",
        &s(&worker_binary()),
        "--dataset",
        &s(&data),
        "--out",
        &s(&run_dir),
    ]);
    let out = dir.path().join("report");
    run(&["report", &s(&run_dir), "--out", &s(&out)]);
    let svg = std::fs::read_to_string(out.join("decomposition-measured.svg")).unwrap();
    let bars = bars(&svg);
    let fills: std::collections::BTreeSet<&str> = bars.iter().map(|b| b.2.as_str()).collect();
    assert!(fills.len() >= 3, "the one bar's stages are drawn: {bars:?}");
    for (x, width, _) in &bars {
        assert!(
            *x > 150.0 && x + width < 850.0,
            "inside the plot, centred: {bars:?}"
        );
    }
    // The box plots of one group sit in the middle of their panels, not on the axis.
    let boxes = std::fs::read_to_string(out.join("latency-boxplot.svg")).unwrap();
    let doc = roxmltree::Document::parse(&boxes).unwrap();
    let label_x: Vec<f64> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text") && n.text().is_some_and(|t| t.contains("run")))
        .filter_map(|n| n.attribute("x")?.parse().ok())
        .collect();
    assert_eq!(label_x.len(), 2, "the group is labelled under both panels");
    assert!(label_x[0] > 150.0 && label_x[1] > 600.0, "{label_x:?}");
}

/// An output that cannot be written is named with the operating system's reason, once (it was
/// printed twice: "g.json: File exists (os error 17): File exists (os error 17)").
#[test]
fn an_unwritable_output_names_the_reason_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.json");
    std::fs::write(&file, "{}").unwrap();
    let out = crate::faastwin()
        .arg("report")
        .arg(crate::repo_path("docs/loops/k8s-1/calibration.toml"))
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("g.json"), "{err}");
    assert_eq!(err.matches("os error 17").count(), 1, "{err}");
}

/// Issue 29.11: a calibration whose provenance names runs that are gone (a kept loop's, made in
/// /tmp on another machine) still gives a report, and says which runs its fit panels lack.
#[test]
fn a_calibration_run_that_cannot_be_read_is_named_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    let kept = std::fs::read_to_string(crate::repo_path("docs/loops/k8s-1/calibration.toml"));
    let calibration = dir.path().join("calibration.toml");
    let text = kept
        .unwrap()
        .replace("/tmp/loop-k8s-1", gone.to_str().unwrap());
    std::fs::write(&calibration, text).unwrap();
    let out = crate::faastwin()
        .arg("report")
        .arg(&calibration)
        .arg("--out")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for run in ["run-A-small", "run-A-double", "run-A-4-partitions"] {
        let named = format!("calibration run {}/{run} cannot be read", gone.display());
        assert!(err.contains(&named), "{err}");
    }
    let page = std::fs::read_to_string(dir.path().join("report/index.html")).unwrap();
    assert!(page.contains(&format!("{}/run-A-small cannot be read", gone.display())));
}
