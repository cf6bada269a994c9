//! What Job and Pod objects say about an invocation: terminal conditions, pod stage, node,
//! platform timestamps, exit code and the worker's termination message.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::PlatformTimes;

fn ns(t: &Time) -> i64 {
    i64::try_from(t.0.as_nanosecond()).unwrap_or(i64::MAX)
}

/// What a Job object says about completion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFacts {
    /// creationTimestamp [Unix ns].
    pub created: Option<i64>,
    /// Some(true) for Complete, Some(false) for Failed, None while running.
    pub finished_ok: Option<bool>,
    /// completionTime, or the Failed condition's lastTransitionTime [Unix ns].
    pub completed: Option<i64>,
}

/// Reads a Job's creation time and terminal condition.
pub fn job_facts(job: &Job) -> JobFacts {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_ref());
    let terminal = conditions.and_then(|cs| {
        cs.iter()
            .find(|c| c.status == "True" && (c.type_ == "Complete" || c.type_ == "Failed"))
    });
    JobFacts {
        created: job.metadata.creation_timestamp.as_ref().map(ns),
        finished_ok: terminal.map(|c| c.type_ == "Complete"),
        completed: match terminal {
            Some(c) if c.type_ == "Complete" => job
                .status
                .as_ref()
                .and_then(|s| s.completion_time.as_ref())
                .map(ns)
                .or(c.last_transition_time.as_ref().map(ns)),
            Some(c) => c.last_transition_time.as_ref().map(ns),
            None => None,
        },
    }
}

/// The current state of a pod, as far as the timing layers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PodStage {
    /// Not placed yet.
    Pending,
    /// Placed on a node, container not running.
    Scheduled,
    /// Container running.
    Running,
    /// Container terminated.
    Terminated,
}

/// What a Pod object says.
#[derive(Debug, Clone, PartialEq)]
pub struct PodFacts {
    /// The Job it belongs to.
    pub job: Option<String>,
    /// Its current stage.
    pub stage: PodStage,
    /// spec.nodeName.
    pub node: Option<String>,
    /// PodScheduled's lastTransitionTime, container startedAt and finishedAt [Unix ns].
    pub times: PlatformTimes,
    /// Exit code of the terminated container.
    pub exit_code: Option<i32>,
    /// The termination message: the worker's report, or (FallbackToLogsOnError) the tail of
    /// its log when it failed.
    pub message: Option<TerminationMessage>,
}

/// A container's termination message, read once.
#[derive(Debug, Clone, PartialEq)]
pub enum TerminationMessage {
    /// The worker's timing report (it writes one when the body succeeded).
    Report(faastwin_workers::Report),
    /// Anything else: the last non-empty line of the worker's output, its error.
    Error(String),
}

impl TerminationMessage {
    /// Reads a termination message.
    pub fn parse(message: &str) -> Option<TerminationMessage> {
        if message.trim().is_empty() {
            return None;
        }
        Some(match serde_json::from_str(message.trim()) {
            Ok(report) => TerminationMessage::Report(report),
            Err(_) => TerminationMessage::Error(
                message
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .to_owned(),
            ),
        })
    }
}

/// Reads a Pod's stage, node, times, exit code and termination message.
pub fn pod_facts(pod: &Pod) -> PodFacts {
    let labels = pod.metadata.labels.as_ref();
    let job = labels
        .and_then(|l| {
            l.get("batch.kubernetes.io/job-name")
                .or_else(|| l.get("job-name"))
        })
        .cloned();
    let status = pod.status.as_ref();
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let scheduled_condition = status.and_then(|s| s.conditions.as_ref()).and_then(|cs| {
        cs.iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "True")
    });
    let container = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first());
    let state = container.and_then(|c| c.state.as_ref());
    let running = state.and_then(|s| s.running.as_ref());
    let terminated = state.and_then(|s| s.terminated.as_ref());
    let stage = if terminated.is_some() {
        PodStage::Terminated
    } else if running.is_some() {
        PodStage::Running
    } else if scheduled_condition.is_some() || node.is_some() {
        PodStage::Scheduled
    } else {
        PodStage::Pending
    };
    PodFacts {
        job,
        stage,
        node,
        times: PlatformTimes {
            created: None,
            scheduled: scheduled_condition
                .and_then(|c| c.last_transition_time.as_ref())
                .map(ns),
            started: running
                .and_then(|r| r.started_at.as_ref())
                .or(terminated.and_then(|t| t.started_at.as_ref()))
                .map(ns),
            finished: terminated.and_then(|t| t.finished_at.as_ref()).map(ns),
            completed: None,
        },
        exit_code: terminated.map(|t| t.exit_code),
        message: terminated
            .and_then(|t| t.message.as_deref())
            .and_then(TerminationMessage::parse),
    }
}
