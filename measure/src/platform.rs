//! What a platform must do for the driver: run one invocation and report what it saw.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{DriverClock, InvocationSpec, MeasureError, Observation, PlatformKind};

/// Facts about a platform for `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformInfo {
    /// The platform.
    pub name: PlatformKind,
    /// Versions of the software involved.
    pub versions: Vec<(String, String)>,
    /// Nodes the platform offers.
    pub nodes: Vec<String>,
    /// Startup overhead measured before the first invocation [s] (KSI).
    pub startup_overhead_s: Option<f64>,
    /// CPUs of each node, where the platform says (local: this host; Slurm: sinfo).
    #[serde(default)]
    pub cpus_per_node: Option<u32>,
    /// The CPUs each node owns, where the platform made the nodes or a node says (local and
    /// container logical nodes; Kubernetes nodes annotated `faastwin.io/cpus`, as the testbed's
    /// are: node, CPU list). Empty where a node is the whole host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_cpus: Vec<(String, String)>,
    /// Interval of the platform's scheduling cycle [s] (Slurm's sched_interval).
    #[serde(default)]
    pub scheduler_interval_s: Option<f64>,
    /// Interval at which the driver polls the platform's state [s] (Slurm).
    #[serde(default)]
    pub poll_interval_s: Option<f64>,
}

impl PlatformInfo {
    /// A description of `kind` that says nothing else yet.
    pub fn new(kind: PlatformKind) -> Self {
        PlatformInfo {
            name: kind,
            versions: Vec::new(),
            nodes: Vec::new(),
            startup_overhead_s: None,
            cpus_per_node: None,
            node_cpus: Vec::new(),
            scheduler_interval_s: None,
            poll_interval_s: None,
        }
    }
}

/// One execution platform.
#[async_trait]
pub trait Platform: Send + Sync {
    /// Checks that the platform is usable for these nodes and describes it.
    async fn prepare(&self, nodes: &[String]) -> Result<PlatformInfo, MeasureError>;

    /// What would be submitted for `spec` (`--dry-run`).
    fn describe_submission(&self, spec: &InvocationSpec) -> String;

    /// Runs one invocation to its end (or `timeout`), recording instants on `clock`.
    async fn invoke(
        &self,
        spec: &InvocationSpec,
        clock: &DriverClock,
        timeout: Duration,
    ) -> Observation;

    /// Removes whatever this run created and is still there (only by this run's label).
    async fn cleanup(&self, run_id: &str) -> Result<(), MeasureError>;

    /// CPU time [s] each component of the run has spent so far, cumulative, where the platform
    /// can tell (the run records the difference over each session in `run.json`
    /// `node_cpu.components`). None by default.
    fn component_cpu(&self, run_id: &str) -> crate::components::ComponentCpu {
        let _ = run_id;
        crate::components::ComponentCpu::new()
    }
}
