//! Errors of the measurement mode.

use std::path::PathBuf;

/// Why a measurement could not run or be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeasureError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file is malformed or could not be written; the detail names the line.
    #[error("{path}: {detail}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The dataset directory is missing or malformed.
    #[error("dataset: {0}")]
    Dataset(#[from] faastwin_workers::dataset::DatasetError),
    /// The platform is not usable (no Slurm, an unknown node, no podman, an unreachable cluster).
    #[error("{platform}: {detail}")]
    Platform {
        /// Platform name.
        platform: String,
        /// What is wrong, naming the object.
        detail: String,
    },
    /// The options contradict each other or the existing run directory.
    #[error("{0}")]
    Options(String),
}
