//! Measured runs → calibration file → validation, on real local runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use faastwin_calibration::{MetricComparison, Run, calibrate, validate, workload_of};
use faastwin_measure::{Launch, NoProgress, ProcessPlatform, RunOptions, SubmitPolicy};
use faastwin_models::Metric;
use faastwin_sim::Calibration;
use faastwin_workers::dataset::{self, DatasetSpec};

use crate::support::worker;

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// Measures `count` ETL invocations of `shard_bytes` on local processes into `dir/name`.
async fn measured(
    dir: &Path,
    name: &str,
    count: u64,
    shard_bytes: u64,
    partitions: u32,
) -> PathBuf {
    let data = dir.join(format!("data-{shard_bytes}"));
    if !data.exists() {
        dataset::generate(
            &DatasetSpec::Etl {
                count,
                seed: 1,
                shard_bytes,
            },
            &data,
            &|_| {},
        )
        .unwrap();
    }
    let options = RunOptions {
        repetitions: 2,
        ..RunOptions::new(
            name.into(),
            faastwin_measure::PlatformKind::Local,
            partitions,
            vec![host()],
            SubmitPolicy::Sequential,
        )
    };
    let out = dir.join(name);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    faastwin_measure::run(
        Arc::new(ProcessPlatform::new(Launch::Local { worker: worker() })),
        options,
        dataset::read(&data).unwrap(),
        out.clone(),
        false,
        Arc::new(NoProgress),
        rx,
    )
    .await
    .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_from_real_runs_round_trips_and_predicts_them() {
    let dir = tempfile::tempdir().unwrap();
    let small = Run::load(&measured(dir.path(), "small", 30, 64 << 10, 2).await).unwrap();
    let double = Run::load(&measured(dir.path(), "double", 30, 128 << 10, 2).await).unwrap();
    let (calibration, fits) = calibrate(&[small.clone(), double], &Default::default()).unwrap();

    // The file is what `faastwin simulate` reads, and it round-trips.
    let text = calibration.to_toml().unwrap();
    let again = Calibration::from_toml(&text, "again").unwrap();
    assert_eq!(again, calibration);
    let platform = calibration
        .compile("local", faastwin_measure::Body::Etl)
        .unwrap();
    assert_eq!(platform.name(), "local");

    // Provenance: family, n, KS, runners-up and the runs, for every component.
    let fit = &fits[0];
    assert_eq!(fit.rows, 2 * 2 * 30);
    let names: Vec<&str> = fit
        .components
        .iter()
        .map(|c| c.component.as_str())
        .collect();
    for expected in [
        "client_gap",
        "startup",
        "completion",
        "etl.read",
        "etl.compute",
        "etl.write",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let compute = fit
        .components
        .iter()
        .find(|c| c.component == "etl.compute")
        .unwrap();
    let (lo, hi) = compute.bytes_range.unwrap();
    assert!(
        lo > 60_000 && lo <= 65_536 && hi > 125_000 && hi <= 131_072,
        "covers both shard sizes: {lo}..{hi}"
    );
    let table = &calibration.provenance["local"]["components"]["etl.compute"];
    for key in [
        "family",
        "n",
        "ks_statistic",
        "ks_p_value",
        "runners_up",
        "method",
    ] {
        assert!(table.get(key).is_some(), "provenance lacks {key}: {table}");
    }
    assert!(
        calibration.provenance["local"]["runs"]
            .as_array()
            .unwrap()
            .len()
            == 2
    );

    // Validating a calibration run against itself: the scenario is the run's.
    let workload = workload_of(&small).unwrap();
    assert_eq!(
        (workload.invocations, workload.partitions, workload.nodes),
        (30, 2, 1)
    );
    let v = validate(&calibration, small.platform().name(), &small, 10, 1, 2, 0.9).unwrap();
    let makespan = &v.metrics[0];
    assert_eq!(makespan.metric, Metric::WarmMakespanS);
    assert!(makespan.measured > 0.0 && makespan.predicted > 0.0);
    assert!(
        makespan.rel_error.abs() < 0.5,
        "self-prediction within 50 %: {v:#?}"
    );
    assert!((0.0..=1.0).contains(&v.latency_ks_distance));
}

#[test]
fn comparison_arithmetic_is_right() {
    let m = MetricComparison::new(Metric::WarmMakespanS, 200.0, 210.0);
    assert_eq!((m.abs_error, m.rel_error), (10.0, 0.05));
    let m = MetricComparison::new(Metric::P50LatencyS, 4.0, 3.0);
    assert_eq!((m.abs_error, m.rel_error), (-1.0, -0.25));
}

#[test]
fn a_missing_or_corrupt_run_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = faastwin_models::error_chain(&Run::load(dir.path()).unwrap_err());
    assert!(err.contains("run.json"), "{err}");
    std::fs::write(dir.path().join("run.json"), "{ \"not\": \"a run\" }").unwrap();
    let err = faastwin_models::error_chain(&Run::load(dir.path()).unwrap_err());
    assert!(
        err.contains("run.json") && err.contains("missing field"),
        "{err}"
    );
}
