//! The control plane of a Kubernetes platform as what it is: one server that every Job of a
//! cluster (K3s) or of a node's cluster (KSI) visits, not a fixed delay.
//!
//! Measured on the testbed's real control plane (docs/experiments/control-plane-curve.csv), Job
//! throughput saturates and latency then grows in proportion to the Jobs in flight: a single
//! FIFO server with a service time, behind pure delays (watch propagation, the Job
//! controller's batching, the kubelet). The service time cannot be read off one Job; it shows
//! in how latency grows with load. So when the runs span at least two loads (Jobs in flight,
//! one twice the other), the delays are fitted to the runs at the lowest load and the service
//! time is chosen so that the simulator reproduces every run's mean Job latency; the server is
//! visited when the body has ended (where the Job controller's work shows on the testbed).
//! With one load only, the control plane stays a delay and the provenance says why.

use faastwin_measure::{InvocationRecord, PlatformKind};
use faastwin_models::{Distribution, SizeModel, quantile};
use faastwin_sim::{
    Calibration, Discipline, PlatformSpec, PlatformSummary, ResourceSpec, Scope, StageSpec,
    replicate,
};

use super::ComponentFit;
use super::fitter::Fitter;
use crate::fit::{FLOOR_S, fit};
use crate::runs::Run;
use crate::{CalibrationError, workload_of};

/// The resource every Job visits.
pub(super) const CONTROL_PLANE: &str = "control_plane";

/// Candidate service times tried, from none to 90 % of the lowest-load completion time.
const CANDIDATES: usize = 46;

/// Candidate variability of the service time: the shape of a gamma distribution (coefficient
/// of variation 1/√shape); `None` is a constant service time.
const SHAPES: [Option<f64>; 4] = [None, Some(30.0), Some(10.0), Some(3.0)];

/// Jobs in flight that share one control plane in `run`: every partition's window on K3s,
/// those of one node on KSI.
pub(super) fn in_flight(run: &Run, kind: PlatformKind) -> u32 {
    let window = run.meta.options.policy.window().unwrap_or(1);
    match kind {
        PlatformKind::Ksi => run.partitions_per_node() * window,
        _ => run.meta.options.partitions * window,
    }
}

/// The runs at the lowest load, and whether the loads differ enough (twice) to separate a
/// service time from delays.
pub(super) fn lowest_load<'a>(runs: &[&'a Run], kind: PlatformKind) -> (Vec<&'a Run>, bool) {
    let loads: Vec<u32> = runs.iter().map(|r| in_flight(r, kind)).collect();
    let (lo, hi) = (
        loads.iter().copied().min().unwrap_or(1),
        loads.iter().copied().max().unwrap_or(1),
    );
    let low = runs
        .iter()
        .zip(&loads)
        .filter(|(_, l)| **l == lo)
        .map(|(r, _)| *r)
        .collect();
    (low, hi >= 2 * lo)
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = values.collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Chooses the control plane's service time and turns `spec`'s completion stage into a delay
/// followed by that service on the shared server. `low` holds the warm rows of the runs at the
/// lowest load; `name` is the platform's name in the calibration.
pub(super) fn fit_service(
    f: &mut Fitter<'_>,
    kind: PlatformKind,
    name: &str,
    spec: &mut PlatformSpec,
    low: &[&InvocationRecord],
) -> Result<(), CalibrationError> {
    let completion: Vec<f64> = low
        .iter()
        .filter_map(|r| super::orchestration::completion_of(r))
        .filter(|v| *v >= 0.0)
        .collect();
    let Some(median) = quantile::of(&completion, 0.5) else {
        return Ok(());
    };
    let scope = match kind {
        PlatformKind::Ksi => Scope::Node,
        _ => Scope::Cluster,
    };
    let candidate = |service: f64, shape: Option<f64>| -> Result<PlatformSpec, CalibrationError> {
        let shifted: Vec<f64> = completion
            .iter()
            .map(|v| (v - service).max(FLOOR_S))
            .collect();
        let delay = fit(&shifted, &f.what("completion"))?.model;
        let mut s = spec.clone();
        s.resources.insert(
            CONTROL_PLANE.into(),
            ResourceSpec {
                scope,
                discipline: Discipline::Fifo { servers: 1 },
            },
        );
        s.stages.completion = Some(StageSpec {
            delay: Some(SizeModel::fixed(delay)),
            work: (service > 0.0)
                .then(|| match shape {
                    None => Distribution::constant(service),
                    Some(k) => Distribution::new(faastwin_models::RawDistribution::Gamma {
                        shape: k,
                        scale: service / k,
                    }),
                })
                .transpose()
                .map(|d| d.map(SizeModel::fixed))
                .map_err(|source| CalibrationError::Model {
                    what: f.what("control_plane.service"),
                    source,
                })?,
            resource: (service > 0.0).then(|| CONTROL_PLANE.to_owned()),
        });
        Ok(s)
    };
    // How far the simulated mean and p95 Job latency of each run are from the measured ones.
    let error = |s: &PlatformSpec| -> Result<f64, CalibrationError> {
        let calibration = Calibration {
            description: String::new(),
            platforms: [(name.to_owned(), s.clone())].into(),
            provenance: toml::Table::new(),
        };
        let mut sum = 0.0;
        for run in f.runs {
            let workload = workload_of(run)?;
            let platform = calibration.compile(name, workload.body)?;
            let runs = replicate(&platform, &workload, 1, 3, 1, &|| {})?;
            let predicted = PlatformSummary::of(&runs, 1)?;
            let mut latencies: Vec<f64> = run.warm().filter_map(|r| r.e2e_s).collect();
            latencies.sort_by(f64::total_cmp);
            let (Some(measured), Some(p95)) = (
                mean(latencies.iter().copied()),
                quantile::sorted(&latencies, 0.95),
            ) else {
                continue;
            };
            sum += ((predicted.stats.mean_latency_s.median - measured) / measured).powi(2)
                + ((predicted.p95_latency_s - p95) / p95).powi(2);
        }
        Ok(sum)
    };
    let mut best = (0.0, None, f64::INFINITY);
    let no_service = error(&candidate(0.0, None)?)?;
    for k in 1..CANDIDATES {
        let service = 0.9 * median * k as f64 / (CANDIDATES - 1) as f64;
        for shape in SHAPES {
            let e = error(&candidate(service, shape)?)?;
            if e < best.2 {
                best = (service, shape, e);
            }
        }
    }
    if no_service <= best.2 {
        best = (0.0, None, no_service);
    }
    let (service, shape, e) = best;
    *spec = candidate(service, shape)?;
    let shifted: Vec<f64> = completion
        .iter()
        .map(|v| (v - service).max(FLOOR_S))
        .collect();
    let report = fit(&shifted, &f.what("completion"))?;
    f.components.retain(|c| c.component != "completion");
    let loads: Vec<u32> = f.runs.iter().map(|r| in_flight(r, kind)).collect();
    f.components.push(ComponentFit {
        component: "completion".into(),
        rows: shifted.len(),
        fit: report.clone(),
        intercept_s: None,
        bytes_range: None,
        method: format!(
            "body end -> completion seen at the lowest load, less the control plane's service time {service:.3} s (a FIFO server of the {}, visited here)",
            if scope == Scope::Node { "node's cluster" } else { "cluster" }
        ),
    });
    f.components.push(ComponentFit {
        component: "control_plane.service".into(),
        rows: f.runs.len(),
        fit: match shape {
            None => crate::fit::constant_report(service, &f.what("control_plane.service"))?,
            Some(_) => crate::fit::chosen_report(
                spec.stages
                    .completion
                    .as_ref()
                    .and_then(|s| s.work.as_ref())
                    .and_then(|w| w.latency.clone())
                    .ok_or_else(|| CalibrationError::Options("no service model".into()))?,
            ),
        },
        intercept_s: None,
        bytes_range: None,
        method: format!(
            "one FIFO server; mean service time {service:.3} s ({}) chosen from {CANDIDATES} means (0 to 90 % of the median completion time) and {} variabilities so that the simulated mean and p95 Job latency of every run (Jobs in flight: {loads:?}) fit best: summed squared relative error {e:.4}; with no service time it was {no_service:.4}",
            shape.map_or("constant".to_owned(), |k| format!("gamma, shape {k}")),
            SHAPES.len()
        ),
    });
    Ok(())
}
