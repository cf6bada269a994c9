//! Platform models: the stages every invocation passes, the resources they occupy, and the
//! calibration file that holds one model per platform.

use std::collections::BTreeMap;

use faastwin_models::{Body, Distribution, SizeModel};
use serde::{Deserialize, Serialize};

use crate::SimError;

/// A calibration file: one fitted model per platform. It is exactly what
/// `faastwin calibrate` writes and `faastwin simulate` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Where the numbers come from.
    #[serde(default)]
    pub description: String,
    /// Platform models by name (`ksi`, `k3s`, `slurm`, `local`, ...).
    pub platforms: BTreeMap<String, PlatformSpec>,
    /// Each platform fitted again on bootstrap resamples of its runs' repetitions (`faastwin
    /// calibrate --refits K`): how much the fit itself could differ, which prediction
    /// intervals take into account. Empty: none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refits: BTreeMap<String, Vec<PlatformSpec>>,
    /// How the models were obtained (fits, runs, rows), for readers; the simulator reads only
    /// each platform's `run_to_run` table from it, for prediction intervals.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub provenance: toml::Table,
}

/// The model of one platform.
///
/// An invocation passes, in this order: `control_plane` (submit → placed on a node),
/// `startup` (placed → function body starts), `read`, `compute`, `write` (the body, per
/// workload), `completion` (body ends → the client observes completion). Then the client waits
/// `client_gap` before its next submission. A missing stage takes no time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformSpec {
    /// What this platform is, in a sentence.
    #[serde(default)]
    pub description: String,
    /// Launch until a node accepts its first Job [s], drawn once per node, nodes in parallel
    /// (KSI's temporary clusters). Absent: nodes are ready at time 0 (a persistent cluster).
    #[serde(default)]
    pub node_startup: Option<Distribution>,
    /// Observed completion → next submission of the same partition [s].
    #[serde(default)]
    pub client_gap: Option<Distribution>,
    /// Shared resources by name; stages refer to them.
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceSpec>,
    /// Orchestration stages, the same for every workload.
    #[serde(default)]
    pub stages: OrchestrationStages,
    /// Function-body stages per workload (`relay`, `etl`), and any orchestration stage that
    /// differs for that workload.
    #[serde(default)]
    pub workloads: BTreeMap<Body, WorkloadStages>,
}

/// Orchestration stages of a platform.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrchestrationStages {
    /// Submit → the Job's pod is placed on a node.
    #[serde(default)]
    pub control_plane: Option<StageSpec>,
    /// Placed → the function body starts (container creation and start).
    #[serde(default)]
    pub startup: Option<StageSpec>,
    /// Body ends → the client observes completion (status propagation, watch delivery).
    #[serde(default)]
    pub completion: Option<StageSpec>,
}

/// The stages of one workload on a platform: its function body, and optional overrides of the
/// platform's orchestration stages (a workload whose pods request more resources, say, may start
/// differently).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadStages {
    /// Replaces the platform's `control_plane` stage for this workload.
    #[serde(default)]
    pub control_plane: Option<StageSpec>,
    /// Replaces the platform's `startup` stage for this workload.
    #[serde(default)]
    pub startup: Option<StageSpec>,
    /// Replaces the platform's `completion` stage for this workload.
    #[serde(default)]
    pub completion: Option<StageSpec>,
    /// Reading the input from shared storage.
    #[serde(default)]
    pub read: Option<StageSpec>,
    /// Parsing and computing.
    #[serde(default)]
    pub compute: Option<StageSpec>,
    /// Writing the result.
    #[serde(default)]
    pub write: Option<StageSpec>,
}

/// One stage: a pure delay, then work on a shared resource; either may be absent. Both may
/// grow with the invocation's input size ([`SizeModel`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Time that holds no shared resource (round trips, polling intervals) [s].
    #[serde(default)]
    pub delay: Option<SizeModel>,
    /// Service demanded from `resource` [s at full rate]; under contention it takes longer.
    #[serde(default)]
    pub work: Option<SizeModel>,
    /// Name of the resource in the platform's `resources` that serves `work`.
    #[serde(default)]
    pub resource: Option<String>,
    /// Name of a `cycle` resource whose next tick the stage waits for before its delay: a
    /// periodic loop of the platform's with a phase, such as the kubelet's relist, which sees a
    /// container's end only at its next pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// The work runs on the first node's instance of its (node-scoped) resource, whichever
    /// node the invocation runs on: the CPUs of the node that hosts a K3s control plane, which
    /// serve every Job's API requests, scheduling and Job controller work.
    #[serde(default, skip_serializing_if = "is_false")]
    pub on_first_node: bool,
    /// The invocation does not wait for the work: the work joins its resource when the delay
    /// ends and the invocation moves on at once. Work a Job causes on a shared resource without
    /// waiting for it (the control plane's watches fanned out, status writes, the Job's deletion)
    /// slows whatever else that resource serves. Processor-sharing and FIFO resources only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub detached: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A shared resource and how many instances exist. Checked as it is read, so that a bad value
/// (`servers = 0`) is reported with the file, line and column of its resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawResourceSpec")]
pub struct ResourceSpec {
    /// One instance per cluster, per node, or one for the shared storage.
    pub scope: Scope,
    /// How the instance serves concurrent work.
    pub discipline: Discipline,
}

/// A resource as written, before its values are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResourceSpec {
    scope: Scope,
    discipline: Discipline,
}

impl TryFrom<RawResourceSpec> for ResourceSpec {
    type Error = String;

    fn try_from(raw: RawResourceSpec) -> Result<ResourceSpec, String> {
        let spec = ResourceSpec {
            scope: raw.scope,
            discipline: raw.discipline,
        };
        check_resource(&spec).map(|()| spec)
    }
}

/// How many instances of a resource exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One for the whole platform (the K3s control plane, Slurm's controller).
    Cluster,
    /// One per node (a kubelet, a KSI control plane, a node's cores).
    Node,
    /// One for the shared storage every node reads from (the NFS server).
    Storage,
}

/// How a resource serves concurrent work.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Discipline {
    /// `servers` servers, one queue, first come first served.
    Fifo {
        /// Number of servers (≥ 1).
        servers: u32,
    },
    /// Rate `capacity` shared equally by the active jobs, at most `per_job_cap` each
    /// (cores with one thread per job: capacity = cores, per_job_cap = 1).
    ProcessorSharing {
        /// Total rate [full-rate jobs].
        capacity: f64,
        /// Largest rate of one job [full-rate jobs].
        #[serde(default = "one")]
        per_job_cap: f64,
    },
    /// A periodic scheduler: work waits for the next cycle, then runs as a pure delay
    /// (Slurm's `sched_interval`). The first cycle's phase is drawn per run.
    Cycle {
        /// Time between cycles [s].
        interval_s: f64,
    },
    /// A batch scheduler (native Slurm, one job per invocation): at each pass, every
    /// `interval_s`, waiting jobs start in submission order while their node has a free slot,
    /// then their work runs as a pure delay; a job holds its slot until its body ends. Without
    /// `backfill` a pass stops at the first job that cannot start. Cluster scope only.
    Batch {
        /// Time between scheduling passes [s].
        interval_s: f64,
        /// Jobs a node runs at once (its CPUs, for one-CPU jobs).
        slots_per_node: u32,
        /// Backfill: jobs behind a blocked one may start on other nodes.
        #[serde(default = "yes")]
        backfill: bool,
    },
}

fn yes() -> bool {
    true
}

fn one() -> f64 {
    1.0
}

/// The stages in the order an invocation passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Submit → placed.
    ControlPlane,
    /// Placed → body starts.
    Startup,
    /// Body: reading input.
    Read,
    /// Body: computing.
    Compute,
    /// Body: writing output.
    Write,
    /// Body ends → completion observed.
    Completion,
}

impl Stage {
    /// All stages, in order. Adding a stage is one variant here and in [`Stage::ALL`]; every
    /// array of per-stage values is sized by [`Stage::COUNT`].
    pub const ALL: [Stage; 6] = [
        Stage::ControlPlane,
        Stage::Startup,
        Stage::Read,
        Stage::Compute,
        Stage::Write,
        Stage::Completion,
    ];

    /// The number of stages.
    pub const COUNT: usize = Stage::ALL.len();

    /// The stage's position in [`Stage::ALL`] and in every per-stage array.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The name used in files and tables.
    pub fn name(self) -> &'static str {
        match self {
            Stage::ControlPlane => "control_plane",
            Stage::Startup => "startup",
            Stage::Read => "read",
            Stage::Compute => "compute",
            Stage::Write => "write",
            Stage::Completion => "completion",
        }
    }

    /// True for the function-body stages.
    pub fn is_body(self) -> bool {
        matches!(self, Stage::Read | Stage::Compute | Stage::Write)
    }
}

/// A stage ready for the simulator: resource names resolved.
#[derive(Debug, Clone)]
pub(crate) struct CompiledStage {
    pub(crate) delay: Option<SizeModel>,
    pub(crate) work: Option<SizeModel>,
    pub(crate) resource: Option<usize>,
    /// A `cycle` resource whose next tick the stage waits for first.
    pub(crate) clock: Option<usize>,
    /// The work is served by the first node's instance of its resource.
    pub(crate) on_first_node: bool,
    /// The invocation does not wait for the work.
    pub(crate) detached: bool,
}

impl CompiledStage {
    /// The stage's work and the resource that serves it, when it has both (work without a
    /// resource takes no time).
    pub(crate) fn work_on(&self) -> Option<(&SizeModel, usize)> {
        Some((self.work.as_ref()?, self.resource?))
    }

    /// The node whose instance of the stage's resource serves the work of an invocation
    /// running on `node`.
    pub(crate) fn serving_node(&self, node: u32) -> u32 {
        if self.on_first_node { 0 } else { node }
    }
}

/// A platform ready to simulate one workload.
#[derive(Debug, Clone)]
pub struct CompiledPlatform {
    pub(crate) name: String,
    pub(crate) node_startup: Option<Distribution>,
    pub(crate) client_gap: Option<Distribution>,
    pub(crate) resources: Vec<(String, ResourceSpec)>,
    pub(crate) stages: [Option<CompiledStage>; Stage::COUNT],
}

impl CompiledPlatform {
    /// The platform's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when the platform has a per-node startup phase.
    pub fn has_startup(&self) -> bool {
        self.node_startup.is_some()
    }
}

impl Calibration {
    /// Parses a calibration file's text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, SimError> {
        toml::from_str(text).map_err(|e| SimError::Parse {
            origin: origin.to_owned(),
            detail: e.to_string(),
        })
    }

    /// Serialises to TOML.
    pub fn to_toml(&self) -> Result<String, SimError> {
        toml::to_string_pretty(self).map_err(SimError::Toml)
    }

    /// Prepares platform `name` for `workload`, resolving resource names.
    pub fn compile(&self, name: &str, body: Body) -> Result<CompiledPlatform, SimError> {
        let spec = self.platforms.get(name).ok_or_else(|| SimError::Invalid {
            what: format!(
                "the calibration has no platform {name:?} (it has: {})",
                self.platforms
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        spec.compile(name, body)
    }
}

impl PlatformSpec {
    fn compile(&self, name: &str, kind: Body) -> Result<CompiledPlatform, SimError> {
        let body = self.workloads.get(&kind).ok_or_else(|| SimError::Invalid {
            what: format!(
                "platform {name:?} has no model for workload \"{kind}\" (it has: {})",
                self.workloads
                    .keys()
                    .map(|b| b.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        let resources: Vec<(String, ResourceSpec)> = self
            .resources
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (rname, r) in &resources {
            validate_resource(name, rname, r)?;
        }
        let specs = [
            body.control_plane
                .as_ref()
                .or(self.stages.control_plane.as_ref()),
            body.startup.as_ref().or(self.stages.startup.as_ref()),
            body.read.as_ref(),
            body.compute.as_ref(),
            body.write.as_ref(),
            body.completion.as_ref().or(self.stages.completion.as_ref()),
        ];
        let mut stages: [Option<CompiledStage>; Stage::COUNT] = Default::default();
        for ((slot, spec), stage) in stages.iter_mut().zip(specs).zip(Stage::ALL) {
            let Some(spec) = spec else { continue };
            let resource = match (&spec.work, &spec.resource) {
                (Some(_), Some(r)) => {
                    Some(resources.iter().position(|(n, _)| n == r).ok_or_else(|| {
                        SimError::Invalid {
                            what: format!(
                                "platform {name:?}, stage {}: unknown resource {r:?} (defined: {})",
                                stage.name(),
                                resources
                                    .iter()
                                    .map(|(n, _)| n.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        }
                    })?)
                }
                (Some(_), None) => {
                    return Err(SimError::Invalid {
                        what: format!(
                            "platform {name:?}, stage {}: `work` needs a `resource`",
                            stage.name()
                        ),
                    });
                }
                (None, Some(r)) => {
                    return Err(SimError::Invalid {
                        what: format!(
                            "platform {name:?}, stage {}: resource {r:?} given but no `work` for it",
                            stage.name()
                        ),
                    });
                }
                (None, None) => None,
            };
            let clock = spec
                .clock
                .as_ref()
                .map(|c| clock_of(name, stage, c, &resources))
                .transpose()?;
            if spec.on_first_node && !resource.is_some_and(|r| resources[r].1.scope == Scope::Node)
            {
                return Err(SimError::Invalid {
                    what: format!(
                        "platform {name:?}, stage {}: `on_first_node` needs `work` on a resource of scope \"node\" (only a node's resource has a first node's instance)",
                        stage.name()
                    ),
                });
            }
            let served = |r: usize| {
                matches!(
                    resources[r].1.discipline,
                    Discipline::ProcessorSharing { .. } | Discipline::Fifo { .. }
                )
            };
            if spec.detached && !resource.is_some_and(served) {
                return Err(SimError::Invalid {
                    what: format!(
                        "platform {name:?}, stage {}: `detached` needs `work` on a processor_sharing or fifo resource (a cycle or batch resource holds the invocation itself)",
                        stage.name()
                    ),
                });
            }
            *slot = Some(CompiledStage {
                delay: spec.delay.clone(),
                work: spec.work.clone(),
                resource,
                clock,
                on_first_node: spec.on_first_node,
                detached: spec.detached,
            });
        }
        Ok(CompiledPlatform {
            name: name.to_owned(),
            node_startup: self.node_startup.clone(),
            client_gap: self.client_gap.clone(),
            resources,
            stages,
        })
    }
}

/// The index of the clock `clock` of `stage`: a resource of `resources` that is a `cycle`.
fn clock_of(
    platform: &str,
    stage: Stage,
    clock: &str,
    resources: &[(String, ResourceSpec)],
) -> Result<usize, SimError> {
    let invalid = |what: String| SimError::Invalid {
        what: format!("platform {platform:?}, stage {}: {what}", stage.name()),
    };
    let index = resources
        .iter()
        .position(|(n, _)| n == clock)
        .ok_or_else(|| invalid(format!("unknown clock {clock:?}")))?;
    match resources[index].1.discipline {
        Discipline::Cycle { .. } => Ok(index),
        _ => Err(invalid(format!(
            "clock {clock:?} is not a `cycle` resource (a clock ticks; it serves no work)"
        ))),
    }
}

fn validate_resource(platform: &str, name: &str, r: &ResourceSpec) -> Result<(), SimError> {
    check_resource(r).map_err(|what| SimError::Invalid {
        what: format!("platform {platform:?}, resource {name:?}: {what}"),
    })
}

/// What is wrong with a resource's values, if anything.
fn check_resource(r: &ResourceSpec) -> Result<(), String> {
    let bad = |what: String| Err(what);
    match r.discipline {
        Discipline::Fifo { servers: 0 } => bad("fifo needs at least 1 server".into()),
        Discipline::ProcessorSharing {
            capacity,
            per_job_cap,
        } if !(capacity > 0.0
            && capacity.is_finite()
            && per_job_cap > 0.0
            && per_job_cap.is_finite()) =>
        {
            bad(format!(
                "processor_sharing needs capacity > 0 and per_job_cap > 0 (got {capacity}, {per_job_cap})"
            ))
        }
        Discipline::Cycle { interval_s } if !(interval_s > 0.0 && interval_s.is_finite()) => {
            bad(format!("cycle needs interval_s > 0 (got {interval_s})"))
        }
        Discipline::Batch {
            interval_s,
            slots_per_node,
            ..
        } if !(interval_s > 0.0 && interval_s.is_finite() && slots_per_node > 0) => bad(format!(
            "batch needs interval_s > 0 and slots_per_node >= 1 (got {interval_s}, {slots_per_node})"
        )),
        Discipline::Batch { .. } if r.scope != Scope::Cluster => {
            bad("batch schedules the whole cluster: scope must be \"cluster\"".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_per_job_cap_is_one_full_rate_and_omitted_backfill_is_on() {
        let ps: Discipline =
            toml::from_str("kind = \"processor_sharing\"\ncapacity = 4.0").unwrap();
        assert_eq!(
            ps,
            Discipline::ProcessorSharing {
                capacity: 4.0,
                per_job_cap: 1.0
            }
        );
        let batch: Discipline =
            toml::from_str("kind = \"batch\"\ninterval_s = 1.0\nslots_per_node = 2").unwrap();
        assert_eq!(
            batch,
            Discipline::Batch {
                interval_s: 1.0,
                slots_per_node: 2,
                backfill: true
            }
        );
    }

    #[test]
    fn the_body_is_read_compute_and_write() {
        let body: Vec<Stage> = Stage::ALL.into_iter().filter(|s| s.is_body()).collect();
        assert_eq!(body, [Stage::Read, Stage::Compute, Stage::Write]);
    }

    #[test]
    fn a_compiled_platform_keeps_its_name_and_whether_nodes_start() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/calibration/study.toml");
        let calibration =
            Calibration::from_toml(&std::fs::read_to_string(&path).unwrap(), "study").unwrap();
        let ksi = calibration.compile("ksi", Body::Relay).unwrap();
        let k3s = calibration.compile("k3s", Body::Relay).unwrap();
        assert_eq!((ksi.name(), ksi.has_startup()), ("ksi", true));
        assert_eq!((k3s.name(), k3s.has_startup()), ("k3s", false));
    }

    fn ps(capacity: f64, per_job_cap: f64) -> ResourceSpec {
        ResourceSpec {
            scope: Scope::Node,
            discipline: Discipline::ProcessorSharing {
                capacity,
                per_job_cap,
            },
        }
    }

    fn cycle(interval_s: f64) -> ResourceSpec {
        ResourceSpec {
            scope: Scope::Cluster,
            discipline: Discipline::Cycle { interval_s },
        }
    }

    fn batch(scope: Scope, interval_s: f64, slots_per_node: u32, backfill: bool) -> ResourceSpec {
        ResourceSpec {
            scope,
            discipline: Discipline::Batch {
                interval_s,
                slots_per_node,
                backfill,
            },
        }
    }

    fn fifo(servers: u32) -> ResourceSpec {
        ResourceSpec {
            scope: Scope::Node,
            discipline: Discipline::Fifo { servers },
        }
    }

    /// Each spec is refused with an error naming platform and resource and saying `want`.
    fn refused(cases: &[(ResourceSpec, &str)]) {
        for (spec, want) in cases {
            let err = validate_resource("p", "r", spec).unwrap_err().to_string();
            assert!(
                err.contains("platform \"p\", resource \"r\": ") && err.contains(want),
                "{err}"
            );
        }
    }

    #[test]
    fn a_fifo_without_servers_and_processor_sharing_without_capacity_are_refused() {
        refused(&[
            (fifo(0), "fifo needs at least 1 server"),
            (
                ps(0.0, 1.0),
                "processor_sharing needs capacity > 0 and per_job_cap > 0 (got 0, 1)",
            ),
            (ps(2.0, f64::INFINITY), "(got 2, inf)"),
            (ps(2.0, 0.0), "(got 2, 0)"),
            (ps(f64::NAN, 1.0), "(got NaN, 1)"),
        ]);
    }

    #[test]
    fn a_cycle_without_a_finite_positive_interval_is_refused() {
        refused(&[
            (cycle(-1.0), "cycle needs interval_s > 0 (got -1)"),
            (cycle(0.0), "(got 0)"),
            (cycle(f64::INFINITY), "(got inf)"),
        ]);
    }

    #[test]
    fn a_batch_scheduler_needs_an_interval_slots_and_the_cluster_scope() {
        refused(&[
            (batch(Scope::Cluster, 0.0, 2, true), "(got 0, 2)"),
            (
                batch(Scope::Cluster, 1.0, 0, true),
                "batch needs interval_s > 0 and slots_per_node >= 1 (got 1, 0)",
            ),
            (batch(Scope::Cluster, f64::NAN, 2, true), "(got NaN, 2)"),
            (
                batch(Scope::Node, 1.0, 2, false),
                "scope must be \"cluster\"",
            ),
        ]);
    }

    #[test]
    fn resource_values_that_can_work_are_accepted() {
        for fine in [
            fifo(1),
            ps(2.0, 1.0),
            cycle(1.0),
            batch(Scope::Cluster, 1.0, 1, false),
        ] {
            assert_eq!(
                validate_resource("p", "r", &fine).map_err(|e| e.to_string()),
                Ok(())
            );
        }
    }
}
