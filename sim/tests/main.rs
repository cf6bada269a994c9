//! Integration tests of the simulator; one module per behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod errors;
mod outputs;
mod plans;
mod policies;
mod properties;
mod replications;
mod scenarios;
mod schedulers;
mod study;
mod sweeps;

use faastwin_models::Distribution;
use faastwin_sim::{Body, Calibration, CompiledPlatform, Scenario, SubmitPolicy, Workload};

/// Compiles platform `name` of a calibration given as TOML text.
pub(crate) fn platform(toml_text: &str, name: &str, body: Body) -> CompiledPlatform {
    Calibration::from_toml(toml_text, "test")
        .unwrap()
        .compile(name, body)
        .unwrap()
}

pub(crate) fn workload(
    invocations: u64,
    partitions: u32,
    nodes: u32,
    policy: SubmitPolicy,
) -> Workload {
    Workload {
        body: Body::Relay,
        invocations,
        partitions,
        nodes,
        input_bytes: Distribution::constant(1e6).unwrap(),
        policy,
        placement: None,
        allocation_queue: None,
    }
}

/// A platform with only pure delays (no shared resource): lognormal stages and gap.
pub(crate) const DELAYS_ONLY: &str = r#"
[platforms.p]
client_gap = { family = "lognormal", mu = -2.0, sigma = 0.3 }
[platforms.p.stages.control_plane]
delay = { latency = { family = "lognormal", mu = -0.5, sigma = 0.2 } }
[platforms.p.stages.startup]
delay = { latency = { family = "gamma", shape = 4.0, scale = 0.3 } }
[platforms.p.stages.completion]
delay = { latency = { family = "weibull", shape = 2.0, scale = 1.0 } }
[platforms.p.workloads.relay.read]
delay = { per_byte = { family = "uniform", low = 1e-9, high = 3e-9 } }
[platforms.p.workloads.relay.compute]
delay = { latency = { family = "shifted_exponential", shift = 0.1, rate = 5.0 } }
"#;

/// KSI-like: a FIFO control plane per node, cores per node, no shared storage.
pub(crate) const PER_NODE: &str = r#"
[platforms.p]
node_startup = { family = "normal", mean = 50.0, std = 2.0 }
client_gap = { family = "lognormal", mu = -1.7, sigma = 0.1 }
[platforms.p.resources.control_plane]
scope = "node"
discipline = { kind = "fifo", servers = 1 }
[platforms.p.resources.cores]
scope = "node"
discipline = { kind = "processor_sharing", capacity = 2.0, per_job_cap = 1.0 }
[platforms.p.stages.control_plane]
delay = { latency = { family = "lognormal", mu = -0.5, sigma = 0.1 } }
work = { latency = { family = "lognormal", mu = -1.0, sigma = 0.3 } }
resource = "control_plane"
[platforms.p.stages.startup]
delay = { latency = { family = "lognormal", mu = 0.5, sigma = 0.05 } }
[platforms.p.workloads.relay.compute]
work = { per_byte = { family = "lognormal", mu = -14.0, sigma = 0.2 } }
resource = "cores"
"#;

/// Everything shared: a cluster FIFO, shared storage, node cores.
pub(crate) const SHARED: &str = r#"
[platforms.p]
client_gap = { family = "constant", value = 0.1 }
[platforms.p.resources.api]
scope = "cluster"
discipline = { kind = "fifo", servers = 2 }
[platforms.p.resources.nfs]
scope = "storage"
discipline = { kind = "processor_sharing", capacity = 1.5, per_job_cap = 1.0 }
[platforms.p.resources.cores]
scope = "node"
discipline = { kind = "processor_sharing", capacity = 4.0, per_job_cap = 1.0 }
[platforms.p.resources.sched]
scope = "cluster"
discipline = { kind = "cycle", interval_s = 1.0 }
[platforms.p.stages.control_plane]
work = { latency = { family = "gamma", shape = 2.0, scale = 0.2 } }
resource = "api"
[platforms.p.stages.startup]
work = { latency = { family = "constant", value = 0.05 } }
resource = "sched"
[platforms.p.workloads.relay.read]
delay = { latency = { family = "constant", value = 0.01 } }
work = { per_byte = { family = "lognormal", mu = -18.0, sigma = 0.3 } }
resource = "nfs"
[platforms.p.workloads.relay.compute]
work = { per_byte = { family = "lognormal", mu = -15.0, sigma = 0.2 } }
resource = "cores"
[platforms.p.workloads.relay.write]
work = { latency = { family = "constant", value = 0.02 } }
resource = "nfs"
"#;

/// The study's two-node relay scenario (K3s and KSI) with `invocations` invocations.
pub(crate) fn relay_two_node(invocations: u64) -> (Scenario, Workload) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/study/relay-two-node.toml");
    let scenario = Scenario::load(&path).unwrap();
    let workload = Workload {
        invocations,
        ..scenario.workload.clone()
    };
    (scenario, workload)
}
