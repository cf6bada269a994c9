//! An instance's life on this machine: up (step by step), status, a component restarted, down —
//! and down stops only what up started: a process running the very same binary with other
//! arguments, started by someone else, survives.

use std::path::Path;
use std::process::{Command, Stdio};

use faastwin_models::ClusterStep;

use crate::testbed;

fn processes_mentioning(text: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| !c.is_empty() && String::from_utf8_lossy(c).contains(text))
        .count()
}

#[test]
fn up_status_restart_and_down_stop_only_what_up_started() {
    if crate::components::testbed_skipped() {
        return;
    }
    let _one = crate::one_instance_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let instance = dir.path().join("tb");
    let up = testbed()
        .args([
            "up",
            "--no-probe",
            "--no-worker-image",
            "--node",
            "lifecycle-node",
            "--dir",
        ])
        .arg(&instance)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "{stderr}");
    // No fake nodes and no probe: every other step, in order, each once.
    let steps: Vec<ClusterStep> = stderr.lines().filter_map(ClusterStep::in_line).collect();
    assert_eq!(
        steps,
        [
            ClusterStep::ContainerdUp,
            ClusterStep::DatastoreUp,
            ClusterStep::ApiserverReady,
            ClusterStep::NodeReady,
            ClusterStep::FirstJobAccepted,
        ],
        "{stderr}"
    );
    let kubeconfig = String::from_utf8_lossy(&up.stdout).trim().to_owned();
    assert!(Path::new(&kubeconfig).is_file());

    // Someone else's process running the same kine binary, with other arguments.
    let kine = std::fs::read_to_string(instance.join("testbed.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&kine).unwrap();
    let kine_bin = state["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "kine")
        .unwrap()["command"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let mut bystander = Command::new(&kine_bin)
        .args([
            format!("--listen-address=127.0.0.1:{}", free()),
            format!("--metrics-bind-address=127.0.0.1:{}", free()),
            format!("--endpoint=sqlite://{}/bystander.db", dir.path().display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander runs"
    );

    let status = testbed()
        .args(["status", "--dir"])
        .arg(&instance)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success() && text.contains("API server: ready"),
        "{text}"
    );
    assert!(
        text.contains("kubelet") && !text.contains("stopped"),
        "{text}"
    );

    let restart = testbed()
        .args(["restart", "kube-apiserver", "--dir"])
        .arg(&instance)
        .output()
        .unwrap();
    assert!(
        restart.status.success(),
        "{}",
        String::from_utf8_lossy(&restart.stderr)
    );

    let down = testbed()
        .args(["down", "--dir"])
        .arg(&instance)
        .output()
        .unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let instance_text = instance.display().to_string();
    assert_eq!(
        processes_mentioning(&instance_text),
        0,
        "every component of the instance stopped"
    );
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander still runs"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
    let id = state["id"].as_str().unwrap();
    assert!(
        !Path::new(&format!("/sys/fs/cgroup/memory/faastwin-{id}")).exists(),
        "cgroup removed"
    );
    assert!(
        !Path::new(&format!("/sys/class/net/ftw-{id}")).exists(),
        "bridge removed"
    );
    assert!(
        instance.join("testbed.stopped.json").is_file() && !instance.join("testbed.json").exists()
    );
    let again = testbed()
        .args(["status", "--dir"])
        .arg(&instance)
        .output()
        .unwrap();
    assert!(!again.status.success(), "no testbed left to report");
}
