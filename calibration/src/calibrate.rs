//! From measured runs to a calibration file: one model per component and platform.
//!
//! Runs are grouped by platform kind; each kind's orchestration is fitted by its own function
//! (`orchestration`), the function bodies the same way on every kind (`bodies`).

mod bodies;
mod contention;
mod cpu_work;
mod fitter;
mod orchestration;
mod provenance;
mod relist;
mod starts;

use std::collections::BTreeMap;

use faastwin_measure::{InvocationRecord, PlatformKind};
use faastwin_sim::{Calibration, PlatformSpec};
use serde::Serialize;

use crate::CalibrationError;
use crate::fit::FitReport;
use crate::runs::Run;
use fitter::Fitter;

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
    /// The platform's name in the calibration.
    pub platform: String,
    /// Its kind.
    pub kind: PlatformKind,
    /// Run directories used.
    pub runs: Vec<String>,
    /// Warm, successful invocations used.
    pub rows: usize,
    /// One entry per component.
    pub components: Vec<ComponentFit>,
    /// What the runs could not tell, each a sentence a user can act on (printed by
    /// `faastwin calibrate` and `faastwin loop`).
    pub warnings: Vec<String>,
    /// Kubernetes only: when the runs did not show the control plane's shared work (latency
    /// flat over their loads, or one load), the most Jobs in flight per control plane they had.
    /// Predictions above it extrapolate from a flat curve; `faastwin loop` then measures more.
    pub flat_up_to: Option<u32>,
    /// How much the runs' repetitions varied (the provenance keeps it for prediction
    /// intervals).
    pub run_to_run: crate::interval::RunToRun,
    /// The least and the most invocations in flight per node of its closed-loop runs.
    pub loads: Option<(u32, u32)>,
}

/// Fits every platform kind found in `runs`; returns the calibration and the fit reports.
/// Each kind becomes a platform named after it, or as `names` says (`k8s` → `k3s`, so that the
/// shipped scenarios find it).
pub fn calibrate(
    runs: &[Run],
    names: &BTreeMap<PlatformKind, String>,
) -> Result<(Calibration, Vec<PlatformFit>), CalibrationError> {
    let mut by_kind: BTreeMap<PlatformKind, Vec<&Run>> = BTreeMap::new();
    for run in runs {
        by_kind.entry(run.platform()).or_default().push(run);
    }
    if let Some(kind) = names.keys().find(|k| !by_kind.contains_key(k)) {
        return Err(CalibrationError::Options(format!(
            "a name is given for platform {kind}, but no run is on {kind} (the runs are on: {})",
            by_kind
                .keys()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut platforms = BTreeMap::new();
    let mut fits = Vec::new();
    let mut provenance = toml::Table::new();
    for (kind, runs) in by_kind {
        let name = names
            .get(&kind)
            .cloned()
            .unwrap_or_else(|| kind.name().to_owned());
        if platforms.contains_key(&name) {
            return Err(CalibrationError::Options(format!(
                "two platform kinds would both be named {name:?}"
            )));
        }
        let (spec, report) = calibrate_platform(kind, &name, &runs)?;
        provenance.insert(name.clone(), provenance::provenance_of(&report));
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
            refits: BTreeMap::new(),
            provenance,
        },
        fits,
    ))
}

/// The warm invocations of `run` outside the `episodes` (sessions in which a component spun).
fn steady<'a>(
    run: &'a Run,
    episodes: &'a [(&'a Run, u32, String)],
) -> impl Iterator<Item = &'a InvocationRecord> + 'a {
    run.warm().filter(move |r| {
        !episodes
            .iter()
            .any(|(e, session, _)| std::ptr::eq(*e, run) && *session == r.session)
    })
}

/// Fits one platform kind: client gap, its orchestration, the function bodies.
fn calibrate_platform(
    kind: PlatformKind,
    name: &str,
    runs: &[&Run],
) -> Result<(PlatformSpec, PlatformFit), CalibrationError> {
    // On Kubernetes and containers, delays come from the runs at the lowest load (at higher
    // loads they hold queueing for the control plane or the container engine, fitted below as
    // a service time).
    let (low_runs, loads_differ) = match kind {
        PlatformKind::K8s | PlatformKind::Ksi | PlatformKind::Container => {
            contention::lowest_load(runs, kind)
        }
        _ => (runs.to_vec(), false),
    };
    // A session in which a component spun is left out of the stage fits (Kubernetes, where the
    // testbed records its components), kept in the run-to-run variation.
    let episodes = match kind {
        PlatformKind::K8s | PlatformKind::Ksi => contention::episodes(runs),
        _ => Vec::new(),
    };
    let low: Vec<&InvocationRecord> = low_runs.iter().flat_map(|r| steady(r, &episodes)).collect();
    // Containers at two loads: every stage and body from the lowest (more containers in flight
    // than cores would be read as processor sharing of the bodies, which they hardly overlap).
    let serial_engine = kind == PlatformKind::Container && loads_differ;
    let mut f = Fitter {
        platform: name,
        runs: if serial_engine { &low_runs } else { runs },
        components: Vec::new(),
        warnings: Vec::new(),
    };
    f.warnings
        .extend(contention::episode_warnings(name, &episodes));
    let warm: Vec<&InvocationRecord> = f.runs.iter().flat_map(|r| steady(r, &episodes)).collect();
    let rows: usize = runs.iter().map(|r| r.warm().count()).sum();
    let gaps: Vec<f64> = warm
        .iter()
        .filter_map(|r| r.gap_to_next_s)
        .filter(|v| *v >= 0.0)
        .collect();
    let client_gap = f.fixed(
        "client_gap",
        gaps,
        "completion seen -> next submission of the partition",
    )?;
    let mut orchestration = match kind {
        PlatformKind::Local | PlatformKind::Container => orchestration::processes(&mut f, &warm)?,
        PlatformKind::Slurm => orchestration::slurm(&mut f, &warm)?,
        PlatformKind::K8s => orchestration::kubernetes(&mut f, &low)?,
        PlatformKind::Ksi => orchestration::ksi(&mut f, &low)?,
    };
    let workloads = bodies::fit(&mut f, kind, &mut orchestration.resources)?;
    let mut spec = PlatformSpec {
        description: format!("{name} ({kind}), calibrated from {rows} warm invocations"),
        node_startup: orchestration.node_startup,
        client_gap,
        resources: orchestration.resources,
        stages: orchestration.stages,
        workloads,
    };
    let flat_up_to = shared_work(&mut f, kind, name, &mut spec, &low, runs, loads_differ)?;
    let report = PlatformFit {
        platform: name.to_owned(),
        kind,
        runs: runs.iter().map(|r| r.dir.display().to_string()).collect(),
        rows,
        components: f.components,
        warnings: f.warnings,
        flat_up_to,
        run_to_run: crate::interval::run_to_run(runs),
        loads: crate::interval::load_range(runs),
    };
    Ok((spec, report))
}

/// The work invocations share as the load grows, by what the runs can show: the container
/// engine's serial path or the control plane's work at two loads, the components' measured
/// CPU, else a warning naming the load the prediction rests on. Returns the highest load up to
/// which latency stayed flat, where it is not known beyond.
fn shared_work(
    f: &mut Fitter<'_>,
    kind: PlatformKind,
    name: &str,
    spec: &mut PlatformSpec,
    low: &[&InvocationRecord],
    runs: &[&Run],
    loads_differ: bool,
) -> Result<Option<u32>, CalibrationError> {
    let (lo, hi) = contention::load_range(runs, kind);
    let mut flat_up_to = None;
    let serial_engine = kind == PlatformKind::Container && loads_differ;
    if serial_engine {
        contention::engine_serial(f, name, spec, low, runs)?;
    } else if loads_differ {
        // The shared work as the components measured it where they did, else as latency grew.
        if contention::measured_service(f, kind, name, spec, low)?.is_none()
            && !contention::fit_service(f, kind, name, spec, low)?
        {
            flat_up_to = Some(hi);
        }
    } else if matches!(kind, PlatformKind::K8s | PlatformKind::Ksi) {
        flat_up_to = Some(hi);
        let had = if lo == hi {
            format!("every run had {lo} Jobs in flight per control plane")
        } else {
            format!(
                "the runs had {lo} to {hi} Jobs in flight per control plane, less than twice apart"
            )
        };
        // Issue 30.4: the work every Job shares, from what the components spent in CPU.
        let warning = match contention::measured_service(f, kind, name, spec, low)? {
            Some(how) => format!(
                "platform {name}: {had}, so contention cannot be read from latency growing with the load; the Jobs share the nodes' CPUs with the work their components measured ({how}), and anything else that grows with the load (a serial path in the control plane) is not in the model: predictions at more than {hi} Jobs in flight may be too fast; add runs at twice the load or more"
            ),
            None => format!(
                "platform {name}: {had}, so the control plane is a fixed delay: contention cannot be read from them, and predictions at more Jobs in flight will be too fast; add runs at twice the load or more"
            ),
        };
        f.warnings.push(warning);
    } else if kind == PlatformKind::Container {
        // Issue 30.4: the container engine's serial path (its locks and store) is invisible
        // at one load; calibrated so, held-out configurations came out 21-31 % too fast.
        let had = if lo == hi {
            format!("every run had {lo} containers in flight")
        } else {
            format!("the runs had {lo} to {hi} containers in flight, less than twice apart")
        };
        f.warnings.push(format!(
            "platform {name}: {had}, so the container engine's serial path cannot be read from them and container starts are fitted as delays: predictions at more than {hi} containers in flight will likely be too fast (by 21-31 % in held-out checks calibrated so); add runs at twice the load or more"
        ));
    }
    Ok(flat_up_to)
}

/// Writes one line per fitted component: platform, component, n, family, KS statistic and
/// p-value, method (what `faastwin calibrate` prints).
pub fn write_fits(out: &mut dyn std::io::Write, fits: &[PlatformFit]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<10} {:<22} {:>6} {:<20} {:>9} {:>9}  method",
        "platform", "component", "n", "family", "KS D", "KS p"
    )?;
    for f in fits {
        for c in &f.components {
            writeln!(
                out,
                "{:<10} {:<22} {:>6} {:<20} {:>9.4} {:>9.3}  {}",
                f.platform,
                c.component,
                c.rows,
                c.fit.family,
                c.fit.ks_statistic,
                c.fit.ks_p_value,
                c.method
            )?;
        }
    }
    Ok(())
}

/// The names `--as` gives: `NAME` when the runs are of one kind, else `KIND=NAME` (repeatable).
pub fn platform_names(
    given: &[String],
    runs: &[Run],
) -> Result<BTreeMap<PlatformKind, String>, CalibrationError> {
    let mut kinds: Vec<PlatformKind> = runs.iter().map(Run::platform).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut names = BTreeMap::new();
    for text in given {
        let (kind, name) = match text.split_once('=') {
            Some((kind, name)) => (
                kind.parse::<PlatformKind>()
                    .map_err(|e| CalibrationError::Options(format!("--as {text}: {e}")))?,
                name,
            ),
            None if kinds.len() == 1 => (kinds[0], text.as_str()),
            None => {
                return Err(CalibrationError::Options(format!(
                    "--as {text}: the runs are on {} platform kinds; say which with KIND=NAME",
                    kinds.len()
                )));
            }
        };
        if name.is_empty() {
            return Err(CalibrationError::Options(format!(
                "--as {text}: the name is empty"
            )));
        }
        if names.insert(kind, name.to_owned()).is_some() {
            return Err(CalibrationError::Options(format!(
                "--as names platform {kind} twice"
            )));
        }
    }
    Ok(names)
}
