//! The real nodes of an instance (issue 25): each a kubelet with its own containerd, cgroup
//! root, pod network and CPUs. Node 1 also runs the control plane (kine, the API server, the
//! controller manager, the scheduler and kwok), as a K3s server is also an agent. Each node's
//! processes run with its CPUs as their affinity, which everything they start inherits
//! (containerd's shims, runc, the pods: `docs/experiments/confinement.md`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::TestbedError;

/// One real node of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealNode {
    /// Its name (node 1: the instance's `--node`; node i: `<node>-<i>`).
    pub name: String,
    /// Its place, from 1.
    pub index: u32,
    /// The CPUs it owns, in the kernel's list format (`0`, `2-3`).
    pub cpus: String,
    /// Its kubelet's API port (127.0.0.1).
    pub kubelet: u16,
    /// Its kubelet's health port.
    pub kubelet_healthz: u16,
}

impl RealNode {
    /// What tells this node's things from node 1's: nothing for node 1 (whose names and paths
    /// are those of a one-node instance), `-<i>` for the others.
    fn suffix(&self) -> String {
        if self.index == 1 {
            String::new()
        } else {
            format!("-{}", self.index)
        }
    }

    /// The name of a component of this node (`containerd`, `kubelet-2`).
    pub fn component(&self, what: &str) -> String {
        format!("{what}{}", self.suffix())
    }

    /// Its directory for data and configuration: the instance's for node 1, else
    /// `DIR/nodes/<name>`.
    pub fn dir(&self, instance: &Path) -> PathBuf {
        match self.index {
            1 => instance.to_owned(),
            _ => instance.join("nodes").join(&self.name),
        }
    }

    /// Its socket directory: the instance's for node 1, else a directory in it.
    pub fn run(&self, instance_run: &Path) -> PathBuf {
        match self.index {
            1 => instance_run.to_owned(),
            _ => instance_run.join(&self.name),
        }
    }

    /// Its cgroup root, in every hierarchy: `faastwin-<id>`, `faastwin-<id>-<i>`.
    pub fn cgroup(&self, id: &str) -> String {
        format!("faastwin-{id}{}", self.suffix())
    }

    /// Its pod network's bridge (at most 15 characters, Linux's limit).
    pub fn bridge(&self, id: &str) -> String {
        match self.index {
            1 => format!("ftw-{id}"),
            i => format!("ftw{i}-{id}"),
        }
    }

    /// Its pod network's name (host-local IPAM keeps its addresses under it).
    pub fn network(&self, id: &str) -> String {
        self.cgroup(id)
    }

    /// Its pods' subnet: one /16 per node, so that no two nodes hand out the same address.
    pub fn subnet(&self) -> String {
        format!("10.{}.0.0/16", 243 + self.index)
    }

    /// The kubeconfig name of its kubelet's identity (`kubelet`, `kubelet-2`).
    pub fn identity(&self) -> String {
        self.component("kubelet")
    }
}

/// Most real nodes an instance has: their subnets `10.244.0.0/16` … stay below 10.255.
pub const MAX_NODES: u32 = 11;

/// `count` nodes named after `first`, each owning an equal share of `cpus` (the CPUs this
/// process may use), ports still unset; refused when the shares cannot be equal.
pub fn lay_out(count: u32, first: &str, cpus: &[u32]) -> Result<Vec<RealNode>, TestbedError> {
    let refused = |why: String| TestbedError::Options {
        detail: format!("--nodes {count}: {why}"),
    };
    if !(1..=MAX_NODES).contains(&count) {
        return Err(refused(format!("between 1 and {MAX_NODES} real nodes")));
    }
    let shares = faastwin_models::cpus::split_evenly(count, cpus).ok_or_else(|| {
        refused(format!(
            "this process may use {n} CPUs ({}), which {count} nodes cannot own in equal shares; use a divisor of {n} (or confine the testbed first, e.g. taskset -c 0 faastwin-testbed up)",
            faastwin_models::cpus::format_list(cpus),
            n = cpus.len()
        ))
    })?;
    Ok(shares
        .iter()
        .zip(1..)
        .map(|(share, index)| RealNode {
            name: match index {
                1 => first.to_owned(),
                i => format!("{first}-{i}"),
            },
            index,
            cpus: faastwin_models::cpus::format_list(share),
            kubelet: 0,
            kubelet_healthz: 0,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_share_the_cpus_evenly_and_node_one_keeps_a_one_node_instances_names() {
        let nodes = lay_out(2, "host", &[0, 1, 2, 3]).unwrap();
        assert_eq!(
            nodes
                .iter()
                .map(|n| (n.name.as_str(), n.cpus.as_str()))
                .collect::<Vec<_>>(),
            [("host", "0-1"), ("host-2", "2-3")]
        );
        let (one, two) = (&nodes[0], &nodes[1]);
        let dir = Path::new("/tmp/tb");
        assert_eq!(one.dir(dir), dir);
        assert_eq!(two.dir(dir), Path::new("/tmp/tb/nodes/host-2"));
        assert_eq!(
            (one.component("kubelet"), two.component("kubelet")),
            ("kubelet".into(), "kubelet-2".into())
        );
        assert_eq!(
            (one.cgroup("ab12"), two.cgroup("ab12")),
            ("faastwin-ab12".into(), "faastwin-ab12-2".into())
        );
        assert_ne!(one.subnet(), two.subnet());
        let last = lay_out(MAX_NODES, "h", &(0..MAX_NODES).collect::<Vec<_>>()).unwrap();
        let last = last.last().unwrap();
        assert!(last.bridge("01234567").len() <= 15);
        assert_eq!(last.subnet(), "10.254.0.0/16");
    }

    #[test]
    fn shares_that_cannot_be_equal_are_refused_naming_the_cpus() {
        for (count, cpus) in [(3, vec![0, 1]), (0, vec![0]), (MAX_NODES + 1, vec![0; 12])] {
            let err = lay_out(count, "h", &cpus).unwrap_err().to_string();
            assert!(err.contains(&format!("--nodes {count}")), "{err}");
        }
        let err = lay_out(3, "h", &[0, 1]).unwrap_err().to_string();
        assert!(err.contains("0-1") && err.contains("taskset"), "{err}");
    }
}
