//! The function bodies' read, compute and write as `a + b·bytes`, per body, on any platform.

use std::collections::BTreeMap;

use faastwin_measure::{Body, InvocationRecord, PlatformKind};
use faastwin_models::SizeModel;
use faastwin_sim::{Discipline, ResourceSpec, Scope, WorkloadStages};

use super::fitter::{Fitter, scale_of, stage};
use crate::CalibrationError;
use crate::runs::Run;

/// Fits every body the runs ran. Where the bodies run on the nodes' own cores (local,
/// container, Slurm), a `cores` resource is added to `resources` and contention is divided
/// out of the measured durations.
pub(super) fn fit(
    f: &mut Fitter<'_>,
    kind: PlatformKind,
    resources: &mut BTreeMap<String, ResourceSpec>,
) -> Result<BTreeMap<Body, WorkloadStages>, CalibrationError> {
    let runs = f.runs;
    let cpus = runs[0].meta.platform.cpus_per_node;
    let uses_cores = matches!(
        kind,
        PlatformKind::Local | PlatformKind::Container | PlatformKind::Slurm
    ) && cpus.is_some();
    if let Some(cpus) = cpus.filter(|_| uses_cores) {
        resources.insert(
            faastwin_models::CORES.into(),
            ResourceSpec {
                scope: Scope::Node,
                discipline: Discipline::ProcessorSharing {
                    capacity: f64::from(cpus),
                    per_job_cap: 1.0,
                },
            },
        );
    }
    let mut bodies: Vec<Body> = runs.iter().map(|r| r.workload()).collect();
    bodies.sort_unstable();
    bodies.dedup();
    let mut workloads = BTreeMap::new();
    for body in bodies {
        let of_body: Vec<&&Run> = runs.iter().filter(|r| r.workload() == body).collect();
        let pairs = |get: fn(&InvocationRecord) -> Option<u64>| -> Vec<(f64, f64)> {
            of_body
                .iter()
                .flat_map(|r| r.warm())
                .filter_map(|r| Some((r.bytes_in as f64, get(r)? as f64 / 1e9)))
                .collect()
        };
        // With more bodies in flight per node than cores, measured CPU work is stretched by
        // processor sharing; the scale divides that out to get the cores' service time. Local
        // processes read from the page cache and write small results: CPU work too.
        let all_cpu = kind.runs_on_node_cores();
        let scale = scale_of(&of_body, cpus);
        let busiest = of_body
            .iter()
            .map(|r| r.bodies_per_node())
            .max()
            .unwrap_or(1);
        let (compute_scale, method) = match cpus.filter(|_| uses_cores) {
            Some(c) if busiest > c => (
                scale,
                format!(
                    "work on the node's {c} cores; measured with up to {busiest} bodies per node, scaled by {c}/{busiest}"
                ),
            ),
            Some(c) => (
                1.0,
                format!(
                    "work on the node's {c} cores; at most {busiest} bodies per node, so measured = service time"
                ),
            ),
            None => (1.0, "pure delay".to_owned()),
        };
        let io_scale = if all_cpu { scale } else { 1.0 };
        let read = f.sized(
            &format!("{body}.read"),
            pairs(|r| r.w_read_ns),
            io_scale,
            "",
        )?;
        let compute = f.sized(
            &format!("{body}.compute"),
            pairs(|r| r.w_compute_ns),
            compute_scale,
            &method,
        )?;
        let write = f.sized(
            &format!("{body}.write"),
            pairs(|r| r.w_write_ns),
            io_scale,
            "",
        )?;
        let io_stage = |m: Option<SizeModel>| m.map(|m| stage(m, all_cpu && uses_cores));
        workloads.insert(
            body,
            WorkloadStages {
                read: io_stage(read),
                compute: compute.map(|m| stage(m, uses_cores)),
                write: io_stage(write),
                ..WorkloadStages::default()
            },
        );
    }
    Ok(workloads)
}
