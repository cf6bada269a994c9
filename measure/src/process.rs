//! The `local` and `container` platforms: each invocation is one child process, the worker
//! itself (bare metal) or `podman run --rm` of the worker image (container per task).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use faastwin_workers::Report;
use tokio::process::Command;

use crate::components::ComponentCpu;
use crate::nodes::LogicalNode;
use crate::platform::{Platform, PlatformInfo};
use crate::{DriverClock, InvocationSpec, MeasureError, Observation, Outcome, PlatformKind};

/// How the worker is started.
#[derive(Debug, Clone)]
pub enum Launch {
    /// The worker binary as a child process.
    Local {
        /// Path of `faastwin-worker`.
        worker: PathBuf,
    },
    /// `podman run --rm` of the worker image, dataset mounted read-only at /data, results at /out.
    Container {
        /// Image reference, e.g. `localhost/faastwin-worker:latest`.
        image: String,
        /// Dataset directory on the host.
        dataset: PathBuf,
        /// Results directory on the host.
        results: PathBuf,
    },
}

/// A platform whose invocations are child processes of the measuring process: on this host as
/// one node, or on logical nodes that each own a share of its CPUs.
#[derive(Debug, Clone)]
pub struct ProcessPlatform {
    launch: Launch,
    logical_nodes: Vec<LogicalNode>,
    /// Containers run under a cgroup of their run (`--cgroup-parent`), whose CPU time is
    /// read: podman manages cgroups itself (`cgroupfs`; under systemd a parent must be a
    /// slice). Known once prepared.
    run_cgroups: Arc<OnceLock<bool>>,
}

impl ProcessPlatform {
    /// A platform launching workers as `launch` says, on this host as one node.
    pub fn new(launch: Launch) -> Self {
        ProcessPlatform {
            launch,
            logical_nodes: Vec::new(),
            run_cgroups: Arc::default(),
        }
    }

    /// The same on `nodes` logical nodes `n1..nN`, each owning an equal share of the CPUs this
    /// process may use; refused when they cannot be shared equally.
    pub fn with_logical_nodes(self, nodes: u32) -> Result<Self, MeasureError> {
        let logical_nodes = crate::nodes::split(nodes, &crate::nodes::cpus_allowed()?)?;
        Ok(ProcessPlatform {
            logical_nodes,
            ..self
        })
    }

    /// The platform's nodes (this host, or its logical nodes), refusing any of `asked` that is
    /// not one of them.
    fn node_names(&self, asked: &[String]) -> Result<Vec<String>, MeasureError> {
        let host = host_name();
        let names: Vec<String> = if self.logical_nodes.is_empty() {
            vec![host.clone()]
        } else {
            self.logical_nodes.iter().map(|n| n.name.clone()).collect()
        };
        let known = |n: &String| {
            names.contains(n) || (self.logical_nodes.is_empty() && n.as_str() == "localhost")
        };
        match asked.iter().find(|n| !known(n)) {
            None => Ok(names),
            Some(other) => Err(MeasureError::Platform {
                platform: self.kind(),
                detail: format!(
                    "unknown node {other:?}: the {} platform runs on {} only",
                    self.kind(),
                    if self.logical_nodes.is_empty() {
                        format!(
                            "this host ({host}), or on its logical nodes with --logical-nodes N"
                        )
                    } else {
                        format!("this host's logical nodes ({})", names.join(", "))
                    }
                ),
            }),
        }
    }

    /// The CPUs of the logical node `node`, if the platform has logical nodes.
    fn cpus_of(&self, node: &str) -> Option<String> {
        self.logical_nodes
            .iter()
            .find(|n| n.name == node)
            .map(LogicalNode::cpu_list)
    }

    fn kind(&self) -> PlatformKind {
        match self.launch {
            Launch::Local { .. } => PlatformKind::Local,
            Launch::Container { .. } => PlatformKind::Container,
        }
    }

    /// Program and arguments for one invocation.
    pub fn command_line(&self, spec: &InvocationSpec) -> (String, Vec<String>) {
        let body = |input: String, output: String| spec.worker_args(input, output);
        let cpus = self.cpus_of(&spec.node);
        match &self.launch {
            Launch::Local { worker } => {
                let args = body(
                    spec.input.display().to_string(),
                    spec.output.display().to_string(),
                );
                match cpus {
                    // The node's CPUs as the body's affinity (an exec of taskset first).
                    Some(cpus) => (
                        "taskset".into(),
                        ["-c".to_owned(), cpus, worker.display().to_string()]
                            .into_iter()
                            .chain(args)
                            .collect(),
                    ),
                    None => (worker.display().to_string(), args),
                }
            }
            Launch::Container {
                image,
                dataset,
                results,
            } => {
                let inside = |path: &Path, dir: &Path, mount: &str| {
                    let rel = path.strip_prefix(dir).unwrap_or(path);
                    format!("{mount}/{}", rel.display())
                };
                let mut args: Vec<String> = [
                    "--runtime",
                    "runc",
                    "run",
                    "--rm",
                    "--network=none",
                    "--ulimit",
                    "nofile=1024:1024",
                    "--ulimit",
                    "nproc=4096:4096",
                    "--label",
                ]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
                args.push(format!("faastwin.run={}", spec.run_id));
                if self.run_cgroups.get() == Some(&true) {
                    args.push(format!(
                        "--cgroup-parent={}",
                        crate::components::run_cgroup(&spec.run_id)
                    ));
                }
                args.push("-v".into());
                args.push(format!("{}:/data:ro", dataset.display()));
                args.push("-v".into());
                args.push(format!("{}:/out", results.display()));
                if let Some(cpus) = &cpus {
                    args.push(format!("--cpuset-cpus={cpus}"));
                }
                args.push(image.clone());
                args.extend(body(
                    inside(&spec.input, dataset, "/data"),
                    inside(&spec.output, results, "/out"),
                ));
                match cpus {
                    // The node's CPUs also for podman itself, and so for conmon and runc,
                    // which it starts: a container's start is its node's work too. (The
                    // engine's store and locks stay the host's, one for every logical node.)
                    Some(cpus) => (
                        "taskset".into(),
                        ["-c".to_owned(), cpus, "podman".to_owned()]
                            .into_iter()
                            .chain(args)
                            .collect(),
                    ),
                    None => ("podman".into(), args),
                }
            }
        }
    }
}

/// Parses the worker's report: the last stdout line that is one.
pub fn parse_report(stdout: &str) -> Option<Report> {
    stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Report>(line.trim()).ok())
}

/// Runs a command as one invocation: submit = spawn requested, create ack = spawned,
/// done seen = exit observed.
pub(crate) async fn run_command(
    program: &str,
    args: &[String],
    clock: &DriverClock,
    timeout: Duration,
) -> Observation {
    let mut obs = Observation {
        ..Observation::default()
    };
    tracing::debug!(program, ?args, "spawn");
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    obs.t_submit = Some(clock.now_ns());
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            obs.outcome = Some(Outcome::SubmitError);
            obs.error = Some(format!("cannot start {program}: {e}"));
            return obs;
        }
    };
    obs.t_create_ack = Some(clock.now_ns());
    // A process is placed when its spawn is requested: there is no scheduling step, and the
    // child may start its body before spawn() returns in the parent.
    obs.t_scheduled_seen = obs.t_submit;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => {
            obs.outcome = Some(Outcome::TimedOut);
            obs.error = Some(format!(
                "no exit within {} s (killed)",
                timeout.as_secs_f64()
            ));
        }
        Ok(Err(e)) => {
            obs.outcome = Some(Outcome::Failed);
            obs.error = Some(format!("waiting for {program}: {e}"));
        }
        Ok(Ok(output)) => {
            obs.t_done_seen = Some(clock.now_ns());
            obs.exit_code = output.status.code();
            obs.report = parse_report(&String::from_utf8_lossy(&output.stdout));
            if output.status.success() && obs.report.is_some() {
                obs.outcome = Some(Outcome::Succeeded);
            } else {
                obs.outcome = Some(Outcome::Failed);
                let stderr = String::from_utf8_lossy(&output.stderr);
                obs.error = Some(match stderr.lines().last() {
                    Some(line) => line.trim().to_owned(),
                    None if output.status.success() => "no timing report on stdout".to_owned(),
                    None => format!("exit status {}", output.status),
                });
            }
        }
    }
    obs
}

pub(crate) use faastwin_workers::host_name;

pub(crate) async fn version_of(program: &str, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().await.ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    out.status
        .success()
        .then(|| text.lines().next().unwrap_or("").trim().to_owned())
}

#[async_trait]
impl Platform for ProcessPlatform {
    async fn prepare(&self, nodes: &[String]) -> Result<PlatformInfo, MeasureError> {
        let names = self.node_names(nodes)?;
        let mut versions = vec![("faastwin".to_owned(), env!("CARGO_PKG_VERSION").to_owned())];
        match &self.launch {
            Launch::Local { worker } => {
                let v = version_of(&worker.display().to_string(), "--version")
                    .await
                    .ok_or_else(|| MeasureError::Platform {
                        platform: PlatformKind::Local,
                        detail: format!(
                            "cannot run the worker {} (`cargo build --release` builds it into target/release/; or pass --worker PATH)",
                            worker.display()
                        ),
                    })?;
                versions.push(("faastwin-worker".into(), v));
            }
            Launch::Container { image, .. } => {
                let v = version_of("podman", "--version").await.ok_or_else(|| {
                    MeasureError::Platform {
                        platform: PlatformKind::Container,
                        detail: "podman not found (apt-get install podman runc)".into(),
                    }
                })?;
                versions.push(("podman".into(), v));
                let exists = Command::new("podman")
                    .args(["image", "exists", image])
                    .status()
                    .await;
                if !exists.is_ok_and(|s| s.success()) {
                    return Err(MeasureError::Platform {
                        platform: PlatformKind::Container,
                        detail: format!(
                            "image {image} not found (build it with workers/container/build-image.sh)"
                        ),
                    });
                }
                versions.push(("image".into(), image.clone()));
                let manager = Command::new("podman")
                    .args(["info", "--format", "{{.Host.CgroupManager}}"])
                    .output()
                    .await
                    .ok()
                    .filter(|out| out.status.success())
                    .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
                let _ = self.run_cgroups.set(manager.as_deref() == Some("cgroupfs"));
            }
        }
        let cpus_per_node = match self.logical_nodes.first() {
            Some(node) => u32::try_from(node.cpus.len()).ok(),
            None => std::thread::available_parallelism()
                .ok()
                .and_then(|n| u32::try_from(n.get()).ok()),
        };
        Ok(PlatformInfo {
            versions,
            nodes: names,
            cpus_per_node,
            node_cpus: self
                .logical_nodes
                .iter()
                .map(|n| (n.name.clone(), n.cpu_list()))
                .collect(),
            ..PlatformInfo::new(self.kind())
        })
    }

    fn describe_submission(&self, spec: &InvocationSpec) -> String {
        let (program, args) = self.command_line(spec);
        format!("{program} {}", args.join(" "))
    }

    async fn invoke(
        &self,
        spec: &InvocationSpec,
        clock: &DriverClock,
        timeout: Duration,
    ) -> Observation {
        let (program, args) = self.command_line(spec);
        let mut obs = run_command(&program, &args, clock, timeout).await;
        // A logical node is the partition's own; otherwise the node is this host.
        obs.node = Some(if self.logical_nodes.is_empty() {
            host_name()
        } else {
            spec.node.clone()
        });
        obs
    }

    async fn cleanup(&self, run_id: &str) -> Result<(), MeasureError> {
        if let Launch::Container { .. } = self.launch {
            // Children are killed when their futures drop; containers may outlive podman's
            // client, so remove this run's containers by label, and only those.
            let label = format!("label=faastwin.run={run_id}");
            tracing::debug!(run = run_id, "podman rm --force --filter {label}");
            let removed = Command::new("podman")
                .args(["rm", "--force", "--filter", &label])
                .output()
                .await;
            match removed {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return Err(MeasureError::Platform {
                        platform: PlatformKind::Container,
                        detail: format!(
                            "removing this run's containers ({label}): {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        ),
                    });
                }
                Err(e) => {
                    return Err(MeasureError::Platform {
                        platform: PlatformKind::Container,
                        detail: format!("cannot run podman to remove this run's containers: {e}"),
                    });
                }
            }
            let cgroup = crate::components::run_cgroup(run_id);
            let left =
                tokio::task::spawn_blocking(move || crate::components::remove_cgroup(&cgroup))
                    .await
                    .unwrap_or_default();
            if !left.is_empty() {
                return Err(MeasureError::Platform {
                    platform: PlatformKind::Container,
                    detail: format!(
                        "removing this run's cgroups: {} (a process of the run is still in them)",
                        left.join("; ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Local: the bodies (every process the driver started and waited for). Containers:
    /// podman's client (the same), conmon with the runc it runs (their cgroup, `conmon` under
    /// the run's), and the containers (the rest of the run's cgroup).
    fn component_cpu(&self, run_id: &str) -> ComponentCpu {
        let children = crate::components::children_cpu_seconds();
        let mut cpu = ComponentCpu::new();
        match self.launch {
            Launch::Local { .. } => {
                cpu.extend(children.map(|s| ("bodies".to_owned(), s)));
            }
            Launch::Container { .. } => {
                cpu.extend(children.map(|s| ("podman".to_owned(), s)));
                if self.run_cgroups.get() == Some(&true) {
                    let run = crate::components::run_cgroup(run_id);
                    let all = crate::components::cgroup_cpu_seconds(&run);
                    let conmon = crate::components::cgroup_cpu_seconds(&format!("{run}/conmon"));
                    cpu.insert("conmon+runc".into(), conmon);
                    cpu.insert("containers".into(), (all - conmon).max(0.0));
                }
            }
        }
        cpu
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// On a logical node a container's whole start is the node's: podman (and so conmon and
    /// runc, which it starts) runs under `taskset` on the node's CPUs, and the container gets
    /// them as its cpuset.
    #[test]
    fn a_container_on_a_logical_node_starts_on_its_cpus_and_runs_in_them() {
        let Some(cpus) = faastwin_models::cpus::allowed().filter(|c| c.len() % 2 == 0) else {
            return;
        };
        let platform = ProcessPlatform::new(Launch::Container {
            image: "img".into(),
            dataset: PathBuf::from("/data-dir"),
            results: PathBuf::from("/results-dir"),
        })
        .with_logical_nodes(2)
        .unwrap();
        let spec = InvocationSpec {
            run_id: "r".into(),
            workload: faastwin_models::Body::Relay,
            repetition: 0,
            partition: 1,
            seq: 0,
            invocation_id: 0,
            node: "n2".into(),
            input: PathBuf::from("/data-dir/x.json"),
            output: PathBuf::from("/results-dir/x.json"),
            input_bytes: 1,
            warmup: false,
            attempt: 1,
            session: 0,
        };
        let second = faastwin_models::cpus::format_list(&cpus[cpus.len() / 2..]);
        let (program, args) = platform.command_line(&spec);
        assert_eq!(program, "taskset");
        assert_eq!(
            args[..3],
            ["-c".to_owned(), second.clone(), "podman".into()]
        );
        assert!(
            args.contains(&format!("--cpuset-cpus={second}")),
            "{args:?}"
        );
    }
}
