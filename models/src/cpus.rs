//! CPU lists in the kernel's format (`0-3,8`), and the CPUs a process may run on: the one
//! vocabulary of the logical nodes that own their share of a machine (measure's local and
//! container nodes, the testbed's kubelets, issue 25).

/// The annotation on a Kubernetes node that says which CPUs it owns (`0`, `2-3`): the testbed
/// writes it on each of its real nodes, measure records it in `run.json`.
pub const NODE_ANNOTATION: &str = "faastwin.io/cpus";

/// The node annotation naming the node's cgroup (`/faastwin-<id>`), below which cgroup v1's
/// cpuacct sums its CPU time by component (`faastwin-kubelet`, `faastwin-containerd`, the
/// control plane's on node 1, and the pods in `kubepods`); set by the testbed.
pub const CGROUP_ANNOTATION: &str = "faastwin.io/cgroup";

/// Parses the kernel's CPU list format (`0-3,5`) into ascending CPUs; None if it is not one.
pub fn parse_list(list: &str) -> Option<Vec<u32>> {
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
pub fn format_list(cpus: &[u32]) -> String {
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

/// `Cpus_allowed_list` of this process (Linux, e.g. `0-1`): the CPUs its confinement left it;
/// None where there is no such line.
pub fn allowed_list() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The CPUs this process may run on, ascending; None off Linux.
pub fn allowed() -> Option<Vec<u32>> {
    allowed_list().and_then(|list| parse_list(&list))
}

/// `cpus` in `count` equal, contiguous shares, in order; None when `count` does not divide them
/// (or is zero).
pub fn split_evenly(count: u32, cpus: &[u32]) -> Option<Vec<Vec<u32>>> {
    let count = usize::try_from(count).ok()?;
    if count == 0 || count > cpus.len() || cpus.len() % count != 0 {
        return None;
    }
    Some(
        cpus.chunks(cpus.len() / count)
            .map(<[u32]>::to_vec)
            .collect(),
    )
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
            assert_eq!(parse_list(text), Some(cpus.clone()), "{text}");
            assert_eq!(format_list(&cpus), text);
        }
        for bad in ["", "a", "3-1", "1-", "0,,1"] {
            assert_eq!(parse_list(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn shares_are_equal_and_contiguous_or_refused() {
        assert_eq!(
            split_evenly(2, &[0, 1, 2, 3]),
            Some(vec![vec![0, 1], vec![2, 3]])
        );
        assert_eq!(split_evenly(1, &[4, 6]), Some(vec![vec![4, 6]]));
        for count in [0, 3, 5] {
            assert_eq!(split_evenly(count, &[0, 1, 2, 3]), None, "{count}");
        }
    }

    #[test]
    fn this_process_may_run_somewhere() {
        let allowed = allowed().unwrap();
        assert!(!allowed.is_empty());
        assert_eq!(format_list(&allowed), allowed_list().unwrap());
    }
}
