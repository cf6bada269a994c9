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
