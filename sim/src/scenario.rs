//! What-if scenario files (TOML): which calibration, which platforms, what workload, and an
//! optional sweep grid.
//!
//! ```toml
//! description = "The study's relay benchmark: two nodes, one partition each"
//! calibration = "embedded"        # or a calibration file, relative to this file
//! platforms = ["ksi", "k3s"]
//! seed = 1
//! replications = 5
//!
//! [workload]
//! kind = "relay"                  # selects the platforms' body models
//! invocations = 512
//! nodes = 2
//! partitions = 2                  # default: one per node
//! input_bytes = { family = "constant", value = 2200 }
//! policy = { kind = "sequential" }
//!
//! [[sweep]]                       # optional; several axes make a grid
//! parameter = "partitions"
//! values = [1, 2, 4, 8]
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use faastwin_models::{Distribution, RawDistribution};
use serde::{Deserialize, Serialize};

use crate::SimError;
use crate::platform::Calibration;
use crate::workload::Workload;
use faastwin_models::SubmitPolicy;

/// The calibration shipped with faastwin, derived from the study's published figures
/// (`scenarios/calibration/study.toml`, documented in `scenarios/calibration/README.md`).
pub const EMBEDDED_CALIBRATION: &str = include_str!("../../scenarios/calibration/study.toml");

/// The name a scenario uses for [`EMBEDDED_CALIBRATION`].
pub const EMBEDDED: &str = "embedded";

/// Loads the embedded calibration.
pub fn embedded_calibration() -> Result<Calibration, SimError> {
    Calibration::from_toml(
        EMBEDDED_CALIBRATION,
        "embedded calibration (scenarios/calibration/study.toml)",
    )
}

/// A scenario file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// What question the scenario asks.
    #[serde(default)]
    pub description: String,
    /// `"embedded"` or the path of a calibration file (relative to the scenario file).
    #[serde(default = "embedded")]
    pub calibration: String,
    /// Platforms to compare, by their names in the calibration.
    pub platforms: Vec<String>,
    /// Base seed; replication r uses a seed derived from it and r.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Replications per platform (and per grid point).
    #[serde(default = "one_u32")]
    pub replications: u32,
    /// The batch.
    pub workload: WorkloadSpec,
    /// Sweep axes; the grid is their cartesian product.
    #[serde(default)]
    pub sweep: Vec<SweepAxis>,
}

fn embedded() -> String {
    EMBEDDED.to_owned()
}
fn one_u64() -> u64 {
    1
}
fn one_u32() -> u32 {
    1
}

/// Most replications of a scenario.
pub const MAX_REPLICATIONS: u32 = 100_000;
/// Most points of a sweep grid.
pub const MAX_GRID_POINTS: u64 = 100_000;

/// The workload part of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Function body: `relay` or `etl` (selects the platforms' body models).
    pub kind: faastwin_models::Body,
    /// Number of invocations.
    pub invocations: u64,
    /// Number of worker nodes.
    #[serde(default = "one_u32")]
    pub nodes: u32,
    /// Number of partitions; default: one per node.
    #[serde(default)]
    pub partitions: Option<u32>,
    /// Input size per invocation [bytes].
    pub input_bytes: Distribution,
    /// Submission policy of each partition.
    #[serde(default)]
    pub policy: PolicySpec,
    /// Where Jobs run: `{ model = "pinned" | "least_allocated" | "most_allocated", request = {...}, node = {...} }`
    /// [default: partition p on node p mod nodes, no capacity limit].
    #[serde(default)]
    pub placement: Option<crate::placement::PlacementSpec>,
    /// The Slurm queue KSI's allocation waits in before its clusters start.
    #[serde(default)]
    pub allocation_queue: Option<crate::slurm_queue::AllocationQueue>,
}

/// A submission policy as written in a scenario.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PolicySpec {
    /// Submit, wait for completion, client gap, submit the next.
    #[default]
    Sequential,
    /// Up to `size` in flight per partition.
    Window {
        /// In-flight limit.
        size: u32,
    },
    /// Poisson arrivals per partition.
    Poisson {
        /// Arrival rate of one partition [1/s].
        rate_per_s: f64,
    },
    /// Submission times from a file: one time [s] per line (a header line is allowed), one per
    /// invocation in id order; relative to the scenario file.
    Arrivals {
        /// The file.
        file: PathBuf,
    },
}

/// A numeric parameter a sweep can vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepParameter {
    /// `workload.partitions`.
    Partitions,
    /// `workload.nodes`.
    Nodes,
    /// `workload.invocations`.
    Invocations,
    /// `workload.input_bytes`, as a constant [bytes].
    InputBytes,
    /// The window size of a `window` policy (a `sequential` policy becomes a window).
    Window,
    /// The rate of a `poisson` policy [1/s].
    PoissonRate,
    /// Partitions and nodes together (one partition per node).
    NodesAndPartitions,
    /// Partitions per node: `workload.partitions` = nodes × this (after any `nodes` axis
    /// before it in the file).
    PartitionsPerNode,
    /// Arrival rate of the background jobs in `allocation_queue` [jobs/s].
    BackgroundRate,
}

impl SweepParameter {
    /// The name used in files and CSV headers.
    pub fn name(self) -> &'static str {
        match self {
            SweepParameter::Partitions => "partitions",
            SweepParameter::Nodes => "nodes",
            SweepParameter::Invocations => "invocations",
            SweepParameter::InputBytes => "input_bytes",
            SweepParameter::Window => "window",
            SweepParameter::PoissonRate => "poisson_rate",
            SweepParameter::NodesAndPartitions => "nodes_and_partitions",
            SweepParameter::PartitionsPerNode => "partitions_per_node",
            SweepParameter::BackgroundRate => "background_rate",
        }
    }
}

/// One axis of a sweep grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepAxis {
    /// The parameter.
    pub parameter: SweepParameter,
    /// Its values.
    pub values: Vec<f64>,
}

/// A loaded scenario: the file, its calibration and the resolved workload.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file as written.
    pub file: ScenarioFile,
    /// Where it came from.
    pub origin: String,
    /// The calibration it names.
    pub calibration: Calibration,
    /// The workload without sweep.
    pub workload: Workload,
}

/// One point of a sweep grid.
#[derive(Debug, Clone)]
pub struct GridPoint {
    /// Index in the grid (row-major over the axes).
    pub index: usize,
    /// Value of each axis at this point.
    pub values: Vec<(SweepParameter, f64)>,
    /// The workload at this point.
    pub workload: Workload,
}

impl Scenario {
    /// Reads and checks a scenario file, its calibration and any arrivals file.
    pub fn load(path: &Path) -> Result<Scenario, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
            path: path.to_owned(),
            source,
        })?;
        Scenario::parse(
            &text,
            &path.display().to_string(),
            path.parent().unwrap_or(Path::new(".")),
        )
    }

    /// Parses scenario text; relative paths resolve against `base`.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Scenario, SimError> {
        let file: ScenarioFile = toml::from_str(text).map_err(|e| SimError::Parse {
            origin: origin.to_owned(),
            detail: e.to_string(),
        })?;
        let calibration = if file.calibration == EMBEDDED {
            embedded_calibration()?
        } else {
            let path = base.join(&file.calibration);
            let text = std::fs::read_to_string(&path).map_err(|source| SimError::Io {
                path: path.clone(),
                source,
            })?;
            Calibration::from_toml(&text, &path.display().to_string())?
        };
        let invalid = |what: String| SimError::Invalid {
            what: format!("{origin}: {what}"),
        };
        if file.platforms.is_empty() {
            return Err(invalid(
                "`platforms` is empty: name at least one platform of the calibration".into(),
            ));
        }
        if file.replications == 0 {
            return Err(invalid("`replications` must be at least 1".into()));
        }
        if file.replications > MAX_REPLICATIONS {
            return Err(invalid(format!(
                "`replications` = {} is above the limit of {MAX_REPLICATIONS}",
                file.replications
            )));
        }
        let w = &file.workload;
        let policy = match &w.policy {
            PolicySpec::Sequential => SubmitPolicy::Sequential,
            PolicySpec::Window { size } => SubmitPolicy::Window { size: *size },
            PolicySpec::Poisson { rate_per_s } => SubmitPolicy::Poisson {
                rate_per_s: *rate_per_s,
            },
            PolicySpec::Arrivals { file: arrivals } => SubmitPolicy::Arrivals {
                times_s: read_arrivals(&base.join(arrivals))?,
            },
        };
        let workload = Workload {
            body: w.kind,
            invocations: w.invocations,
            partitions: w.partitions.unwrap_or(w.nodes),
            nodes: w.nodes,
            input_bytes: w.input_bytes.clone(),
            policy,
            placement: w.placement.clone(),
            allocation_queue: w.allocation_queue.clone(),
        };
        workload.validate().map_err(|e| invalid(e.to_string()))?;
        for platform in &file.platforms {
            calibration
                .compile(platform, workload.body)
                .map_err(|e| invalid(e.to_string()))?;
        }
        let mut points: u64 = 1;
        for axis in &file.sweep {
            if axis.values.is_empty() {
                return Err(invalid(format!(
                    "sweep over {} has no values",
                    axis.parameter.name()
                )));
            }
            for &value in &axis.values {
                if let Some(why) = unusable(axis.parameter, value, &workload) {
                    return Err(invalid(format!(
                        "sweep over {}: the value {value} {why}",
                        axis.parameter.name()
                    )));
                }
            }
            points = points.saturating_mul(axis.values.len() as u64);
        }
        if points > MAX_GRID_POINTS {
            return Err(invalid(format!(
                "the sweep grid has {points} points, above the limit of {MAX_GRID_POINTS}"
            )));
        }
        let scenario = Scenario {
            file,
            origin: origin.to_owned(),
            calibration,
            workload,
        };
        for point in scenario.grid() {
            point
                .workload
                .validate()
                .map_err(|e| invalid(format!("sweep point {}: {e}", describe(&point.values))))?;
        }
        Ok(scenario)
    }

    /// The sweep grid (one point without sweep axes), row-major: the last axis varies fastest.
    pub fn grid(&self) -> Vec<GridPoint> {
        let mut points = vec![Vec::new()];
        for axis in &self.file.sweep {
            points = points
                .into_iter()
                .flat_map(|prefix: Vec<(SweepParameter, f64)>| {
                    axis.values.iter().map(move |&v| {
                        let mut p = prefix.clone();
                        p.push((axis.parameter, v));
                        p
                    })
                })
                .collect();
        }
        points
            .into_iter()
            .enumerate()
            .map(|(index, values)| {
                let mut workload = self.workload.clone();
                for &(parameter, value) in &values {
                    apply(&mut workload, parameter, value);
                }
                GridPoint {
                    index,
                    values,
                    workload,
                }
            })
            .collect()
    }
}

/// Why `value` cannot be a value of `parameter`'s axis, if it cannot (a fraction of a node, a
/// negative size, a background rate without a queue): `apply` would otherwise round it or drop
/// it without a word.
fn unusable(parameter: SweepParameter, value: f64, w: &Workload) -> Option<&'static str> {
    let whole = value.is_finite() && value.fract() == 0.0;
    match parameter {
        SweepParameter::Partitions
        | SweepParameter::Nodes
        | SweepParameter::NodesAndPartitions
        | SweepParameter::PartitionsPerNode
        | SweepParameter::Invocations
        | SweepParameter::Window
            if !whole =>
        {
            Some("is not a whole number")
        }
        SweepParameter::InputBytes if !(value.is_finite() && value >= 0.0) => {
            Some("is not a size in bytes (a number >= 0)")
        }
        SweepParameter::BackgroundRate if w.allocation_queue.is_none() => {
            Some("has nothing to change: the workload has no allocation_queue")
        }
        _ => None,
    }
}

fn apply(w: &mut Workload, parameter: SweepParameter, value: f64) {
    let count = value.round().max(0.0) as u64;
    let small = u32::try_from(count).unwrap_or(u32::MAX);
    match parameter {
        SweepParameter::Partitions => w.partitions = small,
        SweepParameter::Nodes => w.nodes = small,
        SweepParameter::NodesAndPartitions => {
            w.nodes = small;
            w.partitions = small;
        }
        SweepParameter::PartitionsPerNode => w.partitions = w.nodes.saturating_mul(small),
        SweepParameter::Invocations => w.invocations = count,
        SweepParameter::InputBytes => {
            if let Ok(d) = Distribution::new(RawDistribution::Constant { value }) {
                w.input_bytes = d;
            }
        }
        SweepParameter::Window => w.policy = SubmitPolicy::Window { size: small },
        SweepParameter::PoissonRate => w.policy = SubmitPolicy::Poisson { rate_per_s: value },
        SweepParameter::BackgroundRate => {
            if let Some(queue) = &mut w.allocation_queue {
                queue.arrival_rate_per_s = value;
            }
        }
    }
}

/// `partitions=4, input_bytes=1048576`.
pub fn describe(values: &[(SweepParameter, f64)]) -> String {
    values
        .iter()
        .map(|(p, v)| format!("{}={v}", p.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_arrivals(path: &Path) -> Result<Arc<[f64]>, SimError> {
    let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut times = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let field = line.split(',').next_back().unwrap_or("").trim();
        if field.is_empty() {
            continue;
        }
        match field.parse::<f64>() {
            Ok(t) => times.push(t),
            Err(_) if i == 0 => {} // a header
            Err(_) => {
                return Err(SimError::Parse {
                    origin: path.display().to_string(),
                    detail: format!("line {}: {field:?} is not a time in seconds", i + 1),
                });
            }
        }
    }
    Ok(times.into())
}
