//! Figures and one page a researcher would put in a paper.
//!
//! [`build`] turns inputs — measured runs, calibration files, `faastwin simulate --format json`
//! and `faastwin validate --format json` outputs, sweep CSVs ([`inputs::read`] recognises each)
//! — into figures, each as SVG and PNG through plotters, and `index.html`, one self-contained
//! page with every figure inline and the run-level tables, which opens from disk with no
//! network:
//!
//! - Job latency per run as box plots beside the function body, and as ECDFs (the study's
//!   Figures 3 and 5);
//! - the mean latency decomposition as stacked bars with percentages (Figure 6), measured and
//!   simulated;
//! - fitted distributions over measured histograms, one panel per component (calibration);
//! - predicted against measured makespan and latency quantiles, with the error (validation);
//! - warm makespan against a swept parameter with its confidence band (sweeps).

#![warn(missing_docs)]

mod figures;
pub mod inputs;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use faastwin_calibration::Run;
use faastwin_models::Distribution;
use faastwin_sim::{Calibration, PlatformSpec};

pub use figures::ensure_font;
use figures::{
    Decomposition, Ecdf, Fits, LatencyBoxes, LoadCurve, SweepLines, ValidationBars, render,
};
pub use inputs::Input;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// An input is not what the report reads.
    #[error("{path}: {detail}")]
    Input {
        /// The input.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A figure could not be drawn.
    #[error("figure {name}: {detail}")]
    Figure {
        /// The figure.
        name: String,
        /// The plotting library's complaint.
        detail: String,
    },
    /// No font to draw text with.
    #[error("{detail}")]
    Font {
        /// What to do about it.
        detail: String,
    },
    /// The output could not be written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// What a report wrote.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    /// Every figure's SVG (a PNG with the same stem lies beside it).
    pub figures: Vec<PathBuf>,
    /// The HTML page.
    pub html: PathBuf,
    /// What the report could not show, in words (also on the page).
    pub warnings: Vec<String>,
}

fn short(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Writes `plan`'s frontier figure into `dir` as plan.svg and plan.png; returns the SVG path.
pub fn plan_figure(plan: &faastwin_sim::plan::Plan, dir: &Path) -> Result<PathBuf, ReportError> {
    figures::render(&figures::PlanFrontier(plan), dir, "plan")
}

/// Writes every figure the inputs allow and `index.html` into `out`.
pub fn build(inputs: &[Input], out: &Path) -> Result<ReportOutput, ReportError> {
    std::fs::create_dir_all(out).map_err(|source| ReportError::Io {
        path: out.to_owned(),
        source,
    })?;
    let mut page = Page {
        out,
        figures: Vec::new(),
        tables: String::new(),
        warnings: Vec::new(),
    };
    let runs: Vec<&Run> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::Run(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect();
    if !runs.is_empty() {
        page.runs(&runs)?;
    }
    for (n, input) in inputs.iter().enumerate() {
        match input {
            Input::Simulation { path, platforms } => page.simulation(n, path, platforms)?,
            Input::Calibration { path, calibration } => {
                page.calibration(n, path, calibration, &runs)?;
            }
            Input::Validation { validations, .. } => page.validation(n, validations)?,
            Input::Sweep { path, table } => {
                let figure = SweepLines {
                    parameter: table.parameter.clone(),
                    series: table.series.clone(),
                    band: table.band.clone(),
                };
                let title = format!("Sweep over {} ({})", table.parameter, short(path));
                page.figure(title, &figure, &format!("sweep-{n}"))?;
            }
            Input::Run(_) => {}
        }
    }
    page.write(inputs)
}

/// What a report gathers from its inputs: figures (title, SVG), the tables' HTML, warnings.
struct Page<'a> {
    out: &'a Path,
    figures: Vec<(String, PathBuf)>,
    tables: String,
    warnings: Vec<String>,
}

impl Page<'_> {
    /// Renders a figure as `NAME.svg` and `NAME.png` and adds it to the page.
    fn figure(
        &mut self,
        title: impl Into<String>,
        figure: &impl figures::Figure,
        name: &str,
    ) -> Result<(), ReportError> {
        let svg = render(figure, self.out, name)?;
        self.figures.push((title.into(), svg));
        Ok(())
    }

    /// The measured runs: latency per run (box plots, ECDF), the measured decomposition, the
    /// runs' table, and the load curve where the runs span enough loads.
    fn runs(&mut self, runs: &[&Run]) -> Result<(), ReportError> {
        let label = |r: &Run| {
            let name = short(&r.dir);
            format!(
                "{} {}",
                r.platform(),
                name.strip_prefix("run-").unwrap_or(&name)
            )
        };
        let groups: Vec<(String, Vec<f64>, Vec<f64>)> = runs
            .iter()
            .map(|r| {
                (
                    label(r),
                    r.warm().filter_map(|x| x.e2e_s).collect(),
                    r.warm().filter_map(|x| x.body_s).collect(),
                )
            })
            .collect();
        let series = groups.iter().map(|g| (g.0.clone(), g.1.clone())).collect();
        self.figure(
            "Job latency and function body per run",
            &LatencyBoxes { groups },
            "latency-boxplot",
        )?;
        self.figure(
            "Job latency, empirical CDF",
            &Ecdf { series },
            "latency-ecdf",
        )?;
        let bars = runs
            .iter()
            .map(|r| (label(r), measured_stages(r)))
            .collect();
        self.figure(
            "Measured mean latency decomposition",
            &Decomposition { bars },
            "decomposition-measured",
        )?;
        self.tables.push_str(&run_table(runs));
        if let Some(curve) = load_curve(runs) {
            self.figure(
                "Job throughput and latency against load",
                &curve,
                "load-curve",
            )?;
        }
        Ok(())
    }

    /// A simulation's mean decomposition by stage and its table.
    fn simulation(
        &mut self,
        n: usize,
        path: &Path,
        platforms: &[faastwin_sim::PlatformSummary],
    ) -> Result<(), ReportError> {
        let bars = platforms
            .iter()
            .map(|p| {
                let stages = faastwin_sim::Stage::ALL
                    .iter()
                    .zip(p.decomposition.as_array())
                    .map(|(s, v)| (s.name().replace('_', " "), v))
                    .collect();
                (p.platform.clone(), stages)
            })
            .collect();
        self.figure(
            format!("Simulated mean latency decomposition ({})", short(path)),
            &Decomposition { bars },
            &format!("decomposition-simulated-{n}"),
        )?;
        self.tables.push_str(&simulation_table(path, platforms));
        Ok(())
    }

    /// A calibration's fitted models over the values of the runs it came from, one figure per
    /// platform; a run that cannot be read is named in a warning.
    fn calibration(
        &mut self,
        n: usize,
        path: &Path,
        calibration: &Calibration,
        runs: &[&Run],
    ) -> Result<(), ReportError> {
        for (platform, spec) in &calibration.platforms {
            let (values_from, unreadable) = calibration_runs(calibration, platform, runs);
            for (dir, why) in unreadable {
                self.warnings.push(format!(
                    "{}: platform {platform}'s calibration run {dir} cannot be read ({why}); its fit panel shows the other runs' values only (give the run as an input to show it)",
                    path.display()
                ));
            }
            let panels = fit_panels(spec, &values_from);
            if panels.is_empty() {
                continue;
            }
            self.figure(
                format!("Fitted models of {platform} ({})", short(path)),
                &Fits {
                    platform: platform.clone(),
                    panels,
                },
                &format!("fits-{n}-{platform}"),
            )?;
        }
        Ok(())
    }

    /// Predicted against measured, per run and metric, and its table.
    fn validation(
        &mut self,
        n: usize,
        validations: &[faastwin_calibration::RunValidation],
    ) -> Result<(), ReportError> {
        let rows = validations
            .iter()
            .flat_map(|v| {
                let name = short(Path::new(&v.run));
                let name = name.strip_prefix("run-").unwrap_or(&name).to_owned();
                v.metrics.iter().map(move |m| {
                    let interval = match m.metric {
                        faastwin_models::Metric::WarmMakespanS => v.makespan_interval,
                        faastwin_models::Metric::P50LatencyS => v.p50_interval,
                        _ => None,
                    };
                    (
                        name.clone(),
                        m.metric,
                        m.measured,
                        m.predicted,
                        m.rel_error,
                        interval.map(|i| (i.low, i.high)),
                    )
                })
            })
            .collect();
        self.figure(
            "Predicted vs measured",
            &ValidationBars { rows },
            &format!("validation-{n}"),
        )?;
        self.tables.push_str(&validation_table(validations));
        self.tables.push_str(&coverage_table(validations));
        Ok(())
    }

    /// Writes `index.html`: every figure inline, the tables, then the warnings.
    fn write(mut self, inputs: &[Input]) -> Result<ReportOutput, ReportError> {
        for warning in &self.warnings {
            self.tables
                .push_str(&format!("<p class=\"warning\">{}</p>\n", escape(warning)));
        }
        let html = self.out.join("index.html");
        let text = page(inputs, &self.figures, &self.tables)?;
        std::fs::write(&html, text).map_err(|source| ReportError::Io {
            path: html.clone(),
            source,
        })?;
        Ok(ReportOutput {
            warnings: self.warnings,
            figures: self.figures.into_iter().map(|f| f.1).collect(),
            html,
        })
    }
}

/// A run's mean warm time by stage, as the measured decomposition shows it.
fn measured_stages(run: &Run) -> Vec<(String, f64)> {
    let of = |get: &dyn Fn(&faastwin_measure::InvocationRecord) -> Option<f64>| {
        mean(&run.warm().filter_map(get).collect::<Vec<_>>())
    };
    vec![
        (
            "control plane + startup".to_owned(),
            of(&faastwin_measure::InvocationRecord::pre_body_s),
        ),
        ("read".to_owned(), of(&|x| x.read_s)),
        ("compute".to_owned(), of(&|x| x.compute_s)),
        ("write".to_owned(), of(&|x| x.write_s)),
        ("completion".to_owned(), of(&|x| x.completion_s)),
    ]
}

/// The load curve of every platform kind measured at three or more different numbers of Jobs
/// in flight (partitions × window), one point per repetition.
fn load_curve(runs: &[&Run]) -> Option<LoadCurve> {
    let mut by_kind: std::collections::BTreeMap<String, Vec<figures::LoadPoint>> =
        Default::default();
    for run in runs {
        let o = &run.meta.options;
        let in_flight = f64::from(o.partitions * o.policy.window().unwrap_or(1));
        for s in faastwin_measure::summarise(&run.records, None) {
            if let (Some(makespan), Some(p50)) = (s.warm_makespan_s, s.p50_latency_s) {
                if makespan > 0.0 {
                    by_kind
                        .entry(run.platform().name().to_owned())
                        .or_default()
                        .push((in_flight, s.warm_succeeded as f64 / makespan, p50));
                }
            }
        }
    }
    let series: Vec<(String, Vec<figures::LoadPoint>)> = by_kind
        .into_iter()
        .filter(|(_, points)| {
            let mut loads: Vec<u64> = points.iter().map(|p| p.0 as u64).collect();
            loads.sort_unstable();
            loads.dedup();
            loads.len() >= 3
        })
        .collect();
    (!series.is_empty()).then_some(LoadCurve { series })
}

/// The runs behind a calibration's platform: those given as inputs, else those its
/// provenance names, with the ones that cannot be read (directory, why).
fn calibration_runs(
    calibration: &Calibration,
    platform: &str,
    inputs: &[&Run],
) -> (Vec<Run>, Vec<(String, String)>) {
    let given: Vec<Run> = inputs
        .iter()
        .filter(|r| r.platform().name() == platform)
        .map(|r| (*r).clone())
        .collect();
    if !given.is_empty() {
        return (given, Vec::new());
    }
    let mut runs = Vec::new();
    let mut unreadable = Vec::new();
    let named = calibration
        .provenance
        .get(platform)
        .and_then(|p| p.get("runs"))
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter_map(|dir| dir.as_str());
    for dir in named {
        match Run::load(Path::new(dir)) {
            Ok(run) => runs.push(run),
            Err(e) => unreadable.push((dir.to_owned(), faastwin_models::error_chain(&e))),
        }
    }
    (runs, unreadable)
}

/// One panel per fitted component: its measured values and its model.
fn fit_panels(spec: &PlatformSpec, runs: &[Run]) -> Vec<(String, Vec<f64>, Distribution)> {
    let warm = || runs.iter().flat_map(|r| r.warm());
    let values = |get: &dyn Fn(&faastwin_measure::InvocationRecord) -> Option<f64>| {
        warm()
            .filter_map(get)
            .filter(|v| *v >= 0.0)
            .collect::<Vec<f64>>()
    };
    let fixed = |stage: &Option<faastwin_sim::StageSpec>| {
        stage
            .as_ref()
            .and_then(|s| s.work.as_ref().or(s.delay.as_ref()))
            .and_then(|m| m.latency.clone())
    };
    let mut panels = Vec::new();
    if let Some(gap) = &spec.client_gap {
        panels.push((
            "client_gap".to_owned(),
            values(&|x| x.gap_to_next_s),
            gap.clone(),
        ));
    }
    if let Some(m) = fixed(&spec.stages.control_plane) {
        panels.push((
            "control_plane".to_owned(),
            values(&|x| x.control_plane_s),
            m,
        ));
    }
    if let Some(m) = fixed(&spec.stages.startup) {
        let measured = values(&|x| x.startup_s);
        panels.push((
            "startup".to_owned(),
            if measured.is_empty() {
                values(&faastwin_measure::InvocationRecord::pre_body_s)
            } else {
                measured
            },
            m,
        ));
    }
    if let Some(stage) = &spec.stages.completion {
        let part =
            |m: &Option<faastwin_models::SizeModel>| m.as_ref().and_then(|m| m.latency.clone());
        match (part(&stage.delay), part(&stage.work)) {
            // A delay, then service on a shared server (the Kubernetes control plane): the
            // model drawn is the delay, over the measured values less the mean service time.
            (Some(delay), Some(service)) => {
                let mean = service.mean();
                let less: Vec<f64> = values(&|x| x.completion_s)
                    .into_iter()
                    .map(|v| (v - mean).max(0.0))
                    .collect();
                panels.push((
                    format!("completion less {mean:.2} s of service"),
                    less,
                    delay,
                ));
            }
            (delay, work) => {
                if let Some(m) = work.or(delay) {
                    panels.push(("completion".to_owned(), values(&|x| x.completion_s), m));
                }
            }
        }
    }
    for (kind, stages) in &spec.workloads {
        let per_byte = |stage: &Option<faastwin_sim::StageSpec>| {
            stage
                .as_ref()
                .and_then(|s| s.work.as_ref().or(s.delay.as_ref()))
                .and_then(|m| m.per_byte.clone())
        };
        let parts: [BodyPart<'_>; 3] = [
            ("read", &stages.read, |x| x.w_read_ns),
            ("compute", &stages.compute, |x| x.w_compute_ns),
            ("write", &stages.write, |x| x.w_write_ns),
        ];
        for (name, stage, get) in parts {
            if let Some(model) = per_byte(stage) {
                let intercept = fixed(stage).map_or(0.0, |d| d.mean());
                let measured: Vec<f64> = runs
                    .iter()
                    .filter(|r| r.workload() == *kind)
                    .flat_map(|r| r.warm())
                    .filter_map(|x| {
                        Some(
                            ((get(x)? as f64 / 1e9 - intercept) / (x.bytes_in.max(1) as f64))
                                .max(0.0),
                        )
                    })
                    .collect();
                panels.push((format!("{kind}.{name}"), measured, model));
            }
        }
    }
    panels
}

/// A body stage: its name, its model and how to read its measured duration [ns].
type BodyPart<'a> = (
    &'a str,
    &'a Option<faastwin_sim::StageSpec>,
    fn(&faastwin_measure::InvocationRecord) -> Option<u64>,
);

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn cell(v: Option<f64>) -> String {
    v.map_or("–".to_owned(), |v| format!("{v:.4}"))
}

fn run_table(runs: &[&Run]) -> String {
    let mut html = String::from(
        "<h2>Measured runs</h2>\n<table>\n<tr><th>run</th><th>platform</th><th>workload</th><th>repetition</th><th>invocations</th><th>warm makespan [s]</th><th>p50 [s]</th><th>p95 [s]</th><th>p99 [s]</th><th>mean body [s]</th><th>body share</th><th>failed</th></tr>\n",
    );
    for run in runs {
        for s in faastwin_measure::summarise(&run.records, run.meta.platform.startup_overhead_s) {
            // Writing into a String cannot fail.
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&short(&run.dir)),
                escape(run.platform().name()),
                run.workload(),
                s.repetition,
                s.invocations,
                cell(s.warm_makespan_s),
                cell(s.p50_latency_s),
                cell(s.p95_latency_s),
                cell(s.p99_latency_s),
                cell(s.mean_body_s),
                s.body_share
                    .map_or("–".into(), |b| format!("{:.1} %", 100.0 * b)),
                s.failed
            );
        }
    }
    html.push_str("</table>\n");
    html
}

fn simulation_table(path: &Path, platforms: &[faastwin_sim::PlatformSummary]) -> String {
    let mut html = format!(
        "<h2>Simulated: {}</h2>\n<table>\n<tr><th>platform</th><th>replications</th><th>warm makespan [s]: median (95 % CI of the mean)</th><th>p50 [s]</th><th>p95 [s]</th><th>p99 [s]</th><th>startup overhead [s]</th><th>body share</th><th>prediction intervals [s]: warm makespan, p50, p95, p99</th></tr>\n",
        escape(&short(path))
    );
    for p in platforms {
        let ci = p.stats.warm_makespan_s.ci95;
        // Writing into a String cannot fail.
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{:.2} ({:.2}–{:.2})</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td><td>{:.1} %</td><td>{}</td></tr>",
            escape(&p.platform),
            p.replications,
            p.warm_makespan_s,
            ci[0],
            ci[1],
            p.p50_latency_s,
            p.p95_latency_s,
            p.p99_latency_s,
            p.startup_overhead_s
                .map_or("–".into(), |v| format!("{v:.2}")),
            100.0 * p.body_share,
            intervals_cell(p.intervals.as_ref())
        );
    }
    html.push_str("</table>\n");
    html
}

/// A platform's prediction intervals in one cell: level, then each metric's range, then
/// what the widest's width mostly comes from.
fn intervals_cell(intervals: Option<&faastwin_sim::interval::Intervals>) -> String {
    let Some(i) = intervals else {
        return "–".into();
    };
    let ranges: Vec<String> = i
        .all()
        .iter()
        .map(|x| x.map_or("–".into(), |x| format!("{:.3}–{:.3}", x.low, x.high)))
        .collect();
    let source = i.warm_makespan_s.map_or(String::new(), |x| {
        format!("; makespan's width mostly from {}", x.dominant())
    });
    format!(
        "{:.0} %: {}{} ({} refits, {} run-to-run ratios)",
        100.0 * i.level,
        ranges.join(", "),
        escape(&source),
        i.refits,
        i.run_to_run
    )
}

/// How often the validations' prediction intervals held the measured repetitions, per
/// platform (nothing when no validation has an interval).
fn coverage_table(validations: &[faastwin_calibration::RunValidation]) -> String {
    let by_platform = faastwin_calibration::by_platform(validations);
    let mut rows = String::new();
    for (platform, group) in &by_platform {
        let owned: Vec<faastwin_calibration::RunValidation> =
            group.iter().map(|v| (*v).clone()).collect();
        let cells: Vec<String> = faastwin_calibration::coverage(&owned)
            .iter()
            .map(|c| {
                c.map_or("–".into(), |c| {
                    format!(
                        "{} of {} ({:.0} %), median width {:.1} %",
                        c.inside,
                        c.total,
                        100.0 * c.share(),
                        100.0 * c.median_width
                    )
                })
            })
            .collect();
        if cells.iter().all(|c| c == "–") {
            continue;
        }
        let level = group.first().map_or(0.9, |v| v.interval_level);
        // Writing into a String cannot fail.
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td>{:.0} %</td><td>{}</td><td>{}</td></tr>",
            escape(platform),
            100.0 * level,
            cells[0],
            cells[1]
        );
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<h2>Prediction intervals against the measured repetitions</h2>\n<table>\n<tr><th>platform</th><th>level</th><th>warm makespan: inside</th><th>p50 latency: inside</th></tr>\n{rows}</table>\n"
    )
}

fn validation_table(validations: &[faastwin_calibration::RunValidation]) -> String {
    let mut html = String::from(
        "<h2>Validation</h2>\n<table>\n<tr><th>run</th><th>metric</th><th>measured</th><th>predicted</th><th>error</th></tr>\n",
    );
    for v in validations {
        for m in &v.metrics {
            // Writing into a String cannot fail.
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:+.1} %</td></tr>",
                escape(&short(Path::new(&v.run))),
                escape(m.metric.name()),
                m.measured,
                m.predicted,
                100.0 * m.rel_error
            );
        }
    }
    html.push_str("</table>\n");
    html
}

fn page(
    inputs: &[Input],
    figures: &[(String, PathBuf)],
    tables: &str,
) -> Result<String, ReportError> {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>faastwin report</title>\n<style>\n\
         body { font-family: sans-serif; max-width: 1240px; margin: 2em auto; color: #111; }\n\
         table { border-collapse: collapse; margin: 1em 0; font-size: 90%; }\n\
         th, td { border: 1px solid #999; padding: 0.25em 0.6em; text-align: right; }\n\
         th { background: #eee; } td:first-child, th:first-child { text-align: left; }\n\
         figure { margin: 2em 0; } figcaption { font-weight: bold; margin-bottom: 0.5em; }\n\
         svg { max-width: 100%; height: auto; }\n</style>\n</head>\n<body>\n<h1>faastwin report</h1>\n",
    );
    // Writing into a String cannot fail.
    let _ = writeln!(
        html,
        "<p>{} input(s). Every figure is also in this directory as SVG and PNG. Latency quantiles are type 7 (linear interpolation between order statistics).</p>\n<ul>",
        inputs.len()
    );
    for input in inputs {
        let (kind, path) = match input {
            Input::Run(r) => ("measured run", r.dir.clone()),
            Input::Calibration { path, .. } => ("calibration", path.clone()),
            Input::Simulation { path, .. } => ("simulation", path.clone()),
            Input::Sweep { path, .. } => ("sweep", path.clone()),
            Input::Validation { path, .. } => ("validation", path.clone()),
        };
        // Writing into a String cannot fail.
        let _ = writeln!(
            html,
            "<li>{kind}: {}</li>",
            escape(&path.display().to_string())
        );
    }
    html.push_str("</ul>\n");
    html.push_str(tables);
    for (title, svg) in figures {
        let text = std::fs::read_to_string(svg).map_err(|source| ReportError::Io {
            path: svg.clone(),
            source,
        })?;
        let inline = text
            .trim_start()
            .strip_prefix("<?xml")
            .and_then(|t| t.split_once("?>"))
            .map_or(text.as_str(), |t| t.1);
        // Writing into a String cannot fail.
        let _ = writeln!(
            html,
            "<figure>\n<figcaption>{}</figcaption>\n{}\n</figure>",
            escape(title),
            inline.trim()
        );
    }
    html.push_str("</body>\n</html>\n");
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A completion that is a delay and then service on a shared server is drawn as the delay
    /// (its own model), named with the service time taken off the measured values.
    #[test]
    fn a_completion_with_service_is_drawn_as_its_delay() {
        let calibration = faastwin_sim::Calibration::from_toml(
            r#"
[platforms.k]
[platforms.k.resources.cp]
scope = "cluster"
discipline = { kind = "fifo", servers = 1 }
[platforms.k.stages.completion]
delay = { latency = { family = "constant", value = 1.5 } }
work = { latency = { family = "constant", value = 0.25 } }
resource = "cp"
"#,
            "test",
        )
        .unwrap();
        let spec = &calibration.platforms["k"];
        let panels = fit_panels(spec, &[]);
        let (name, values, model) = panels
            .iter()
            .find(|(n, _, _)| n.starts_with("completion"))
            .unwrap();
        assert_eq!(name, "completion less 0.25 s of service");
        assert!(values.is_empty());
        assert_eq!(model.mean(), 1.5, "the delay, not the service");
    }

    /// A log axis within one decade gets every digit as a label; a wider one 1, 2 and 5.
    #[test]
    fn log_axes_are_labelled_within_a_decade_too() {
        let close = |a: Vec<f64>, b: &[f64]| {
            assert_eq!(a.len(), b.len(), "{a:?}");
            assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12), "{a:?}");
        };
        close(figures::log_ticks(2.5, 6.5), &[3.0, 4.0, 5.0, 6.0]);
        close(
            figures::log_ticks(0.004, 0.6),
            &[0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
        );
        assert!(figures::log_ticks(0.0, 1.0).is_empty());
        assert!(figures::log_ticks(2.0, 1.0).is_empty());
    }
}
