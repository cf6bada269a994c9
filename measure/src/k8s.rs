//! The `k8s` platform: one Kubernetes Job per invocation, through kube-rs.
//!
//! ```text
//!  invoke ──register──▶ Tracker ◀── events ── one watcher over this run's Jobs ┐ label
//!     │                    ▲                   one watcher over this run's Pods ┘ faastwin.io/run=<id>
//!     └──POST Job──▶ API server                (started and listed before the first submission)
//! ```
//!
//! Every driver instant is the measuring process's clock when a watch event arrived; an instant
//! is recorded only from an event whose *current* state is that state, so a pod first seen
//! already terminated leaves `t_scheduled_seen` and `t_running_seen` empty (never invented).
//! Object timestamps (one-second resolution) go to the `p_*` columns. The worker's report comes
//! from the container's termination message. Complete or Failed ends an invocation.
//! Cleanup deletes Jobs by this run's label only (background propagation removes their pods).
//!
//! Layout: the manifest (the Job of one invocation, [`JobTemplate`]), the facts (what Job and Pod
//! objects say), the tracker (watch events → observations) and the platform itself.

mod facts;
mod manifest;
mod platform;
mod tracker;

pub use facts::{JobFacts, PodFacts, PodStage, TerminationMessage, job_facts, pod_facts};
pub use manifest::{
    DataVolume, JobTemplate, Pinning, RUN_LABEL, job_manifest, job_name, validate_run_id,
};
pub use platform::K8sPlatform;
pub(crate) use platform::describe_job;
pub use tracker::{Tracker, TrackerEvent};

/// Where object timestamps come from.
pub const K8S_CLOCK: &str = "kubernetes object timestamps, 1 s, API server clock";
