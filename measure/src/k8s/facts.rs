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
    /// Why the pod does not get to run, if something says so.
    pub blocked: Option<Blocked>,
}

/// What keeps a pod from running: a waiting container's reason, a pod the kubelet rejected,
/// a pod the scheduler cannot place.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocked {
    /// The reason and message, in Kubernetes' words (`ErrImageNeverPull: Container image ...`).
    pub why: String,
    /// True when it cannot clear by waiting (a missing image, a rejected pod); an unschedulable
    /// pod may be placed once others finish.
    pub permanent: bool,
}

/// Waiting reasons of a container that waiting does not clear (the kubelet's image and
/// configuration errors).
const PERMANENT_WAITING: [&str; 5] = [
    "ErrImageNeverPull",
    "InvalidImageName",
    "ErrImagePull",
    "ImagePullBackOff",
    "CreateContainerConfigError",
];

fn reason_and_message(reason: Option<&String>, message: Option<&String>) -> String {
    match (reason, message) {
        (Some(r), Some(m)) if !m.is_empty() => format!("{r}: {m}"),
        (Some(r), _) => r.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => "no reason given".into(),
    }
}

/// What keeps `pod` from running, if anything says so.
fn blocked(pod: &Pod) -> Option<Blocked> {
    let status = pod.status.as_ref()?;
    let waiting = status
        .container_statuses
        .iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref())
        .filter(|w| {
            w.reason
                .as_deref()
                .is_some_and(|r| PERMANENT_WAITING.contains(&r))
        });
    if let Some(w) = waiting {
        return Some(Blocked {
            why: reason_and_message(w.reason.as_ref(), w.message.as_ref()),
            permanent: true,
        });
    }
    // Rejected by the kubelet's admission (OutOfcpu, OutOfmemory, NodeAffinity): failed before
    // any container ran.
    let no_container_ran = status
        .container_statuses
        .iter()
        .flatten()
        .all(|c| c.state.as_ref().is_none_or(|s| s.terminated.is_none()));
    if status.phase.as_deref() == Some("Failed") && status.reason.is_some() && no_container_ran {
        return Some(Blocked {
            why: reason_and_message(status.reason.as_ref(), status.message.as_ref()),
            permanent: true,
        });
    }
    let unschedulable = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    })?;
    Some(Blocked {
        why: reason_and_message(
            unschedulable.reason.as_ref(),
            unschedulable.message.as_ref(),
        ),
        permanent: false,
    })
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
        blocked: blocked(pod),
    }
}
