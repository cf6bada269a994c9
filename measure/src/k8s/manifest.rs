//! The Job of one invocation: its name, labels, pod template, volumes and pinning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, HostPathVolumeSource, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec,
    ResourceRequirements, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::{InvocationSpec, MeasureError};

/// Label carrying the run id on every object a run creates.
pub const RUN_LABEL: &str = "faastwin.io/run";

/// How a partition's Jobs are pinned to its node.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Pinning {
    /// `spec.nodeName`: bypasses the scheduler (no PodScheduled condition).
    NodeName,
    /// `nodeSelector: kubernetes.io/hostname=<node>`: through the scheduler.
    NodeSelector,
    /// No pinning: the cluster has one node (KSI) or the scheduler decides.
    #[value(skip)]
    None,
}

/// Where the dataset and the results live inside the pod.
#[derive(Debug, Clone, PartialEq)]
pub enum DataVolume {
    /// Host directories (shared storage mounted on every node): dataset read-only at /data,
    /// results at /out.
    HostPath {
        /// Dataset directory on the nodes.
        dataset: PathBuf,
        /// Results directory on the nodes.
        results: PathBuf,
    },
    /// One PersistentVolumeClaim mounted at /shared; host paths under `root` are rewritten to
    /// paths under /shared.
    Claim {
        /// Claim name.
        claim: String,
        /// Directory of the shared storage the claim exposes, as the measuring host sees it.
        root: PathBuf,
    },
}

/// Everything a Job needs besides the invocation.
#[derive(Debug, Clone)]
pub struct JobTemplate {
    /// Namespace of the Jobs.
    pub namespace: String,
    /// Worker image.
    pub image: String,
    /// imagePullPolicy (`IfNotPresent`, `Never`, `Always`).
    pub image_pull_policy: String,
    /// Dataset and results.
    pub volume: DataVolume,
    /// CPU request (e.g. `100m`), if any.
    pub cpu_request: Option<String>,
    /// Memory request (e.g. `64Mi`), if any.
    pub memory_request: Option<String>,
    /// ttlSecondsAfterFinished.
    pub ttl_seconds: i32,
    /// Node pinning.
    pub pinning: Pinning,
}

/// The Job name of an invocation: `faastwin-<run>-r<rep>-<id>`, with `-a<attempt>` from the
/// second attempt on (DNS-1123, at most 63 chars). An attempt of a resumed run has a name of its
/// own, so neither the earlier attempt's Job (still being deleted, or back after a datastore
/// restart) nor its pod can be taken for it.
pub fn job_name(spec: &InvocationSpec) -> String {
    let name = format!(
        "faastwin-{}-r{}-{:06}",
        spec.run_id, spec.repetition, spec.invocation_id
    );
    match spec.attempt {
        0 | 1 => name,
        attempt => format!("{name}-a{attempt}"),
    }
}

/// Checks that a run id makes valid label values and Job names.
pub fn validate_run_id(run_id: &str) -> Result<(), MeasureError> {
    let ok = !run_id.is_empty()
        && run_id.len() <= 30
        && run_id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !run_id.starts_with('-')
        && !run_id.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(MeasureError::Options(format!(
            "run id {run_id:?} must be 1-30 lowercase letters, digits and inner '-' (it becomes a label and part of Job names)"
        )))
    }
}

fn labels(spec: &InvocationSpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "faastwin".to_owned(),
        ),
        (RUN_LABEL.to_owned(), spec.run_id.clone()),
        (
            "faastwin.io/repetition".to_owned(),
            spec.repetition.to_string(),
        ),
        (
            "faastwin.io/partition".to_owned(),
            spec.partition.to_string(),
        ),
        (
            "faastwin.io/invocation".to_owned(),
            spec.invocation_id.to_string(),
        ),
    ])
}

/// The Job for one invocation.
pub fn job_manifest(spec: &InvocationSpec, t: &JobTemplate) -> Job {
    let data = Data::of(spec, &t.volume);
    let mut requests = BTreeMap::new();
    if let Some(cpu) = &t.cpu_request {
        requests.insert("cpu".to_owned(), Quantity(cpu.clone()));
    }
    if let Some(memory) = &t.memory_request {
        requests.insert("memory".to_owned(), Quantity(memory.clone()));
    }
    let (node_name, node_selector) = match t.pinning {
        Pinning::NodeName => (Some(spec.node.clone()), None),
        Pinning::NodeSelector => (
            None,
            Some(BTreeMap::from([(
                "kubernetes.io/hostname".to_owned(),
                spec.node.clone(),
            )])),
        ),
        Pinning::None => (None, None),
    };
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(spec)),
            namespace: Some(t.namespace.clone()),
            labels: Some(labels(spec)),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(t.ttl_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(spec)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    node_name,
                    node_selector,
                    containers: vec![Container {
                        name: "worker".into(),
                        image: Some(t.image.clone()),
                        image_pull_policy: Some(t.image_pull_policy.clone()),
                        args: Some(spec.worker_args(data.input, data.output)),
                        termination_message_policy: Some("FallbackToLogsOnError".into()),
                        resources: (!requests.is_empty()).then(|| ResourceRequirements {
                            requests: Some(requests),
                            ..ResourceRequirements::default()
                        }),
                        volume_mounts: Some(data.mounts),
                        ..Container::default()
                    }],
                    volumes: Some(data.volumes),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// How an invocation's pod sees the dataset and the results: its volumes, their mounts, and
/// the input and output paths inside the container.
struct Data {
    volumes: Vec<Volume>,
    mounts: Vec<VolumeMount>,
    input: String,
    output: String,
}

impl Data {
    fn of(spec: &InvocationSpec, volume: &DataVolume) -> Data {
        match volume {
            DataVolume::HostPath { dataset, results } => {
                let host = |name: &str, path: &Path| Volume {
                    name: name.into(),
                    host_path: Some(HostPathVolumeSource {
                        path: path.display().to_string(),
                        type_: Some("Directory".into()),
                    }),
                    ..Volume::default()
                };
                let inside = |path: &Path, dir: &Path, mount: &str| {
                    format!(
                        "{mount}/{}",
                        path.strip_prefix(dir).unwrap_or(path).display()
                    )
                };
                Data {
                    volumes: vec![host("data", dataset), host("out", results)],
                    mounts: vec![
                        VolumeMount {
                            name: "data".into(),
                            mount_path: "/data".into(),
                            read_only: Some(true),
                            ..VolumeMount::default()
                        },
                        VolumeMount {
                            name: "out".into(),
                            mount_path: "/out".into(),
                            ..VolumeMount::default()
                        },
                    ],
                    input: inside(&spec.input, dataset, "/data"),
                    output: inside(&spec.output, results, "/out"),
                }
            }
            DataVolume::Claim { claim, root } => {
                let inside = |path: &Path| {
                    format!(
                        "/shared/{}",
                        path.strip_prefix(root).unwrap_or(path).display()
                    )
                };
                Data {
                    volumes: vec![Volume {
                        name: "shared".into(),
                        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                            claim_name: claim.clone(),
                            read_only: None,
                        }),
                        ..Volume::default()
                    }],
                    mounts: vec![VolumeMount {
                        name: "shared".into(),
                        mount_path: "/shared".into(),
                        ..VolumeMount::default()
                    }],
                    input: inside(&spec.input),
                    output: inside(&spec.output),
                }
            }
        }
    }
}
