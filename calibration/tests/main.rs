//! Integration tests of calibration and validation; one module per behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bodies;
mod fits;
mod kept;
mod kubernetes;
mod loops;
mod names;
mod pipeline;
mod processes;
mod provenance;
mod slurm;
#[path = "../../tests/support/worker.rs"]
mod support;
mod validations;

use faastwin_calibration::{ComponentFit, PlatformFit};

/// The fit report of `name` in a platform's fit (panics naming those there are).
pub(crate) fn component<'a>(fit: &'a PlatformFit, name: &str) -> &'a ComponentFit {
    fit.components
        .iter()
        .find(|c| c.component == name)
        .unwrap_or_else(|| {
            panic!(
                "{name} missing from {:?}",
                fit.components
                    .iter()
                    .map(|c| &c.component)
                    .collect::<Vec<_>>()
            )
        })
}
