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
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The trace could not be written.
    #[error("cannot write trace: {detail}")]
    Trace {
        /// The writer's message.
        detail: String,
    },
}
