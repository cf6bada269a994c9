//! Errors of calibration and validation.

use std::path::PathBuf;

/// Why a calibration or validation could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrationError {
    /// A component has fewer than two values to fit.
    #[error("{what}: {n} value(s); a fit needs at least 2")]
    TooFewValues {
        /// Component and run.
        what: String,
        /// How many values there were.
        n: usize,
    },
    /// A value is NaN or infinite.
    #[error("{what}: value {value} is not finite")]
    BadValue {
        /// Component and run.
        what: String,
        /// The value.
        value: f64,
    },
    /// A fitted model is invalid.
    #[error("{what}")]
    Model {
        /// Component and run.
        what: String,
        /// The model's complaint.
        #[source]
        source: faastwin_models::ModelError,
    },
    /// A run directory is missing a file or holds a malformed one.
    #[error("run {dir}: {detail}")]
    Run {
        /// The run directory.
        dir: PathBuf,
        /// What is wrong, naming the file and line.
        detail: String,
    },
    /// A run's files could not be read.
    #[error("{what}")]
    Measure {
        /// Which run.
        what: String,
        /// The measurement mode's error (names the file and line).
        #[source]
        source: faastwin_measure::MeasureError,
    },
    /// The simulator refused the calibration or the scenario built from a run.
    #[error("simulating")]
    Sim(#[from] faastwin_sim::SimError),
    /// The options are inconsistent (a platform named twice, a name for a kind not in the runs).
    #[error("{0}")]
    Options(String),
    /// Ctrl-C or SIGTERM stopped a loop; what it measured stays on disk.
    #[error(
        "interrupted {during}: the configurations measured before are whole, and a run stopped midway keeps the invocations it recorded (run.json status \"interrupted\")"
    )]
    Interrupted {
        /// What the loop was doing (`measuring A-small into OUT/run-A-small`).
        during: String,
    },
}
