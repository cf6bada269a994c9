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
