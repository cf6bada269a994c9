//! Logical nodes of one host: `n1..nN`, each owning an equal share of the CPUs the measuring
//! process may use, so that the local and container platforms measure N nodes of their own
//! (issue 25). A node's share is given to every body it runs as its CPU affinity (local, through
//! `taskset`) or its cpuset (container, `podman --cpuset-cpus`).

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
        format_cpu_list(&self.cpus)
    }
}

/// Splits `cpus` into `count` nodes of equal, contiguous shares; `count` must divide them.
pub fn split(count: u32, cpus: &[u32]) -> Result<Vec<LogicalNode>, MeasureError> {
    let n = cpus.len();
    let count_usize = usize::try_from(count).unwrap_or(usize::MAX);
    if count == 0 || count_usize > n || n % count_usize != 0 {
        return Err(MeasureError::Options(format!(
            "--logical-nodes {count}: this process may use {n} CPUs ({}), which {count} nodes cannot own in equal shares; use a divisor of {n}",
            format_cpu_list(cpus)
        )));
    }
    let share = n / count_usize;
    Ok(cpus
        .chunks(share)
        .enumerate()
        .map(|(i, chunk)| LogicalNode {
            name: format!("n{}", i + 1),
            cpus: chunk.to_vec(),
        })
        .collect())
}

/// The CPUs this process may run on (`Cpus_allowed_list`, as the worker reports its own).
pub fn cpus_allowed() -> Result<Vec<u32>, MeasureError> {
    faastwin_workers::cpus_allowed()
        .and_then(|list| parse_cpu_list(&list))
        .ok_or_else(|| {
            MeasureError::Options(
                "logical nodes need Linux's Cpus_allowed_list in /proc/self/status".into(),
            )
        })
}

/// Parses the kernel's CPU list format (`0-3,5`); None if it is not one.
pub fn parse_cpu_list(list: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.trim().parse().ok()?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Some(cpus)
}

/// Writes CPUs in the kernel's list format: runs of consecutive CPUs as ranges.
pub fn format_cpu_list(cpus: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_read_and_write_as_the_kernel_does() {
        for (text, cpus) in [
            ("0", vec![0]),
            ("0-1", vec![0, 1]),
            ("0,2", vec![0, 2]),
            ("0-3,8,10-11", vec![0, 1, 2, 3, 8, 10, 11]),
        ] {
            assert_eq!(parse_cpu_list(text), Some(cpus.clone()), "{text}");
            assert_eq!(format_cpu_list(&cpus), text);
        }
        for bad in ["", "a", "3-1", "1-", "0,,1"] {
            assert_eq!(parse_cpu_list(bad), None, "{bad:?}");
        }
    }

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
