//! Waiting for an instance to be usable, step by step, through its API server.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::TestbedError;
use crate::process::{Component, log_tail};

/// A client for the cluster of a kubeconfig file.
pub(crate) async fn client(kubeconfig: &Path) -> Result<Client, TestbedError> {
    let fail = |what: &str, e: Box<dyn std::error::Error + Send + Sync>| TestbedError::State {
        dir: kubeconfig.to_owned(),
        detail: format!("{what}: {e}"),
    };
    let kc =
        Kubeconfig::read_from(kubeconfig).map_err(|e| fail("unreadable kubeconfig", e.into()))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| fail("unusable kubeconfig", e.into()))?;
    Client::try_from(config).map_err(|e| fail("cannot build a client", e.into()))
}

/// Polls `check` every 100 ms until it says yes or `timeout` passes; the error names `what`
/// and shows the tail of `log`. A component of `started` that exits ends the wait at once,
/// with its own log's tail (a port taken by another process, a bad flag): nothing started
/// after it could become ready.
pub(crate) async fn until<F, Fut>(
    what: &str,
    timeout: Duration,
    log: &Path,
    started: &[Component],
    mut check: F,
) -> Result<(), TestbedError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return Ok(());
        }
        if let Some(gone) = started.iter().find(|c| crate::process::gone(c)) {
            return Err(TestbedError::Exited {
                what: gone.name.clone(),
                waiting: what.to_owned(),
                log: gone.log.clone(),
                tail: log_tail(&gone.log, 6),
            });
        }
        if Instant::now() >= deadline {
            return Err(TestbedError::NotReady {
                what: what.to_owned(),
                seconds: timeout.as_secs(),
                log: log.to_owned(),
                tail: log_tail(log, 6),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// True when something accepts connections on the Unix socket `socket`.
pub(crate) async fn accepting(socket: &Path) -> bool {
    tokio::net::UnixStream::connect(socket).await.is_ok()
}

/// True when the API server says it is ready (`/readyz`).
pub(crate) async fn api_ready(client: &Client) -> bool {
    let request = http::Request::get("/readyz").body(Vec::new());
    match request {
        Ok(request) => client
            .request_text(request)
            .await
            .is_ok_and(|body| body.trim() == "ok"),
        Err(_) => false,
    }
}

/// True when `node` is registered and Ready.
pub(crate) async fn node_ready(client: &Client, node: &str) -> bool {
    let nodes: Api<Node> = Api::all(client.clone());
    let Ok(Some(node)) = nodes.get_opt(node).await else {
        return false;
    };
    node.status
        .and_then(|s| s.conditions)
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// True when namespace `default` has its service account (pods are refused until it does).
pub(crate) async fn default_service_account(client: &Client) -> bool {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    accounts.get_opt("default").await.is_ok_and(|a| a.is_some())
}

/// A Job of the worker image pinned to `node`: `--version` only, no data.
fn probe_job(name: &str, node: &str, image: &str) -> Result<Job, TestbedError> {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "faastwin-testbed"}},
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 60,
            "template": {"spec": {
                "restartPolicy": "Never",
                "nodeName": node,
                "containers": [{"name": "probe", "image": image, "imagePullPolicy": "Never", "args": ["--version"]}]
            }}
        }
    }))
    .map_err(|e| TestbedError::State {
        dir: name.into(),
        detail: format!("probe Job manifest: {e}"),
    })
}

/// True when the API server accepts a Job (server-side dry run: admission, defaulting,
/// service account).
pub(crate) async fn job_accepted(client: &Client, node: &str, image: &str) -> bool {
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let Ok(job) = probe_job("faastwin-testbed-dry-run", node, image) else {
        return false;
    };
    jobs.create(
        &PostParams {
            dry_run: true,
            ..PostParams::default()
        },
        &job,
    )
    .await
    .is_ok()
}

/// Runs a probe Job to completion on `node` and deletes it.
pub(crate) async fn probe(
    client: &Client,
    node: &str,
    image: &str,
    timeout: Duration,
    log: &Path,
) -> Result<(), TestbedError> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let name = "faastwin-testbed-probe";
    let kube_fail = |what: &str| {
        let what = what.to_owned();
        move |source| TestbedError::Kube {
            what,
            source: Box::new(source),
        }
    };
    // A probe left over by an interrupted start.
    let _ = jobs.delete(name, &DeleteParams::background()).await;
    until(
        "the previous probe Job to go",
        Duration::from_secs(30),
        log,
        &[],
        || async { jobs.get_opt(name).await.is_ok_and(|j| j.is_none()) },
    )
    .await?;
    jobs.create(&PostParams::default(), &probe_job(name, node, image)?)
        .await
        .map_err(kube_fail("creating the probe Job"))?;
    let outcome = until("the probe Job to complete", timeout, log, &[], || async {
        jobs.get_opt(name).await.ok().flatten().is_some_and(|j| {
            j.status.and_then(|s| s.conditions).is_some_and(|cs| {
                cs.iter()
                    .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
            })
        })
    })
    .await;
    let job = jobs
        .get(name)
        .await
        .map_err(kube_fail("reading the probe Job"))?;
    jobs.delete(name, &DeleteParams::background())
        .await
        .map_err(kube_fail("deleting the probe Job"))?;
    outcome?;
    let succeeded = job.status.and_then(|s| s.succeeded).unwrap_or(0);
    if succeeded == 1 {
        Ok(())
    } else {
        Err(TestbedError::NotReady {
            what: "a probe Job to succeed (it failed)".into(),
            seconds: timeout.as_secs(),
            log: log.to_owned(),
            tail: log_tail(log, 6),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component that dies while the next one is awaited (kine losing its metrics port to
    /// another cluster starting beside it) ends the wait at once, naming it and showing why;
    /// before, the API server was awaited for the whole timeout.
    #[tokio::test]
    async fn a_component_that_exits_ends_the_wait_with_its_log() {
        let logs = std::env::temp_dir().join(format!("faastwin-until-{}", std::process::id()));
        let dying = crate::process::start(
            "kine",
            Path::new("/bin/sh"),
            &[
                "-c".into(),
                "echo 'listen tcp 127.0.0.1:40775: bind: address already in use' >&2; exit 1"
                    .into(),
            ],
            &logs,
            None,
            None,
        )
        .unwrap();
        let started = Instant::now();
        let err = until(
            "the API server",
            Duration::from_secs(60),
            &logs.join("kube-apiserver.log"),
            std::slice::from_ref(&dying),
            || async { false },
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(20));
        let message = err.to_string();
        assert!(
            message.starts_with("kine exited while the API server was awaited")
                && message.contains("address already in use"),
            "{message}"
        );
        // A component just started (its command maybe not yet executed) is not gone, and
        // live components do not end the wait: the timeout does.
        let sleeper = crate::process::start(
            "sleeper",
            Path::new("/bin/sleep"),
            &["5".into()],
            &logs,
            None,
            None,
        )
        .unwrap();
        assert!(!crate::process::gone(&sleeper));
        let err = until(
            "nothing",
            Duration::from_millis(300),
            &logs.join("kine.log"),
            std::slice::from_ref(&sleeper),
            || async { false },
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().starts_with("nothing not ready after 0 s"),
            "{err}"
        );
        crate::process::stop(&sleeper, Duration::ZERO);
        std::fs::remove_dir_all(&logs).unwrap();
    }
}
