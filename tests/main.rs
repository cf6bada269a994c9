//! Cross-crate end-to-end tests of the `faastwin` command line and the worker image; one
//! module per behaviour, all in one test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod calibrate_cli;
#[path = "support/components.rs"]
mod components;
mod container;
mod dataset_cli;
mod golden;
mod kept_loops;
mod measure_cli;
mod new_user;
mod plan_cli;
mod report_cli;
mod shell_cli;
mod simulate_cli;
#[path = "support/worker.rs"]
mod support;
mod sweep_slurm;
// Shared with the measure crate's tests, which read every field; the loop test needs two.
#[allow(dead_code)]
#[path = "support/testbed.rs"]
mod testbed;

/// The `faastwin` binary under test.
pub(crate) fn faastwin() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("faastwin").expect("faastwin built")
}

/// The worker binary of this workspace.
pub(crate) fn worker_binary() -> std::path::PathBuf {
    support::worker()
}

/// Sends SIGTERM to `child` once `run` has recorded three invocations (the header and two
/// rows of `invocations.csv`), then waits for it.
pub(crate) fn terminate_after_three_rows(
    child: std::process::Child,
    run: &std::path::Path,
) -> std::process::Output {
    while std::fs::read_to_string(run.join("invocations.csv")).map_or(0, |s| s.lines().count()) < 3
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Path of a file in the repository.
pub(crate) fn repo_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}
