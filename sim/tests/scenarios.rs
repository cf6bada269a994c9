//! Every scenario shipped in `scenarios/` loads and runs.

use std::path::{Path, PathBuf};

use faastwin_sim::{NoTrace, PlatformSummary, Scenario, replicate, simulate};

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "calibration") {
                scenario_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn every_shipped_scenario_loads_and_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files = Vec::new();
    scenario_files(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 6,
        "expected the study and what-if scenarios, found {files:?}"
    );
    for file in &files {
        let scenario = Scenario::load(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for point in scenario.grid() {
            for name in &scenario.file.platforms {
                let platform = scenario
                    .calibration
                    .compile(name, point.workload.body)
                    .unwrap();
                let run = simulate(
                    &platform,
                    &point.workload,
                    scenario.file.seed,
                    0,
                    &mut NoTrace,
                )
                .unwrap_or_else(|e| panic!("{} at point {}: {e}", file.display(), point.index));
                assert_eq!(
                    run.invocations,
                    point.workload.invocations,
                    "{}",
                    file.display()
                );
                assert!(run.warm_makespan_s > 0.0);
            }
        }
    }
}

#[test]
fn every_shipped_calibration_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/calibration");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let calibration =
                faastwin_sim::Calibration::from_toml(&text, &path.display().to_string()).unwrap();
            assert!(!calibration.platforms.is_empty());
            // The serde form round-trips.
            let again =
                faastwin_sim::Calibration::from_toml(&calibration.to_toml().unwrap(), "again")
                    .unwrap();
            assert_eq!(again, calibration);
        }
    }
}

#[test]
fn replications_are_independent_of_thread_count() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/study/etl-two-node.toml");
    let scenario = Scenario::load(&root).unwrap();
    let platform = scenario
        .calibration
        .compile("k3s", faastwin_sim::Body::Etl)
        .unwrap();
    let one = replicate(&platform, &scenario.workload, 3, 4, 1, &|| {}).unwrap();
    let two = replicate(&platform, &scenario.workload, 3, 4, 2, &|| {}).unwrap();
    assert_eq!(one, two);
    assert_ne!(one[0], one[1], "replications differ from each other");
    let summary = PlatformSummary::of(&one, 3).unwrap();
    assert_eq!(summary.replications, 4);
}
