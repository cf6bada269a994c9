//! Ctrl-C and SIGTERM (what `timeout` and Slurm's time limits send) both stop a run cleanly.

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// A receiver that turns true at the first SIGINT or SIGTERM; `message` goes to stderr then.
pub(crate) fn cancel_on_interrupt(message: &'static str) -> anyhow::Result<watch::Receiver<bool>> {
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        eprintln!("{message}");
        // The run may already be over and the receiver gone: then there is nothing to stop.
        let _ = tx.send(true);
    });
    Ok(rx)
}
