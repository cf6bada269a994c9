//! What a run records: each finished invocation's latency, stage durations and trace row, the
//! client gap before its partition's next submission, and the run's result at the end.

use super::{Event, STAGES, Sim, at};
use crate::SimError;
use crate::engine::{NS_PER_S, SimTime, from_secs, to_secs};
use crate::metrics::{Decomposition, LatencyRecorder, RunResult};
use crate::platform::Stage;
use crate::resource::Slot;
use crate::trace::{TraceRow, TraceSink};

/// Finished invocations whose instants wait to be summed, at most.
///
/// An invocation's instants are the last values its run computes; summing them as they come
/// makes the latency recorder and the sums wait for them, and the waiting work crowds out the
/// next invocation's draws, which do not depend on them (summed in batches, the relay model
/// went from 0.43 to 0.46 of its draws-alone rate).
const BATCH: usize = 128;

/// Running sums of what finished invocations measured.
pub(super) struct Recorder {
    replication: u32,
    latencies: LatencyRecorder,
    stage_sum_ns: [u128; STAGES],
    /// Instants of finished invocations not yet summed (up to [`BATCH`]).
    pending: Vec<[SimTime; STAGES + 1]>,
    /// Exact, so the mean does not depend on the order gaps are recorded in.
    gap_sum_ns: u128,
    gaps: u64,
    pub(super) completed: u64,
}

impl Recorder {
    pub(super) fn new(replication: u32) -> Recorder {
        Recorder {
            replication,
            latencies: LatencyRecorder::default(),
            stage_sum_ns: [0; STAGES],
            pending: Vec::with_capacity(BATCH),
            gap_sum_ns: 0,
            gaps: 0,
            completed: 0,
        }
    }

    /// Records one finished invocation's instants (start of each stage, then its observed
    /// completion).
    #[inline]
    fn add(&mut self, instants: [SimTime; STAGES + 1]) {
        self.completed += 1;
        self.pending.push(instants);
        if self.pending.len() == BATCH {
            self.flush();
        }
    }

    /// Sums the pending instants.
    fn flush(&mut self) {
        for instants in self.pending.drain(..) {
            self.latencies.add(instants[STAGES] - instants[0]);
            for (k, sum) in self.stage_sum_ns.iter_mut().enumerate() {
                *sum += u128::from(instants[k + 1] - instants[k]);
            }
        }
    }
}

impl<T: TraceSink + ?Sized> Sim<'_, T> {
    /// An invocation's completion was observed at `done` (now, or later when nothing shared
    /// comes between): record it, free its slot, and let its partition submit again after the
    /// client gap (closed-loop policies).
    pub(super) fn finish(&mut self, slot: Slot, done: SimTime) -> Result<(), SimError> {
        let rec = &mut self.recorder;
        let inv = &mut self.slots[slot as usize];
        debug_assert_eq!(inv.instants[STAGES], done);
        rec.add(inv.instants);
        let latency = done - inv.instants[0];
        let s = |k: usize| to_secs(inv.instants[k]);
        self.trace.record(&TraceRow {
            platform: &self.platform.name,
            replication: rec.replication,
            invocation: inv.id,
            partition: inv.partition,
            node: inv.node,
            input_bytes: inv.bytes,
            t_submit: s(at(Stage::ControlPlane)),
            t_scheduled: s(at(Stage::Startup)),
            t_body_start: s(at(Stage::Read)),
            t_read_end: s(at(Stage::Compute)),
            t_compute_end: s(at(Stage::Write)),
            t_body_end: s(at(Stage::Completion)),
            t_done: s(STAGES),
            latency: to_secs(latency),
        })?;
        let p = inv.partition;
        let gap = inv.draws.gap();
        self.free.push(slot);
        let part = &mut self.submitters.partitions[p as usize];
        part.last_done = done;
        if self.workload.policy.window().is_some() && part.submitted < part.size {
            let gap = from_secs(gap);
            rec.gap_sum_ns += u128::from(gap);
            rec.gaps += 1;
            let at = done.saturating_add(gap);
            if self.workload.policy.window() == Some(1) {
                // The partition's only invocation in flight ended, so nothing can come between
                // here and its next submission: submit it now, for its instant.
                return self.submit_at(p, at);
            }
            self.engine.schedule(at, Event::Submit(p));
        }
        Ok(())
    }

    /// The run's result: makespans, latency summary, decomposition, utilisation.
    pub(super) fn result(mut self, seed: u64) -> Result<RunResult, SimError> {
        // Completions recorded ahead of their instant may end the run after its last event.
        let last_done = self.submitters.partitions.iter().map(|p| p.last_done).max();
        let end = self.engine.now().max(last_done.unwrap_or(0));
        let partition_makespans_s: Vec<f64> = self
            .submitters
            .partitions
            .iter()
            .map(|p| {
                p.first_submit
                    .map_or(0.0, |first| to_secs(p.last_done - first))
            })
            .collect();
        let warm_makespan_s = partition_makespans_s.iter().copied().fold(0.0, f64::max);
        let rec = &mut self.recorder;
        rec.flush();
        let latency = rec.latencies.summary();
        let n = rec.completed.max(1) as f64;
        let decomposition =
            Decomposition::from_array(rec.stage_sum_ns.map(|ns| ns as f64 / 1e9 / n));
        let body_share = decomposition.body_s() / latency.mean_s;
        let utilisation = self
            .resources
            .utilisation(self.platform, self.workload.nodes, end);
        let startup_overhead_s = self.platform.node_startup.as_ref().map(|_| {
            to_secs(
                self.submitters
                    .node_ready
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(0),
            )
        });
        let rec = &self.recorder;
        Ok(RunResult {
            platform: self.platform.name.clone(),
            seed,
            invocations: rec.completed,
            warm_makespan_s,
            partition_makespans_s,
            latency,
            startup_overhead_s,
            decomposition,
            mean_client_gap_s: if rec.gaps == 0 {
                0.0
            } else {
                rec.gap_sum_ns as f64 / rec.gaps as f64 / NS_PER_S
            },
            body_share,
            utilisation,
            events: self.engine.processed(),
            end_s: to_secs(end),
        })
    }
}
