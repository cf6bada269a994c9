//! CPU time by component over a measurement (issue 30): what the processes the driver started
//! and waited for spent (its children's CPU in `/proc/self/stat`: the bodies of the local
//! platform, podman's client for containers), and what each cgroup of the run spent (podman's
//! conmon and runc, the containers themselves), so that a start's CPU work is measured, not
//! inferred from wall times at one load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The components of a Kubernetes control plane, as [`cgroup_children_cpu`] names them: the
/// testbed runs them once per cluster, on its first node, where they serve every node's Jobs;
/// the other components (`kubelet`, `containerd`, `pods`) serve their own node's.
pub const CONTROL_PLANE: [&str; 4] = [
    "kine",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
];

/// Where the kernel mounts the cgroup hierarchies.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// CPU time [s] of every process the driver started and has waited for (with whatever those
/// waited for), from the `cutime` and `cstime` fields of `/proc/self/stat`.
pub fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    children_seconds_of(&stat)
}

/// The children's CPU seconds of a `/proc/PID/stat` line (fields 16 and 17).
fn children_seconds_of(stat: &str) -> Option<f64> {
    stat_seconds(stat, 16)
}

/// CPU seconds of this process itself, children excluded (`/proc/self/stat` utime + stime).
pub(crate) fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    stat_seconds(&stat, 14)
}

/// Fields `field` and `field + 1` (numbered from 1, as in proc(5)) of a `/proc/PID/stat` line,
/// clock ticks summed, in seconds: utime + stime at 14, cutime + cstime at 16.
fn stat_seconds(stat: &str, field: usize) -> Option<f64> {
    // The fields after the parenthesised command name, which may hold spaces and parentheses:
    // field 3 is the first of them.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(field - 3);
    let ticks = fields.next()?.parse::<f64>().ok()? + fields.next()?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux ABI faastwin targets.
    Some(ticks / 100.0)
}

/// The cgroup a run's containers live under (`podman run --cgroup-parent`), named after the
/// run so that only it is ever removed.
pub fn run_cgroup(run_id: &str) -> String {
    format!("/faastwin-{run_id}")
}

/// CPU time [s] a cgroup and its descendants have spent, also those already removed (the
/// kernel charges every ancestor as it runs): cgroup v1's `cpuacct.usage`, or v2's
/// `cpu.stat` `usage_usec`. 0 when the cgroup does not exist (yet, or any more).
pub fn cgroup_cpu_seconds(cgroup: &str) -> f64 {
    let relative = cgroup.trim_start_matches('/');
    let v1 = Path::new(CGROUP_ROOT)
        .join("cpuacct")
        .join(relative)
        .join("cpuacct.usage");
    if let Ok(text) = std::fs::read_to_string(&v1) {
        return text.trim().parse::<f64>().map_or(0.0, |ns| ns / 1e9);
    }
    let v2 = Path::new(CGROUP_ROOT).join(relative).join("cpu.stat");
    std::fs::read_to_string(v2)
        .ok()
        .and_then(|text| usage_usec_of(&text))
        .map_or(0.0, |us| us / 1e6)
}

/// Whether `cgroup` exists in the cpuacct hierarchy (v1) or the unified one (v2).
pub fn cgroup_exists(cgroup: &str) -> bool {
    let relative = cgroup.trim_start_matches('/');
    !relative.is_empty()
        && (Path::new(CGROUP_ROOT)
            .join("cpuacct")
            .join(relative)
            .is_dir()
            || Path::new(CGROUP_ROOT)
                .join(relative)
                .join("cpu.stat")
                .is_file())
}

/// The CPU time [s] of each cgroup directly below `cgroup` in the cpuacct hierarchy, by
/// component: `faastwin-NAME` is NAME (a process the testbed accounts apart), `kubepods` is
/// `pods` (the kubelet's pods); others are left out.
pub fn cgroup_children_cpu(cgroup: &str) -> ComponentCpu {
    let relative = cgroup.trim_start_matches('/');
    let dir = Path::new(CGROUP_ROOT).join("cpuacct").join(relative);
    let mut cpu = ComponentCpu::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let file_name = entry.file_name();
        let Some(child) = file_name.to_str() else {
            continue;
        };
        let name = match child {
            "kubepods" => "pods",
            other => match other.strip_prefix("faastwin-") {
                Some(name) => name,
                None => continue,
            },
        };
        cpu.insert(
            name.to_owned(),
            cgroup_cpu_seconds(&format!("{relative}/{child}")),
        );
    }
    cpu
}

/// `usage_usec` of a cgroup v2 `cpu.stat`.
fn usage_usec_of(stat: &str) -> Option<f64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
}

/// Removes `cgroup` and the cgroups below it from every hierarchy that has it (deepest first),
/// once no process is left in them: a run's own cgroups only (the caller names them after the
/// run). Returns the ones that could not be removed, with the reason.
pub fn remove_cgroup(cgroup: &str) -> Vec<String> {
    let relative = cgroup.trim_start_matches('/');
    if relative.is_empty() || relative.contains("..") {
        return vec![format!("{cgroup}: not a run's cgroup")];
    }
    let mut dirs = Vec::new();
    let hierarchies = std::fs::read_dir(CGROUP_ROOT)
        .map(|entries| entries.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default();
    for root in hierarchies
        .iter()
        .map(PathBuf::as_path)
        .chain([Path::new(CGROUP_ROOT)])
    {
        let top = root.join(relative);
        if top.is_dir() {
            collect_depth_first(&top, &mut dirs);
        }
    }
    let mut left = Vec::new();
    for dir in dirs {
        // A process that is just exiting (conmon after its container) keeps it busy briefly.
        let mut result = std::fs::remove_dir(&dir);
        for _ in 0..20 {
            if result.is_ok() || !dir.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            result = std::fs::remove_dir(&dir);
        }
        if let Err(e) = result
            && dir.exists()
        {
            left.push(format!("{}: {e}", dir.display()));
        }
    }
    left
}

/// `dir` and every directory below it, children before their parents.
fn collect_depth_first(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_depth_first(&entry.path(), out);
            }
        }
    }
    out.push(dir.to_owned());
}

/// CPU time [s] by component at one instant, cumulative; a session records the difference of
/// two.
pub type ComponentCpu = BTreeMap<String, f64>;

/// `end - start` per component of `end`, never below 0 (a component missing at the start had
/// spent nothing yet).
pub fn difference(start: &ComponentCpu, end: &ComponentCpu) -> ComponentCpu {
    end.iter()
        .map(|(name, e)| {
            let s = start.get(name).copied().unwrap_or(0.0);
            (name.clone(), (e - s).max(0.0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_time_is_fields_16_and_17_even_after_a_name_with_spaces() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime cutime cstime ...
        let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 200 0 0 7 8 150 25 20 0 1 0 1000";
        assert_eq!(children_seconds_of(line), Some(1.75));
        assert_eq!(stat_seconds(line, 14), Some(0.15), "utime + stime");
        assert_eq!(children_seconds_of("42 (x) S 1"), None);
    }

    #[test]
    fn cgroup_v2_usage_is_read_from_cpu_stat() {
        let stat = "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n";
        assert_eq!(usage_usec_of(stat), Some(2_500_000.0));
        assert_eq!(usage_usec_of("user_usec 3\n"), None);
    }

    #[test]
    fn a_cgroup_that_is_not_there_spent_nothing_and_a_bad_name_is_never_removed() {
        assert_eq!(cgroup_cpu_seconds("/faastwin-no-such-run-ever"), 0.0);
        for bad in ["/", "", "/../etc"] {
            assert_eq!(remove_cgroup(bad).len(), 1, "{bad}");
        }
        assert!(remove_cgroup("/faastwin-no-such-run-ever").is_empty());
    }

    #[test]
    fn a_session_records_what_each_component_spent_during_it() {
        let start = ComponentCpu::from([("podman".into(), 1.0), ("runc".into(), 0.5)]);
        let end = ComponentCpu::from([
            ("podman".into(), 3.5),
            ("runc".into(), 0.25),
            ("containers".into(), 2.0),
        ]);
        let d = difference(&start, &end);
        assert_eq!(d["podman"], 2.5);
        assert_eq!(d["runc"], 0.0, "never below 0");
        assert_eq!(d["containers"], 2.0);
    }
}
