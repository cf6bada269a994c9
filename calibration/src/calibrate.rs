//! From measured runs to a calibration file: one model per component and platform.

use std::collections::BTreeMap;

use faastwin_models::{Distribution, SizeModel};
use faastwin_sim::{
    Calibration, Discipline, OrchestrationStages, PlatformSpec, ResourceSpec, Scope, StageSpec,
    WorkloadStages,
};
use serde::Serialize;

use crate::CalibrationError;
use crate::fit::{FLOOR_S, FitReport, fit, fit_with_floor, parameters};
use crate::runs::Run;

/// How one component was modelled.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentFit {
    /// Component (`client_gap`, `control_plane`, `etl.compute`, ...).
    pub component: String,
    /// Values it was fitted to.
    pub rows: usize,
    /// The fit of the fixed part, or of the per-byte part for size-dependent components.
    pub fit: FitReport,
    /// Constant intercept of a size-dependent model [s].
    pub intercept_s: Option<f64>,
    /// Input sizes the data cover [bytes], for size-dependent components.
    pub bytes_range: Option<(u64, u64)>,
    /// How the model follows from the data (contention corrections, estimators).
    pub method: String,
}

/// Everything fitted for one platform.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformFit {
    /// Platform name.
    pub platform: String,
    /// Run directories used.
    pub runs: Vec<String>,
    /// Warm, successful invocations used.
    pub rows: usize,
    /// One entry per component.
    pub components: Vec<ComponentFit>,
}

/// Fits every platform found in `runs`; returns the calibration and the fit reports.
pub fn calibrate(runs: &[Run]) -> Result<(Calibration, Vec<PlatformFit>), CalibrationError> {
    let mut by_platform: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
    for run in runs {
        by_platform
            .entry(run.platform().to_owned())
            .or_default()
            .push(run);
    }
    let mut platforms = BTreeMap::new();
    let mut fits = Vec::new();
    let mut provenance = toml::Table::new();
    for (name, runs) in by_platform {
        let (spec, report) = calibrate_platform(&name, &runs)?;
        provenance.insert(name.clone(), provenance_of(&report));
        platforms.insert(name, spec);
        fits.push(report);
    }
    let description = format!(
        "Calibrated by faastwin {} from {} run(s): {}",
        env!("CARGO_PKG_VERSION"),
        runs.len(),
        runs.iter()
            .map(|r| r.dir.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((
        Calibration {
            description,
            platforms,
            provenance,
        },
        fits,
    ))
}

struct Fitter<'a> {
    platform: &'a str,
    runs: &'a [&'a Run],
    components: Vec<ComponentFit>,
}

impl Fitter<'_> {
    fn what(&self, component: &str) -> String {
        format!(
            "platform {}, component {component} (runs {})",
            self.platform,
            self.runs
                .iter()
                .map(|r| r.dir.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// Fits a fixed (size-independent) component; `None` when no run has values for it.
    fn fixed(
        &mut self,
        component: &str,
        values: Vec<f64>,
        method: &str,
    ) -> Result<Option<Distribution>, CalibrationError> {
        if values.is_empty() {
            return Ok(None);
        }
        let report = fit(&values, &self.what(component))?;
        let model = report.model.clone();
        self.components.push(ComponentFit {
            component: component.to_owned(),
            rows: values.len(),
            fit: report,
            intercept_s: None,
            bytes_range: None,
            method: method.to_owned(),
        });
        Ok(Some(model))
    }

    /// Fits `latency + per_byte · bytes` to (bytes, seconds) pairs.
    fn sized(
        &mut self,
        component: &str,
        pairs: Vec<(f64, f64)>,
        scale: f64,
        method: &str,
    ) -> Result<Option<SizeModel>, CalibrationError> {
        if pairs.is_empty() {
            return Ok(None);
        }
        let pairs: Vec<(f64, f64)> = pairs
            .into_iter()
            .map(|(x, y)| (x.max(1.0), y * scale))
            .collect();
        let (min, max) = pairs.iter().fold((f64::MAX, 0.0f64), |(lo, hi), (x, _)| {
            (lo.min(*x), hi.max(*x))
        });
        let (intercept, how) = if max / min >= 1.5 {
            let n = pairs.len() as f64;
            let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
            let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
            let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
            let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
            let slope = sxy / sxx;
            let a = my - slope * mx;
            if slope > 0.0 && a > 0.0 {
                (
                    a,
                    format!(
                        "least squares over {:.0}-{:.0} bytes: {a:.3e} s + slope per byte",
                        min, max
                    ),
                )
            } else {
                (
                    0.0,
                    format!(
                        "least squares over {:.0}-{:.0} bytes gave no positive intercept: proportional to bytes",
                        min, max
                    ),
                )
            }
        } else {
            (
                0.0,
                format!(
                    "one input size ({:.0} bytes): assumed proportional to bytes; extrapolation far from it is unsupported",
                    min
                ),
            )
        };
        // A clock resolves a microsecond at best: no invocation costs less than that.
        let per_byte: Vec<f64> = pairs
            .iter()
            .map(|(x, y)| ((y - intercept) / x).max(FLOOR_S / x))
            .collect();
        let report = fit_with_floor(&per_byte, &self.what(component), f64::MIN_POSITIVE)?;
        let model = SizeModel {
            latency: (intercept > 0.0)
                .then(|| Distribution::constant(intercept))
                .transpose()
                .map_err(|e| CalibrationError::Model {
                    what: self.what(component),
                    source: e,
                })?,
            per_byte: Some(report.model.clone()),
        };
        self.components.push(ComponentFit {
            component: component.to_owned(),
            rows: pairs.len(),
            fit: report,
            intercept_s: Some(intercept),
            bytes_range: Some((min as u64, max as u64)),
            method: format!("{how}; {method}"),
        });
        Ok(Some(model))
    }
}

/// A stage that is work on the node's cores, or else a pure delay.
fn stage(model: SizeModel, on_cores: bool) -> StageSpec {
    if on_cores {
        StageSpec {
            work: Some(model),
            resource: Some("cores".into()),
            ..StageSpec::default()
        }
    } else {
        StageSpec {
            delay: Some(model),
            ..StageSpec::default()
        }
    }
}

fn on_cores(model: Option<Distribution>) -> Option<StageSpec> {
    model.map(|d| stage(SizeModel::fixed(d), true))
}

/// The factor that turns a duration measured with more bodies per node than cores into the
/// service time on one core (processor sharing stretched it by bodies / cores).
fn scale_of(runs: &[&&Run], cpus: Option<u32>) -> f64 {
    let busiest = runs.iter().map(|r| r.bodies_per_node()).max().unwrap_or(1);
    match cpus {
        Some(c) if busiest > c => f64::from(c) / f64::from(busiest),
        _ => 1.0,
    }
}

/// Values of one component, each scaled to a service time by its run's contention.
fn contention_scaled(
    warm: &[&faastwin_measure::InvocationRecord],
    runs: &[&Run],
    get: impl Fn(&faastwin_measure::InvocationRecord) -> Option<f64>,
) -> Vec<f64> {
    let cpus = runs.first().and_then(|r| r.meta.platform.cpus_per_node);
    let scale = scale_of(&runs.iter().collect::<Vec<_>>(), cpus);
    warm.iter()
        .filter_map(|r| get(r))
        .filter(|v| *v >= 0.0)
        .map(|v| v * scale)
        .collect()
}

fn delay(model: Option<Distribution>) -> Option<StageSpec> {
    model.map(|d| stage(SizeModel::fixed(d), false))
}

fn calibrate_platform(
    name: &str,
    runs: &[&Run],
) -> Result<(PlatformSpec, PlatformFit), CalibrationError> {
    let mut f = Fitter {
        platform: name,
        runs,
        components: Vec::new(),
    };
    let warm: Vec<&faastwin_measure::InvocationRecord> =
        runs.iter().flat_map(|r| r.warm()).collect();
    let values = |get: fn(&faastwin_measure::InvocationRecord) -> Option<f64>| -> Vec<f64> {
        warm.iter()
            .filter_map(|r| get(r))
            .filter(|v| *v >= 0.0)
            .collect()
    };
    let client_gap = f.fixed(
        "client_gap",
        values(|r| r.gap_to_next_s),
        "completion seen -> next submission of the partition",
    )?;
    let mut resources = BTreeMap::new();
    let mut stages = OrchestrationStages::default();
    let cpus = runs[0].meta.platform.cpus_per_node;
    let uses_cores = matches!(name, "local" | "container" | "slurm") && cpus.is_some();
    let pre_body = |r: &faastwin_measure::InvocationRecord| {
        Some((r.w_body_start? as f64 - r.t_submit? as f64) / 1e9)
    };
    match name {
        "slurm" => {
            let info = &runs[0].meta.platform;
            let interval = info.scheduler_interval_s.unwrap_or(60.0);
            let poll = info.poll_interval_s.unwrap_or(0.05);
            // One job per invocation: a batch scheduler whose passes come every sched_interval
            // and whose slots are the nodes' CPUs (one-CPU jobs), with Slurm's backfill.
            let discipline = match info.cpus_per_node {
                Some(cpus) => Discipline::Batch {
                    interval_s: interval,
                    slots_per_node: cpus,
                    backfill: true,
                },
                None => Discipline::Cycle {
                    interval_s: interval,
                },
            };
            resources.insert(
                "scheduler".into(),
                ResourceSpec {
                    scope: Scope::Cluster,
                    discipline,
                },
            );
            // The job starts at a scheduling cycle; the poller sees it RUNNING within one poll
            // interval after that, so the cycle happened about half a poll before.
            let launch: Vec<f64> = warm
                .iter()
                .filter_map(|r| {
                    Some((r.w_body_start? as f64 - r.t_scheduled_seen? as f64) / 1e9 + poll / 2.0)
                })
                .map(|v| v.max(FLOOR_S))
                .collect();
            let launch = if launch.len() >= 2 {
                launch
            } else {
                vec![0.02, 0.02]
            };
            let model = f.fixed(
                "control_plane",
                launch,
                &format!(
                    "Slurm's scheduling pass every {interval} s (sched_interval) over the nodes' CPUs, then the launch: body start - (RUNNING first seen - poll/2)"
                ),
            )?;
            stages.control_plane = model.map(|d| StageSpec {
                work: Some(SizeModel::fixed(d)),
                resource: Some("scheduler".into()),
                ..StageSpec::default()
            });
        }
        "local" | "container" => {
            stages.startup = on_cores(f.fixed(
                "startup",
                contention_scaled(&warm, runs, |r| pre_body(r)),
                "spawn requested -> body start (worker clock); CPU work on the node's cores",
            )?);
        }
        _ => {
            let with_scheduled = warm.iter().filter(|r| r.t_scheduled_seen.is_some()).count();
            if with_scheduled * 2 >= warm.len().max(1) {
                stages.control_plane = delay(f.fixed(
                    "control_plane",
                    values(|r| r.control_plane_s),
                    "submit -> placement first seen",
                )?);
                stages.startup = delay(f.fixed(
                    "startup",
                    values(|r| r.startup_s),
                    "placement first seen -> body start; negative values (clock skew) left out",
                )?);
            } else {
                stages.control_plane = delay(f.fixed(
                    "control_plane",
                    warm.iter().filter_map(|r| pre_body(r)).filter(|v| *v >= 0.0).collect(),
                    "submit -> body start: placement was seen for fewer than half the invocations",
                )?);
            }
        }
    }
    stages.completion = if matches!(name, "local" | "container") {
        on_cores(f.fixed(
            "completion",
            contention_scaled(&warm, runs, |r| r.completion_s),
            "body end -> exit seen (process teardown and reaping); CPU work on the node's cores",
        )?)
    } else {
        delay(f.fixed(
            "completion",
            values(|r| r.completion_s),
            "body end (worker clock) -> completion first seen",
        )?)
    };

    if let Some(cpus) = cpus.filter(|_| uses_cores) {
        resources.insert(
            "cores".into(),
            ResourceSpec {
                scope: Scope::Node,
                discipline: Discipline::ProcessorSharing {
                    capacity: f64::from(cpus),
                    per_job_cap: 1.0,
                },
            },
        );
    }
    let mut workloads = BTreeMap::new();
    let mut kinds: Vec<&str> = runs.iter().map(|r| r.workload()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        let of_kind: Vec<&&Run> = runs.iter().filter(|r| r.workload() == kind).collect();
        let pairs =
            |get: fn(&faastwin_measure::InvocationRecord) -> Option<u64>| -> Vec<(f64, f64)> {
                of_kind
                    .iter()
                    .flat_map(|r| r.warm())
                    .filter_map(|r| Some((r.bytes_in as f64, get(r)? as f64 / 1e9)))
                    .collect()
            };
        // With more bodies in flight per node than cores, measured CPU work is stretched by
        // processor sharing; the scale divides that out to get the cores' service time. Local
        // processes read from the page cache and write small results: CPU work too.
        let all_cpu = matches!(name, "local" | "container");
        let scale = scale_of(&of_kind, cpus);
        let busiest = of_kind
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
            &format!("{kind}.read"),
            pairs(|r| r.w_read_ns),
            io_scale,
            "",
        )?;
        let compute = f.sized(
            &format!("{kind}.compute"),
            pairs(|r| r.w_compute_ns),
            compute_scale,
            &method,
        )?;
        let write = f.sized(
            &format!("{kind}.write"),
            pairs(|r| r.w_write_ns),
            io_scale,
            "",
        )?;
        let compute = compute.map(|m| stage(m, uses_cores));
        let io_stage = |m: Option<SizeModel>| m.map(|m| stage(m, all_cpu && uses_cores));
        workloads.insert(
            kind.to_owned(),
            WorkloadStages {
                read: io_stage(read),
                compute,
                write: io_stage(write),
                ..WorkloadStages::default()
            },
        );
    }
    let node_startup = if name == "ksi" {
        fit_ksi_startup(&mut f)?
    } else {
        None
    };
    let spec = PlatformSpec {
        description: format!("{name}, calibrated from {} warm invocations", warm.len()),
        node_startup,
        client_gap,
        resources,
        stages,
        workloads,
    };
    let report = PlatformFit {
        platform: name.to_owned(),
        runs: runs.iter().map(|r| r.dir.display().to_string()).collect(),
        rows: warm.len(),
        components: f.components,
    };
    Ok((spec, report))
}

/// KSI's per-node startup overheads from every run's `ksi-startup.csv`.
fn fit_ksi_startup(f: &mut Fitter<'_>) -> Result<Option<Distribution>, CalibrationError> {
    let mut values = Vec::new();
    for run in f.runs {
        let path = run.dir.join("ksi-startup.csv");
        let Ok(mut reader) = csv::Reader::from_path(&path) else {
            continue;
        };
        for row in reader.deserialize::<BTreeMap<String, String>>().flatten() {
            if let (Some(launch), Some(ready)) = (row.get("t_launch"), row.get("t_api_ready")) {
                if let (Ok(l), Ok(r)) = (launch.parse::<f64>(), ready.parse::<f64>()) {
                    values.push((r - l) / 1e9);
                }
            }
        }
    }
    if values.len() == 1 {
        values.push(values[0]);
    }
    f.fixed(
        "node_startup",
        values,
        "launch -> first successful API call, per node (ksi-startup.csv)",
    )
}

fn provenance_of(report: &PlatformFit) -> toml::Value {
    let mut table = toml::Table::new();
    table.insert(
        "runs".into(),
        toml::Value::Array(
            report
                .runs
                .iter()
                .cloned()
                .map(toml::Value::String)
                .collect(),
        ),
    );
    table.insert("rows".into(), toml::Value::Integer(report.rows as i64));
    table.insert(
        "row_selection".into(),
        toml::Value::String(
            "every succeeded invocation of the runs that is not a warm-up (outcome = succeeded, warmup = false in invocations.csv)".into(),
        ),
    );
    let mut components = toml::Table::new();
    for c in &report.components {
        let mut t = toml::Table::new();
        t.insert("family".into(), toml::Value::String(c.fit.family.clone()));
        t.insert("n".into(), toml::Value::Integer(c.fit.n as i64));
        for (k, v) in parameters(&c.fit.model) {
            t.insert(k.into(), toml::Value::Float(v));
        }
        if c.fit.aic.is_finite() {
            t.insert("aic".into(), toml::Value::Float(c.fit.aic));
        }
        t.insert(
            "ks_statistic".into(),
            toml::Value::Float(c.fit.ks_statistic),
        );
        t.insert("ks_p_value".into(), toml::Value::Float(c.fit.ks_p_value));
        let runners_up: Vec<toml::Value> = c
            .fit
            .candidates
            .iter()
            .filter(|x| x.family != c.fit.family)
            .map(|x| {
                toml::Value::String(format!(
                    "{} (AIC {:.1}, KS p {:.3})",
                    x.family, x.aic, x.ks_p_value
                ))
            })
            .collect();
        t.insert("runners_up".into(), toml::Value::Array(runners_up));
        if let Some((lo, hi)) = c.bytes_range {
            t.insert(
                "bytes_range".into(),
                toml::Value::Array(vec![
                    toml::Value::Integer(lo as i64),
                    toml::Value::Integer(hi as i64),
                ]),
            );
        }
        t.insert("method".into(), toml::Value::String(c.method.clone()));
        t.insert("note".into(), toml::Value::String(c.fit.note.clone()));
        if c.fit.floored > 0 {
            t.insert(
                "floored_below_1us".into(),
                toml::Value::Integer(c.fit.floored as i64),
            );
        }
        components.insert(c.component.clone(), toml::Value::Table(t));
    }
    table.insert("components".into(), toml::Value::Table(components));
    toml::Value::Table(table)
}
