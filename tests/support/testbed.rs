//! The real Kubernetes of the tests: one testbed instance shared by every test binary
//! (`faastwin-testbed up --reuse` in `/tmp/faastwin-testbed-tests`), built from source on first
//! use. The tests that use it take [`lock`] so that one test's fault (an API server restart)
//! never lands in another's measurement. Without Go (or with `FAASTWIN_NO_TESTBED=1`) they are
//! skipped with a one-line reason. Each test process that uses the instance holds a lease on it
//! (its pid in `DIR.users`, changed under `flock DIR.lock`); a watcher started beside it stops
//! the instance once no leaseholder runs any more, so `cargo test` leaves nothing running, and
//! the next test binary starts it again (about 12 s). `FAASTWIN_KEEP_TESTBED=1` keeps it up
//! (stop it with `faastwin-testbed down --dir /tmp/faastwin-testbed-tests`).

use std::os::unix::process::CommandExt;
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
    let root = crate::components::workspace_root();
    let bin = root.join("target/release/faastwin-testbed");
    let status = std::process::Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--release", "-q", "-p", "faastwin-testbed"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building faastwin-testbed");
    bin
}

/// The shared instance, started (and built) on first use; `None` (after saying why on stderr)
/// where it cannot run.
pub(crate) fn testbed() -> Option<&'static Testbed> {
    static UP: OnceLock<Option<Testbed>> = OnceLock::new();
    let up = UP.get_or_init(|| {
        if crate::components::testbed_skipped() {
            return None;
        }
        let bin = testbed_binary();
        let out = lease_and_up(&bin);
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

/// Takes this process's lease on the shared instance and starts it (or reuses it), under the
/// lock its watchers take too, then starts this process's watcher: once this process has
/// exited, it drops the leases of processes that no longer run and stops the instance if none
/// is left. Under the lock, a watcher that stops the instance and a new process that reuses it
/// cannot interleave.
fn lease_and_up(bin: &Path) -> std::process::Output {
    let (lock, users) = (format!("{DIR}.lock"), format!("{DIR}.users"));
    // Kept: a lease held by init, which never ends.
    let keep = std::env::var_os("FAASTWIN_KEEP_TESTBED").is_some();
    let me = if keep { 1 } else { std::process::id() };
    let up = format!(
        "echo {me} >> {users} && exec {bin} up --reuse --dir {DIR}",
        bin = bin.display()
    );
    let out = std::process::Command::new("flock")
        .args(["-o", &lock, "sh", "-c", &up])
        .output()
        .expect("flock runs (util-linux)");
    if keep {
        return out;
    }
    let release = format!(
        "alive=''; for p in $(cat {users} 2>/dev/null); do kill -0 \"$p\" 2>/dev/null && alive=\"$alive $p\"; done; \
         if [ -n \"$alive\" ]; then printf '%s\\n' $alive > {users}; \
         else rm -f {users}; {bin} down --dir {DIR} >/dev/null 2>&1 || true; fi",
        bin = bin.display()
    );
    let watch = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; exec flock -o {lock} sh -c '{}'",
        release.replace('\'', "'\\''")
    );
    // Its own process group, no terminal, no pipes of ours: it outlives this process.
    let _ = std::process::Command::new("sh")
        .args(["-c", &watch])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    out
}
