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
//! Every platform is built by one factory, [`PlatformSetup::build`], from options that
//! `run.json` records. Platforms: [`ProcessPlatform`] (`local`: the worker as a child process; `container`:
//! `podman run --rm` of the worker image), [`SlurmPlatform`] (one job per invocation),
//! [`k8s::K8sPlatform`] (one Kubernetes Job per invocation, through kube-rs), [`ksi::KsiPlatform`]
//! (KSI on a Slurm allocation, one temporary cluster per node).

#![warn(missing_docs)]

mod clock;
pub mod components;
mod error;
pub mod k8s;
pub mod ksi;
pub mod nodes;
pub mod options;
mod platform;
mod process;
mod record;
mod run;
mod setup;
pub mod slurm;
mod summary;
mod writer;

pub use clock::{ClockInfo, DriverClock};
pub use error::MeasureError;
pub use faastwin_models::{Body, PlatformKind, SubmitPolicy, UnknownName};
pub use platform::{Platform, PlatformInfo};
pub use process::{Launch, ProcessPlatform, parse_report};
pub use record::{InvocationRecord, InvocationSpec, Observation, Outcome, PlatformTimes};
pub use run::{
    NoProgress, NodeCpu, ProgressSink, RunMeta, RunOptions, RunOutcome, RunStatus, check_options,
    plan, run,
};
pub use setup::{
    KsiSetup, KubernetesSetup, PlatformSetup, absolute, default_nodes, default_worker, dry_run,
    new_run_id,
};
pub use slurm::{JobView, Launcher, SlurmPlatform, parse_scontrol_line};
pub use summary::{RepetitionSummary, summarise, write_summary, write_summary_table};
pub use writer::{RecordWriter, fill_gaps, fill_gaps_and_rewrite, read_records};
