//! Slurm: one client for every command faastwin sends it, and the `slurm` platform (one job
//! per invocation) built on it. KSI's launcher and sweeps as job arrays use the same client.

pub mod client;
mod platform;

pub use client::{JobView, parse_scontrol_line};
pub use platform::{Launcher, SlurmPlatform};
