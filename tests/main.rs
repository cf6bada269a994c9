//! Cross-crate end-to-end tests of the `faastwin` command line and the worker image; one
//! module per behaviour, all in one test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod container;
mod dataset_cli;
mod simulate_cli;

/// The `faastwin` binary under test.
pub(crate) fn faastwin() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("faastwin").expect("faastwin built")
}

/// Path of a file in the repository.
pub(crate) fn repo_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}
