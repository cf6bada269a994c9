//! Whether the real components a test needs are here: Slurm, podman, the Kubernetes testbed.
//! Shared through `#[path]` by every test binary that uses one, so each is checked in one way.
//!
//! A component is skipped only when its `FAASTWIN_NO_<NAME>` variable is set or (the testbed)
//! Go is missing; the skip is said once per component and test binary. With
//! `FAASTWIN_REQUIRE_ALL=1` (set by `.ci/run`, which installs everything) a skip fails the test
//! instead: a CI run that quietly skipped the real components would prove nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Says (once per component) why `component`'s tests are skipped and returns true, or panics
/// where `FAASTWIN_REQUIRE_ALL` asks for every component.
pub(crate) fn skip(component: &str, reason: &str) -> bool {
    assert!(
        std::env::var_os("FAASTWIN_REQUIRE_ALL").is_none(),
        "{component} is required (FAASTWIN_REQUIRE_ALL is set) but {reason}"
    );
    static SAID: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    if SAID
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(component.to_owned())
    {
        eprintln!("skipped: the {component} tests ({reason})");
    }
    true
}

/// The workspace's root directory, from whichever of its packages this test binary belongs to.
pub(crate) fn workspace_root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    if dir.join("testbed").is_dir() {
        dir.to_owned()
    } else {
        dir.parent().expect("a workspace member").to_owned()
    }
}

/// True once the two-node test Slurm runs (started once per test binary with
/// `measure/tests/support/ensure-slurm.sh`); false, said, under `FAASTWIN_NO_SLURM`.
pub(crate) fn slurm() -> bool {
    static UP: OnceLock<bool> = OnceLock::new();
    *UP.get_or_init(|| {
        if std::env::var_os("FAASTWIN_NO_SLURM").is_some() {
            return !skip("Slurm", "FAASTWIN_NO_SLURM is set");
        }
        let script = workspace_root().join("measure/tests/support/ensure-slurm.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .output()
            .expect("running ensure-slurm.sh");
        assert!(
            out.status.success(),
            "could not start Slurm (needs root and slurm-wlm + munge, or set FAASTWIN_NO_SLURM=1):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        true
    })
}

/// Serialises the tests that submit Slurm jobs: each test node runs one job at a time, so one
/// test's jobs would queue behind another's and its timings (a plan checked against its
/// deadline) would measure the other test. Take it after the testbed's lock, never before.
#[allow(dead_code)] // not every test binary that includes this file submits Slurm jobs
pub(crate) fn slurm_jobs() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// True where podman runs; false, said, under `FAASTWIN_NO_PODMAN`. A missing podman fails.
pub(crate) fn podman() -> bool {
    if std::env::var_os("FAASTWIN_NO_PODMAN").is_some() {
        return !skip("podman", "FAASTWIN_NO_PODMAN is set");
    }
    let found = std::process::Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "podman not found: install it (apt-get install podman) or set FAASTWIN_NO_PODMAN=1"
    );
    true
}

/// Why the Kubernetes testbed cannot run here, if it cannot (not said: see [`testbed_skipped`]).
pub(crate) fn testbed_unavailable() -> Option<String> {
    if std::env::var_os("FAASTWIN_NO_TESTBED").is_some() {
        return Some("FAASTWIN_NO_TESTBED is set".into());
    }
    let go = std::process::Command::new("go").arg("version").output();
    if !go.is_ok_and(|o| o.status.success()) {
        return Some("no Go toolchain: the testbed builds Kubernetes from Go modules".into());
    }
    None
}

/// True (said once, or failing under `FAASTWIN_REQUIRE_ALL`) where the testbed cannot run.
pub(crate) fn testbed_skipped() -> bool {
    testbed_unavailable().is_some_and(|reason| skip("Kubernetes testbed", &reason))
}
