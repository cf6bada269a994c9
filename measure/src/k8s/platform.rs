//! The Kubernetes platform: watchers started before the first Job, one Job created per
//! invocation (retried through lost connections and server errors), completion from the Job
//! watcher, cleanup by label.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::oneshot;

use super::facts::pod_facts;
use super::manifest::{JobTemplate, RUN_LABEL, job_manifest, job_name, validate_run_id};
use super::tracker::{Tracker, TrackerEvent, apply_pod};
use crate::platform::{Platform, PlatformInfo};
use crate::{DriverClock, InvocationSpec, MeasureError, Observation, Outcome, PlatformKind};

/// First pause between create attempts; it doubles up to [`CREATE_BACKOFF_MAX`].
const CREATE_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between create attempts.
const CREATE_BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How long creation is retried through lost connections and server errors (an API server
/// restart takes a few seconds; a datastore failover longer).
const CREATE_PATIENCE: Duration = Duration::from_secs(120);

/// Longest wait for the API server's answer to a delete or a look at a finished Job's pods (an
/// invocation's, the run's cleanup): a dead datastore must not hold up the end of a run.
const REQUEST_PATIENCE: Duration = Duration::from_secs(15);

/// The Kubernetes platform (K3s or any cluster in a kubeconfig).
pub struct K8sPlatform {
    client: Client,
    template: JobTemplate,
    run_id: String,
    clock: DriverClock,
    tracker: Tracker,
    watchers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Deletes of Jobs that ended without completing, sent after their invocation ended: a
    /// timed-out invocation ends at its timeout, not when a (perhaps dead) API server answers.
    deletes: Mutex<tokio::task::JoinSet<()>>,
    kind: PlatformKind,
    body: bool,
    /// The cgroups of the run's nodes that sum their CPU time by component on this machine
    /// (node annotation `faastwin.io/cgroup`, the testbed's nodes); known once prepared.
    node_cgroups: std::sync::OnceLock<Vec<String>>,
}

impl K8sPlatform {
    /// The observation with the driver's own submit and acknowledgement instants and the
    /// create's notes first.
    fn finish(
        &self,
        mut obs: Observation,
        submit: u64,
        ack: u64,
        notes: Vec<String>,
        name: &str,
    ) -> Observation {
        obs.t_submit = Some(submit);
        if obs.outcome != Some(Outcome::SubmitError) {
            obs.t_create_ack = Some(ack);
        }
        obs.notes.splice(0..0, notes);
        tracing::debug!(run = %self.run_id, job = %name, outcome = ?obs.outcome, "Job ended");
        obs
    }

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
            deletes: Mutex::new(tokio::task::JoinSet::new()),
            kind: PlatformKind::K8s,
            body: true,
            node_cgroups: std::sync::OnceLock::new(),
        })
    }

    /// Whether the Jobs' pods run the worker (false: fake nodes, where a completed Job is a
    /// success with no timing report).
    pub fn with_body(mut self, body: bool) -> Self {
        self.body = body;
        self
    }

    /// The same platform as part of another kind (KSI drives one per node).
    pub fn as_part_of(mut self, kind: PlatformKind) -> Self {
        self.kind = kind;
        self
    }

    fn fail(&self, detail: String) -> MeasureError {
        MeasureError::Platform {
            platform: self.kind,
            detail,
        }
    }

    fn kube_fail(&self, what: String, source: kube::Error) -> MeasureError {
        MeasureError::Kube {
            platform: self.kind,
            what,
            source: Box::new(source),
        }
    }

    fn selector(&self) -> String {
        format!("{RUN_LABEL}={}", self.run_id)
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.template.namespace)
    }

    /// Starts the Job and Pod watchers and waits until both have listed what exists.
    async fn start_watchers(&self) -> Result<(), MeasureError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.template.namespace);
        let config = watcher::Config::default().labels(&self.selector());
        let (ready_jobs, jobs_ready) = oneshot::channel();
        let (ready_pods, pods_ready) = oneshot::channel();
        let context = WatchContext {
            tracker: self.tracker.clone(),
            clock: self.clock,
            run_id: self.run_id.clone(),
        };
        let handles = [
            spawn_watch(
                watcher(self.jobs(), config.clone()),
                context.clone(),
                "jobs",
                ready_jobs,
                |j, t| TrackerEvent::Job(Box::new(j), t),
            ),
            spawn_watch(
                watcher(pods, config),
                context,
                "pods",
                ready_pods,
                |p, t| TrackerEvent::Pod(Box::new(p), t),
            ),
        ];
        self.watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(handles);
        let listed = tokio::time::timeout(Duration::from_secs(30), async {
            // A watcher that ends before listing drops its sender; the timeout then decides.
            let (jobs, pods) = tokio::join!(jobs_ready, pods_ready);
            jobs.is_ok() && pods.is_ok()
        })
        .await;
        match listed {
            Ok(true) => Ok(()),
            _ => Err(self.fail("the Job and Pod watchers did not list within 30 s".into())),
        }
    }

    /// Creates `job`, retrying lost connections, throttling and server errors with capped
    /// exponential backoff for up to [`CREATE_PATIENCE`], and never past `until` (the
    /// invocation's own deadline: a request the server does not answer, a datastore that is
    /// gone, is abandoned then). A 409 after a retry means an earlier attempt reached the
    /// server: the Job exists, once.
    async fn create(
        &self,
        job: &Job,
        notes: &mut Vec<String>,
        until: tokio::time::Instant,
    ) -> Result<(), CreateFailure> {
        // Every Job of ours is named (job_manifest); the default only shapes messages.
        let name = job.metadata.name.as_deref().unwrap_or_default();
        let deadline = until.min(tokio::time::Instant::now() + CREATE_PATIENCE);
        let mut backoff = CREATE_BACKOFF;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            tracing::debug!(run = %self.run_id, job = name, attempt, "POST Job");
            let (jobs, params) = (self.jobs(), PostParams::default());
            let posted = tokio::time::timeout_at(deadline, jobs.create(&params, job));
            let Ok(answer) = posted.await else {
                return Err(CreateFailure {
                    error: format!(
                        "create Job {name}: no answer from the API server by the deadline ({attempt} attempt(s))"
                    ),
                    timed_out: deadline == until,
                });
            };
            match answer {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(status)) if status.code == 409 && attempt > 1 => {
                    notes.push("create: already exists after a retry".into());
                    return Ok(());
                }
                Err(kube::Error::Api(status)) if status.code < 500 && status.code != 429 => {
                    return Err(CreateFailure {
                        error: format!("create Job {name}: {} ({})", status.message, status.code),
                        timed_out: false,
                    });
                }
                Err(e) if tokio::time::Instant::now() + backoff < deadline => {
                    tracing::debug!(run = %self.run_id, job = name, attempt, error = %e, "create failed, retrying");
                    notes.push(format!("create attempt {attempt} failed, retried: {e}"));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(CREATE_BACKOFF_MAX);
                }
                // The next retry would pass the deadline: the invocation's own (it timed out
                // while the server kept failing) or the create's patience.
                Err(e) if deadline == until => {
                    return Err(CreateFailure {
                        error: format!(
                            "create Job {name} failed {attempt} times until the invocation's timeout: {e}"
                        ),
                        timed_out: true,
                    });
                }
                Err(e) => {
                    return Err(CreateFailure {
                        error: format!(
                            "create Job {name} failed {attempt} times over {} s: {e}",
                            CREATE_PATIENCE.as_secs()
                        ),
                        timed_out: false,
                    });
                }
            }
        }
    }

    /// The exit code, node and termination message of a finished Job's pod, when the pod
    /// watcher had not brought them before the Job's terminal condition.
    async fn fetch_pod(&self, name: &str, obs: &mut Observation) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.template.namespace);
        let lp = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}"));
        tracing::debug!(run = %self.run_id, job = name, "GET pods of a finished Job");
        match tokio::time::timeout(REQUEST_PATIENCE, pods.list(&lp)).await {
            Err(_) => obs.notes.push(format!(
                "pods of Job {name}: no answer in {} s",
                REQUEST_PATIENCE.as_secs()
            )),
            Ok(Ok(list)) => {
                for pod in list.items {
                    apply_pod(obs, pod_facts(&pod), self.clock.now_ns());
                }
            }
            Ok(Err(e)) => obs
                .notes
                .push(format!("pods of Job {name} could not be listed: {e}")),
        }
    }

    /// Deletes one Job (its pod goes with it) that ended without completing, in the
    /// background: the invocation has ended, and its record does not wait for the API server.
    /// A delete that fails or gets no answer in [`REQUEST_PATIENCE`] is logged; the run's
    /// cleanup deletes by label whatever is left.
    fn delete_job(&self, name: &str, obs: &mut Observation) {
        tracing::debug!(run = %self.run_id, job = name, "DELETE Job (ended incomplete)");
        obs.notes.push(format!("Job {name} deleted"));
        let (jobs, params) = (self.jobs(), DeleteParams::background());
        let (name, run) = (name.to_string(), self.run_id.clone());
        let mut deletes = self.deletes.lock().unwrap_or_else(PoisonError::into_inner);
        while deletes.try_join_next().is_some() {}
        deletes.spawn(async move {
            match tokio::time::timeout(REQUEST_PATIENCE, jobs.delete(&name, &params)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(run, "deleting Job {name} failed: {e}"),
                Err(_) => tracing::warn!(
                    run,
                    "deleting Job {name}: no answer in {} s (the run's cleanup deletes by label)",
                    REQUEST_PATIENCE.as_secs()
                ),
            }
        });
    }
}

/// Why a create gave up, and whether it was the invocation's timeout that ended it.
struct CreateFailure {
    error: String,
    timed_out: bool,
}

/// What every watcher task needs.
#[derive(Clone)]
struct WatchContext {
    tracker: Tracker,
    clock: DriverClock,
    run_id: String,
}

fn spawn_watch<K, S>(
    stream: S,
    context: WatchContext,
    what: &'static str,
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
            let seen = context.clock.now_ns();
            match event {
                Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) => {
                    context.tracker.apply(wrap(obj, seen))
                }
                Ok(watcher::Event::InitDone) => {
                    tracing::debug!(run = %context.run_id, what, "watch listed");
                    if let Some(ready) = ready.take() {
                        // The platform may have given up waiting; then nobody listens.
                        let _ = ready.send(());
                    }
                }
                Ok(watcher::Event::Init) => {
                    tracing::debug!(run = %context.run_id, what, "watch (re)listing");
                }
                Ok(watcher::Event::Delete(_)) => {}
                Err(e) => {
                    tracing::warn!(run = %context.run_id, what, "watch error, retrying with backoff: {e}");
                    context
                        .tracker
                        .apply(TrackerEvent::WatchError(e.to_string()));
                }
            }
        }
    })
}

#[async_trait]
impl Platform for K8sPlatform {
    async fn prepare(&self, nodes: &[String]) -> Result<PlatformInfo, MeasureError> {
        tracing::debug!(run = %self.run_id, "GET /version");
        let version =
            tokio::time::timeout(Duration::from_secs(20), self.client.apiserver_version())
                .await
                .map_err(|_| {
                    self.fail("the Kubernetes API server did not answer within 20 s".into())
                })?
                .map_err(|e| self.kube_fail("cannot reach the Kubernetes API server".into(), e))?;
        // The version comes from the API server alone; the nodes from its datastore too.
        let nodes_api = Api::<Node>::all(self.client.clone());
        let node_list = tokio::time::timeout(
            Duration::from_secs(20),
            nodes_api.list(&ListParams::default()),
        )
        .await
        .map_err(|_| {
            self.fail(
                "the Kubernetes API server did not list the nodes within 20 s (is its datastore up?)"
                    .into(),
            )
        })?
        .map_err(|e| self.kube_fail("cannot list nodes".into(), e))?;
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
        // An annotation of each node of the run that has it, with the node's name.
        let annotated = |key: &str| -> Vec<(String, String)> {
            node_list
                .items
                .iter()
                .filter_map(|n| {
                    let name = n.metadata.name.as_ref()?;
                    let value = n.metadata.annotations.as_ref()?.get(key)?;
                    nodes.contains(name).then(|| (name.clone(), value.clone()))
                })
                .collect()
        };
        // The CPUs each node of the run owns, where it says (the testbed's real nodes do).
        let node_cpus = annotated(faastwin_models::cpus::NODE_ANNOTATION);
        let cgroups = annotated(faastwin_models::cpus::CGROUP_ANNOTATION)
            .into_iter()
            .map(|(_, cgroup)| cgroup)
            .filter(|cgroup| crate::components::cgroup_exists(cgroup))
            .collect();
        let _ = self.node_cgroups.set(cgroups);
        self.start_watchers().await?;
        Ok(PlatformInfo {
            name: self.kind,
            versions: vec![
                ("faastwin".into(), env!("CARGO_PKG_VERSION").into()),
                ("kubernetes".into(), version.git_version),
                ("image".into(), self.template.image.clone()),
            ],
            nodes: known,
            node_cpus,
            ..PlatformInfo::new(self.kind)
        })
    }

    fn describe_submission(&self, spec: &InvocationSpec) -> String {
        describe_job(spec, &self.template)
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
        // The timeout covers the whole invocation, its create included.
        let deadline = tokio::time::Instant::now() + timeout;
        let created = self.create(&job, &mut notes, deadline).await;
        let ack = clock.now_ns();
        let obs = match created {
            Err(failure) => {
                // Registered above: the entry is there; the default keeps the types honest.
                let mut obs = self.tracker.unregister(&name).unwrap_or_default();
                obs.outcome = Some(if failure.timed_out {
                    Outcome::TimedOut
                } else {
                    Outcome::SubmitError
                });
                obs.error = Some(failure.error);
                obs
            }
            Ok(()) => match tokio::time::timeout_at(deadline, done).await {
                Ok(Ok(_)) => {
                    // Events that arrived after completion (the pod's last update) are in the
                    // entry, so the entry is the observation, not the value sent at completion
                    // (registered above: it is there).
                    let mut obs = self.tracker.unregister(&name).unwrap_or_default();
                    if obs.t_done_seen.is_none() {
                        // Ended by its pod (one that can never run), not by the Job: the Job
                        // would wait on, so it goes.
                        self.delete_job(&name, &mut obs);
                        return self.finish(obs, submit, ack, notes, &name);
                    }
                    if self.body && (obs.report.is_none() || obs.exit_code.is_none()) {
                        self.fetch_pod(&name, &mut obs).await;
                    }
                    if self.body && obs.outcome == Some(Outcome::Succeeded) && obs.report.is_none()
                    {
                        obs.outcome = Some(Outcome::Failed);
                        obs.error = Some(
                            "Job complete but no timing report in the termination message".into(),
                        );
                    }
                    obs
                }
                Ok(Err(_)) | Err(_) => {
                    // Registered above: the entry is there; what was seen of it is kept.
                    let mut obs = self.tracker.unregister(&name).unwrap_or_default();
                    obs.outcome = Some(Outcome::TimedOut);
                    // What the pod said last (unschedulable, say) is the likeliest cause.
                    let last = obs
                        .error
                        .take()
                        .map_or(String::new(), |e| format!("; last seen: {e}"));
                    obs.error = Some(format!(
                        "Job {name} not complete after {} s (deleted){last}",
                        timeout.as_secs_f64()
                    ));
                    self.delete_job(&name, &mut obs);
                    obs
                }
            },
        };
        self.finish(obs, submit, ack, notes, &name)
    }

    /// On nodes whose cgroup sums their CPU time by component here (the testbed's): each
    /// component's, summed over the run's nodes (`kubelet`, `containerd` with its shims and
    /// runc, the control plane's on node 1, `pods`).
    fn component_cpu(&self, _run_id: &str) -> crate::components::ComponentCpu {
        let mut cpu = crate::components::ComponentCpu::new();
        for cgroup in self.node_cgroups.get().into_iter().flatten() {
            for (name, seconds) in crate::components::cgroup_children_cpu(cgroup) {
                *cpu.entry(name).or_default() += seconds;
            }
        }
        cpu
    }

    async fn cleanup(&self, run_id: &str) -> Result<(), MeasureError> {
        let lp = ListParams::default().labels(&format!("{RUN_LABEL}={run_id}"));
        tracing::debug!(run = run_id, "DELETE Jobs by label");
        // The label delete covers every Job a background delete is still waiting on.
        let pending =
            std::mem::take(&mut *self.deletes.lock().unwrap_or_else(PoisonError::into_inner));
        drop(pending);
        let (jobs, params) = (self.jobs(), DeleteParams::background());
        let deleted =
            tokio::time::timeout(REQUEST_PATIENCE, jobs.delete_collection(&params, &lp)).await;
        for w in self
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            w.abort();
        }
        let Ok(deleted) = deleted else {
            return Err(MeasureError::Platform {
                platform: self.kind,
                detail: format!(
                    "deleting this run's Jobs: no answer from the API server in {} s; they are left with the label {RUN_LABEL}={run_id}",
                    REQUEST_PATIENCE.as_secs()
                ),
            });
        };
        deleted.map(|_| ()).map_err(|e| {
            self.kube_fail(
                format!("deleting this run's Jobs ({RUN_LABEL}={run_id})"),
                e,
            )
        })
    }
}

/// A Job as `--dry-run` prints it: its manifest in JSON.
pub(crate) fn describe_job(spec: &InvocationSpec, template: &JobTemplate) -> String {
    match serde_json::to_string(&job_manifest(spec, template)) {
        Ok(json) => json,
        Err(e) => format!(
            "(the Job of invocation {} cannot be shown: {e})",
            spec.invocation_id
        ),
    }
}
