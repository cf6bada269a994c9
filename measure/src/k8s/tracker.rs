//! Watch events turned into observations of registered invocations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::oneshot;

use super::K8S_CLOCK;
use super::facts::{PodFacts, PodStage, TerminationMessage, job_facts, pod_facts};
use crate::{Observation, Outcome};

/// One event from the watchers, stamped with the driver clock when it arrived.
#[derive(Debug, Clone)]
pub enum TrackerEvent {
    /// A Job was listed, added or modified.
    Job(Box<Job>, u64),
    /// A Pod was listed, added or modified.
    Pod(Box<Pod>, u64),
    /// A watch failed and is being retried (disconnect, expired resource version).
    WatchError(String),
}

#[derive(Default)]
struct Entry {
    obs: Observation,
    done: Option<oneshot::Sender<Observation>>,
}

/// Turns watch events into observations of registered invocations.
#[derive(Default, Clone)]
pub struct Tracker {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl Tracker {
    /// The entries; a panic elsewhere while holding the lock leaves them usable (every update
    /// is a single field assignment, so no entry is ever half-written).
    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts tracking Job `name`; the receiver gets the observation when the Job ends.
    pub fn register(&self, name: &str) -> oneshot::Receiver<Observation> {
        let (tx, rx) = oneshot::channel();
        self.entries().insert(
            name.to_owned(),
            Entry {
                obs: Observation {
                    platform_clock: Some(K8S_CLOCK),
                    ..Observation::default()
                },
                done: Some(tx),
            },
        );
        rx
    }

    /// Stops tracking Job `name`, returning what was seen so far.
    pub fn unregister(&self, name: &str) -> Option<Observation> {
        self.entries().remove(name).map(|e| e.obs)
    }

    /// Applies one event.
    pub fn apply(&self, event: TrackerEvent) {
        let mut entries = self.entries();
        match event {
            TrackerEvent::WatchError(error) => {
                for entry in entries.values_mut() {
                    entry.obs.notes.push(format!("watch retried: {error}"));
                }
            }
            TrackerEvent::Pod(pod, seen) => {
                let facts = pod_facts(&pod);
                let Some(entry) = facts.job.as_ref().and_then(|j| entries.get_mut(j)) else {
                    return;
                };
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                let blocked = facts.blocked.clone();
                apply_pod(&mut entry.obs, facts, seen);
                let Some(blocked) = blocked else { return };
                entry.obs.error = Some(format!("pod {pod_name}: {}", blocked.why));
                // A pod that can never run ends its invocation now, not at the timeout.
                if blocked.permanent && entry.obs.outcome.is_none() {
                    entry.obs.outcome = Some(Outcome::Failed);
                    if let Some(tx) = entry.done.take() {
                        let _ = tx.send(entry.obs.clone());
                    }
                }
            }
            TrackerEvent::Job(job, seen) => {
                let Some(entry) = job
                    .metadata
                    .name
                    .as_ref()
                    .and_then(|name| entries.get_mut(name))
                else {
                    return;
                };
                let facts = job_facts(&job);
                let obs = &mut entry.obs;
                obs.platform_times.created = facts.created.or(obs.platform_times.created);
                let Some(ok) = facts.finished_ok else { return };
                if obs.t_done_seen.is_some() || entry.done.is_none() {
                    return;
                }
                obs.t_done_seen = Some(seen);
                obs.platform_times.completed = facts.completed;
                obs.outcome = Some(if ok {
                    Outcome::Succeeded
                } else {
                    Outcome::Failed
                });
                if let Some(tx) = entry.done.take() {
                    // The invocation may have timed out and stopped listening: nothing to tell.
                    let _ = tx.send(entry.obs.clone());
                }
            }
        }
    }
}

/// What a pod says, merged into the observation of its Job. Instants are kept from the first
/// event in each stage; facts (node, platform times, exit code, message) from the latest.
pub(super) fn apply_pod(obs: &mut Observation, facts: PodFacts, seen: u64) {
    obs.t_pod_seen.get_or_insert(seen);
    match facts.stage {
        PodStage::Pending => {}
        PodStage::Scheduled => {
            obs.t_scheduled_seen.get_or_insert(seen);
        }
        PodStage::Running => {
            obs.t_running_seen.get_or_insert(seen);
        }
        PodStage::Terminated => {
            obs.t_terminated_seen.get_or_insert(seen);
        }
    }
    obs.node = facts.node.or(obs.node.take());
    let t = &mut obs.platform_times;
    t.scheduled = facts.times.scheduled.or(t.scheduled);
    t.started = facts.times.started.or(t.started);
    t.finished = facts.times.finished.or(t.finished);
    if facts.exit_code.is_some() {
        obs.exit_code = facts.exit_code;
    }
    match facts.message {
        Some(TerminationMessage::Report(report)) => obs.report = Some(report),
        Some(TerminationMessage::Error(error)) => obs.error = Some(error),
        None => {}
    }
}
