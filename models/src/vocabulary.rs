//! The closed sets every faastwin crate speaks of, named once: which function body runs, on
//! which kind of platform, and how a partition submits.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The function body an invocation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum Body {
    /// Read one small JSON object, hash its payload, write one compact result (milliseconds).
    Relay,
    /// Parse, transform, filter and aggregate one JSONL shard (seconds).
    Etl,
}

impl Body {
    /// Every body, in a fixed order.
    pub const ALL: [Body; 2] = [Body::Relay, Body::Etl];

    /// The name in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Body::Relay => "relay",
            Body::Etl => "etl",
        }
    }
}

/// The kinds of platform `faastwin measure` runs invocations on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum PlatformKind {
    /// The worker as a child process of the measuring process (the bare-metal baseline).
    Local,
    /// One `podman run --rm` of the worker image per invocation.
    Container,
    /// One Slurm job per invocation.
    Slurm,
    /// One Kubernetes Job per invocation on a persistent cluster (K3s or any other).
    K8s,
    /// KSI: a temporary single-node Kubernetes per Slurm-allocated node.
    Ksi,
}

impl PlatformKind {
    /// Every kind, in a fixed order.
    pub const ALL: [PlatformKind; 5] = [
        PlatformKind::Local,
        PlatformKind::Container,
        PlatformKind::Slurm,
        PlatformKind::K8s,
        PlatformKind::Ksi,
    ];

    /// The name in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PlatformKind::Local => "local",
            PlatformKind::Container => "container",
            PlatformKind::Slurm => "slurm",
            PlatformKind::K8s => "k8s",
            PlatformKind::Ksi => "ksi",
        }
    }

    /// True when every stage of an invocation is CPU work on the node's own cores, so that
    /// contention between partitions on a node is processor sharing of those cores.
    pub fn runs_on_node_cores(self) -> bool {
        matches!(self, PlatformKind::Local | PlatformKind::Container)
    }

    /// True for the Kubernetes platforms (Jobs, watch events, termination messages).
    pub fn is_kubernetes(self) -> bool {
        matches!(self, PlatformKind::K8s | PlatformKind::Ksi)
    }
}

/// How a partition submits its invocations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SubmitPolicy {
    /// One at a time: submit, wait for completion, submit the next (the study).
    Sequential,
    /// Up to `size` in flight; each completion frees a place.
    Window {
        /// In-flight limit (≥ 1).
        size: u32,
    },
    /// Open loop: Poisson arrivals at `rate_per_s` per partition, whatever is in flight.
    Poisson {
        /// Arrival rate of one partition [1/s].
        rate_per_s: f64,
    },
    /// Open loop: invocation `i` is submitted `times_s[i]` after its node is ready.
    Arrivals {
        /// Submission time of each invocation [s], one per invocation, non-decreasing within
        /// each partition.
        times_s: Arc<[f64]>,
    },
}

impl SubmitPolicy {
    /// The in-flight limit of a closed-loop policy; `None` for open loop.
    pub fn window(&self) -> Option<u32> {
        match self {
            SubmitPolicy::Sequential => Some(1),
            SubmitPolicy::Window { size } => Some(*size),
            SubmitPolicy::Poisson { .. } | SubmitPolicy::Arrivals { .. } => None,
        }
    }

    /// The policy in words (`sequential`, `window of 4`, ...).
    pub fn describe(&self) -> String {
        match self {
            SubmitPolicy::Sequential => "sequential".into(),
            SubmitPolicy::Window { size } => format!("window of {size}"),
            SubmitPolicy::Poisson { rate_per_s } => {
                format!("poisson {rate_per_s}/s per partition")
            }
            SubmitPolicy::Arrivals { .. } => "arrival times from file".into(),
        }
    }
}

/// A step of a testbed cluster's start, in the order they are reached. The testbed prints each
/// as a line `testbed: step <name> <seconds>`; KSI's node scripts pass those lines on and
/// `measure` reads them back into `ksi-startup.csv` (this enum is that protocol's one owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum ClusterStep {
    /// The node's containerd answers on its socket.
    ContainerdUp,
    /// The datastore (kine) answers.
    DatastoreUp,
    /// The API server's readiness check passes.
    ApiserverReady,
    /// The kubelet's node is Ready.
    NodeReady,
    /// kwok's fake nodes are Ready (only when fake nodes were asked for).
    FakeNodesReady,
    /// The API server accepted a first Job.
    FirstJobAccepted,
    /// A probe Job ran to completion (only with `--probe`).
    ProbeJobDone,
}

impl ClusterStep {
    /// Every step, in the order a start reaches them.
    pub const ALL: [ClusterStep; 7] = [
        ClusterStep::ContainerdUp,
        ClusterStep::DatastoreUp,
        ClusterStep::ApiserverReady,
        ClusterStep::NodeReady,
        ClusterStep::FakeNodesReady,
        ClusterStep::FirstJobAccepted,
        ClusterStep::ProbeJobDone,
    ];

    /// What a step line begins with.
    const LINE_PREFIX: &'static str = "testbed: step ";

    /// The name in lines and files.
    pub fn name(self) -> &'static str {
        match self {
            ClusterStep::ContainerdUp => "containerd_up",
            ClusterStep::DatastoreUp => "datastore_up",
            ClusterStep::ApiserverReady => "apiserver_ready",
            ClusterStep::NodeReady => "node_ready",
            ClusterStep::FakeNodesReady => "fake_nodes_ready",
            ClusterStep::FirstJobAccepted => "first_job_accepted",
            ClusterStep::ProbeJobDone => "probe_job_done",
        }
    }

    /// The line the testbed prints when the step is reached, `seconds` into the start.
    pub fn line(self, seconds: f64) -> String {
        format!("{}{} {seconds:.3}", Self::LINE_PREFIX, self.name())
    }

    /// The step a line names, wherever in the line its `testbed: step` part is (KSI prefixes
    /// `[ksi <procid> <node>]`); `None` for any other line.
    pub fn in_line(line: &str) -> Option<ClusterStep> {
        let (_, rest) = line.split_once(Self::LINE_PREFIX)?;
        rest.split_whitespace().next()?.parse().ok()
    }
}

/// A Slurm job's state as `scontrol` and `squeue` name it (JobState). Slurm has more states
/// than faastwin acts on; those are kept by name in `Other`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum SlurmJobState {
    /// Slurm printed no state (polled again: neither started nor ended).
    #[default]
    Unknown,
    /// Waiting for resources or priority.
    Pending,
    /// Allocated and running.
    Running,
    /// Ended with exit code 0.
    Completed,
    /// Ended otherwise (one of the states a job never leaves, by name).
    Ended(&'static str),
    /// Any other state (CONFIGURING, COMPLETING, SUSPENDED, REQUEUED, ...).
    Other(String),
}

impl SlurmJobState {
    /// The states other than COMPLETED that a job never leaves.
    const ENDED: [&'static str; 8] = [
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
    ];

    /// Reads Slurm's name of a state (`CANCELLED by 0` reads as CANCELLED).
    pub fn parse(text: &str) -> SlurmJobState {
        let word = text.split_whitespace().next().unwrap_or("");
        match word {
            "" => SlurmJobState::Unknown,
            "PENDING" => SlurmJobState::Pending,
            "RUNNING" => SlurmJobState::Running,
            "COMPLETED" => SlurmJobState::Completed,
            _ => match Self::ENDED.into_iter().find(|s| *s == word) {
                Some(name) => SlurmJobState::Ended(name),
                None => SlurmJobState::Other(word.to_owned()),
            },
        }
    }

    /// Slurm's name of the state.
    pub fn name(&self) -> &str {
        match self {
            SlurmJobState::Unknown => "",
            SlurmJobState::Pending => "PENDING",
            SlurmJobState::Running => "RUNNING",
            SlurmJobState::Completed => "COMPLETED",
            SlurmJobState::Ended(name) => name,
            SlurmJobState::Other(name) => name,
        }
    }

    /// True for the states a job never leaves.
    pub fn is_terminal(&self) -> bool {
        matches!(self, SlurmJobState::Completed | SlurmJobState::Ended(_))
    }

    /// True once the job left PENDING (a state Slurm did not print is not a start).
    pub fn has_started(&self) -> bool {
        !matches!(self, SlurmJobState::Pending | SlurmJobState::Unknown)
    }
}

impl fmt::Display for SlurmJobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A quantity of a run that `validate` compares between prediction and measurement (its name is
/// the `metric` column of `validate --format csv`; `simulate` and `sweep` columns of the same
/// quantity carry the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum Metric {
    /// First submit to last completion, after the platform was ready [s].
    WarmMakespanS,
    /// Median Job latency [s].
    P50LatencyS,
    /// 95th percentile of Job latency [s].
    P95LatencyS,
    /// 99th percentile of Job latency [s].
    P99LatencyS,
    /// Mean submit → body start (control plane and startup) [s].
    MeanPreBodyS,
    /// Mean body [s].
    MeanBodyS,
    /// Mean body end → completion seen [s].
    MeanCompletionS,
}

impl Metric {
    /// Every metric, in the order `validate` reports them.
    pub const ALL: [Metric; 7] = [
        Metric::WarmMakespanS,
        Metric::P50LatencyS,
        Metric::P95LatencyS,
        Metric::P99LatencyS,
        Metric::MeanPreBodyS,
        Metric::MeanBodyS,
        Metric::MeanCompletionS,
    ];

    /// The name in files (a CSV column, a JSON value).
    pub const fn name(self) -> &'static str {
        match self {
            Metric::WarmMakespanS => "warm_makespan_s",
            Metric::P50LatencyS => "p50_latency_s",
            Metric::P95LatencyS => "p95_latency_s",
            Metric::P99LatencyS => "p99_latency_s",
            Metric::MeanPreBodyS => "mean_pre_body_s",
            Metric::MeanBodyS => "mean_body_s",
            Metric::MeanCompletionS => "mean_completion_s",
        }
    }
}

/// The resource name of a node's processor cores in calibrations and scenarios (`cores`).
pub const CORES: &str = "cores";

/// A name that is not one of a closed set's members.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {set} {given:?} (one of: {allowed})")]
pub struct UnknownName {
    /// Which set (`workload`, `platform`).
    pub set: &'static str,
    /// What was given.
    pub given: String,
    /// The allowed names, comma-separated.
    pub allowed: String,
}

macro_rules! names {
    ($ty:ty, $set:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl TryFrom<String> for $ty {
            type Error = UnknownName;

            fn try_from(text: String) -> Result<Self, UnknownName> {
                text.parse()
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(text: &str) -> Result<Self, UnknownName> {
                <$ty>::ALL
                    .into_iter()
                    .find(|v| v.name() == text)
                    .ok_or_else(|| UnknownName {
                        set: $set,
                        given: text.to_owned(),
                        allowed: <$ty>::ALL.map(|v| v.name()).join(", "),
                    })
            }
        }
    };
}

names!(Body, "workload");
names!(PlatformKind, "platform");
names!(ClusterStep, "cluster step");
names!(Metric, "metric");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_allowed_ones() {
        for kind in PlatformKind::ALL {
            assert_eq!(kind.name().parse::<PlatformKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        for body in Body::ALL {
            assert_eq!(body.name().parse::<Body>(), Ok(body));
        }
        let error = "k3s".parse::<PlatformKind>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown platform \"k3s\" (one of: local, container, slurm, k8s, ksi)"
        );
    }

    #[test]
    fn protocol_names_round_trip() {
        for step in ClusterStep::ALL {
            assert_eq!(step.name().parse::<ClusterStep>(), Ok(step));
            assert_eq!(ClusterStep::in_line(&step.line(1.25)), Some(step));
        }
        for metric in Metric::ALL {
            assert_eq!(metric.name().parse::<Metric>(), Ok(metric));
            let json = serde_json::to_string(&metric).unwrap();
            assert_eq!(json, format!("\"{}\"", metric.name()));
        }
        assert_eq!(
            ClusterStep::ContainerdUp.line(0.3),
            "testbed: step containerd_up 0.300"
        );
    }

    #[test]
    fn a_step_is_found_after_ksis_prefix_and_nowhere_else() {
        assert_eq!(
            ClusterStep::in_line("[ksi 1 n2] testbed: step node_ready 9.1"),
            Some(ClusterStep::NodeReady)
        );
        assert_eq!(
            ClusterStep::in_line("[ksi 1 n2] testbed: step nap 9.1"),
            None
        );
        assert_eq!(ClusterStep::in_line("[ksi 1 n2] node_ready"), None);
    }

    #[test]
    fn slurm_states_say_whether_a_job_started_and_ended() {
        use SlurmJobState::*;
        assert_eq!(SlurmJobState::parse("CANCELLED by 0"), Ended("CANCELLED"));
        assert_eq!(SlurmJobState::parse("COMPLETED"), Completed);
        assert_eq!(SlurmJobState::parse("RUNNING"), Running);
        let cases = [
            ("", false, false),
            ("PENDING", false, false),
            ("CONFIGURING", true, false),
            ("RUNNING", true, false),
            ("COMPLETING", true, false),
            ("COMPLETED", true, true),
            ("FAILED", true, true),
            ("TIMEOUT", true, true),
            ("OUT_OF_MEMORY", true, true),
        ];
        for (text, started, terminal) in cases {
            let state = SlurmJobState::parse(text);
            assert_eq!(state.has_started(), started, "{text}");
            assert_eq!(state.is_terminal(), terminal, "{text}");
            assert_eq!(state.name(), text);
        }
        assert_eq!(SlurmJobState::default(), Unknown);
    }

    #[test]
    fn serde_names_are_the_display_names() {
        assert_eq!(serde_json::to_string(&Body::Etl).unwrap(), "\"etl\"");
        assert_eq!(
            serde_json::to_string(&PlatformKind::K8s).unwrap(),
            "\"k8s\""
        );
        let policy: SubmitPolicy = serde_json::from_str(r#"{"kind":"window","size":3}"#).unwrap();
        assert_eq!(policy.window(), Some(3));
    }

    #[test]
    fn which_kinds_share_the_nodes_cores_and_which_are_kubernetes() {
        use PlatformKind::*;
        let cores: Vec<PlatformKind> = PlatformKind::ALL
            .into_iter()
            .filter(|k| k.runs_on_node_cores())
            .collect();
        assert_eq!(cores, vec![Local, Container]);
        let kubernetes: Vec<PlatformKind> = PlatformKind::ALL
            .into_iter()
            .filter(|k| k.is_kubernetes())
            .collect();
        assert_eq!(kubernetes, vec![K8s, Ksi]);
    }

    #[test]
    fn each_policy_says_what_it_is() {
        let described: Vec<String> = [
            SubmitPolicy::Sequential,
            SubmitPolicy::Window { size: 4 },
            SubmitPolicy::Poisson { rate_per_s: 2.5 },
            SubmitPolicy::Arrivals {
                times_s: Arc::from(vec![0.0, 1.0]),
            },
        ]
        .iter()
        .map(SubmitPolicy::describe)
        .collect();
        assert_eq!(
            described,
            [
                "sequential",
                "window of 4",
                "poisson 2.5/s per partition",
                "arrival times from file"
            ]
        );
    }
}
