//! The timing report every function body produces.

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use faastwin_models::Body;
use serde::{Deserialize, Serialize};

/// Kubernetes keeps at most this many bytes of a termination message.
pub const TERMINATION_MESSAGE_MAX_BYTES: usize = 4096;

/// What one invocation's function body measured about itself.
///
/// Wall-clock instants are nanoseconds since the Unix epoch on the worker's host; durations are
/// monotonic nanoseconds. `read_ns + compute_ns + write_ns <= body_ns`; the rest is argument
/// handling and bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Which body ran (the JSON key stays `workload`).
    pub workload: Body,
    /// The invocation's id (from `--invocation-id`, else from the input).
    pub invocation_id: String,
    /// Host name of the worker (the pod name inside Kubernetes).
    pub host: String,
    /// Wall clock at body start [ns since the Unix epoch].
    pub body_start_unix_ns: u64,
    /// Wall clock at body end, after the result was renamed into place [ns since the Unix epoch].
    pub body_end_unix_ns: u64,
    /// Reading the input [ns, monotonic].
    pub read_ns: u64,
    /// Parsing and computing [ns, monotonic].
    pub compute_ns: u64,
    /// Writing the result (temporary file and rename) [ns, monotonic].
    pub write_ns: u64,
    /// Whole body, start to end [ns, monotonic].
    pub body_ns: u64,
    /// Bytes read from the input [bytes].
    pub bytes_read: u64,
    /// Bytes written to the result [bytes].
    pub bytes_written: u64,
    /// Records seen (relay: 1; etl: non-empty lines).
    pub records_seen: u64,
    /// Records that passed every validity rule and went into the aggregates.
    pub records_kept: u64,
    /// Records dropped, by the filter or because they did not parse.
    pub records_rejected: u64,
    /// Of the rejected records, those that did not parse at all.
    pub records_malformed: u64,
    /// The CPUs the body was allowed to run on, as the kernel lists them (`0-1`, `0,2`):
    /// `Cpus_allowed_list` of `/proc/self/status` at body end; absent where there is none, and
    /// in reports of workers before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus_allowed: Option<String>,
}

/// Clock readings taken while a body runs, turned into a [`Report`] at the end.
pub(crate) struct Stopwatch {
    start_wall: u64,
    start: Instant,
    pub(crate) read_ns: u64,
    pub(crate) compute_ns: u64,
    pub(crate) write_ns: u64,
}

impl Stopwatch {
    pub(crate) fn start() -> Self {
        Stopwatch {
            start_wall: unix_ns(),
            start: Instant::now(),
            read_ns: 0,
            compute_ns: 0,
            write_ns: 0,
        }
    }

    pub(crate) fn body_start_unix_ns(&self) -> u64 {
        self.start_wall
    }

    /// Runs `f` and returns its result with its monotonic duration in nanoseconds.
    pub(crate) fn time<T>(f: impl FnOnce() -> T) -> (T, u64) {
        let t = Instant::now();
        let out = f();
        (out, elapsed_ns(t))
    }

    pub(crate) fn finish(
        self,
        counts: Counts,
        workload: Body,
        invocation_id: String,
        host: String,
    ) -> Report {
        let body_ns = elapsed_ns(self.start);
        Report {
            workload,
            invocation_id,
            host,
            body_start_unix_ns: self.start_wall,
            body_end_unix_ns: unix_ns(),
            read_ns: self.read_ns,
            compute_ns: self.compute_ns,
            write_ns: self.write_ns,
            body_ns,
            bytes_read: counts.bytes_read,
            bytes_written: counts.bytes_written,
            records_seen: counts.seen,
            records_kept: counts.kept,
            records_rejected: counts.rejected,
            records_malformed: counts.malformed,
            cpus_allowed: cpus_allowed(),
        }
    }
}

/// `Cpus_allowed_list` of this process (Linux, e.g. `0-1`), the CPUs its node's confinement
/// left it; None where there is no such line.
pub fn cpus_allowed() -> Option<String> {
    faastwin_models::cpus::allowed_list()
}

/// Byte and record counts of one body.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) bytes_read: u64,
    pub(crate) bytes_written: u64,
    pub(crate) seen: u64,
    pub(crate) kept: u64,
    pub(crate) rejected: u64,
    pub(crate) malformed: u64,
}

fn elapsed_ns(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Writes `message` as a Kubernetes termination message, cut to
/// [`TERMINATION_MESSAGE_MAX_BYTES`] on a character boundary.
pub fn write_termination_message(path: &Path, message: &str) -> std::io::Result<()> {
    let mut end = message.len().min(TERMINATION_MESSAGE_MAX_BYTES);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    std::fs::write(path, &message.as_bytes()[..end])
}
