//! What `faastwin report` reads, recognised by content.

use std::path::{Path, PathBuf};

use faastwin_calibration::{Run, RunValidation};
use faastwin_sim::{Calibration, PlatformSummary};
use serde::Deserialize;

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

/// One point of a sweep line: (parameter value, median warm makespan, CI low, CI high) [s].
pub type SweepPoint = (f64, f64, f64, f64);

/// A platform's line through a sweep.
pub type SweepSeries = (String, Vec<SweepPoint>);

/// A sweep CSV: the swept parameter and, per platform, (value, median, CI low, CI high).
#[derive(Debug, Clone, Default)]
pub struct SweepTable {
    /// Name of the first swept parameter.
    pub parameter: String,
    /// Per platform: (parameter value, median warm makespan, CI low, CI high) [s].
    pub series: Vec<SweepSeries>,
}

#[derive(Deserialize)]
struct SimulationJson {
    platforms: Vec<PlatformSummary>,
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
            .map_err(|e| fail(path, e.to_string()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(path, e.to_string()))?;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match extension {
        "toml" => Calibration::from_toml(&text, &path.display().to_string())
            .map(|c| Input::Calibration {
                path: path.to_owned(),
                calibration: Box::new(c),
            })
            .map_err(|e| fail(path, format!("not a calibration file: {e}"))),
        "csv" => read_sweep(path, &text).map(|table| Input::Sweep {
            path: path.to_owned(),
            table,
        }),
        "json" => {
            if let Ok(sim) = serde_json::from_str::<SimulationJson>(&text) {
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
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| fail(path, e.to_string()))?
        .clone();
    if headers.get(0) != Some("point") {
        return Err(fail(
            path,
            "not a sweep CSV of faastwin sweep (its first column is `point`)",
        ));
    }
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| fail(path, format!("no `{name}` column")))
    };
    let (platform, median, low, high) = (
        column("platform")?,
        column("warm_makespan_s")?,
        column("warm_makespan_s_ci95_low")?,
        column("warm_makespan_s_ci95_high")?,
    );
    let parameter = headers
        .get(1)
        .filter(|_| platform > 1)
        .unwrap_or("point")
        .to_owned();
    let mut series: Vec<SweepSeries> = Vec::new();
    for (line, row) in reader.records().enumerate() {
        let row = row.map_err(|e| fail(path, format!("line {}: {e}", line + 2)))?;
        let number = |i: usize| {
            row.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| {
                    fail(
                        path,
                        format!("line {}: column {} is not a number", line + 2, i + 1),
                    )
                })
        };
        let x = if platform > 1 { number(1)? } else { number(0)? };
        let name = row.get(platform).unwrap_or("").to_owned();
        let point = (x, number(median)?, number(low)?, number(high)?);
        match series.iter_mut().find(|(n, _)| *n == name) {
            Some((_, points)) => points.push(point),
            None => series.push((name, vec![point])),
        }
    }
    Ok(SweepTable { parameter, series })
}
