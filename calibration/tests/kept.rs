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
        .map(|p| Run::load(&p).unwrap())
        .collect();
    runs.sort_by(|a, b| a.dir.cmp(&b.dir));
    runs
}
