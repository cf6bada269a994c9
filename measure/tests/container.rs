//! The container platform: one `podman run --rm` of the worker image per invocation. Needs
//! podman and builds the image with `workers/container/build-image.sh` (cached after the
//! first build); set `FAASTWIN_NO_PODMAN=1` to skip.

use std::path::Path;
use std::sync::Arc;

use faastwin_measure::{Launch, ProcessPlatform, SubmitPolicy};

use crate::{check_succeeded, host, measure, options, relay_dataset};

const IMAGE: &str = "localhost/faastwin-worker:measure-test";

/// Builds the worker image from the current sources (cached by cargo and podman); once per
/// test binary.
fn build_image() {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../workers/container/build-image.sh");
        let built = std::process::Command::new(script)
            .arg(IMAGE)
            .output()
            .expect("podman and cargo available");
        assert!(
            built.status.success(),
            "image build failed: {}",
            String::from_utf8_lossy(&built.stderr)
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invocation_is_one_container() {
    if !crate::components::podman() {
        return;
    }
    build_image();

    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 3);
    let out = dir.path().join("run");
    std::fs::create_dir_all(out.join("results")).unwrap();
    let platform = Arc::new(ProcessPlatform::new(Launch::Container {
        image: IMAGE.into(),
        dataset: dataset.dir.clone(),
        results: out.join("results"),
    }));
    let outcome = measure(
        platform,
        options("container", 1, vec![host()], SubmitPolicy::Sequential),
        dataset,
        &out,
    )
    .await;
    assert_eq!(outcome.records.len(), 3);
    for r in &outcome.records {
        check_succeeded(r);
        // Container start is what this baseline adds: far more than a process spawn.
        assert!(r.startup_s.unwrap() > 0.005, "{r:?}");
    }
    assert_eq!(std::fs::read_dir(out.join("results")).unwrap().count(), 3);
    check_component_cpu(&out, 3);
}

/// Issue 30: a container run records what podman's client, conmon with runc, and the
/// containers spent in CPU (the last two from the run's own cgroup, which podman manages when
/// its cgroup manager is cgroupfs), and leaves no cgroup of the run behind.
fn check_component_cpu(out: &Path, containers: usize) {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let node = &meta["node_cpu"];
    let components = node["components"].as_object().expect("components recorded");
    let cpu = |name: &str| components.get(name).and_then(serde_json::Value::as_f64);
    let n = containers as f64;
    // A podman client is a Go program that talks to its store: tens of ms at least.
    let podman = cpu("podman").expect("podman's CPU");
    assert!(podman >= 0.02 * n, "{components:?}");
    let manager = std::process::Command::new("podman")
        .args(["info", "--format", "{{.Host.CgroupManager}}"])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&manager.stdout).trim() == "cgroupfs" {
        // runc's create, start and delete are processes of their own, each ms of CPU.
        let conmon = cpu("conmon+runc").expect("conmon's cgroup");
        let bodies = cpu("containers").expect("the containers' cgroup");
        assert!(conmon >= 0.005 * n && bodies > 0.0, "{components:?}");
        let busy = node["busy_s"].as_f64().unwrap();
        assert!(
            podman + conmon + bodies <= busy + 0.1,
            "the components are part of what the machine spent ({busy} s): {components:?}"
        );
    } else {
        assert_eq!(components.len(), 1, "{components:?}");
    }
    let run_id = meta["options"]["run_id"].as_str().unwrap();
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let left = hierarchy.path().join(format!("faastwin-{run_id}"));
        assert!(!left.exists(), "{} left behind", left.display());
    }
}

/// Issue 25: on logical nodes each container gets its node's CPUs as its cpuset
/// (`podman --cpuset-cpus`), and the body inside was allowed those and no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_on_a_logical_node_runs_on_that_nodes_cpus_only() {
    if !crate::components::podman() {
        return;
    }
    let cpus = faastwin_measure::nodes::cpus_allowed().unwrap();
    if cpus.len() < 2 {
        eprintln!("one CPU: no two nodes can own one each");
        return;
    }
    build_image();
    let nodes = faastwin_measure::nodes::split(2, &cpus).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 4);
    let out = dir.path().join("run");
    std::fs::create_dir_all(out.join("results")).unwrap();
    let platform = ProcessPlatform::new(Launch::Container {
        image: IMAGE.into(),
        dataset: dataset.dir.clone(),
        results: out.join("results"),
    })
    .with_logical_nodes(2)
    .unwrap();
    let opts = options(
        "container",
        2,
        vec!["n1".into(), "n2".into()],
        SubmitPolicy::Sequential,
    );
    let outcome = measure(Arc::new(platform), opts, dataset, &out).await;
    assert_eq!(outcome.records.len(), 4);
    for r in &outcome.records {
        check_succeeded(r);
        let node = nodes.iter().find(|n| n.name == r.node).unwrap();
        assert_eq!(r.w_cpus, Some(node.cpu_list()), "{}", r.node);
    }
}
