//! One row of `invocations.csv`: every timing layer of one invocation.
//!
//! Driver-clock instants (`t_*`) are Unix nanoseconds on the measuring process's monotonic
//! clock ([`crate::DriverClock`]). Platform timestamps (`p_*`) are the platform's own, in Unix
//! nanoseconds, with their resolution and source in `p_clock` (Kubernetes and Slurm give whole
//! seconds); they are cross-checks, never the only source. Worker fields (`w_*`) come from the
//! worker's report: its own wall clock at body start and end, and monotonic durations.
//! Derived components are in seconds; a missing instant leaves them empty. A negative derived
//! duration (clocks of different hosts disagree) is stored as is and named in `clock_flags`.

use serde::{Deserialize, Serialize};

use faastwin_models::{Body, PlatformKind};
use faastwin_workers::Report;

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The body ran and the result was written.
    Succeeded,
    /// The platform or the worker reported failure.
    Failed,
    /// No completion within the invocation timeout.
    TimedOut,
    /// The run was interrupted (Ctrl-C) while it was in flight.
    Cancelled,
    /// It could not be submitted at all.
    SubmitError,
}

impl Outcome {
    /// The name written in CSV.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
            Outcome::SubmitError => "submit_error",
        }
    }
}

/// Platform timestamps of one invocation [Unix ns], as the platform reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlatformTimes {
    /// Job creationTimestamp / Slurm SubmitTime.
    pub created: Option<i64>,
    /// PodScheduled / Slurm StartTime.
    pub scheduled: Option<i64>,
    /// Container startedAt.
    pub started: Option<i64>,
    /// Container finishedAt / Slurm EndTime.
    pub finished: Option<i64>,
    /// Job completionTime (success only) or the Failed condition's lastTransitionTime.
    pub completed: Option<i64>,
}

/// What the platform saw of one invocation (everything but the run's bookkeeping).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Where it ran (node name).
    pub node: Option<String>,
    /// How it ended.
    pub outcome: Option<Outcome>,
    /// Worker exit code, when known.
    pub exit_code: Option<i32>,
    /// Client sends the create request / starts the command.
    pub t_submit: Option<u64>,
    /// Platform accepted it (create response / sbatch returned / process spawned).
    pub t_create_ack: Option<u64>,
    /// First sight of the pod.
    pub t_pod_seen: Option<u64>,
    /// First sight of placement (PodScheduled / Slurm RUNNING).
    pub t_scheduled_seen: Option<u64>,
    /// First sight of the container running.
    pub t_running_seen: Option<u64>,
    /// First sight of the container terminated.
    pub t_terminated_seen: Option<u64>,
    /// First sight of completion (Job Complete/Failed, Slurm terminal state, process exit).
    pub t_done_seen: Option<u64>,
    /// The platform's own timestamps.
    pub platform_times: PlatformTimes,
    /// Resolution and source of the platform timestamps.
    pub platform_clock: Option<&'static str>,
    /// The worker's report.
    pub report: Option<Report>,
    /// Retried API errors and other notes, `;`-separated.
    pub notes: Vec<String>,
    /// The error when it failed.
    pub error: Option<String>,
}

/// One row of `invocations.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationRecord {
    /// Run id.
    pub run_id: String,
    /// Platform.
    pub platform: PlatformKind,
    /// Function body.
    pub workload: Body,
    /// Repetition, from 0.
    pub repetition: u32,
    /// Partition.
    pub partition: u32,
    /// Position in the partition's submission order, from 0.
    pub seq: u64,
    /// Invocation id (dataset entry id).
    pub invocation_id: u64,
    /// Warm-up invocation, left out of warm metrics.
    pub warmup: bool,
    /// Node it ran on.
    pub node: String,
    /// Attempt, from 1: a resumed run tries again what did not succeed.
    pub attempt: u32,
    /// Session of the run, from 0 (each `--resume` starts one).
    #[serde(default)]
    pub session: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// Worker exit code.
    pub exit_code: Option<i32>,
    /// Input bytes (from the worker, else the manifest).
    pub bytes_in: u64,
    /// Result bytes written by the worker.
    pub bytes_out: Option<u64>,
    /// Driver clock [Unix ns]: create request sent.
    pub t_submit: Option<u64>,
    /// Driver clock: accepted.
    pub t_create_ack: Option<u64>,
    /// Driver clock: pod first seen.
    pub t_pod_seen: Option<u64>,
    /// Driver clock: placement first seen.
    pub t_scheduled_seen: Option<u64>,
    /// Driver clock: running first seen.
    pub t_running_seen: Option<u64>,
    /// Driver clock: terminated first seen.
    pub t_terminated_seen: Option<u64>,
    /// Driver clock: completion first seen.
    pub t_done_seen: Option<u64>,
    /// Source and resolution of the `p_*` columns.
    pub p_clock: Option<String>,
    /// Platform: created [Unix ns].
    pub p_created: Option<i64>,
    /// Platform: scheduled.
    pub p_scheduled: Option<i64>,
    /// Platform: container started.
    pub p_started: Option<i64>,
    /// Platform: container finished.
    pub p_finished: Option<i64>,
    /// Platform: Job completed.
    pub p_completed: Option<i64>,
    /// Worker wall clock at body start [Unix ns].
    pub w_body_start: Option<u64>,
    /// Worker wall clock at body end [Unix ns].
    pub w_body_end: Option<u64>,
    /// Worker: read [ns].
    pub w_read_ns: Option<u64>,
    /// Worker: compute [ns].
    pub w_compute_ns: Option<u64>,
    /// Worker: write [ns].
    pub w_write_ns: Option<u64>,
    /// Worker: whole body [ns].
    pub w_body_ns: Option<u64>,
    /// Worker: the CPUs the body was allowed to run on (`0`, `0-1`): what its node's
    /// confinement left it. Empty in runs of workers before it.
    #[serde(default)]
    pub w_cpus: Option<String>,
    /// submit → scheduled seen [s].
    pub control_plane_s: Option<f64>,
    /// scheduled seen → body start (worker clock) [s].
    pub startup_s: Option<f64>,
    /// Body [s].
    pub body_s: Option<f64>,
    /// Read [s].
    pub read_s: Option<f64>,
    /// Compute [s].
    pub compute_s: Option<f64>,
    /// Write [s].
    pub write_s: Option<f64>,
    /// Body end (worker clock) → done seen [s].
    pub completion_s: Option<f64>,
    /// submit → done seen [s]: the Job latency.
    pub e2e_s: Option<f64>,
    /// done seen → next submission of the same partition [s]; filled when the run ends.
    pub gap_to_next_s: Option<f64>,
    /// Derived durations that came out negative (clock disagreement), `;`-separated.
    pub clock_flags: String,
    /// Notes (retries, collapsed transitions), `;`-separated.
    pub notes: String,
    /// Error message of a failed invocation.
    pub error: String,
}

/// The run's bookkeeping of one invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationSpec {
    /// Run id (a label on everything the run creates).
    pub run_id: String,
    /// Function body.
    pub workload: Body,
    /// Repetition, from 0.
    pub repetition: u32,
    /// Partition.
    pub partition: u32,
    /// Position in the partition's order.
    pub seq: u64,
    /// Dataset entry id.
    pub invocation_id: u64,
    /// Node the partition is bound to.
    pub node: String,
    /// Input file.
    pub input: std::path::PathBuf,
    /// Result file.
    pub output: std::path::PathBuf,
    /// Input size from the manifest [bytes].
    pub input_bytes: u64,
    /// Warm-up invocation.
    pub warmup: bool,
    /// Attempt, from 1 (later sessions of a resumed run try again).
    pub attempt: u32,
    /// Session of the run, from 0.
    pub session: u32,
}

impl InvocationSpec {
    /// The worker's arguments for this invocation, with the input and result paths as the
    /// worker sees them (inside a container they differ from the host's).
    pub fn worker_args(&self, input: String, output: String) -> Vec<String> {
        vec![
            self.workload.name().to_owned(),
            "--input".into(),
            input,
            "--output".into(),
            output,
            "--invocation-id".into(),
            self.invocation_id.to_string(),
        ]
    }
}

/// How far before the submit an instant may stand and still be this attempt's [ns]: Kubernetes
/// and Slurm timestamps are whole seconds (truncated), and a worker on another host has a clock
/// of its own. An earlier attempt's pod stands minutes before.
const PRECEDING_SLACK_NS: i64 = 1_000_000_000;

fn secs(from: Option<u64>, to: Option<u64>) -> Option<f64> {
    Some((to? as i128 - from? as i128) as f64 / 1e9)
}

impl InvocationRecord {
    /// Combines the spec and what the platform saw, deriving the components.
    pub fn new(platform: PlatformKind, spec: &InvocationSpec, obs: Observation) -> Self {
        let report = obs.report.as_ref();
        let w = |f: fn(&Report) -> u64| report.map(f);
        let body_start = w(|r| r.body_start_unix_ns);
        let body_end = w(|r| r.body_end_unix_ns);
        let ns_to_s = |v: Option<u64>| v.map(|ns| ns as f64 / 1e9);
        let mut record = InvocationRecord {
            run_id: spec.run_id.clone(),
            platform,
            workload: spec.workload,
            repetition: spec.repetition,
            partition: spec.partition,
            seq: spec.seq,
            invocation_id: spec.invocation_id,
            warmup: spec.warmup,
            node: obs.node.clone().unwrap_or_else(|| spec.node.clone()),
            attempt: spec.attempt.max(1),
            session: spec.session,
            outcome: obs.outcome.unwrap_or(Outcome::Failed),
            exit_code: obs.exit_code,
            bytes_in: report.map_or(spec.input_bytes, |r| r.bytes_read),
            bytes_out: w(|r| r.bytes_written),
            t_submit: obs.t_submit,
            t_create_ack: obs.t_create_ack,
            t_pod_seen: obs.t_pod_seen,
            t_scheduled_seen: obs.t_scheduled_seen,
            t_running_seen: obs.t_running_seen,
            t_terminated_seen: obs.t_terminated_seen,
            t_done_seen: obs.t_done_seen,
            p_clock: obs.platform_clock.map(str::to_owned),
            p_created: obs.platform_times.created,
            p_scheduled: obs.platform_times.scheduled,
            p_started: obs.platform_times.started,
            p_finished: obs.platform_times.finished,
            p_completed: obs.platform_times.completed,
            w_body_start: body_start,
            w_body_end: body_end,
            w_read_ns: w(|r| r.read_ns),
            w_compute_ns: w(|r| r.compute_ns),
            w_write_ns: w(|r| r.write_ns),
            w_body_ns: w(|r| r.body_ns),
            w_cpus: report.and_then(|r| r.cpus_allowed.clone()),
            control_plane_s: secs(obs.t_submit, obs.t_scheduled_seen),
            startup_s: secs(obs.t_scheduled_seen, body_start),
            body_s: ns_to_s(w(|r| r.body_ns)),
            read_s: ns_to_s(w(|r| r.read_ns)),
            compute_s: ns_to_s(w(|r| r.compute_ns)),
            write_s: ns_to_s(w(|r| r.write_ns)),
            completion_s: secs(body_end, obs.t_done_seen),
            e2e_s: secs(obs.t_submit, obs.t_done_seen),
            gap_to_next_s: None,
            clock_flags: String::new(),
            notes: obs.notes.join(";"),
            error: obs.error.unwrap_or_default(),
        };
        let flags: Vec<&str> = [
            ("control_plane", record.control_plane_s),
            ("startup", record.startup_s),
            ("completion", record.completion_s),
            ("e2e", record.e2e_s),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some_and(|v| v < 0.0))
        .map(|(name, _)| name)
        .collect();
        record.clock_flags = flags.join(";");
        record.refuse_what_precedes_the_submit();
        record
    }

    /// An instant of the platform or the worker before this attempt's submit belongs to
    /// something else (an earlier attempt's pod, adopted by name): the invocation is failed with
    /// the reason, never recorded with another's timings.
    fn refuse_what_precedes_the_submit(&mut self) {
        let Some(submit) = self.t_submit.and_then(|t| i64::try_from(t).ok()) else {
            return;
        };
        let platform = [
            ("p_created", self.p_created),
            ("p_scheduled", self.p_scheduled),
            ("p_started", self.p_started),
            ("p_finished", self.p_finished),
        ];
        let worker = (
            "w_body_start",
            self.w_body_start.and_then(|t| i64::try_from(t).ok()),
        );
        let early = platform
            .into_iter()
            .chain([worker])
            .filter_map(|(name, t)| Some((name, t?)))
            .find(|(_, t)| *t + PRECEDING_SLACK_NS < submit);
        if let Some((name, t)) = early {
            self.outcome = Outcome::Failed;
            self.error = format!(
                "{name} is {:.3} s before this attempt's submit: the timings are of another object (an earlier attempt's pod?), not recorded as this invocation's",
                (submit - t) as f64 / 1e9
            );
        }
    }

    /// Submit → body start (driver clock to worker clock) [s]: everything before the body.
    pub fn pre_body_s(&self) -> Option<f64> {
        secs(self.t_submit, self.w_body_start)
    }

    /// Placement seen → body start; for a Job whose pod ran no body (a fake node), placement →
    /// the container seen terminated [s].
    pub fn startup_or_container_s(&self) -> Option<f64> {
        self.startup_s.or_else(|| {
            secs(self.t_scheduled_seen, self.t_terminated_seen)
                .filter(|_| self.w_body_start.is_none())
        })
    }

    /// Body end → completion seen; with no body, container terminated seen → completion seen
    /// [s].
    pub fn completion_or_container_s(&self) -> Option<f64> {
        self.completion_s.or_else(|| {
            secs(self.t_terminated_seen, self.t_done_seen).filter(|_| self.w_body_end.is_none())
        })
    }

    /// True when the invocation succeeded.
    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Succeeded
    }
}

/// How many of the invocations in `records` (one per repetition and invocation id, whatever its
/// attempts) and how many of them no attempt brought to success: an attempt that a later
/// `--resume` redid successfully is superseded, not a failure.
pub(crate) fn invocations_and_failures<'a>(
    records: impl IntoIterator<Item = &'a InvocationRecord>,
) -> (usize, usize) {
    let mut succeeded: std::collections::HashMap<(u32, u64), bool> =
        std::collections::HashMap::new();
    for r in records {
        *succeeded
            .entry((r.repetition, r.invocation_id))
            .or_insert(false) |= r.succeeded();
    }
    let failed = succeeded.values().filter(|ok| !**ok).count();
    (succeeded.len(), failed)
}
