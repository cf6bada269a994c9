//! One node's startup stages as the driver saw them, and `ksi-startup.csv`.

use std::path::Path;

use faastwin_models::ClusterStep;

use crate::MeasureError;

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
pub(super) fn failed_task(line: &str) -> Option<u32> {
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

#[cfg(test)]
mod tests {
    use super::failed_task;

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
