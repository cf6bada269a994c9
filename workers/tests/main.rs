//! Integration tests of the worker bodies, the `faastwin-worker` binary and the dataset
//! generator; one module per behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod dataset;
mod etl;
mod relay;

use std::path::{Path, PathBuf};

/// Writes `contents` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("test file written");
    path
}

/// The worker binary, with a termination log inside `dir`.
pub(crate) fn worker() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("faastwin-worker").expect("faastwin-worker built")
}
