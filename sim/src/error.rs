//! Errors of the simulator.

use std::path::PathBuf;

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A scenario or calibration file does not parse; the detail names the line and key.
    #[error("{origin}: {detail}")]
    Parse {
        /// The file (or "embedded calibration").
        origin: String,
        /// The parser's message, with line, column and key.
        detail: String,
    },
    /// A value is inconsistent with the others (an unknown platform or resource, a count of 0).
    #[error("{what}")]
    Invalid {
        /// What is wrong, naming the object.
        what: String,
    },
    /// A file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file (trace, sweep) could not be written or read.
    #[error("{what}")]
    Csv {
        /// Which file and, when reading, which line and column.
        what: String,
        /// The CSV library's error.
        #[source]
        source: csv::Error,
    },
    /// A JSON file (a sweep chunk, `sweep.json`) could not be written or read.
    #[error("{what}")]
    Json {
        /// Which file.
        what: String,
        /// serde_json's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The batch system refused or did not answer (a sweep array).
    #[error("{what}")]
    Scheduler {
        /// What was asked, and what to do about it.
        what: String,
        /// The batch system's own error.
        #[source]
        source: crate::sweep::SchedulerError,
    },
    /// A calibration could not be encoded as TOML.
    #[error("cannot encode the calibration as TOML")]
    Toml(#[source] toml::ser::Error),
}
