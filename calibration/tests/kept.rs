//! Runs kept under `docs/loops/`, as the tests read them.

use std::path::Path;

use faastwin_calibration::Run;

/// Configuration A of a kept loop: its `run-A*` runs, in name order.
pub(crate) fn a_runs(name: &str) -> Vec<Run> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/loops")
        .join(name);
    let mut runs: Vec<Run> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("run-A")
        })
        .map(|p| {
            run(&format!(
                "{name}/{}",
                p.file_name().unwrap().to_string_lossy()
            ))
        })
        .collect();
    runs.sort_by(|a, b| a.dir.cmp(&b.dir));
    runs
}

/// One kept run, `LOOP/RUN`.
pub(crate) fn run(path: &str) -> Run {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/loops")
        .join(path);
    Run::load(&dir).unwrap_or_else(|e| panic!("kept run {path}: {e}"))
}
