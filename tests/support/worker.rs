//! The `faastwin-worker` binary of this workspace for tests, built when the test run did not
//! build it (`cargo test -p` builds only its own package's binaries). Shared by the test
//! binaries of several crates through `#[path]`.

use std::path::{Path, PathBuf};

/// `target/<profile>/faastwin-worker`, built if missing.
pub(crate) fn worker() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    // target/<profile>/deps/<test binary> → target/<profile>/faastwin-worker
    let worker = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .join("faastwin-worker");
    if !worker.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "faastwin-workers",
                "--bin",
                "faastwin-worker",
            ])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building faastwin-worker");
    }
    worker
}
