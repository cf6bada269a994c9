//! Configuration files of an instance's containerd, CNI network and kubelet.

use std::path::Path;

use crate::build::PAUSE_IMAGE;

/// containerd 1.6 (Debian's): its own root, state and sockets; CRI with our pause image, runc
/// with cgroupfs and its own runc root, and the instance's CNI configuration. The OOM score of
/// pods may not go below containerd's own (this VM's root lacks CAP_SYS_RESOURCE, so runc
/// cannot lower it: `restrict_oom_score_adj`).
pub(crate) fn containerd(dir: &Path, run: &Path, cni_conf: &Path) -> String {
    format!(
        r#"version = 2
root = "{dir}/containerd/root"
state = "{run}/containerd"
[grpc]
  address = "{run}/containerd.sock"
[ttrpc]
  address = "{run}/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  enable_selinux = false
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{run}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
"#,
        dir = dir.display(),
        run = run.display(),
        cni = cni_conf.display()
    )
}

/// A bridge network private to one node of this instance: pods get addresses on it and nothing
/// routes them anywhere (no gateway, no masquerading); the worker only reads and writes files.
pub(crate) fn cni(network: &str, bridge: &str, subnet: &str) -> String {
    format!(
        r#"{{
  "cniVersion": "0.4.0",
  "name": "{network}",
  "plugins": [
    {{
      "type": "bridge",
      "bridge": "{bridge}",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": false,
      "ipam": {{ "type": "host-local", "ranges": [[{{ "subnet": "{subnet}" }}]] }}
    }}
  ]
}}
"#
    )
}

/// The kubelet of a node (its directory `dir`, socket directory `run`): cgroupfs under the
/// node's own cgroup root `/<cgroup>`, no swap check, the instance's
/// containerd, loopback-only ports, no eviction (the disk may be fuller than a cluster likes),
/// pod logs under the instance directory. Its API answers no anonymous request: callers
/// authenticate by a certificate of the cluster's CA or a token the API server vouches for, and
/// the API server authorises each request (webhook authentication and authorisation, as kubeadm
/// sets them).
pub(crate) fn kubelet(
    dir: &Path,
    run: &Path,
    ca: &Path,
    cgroup: &str,
    port: u16,
    healthz: u16,
) -> String {
    format!(
        r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: {port}
healthzBindAddress: 127.0.0.1
healthzPort: {healthz}
readOnlyPort: 0
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup}
cgroupsPerQOS: true
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://{run}/containerd.sock
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
    cacheTTL: 2m0s
  x509:
    clientCAFile: {ca}
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 5m0s
    cacheUnauthorizedTTL: 30s
evictionHard:
  memory.available: "0%"
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
podLogsDir: {dir}/pod-logs
serializeImagePulls: false
resolvConf: /etc/resolv.conf
"#,
        dir = dir.display(),
        run = run.display(),
        ca = ca.display()
    )
}
