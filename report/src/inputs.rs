//! What `faastwin report` reads, recognised by content.

use std::path::{Path, PathBuf};

use faastwin_calibration::{Run, RunValidation};
use faastwin_models::error_chain;
use faastwin_sim::sweep::read_csv;
use faastwin_sim::{Calibration, PlatformSummary, SimulationReport};

use crate::ReportError;

/// One input.
#[derive(Debug, Clone)]
pub enum Input {
    /// A run directory of `faastwin measure`.
    Run(Box<Run>),
    /// A calibration file (TOML).
    Calibration {
        /// The file.
        path: PathBuf,
        /// Its contents.
        calibration: Box<Calibration>,
    },
    /// The JSON output of `faastwin simulate --format json`.
    Simulation {
        /// The file.
        path: PathBuf,
        /// One summary per platform.
        platforms: Vec<PlatformSummary>,
    },
    /// The CSV output of `faastwin sweep`.
    Sweep {
        /// The file.
        path: PathBuf,
        /// Its series.
        table: SweepTable,
    },
    /// The JSON output of `faastwin validate --format json`.
    Validation {
        /// The file.
        path: PathBuf,
        /// One validation per run.
        validations: Vec<RunValidation>,
    },
}

/// One point of a sweep line: (parameter value, median warm makespan, band low, band high) [s].
pub type SweepPoint = (f64, f64, f64, f64);

/// A platform's line through a sweep.
pub type SweepSeries = (String, Vec<SweepPoint>);

/// A sweep as the figures draw it: the first swept parameter and, per platform, (value,
/// median, CI low, CI high).
#[derive(Debug, Clone, Default)]
pub struct SweepTable {
    /// Name of the first swept parameter.
    pub parameter: String,
    /// Per platform: (parameter value, median warm makespan, band low, band high) [s].
    pub series: Vec<SweepSeries>,
    /// What the band is: the prediction interval where the CSV has one, else the 95 %
    /// confidence interval of the mean.
    pub band: String,
}

fn fail(path: &Path, detail: impl Into<String>) -> ReportError {
    ReportError::Input {
        path: path.to_owned(),
        detail: detail.into(),
    }
}

/// Reads one input, recognising its kind by what it holds.
pub fn read(path: &Path) -> Result<Input, ReportError> {
    if path.is_dir() {
        if !path.join("run.json").exists() {
            return Err(fail(
                path,
                "a directory, but no run.json: not a run of faastwin measure",
            ));
        }
        return Run::load(path)
            .map(|r| Input::Run(Box::new(r)))
            .map_err(|e| fail(path, error_chain(&e)));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(path, e.to_string()))?;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match extension {
        "toml" => Calibration::from_toml(&text, &path.display().to_string())
            .map(|c| Input::Calibration {
                path: path.to_owned(),
                calibration: Box::new(c),
            })
            .map_err(|e| fail(path, format!("not a calibration file: {}", error_chain(&e)))),
        "csv" => read_sweep(path, &text).map(|table| Input::Sweep {
            path: path.to_owned(),
            table,
        }),
        "json" => {
            if let Ok(sim) = serde_json::from_str::<SimulationReport>(&text) {
                return Ok(Input::Simulation {
                    path: path.to_owned(),
                    platforms: sim.platforms,
                });
            }
            serde_json::from_str::<Vec<RunValidation>>(&text)
                .map(|validations| Input::Validation { path: path.to_owned(), validations })
                .map_err(|e| fail(path, format!("neither `faastwin simulate --format json` nor `faastwin validate --format json` output ({e})")))
        }
        _ => Err(fail(
            path,
            "expected a run directory, a calibration (.toml), a sweep (.csv) or simulate/validate output (.json)",
        )),
    }
}

fn read_sweep(path: &Path, text: &str) -> Result<SweepTable, ReportError> {
    let table = read_csv(text.as_bytes()).map_err(|e| fail(path, error_chain(&e)))?;
    let parameter = table
        .parameters
        .first()
        .cloned()
        .unwrap_or_else(|| "point".to_owned());
    let mut series: Vec<SweepSeries> = Vec::new();
    let intervals = table
        .rows
        .iter()
        .all(|r| r.intervals_s[0].iter().all(|v| v.is_finite()));
    let band = match table.rows.first() {
        Some(r) if intervals => format!("{:.0} % prediction interval", 100.0 * r.interval_level),
        _ => "95 % CI of the mean".to_owned(),
    };
    for row in &table.rows {
        let x = row.values.first().copied().unwrap_or(row.point as f64);
        let [median, _, _, ci_low, ci_high] = row.warm_makespan_s;
        let [low, high] = if intervals {
            row.intervals_s[0]
        } else {
            [ci_low, ci_high]
        };
        let point = (x, median, low, high);
        match series.iter_mut().find(|(n, _)| *n == row.platform) {
            Some((_, points)) => points.push(point),
            None => series.push((row.platform.clone(), vec![point])),
        }
    }
    Ok(SweepTable {
        parameter,
        series,
        band,
    })
}
