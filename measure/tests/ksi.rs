//! The KSI launcher's Slurm side on the real Slurm (two logical nodes): allocation, readiness,
//! kubeconfig discovery, startup timing and teardown.
//!
//! Plainly: no Kubernetes runs here. The run-workload script is a stand-in that starts no
//! cluster: on each node it writes a kubeconfig pointing at a stub API server this test runs on
//! 127.0.0.1 (answering only /version), then runs the workload script faastwin generated, as
//! KSI does once a node's cluster is Ready. Everything on the Slurm side is real.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use faastwin_measure::DriverClock;
use faastwin_measure::ksi::{KsiConfig, KsiLauncher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers every HTTP request with Kubernetes' /version document.
async fn stub_api_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let body = r#"{"major":"1","minor":"33","gitVersion":"v1.33.1-stub","gitCommit":"","gitTreeState":"","buildDate":"","goVersion":"","compiler":"","platform":"linux/amd64"}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

/// A stand-in for KSI's run-workload.sh: `run-workload.sh <workload-script> <shared-dir>`.
fn stand_in_run_workload(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("run-workload.sh");
    let script = format!(
        r#"#!/bin/bash
# Stand-in for KSI's run-workload.sh: starts NO Kubernetes cluster.
set -eu
workload="$1"; shared="$2"; procid="${{SLURM_PROCID:-0}}"
echo "[$procid] creating cluster (stand-in, nothing is started)"
sleep 0.3
cat > "$shared/kubeconfig-liqo-$procid.yaml.tmp" <<'KUBECONFIG'
apiVersion: v1
kind: Config
clusters: [{{name: ksi, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
contexts: [{{name: ksi, context: {{cluster: ksi, user: ksi}}}}]
current-context: ksi
users: [{{name: ksi, user: {{}}}}]
KUBECONFIG
mv "$shared/kubeconfig-liqo-$procid.yaml.tmp" "$shared/kubeconfig-liqo-$procid.yaml"
echo "[$procid] cluster ready"
bash "$workload"
echo "[$procid] deleting cluster"
"#
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_discovers_both_nodes_times_startup_and_tears_down() {
    if !crate::slurm::slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let port = stub_api_server().await;
    let config = KsiConfig {
        nodes: 2,
        run_workload: stand_in_run_workload(dir.path(), port),
        shared_dir: shared.clone(),
        srun_args: vec![],
        ready_timeout: Duration::from_secs(60),
        poll: Duration::from_millis(50),
    };
    let launcher = KsiLauncher::new(config, "ksitest", DriverClock::start()).unwrap();
    let clusters = launcher.launch().await.unwrap();
    assert_eq!(clusters.len(), 2);
    let mut nodes: Vec<String> = clusters
        .iter()
        .map(|c| c.startup.node.clone().unwrap())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["n1", "n2"], "one task per Slurm node");
    for c in &clusters {
        let s = &c.startup;
        let (kubeconfig, api) = (s.t_kubeconfig.unwrap(), s.t_api_ready.unwrap());
        assert!(s.t_launch < kubeconfig && kubeconfig <= api, "{s:?}");
        let overhead = s.overhead_s().unwrap();
        assert!(
            overhead > 0.3 && overhead < 60.0,
            "the stand-in sleeps 0.3 s before its kubeconfig: {overhead}"
        );
        assert_eq!(
            c.client.apiserver_version().await.unwrap().git_version,
            "v1.33.1-stub"
        );
    }
    let log = launcher.log();
    assert!(
        log.iter().any(|(_, l)| l.contains("cluster ready")),
        "KSI output is kept: {log:?}"
    );
    assert!(
        log.windows(2).all(|w| w[0].0 <= w[1].0),
        "stamped in arrival order"
    );

    let status = launcher.teardown().await.expect("srun had started");
    assert!(
        status.success(),
        "the workload scripts returned and srun ended: {status}"
    );
    // Output lines are read by their own tasks; give the last ones a moment to arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        launcher
            .log()
            .iter()
            .filter(|(_, l)| l.contains("deleting cluster"))
            .count(),
        2
    );
    let queue = std::process::Command::new("squeue")
        .args(["-h", "-n", "faastwin-ksi-ksitest"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&queue.stdout).trim().is_empty(),
        "the allocation is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_run_workload_script_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = KsiConfig {
        nodes: 1,
        run_workload: dir.path().join("nope/run-workload.sh"),
        shared_dir: dir.path().to_owned(),
        srun_args: vec![],
        ready_timeout: Duration::from_secs(5),
        poll: Duration::from_millis(50),
    };
    let launcher = KsiLauncher::new(config, "ksitest2", DriverClock::start()).unwrap();
    let err = launcher.launch().await.err().unwrap().to_string();
    assert!(err.contains("nope/run-workload.sh"), "{err}");
}
