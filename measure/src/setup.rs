//! How to reach and drive a platform — every option that is not about the run's workload — and
//! the one factory that turns it into a [`Platform`]. The setup is recorded in `run.json`, so
//! that `--resume` drives the same platform in the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::k8s::{DataVolume, JobTemplate, K8sPlatform, Pinning, describe_job};
use crate::ksi::{KsiConfig, KsiPlatform};
use crate::{
    DriverClock, InvocationSpec, Launch, Launcher, MeasureError, Platform, PlatformKind,
    ProcessPlatform, SlurmPlatform,
};

/// How to reach and drive a platform: the options of `faastwin measure` and `faastwin loop`
/// that are not about the workload, defined once for the command line and for `run.json`.
/// (Field names are the command line's option ids, which `--resume` compares.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct PlatformSetup {
    /// The faastwin-worker binary (local, slurm) [default: next to faastwin, else on PATH].
    #[arg(long, default_value_os_t = default_worker(), hide_default_value = true)]
    pub worker: PathBuf,
    /// Worker image (container, k8s, ksi).
    #[arg(long, default_value = "localhost/faastwin-worker:latest")]
    pub image: String,
    /// Local and container: split this host into N logical nodes n1..nN, each owning an equal
    /// share of the CPUs (N must divide them); partitions go to them as to any nodes.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    #[serde(default)]
    pub logical_nodes: Option<u32>,
    /// Slurm: submit with a blocking srun instead of sbatch (client-side instants only).
    #[arg(long)]
    pub srun: bool,
    /// Slurm: interval between scontrol polls [ms].
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub poll_ms: u64,
    /// The Kubernetes side (k8s, and each KSI node cluster).
    #[command(flatten)]
    pub kubernetes: KubernetesSetup,
    /// KSI's launch.
    #[command(flatten)]
    pub ksi: KsiSetup,
}

/// How Jobs are made and where they go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[command(next_help_heading = "Kubernetes (k8s, ksi)")]
pub struct KubernetesSetup {
    /// Kubeconfig of the cluster [default: $KUBECONFIG, ~/.kube/config, or in-cluster].
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace of the Jobs.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// imagePullPolicy of the worker container (the testbed imports images: Never works).
    #[arg(long, default_value = "IfNotPresent")]
    pub image_pull_policy: String,
    /// How Jobs are pinned to their partition's node.
    #[arg(long, value_enum, default_value_t = Pinning::NodeName)]
    pub pin: Pinning,
    /// CPU request of the worker container (e.g. 100m).
    #[arg(long)]
    pub cpu_request: Option<String>,
    /// Memory request of the worker container (e.g. 64Mi).
    #[arg(long)]
    pub memory_request: Option<String>,
    /// ttlSecondsAfterFinished of the Jobs [s].
    #[arg(long, default_value_t = 300)]
    pub ttl_seconds: i32,
    /// Mount this PersistentVolumeClaim at /shared instead of hostPath volumes.
    #[arg(long, requires = "pvc_root")]
    pub pvc: Option<String>,
    /// The directory the PVC exposes, as this host sees it (dataset and run dir lie under it).
    #[arg(long)]
    pub pvc_root: Option<PathBuf>,
    /// The Jobs' pods run no body (fake nodes, as kwok's): a completed Job is a success, and
    /// the worker columns stay empty. For control-plane experiments.
    #[arg(long)]
    #[serde(default)]
    pub no_body: bool,
}

/// How KSI is launched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[command(next_help_heading = "KSI")]
pub struct KsiSetup {
    /// KSI's run-workload.sh (testbed/run-workload.sh is one for the testbed).
    #[arg(long)]
    pub ksi_run_workload: Option<PathBuf>,
    /// The shared folder KSI writes kubeconfig-liqo-<procid>.yaml to.
    #[arg(long)]
    pub ksi_shared: Option<PathBuf>,
    /// Slurm nodes to allocate, one cluster each [default: --nodes, else one per partition up to
    /// the nodes Slurm has; partitions share the nodes' clusters].
    #[arg(long)]
    pub ksi_nodes: Option<u32>,
    /// Extra srun argument for the KSI allocation (repeatable, e.g. --srun-arg=--partition=gpu).
    #[arg(long = "srun-arg", allow_hyphen_values = true)]
    pub srun_args: Vec<String>,
    /// Longest launch → every node's cluster answering [s].
    #[arg(long, default_value_t = 600.0, allow_negative_numbers = true, value_parser = crate::options::positive_seconds)]
    pub ksi_ready_timeout: f64,
}

impl Default for PlatformSetup {
    /// The command line's defaults (one source for them).
    fn default() -> Self {
        use clap::{Args, FromArgMatches};
        let command = PlatformSetup::augment_args(clap::Command::new("defaults"));
        let matches = command.get_matches_from(["defaults"]);
        match PlatformSetup::from_arg_matches(&matches) {
            Ok(setup) => setup,
            // The defaults above parse; this arm only keeps the type honest.
            Err(e) => e.exit(),
        }
    }
}

/// `faastwin-worker` next to the running executable, else on PATH.
pub fn default_worker() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("faastwin-worker")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("faastwin-worker"))
}

impl PlatformSetup {
    /// The Job template of the Kubernetes platforms for a dataset and run directory.
    pub fn job_template(
        &self,
        kind: PlatformKind,
        dataset: &Path,
        run_dir: &Path,
    ) -> Result<JobTemplate, MeasureError> {
        let k = &self.kubernetes;
        let volume = match (&k.pvc, &k.pvc_root) {
            (Some(claim), Some(root)) => DataVolume::Claim {
                claim: claim.clone(),
                root: absolute(root)?,
            },
            _ => DataVolume::HostPath {
                dataset: absolute(dataset)?,
                results: absolute(&run_dir.join("results"))?,
            },
        };
        Ok(JobTemplate {
            namespace: k.namespace.clone(),
            image: self.image.clone(),
            image_pull_policy: k.image_pull_policy.clone(),
            volume,
            cpu_request: k.cpu_request.clone(),
            memory_request: k.memory_request.clone(),
            ttl_seconds: k.ttl_seconds,
            pinning: match kind {
                // One cluster per node: the node is the cluster.
                PlatformKind::Ksi => Pinning::None,
                _ => k.pin,
            },
        })
    }

    /// Builds a platform of `kind` for run `run_id` over `dataset`, recording into `run_dir`;
    /// `partitions` sizes KSI's allocation unless `ksi_nodes` says otherwise. Nothing is
    /// contacted yet ([`Platform::prepare`] does that).
    pub async fn build(
        &self,
        kind: PlatformKind,
        run_id: &str,
        dataset: &Path,
        run_dir: &Path,
        partitions: u32,
    ) -> Result<Arc<dyn Platform>, MeasureError> {
        let results = absolute(&run_dir.join("results"))?;
        let process = |launch: Launch| -> Result<Arc<dyn Platform>, MeasureError> {
            let platform = ProcessPlatform::new(launch);
            Ok(Arc::new(match self.logical_nodes {
                Some(n) => platform.with_logical_nodes(n)?,
                None => platform,
            }))
        };
        if self.logical_nodes.is_some()
            && !matches!(kind, PlatformKind::Local | PlatformKind::Container)
        {
            return Err(MeasureError::Options(format!(
                "--logical-nodes is for the local and container platforms; {kind}'s nodes are its own (for Slurm, slurm-up.sh N lays out nodes that own their CPUs)"
            )));
        }
        Ok(match kind {
            PlatformKind::Local => process(Launch::Local {
                worker: self.worker.clone(),
            })?,
            PlatformKind::Container => process(Launch::Container {
                image: self.image.clone(),
                dataset: absolute(dataset)?,
                results,
            })?,
            PlatformKind::Slurm => Arc::new(SlurmPlatform::new(
                absolute(&self.worker)?,
                results,
                if self.srun {
                    Launcher::Srun
                } else {
                    Launcher::Sbatch
                },
                Duration::from_millis(self.poll_ms),
                DriverClock::start(),
            )),
            PlatformKind::K8s => Arc::new(
                K8sPlatform::new(
                    kube_client(self.kubernetes.kubeconfig.as_deref()).await?,
                    self.job_template(kind, dataset, run_dir)?,
                    run_id,
                    DriverClock::start(),
                )?
                .with_body(!self.kubernetes.no_body),
            ),
            PlatformKind::Ksi => {
                let k = &self.ksi;
                let missing =
                    |what: &str| MeasureError::Options(format!("ksi: {what} is required"));
                let config = KsiConfig {
                    nodes: k.ksi_nodes,
                    partitions,
                    run_workload: k.ksi_run_workload.clone().ok_or_else(|| {
                        missing("--ksi-run-workload PATH (KSI's run-workload.sh)")
                    })?,
                    shared_dir: absolute(
                        k.ksi_shared
                            .as_deref()
                            .ok_or_else(|| missing("--ksi-shared DIR (KSI's shared folder)"))?,
                    )?,
                    srun_args: k.srun_args.clone(),
                    ready_timeout: Duration::from_secs_f64(k.ksi_ready_timeout),
                    poll: Duration::from_millis(100),
                };
                Arc::new(KsiPlatform::new(
                    config,
                    self.job_template(kind, dataset, run_dir)?,
                    run_id,
                    absolute(run_dir)?,
                    DriverClock::start(),
                )?)
            }
        })
    }

    /// What would be submitted for `spec` (`--dry-run`), without contacting any platform: the
    /// Job manifest on Kubernetes, the command line elsewhere.
    pub async fn describe(
        &self,
        kind: PlatformKind,
        spec: &InvocationSpec,
        dataset: &Path,
        run_dir: &Path,
    ) -> Result<String, MeasureError> {
        if kind.is_kubernetes() {
            return Ok(describe_job(
                spec,
                &self.job_template(kind, dataset, run_dir)?,
            ));
        }
        let platform = self.build(kind, &spec.run_id, dataset, run_dir, 1).await?;
        Ok(platform.describe_submission(spec))
    }

    /// The options (by command-line id) among `given` whose values differ from `other`'s:
    /// what a resumed run was asked to change.
    pub fn differences(&self, other: &PlatformSetup, given: &[String]) -> Vec<String> {
        let (mine, theirs) = (flatten(self), flatten(other));
        given
            .iter()
            .filter(|id| {
                mine.get(id.as_str())
                    .is_some_and(|v| theirs.get(id.as_str()) != Some(v))
            })
            .cloned()
            .collect()
    }
}

/// A setup's options by id (nested groups flattened), as JSON values.
fn flatten(setup: &PlatformSetup) -> serde_json::Map<String, serde_json::Value> {
    let mut flat = serde_json::Map::new();
    if let Ok(serde_json::Value::Object(top)) = serde_json::to_value(setup) {
        for (key, value) in top {
            match value {
                serde_json::Value::Object(group) => flat.extend(group),
                value => {
                    flat.insert(key, value);
                }
            }
        }
    }
    flat
}

/// A client for the cluster of `kubeconfig`, or of the environment.
async fn kube_client(kubeconfig: Option<&Path>) -> Result<kube::Client, MeasureError> {
    let fail =
        |what: String, source: Box<dyn std::error::Error + Send + Sync>| MeasureError::Platform {
            platform: PlatformKind::K8s,
            detail: format!("{what}: {source}"),
        };
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                fail(
                    format!("cannot read kubeconfig {}", path.display()),
                    e.into(),
                )
            })?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| fail(format!("kubeconfig {}", path.display()), e.into()))?
        }
        None => kube::Config::infer().await.map_err(|e| {
            fail(
                "no Kubernetes configuration found (set KUBECONFIG or pass --kubeconfig)".into(),
                e.into(),
            )
        })?,
    };
    kube::Client::try_from(config)
        .map_err(|e| fail("cannot build a Kubernetes client".into(), e.into()))
}

/// `path` made absolute against the current directory (paths go to other processes and nodes).
pub fn absolute(path: &Path) -> Result<PathBuf, MeasureError> {
    std::path::absolute(path).map_err(|source| MeasureError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The nodes a run uses when none are given: Slurm's nodes, none yet for KSI (its clusters
/// report them), this host otherwise.
pub async fn default_nodes(kind: PlatformKind) -> Result<Vec<String>, MeasureError> {
    Ok(match kind {
        PlatformKind::Slurm => crate::slurm::client::nodes().await?,
        PlatformKind::Ksi => Vec::new(),
        _ => vec![faastwin_workers::host_name()],
    })
}

/// A run id that is a valid label value and sorts by time: `20261123-134501-3f2a`.
pub fn new_run_id() -> String {
    let now = chrono::Local::now();
    format!(
        "{}-{:04x}",
        now.format("%Y%m%d-%H%M%S"),
        std::process::id() & 0xffff
    )
}

/// Every submission of a run's first repetition, as `--dry-run` prints it, without contacting
/// any platform: a comment line naming partition, position, invocation and node, then the
/// submission.
pub async fn dry_run(
    options: &crate::RunOptions,
    setup: &PlatformSetup,
    dataset: &faastwin_workers::dataset::Dataset,
    run_dir: &Path,
) -> Result<Vec<String>, MeasureError> {
    let mut options = options.clone();
    if options.nodes.is_empty() {
        options.nodes = (0..options.partitions)
            .map(|p| format!("<node of partition {p}>"))
            .collect();
    }
    let mut lines = Vec::new();
    for partition in crate::plan(&options, dataset, run_dir, 0) {
        for spec in partition {
            lines.push(format!(
                "# partition {} seq {} invocation {} on {}",
                spec.partition, spec.seq, spec.invocation_id, spec.node
            ));
            lines.push(
                setup
                    .describe(options.platform, &spec, &dataset.dir, run_dir)
                    .await?,
            );
        }
    }
    Ok(lines)
}
