//! What a real cluster cannot be made to do on demand: server errors on create (an etcd timeout
//! answered as 500) are retried and recorded. A fake API server, the way kube-rs tests clients:
//! a mocked HTTP service that checks every request and answers with real Kubernetes objects,
//! streaming watch events and a scripted pod lifecycle. Everything else the k8s platform does is
//! tested on the real testbed cluster (`k8s_cluster.rs`).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use faastwin_measure::k8s::K8sPlatform;
use faastwin_measure::{DriverClock, Outcome, Platform};
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
async fn server_errors_on_create_are_retried_and_recorded() {
    let server = FakeApiServer::new();
    server.failing_creates.store(2, Ordering::SeqCst);
    let platform = platform(&server);
    platform.prepare(&[]).await.unwrap();
    let obs = platform
        .invoke(&spec(), &DriverClock::start(), Duration::from_secs(10))
        .await;
    assert_eq!(obs.outcome, Some(Outcome::Succeeded), "{obs:?}");
    let posts = server.calls("POST", "/apis/batch/v1");
    assert_eq!(posts.len(), 3);
    assert!(
        posts
            .iter()
            .all(|p| p.body["metadata"]["name"] == posts[0].body["metadata"]["name"]),
        "a retry sends the same Job, so a 409 afterwards means it exists once"
    );
    let retries: Vec<&String> = obs.notes.iter().filter(|n| n.contains("retried")).collect();
    assert_eq!(retries.len(), 2, "{:?}", obs.notes);
    assert!(retries[0].contains("etcdserver: request timed out"));
    platform.cleanup("run1").await.unwrap();
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
