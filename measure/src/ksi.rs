//! The `ksi` platform: KSI launched on a Slurm allocation, one temporary Kubernetes per node,
//! driven by one measuring process on one clock.
//!
//! ```text
//!  faastwin ──srun -N<n> run-workload.sh <workload.sh> <shared>/faastwin-<run>──▶ per node: cluster ─▶ workload.sh
//!     │                                                   writes <shared>/faastwin-<run>/kubeconfig-liqo-<procid>.yaml
//!     ├── polls <shared>/faastwin-<run>: kubeconfig appears → first successful API call (= node ready)
//!     ├── one K8sPlatform per node cluster; partition p → node p mod n
//!     ├── touches <shared>/faastwin-<run>/alive every second
//!     └── at the end: <shared>/faastwin-<run>/done → workload.sh returns → KSI tears down
//! ```
//!
//! Each run gets a shared folder of its own inside the one given (KSI's kubeconfig names are
//! fixed, so two runs sharing a folder would drive each other's clusters). The generated
//! workload script marks its node ready (KSI runs it once the node's cluster is Ready) and
//! blocks until the measuring process says it is done, or until the measuring process has not
//! touched `alive` for [`ORPHANED_AFTER`] (killed, the machine lost): then its clusters go too. Startup overhead = launch →
//! first successful API call, per node and the max over nodes; every line KSI prints is stamped
//! with the driver clock as it arrives (`ksi.log`) for the stage breakdown, and the generic
//! stages (allocation seen, kubeconfig seen, API answered, workload started) go to
//! `ksi-startup.csv`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use faastwin_models::{ClusterStep, SlurmJobState};

use crate::k8s::{JobTemplate, K8sPlatform, describe_job, validate_run_id};
use crate::platform::{Platform, PlatformInfo};
use crate::slurm::client;
use crate::{DriverClock, InvocationSpec, MeasureError, Observation, Outcome, PlatformKind};

/// How to launch KSI.
#[derive(Debug, Clone)]
pub struct KsiConfig {
    /// Number of Slurm nodes (`srun -N`), one cluster each [default: one per partition, up
    /// to the nodes Slurm has].
    pub nodes: Option<u32>,
    /// The run's partitions (they share the nodes' clusters, partition p on node p mod N).
    pub partitions: u32,
    /// KSI's `run-workload.sh`.
    pub run_workload: PathBuf,
    /// The shared folder KSI uses (kubeconfigs appear here).
    pub shared_dir: PathBuf,
    /// Extra `srun` arguments (partition, time limit, account).
    pub srun_args: Vec<String>,
    /// Longest launch → all nodes ready.
    pub ready_timeout: Duration,
    /// Interval between readiness polls.
    pub poll: Duration,
}

/// Startup stages of one node [Unix ns, driver clock].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NodeStartup {
    /// SLURM_PROCID of the node's task.
    pub procid: u32,
    /// Slurm node name (from the workload script).
    pub node: Option<String>,
    /// srun started.
    pub t_launch: u64,
    /// The allocation was first seen running.
    pub t_allocated: Option<u64>,
    /// The node's kubeconfig was first seen.
    pub t_kubeconfig: Option<u64>,
    /// First successful API call to the node's cluster.
    pub t_api_ready: Option<u64>,
    /// The workload script reported in.
    pub t_workload_started: Option<u64>,
    /// The node's container runtime is up (steps a run-workload.sh announces, see
    /// [`NodeStartup::apply_step`]; empty when it announces none).
    #[serde(default)]
    pub t_containerd_up: Option<u64>,
    /// Its datastore accepts connections.
    #[serde(default)]
    pub t_datastore_up: Option<u64>,
    /// Its API server is ready.
    #[serde(default)]
    pub t_apiserver_ready: Option<u64>,
    /// Its node is Ready.
    #[serde(default)]
    pub t_node_ready: Option<u64>,
    /// Its API server accepts a Job.
    #[serde(default)]
    pub t_first_job_accepted: Option<u64>,
}

/// The Slurm task a line of srun's says has ended with an error
/// (`srun: error: n2: task 1: Exited with exit code 1`).
fn failed_task(line: &str) -> Option<u32> {
    let rest = line.trim_start().strip_prefix("srun: error: ")?;
    let (_, task) = rest.split_once(": task ")?;
    let (procid, what) = task.split_once(':')?;
    let what = what.trim_start();
    (what.starts_with("Exited with exit code")
        || what.starts_with("Killed")
        || what.starts_with("Terminated"))
    .then(|| procid.trim().parse().ok())
    .flatten()
}

impl NodeStartup {
    /// Takes a startup step from one line of KSI's output, stamped `seen` when it arrived:
    /// `[ksi <procid> <node>] testbed: step <name> <seconds>` (what the testbed's
    /// run-workload.sh prints). Lines of other nodes, and other lines, change nothing.
    pub fn apply_step(&mut self, line: &str, seen: u64) {
        let Some(rest) = line.trim_start().strip_prefix("[ksi ") else {
            return;
        };
        let mut words = rest.split_whitespace();
        if words.next().and_then(|p| p.parse::<u32>().ok()) != Some(self.procid) {
            return;
        }
        if rest.contains("cluster start failed") {
            // run-workload.sh starts the cluster again: its steps begin anew.
            self.t_containerd_up = None;
            self.t_datastore_up = None;
            self.t_apiserver_ready = None;
            self.t_node_ready = None;
            self.t_first_job_accepted = None;
            return;
        }
        let slot = match ClusterStep::in_line(rest) {
            Some(ClusterStep::ContainerdUp) => &mut self.t_containerd_up,
            Some(ClusterStep::DatastoreUp) => &mut self.t_datastore_up,
            Some(ClusterStep::ApiserverReady) => &mut self.t_apiserver_ready,
            Some(ClusterStep::NodeReady) => &mut self.t_node_ready,
            Some(ClusterStep::FirstJobAccepted) => &mut self.t_first_job_accepted,
            Some(ClusterStep::FakeNodesReady | ClusterStep::ProbeJobDone) | None => return,
        };
        slot.get_or_insert(seen);
    }

    /// Launch → first successful API call [s].
    pub fn overhead_s(&self) -> Option<f64> {
        self.t_api_ready.map(|t| (t - self.t_launch) as f64 / 1e9)
    }
}

/// Writes `ksi-startup.csv`: one row per node.
pub fn write_startup(path: &Path, nodes: &[NodeStartup]) -> Result<(), MeasureError> {
    let csv_err = |e: csv::Error| MeasureError::Csv {
        path: path.to_owned(),
        source: e,
    };
    let mut w = csv::Writer::from_path(path).map_err(csv_err)?;
    for n in nodes {
        w.serialize(n).map_err(csv_err)?;
    }
    w.flush().map_err(|source| MeasureError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Reads `ksi-startup.csv`; an error names the file and line.
pub fn read_startup(path: &Path) -> Result<Vec<NodeStartup>, MeasureError> {
    crate::writer::read_csv(path)
}

/// One node's temporary cluster, ready for Jobs.
pub struct NodeCluster {
    /// Startup stages.
    pub startup: NodeStartup,
    /// A client for its API server.
    pub client: Client,
}

/// The Slurm side of KSI: allocation, readiness, kubeconfig discovery, startup timing, teardown.
pub struct KsiLauncher {
    config: KsiConfig,
    run_id: String,
    clock: DriverClock,
    control_dir: PathBuf,
    srun: Mutex<Option<Child>>,
    log: Arc<Mutex<Vec<(u64, String)>>>,
    heartbeat: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// How long the workload scripts wait for a heartbeat of the measuring process before they end
/// (and KSI tears their clusters down): longer than any pause of a live driver.
pub const ORPHANED_AFTER: Duration = Duration::from_secs(120);

/// How long a teardown waits for KSI's scripts to tear their clusters down before it cancels
/// the allocation.
const TEARDOWN_WAIT: Duration = Duration::from_secs(120);

/// How long a teardown waits for the allocation to end once cancelled.
const TEARDOWN_GRACE: Duration = Duration::from_secs(30);

/// How often a launch looks at its allocation in Slurm's queue while no node has started.
const QUEUE_LOOK: Duration = Duration::from_secs(2);

/// Pending reasons that do not clear by waiting (squeue(1) JOB REASON CODES): the job asks for
/// more than its partition, account or QOS allows, or for nodes that do not fit it.
const HOPELESS_PENDING: [&str; 9] = [
    "PartitionConfig",
    "PartitionNodeLimit",
    "PartitionTimeLimit",
    "BadConstraints",
    "InvalidAccount",
    "InvalidQOS",
    "AccountNotAllowed",
    "QOSMaxNodePerJobLimit",
    "QOSMaxWallDurationPerJobLimit",
];

impl KsiLauncher {
    /// A launcher for run `run_id`.
    pub fn new(config: KsiConfig, run_id: &str, clock: DriverClock) -> Result<Self, MeasureError> {
        validate_run_id(run_id)?;
        let control_dir = config.shared_dir.join(format!("faastwin-{run_id}"));
        Ok(KsiLauncher {
            config,
            run_id: run_id.to_owned(),
            clock,
            control_dir,
            srun: Mutex::new(None),
            log: Arc::default(),
            heartbeat: Mutex::new(None),
        })
    }

    fn job_name(&self) -> String {
        format!("faastwin-ksi-{}", self.run_id)
    }

    fn fail(detail: String) -> MeasureError {
        MeasureError::Platform {
            platform: PlatformKind::Ksi,
            detail,
        }
    }

    /// The workload script KSI runs on each node once its cluster is Ready.
    pub fn workload_script(&self) -> String {
        let dir = self.control_dir.display();
        format!(
            "#!/bin/bash\n\
             # Generated by faastwin for run {run}: reports this node ready, then blocks until the\n\
             # measuring process is done, so that one process drives every node's cluster.\n\
             set -u\n\
             dir='{dir}'\n\
             procid=\"${{SLURM_PROCID:-0}}\"\n\
             node=\"${{SLURMD_NODENAME:-$(hostname -s)}}\"\n\
             echo \"$node\" > \"$dir/ready-$procid.tmp\" && mv \"$dir/ready-$procid.tmp\" \"$dir/ready-$procid\"\n\
             while [ ! -e \"$dir/done\" ]; do\n\
             \x20 if [ -n \"$(find \"$dir/alive\" -mmin +{minutes} 2>/dev/null)\" ] || [ ! -e \"$dir/alive\" ]; then\n\
             \x20   echo \"[ksi $procid $node] the measuring process is gone (no heartbeat for {minutes} min): ending\" >&2\n\
             \x20   exit 1\n\
             \x20 fi\n\
             \x20 sleep 0.2\n\
             done\n",
            run = self.run_id,
            minutes = ORPHANED_AFTER.as_secs() / 60
        )
    }

    /// The srun command line for `nodes` nodes, those of `nodelist` when it names them.
    pub fn command(&self, nodes: u32, nodelist: &[String]) -> (String, Vec<String>) {
        let mut args = vec![
            format!("-N{nodes}"),
            "--ntasks-per-node=1".into(),
            "--job-name".into(),
            self.job_name(),
        ];
        if !nodelist.is_empty() {
            args.push(format!("--nodelist={}", nodelist.join(",")));
        }
        args.extend(self.config.srun_args.iter().cloned());
        args.push("bash".into());
        args.push(self.config.run_workload.display().to_string());
        args.push(self.control_dir.join("workload.sh").display().to_string());
        args.push(self.control_dir.display().to_string());
        ("srun".into(), args)
    }

    /// How many nodes to allocate, and refuses an allocation Slurm can never satisfy (it would
    /// stay pending for ever): the nodes of `nodelist` when it names them, else `--ksi-nodes`,
    /// else one per partition up to the nodes there are.
    async fn allocation(&self, nodelist: &[String]) -> Result<u32, MeasureError> {
        let known = client::nodes().await?;
        if let Some(unknown) = nodelist.iter().find(|n| !known.contains(n)) {
            return Err(Self::fail(format!(
                "unknown node {unknown:?} (sinfo lists: {})",
                known.join(", ")
            )));
        }
        let listed = u32::try_from(nodelist.len()).unwrap_or(u32::MAX);
        let available = u32::try_from(known.len()).unwrap_or(u32::MAX);
        let nodes = match (self.config.nodes, listed) {
            (Some(n), l) if l > 0 && n != l => {
                return Err(Self::fail(format!(
                    "--ksi-nodes {n} and --nodes {} ({l} nodes) disagree: give one of them",
                    nodelist.join(",")
                )));
            }
            (_, l) if l > 0 => l,
            (Some(n), _) => n,
            (None, _) => self.config.partitions.clamp(1, available.max(1)),
        };
        if nodes == 0 || nodes > available {
            return Err(Self::fail(format!(
                "KSI would allocate {nodes} nodes (one cluster each) but Slurm has {available} ({}): ask for 1 to {available} with --ksi-nodes; partitions share the nodes' clusters (partition p on node p mod nodes)",
                known.join(", ")
            )));
        }
        Ok(nodes)
    }

    /// Launches KSI on `nodelist` (empty: wherever Slurm places it) and waits until every
    /// node's cluster answers, recording each stage.
    pub async fn launch(&self, nodelist: &[String]) -> Result<Vec<NodeCluster>, MeasureError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| MeasureError::Io { path, source }
        };
        if !self.config.run_workload.exists() {
            return Err(Self::fail(format!(
                "KSI's run-workload script {} not found",
                self.config.run_workload.display()
            )));
        }
        let allocated = self.allocation(nodelist).await?;
        // An earlier session of this run (killed, then resumed) may still hold its allocation
        // and clusters: they carry this run's job name, and go first.
        let name = self.job_name();
        if client::queue().await?.iter().any(|(_, n, _)| *n == name) {
            client::cancel_by_name(&name).await?;
            let note = format!("faastwin: cancelled an earlier session's allocation {name}");
            self.log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((self.clock.now_ns(), note));
        }
        tokio::fs::create_dir_all(&self.control_dir)
            .await
            .map_err(io(&self.control_dir))?;
        clear_markers(&self.control_dir).map_err(io(&self.control_dir))?;
        self.start_heartbeat().map_err(io(&self.control_dir))?;
        let script = self.control_dir.join("workload.sh");
        tokio::fs::write(&script, self.workload_script())
            .await
            .map_err(io(&script))?;
        let (program, args) = self.command(allocated, nodelist);
        let t_launch = self.clock.now_ns();
        let mut child = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group: a signal to ours (`timeout`, a batch script, Ctrl-C in a
            // terminal) reaches this process, which tears KSI down in order; sent to srun too,
            // it cancelled the step and the scripts died before their teardown.
            .process_group(0)
            .spawn()
            .map_err(|e| Self::fail(format!("cannot run srun (no Slurm?): {e}")))?;
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = Arc::clone(&self.log);
            let clock = self.clock;
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    log.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((clock.now_ns(), line));
                }
            });
        }
        *self.srun.lock().unwrap_or_else(PoisonError::into_inner) = Some(child);
        let mut nodes: Vec<NodeStartup> = (0..allocated)
            .map(|procid| NodeStartup {
                procid,
                t_launch,
                ..NodeStartup::default()
            })
            .collect();
        let mut clients: Vec<Option<Client>> = (0..allocated).map(|_| None).collect();
        let deadline = tokio::time::Instant::now() + self.config.ready_timeout;
        let mut next_queue_look = tokio::time::Instant::now();
        loop {
            self.poll_once(&mut nodes, &mut clients).await;
            // Until a node has started, the allocation may be pending for a reason that never
            // clears (a partition's node limit, say): say so now, not at the ready timeout.
            if nodes.iter().all(|n| n.node.is_none())
                && tokio::time::Instant::now() >= next_queue_look
            {
                next_queue_look = tokio::time::Instant::now() + QUEUE_LOOK;
                if let Some(reason) = self.hopeless_pending_reason().await {
                    self.teardown().await;
                    return Err(Self::fail(format!(
                        "the KSI allocation ({allocated} nodes) stays pending: Slurm says Reason={reason}, which waiting does not clear (see squeue, sinfo)"
                    )));
                }
            }
            if nodes
                .iter()
                .all(|n| n.t_api_ready.is_some() && n.t_workload_started.is_some())
            {
                break;
            }
            let ended = self
                .srun
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = ended {
                return Err(Self::fail(format!(
                    "srun ended ({status}) before every node was ready; see ksi.log: {}",
                    self.log_tail()
                )));
            }
            // A task whose cluster did not start ends while the others run on: srun goes on,
            // but that node will never be ready.
            let failed = self
                .log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .filter_map(|(_, line)| failed_task(line))
                .find(|p| {
                    nodes
                        .iter()
                        .any(|n| n.procid == *p && n.t_api_ready.is_none())
                });
            if let Some(procid) = failed {
                self.teardown().await;
                return Err(Self::fail(format!(
                    "KSI task {procid} ended before its cluster was ready; last KSI output: {}",
                    self.log_tail()
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                self.teardown().await;
                return Err(Self::fail(format!(
                    "not every node ready after {} s: {:?}; last KSI output: {}",
                    self.config.ready_timeout.as_secs_f64(),
                    nodes,
                    self.log_tail()
                )));
            }
            tokio::time::sleep(self.config.poll).await;
        }
        Ok(nodes
            .into_iter()
            .zip(clients)
            .filter_map(|(startup, client)| client.map(|client| NodeCluster { startup, client }))
            .collect())
    }

    async fn poll_once(&self, nodes: &mut [NodeStartup], clients: &mut [Option<Client>]) {
        if nodes.iter().any(|n| n.t_allocated.is_none()) {
            let name = self.job_name();
            let running = client::queue().await.is_ok_and(|q| {
                q.iter()
                    .any(|(_, n, state)| *n == name && *state == SlurmJobState::Running)
            });
            if running {
                let now = self.clock.now_ns();
                nodes.iter_mut().for_each(|n| {
                    n.t_allocated.get_or_insert(now);
                });
            }
        }
        for (node, client) in nodes.iter_mut().zip(clients.iter_mut()) {
            let kubeconfig = self
                .control_dir
                .join(format!("kubeconfig-liqo-{}.yaml", node.procid));
            if node.t_kubeconfig.is_none() && kubeconfig.exists() {
                node.t_kubeconfig = Some(self.clock.now_ns());
            }
            if node.t_kubeconfig.is_some() && node.t_api_ready.is_none() {
                if client.is_none() {
                    *client = client_from(&kubeconfig).await;
                }
                if let Some(c) = client.as_ref() {
                    let answered =
                        tokio::time::timeout(Duration::from_secs(2), c.apiserver_version()).await;
                    if matches!(answered, Ok(Ok(_))) {
                        node.t_api_ready = Some(self.clock.now_ns());
                    }
                }
            }
            let marker = self.control_dir.join(format!("ready-{}", node.procid));
            if node.t_workload_started.is_none() {
                if let Ok(name) = tokio::fs::read_to_string(&marker).await {
                    node.t_workload_started = Some(self.clock.now_ns());
                    node.node = Some(name.trim().to_owned());
                }
            }
        }
    }

    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let start = log.len().saturating_sub(5);
        log[start..]
            .iter()
            .map(|(_, line)| line.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// KSI's output lines with the driver-clock instant each arrived [Unix ns].
    pub fn log(&self) -> Vec<(u64, String)> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Touches `alive` in the control directory now and then every second while this process
    /// runs: the workload scripts end their clusters once it stops (see [`ORPHANED_AFTER`]).
    fn start_heartbeat(&self) -> std::io::Result<()> {
        let alive = self.control_dir.join("alive");
        std::fs::write(&alive, b"")?;
        let handle = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let touched = std::fs::File::options()
                    .write(true)
                    .open(&alive)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                if let Err(e) = touched {
                    tracing::warn!("cannot touch {}: {e}", alive.display());
                }
            }
        });
        if let Some(old) = self
            .heartbeat
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(handle)
        {
            old.abort();
        }
        Ok(())
    }

    /// The reason the allocation is pending, when it is one that waiting does not clear.
    async fn hopeless_pending_reason(&self) -> Option<String> {
        let queue = client::queue().await.ok()?;
        let name = self.job_name();
        let (id, _, state) = queue.into_iter().find(|(_, n, _)| *n == name)?;
        if state != SlurmJobState::Pending {
            return None;
        }
        let reason = client::pending_reason(&id).await?;
        HOPELESS_PENDING
            .iter()
            .any(|r| reason.starts_with(r))
            .then_some(reason)
    }

    /// True while this run's allocation waits in Slurm's queue (never started).
    async fn allocation_pending(&self) -> bool {
        let name = self.job_name();
        client::queue().await.is_ok_and(|q| {
            q.iter()
                .any(|(_, n, s)| *n == name && *s == SlurmJobState::Pending)
        })
    }

    /// Tells every workload script to return (KSI then tears its clusters down), waits for
    /// srun, and cancels the allocation by this run's job name if it lingers (at once while it
    /// is still pending: no script runs to be told). Gives up after [`TEARDOWN_GRACE`] more
    /// with a warning naming what it left.
    pub async fn teardown(&self) -> Option<std::process::ExitStatus> {
        let done = self.control_dir.join("done");
        if let Err(e) = tokio::fs::write(&done, b"").await {
            // The workload scripts then wait until Slurm's time limit; cancel below instead.
            tracing::warn!(
                "cannot write {}: {e}; cancelling the allocation",
                done.display()
            );
        }
        if let Some(heartbeat) = self
            .heartbeat
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            heartbeat.abort();
        }
        let child = self
            .srun
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut child = child?;
        let patience = if self.allocation_pending().await {
            Duration::ZERO
        } else {
            TEARDOWN_WAIT
        };
        if let Ok(status) = tokio::time::timeout(patience, child.wait()).await {
            return status.ok();
        }
        if let Err(e) = client::cancel_by_name(&self.job_name()).await {
            tracing::warn!("cancelling the KSI allocation {}: {e}", self.job_name());
        }
        match tokio::time::timeout(TEARDOWN_GRACE, child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                eprintln!(
                    "warning: the KSI allocation {name} did not end within {} s of scancel; it may still hold its nodes (squeue -n {name}; scancel --name {name})",
                    TEARDOWN_GRACE.as_secs(),
                    name = self.job_name()
                );
                let _ = child.start_kill();
                None
            }
        }
    }
}

async fn client_from(kubeconfig: &Path) -> Option<Client> {
    let kc = Kubeconfig::read_from(kubeconfig).ok()?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .ok()?;
    Client::try_from(config).ok()
}

/// The KSI platform: a launcher and one Kubernetes platform per node cluster.
pub struct KsiPlatform {
    launcher: KsiLauncher,
    template: JobTemplate,
    run_dir: PathBuf,
    clusters: tokio::sync::OnceCell<Vec<(String, K8sPlatform)>>,
}

impl KsiPlatform {
    /// KSI per `config`, Jobs per `template`; startup records go to `run_dir`.
    pub fn new(
        config: KsiConfig,
        template: JobTemplate,
        run_id: &str,
        run_dir: PathBuf,
        clock: DriverClock,
    ) -> Result<Self, MeasureError> {
        Ok(KsiPlatform {
            launcher: KsiLauncher::new(config, run_id, clock)?,
            template: JobTemplate {
                pinning: crate::k8s::Pinning::None,
                ..template
            },
            run_dir,
            clusters: tokio::sync::OnceCell::new(),
        })
    }

    fn write_startup(&self, nodes: &[NodeStartup]) -> Result<(), MeasureError> {
        write_startup(&self.run_dir.join("ksi-startup.csv"), nodes)?;
        self.write_log()
    }

    fn write_log(&self) -> Result<(), MeasureError> {
        let path = self.run_dir.join("ksi.log");
        let text: String = self
            .launcher
            .log()
            .iter()
            .map(|(t, line)| format!("{t} {line}\n"))
            .collect();
        std::fs::write(&path, text).map_err(|source| MeasureError::Io { path, source })
    }
}

#[async_trait]
impl Platform for KsiPlatform {
    async fn prepare(&self, nodes: &[String]) -> Result<PlatformInfo, MeasureError> {
        std::fs::create_dir_all(&self.run_dir).map_err(|source| MeasureError::Io {
            path: self.run_dir.clone(),
            source,
        })?;
        let ready = self.launcher.launch(nodes).await?;
        let log = self.launcher.log();
        let startups: Vec<NodeStartup> = ready
            .iter()
            .map(|c| {
                let mut startup = c.startup.clone();
                for (seen, line) in &log {
                    startup.apply_step(line, *seen);
                }
                startup
            })
            .collect();
        self.write_startup(&startups)?;
        let overhead = startups
            .iter()
            .filter_map(NodeStartup::overhead_s)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let mut clusters = Vec::new();
        for cluster in ready {
            let node = cluster
                .startup
                .node
                .clone()
                .unwrap_or_else(|| format!("procid-{}", cluster.startup.procid));
            let platform = K8sPlatform::new(
                cluster.client,
                self.template.clone(),
                &self.launcher.run_id,
                self.launcher.clock,
            )?
            .as_part_of(PlatformKind::Ksi);
            platform.prepare(&[]).await?;
            clusters.push((node, platform));
        }
        let names: Vec<String> = clusters.iter().map(|(n, _)| n.clone()).collect();
        if let Some(unknown) = nodes.iter().find(|n| !names.contains(n)) {
            return Err(KsiLauncher::fail(format!(
                "unknown node {unknown:?} (KSI started on: {})",
                names.join(", ")
            )));
        }
        if self.clusters.set(clusters).is_err() {
            return Err(KsiLauncher::fail("prepared twice".into()));
        }
        Ok(PlatformInfo {
            versions: vec![
                ("faastwin".into(), env!("CARGO_PKG_VERSION").into()),
                (
                    "ksi".into(),
                    self.launcher.config.run_workload.display().to_string(),
                ),
            ],
            nodes: names,
            startup_overhead_s: overhead,
            ..PlatformInfo::new(PlatformKind::Ksi)
        })
    }

    fn describe_submission(&self, spec: &InvocationSpec) -> String {
        format!(
            "on the KSI cluster of node {}: {}",
            spec.node,
            describe_job(spec, &self.template)
        )
    }

    async fn invoke(
        &self,
        spec: &InvocationSpec,
        clock: &DriverClock,
        timeout: Duration,
    ) -> Observation {
        let cluster = self
            .clusters
            .get()
            .and_then(|cs| cs.iter().find(|(n, _)| *n == spec.node));
        match cluster {
            Some((_, platform)) => platform.invoke(spec, clock, timeout).await,
            None => Observation {
                outcome: Some(Outcome::SubmitError),
                error: Some(format!("no KSI cluster on node {}", spec.node)),
                ..Observation::default()
            },
        }
    }

    async fn cleanup(&self, run_id: &str) -> Result<(), MeasureError> {
        let mut result = Ok(());
        if let Some(clusters) = self.clusters.get() {
            for (_, platform) in clusters {
                if let Err(e) = platform.cleanup(run_id).await {
                    result = Err(e);
                }
            }
        }
        self.launcher.teardown().await;
        self.write_log()?;
        result
    }
}

/// Removes the markers an earlier launch of the same run left in its control directory (the
/// directory is this run's, named after it): a stale `done` would end the new workload scripts
/// at once, a stale `ready-N` would mark a node ready before its cluster is, and a stale
/// kubeconfig would drive the earlier session's clusters.
fn clear_markers(control_dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(control_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let marker = name == "done"
            || name == "alive"
            || (name.starts_with("kubeconfig-liqo-") && name.ends_with(".yaml"))
            || name
                .strip_prefix("ready-")
                .map(|rest| rest.trim_end_matches(".tmp"))
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        if marker {
            match std::fs::remove_file(entry.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{clear_markers, failed_task};

    #[test]
    fn an_earlier_launchs_markers_are_cleared_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let markers = [
            "done",
            "alive",
            "ready-0",
            "ready-12",
            "ready-1.tmp",
            "kubeconfig-liqo-0.yaml",
        ];
        let others = [
            "workload.sh",
            "ready-",
            "ready-x",
            "done.txt",
            "notes",
            "ksi-12-0.logs",
        ];
        for name in markers.iter().chain(&others) {
            std::fs::write(dir.path().join(name), "n1").unwrap();
        }
        clear_markers(dir.path()).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want: Vec<String> = others.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(left, want);
    }

    /// Issue 29.5: the workload script that holds a node's cluster ends it once the measuring
    /// process has stopped touching `alive` (killed with SIGKILL, its machine lost), and holds
    /// it while the heartbeat is fresh, until `done`. Run by bash, as KSI runs it.
    #[test]
    fn a_node_script_ends_its_cluster_once_the_heartbeat_stops() {
        use std::time::{Duration, SystemTime};
        let dir = tempfile::tempdir().unwrap();
        let config = super::KsiConfig {
            nodes: Some(1),
            partitions: 1,
            run_workload: dir.path().join("run-workload.sh"),
            shared_dir: dir.path().to_owned(),
            srun_args: Vec::new(),
            ready_timeout: Duration::from_secs(1),
            poll: Duration::from_millis(10),
        };
        let launcher = super::KsiLauncher::new(config, "hb", crate::DriverClock::start()).unwrap();
        let control = dir.path().join("faastwin-hb");
        std::fs::create_dir_all(&control).unwrap();
        let script = control.join("workload.sh");
        std::fs::write(&script, launcher.workload_script()).unwrap();
        let run = || {
            std::process::Command::new("bash")
                .arg(&script)
                .env("SLURM_PROCID", "0")
                .env("SLURMD_NODENAME", "n1")
                .output()
                .unwrap()
        };
        // A heartbeat three minutes old: the driver is gone.
        let alive = control.join("alive");
        std::fs::write(&alive, b"").unwrap();
        let old = SystemTime::now() - Duration::from_secs(180);
        std::fs::File::options()
            .write(true)
            .open(&alive)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let gone = run();
        assert_eq!(gone.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&gone.stderr).contains("the measuring process is gone"));
        assert!(
            control.join("ready-0").is_file(),
            "it said its node was ready first"
        );
        // No heartbeat at all: gone as well.
        std::fs::remove_file(&alive).unwrap();
        assert_eq!(run().status.code(), Some(1));
        // A fresh heartbeat and `done`: the script returns normally.
        std::fs::write(&alive, b"").unwrap();
        std::fs::write(control.join("done"), b"").unwrap();
        assert_eq!(run().status.code(), Some(0));
    }

    #[test]
    fn srun_names_the_task_that_failed() {
        assert_eq!(
            failed_task("srun: error: n2: task 1: Exited with exit code 1"),
            Some(1)
        );
        assert_eq!(failed_task("srun: error: n1: task 0: Killed"), Some(0));
        assert_eq!(
            failed_task("srun: error: n1: task 12: Terminated"),
            Some(12)
        );
        assert_eq!(failed_task("[ksi 1 n2] srun: error: task 1: Exited"), None);
        assert_eq!(
            failed_task("srun: error: Unable to allocate resources"),
            None
        );
        assert_eq!(
            failed_task("srun: error: n2: task x: Exited with exit code 1"),
            None
        );
    }
}
