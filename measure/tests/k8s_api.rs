//! The k8s platform against a fake API server, the way kube-rs tests clients: a mocked HTTP
//! service that checks every request (list, watch, create, delete by label) and answers with
//! real Kubernetes objects. Watch responses are streamed, and each created Job goes through a
//! scripted pod lifecycle. An end-to-end test against a real cluster is at the bottom (ignored
//! unless KUBECONFIG points at one).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use faastwin_measure::k8s::{JobTemplate, K8sPlatform};
use faastwin_measure::{DriverClock, NoProgress, Outcome, Platform, SubmitPolicy};
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::k8s_objects::{job, pod, spec, template};

type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

#[derive(Debug, Clone)]
struct Call {
    method: String,
    uri: String,
    body: Value,
}

struct FakeApiServer {
    calls: Mutex<Vec<Call>>,
    unexpected: Mutex<Vec<String>>,
    job_events: mpsc::UnboundedSender<Bytes>,
    pod_events: mpsc::UnboundedSender<Bytes>,
    job_stream: Mutex<Option<mpsc::UnboundedReceiver<Bytes>>>,
    pod_stream: Mutex<Option<mpsc::UnboundedReceiver<Bytes>>>,
    failing_creates: AtomicU32,
}

fn full(status: u16, body: &Value) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())).boxed_unsync())
        .unwrap()
}

fn streamed(rx: mpsc::UnboundedReceiver<Bytes>) -> Response<ResponseBody> {
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(http_body::Frame::data(b)), rx))
    });
    Response::builder()
        .status(200)
        .body(StreamBody::new(frames).boxed_unsync())
        .unwrap()
}

/// A watch event line; every object gets a fresh resourceVersion, as from a real API server.
fn event(kind: &str, object: &impl serde::Serialize) -> Bytes {
    static VERSION: AtomicU32 = AtomicU32::new(100);
    let mut object = serde_json::to_value(object).unwrap();
    object["metadata"]["resourceVersion"] =
        json!(VERSION.fetch_add(1, Ordering::SeqCst).to_string());
    let mut line = serde_json::to_vec(&json!({ "type": kind, "object": object })).unwrap();
    line.push(b'\n');
    Bytes::from(line)
}

/// The fixtures are Job `faastwin-run1-r0-000007`; rename them for another Job.
fn renamed<T: serde::Serialize + serde::de::DeserializeOwned>(object: &T, name: &str) -> T {
    let text = serde_json::to_string(object)
        .unwrap()
        .replace("faastwin-run1-r0-000007", name);
    serde_json::from_str(&text).unwrap()
}

impl FakeApiServer {
    fn new() -> Arc<Self> {
        let (job_events, job_rx) = mpsc::unbounded_channel();
        let (pod_events, pod_rx) = mpsc::unbounded_channel();
        Arc::new(FakeApiServer {
            calls: Mutex::default(),
            unexpected: Mutex::default(),
            job_events,
            pod_events,
            job_stream: Mutex::new(Some(job_rx)),
            pod_stream: Mutex::new(Some(pod_rx)),
            failing_creates: AtomicU32::new(0),
        })
    }

    fn client(self: &Arc<Self>) -> Client {
        let server = Arc::clone(self);
        let service = tower::service_fn(move |request: Request<Body>| {
            let server = Arc::clone(&server);
            async move { Ok::<_, Infallible>(server.handle(request).await) }
        });
        Client::new(service, "faastwin")
    }

    async fn handle(&self, request: Request<Body>) -> Response<ResponseBody> {
        let method = request.method().to_string();
        let uri = request.uri().to_string();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or("").to_owned();
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        self.calls.lock().unwrap().push(Call {
            method: method.clone(),
            uri: uri.clone(),
            body: body.clone(),
        });
        let selector = query.contains("labelSelector=faastwin.io%2Frun%3Drun1");
        let watch = query.contains("watch=true");
        match (method.as_str(), path.as_str()) {
            ("GET", "/version") => full(
                200,
                &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.2+k3s1",
                "gitCommit": "", "gitTreeState": "", "buildDate": "", "goVersion": "", "compiler": "", "platform": "linux/amd64"}),
            ),
            ("GET", "/api/v1/nodes") => full(
                200,
                &json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"},
                "items": [{"metadata": {"name": "k8s-w1"}}, {"metadata": {"name": "k8s-w2"}}]}),
            ),
            ("GET", "/apis/batch/v1/namespaces/faastwin/jobs") if selector && watch => {
                let stream = self.job_stream.lock().unwrap().take();
                match stream {
                    Some(rx) => streamed(rx),
                    None => futures::future::pending().await,
                }
            }
            ("GET", "/apis/batch/v1/namespaces/faastwin/jobs") if selector => full(
                200,
                &json!({"apiVersion": "batch/v1",
                "kind": "JobList", "metadata": {"resourceVersion": "1"}, "items": []}),
            ),
            ("GET", "/api/v1/namespaces/faastwin/pods") if selector && watch => {
                let stream = self.pod_stream.lock().unwrap().take();
                match stream {
                    Some(rx) => streamed(rx),
                    None => futures::future::pending().await,
                }
            }
            ("GET", "/api/v1/namespaces/faastwin/pods") if selector => full(
                200,
                &json!({"apiVersion": "v1",
                "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": []}),
            ),
            ("POST", "/apis/batch/v1/namespaces/faastwin/jobs") => self.create(body).await,
            ("DELETE", "/apis/batch/v1/namespaces/faastwin/jobs") if selector => full(
                200,
                &json!({"apiVersion": "batch/v1",
                "kind": "JobList", "metadata": {"resourceVersion": "9"}, "items": []}),
            ),
            _ => {
                self.unexpected
                    .lock()
                    .unwrap()
                    .push(format!("{method} {uri}"));
                full(
                    404,
                    &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "not found", "reason": "NotFound", "code": 404}),
                )
            }
        }
    }

    /// Accepts a Job (after `failing_creates` server errors) and plays its pod's lifecycle.
    async fn create(&self, body: Value) -> Response<ResponseBody> {
        if self.failing_creates.load(Ordering::SeqCst) > 0 {
            self.failing_creates.fetch_sub(1, Ordering::SeqCst);
            return full(
                500,
                &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "etcdserver: request timed out", "reason": "InternalError", "code": 500}),
            );
        }
        let name = body["metadata"]["name"].as_str().unwrap().to_owned();
        let mut created = body.clone();
        created["metadata"]["creationTimestamp"] = json!("2026-11-23T13:41:43Z");
        created["metadata"]["uid"] = json!(format!("uid-{name}"));
        created["metadata"]["resourceVersion"] = json!("2");
        let (jobs, pods) = (self.job_events.clone(), self.pod_events.clone());
        tokio::spawn(async move {
            let step = Duration::from_millis(5);
            let _ = jobs.send(event("ADDED", &renamed(&job("running"), &name)));
            for (kind, stage) in [
                ("ADDED", "pending"),
                ("MODIFIED", "scheduled"),
                ("MODIFIED", "running"),
                ("MODIFIED", "succeeded"),
            ] {
                tokio::time::sleep(step).await;
                let _ = pods.send(event(kind, &renamed(&pod(stage), &name)));
            }
            tokio::time::sleep(step).await;
            let _ = jobs.send(event("MODIFIED", &renamed(&job("complete"), &name)));
        });
        full(201, &created)
    }

    fn calls(&self, method: &str, path: &str) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.method == method && c.uri.starts_with(path))
            .cloned()
            .collect()
    }
}

fn platform(server: &Arc<FakeApiServer>) -> K8sPlatform {
    K8sPlatform::new(server.client(), template(), "run1", DriverClock::start()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invocation_is_created_watched_and_cleaned_up_by_label() {
    let server = FakeApiServer::new();
    let platform = platform(&server);
    let info = platform.prepare(&["k8s-w2".into()]).await.unwrap();
    assert!(
        info.versions
            .iter()
            .any(|(k, v)| k == "kubernetes" && v == "v1.33.2+k3s1")
    );
    let clock = DriverClock::start();
    let obs = platform
        .invoke(&spec(), &clock, Duration::from_secs(10))
        .await;
    assert_eq!(obs.outcome, Some(Outcome::Succeeded), "{obs:?}");
    let t = |v: Option<u64>| v.unwrap();
    assert!(t(obs.t_submit) <= t(obs.t_create_ack));
    assert!(t(obs.t_create_ack) <= t(obs.t_pod_seen));
    assert!(t(obs.t_pod_seen) < t(obs.t_scheduled_seen));
    assert!(t(obs.t_scheduled_seen) < t(obs.t_running_seen));
    assert!(t(obs.t_running_seen) < t(obs.t_terminated_seen));
    assert!(t(obs.t_terminated_seen) < t(obs.t_done_seen));
    assert_eq!(obs.report.as_ref().unwrap().bytes_written, 171);
    assert_eq!(obs.node.as_deref(), Some("k8s-w2"));
    assert_eq!(obs.exit_code, Some(0));
    platform.cleanup("run1").await.unwrap();

    // Both watchers listed this run's objects before the first submission; their watches
    // resume from that list's resourceVersion, so no event after it can be missed (kube's
    // watcher reports "listed" before it sends the watch request, which may follow the POST).
    let calls = server.calls.lock().unwrap().clone();
    let first_post = calls.iter().position(|c| c.method == "POST").unwrap();
    for kind in [
        "/apis/batch/v1/namespaces/faastwin/jobs?",
        "/api/v1/namespaces/faastwin/pods?",
    ] {
        let listed = calls.iter().position(|c| {
            c.method == "GET" && c.uri.starts_with(kind) && !c.uri.contains("watch=true")
        });
        assert!(
            listed.is_some_and(|i| i < first_post),
            "{kind} listed before submitting: {calls:#?}"
        );
    }
    let watches = calls
        .iter()
        .filter(|c| c.uri.contains("watch=true"))
        .count();
    assert_eq!(watches, 2, "one watch on Jobs, one on Pods: {calls:#?}");
    // The create request carries the labels, the pinning and no retries.
    let created = &server.calls("POST", "/apis/batch/v1/namespaces/faastwin/jobs")[0].body;
    assert_eq!(created["metadata"]["labels"]["faastwin.io/run"], "run1");
    assert_eq!(created["spec"]["backoffLimit"], 0);
    assert_eq!(created["spec"]["template"]["spec"]["nodeName"], "k8s-w2");
    // Cleanup deletes by this run's label only, in the background.
    let deletes = server.calls("DELETE", "/apis/batch/v1/namespaces/faastwin/jobs");
    assert_eq!(deletes.len(), 1);
    assert!(
        deletes[0]
            .uri
            .contains("labelSelector=faastwin.io%2Frun%3Drun1"),
        "{}",
        deletes[0].uri
    );
    assert_eq!(deletes[0].body["propagationPolicy"], "Background");
    assert!(
        server
            .calls("DELETE", "/apis/batch/v1/namespaces/faastwin/jobs/")
            .is_empty(),
        "no delete by name"
    );
    assert!(
        server.unexpected.lock().unwrap().is_empty(),
        "{:?}",
        server.unexpected.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_on_create_are_retried_and_recorded() {
    let server = FakeApiServer::new();
    server.failing_creates.store(2, Ordering::SeqCst);
    let platform = platform(&server);
    platform.prepare(&[]).await.unwrap();
    let obs = platform
        .invoke(&spec(), &DriverClock::start(), Duration::from_secs(10))
        .await;
    assert_eq!(obs.outcome, Some(Outcome::Succeeded), "{obs:?}");
    assert_eq!(server.calls("POST", "/apis/batch/v1").len(), 3);
    let retries: Vec<&String> = obs.notes.iter().filter(|n| n.contains("retried")).collect();
    assert_eq!(retries.len(), 2, "{:?}", obs.notes);
    assert!(retries[0].contains("etcdserver: request timed out"));
    platform.cleanup("run1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_runs_a_batch_through_the_api() {
    let server = FakeApiServer::new();
    let platform: Arc<dyn Platform> = Arc::new(platform(&server));
    let dir = tempfile::tempdir().unwrap();
    let dataset = crate::relay_dataset(dir.path(), 4);
    let mut options = crate::options(
        "k8s",
        2,
        vec!["k8s-w1".into(), "k8s-w2".into()],
        SubmitPolicy::Sequential,
    );
    options.run_id = "run1".into();
    options.timeout_s = 10.0;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let outcome = faastwin_measure::run(
        platform,
        options,
        dataset,
        dir.path().join("run"),
        false,
        Arc::new(NoProgress),
        rx,
    )
    .await
    .unwrap();
    assert_eq!(outcome.records.len(), 4);
    assert!(
        outcome
            .records
            .iter()
            .all(|r| r.succeeded() && r.p_clock.as_deref().unwrap().contains("1 s"))
    );
    let posts = server.calls("POST", "/apis/batch/v1");
    let nodes: Vec<&str> = posts
        .iter()
        .map(|c| {
            c.body["spec"]["template"]["spec"]["nodeName"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        nodes.iter().filter(|n| **n == "k8s-w1").count(),
        2,
        "partition 0 on k8s-w1: {nodes:?}"
    );
    assert_eq!(
        server.calls("DELETE", "/apis/batch/v1").len(),
        1,
        "cleanup once, by label"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_node_is_refused_before_any_job_is_created() {
    let server = FakeApiServer::new();
    let err = platform(&server)
        .prepare(&["k8s-w9".into()])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown node \"k8s-w9\"") && err.contains("k8s-w1, k8s-w2"),
        "{err}"
    );
    assert!(server.calls("POST", "/").is_empty());
}

#[tokio::test]
async fn an_unreachable_cluster_is_a_clear_error() {
    let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    let client = Client::try_from(config).unwrap();
    let platform = K8sPlatform::new(client, template(), "run1", DriverClock::start()).unwrap();
    let err = platform.prepare(&[]).await.unwrap_err().to_string();
    assert!(
        err.contains("cannot reach the Kubernetes API server"),
        "{err}"
    );
}

/// Runs a small relay batch on the cluster of `KUBECONFIG`. The worker image must be on its
/// nodes (`FAASTWIN_IMAGE`, default localhost/faastwin-worker:latest) and the dataset directory
/// (`FAASTWIN_SHARED`, default /srv/faastwin) on every node's filesystem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs cluster (KUBECONFIG)"]
async fn end_to_end_on_a_real_cluster() {
    let client = Client::try_default()
        .await
        .expect("KUBECONFIG points at a cluster");
    let shared = std::path::PathBuf::from(
        std::env::var("FAASTWIN_SHARED").unwrap_or_else(|_| "/srv/faastwin".into()),
    );
    let run_dir = shared.join(format!("e2e-{}", std::process::id()));
    let dataset = crate::relay_dataset(&run_dir, 6);
    let nodes: Vec<String> = kube::Api::<k8s_openapi::api::core::v1::Node>::all(client.clone())
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    let run_id = format!("e2e-{}", std::process::id());
    let template = JobTemplate {
        namespace: std::env::var("FAASTWIN_NAMESPACE").unwrap_or_else(|_| "default".into()),
        image: std::env::var("FAASTWIN_IMAGE")
            .unwrap_or_else(|_| "localhost/faastwin-worker:latest".into()),
        image_pull_policy: "IfNotPresent".into(),
        volume: faastwin_measure::k8s::DataVolume::HostPath {
            dataset: dataset.dir.clone(),
            results: run_dir.join("run/results"),
        },
        cpu_request: Some("100m".into()),
        memory_request: Some("64Mi".into()),
        ttl_seconds: 300,
        pinning: faastwin_measure::k8s::Pinning::NodeName,
    };
    let platform: Arc<dyn Platform> =
        Arc::new(K8sPlatform::new(client, template, &run_id, DriverClock::start()).unwrap());
    let mut options = crate::options(
        "k8s",
        2,
        nodes.into_iter().take(2).collect(),
        SubmitPolicy::Sequential,
    );
    options.run_id = run_id;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let outcome = faastwin_measure::run(
        platform,
        options,
        dataset,
        run_dir.join("run"),
        false,
        Arc::new(NoProgress),
        rx,
    )
    .await
    .unwrap();
    assert_eq!(outcome.records.len(), 6);
    for r in &outcome.records {
        crate::check_succeeded(r);
        assert!(r.p_created.is_some() && r.t_pod_seen.is_some());
    }
}
