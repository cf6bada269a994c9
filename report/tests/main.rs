//! Integration tests of the report's input recognition (figures are checked end to end by
//! the `faastwin report` tests in the workspace's tests/).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use faastwin_report::Input;
use faastwin_report::inputs::read;

#[test]
fn a_sweep_csv_becomes_one_series_per_platform() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    std::fs::write(
        &path,
        "point,partitions,platform,replications,seed,warm_makespan_s,warm_makespan_s_mean,warm_makespan_s_std,warm_makespan_s_ci95_low,warm_makespan_s_ci95_high\n\
         0,1,ksi,3,1,100,100,1,99,101\n0,1,k3s,3,1,120,120,1,119,121\n1,2,ksi,3,1,50,50,1,49,51\n1,2,k3s,3,1,60,60,1,59,61\n",
    )
    .unwrap();
    let Input::Sweep { table, .. } = read(&path).unwrap() else {
        panic!("not a sweep")
    };
    assert_eq!(table.parameter, "partitions");
    assert_eq!(table.series.len(), 2);
    assert_eq!(table.series[0].0, "ksi");
    assert_eq!(
        table.series[0].1,
        vec![(1.0, 100.0, 99.0, 101.0), (2.0, 50.0, 49.0, 51.0)]
    );
}

#[test]
fn a_calibration_and_json_outputs_are_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let calibration = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/calibration/study.toml"
    );
    assert!(matches!(
        read(std::path::Path::new(calibration)).unwrap(),
        Input::Calibration { .. }
    ));
    let json = dir.path().join("v.json");
    std::fs::write(&json, "[]").unwrap();
    assert!(
        matches!(read(&json).unwrap(), Input::Validation { ref validations, .. } if validations.is_empty())
    );
    std::fs::write(&json, r#"{"something": "else"}"#).unwrap();
    let err = read(&json).unwrap_err().to_string();
    assert!(
        err.contains("v.json") && err.contains("faastwin simulate"),
        "{err}"
    );
    let toml = dir.path().join("x.toml");
    std::fs::write(&toml, "title = 1").unwrap();
    assert!(
        read(&toml)
            .unwrap_err()
            .to_string()
            .contains("not a calibration file")
    );
}
