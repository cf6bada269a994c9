//! The faastwin measurement mode: real relay and ETL invocations on real platforms, every
//! timing layer of every invocation recorded.
//!
//! A [`Platform`] runs one invocation and reports what it saw ([`Observation`]): instants on
//! the measuring process's one clock ([`DriverClock`]), the platform's own timestamps as a
//! cross-check, and the worker's report. The driver ([`run`]) spreads a dataset's invocations
//! over partitions bound to nodes, submits them under a [`SubmitPolicy`] for several
//! repetitions, and streams one [`InvocationRecord`] per invocation to `invocations.csv`
//! (flushed as each ends), with `run.json` (metadata) and `summary.csv` (the study's run-level
//! metrics) beside it.
//!
//! Platforms: [`ProcessPlatform`] (`local`: the worker as a child process; `container`:
//! `podman run --rm` of the worker image), [`SlurmPlatform`] (one job per invocation),
//! [`k8s::K8sPlatform`] (one Kubernetes Job per invocation, through kube-rs), [`ksi::KsiPlatform`]
//! (KSI on a Slurm allocation, one temporary cluster per node).

#![warn(missing_docs)]

mod clock;
mod error;
pub mod k8s;
pub mod ksi;
mod platform;
mod process;
mod record;
mod run;
mod slurm;
mod summary;
mod writer;

pub use clock::{ClockInfo, DriverClock};
pub use error::MeasureError;
pub use platform::{Platform, PlatformInfo};
pub use process::{Launch, ProcessPlatform, parse_report};
pub use record::{InvocationRecord, InvocationSpec, Observation, Outcome, PlatformTimes};
pub use run::{NoProgress, ProgressSink, RunMeta, RunOptions, RunOutcome, SubmitPolicy, plan, run};
pub use slurm::{JobView, Launcher, SlurmPlatform, parse_scontrol_line};
pub use summary::{RepetitionSummary, summarise, write_summary};
pub use writer::{RecordWriter, fill_gaps, fill_gaps_and_rewrite, read_records};
