//! The faastwin discrete-event simulator.
//!
//! A platform ([`PlatformSpec`], read from a [`Calibration`] file) is a chain of stages every
//! invocation passes — control plane, startup, read, compute, write, completion detection —
//! each a pure delay followed by work on a shared resource. Resources have a discipline (FIFO
//! with c servers, processor sharing, a periodic scheduling cycle) and a scope (one per
//! cluster, one per node, one shared storage): K3s shares one control plane between all
//! partitions, KSI has one per node plus a startup phase per node, native Slurm has a
//! scheduler with its cycle, local processes have no orchestration at all.
//!
//! A [`Workload`] spreads N invocations over P partitions on nodes; each partition submits
//! under a [`SubmitPolicy`] (sequential as in the study, a window, open-loop arrivals).
//! [`simulate`] runs one seeded replication and returns a [`RunResult`] (warm makespan,
//! latency quantiles, startup overhead, decomposition, utilisation); [`replicate`] runs many in
//! parallel and [`PlatformSummary`] condenses them as the study's tables do.
//!
//! The engine ([`Engine`]) keeps simulated time in integer nanoseconds and breaks ties by
//! insertion order, so a seed fully determines a run. The simulator is plain synchronous code.

#![warn(missing_docs)]

mod engine;
mod error;
pub mod interval;
mod metrics;
mod model;
mod output;
pub mod placement;
pub mod plan;
mod platform;
mod replicate;
mod resource;
pub mod scenario;
mod sketch;
pub mod slurm_queue;
pub mod sweep;
mod trace;
mod workload;

pub use engine::{Engine, EventId, SimTime, from_secs, to_secs};
pub use error::SimError;
pub use faastwin_models::{Body, SubmitPolicy};
pub use metrics::{Decomposition, EXACT_LATENCY_LIMIT, LatencySummary, RunResult, Utilisation};
pub use model::simulate;
pub use output::{
    QUANTILES_SKETCH, QUANTILES_TYPE_7, SimulateOptions, SimulationReport, simulate_scenario,
};
pub use platform::{
    Calibration, CompiledPlatform, Discipline, OrchestrationStages, PlatformSpec, ResourceSpec,
    Scope, Stage, StageSpec, WorkloadStages,
};
pub use replicate::{
    MetricStats, PlatformSummary, Stats, replicate, replicate_traced, replication_seed,
};
pub use scenario::{GridPoint, Scenario};
pub use trace::{CsvTrace, NoTrace, OwnedTraceRow, TraceRow, TraceSink, VecTrace};
pub use workload::{MAX_INVOCATIONS, MAX_NODES, MAX_PARTITIONS, Workload};
