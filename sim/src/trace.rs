//! Per-invocation trace: one CSV row per invocation, streamed as invocations complete.

use std::io::Write;

use serde::Serialize;

use crate::SimError;
use crate::platform::Stage;

/// The instants of one simulated invocation [s since the run started].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceRow<'a> {
    /// Platform name.
    pub platform: &'a str,
    /// Replication index.
    pub replication: u32,
    /// Invocation id.
    pub invocation: u64,
    /// Partition.
    pub partition: u32,
    /// Node.
    pub node: u32,
    /// Input size [bytes].
    pub input_bytes: f64,
    /// Submission.
    pub t_submit: f64,
    /// Placed on a node (control plane done).
    pub t_scheduled: f64,
    /// Body starts.
    pub t_body_start: f64,
    /// Read done.
    pub t_read_end: f64,
    /// Compute done.
    pub t_compute_end: f64,
    /// Body ends.
    pub t_body_end: f64,
    /// Completion observed.
    pub t_done: f64,
    /// t_done − t_submit [s].
    pub latency: f64,
}

/// Where trace rows go.
pub trait TraceSink {
    /// Takes one row; called once per invocation, in completion order.
    fn record(&mut self, row: &TraceRow<'_>) -> Result<(), SimError>;

    /// False when rows are discarded: the run may then record an invocation before others
    /// that complete earlier (same results, fewer events).
    fn keeps_rows(&self) -> bool {
        true
    }
}

/// Discards rows (no trace asked for).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTrace;

impl TraceSink for NoTrace {
    #[inline]
    fn record(&mut self, _row: &TraceRow<'_>) -> Result<(), SimError> {
        Ok(())
    }

    #[inline]
    fn keeps_rows(&self) -> bool {
        false
    }
}

/// Writes rows as CSV with a header, never holding more than the writer's buffer.
pub struct CsvTrace<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> CsvTrace<W> {
    /// A CSV trace on `out`.
    pub fn new(out: W) -> Self {
        CsvTrace {
            writer: csv::Writer::from_writer(out),
        }
    }

    /// Flushes buffered rows.
    pub fn flush(&mut self) -> Result<(), SimError> {
        self.writer.flush().map_err(|e| SimError::Csv {
            what: "cannot write the trace".into(),
            source: e.into(),
        })
    }
}

impl<W: Write> TraceSink for CsvTrace<W> {
    fn record(&mut self, row: &TraceRow<'_>) -> Result<(), SimError> {
        self.writer.serialize(row).map_err(|source| SimError::Csv {
            what: "cannot write the trace".into(),
            source,
        })
    }
}

/// Collects rows in memory (tests and small runs).
#[derive(Debug, Default, Clone)]
pub struct VecTrace {
    /// Rows in completion order, as owned values.
    pub rows: Vec<OwnedTraceRow>,
}

/// An owned [`TraceRow`].
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedTraceRow {
    /// Invocation id.
    pub invocation: u64,
    /// Partition.
    pub partition: u32,
    /// Node.
    pub node: u32,
    /// Instants: each stage's start in [`Stage::ALL`] order (submit, scheduled, body start,
    /// read end, compute end, body end), then done [s].
    pub instants: [f64; Stage::COUNT + 1],
}

impl OwnedTraceRow {
    /// Submitted [s].
    pub fn submit_s(&self) -> f64 {
        self.instants[0]
    }

    /// Completion observed [s].
    pub fn done_s(&self) -> f64 {
        self.instants[Stage::COUNT]
    }

    /// Submit → completion observed [s].
    pub fn latency_s(&self) -> f64 {
        self.done_s() - self.submit_s()
    }

    /// When `stage` began [s].
    pub fn start_of(&self, stage: Stage) -> f64 {
        self.instants[stage.index()]
    }

    /// Time spent in `stage`, waiting included [s].
    pub fn stage_s(&self, stage: Stage) -> f64 {
        self.instants[stage.index() + 1] - self.instants[stage.index()]
    }
}

impl TraceSink for VecTrace {
    fn record(&mut self, row: &TraceRow<'_>) -> Result<(), SimError> {
        self.rows.push(OwnedTraceRow {
            invocation: row.invocation,
            partition: row.partition,
            node: row.node,
            instants: [
                row.t_submit,
                row.t_scheduled,
                row.t_body_start,
                row.t_read_end,
                row.t_compute_end,
                row.t_body_end,
                row.t_done,
            ],
        });
        Ok(())
    }
}
