//! Integration tests of the testbed on this machine; one module per behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};

mod lifecycle;
mod security;

/// The `faastwin-testbed` binary under test.
fn testbed() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faastwin-testbed"))
}

/// True (after saying why) where the testbed cannot be built here.
fn go_missing() -> bool {
    if std::env::var_os("FAASTWIN_NO_TESTBED").is_some() {
        eprintln!("skipped: FAASTWIN_NO_TESTBED is set");
        return true;
    }
    let go = Command::new("go").arg("version").output();
    if go.is_ok_and(|o| o.status.success()) {
        return false;
    }
    eprintln!("skipped: no Go toolchain (the testbed builds Kubernetes from Go modules)");
    true
}

/// Serialises the tests that start an instance: two instances starting at once may be handed
/// the same free port for different components (chosen free, then bound by the component),
/// and one of them then exits.
fn one_instance_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}
