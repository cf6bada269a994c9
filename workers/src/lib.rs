//! The code that runs inside every faastwin invocation, whatever the platform.
//!
//! Two function bodies, as in the study this tool generalises:
//!
//! - [`relay`]: read one small JSON object, hash its payload together with a little runtime
//!   metadata (invocation id, host name), write one compact JSON result. Milliseconds.
//! - [`etl`]: read one JSONL shard of sensor records, parse, transform (normalise units, derive
//!   fields), filter (validity rules), aggregate per group key, write one compact JSON result.
//!
//! Both time themselves ([`Report`]): wall-clock epoch nanoseconds at body start and end, and
//! monotonic durations of read, compute and write. The report goes to stdout, into the result
//! file and into a Kubernetes termination message, so that every platform can recover it.
//!
//! [`dataset`] writes the deterministic inputs both bodies read, with a manifest.
//!
//! Errors are a [`WorkerError`] with one documented exit code per cause
//! ([`WorkerError::exit_code`]); results are written atomically (temporary file, then rename),
//! so a failed invocation never leaves a half-written result behind.

#![warn(missing_docs)]

pub mod dataset;
mod error;
pub mod etl;
mod io;
pub mod relay;
mod report;

pub use error::{ExitCode, WorkerError};
pub use faastwin_models::Body;
pub use io::host_name;
pub use report::{Report, TERMINATION_MESSAGE_MAX_BYTES, cpus_allowed, write_termination_message};
