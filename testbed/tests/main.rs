//! Integration tests of the testbed on this machine; one module per behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};

// Shared with the other test binaries; this one needs only the testbed's check.
#[allow(dead_code)]
#[path = "../../tests/support/components.rs"]
mod components;
mod lifecycle;
mod security;

/// The `faastwin-testbed` binary under test.
fn testbed() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faastwin-testbed"))
}

/// Serialises the tests that start an instance: two instances starting at once may be handed
/// the same free port for different components (chosen free, then bound by the component),
/// and one of them then exits.
fn one_instance_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}
