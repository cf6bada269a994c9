//! Logical nodes of one host: `n1..nN`, each owning an equal share of the CPUs the measuring
//! process may use, so that the local and container platforms measure N nodes of their own
//! (issue 25). A node's share is given to every body it runs as its CPU affinity (local, through
//! `taskset`) or its cpuset (container, `podman --cpuset-cpus`, with podman, conmon and runc
//! under `taskset` on the node's CPUs too).

use faastwin_models::cpus;

use crate::MeasureError;

/// One logical node and the CPUs it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalNode {
    /// `n1`, `n2`, …
    pub name: String,
    /// The CPUs it owns, ascending.
    pub cpus: Vec<u32>,
}

impl LogicalNode {
    /// Its CPUs in the kernel's list format (`0`, `0-1`, `0,2`), as `taskset`, podman and
    /// `Cpus_allowed_list` write them.
    pub fn cpu_list(&self) -> String {
        cpus::format_list(&self.cpus)
    }
}

/// Splits `cpus` into `count` nodes of equal, contiguous shares; `count` must divide them.
pub fn split(count: u32, cpus: &[u32]) -> Result<Vec<LogicalNode>, MeasureError> {
    let shares = cpus::split_evenly(count, cpus).ok_or_else(|| {
        MeasureError::Options(format!(
            "--logical-nodes {count}: this process may use {n} CPUs ({}), which {count} nodes cannot own in equal shares; use a divisor of {n}",
            cpus::format_list(cpus),
            n = cpus.len()
        ))
    })?;
    Ok(shares
        .into_iter()
        .enumerate()
        .map(|(i, cpus)| LogicalNode {
            name: format!("n{}", i + 1),
            cpus,
        })
        .collect())
}

/// The CPUs this process may run on (`Cpus_allowed_list`, as the worker reports its own).
pub fn cpus_allowed() -> Result<Vec<u32>, MeasureError> {
    cpus::allowed().ok_or_else(|| {
        MeasureError::Options(
            "logical nodes need Linux's Cpus_allowed_list in /proc/self/status".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_own_equal_contiguous_shares_or_are_refused() {
        let nodes = split(2, &[0, 1, 2, 3]).unwrap();
        assert_eq!(
            nodes.iter().map(LogicalNode::cpu_list).collect::<Vec<_>>(),
            ["0-1", "2-3"]
        );
        assert_eq!(nodes[1].name, "n2");
        assert_eq!(split(1, &[4, 6]).unwrap()[0].cpu_list(), "4,6");
        for count in [0, 3, 5] {
            let err = split(count, &[0, 1, 2, 3]).unwrap_err().to_string();
            assert!(
                err.contains("--logical-nodes") && err.contains("0-3"),
                "{err}"
            );
        }
    }
}
