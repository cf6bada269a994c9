//! Worker errors and their exit codes.

use std::path::PathBuf;

/// Exit codes of `faastwin-worker`, one per cause, so a platform's record of the exit code says
/// what went wrong without reading logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ExitCode {
    /// The body ran and the result was written.
    Ok = 0,
    /// Unexpected internal failure (a bug).
    Internal = 1,
    /// Bad command line (clap's own code).
    Usage = 2,
    /// The input file does not exist.
    InputMissing = 3,
    /// The input exists but cannot be read (permissions, a directory, an I/O error).
    InputUnreadable = 4,
    /// The input file is empty.
    InputEmpty = 5,
    /// The input is not what the body expects (not JSON, no record parses, missing fields).
    InputGarbage = 6,
    /// Some ETL records parse, but the share of malformed ones exceeds `--max-bad-share`.
    TooManyBadRecords = 7,
    /// The result could not be written.
    OutputFailed = 8,
}

/// Why a function body failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The input file does not exist.
    #[error("input {path} not found")]
    InputMissing {
        /// The input path as given.
        path: PathBuf,
    },
    /// The input exists but could not be read.
    #[error("cannot read input {path}: {source}")]
    InputUnreadable {
        /// The input path as given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The input file holds no bytes.
    #[error("input {path} is empty")]
    InputEmpty {
        /// The input path as given.
        path: PathBuf,
    },
    /// The input is not what the body expects.
    #[error("input {path} is not a valid {expected}: {detail}")]
    InputGarbage {
        /// The input path as given.
        path: PathBuf,
        /// What the body expected (for example "relay JSON object").
        expected: &'static str,
        /// The parser's complaint, with its line and column where it has them.
        detail: String,
    },
    /// Too many ETL records are malformed.
    #[error(
        "{malformed} of {seen} records in {path} are malformed ({share:.2} > --max-bad-share {limit}); first at line {first_line}: {first_detail}"
    )]
    TooManyBadRecords {
        /// The input path as given.
        path: PathBuf,
        /// Malformed records.
        malformed: u64,
        /// All records (non-empty lines).
        seen: u64,
        /// `malformed / seen`.
        share: f64,
        /// The configured limit.
        limit: f64,
        /// 1-based line number of the first malformed record.
        first_line: u64,
        /// The parser's complaint about it.
        first_detail: String,
    },
    /// The result file could not be written.
    #[error("cannot write result {path}: {source}")]
    OutputFailed {
        /// The result path as given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl WorkerError {
    /// The documented exit code for this cause.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            WorkerError::InputMissing { .. } => ExitCode::InputMissing,
            WorkerError::InputUnreadable { .. } => ExitCode::InputUnreadable,
            WorkerError::InputEmpty { .. } => ExitCode::InputEmpty,
            WorkerError::InputGarbage { .. } => ExitCode::InputGarbage,
            WorkerError::TooManyBadRecords { .. } => ExitCode::TooManyBadRecords,
            WorkerError::OutputFailed { .. } => ExitCode::OutputFailed,
        }
    }
}
