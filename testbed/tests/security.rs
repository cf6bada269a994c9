//! Issue 29.1: an instance grants nothing to the machine's other users. Every credential (a
//! token of the instance is cluster-admin, and with privileged pods that is root) and the
//! datastore (every Secret) is owner-only, the datastore's endpoint is a socket only its owner
//! can open, and neither the kubelet nor the API server answers an anonymous request for
//! anything but health; the checks run as `nobody`, the way another local user would try.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::testbed;

/// `nobody`'s user and group ids (Debian's).
const NOBODY: u32 = 65534;

/// Runs `program args` as `nobody`, with no supplementary groups.
fn as_nobody(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .uid(NOBODY)
        .gid(NOBODY)
        .current_dir("/")
        .output()
        .unwrap()
}

/// The HTTP status `curl` got for `url` (`000` when it could not connect), with `extra`
/// arguments, as root or as `nobody`.
fn http_status(url: &str, extra: &[&str], nobody: bool) -> String {
    let mut args = vec![
        "-sk",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
    ];
    args.extend_from_slice(extra);
    args.push(url);
    let out = if nobody {
        as_nobody("curl", &args)
    } else {
        Command::new("curl").args(&args).output().unwrap()
    };
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn another_local_user_can_neither_read_nor_use_an_instance() {
    if crate::components::testbed_skipped() {
        return;
    }
    let _one = crate::one_instance_at_a_time();
    let top = tempfile::tempdir().unwrap();
    // A parent everyone may enter, as /tmp is: only the instance's own modes keep them out.
    std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let instance = top.path().join("tb");
    // Two real nodes where the CPUs allow: node 2's identity, files and kubelet are checked too.
    let nodes = if std::thread::available_parallelism().map_or(1, |n| n.get()) % 2 == 0 {
        "2"
    } else {
        "1"
    };
    let up = testbed()
        .args([
            "up",
            "--no-probe",
            "--no-worker-image",
            "--node",
            "security-node",
            "--nodes",
            nodes,
            "--dir",
        ])
        .arg(&instance)
        .output()
        .unwrap();
    // Down however the test ends: a failed assertion must not leave an instance running.
    let _down = Down(&instance);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(instance.join("testbed.json")).unwrap())
            .unwrap();
    let run = PathBuf::from(state["run"].as_str().unwrap());
    let port = |name: &str| state["ports"][name].as_u64().unwrap();

    // Files that grant access, and the datastore: owner-only, unreadable to nobody.
    let mut secrets = vec![
        "kubeconfig",
        "admin.kubeconfig",
        "kubelet.kubeconfig",
        "pki/tokens.csv",
        "pki/ca.key",
        "pki/sa.key",
        "pki/apiserver-kubelet-client.key",
        "kine/state.db",
    ];
    if nodes == "2" {
        secrets.push("kubelet-2.kubeconfig");
    }
    for file in secrets {
        let path = instance.join(file);
        assert!(path.is_file(), "{file} exists");
        if !file.starts_with("kine/") {
            assert_eq!(mode(&path), 0o600, "{file}");
        }
        let read = as_nobody("cat", &[path.to_str().unwrap()]);
        assert!(
            !read.status.success() && read.stdout.is_empty(),
            "nobody read {file}"
        );
    }
    let node_dirs = [
        instance.join("nodes/security-node-2"),
        run.join("security-node-2"),
    ];
    for dir in [&instance, &run]
        .into_iter()
        .chain(node_dirs.iter().filter(|_| nodes == "2"))
    {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
        let list = as_nobody("ls", &[dir.to_str().unwrap()]);
        assert!(!list.status.success(), "nobody listed {}", dir.display());
    }

    // The datastore's endpoint: a socket in the owner-only run directory, no TCP port.
    let kine = run.join("kine.sock");
    assert!(kine.exists(), "kine listens on {}", kine.display());
    let kine = kine.to_str().unwrap();
    assert_eq!(
        http_status(
            "http://kine/",
            &["--http2-prior-knowledge", "--unix-socket", kine],
            true
        ),
        "000",
        "nobody connected to the datastore"
    );
    assert_ne!(
        http_status(
            "http://kine/",
            &["--http2-prior-knowledge", "--unix-socket", kine],
            false
        ),
        "000",
        "the owner connects to the datastore"
    );

    // The kubelet: no anonymous request, while a token the API server vouches for works (so
    // the refusal is authentication, not a broken kubelet).
    let kubeconfig = std::fs::read_to_string(instance.join("kubeconfig")).unwrap();
    let token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap();
    let bearer = format!("Authorization: Bearer {token}");
    let real_nodes = state["nodes"].as_array().unwrap();
    assert_eq!(real_nodes.len().to_string(), nodes);
    for node in real_nodes {
        let pods = format!(
            "https://127.0.0.1:{}/pods",
            node["kubelet"].as_u64().unwrap()
        );
        assert_eq!(
            http_status(&pods, &[], true),
            "401",
            "anonymous kubelet /pods on {}",
            node["name"]
        );
        assert_eq!(
            http_status(&pods, &["-H", &bearer], false),
            "200",
            "the admin's token on the kubelet of {}",
            node["name"]
        );
    }

    // The API server: health for anyone, nothing else without a token.
    let api = format!("https://127.0.0.1:{}", port("apiserver"));
    for path in ["/api/v1/secrets", "/api/v1/namespaces", "/api/v1/nodes"] {
        let status = http_status(&format!("{api}{path}"), &[], true);
        assert!(
            status == "401" || status == "403",
            "anonymous {path}: {status}"
        );
    }
    assert_eq!(http_status(&format!("{api}/readyz"), &[], true), "200");
}

/// Stops the instance in its directory when dropped.
struct Down<'a>(&'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let down = testbed()
            .args(["down", "--dir"])
            .arg(self.0)
            .output()
            .unwrap();
        if !std::thread::panicking() {
            assert!(
                down.status.success(),
                "{}",
                String::from_utf8_lossy(&down.stderr)
            );
        }
    }
}
