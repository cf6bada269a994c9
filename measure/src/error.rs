//! Errors of the measurement mode.

use std::path::PathBuf;

use faastwin_models::PlatformKind;

/// Why a measurement could not run or be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeasureError {
    /// A file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be opened, written or read.
    #[error("{path}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The CSV library's error.
        #[source]
        source: csv::Error,
    },
    /// A CSV file's content is not what faastwin wrote; the detail names the line and column.
    #[error("{path}: {detail}")]
    CsvContent {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line and column.
        detail: String,
    },
    /// A JSON file (`run.json`) is malformed or could not be encoded.
    #[error("{path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// serde_json's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The dataset directory is missing or malformed.
    #[error("dataset")]
    Dataset(#[from] faastwin_workers::dataset::DatasetError),
    /// The platform is not usable (no Slurm, an unknown node, no podman, an unreachable cluster).
    #[error("{platform}: {detail}")]
    Platform {
        /// The platform.
        platform: PlatformKind,
        /// What is wrong, naming the object.
        detail: String,
    },
    /// A Kubernetes API request failed.
    #[error("{platform}: {what}")]
    Kube {
        /// The platform (k8s, or ksi for one of its node clusters).
        platform: PlatformKind,
        /// What was asked, naming the object.
        what: String,
        /// kube-rs's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// A Slurm command could not run or refused.
    #[error("slurm: {what}: {detail}")]
    Slurm {
        /// The command and what it was for.
        what: String,
        /// What Slurm printed, or why the command did not run.
        detail: String,
    },
    /// A task of the measurement stopped abnormally (a panic in a partition or the writer).
    #[error("{what} stopped abnormally")]
    Task {
        /// Which task.
        what: String,
        /// Tokio's join error (carries the panic message).
        #[source]
        source: tokio::task::JoinError,
    },
    /// The options contradict each other or the existing run directory.
    #[error("{0}")]
    Options(String),
}
