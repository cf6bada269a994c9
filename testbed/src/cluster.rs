//! Starting, restarting and stopping one instance, and its state file `DIR/testbed.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use faastwin_models::ClusterStep;

use crate::build::{Artifacts, run};
use crate::error::{TestbedError, io};
use crate::node::RealNode;
use crate::process::{Component, alive, start, stop};
use crate::{config, pki, ready};

/// How to start an instance.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The instance directory (state, logs, data, kubeconfig).
    pub dir: PathBuf,
    /// The real node's name (node 1's, with several).
    pub node: String,
    /// Real nodes, each owning an equal share of the CPUs this process may use; node 1 also runs
    /// the control plane.
    pub nodes: u32,
    /// Fake nodes (kwok) to add: `fake-0` … `fake-<M-1>`.
    pub fake_nodes: u32,
    /// Also write the admin kubeconfig here (KSI's `kubeconfig-liqo-<procid>.yaml`).
    pub kubeconfig_copy: Option<PathBuf>,
    /// Run a probe Job to completion before returning.
    pub probe: bool,
    /// Reuse a running instance in `dir` instead of refusing to start a second one.
    pub reuse: bool,
    /// The built components.
    pub artifacts: Artifacts,
    /// The worker image to import (its archive is `artifacts.worker_image()`).
    pub worker_image: String,
    /// Longest wait for each step.
    pub timeout: Duration,
}

/// One step of a start, with when it was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupStep {
    /// The step (named as in `testbed: step` lines: `containerd_up`, … `probe_job_done`).
    pub step: ClusterStep,
    /// Seconds since the start began.
    pub seconds: f64,
    /// Wall clock [Unix ns].
    pub unix_ns: u64,
}

/// The ports of an instance, all on 127.0.0.1. (kine's etcd endpoint, which answers anyone who
/// connects, is no port: it is `RUN/kine.sock`, owner-only.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ports {
    /// kine's metrics.
    pub kine_metrics: u16,
    /// The API server.
    pub apiserver: u16,
    /// The controller manager's health endpoint.
    pub controller_manager: u16,
    /// The scheduler's health endpoint.
    pub scheduler: u16,
}

/// A started instance: `DIR/testbed.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Short id, from the directory: names the cgroup, bridge, network and socket directory.
    pub id: String,
    /// The instance directory.
    pub dir: PathBuf,
    /// Its socket directory (`/run/faastwin-testbed/<id>`).
    pub run: PathBuf,
    /// The real node (node 1, with several).
    pub node: String,
    /// The real nodes, node 1 first (empty in the state of an instance from before there could
    /// be several: then [`Instance::real_nodes`] says node 1).
    #[serde(default)]
    pub nodes: Vec<RealNode>,
    /// The fake nodes.
    pub fake_nodes: Vec<String>,
    /// Its ports.
    pub ports: Ports,
    /// Started components, in start order.
    pub components: Vec<Component>,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The start, step by step.
    pub startup: Vec<StartupStep>,
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The short id of an instance directory.
fn id_of(dir: &Path) -> String {
    hex::encode(&Sha256::digest(dir.as_os_str().as_encoded_bytes())[..4])
}

/// `n` distinct free ports: each listener is held until all are chosen, so the kernel cannot
/// hand one port out twice. (Another process may still take one before its component binds
/// it: a component that then exits ends `up` at once, naming the port in its log's tail.)
fn free_ports(n: usize) -> Result<Vec<u16>, TestbedError> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io(Path::new("127.0.0.1:0")))?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr().map_err(io(Path::new("127.0.0.1:0")))?.port()))
        .collect()
}

/// The cgroup hierarchies the kubelet uses (cgroup v1, one mount each).
const HIERARCHIES: [&str; 9] = [
    "cpu", "cpuacct", "cpuset", "memory", "pids", "systemd", "blkio", "devices", "freezer",
];

/// Creates a node's cgroup root `/<name>` in every mounted hierarchy (the kubelet's cgroup
/// root must exist); cpuset needs its CPUs and memory nodes copied from the root. All of the
/// root's CPUs, not the node's: with the `none` CPU manager policy the kubelet writes every CPU
/// of the machine into its `kubepods` cpuset, which a narrower parent refuses. The node's
/// processes keep to its CPUs by their affinity instead, which Linux (6.2 on) keeps across
/// their moves into the pods' cpusets (`docs/experiments/confinement.md`).
fn create_cgroups(name: &str) -> Result<(), TestbedError> {
    for h in HIERARCHIES {
        let root = Path::new("/sys/fs/cgroup").join(h);
        if !root.is_dir() {
            continue;
        }
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        if h == "cpuset" {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let value = std::fs::read(root.join(file)).map_err(io(&root.join(file)))?;
                std::fs::write(dir.join(file), value).map_err(io(&dir.join(file)))?;
            }
        }
    }
    Ok(())
}

impl Instance {
    /// Reads `DIR/testbed.json`.
    pub fn read(dir: &Path) -> Result<Instance, TestbedError> {
        let path = dir.join("testbed.json");
        let text = std::fs::read_to_string(&path).map_err(|e| TestbedError::State {
            dir: dir.to_owned(),
            detail: format!(
                "no testbed here ({}: {e}); start one with faastwin-testbed up",
                path.display()
            ),
        })?;
        serde_json::from_str(&text).map_err(|e| TestbedError::State {
            dir: dir.to_owned(),
            detail: format!("{} is not a testbed state: {e}", path.display()),
        })
    }

    fn write(&self) -> Result<(), TestbedError> {
        let path = self.dir.join("testbed.json");
        let tmp = self.dir.join("testbed.json.tmp");
        let json = serde_json::to_vec_pretty(self).map_err(|e| TestbedError::State {
            dir: self.dir.clone(),
            detail: format!("cannot encode the state: {e}"),
        })?;
        std::fs::write(&tmp, json).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    /// True while the API server of this instance runs.
    pub fn apiserver_alive(&self) -> bool {
        self.component("kube-apiserver").is_some_and(alive)
    }

    /// The real nodes, node 1 first.
    pub fn real_nodes(&self) -> Vec<RealNode> {
        if !self.nodes.is_empty() {
            return self.nodes.clone();
        }
        vec![RealNode {
            name: self.node.clone(),
            index: 1,
            cpus: String::new(),
            kubelet: 0,
            kubelet_healthz: 0,
        }]
    }

    /// Node 1's CPUs, where the control plane runs (none recorded: anywhere).
    fn control_plane_cpus(&self) -> Option<String> {
        self.nodes.first().map(|n| n.cpus.clone())
    }

    fn containerd_socket(&self, node: &RealNode) -> PathBuf {
        node.run(&self.run).join("containerd.sock")
    }

    /// kine's etcd endpoint (unauthenticated, so a socket only its owner can open).
    fn kine_socket(&self) -> PathBuf {
        self.run.join("kine.sock")
    }
}

/// Records steps as they are reached and announces them on stderr.
struct Steps {
    started: Instant,
    steps: Vec<StartupStep>,
}

impl Steps {
    fn reached(&mut self, step: ClusterStep) {
        let seconds = self.started.elapsed().as_secs_f64();
        eprintln!("{}", step.line(seconds));
        self.steps.push(StartupStep {
            step,
            seconds,
            unix_ns: unix_ns(),
        });
    }
}

/// Starts an instance and waits until a Job can be accepted (and, with `probe`, run).
pub async fn up(options: &UpOptions) -> Result<Instance, TestbedError> {
    let dir = std::path::absolute(&options.dir).map_err(io(&options.dir))?;
    if let Ok(existing) = Instance::read(&dir) {
        if existing.apiserver_alive() {
            if options.reuse {
                return Ok(existing);
            }
            return Err(TestbedError::State {
                dir,
                detail: "a testbed is already up here (faastwin-testbed down first, or --reuse)"
                    .into(),
            });
        }
        // A stopped or crashed instance: clear what is left of it first.
        down(&dir).await?;
    }
    if !options.artifacts.complete() {
        return Err(TestbedError::Missing {
            tool: "the testbed's components".into(),
            hint: format!(
                "none in {}; run `faastwin-testbed build` first",
                options.artifacts.cache.display()
            ),
        });
    }
    let cpus = faastwin_models::cpus::allowed().ok_or_else(|| TestbedError::Options {
        detail: "the testbed needs Linux's Cpus_allowed_list in /proc/self/status".into(),
    })?;
    let mut nodes = crate::node::lay_out(options.nodes, &options.node, &cpus)?;
    let mut steps = Steps {
        started: Instant::now(),
        steps: Vec::new(),
    };
    let id = id_of(&dir);
    let run_dir = Path::new("/run/faastwin-testbed").join(&id);
    // The instance directory holds every credential and the datastore (every Secret), the
    // socket directory the runtime's and datastore's sockets: neither is for other users.
    for d in [&dir, &run_dir, &dir.join("kine")] {
        pki::private_dir(d)?;
    }
    for node in &nodes {
        pki::private_dir(&node.dir(&dir))?;
        pki::private_dir(&node.run(&run_dir))?;
        for d in [node.dir(&dir).join("cni"), node.dir(&dir).join("pod-logs")] {
            std::fs::create_dir_all(&d).map_err(io(&d))?;
        }
    }
    let logs = dir.join("logs");
    let free = free_ports(4 + 2 * nodes.len())?;
    let ports = Ports {
        kine_metrics: free[0],
        apiserver: free[1],
        controller_manager: free[2],
        scheduler: free[3],
    };
    for (node, kubelet) in nodes.iter_mut().zip(free[4..].chunks(2)) {
        (node.kubelet, node.kubelet_healthz) = (kubelet[0], kubelet[1]);
    }
    let kubelets: Vec<(String, String)> = nodes
        .iter()
        .map(|n| (n.identity(), n.name.clone()))
        .collect();
    let (pki, identities) = pki::create(&dir.join("pki"), &kubelets)?;
    let server = format!("https://127.0.0.1:{}", ports.apiserver);
    let mut kubeconfigs = BTreeMap::new();
    let mut admin = String::new();
    for (name, user, token, _) in &identities.users {
        let path = dir.join(format!("{name}.kubeconfig"));
        let text = pki::kubeconfig(&server, &pki.ca(), user, token);
        pki::write_private(&path, text.as_bytes())?;
        if name == "admin" {
            admin = text;
        }
        kubeconfigs.insert(name.clone(), path);
    }
    let kubeconfig = dir.join("kubeconfig");
    pki::write_private(&kubeconfig, admin.as_bytes())?;
    let mut instance = Instance {
        id: id.clone(),
        dir: dir.clone(),
        run: run_dir.clone(),
        node: options.node.clone(),
        nodes,
        fake_nodes: Vec::new(),
        ports: ports.clone(),
        components: Vec::new(),
        kubeconfig: kubeconfig.clone(),
        startup: Vec::new(),
    };
    // From here on every started process is recorded at once, so `down` finds it.
    let result = start_all(
        options,
        &mut instance,
        &pki,
        &kubeconfigs,
        &logs,
        &mut steps,
    )
    .await;
    instance.startup = steps.steps;
    instance.write()?;
    result?;
    if let Some(copy) = &options.kubeconfig_copy {
        pki::write_private(copy, admin.as_bytes())?;
    }
    Ok(instance)
}

fn arg(name: &str, value: impl std::fmt::Display) -> String {
    format!("--{name}={value}")
}

/// Starts the components one after another, each recorded in the instance file as soon as it
/// runs (so `down` finds it), each waited for until it is ready, each step said as reached.
async fn start_all(
    options: &UpOptions,
    instance: &mut Instance,
    pki: &pki::Pki,
    kubeconfigs: &BTreeMap<String, PathBuf>,
    logs: &Path,
    steps: &mut Steps,
) -> Result<(), TestbedError> {
    let mut startup = Startup {
        options,
        instance,
        pki,
        kubeconfigs,
        logs,
        steps,
    };
    let nodes = startup.instance.nodes.clone();
    for node in &nodes {
        startup.container_runtime(node).await?;
    }
    startup.steps.reached(ClusterStep::ContainerdUp);
    startup.datastore().await?;
    let client = startup.apiserver().await?;
    startup.controllers()?;
    for node in &nodes {
        startup.kubelet(node)?;
    }
    for node in &nodes {
        startup.node_ready(&client, node).await?;
    }
    startup.steps.reached(ClusterStep::NodeReady);
    if options.fake_nodes > 0 {
        startup.fake_nodes(&client).await?;
    }
    startup.ready_for_jobs(&client).await
}

/// What starting an instance's components needs, and the instance they are recorded in.
struct Startup<'a> {
    options: &'a UpOptions,
    instance: &'a mut Instance,
    pki: &'a pki::Pki,
    kubeconfigs: &'a BTreeMap<String, PathBuf>,
    logs: &'a Path,
    steps: &'a mut Steps,
}

impl Startup<'_> {
    /// Starts a component of the control plane (on node 1's CPUs) and records it at once;
    /// returns its log.
    fn launch(
        &mut self,
        name: &str,
        binary: &Path,
        args: &[String],
    ) -> Result<PathBuf, TestbedError> {
        let cpus = self.instance.control_plane_cpus();
        self.launch_on(cpus.as_deref(), name, binary, args)
    }

    /// Starts a component on `cpus` and records it at once; returns its log.
    fn launch_on(
        &mut self,
        cpus: Option<&str>,
        name: &str,
        binary: &Path,
        args: &[String],
    ) -> Result<PathBuf, TestbedError> {
        let accounting = self.accounting_of(name);
        let component = start(name, binary, args, self.logs, cpus, accounting.as_deref())?;
        let log = component.log.clone();
        self.instance.components.push(component);
        self.instance.write()?;
        Ok(log)
    }

    /// The cpuacct cgroup component `name` is accounted in: `/<its node's cgroup>/faastwin-<what
    /// it is>` (the control plane's and kwok's on node 1, where they run), or none where
    /// cpuacct is not a hierarchy of its own.
    fn accounting_of(&self, name: &str) -> Option<String> {
        crate::process::cpuacct_root()?;
        let id = &self.instance.id;
        for node in &self.instance.nodes {
            for what in ["kubelet", "containerd"] {
                if name == node.component(what) {
                    return Some(format!("{}/faastwin-{what}", node.cgroup(id)));
                }
            }
        }
        let first = self.instance.nodes.first()?;
        Some(format!("{}/faastwin-{name}", first.cgroup(id)))
    }

    /// Waits until `check` holds; a component that exits meanwhile ends the wait with its log.
    async fn wait<F, Fut>(&self, what: &str, log: &Path, check: F) -> Result<(), TestbedError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        ready::until(
            what,
            self.options.timeout,
            log,
            &self.instance.components,
            check,
        )
        .await
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.options.artifacts.bin(name)
    }

    /// A node's containerd with its pod network's configuration, the pause and worker images
    /// imported, in the node's cgroup root and on its CPUs.
    async fn container_runtime(&mut self, node: &RealNode) -> Result<(), TestbedError> {
        let id = &self.instance.id;
        let dir = node.dir(&self.instance.dir);
        let cni_conf = dir.join("cni");
        let cni_file = cni_conf.join("10-faastwin.conflist");
        std::fs::write(
            &cni_file,
            config::cni(&node.network(id), &node.bridge(id), &node.subnet()),
        )
        .map_err(io(&cni_file))?;
        let containerd_toml = dir.join("containerd.toml");
        std::fs::write(
            &containerd_toml,
            config::containerd(&dir, &node.run(&self.instance.run), &cni_conf),
        )
        .map_err(io(&containerd_toml))?;
        create_cgroups(&node.cgroup(id))?;
        let log = self.launch_on(
            Some(&node.cpus),
            &node.component("containerd"),
            Path::new("/usr/bin/containerd"),
            &[arg("config", containerd_toml.display())],
        )?;
        let socket = self.instance.containerd_socket(node);
        self.wait(&node.component("containerd"), &log, || async {
            socket.exists()
        })
        .await?;
        let artifacts = &self.options.artifacts;
        for archive in [artifacts.pause_image(), artifacts.worker_image()] {
            if archive.is_file() {
                run(
                    Command::new("ctr")
                        .arg("--address")
                        .arg(&socket)
                        .args(["--namespace", "k8s.io", "images", "import"])
                        .arg(&archive),
                    &format!("importing {} into {}", archive.display(), node.name),
                )?;
            }
        }
        Ok(())
    }

    /// kine on SQLite, listening on a socket in the instance's private socket directory.
    async fn datastore(&mut self) -> Result<(), TestbedError> {
        let kine_socket = self.instance.kine_socket();
        let args = [
            arg(
                "endpoint",
                format!(
                    "sqlite://{}/kine/state.db?_journal=WAL&cache=shared&_busy_timeout=30000",
                    self.instance.dir.display()
                ),
            ),
            arg(
                "listen-address",
                format!("unix://{}", kine_socket.display()),
            ),
            arg(
                "metrics-bind-address",
                format!("127.0.0.1:{}", self.instance.ports.kine_metrics),
            ),
        ];
        let log = self.launch("kine", &self.bin("kine"), &args)?;
        self.wait("kine", &log, || ready::accepting(&kine_socket))
            .await?;
        self.steps.reached(ClusterStep::DatastoreUp);
        Ok(())
    }

    /// The API server; returns a client of the admin kubeconfig once it answers.
    async fn apiserver(&mut self) -> Result<kube::Client, TestbedError> {
        let args = apiserver_args(
            &self.instance.dir,
            self.pki,
            &self.instance.ports,
            &self.instance.kine_socket(),
        );
        let log = self.launch("kube-apiserver", &self.bin("kube-apiserver"), &args)?;
        let client = ready::client(&self.instance.kubeconfig).await?;
        self.wait("the API server", &log, || ready::api_ready(&client))
            .await?;
        self.steps.reached(ClusterStep::ApiserverReady);
        Ok(client)
    }

    /// The controller manager and the scheduler (their readiness shows in the node's and the
    /// first Job's).
    fn controllers(&mut self) -> Result<(), TestbedError> {
        let dir = &self.instance.dir;
        let ports = &self.instance.ports;
        // What both say alike: their identity, their own loopback port and certificates.
        let common = |name: &str, port: u16| {
            let kubeconfig = self.kubeconfigs[name].display();
            vec![
                arg("kubeconfig", &kubeconfig),
                arg("authentication-kubeconfig", &kubeconfig),
                arg("authorization-kubeconfig", &kubeconfig),
                arg("bind-address", "127.0.0.1"),
                arg("secure-port", port),
                arg("cert-dir", dir.join(name).display()),
                arg("leader-elect", false),
            ]
        };
        let mut controller_manager = common("controller-manager", ports.controller_manager);
        controller_manager.extend([
            arg("use-service-account-credentials", true),
            arg(
                "service-account-private-key-file",
                self.pki.service_account_key().display(),
            ),
            arg("root-ca-file", self.pki.ca().display()),
            arg("cluster-cidr", "10.244.0.0/16"),
            arg("service-cluster-ip-range", "10.43.0.0/16"),
            arg(
                "controllers",
                "*,-nodeipam,-cloud-node-lifecycle,-route,-service",
            ),
        ]);
        let scheduler = common("scheduler", ports.scheduler);
        let controller_manager_bin = self.bin("kube-controller-manager");
        self.launch(
            "kube-controller-manager",
            &controller_manager_bin,
            &controller_manager,
        )?;
        self.launch("kube-scheduler", &self.bin("kube-scheduler"), &scheduler)?;
        Ok(())
    }

    /// A node's kubelet, on the node's CPUs.
    fn kubelet(&mut self, node: &RealNode) -> Result<(), TestbedError> {
        let dir = node.dir(&self.instance.dir);
        let kubelet_yaml = dir.join("kubelet.yaml");
        std::fs::write(
            &kubelet_yaml,
            config::kubelet(
                &dir,
                &node.run(&self.instance.run),
                &self.pki.ca(),
                &node.cgroup(&self.instance.id),
                node.kubelet,
                node.kubelet_healthz,
            ),
        )
        .map_err(io(&kubelet_yaml))?;
        let args = [
            arg("config", kubelet_yaml.display()),
            arg("kubeconfig", self.kubeconfigs[&node.identity()].display()),
            arg("hostname-override", &node.name),
            arg("root-dir", dir.join("kubelet").display()),
            arg("cert-dir", dir.join("kubelet/pki").display()),
        ];
        self.launch_on(
            Some(&node.cpus),
            &node.component("kubelet"),
            &self.bin("kubelet"),
            &args,
        )?;
        Ok(())
    }

    /// Waits until `node` is Ready, then annotates it with the CPUs it owns
    /// (`faastwin_models::cpus::NODE_ANNOTATION`), which measure records in `run.json`.
    async fn node_ready(
        &mut self,
        client: &kube::Client,
        node: &RealNode,
    ) -> Result<(), TestbedError> {
        let log = self.logs.join(format!("{}.log", node.component("kubelet")));
        self.wait(&format!("node {}", node.name), &log, || {
            ready::node_ready(client, &node.name)
        })
        .await?;
        // With the cgroup whose cpuacct sums the node's CPU time by component, where it does.
        let mut annotations =
            serde_json::json!({faastwin_models::cpus::NODE_ANNOTATION: node.cpus});
        if crate::process::cpuacct_root().is_some() {
            annotations[faastwin_models::cpus::CGROUP_ANNOTATION] =
                format!("/{}", node.cgroup(&self.instance.id)).into();
        }
        let patch = serde_json::json!({"metadata": {"annotations": annotations}});
        Api::<Node>::all(client.clone())
            .patch(
                &node.name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .map_err(|source| TestbedError::Kube {
                what: format!("annotating node {} with its CPUs", node.name),
                source: Box::new(source),
            })?;
        Ok(())
    }

    /// Registers `fake-0..M` (labelled `type=kwok`, annotated for kwok, not tainted: only this
    /// testbed's Jobs run here) and starts kwok to drive them and their pods. kwok's own server
    /// (exec, logs and port-forward of fake pods, unauthenticated) is not started: nothing here
    /// uses it, and an exec rule would make it run host commands for anyone who connects.
    async fn fake_nodes(&mut self, client: &kube::Client) -> Result<(), TestbedError> {
        for i in 0..self.options.fake_nodes {
            let name = format!("fake-{i}");
            register_fake_node(client, &self.instance.id, &self.instance.dir, &name).await?;
            self.instance.fake_nodes.push(name);
        }
        let args = [
            arg("kubeconfig", self.instance.kubeconfig.display()),
            arg(
                "manage-nodes-with-annotation-selector",
                "kwok.x-k8s.io/node=fake",
            ),
            arg("cidr", "10.245.0.0/16"),
            arg("node-ip", "127.0.0.1"),
        ];
        let log = self.launch("kwok", &self.bin("kwok"), &args)?;
        let fake = self.instance.fake_nodes.clone();
        self.wait("the fake nodes", &log, || async {
            for name in &fake {
                if !ready::node_ready(client, name).await {
                    return false;
                }
            }
            true
        })
        .await?;
        self.steps.reached(ClusterStep::FakeNodesReady);
        Ok(())
    }

    /// Waits until the default service account exists and a Job is accepted (and, with
    /// `probe`, one runs to completion on each real node).
    async fn ready_for_jobs(&mut self, client: &kube::Client) -> Result<(), TestbedError> {
        let apiserver_log = self.logs.join("kube-apiserver.log");
        let node = &self.instance.node;
        let image = &self.options.worker_image;
        self.wait("the default service account", &apiserver_log, || {
            ready::default_service_account(client)
        })
        .await?;
        self.wait("a Job to be accepted", &apiserver_log, || {
            ready::job_accepted(client, node, image)
        })
        .await?;
        self.steps.reached(ClusterStep::FirstJobAccepted);
        if self.options.probe {
            for node in &self.instance.nodes {
                let kubelet_log = self.logs.join(format!("{}.log", node.component("kubelet")));
                ready::probe(
                    client,
                    &node.name,
                    image,
                    self.options.timeout,
                    &kubelet_log,
                )
                .await?;
            }
            self.steps.reached(ClusterStep::ProbeJobDone);
        }
        Ok(())
    }
}

fn apiserver_args(dir: &Path, pki: &pki::Pki, ports: &Ports, kine: &Path) -> Vec<String> {
    vec![
        arg("etcd-servers", format!("unix://{}", kine.display())),
        arg("bind-address", "127.0.0.1"),
        arg("advertise-address", "127.0.0.1"),
        arg("secure-port", ports.apiserver),
        arg("tls-cert-file", pki.serving_cert().display()),
        arg("tls-private-key-file", pki.serving_key().display()),
        arg("client-ca-file", pki.ca().display()),
        arg("token-auth-file", pki.tokens().display()),
        arg(
            "kubelet-client-certificate",
            pki.kubelet_client_cert().display(),
        ),
        arg("kubelet-client-key", pki.kubelet_client_key().display()),
        arg("authorization-mode", "Node,RBAC"),
        arg("enable-admission-plugins", "NodeRestriction"),
        arg("allow-privileged", true),
        arg(
            "service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
        ),
        arg(
            "service-account-key-file",
            pki.service_account_public().display(),
        ),
        arg(
            "service-account-signing-key-file",
            pki.service_account_key().display(),
        ),
        arg("service-cluster-ip-range", "10.43.0.0/16"),
        // A loopback address cannot be the `kubernetes` Service's endpoint; nothing here
        // uses that Service.
        arg("endpoint-reconciler-type", "none"),
        arg("profiling", false),
        arg("cert-dir", dir.join("apiserver").display()),
    ]
}

/// Creates one fake node for kwok (already there is fine: a restarted `up` finds its own).
async fn register_fake_node(
    client: &kube::Client,
    id: &str,
    dir: &Path,
    name: &str,
) -> Result<(), TestbedError> {
    let node: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"type": "kwok", "kubernetes.io/hostname": name, "faastwin.io/testbed": id},
            "annotations": {"kwok.x-k8s.io/node": "fake"}
        },
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}
        }
    }))
    .map_err(|e| TestbedError::State {
        dir: dir.to_owned(),
        detail: format!("fake node manifest: {e}"),
    })?;
    let nodes: Api<Node> = Api::all(client.clone());
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(TestbedError::Kube {
            what: format!("creating fake node {name}"),
            source: Box::new(source),
        }),
    }
}

/// How many times [`restart`] starts a component that exits at once.
const STARTS: u32 = 3;

/// Kills the API server of the instance in `dir` (SIGKILL, as a crash would) and starts it
/// again with the same command line, waiting until it is ready; returns how long it was down.
pub async fn restart(
    dir: &Path,
    component: &str,
    timeout: Duration,
) -> Result<Duration, TestbedError> {
    let mut instance = Instance::read(dir)?;
    let index = instance
        .components
        .iter()
        .position(|c| c.name == component)
        .ok_or_else(|| TestbedError::State {
            dir: dir.to_owned(),
            detail: format!(
                "no component {component} (there are: {})",
                instance
                    .components
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    let old = instance.components[index].clone();
    let down_at = Instant::now();
    stop(&old, Duration::ZERO);
    let (program, args) = old
        .command
        .split_first()
        .ok_or_else(|| TestbedError::State {
            dir: dir.to_owned(),
            detail: format!("{component} has no recorded command"),
        })?;
    // A component that exits at once (its port not yet free, say) is started again, twice at
    // most; the error shows its log.
    for attempt in 1..=STARTS {
        let new = start(
            component,
            Path::new(program),
            args,
            &dir.join("logs"),
            old.cpus.as_deref(),
            old.accounting.as_deref(),
        )?;
        let log = new.log.clone();
        instance.components[index] = new.clone();
        instance.write()?;
        if component != "kube-apiserver" {
            break;
        }
        let client = ready::client(&instance.kubeconfig).await?;
        let mut exited = false;
        // Its own exit is handled below (started again); the others are not watched here.
        ready::until("the restarted API server", timeout, &log, &[], || {
            exited = crate::process::gone(&new);
            let client = client.clone();
            async move { exited || ready::api_ready(&client).await }
        })
        .await?;
        if !exited {
            break;
        }
        tracing::warn!(
            attempt,
            "the restarted API server exited; starting it again"
        );
        if attempt == STARTS {
            return Err(TestbedError::NotReady {
                what: format!("the restarted API server (it exited {STARTS} times)"),
                seconds: timeout.as_secs(),
                tail: crate::process::log_tail(&log, 6),
                log,
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(down_at.elapsed())
}

/// What `status` reports: each component, and whether the API server answers.
pub async fn status(
    dir: &Path,
) -> Result<(Instance, Vec<(String, u32, bool)>, bool), TestbedError> {
    let instance = Instance::read(dir)?;
    let components = instance
        .components
        .iter()
        .map(|c| (c.name.clone(), c.pid, alive(c)))
        .collect();
    let answers = match ready::client(&instance.kubeconfig).await {
        Ok(client) => ready::api_ready(&client).await,
        Err(_) => false,
    };
    Ok((instance, components, answers))
}

/// Stops the instance in `dir` and removes what it left outside its directory: pods first
/// (through the API, so the kubelet tears their sandboxes down), then every component in reverse
/// start order, then processes still in its cgroup, its mounts, cgroups, bridge and IPAM state.
/// Logs and data stay in `dir`.
pub async fn down(dir: &Path) -> Result<(), TestbedError> {
    let instance = Instance::read(dir)?;
    if instance.apiserver_alive() {
        if let Err(e) = delete_workloads(&instance).await {
            // The API is gone or broken: the cgroup sweep below still stops every pod.
            tracing::warn!(
                "{:#}; the pods are stopped through their cgroups instead",
                anyhow::Error::new(e)
            );
        }
    }
    for component in instance.components.iter().rev() {
        stop(component, Duration::from_secs(10));
    }
    let nodes = instance.real_nodes();
    for node in &nodes {
        kill_cgroup_processes(&node.cgroup(&instance.id));
    }
    unmount_under(&[&instance.dir, &instance.run]);
    let mut leftovers = vec![instance.run.clone()];
    for node in &nodes {
        remove_cgroups(&node.cgroup(&instance.id));
        let bridge = node.bridge(&instance.id);
        if Path::new("/sys/class/net").join(&bridge).exists() {
            run(
                Command::new("ip").args(["link", "delete", &bridge]),
                &format!("deleting the bridge {bridge}"),
            )?;
        }
        leftovers.push(Path::new("/var/lib/cni/networks").join(node.network(&instance.id)));
    }
    for leftover in leftovers {
        if leftover.exists() {
            std::fs::remove_dir_all(&leftover).map_err(io(&leftover))?;
        }
    }
    let state = dir.join("testbed.json");
    let stopped = dir.join("testbed.stopped.json");
    std::fs::rename(&state, &stopped).map_err(io(&state))
}

/// Deletes every Job and pod, and waits (up to 30 s) until the kubelet has stopped them.
async fn delete_workloads(instance: &Instance) -> Result<(), TestbedError> {
    let client = ready::client(&instance.kubeconfig).await?;
    let fail = |what: &'static str| {
        move |source| TestbedError::Kube {
            what: what.into(),
            source: Box::new(source),
        }
    };
    let jobs: Api<Job> = Api::all(client.clone());
    for job in jobs
        .list(&ListParams::default())
        .await
        .map_err(fail("listing Jobs"))?
    {
        let (Some(ns), Some(name)) = (job.metadata.namespace, job.metadata.name) else {
            continue;
        };
        Api::<Job>::namespaced(client.clone(), &ns)
            .delete(&name, &DeleteParams::background())
            .await
            .map_err(fail("deleting a Job"))?;
    }
    let pods: Api<Pod> = Api::all(client.clone());
    let list = pods
        .list(&ListParams::default())
        .await
        .map_err(fail("listing pods"))?;
    for pod in list {
        let (Some(ns), Some(name)) = (pod.metadata.namespace, pod.metadata.name) else {
            continue;
        };
        match Api::<Pod>::namespaced(client.clone(), &ns)
            .delete(&name, &DeleteParams::default().grace_period(0))
            .await
        {
            // Gone already: its Job's deletion took it with it.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            other => {
                other.map_err(fail("deleting a pod"))?;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for node in instance.real_nodes() {
        let socket = instance.containerd_socket(&node);
        while Instant::now() < deadline {
            let tasks = Command::new("ctr")
                .arg("--address")
                .arg(&socket)
                .args(["--namespace", "k8s.io", "tasks", "list", "--quiet"])
                .output();
            if tasks.is_ok_and(|o| o.stdout.iter().all(u8::is_ascii_whitespace)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Every cgroup directory under `/<name>` of `hierarchy`, deepest first.
fn cgroups_under(hierarchy: &str, name: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&entry.path(), out);
                }
            }
        }
        out.push(dir.to_owned());
    }
    let root = Path::new("/sys/fs/cgroup").join(hierarchy).join(name);
    let mut all = Vec::new();
    if root.is_dir() {
        walk(&root, &mut all);
    }
    all
}

/// Kills what still runs in a node's cgroup (containers whose shims were stopped).
fn kill_cgroup_processes(name: &str) {
    for _ in 0..20 {
        let pids: Vec<String> = cgroups_under("pids", name)
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|s| s.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        if pids.is_empty() {
            return;
        }
        for pid in pids.iter().filter_map(|p| p.trim().parse::<u32>().ok()) {
            // Never 0 or 1: kill(1) would read those as a process group or init.
            if pid > 1 {
                crate::process::signal(pid, "KILL");
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn remove_cgroups(name: &str) {
    for h in HIERARCHIES {
        for dir in cgroups_under(h, name) {
            if let Err(e) = std::fs::remove_dir(&dir) {
                tracing::warn!("cannot remove cgroup {}: {e}", dir.display());
            }
        }
    }
}

/// Unmounts every mount point under `roots`, deepest first.
fn unmount_under(roots: &[&Path]) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|p| roots.iter().any(|r| Path::new(p).starts_with(r)))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        if let Err(e) = run(Command::new("umount").args(["-l", point]), "unmounting") {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    /// Ports are chosen while every one of them is still held: no two alike.
    #[test]
    fn free_ports_are_distinct() {
        let ports = super::free_ports(64).unwrap();
        let mut sorted = ports.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 64);
        assert!(!sorted.contains(&0));
    }
}
