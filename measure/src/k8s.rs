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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, HostPathVolumeSource, Node, PersistentVolumeClaimVolumeSource, Pod, PodSpec,
    PodTemplateSpec, ResourceRequirements, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::oneshot;

use crate::platform::{Platform, PlatformInfo};
use crate::{DriverClock, InvocationSpec, MeasureError, Observation, Outcome, PlatformTimes};

/// Label carrying the run id on every object a run creates.
pub const RUN_LABEL: &str = "faastwin.io/run";
/// Where object timestamps come from.
pub const K8S_CLOCK: &str = "kubernetes object timestamps, 1 s, API server clock";

/// How a partition's Jobs are pinned to its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinning {
    /// `spec.nodeName`: bypasses the scheduler (no PodScheduled condition).
    NodeName,
    /// `nodeSelector: kubernetes.io/hostname=<node>`: through the scheduler.
    NodeSelector,
    /// No pinning: the cluster has one node (KSI) or the scheduler decides.
    None,
}

/// Where the dataset and the results live inside the pod.
#[derive(Debug, Clone, PartialEq)]
pub enum DataVolume {
    /// Host directories (shared storage mounted on every node): dataset read-only at /data,
    /// results at /out.
    HostPath {
        /// Dataset directory on the nodes.
        dataset: std::path::PathBuf,
        /// Results directory on the nodes.
        results: std::path::PathBuf,
    },
    /// One PersistentVolumeClaim mounted at /shared; host paths under `root` are rewritten to
    /// paths under /shared.
    Claim {
        /// Claim name.
        claim: String,
        /// Directory of the shared storage the claim exposes, as the measuring host sees it.
        root: std::path::PathBuf,
    },
}

/// Everything a Job needs besides the invocation.
#[derive(Debug, Clone)]
pub struct JobTemplate {
    /// Namespace of the Jobs.
    pub namespace: String,
    /// Worker image.
    pub image: String,
    /// imagePullPolicy (`IfNotPresent`, `Never`, `Always`).
    pub image_pull_policy: String,
    /// Dataset and results.
    pub volume: DataVolume,
    /// CPU request (e.g. `100m`), if any.
    pub cpu_request: Option<String>,
    /// Memory request (e.g. `64Mi`), if any.
    pub memory_request: Option<String>,
    /// ttlSecondsAfterFinished.
    pub ttl_seconds: i32,
    /// Node pinning.
    pub pinning: Pinning,
}

/// The Job name of an invocation: `faastwin-<run>-r<rep>-<id>` (DNS-1123, at most 63 chars).
pub fn job_name(spec: &InvocationSpec) -> String {
    format!(
        "faastwin-{}-r{}-{:06}",
        spec.run_id, spec.repetition, spec.invocation_id
    )
}

/// Checks that a run id makes valid label values and Job names.
pub fn validate_run_id(run_id: &str) -> Result<(), MeasureError> {
    let ok = !run_id.is_empty()
        && run_id.len() <= 30
        && run_id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !run_id.starts_with('-')
        && !run_id.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(MeasureError::Options(format!(
            "run id {run_id:?} must be 1-30 lowercase letters, digits and inner '-' (it becomes a label and part of Job names)"
        )))
    }
}

fn labels(spec: &InvocationSpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "faastwin".to_owned(),
        ),
        (RUN_LABEL.to_owned(), spec.run_id.clone()),
        (
            "faastwin.io/repetition".to_owned(),
            spec.repetition.to_string(),
        ),
        (
            "faastwin.io/partition".to_owned(),
            spec.partition.to_string(),
        ),
        (
            "faastwin.io/invocation".to_owned(),
            spec.invocation_id.to_string(),
        ),
    ])
}

/// The Job for one invocation.
pub fn job_manifest(spec: &InvocationSpec, t: &JobTemplate) -> Job {
    let (volumes, mounts, input, output) = match &t.volume {
        DataVolume::HostPath { dataset, results } => {
            let host = |name: &str, path: &std::path::Path| Volume {
                name: name.into(),
                host_path: Some(HostPathVolumeSource {
                    path: path.display().to_string(),
                    type_: Some("Directory".into()),
                }),
                ..Volume::default()
            };
            let inside = |path: &std::path::Path, dir: &std::path::Path, mount: &str| {
                format!(
                    "{mount}/{}",
                    path.strip_prefix(dir).unwrap_or(path).display()
                )
            };
            (
                vec![host("data", dataset), host("out", results)],
                vec![
                    VolumeMount {
                        name: "data".into(),
                        mount_path: "/data".into(),
                        read_only: Some(true),
                        ..VolumeMount::default()
                    },
                    VolumeMount {
                        name: "out".into(),
                        mount_path: "/out".into(),
                        ..VolumeMount::default()
                    },
                ],
                inside(&spec.input, dataset, "/data"),
                inside(&spec.output, results, "/out"),
            )
        }
        DataVolume::Claim { claim, root } => {
            let inside = |path: &std::path::Path| {
                format!(
                    "/shared/{}",
                    path.strip_prefix(root).unwrap_or(path).display()
                )
            };
            (
                vec![Volume {
                    name: "shared".into(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: claim.clone(),
                        read_only: None,
                    }),
                    ..Volume::default()
                }],
                vec![VolumeMount {
                    name: "shared".into(),
                    mount_path: "/shared".into(),
                    ..VolumeMount::default()
                }],
                inside(&spec.input),
                inside(&spec.output),
            )
        }
    };
    let mut requests = BTreeMap::new();
    if let Some(cpu) = &t.cpu_request {
        requests.insert("cpu".to_owned(), Quantity(cpu.clone()));
    }
    if let Some(memory) = &t.memory_request {
        requests.insert("memory".to_owned(), Quantity(memory.clone()));
    }
    let (node_name, node_selector) = match t.pinning {
        Pinning::NodeName => (Some(spec.node.clone()), None),
        Pinning::NodeSelector => (
            None,
            Some(BTreeMap::from([(
                "kubernetes.io/hostname".to_owned(),
                spec.node.clone(),
            )])),
        ),
        Pinning::None => (None, None),
    };
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(spec)),
            namespace: Some(t.namespace.clone()),
            labels: Some(labels(spec)),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(t.ttl_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(spec)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    node_name,
                    node_selector,
                    containers: vec![Container {
                        name: "worker".into(),
                        image: Some(t.image.clone()),
                        image_pull_policy: Some(t.image_pull_policy.clone()),
                        args: Some(spec.worker_args(input, output)),
                        termination_message_policy: Some("FallbackToLogsOnError".into()),
                        resources: (!requests.is_empty()).then(|| ResourceRequirements {
                            requests: Some(requests),
                            ..ResourceRequirements::default()
                        }),
                        volume_mounts: Some(mounts),
                        ..Container::default()
                    }],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

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
    /// The termination message.
    pub message: Option<String>,
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
            .and_then(|t| t.message.clone())
            .filter(|m| !m.trim().is_empty()),
    }
}

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
    /// Starts tracking Job `name`; the receiver gets the observation when the Job ends.
    pub fn register(&self, name: &str) -> oneshot::Receiver<Observation> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                name.to_owned(),
                Entry {
                    obs: Observation {
                        attempt: 1,
                        platform_clock: Some(K8S_CLOCK),
                        ..Observation::default()
                    },
                    done: Some(tx),
                },
            );
        }
        rx
    }

    /// Stops tracking Job `name`, returning what was seen so far.
    pub fn unregister(&self, name: &str) -> Option<Observation> {
        self.entries.lock().ok()?.remove(name).map(|e| e.obs)
    }

    /// Applies one event.
    pub fn apply(&self, event: TrackerEvent) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
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
                let obs = &mut entry.obs;
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
                if let Some(message) = facts.message {
                    match serde_json::from_str::<faastwin_workers::Report>(&message) {
                        Ok(report) => obs.report = Some(report),
                        Err(_) => {
                            obs.error = Some(message.lines().last().unwrap_or("").trim().to_owned())
                        }
                    }
                }
            }
            TrackerEvent::Job(job, seen) => {
                let Some(name) = job.metadata.name.as_ref() else {
                    return;
                };
                let Some(entry) = entries.get_mut(name) else {
                    return;
                };
                let facts = job_facts(&job);
                entry.obs.platform_times.created =
                    facts.created.or(entry.obs.platform_times.created);
                if let Some(ok) = facts.finished_ok {
                    if entry.obs.t_done_seen.is_none() {
                        entry.obs.t_done_seen = Some(seen);
                        entry.obs.platform_times.completed = facts.completed;
                        entry.obs.outcome = Some(if ok {
                            Outcome::Succeeded
                        } else {
                            Outcome::Failed
                        });
                        if let Some(tx) = entry.done.take() {
                            let _ = tx.send(entry.obs.clone());
                        }
                    }
                }
            }
        }
    }
}

/// How often and how long creation is retried on server errors and lost connections.
const CREATE_ATTEMPTS: u32 = 6;
const CREATE_BACKOFF: Duration = Duration::from_millis(100);

/// The Kubernetes platform (K3s or any cluster in a kubeconfig).
pub struct K8sPlatform {
    client: Client,
    template: JobTemplate,
    run_id: String,
    clock: DriverClock,
    tracker: Tracker,
    watchers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    name: &'static str,
}

impl K8sPlatform {
    /// A platform on `client`'s cluster; `run_id` labels everything it creates.
    pub fn new(
        client: Client,
        template: JobTemplate,
        run_id: &str,
        clock: DriverClock,
    ) -> Result<Self, MeasureError> {
        validate_run_id(run_id)?;
        Ok(K8sPlatform {
            client,
            template,
            run_id: run_id.to_owned(),
            clock,
            tracker: Tracker::default(),
            watchers: Mutex::new(Vec::new()),
            name: "k8s",
        })
    }

    /// The same platform under another name (KSI drives one per node).
    pub fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    fn fail(&self, detail: String) -> MeasureError {
        MeasureError::Platform {
            platform: self.name.into(),
            detail,
        }
    }

    fn selector(&self) -> String {
        format!("{RUN_LABEL}={}", self.run_id)
    }

    /// Starts the Job and Pod watchers and waits until both have listed what exists.
    async fn start_watchers(&self) -> Result<(), MeasureError> {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.template.namespace);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.template.namespace);
        let config = watcher::Config::default().labels(&self.selector());
        let (ready_jobs, jobs_ready) = oneshot::channel();
        let (ready_pods, pods_ready) = oneshot::channel();
        let handles = [
            spawn_watch(
                watcher(jobs, config.clone()),
                self.tracker.clone(),
                self.clock,
                ready_jobs,
                |j, t| TrackerEvent::Job(Box::new(j), t),
            ),
            spawn_watch(
                watcher(pods, config),
                self.tracker.clone(),
                self.clock,
                ready_pods,
                |p, t| TrackerEvent::Pod(Box::new(p), t),
            ),
        ];
        if let Ok(mut w) = self.watchers.lock() {
            w.extend(handles);
        }
        let listed = tokio::time::timeout(Duration::from_secs(30), async {
            let _ = jobs_ready.await;
            let _ = pods_ready.await;
        })
        .await;
        listed.map_err(|_| self.fail("the Job and Pod watchers did not list within 30 s".into()))
    }

    async fn create(&self, job: &Job, obs: &mut Observation) -> Result<(), String> {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.template.namespace);
        let mut backoff = CREATE_BACKOFF;
        for attempt in 1..=CREATE_ATTEMPTS {
            match jobs.create(&PostParams::default(), job).await {
                Ok(_) => return Ok(()),
                // A retried create whose first attempt did reach the server.
                Err(kube::Error::Api(status)) if status.code == 409 && attempt > 1 => {
                    obs.notes
                        .push("create: already exists after a retry".into());
                    return Ok(());
                }
                Err(kube::Error::Api(status)) if status.code < 500 && status.code != 429 => {
                    return Err(format!(
                        "create Job {}: {} ({})",
                        job.metadata.name.as_deref().unwrap_or(""),
                        status.message,
                        status.code
                    ));
                }
                Err(e) if attempt < CREATE_ATTEMPTS => {
                    obs.notes
                        .push(format!("create attempt {attempt} failed, retried: {e}"));
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err(e) => return Err(format!("create Job failed {CREATE_ATTEMPTS} times: {e}")),
            }
        }
        Err("create Job: no attempt made".into())
    }

    /// The termination message of a finished Job's pod, when the pod watcher had not brought it.
    async fn fetch_report(&self, name: &str, obs: &mut Observation) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.template.namespace);
        let lp = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}"));
        if let Ok(list) = pods.list(&lp).await {
            for pod in list.items {
                let facts = pod_facts(&pod);
                obs.exit_code = facts.exit_code.or(obs.exit_code);
                obs.node = facts.node.or(obs.node.take());
                if let Some(message) = facts.message {
                    match serde_json::from_str(&message) {
                        Ok(report) => obs.report = Some(report),
                        Err(_) => obs.error = Some(message),
                    }
                }
            }
        }
    }
}

fn spawn_watch<K, S>(
    stream: S,
    tracker: Tracker,
    clock: DriverClock,
    ready: oneshot::Sender<()>,
    wrap: fn(K, u64) -> TrackerEvent,
) -> tokio::task::JoinHandle<()>
where
    K: Send + 'static,
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut ready = Some(ready);
        let mut stream = std::pin::pin!(stream.default_backoff());
        while let Some(event) = stream.next().await {
            let seen = clock.now_ns();
            match event {
                Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) => {
                    tracker.apply(wrap(obj, seen))
                }
                Ok(watcher::Event::InitDone) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(());
                    }
                }
                Ok(watcher::Event::Init | watcher::Event::Delete(_)) => {}
                Err(e) => {
                    tracing::warn!("watch error, retrying with backoff: {e}");
                    tracker.apply(TrackerEvent::WatchError(e.to_string()));
                }
            }
        }
    })
}

#[async_trait]
impl Platform for K8sPlatform {
    async fn prepare(&self, nodes: &[String]) -> Result<PlatformInfo, MeasureError> {
        let version =
            tokio::time::timeout(Duration::from_secs(20), self.client.apiserver_version())
                .await
                .map_err(|_| {
                    self.fail("the Kubernetes API server did not answer within 20 s".into())
                })?
                .map_err(|e| self.fail(format!("cannot reach the Kubernetes API server: {e}")))?;
        let node_list = Api::<Node>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .map_err(|e| self.fail(format!("cannot list nodes: {e}")))?;
        let known: Vec<String> = node_list
            .items
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        if let Some(unknown) = nodes.iter().find(|n| !known.contains(n)) {
            return Err(self.fail(format!(
                "unknown node {unknown:?} (the cluster has: {})",
                known.join(", ")
            )));
        }
        self.start_watchers().await?;
        Ok(PlatformInfo {
            name: self.name.into(),
            versions: vec![
                ("faastwin".into(), env!("CARGO_PKG_VERSION").into()),
                ("kubernetes".into(), version.git_version),
                ("image".into(), self.template.image.clone()),
            ],
            nodes: known,
            ..PlatformInfo::default()
        })
    }

    fn describe_submission(&self, spec: &InvocationSpec) -> String {
        let job = job_manifest(spec, &self.template);
        serde_json::to_string(&job).unwrap_or_default()
    }

    async fn invoke(
        &self,
        spec: &InvocationSpec,
        clock: &DriverClock,
        timeout: Duration,
    ) -> Observation {
        let name = job_name(spec);
        let done = self.tracker.register(&name);
        let job = job_manifest(spec, &self.template);
        let mut notes = Vec::new();
        let submit = clock.now_ns();
        let mut created = Observation::default();
        let result = self.create(&job, &mut created).await;
        let ack = clock.now_ns();
        notes.extend(created.notes);
        if let Err(error) = result {
            let mut obs = self.tracker.unregister(&name).unwrap_or_default();
            obs.t_submit = Some(submit);
            obs.outcome = Some(Outcome::SubmitError);
            obs.error = Some(error);
            obs.notes.extend(notes);
            return obs;
        }
        let mut obs = match tokio::time::timeout(timeout, done).await {
            Ok(Ok(obs)) => obs,
            Ok(Err(_)) | Err(_) => {
                let mut obs = self.tracker.unregister(&name).unwrap_or_default();
                obs.outcome = Some(Outcome::TimedOut);
                obs.error = Some(format!(
                    "Job {name} not complete after {} s (deleted)",
                    timeout.as_secs_f64()
                ));
                let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.template.namespace);
                let _ = jobs.delete(&name, &DeleteParams::background()).await;
                obs.t_submit = Some(submit);
                obs.t_create_ack = Some(ack);
                obs.notes.extend(notes);
                return obs;
            }
        };
        // Events that arrived after completion (the pod's last update) are in the entry.
        if let Some(latest) = self.tracker.unregister(&name) {
            obs = latest;
        }
        if obs.report.is_none() {
            self.fetch_report(&name, &mut obs).await;
        }
        if obs.outcome == Some(Outcome::Succeeded) && obs.report.is_none() {
            obs.outcome = Some(Outcome::Failed);
            obs.error = Some("Job complete but no timing report in the termination message".into());
        }
        obs.t_submit = Some(submit);
        obs.t_create_ack = Some(ack);
        obs.notes.extend(notes);
        obs
    }

    async fn cleanup(&self, run_id: &str) -> Result<(), MeasureError> {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.template.namespace);
        let lp = ListParams::default().labels(&format!("{RUN_LABEL}={run_id}"));
        let deleted = jobs
            .delete_collection(&DeleteParams::background(), &lp)
            .await;
        if let Ok(mut watchers) = self.watchers.lock() {
            for w in watchers.drain(..) {
                w.abort();
            }
        }
        deleted.map(|_| ()).map_err(|e| {
            self.fail(format!(
                "deleting this run's Jobs ({RUN_LABEL}={run_id}): {e}"
            ))
        })
    }
}
