//! The real Kubernetes of the tests: one testbed instance shared by every test binary
//! (`faastwin-testbed up --reuse` in `/tmp/faastwin-testbed-tests`), built from source on first
//! use. The tests that use it take [`lock`] so that one test's fault (an API server restart)
//! never lands in another's measurement. Without Go (or with `FAASTWIN_NO_TESTBED=1`) they are
//! skipped with a one-line reason. The instance is left running for the next test binary; stop
//! it with `faastwin-testbed down --dir /tmp/faastwin-testbed-tests`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// The shared instance.
pub(crate) struct Testbed {
    /// The `faastwin-testbed` binary.
    pub(crate) bin: PathBuf,
    /// Its directory.
    pub(crate) dir: PathBuf,
    /// Its admin kubeconfig.
    pub(crate) kubeconfig: PathBuf,
    /// Its real node.
    pub(crate) node: String,
}

/// The directory of the shared instance.
pub(crate) const DIR: &str = "/tmp/faastwin-testbed-tests";

/// Serialises the tests that use the cluster.
pub(crate) fn lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `target/release/faastwin-testbed`, built if missing (release: it starts many processes and
/// waits on them; its own speed does not matter, but CI builds release anyway).
pub(crate) fn testbed_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = if root.join("testbed").is_dir() {
        root.to_owned()
    } else {
        root.parent().expect("a workspace member").to_owned()
    };
    let bin = root.join("target/release/faastwin-testbed");
    let status = std::process::Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--release", "-q", "-p", "faastwin-testbed"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building faastwin-testbed");
    bin
}

/// Why the testbed cannot run here, if it cannot.
pub(crate) fn unavailable() -> Option<String> {
    if std::env::var_os("FAASTWIN_NO_TESTBED").is_some() {
        return Some("FAASTWIN_NO_TESTBED is set".into());
    }
    let go = std::process::Command::new("go").arg("version").output();
    if !go.is_ok_and(|o| o.status.success()) {
        return Some("no Go toolchain (the testbed builds Kubernetes from Go modules)".into());
    }
    None
}

/// The shared instance, started (and built) on first use; `None` (after saying why on stderr)
/// where it cannot run.
pub(crate) fn testbed() -> Option<&'static Testbed> {
    static UP: OnceLock<Option<Testbed>> = OnceLock::new();
    let up = UP.get_or_init(|| {
        if let Some(reason) = unavailable() {
            eprintln!("skipped: {reason}");
            return None;
        }
        let bin = testbed_binary();
        let out = std::process::Command::new(&bin)
            .args(["up", "--reuse", "--dir", DIR])
            .output()
            .expect("faastwin-testbed runs");
        assert!(
            out.status.success(),
            "faastwin-testbed up failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kubeconfig = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let node = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .expect("a host name")
            .trim()
            .to_owned();
        Some(Testbed {
            bin,
            dir: PathBuf::from(DIR),
            kubeconfig,
            node,
        })
    });
    up.as_ref()
}
