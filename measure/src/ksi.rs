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
//!
//! Layout: the launcher (the Slurm side: allocation, readiness, heartbeat, teardown), each
//! node's startup record (`ksi-startup.csv`) and the platform, which drives one
//! [`K8sPlatform`](crate::k8s::K8sPlatform) per node's cluster.

mod launcher;
mod platform;
mod startup;

pub use launcher::{KsiConfig, KsiLauncher, NodeCluster, ORPHANED_AFTER};
pub use platform::KsiPlatform;
pub use startup::{NodeStartup, read_startup, write_startup};
