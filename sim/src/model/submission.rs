//! Partitions and their policies: when each partition submits its next invocation, from the
//! moment its node is ready.

use rand_distr::{Distribution as _, Exp};

use super::{Event, Invocation, STAGES, STREAM_ARRIVALS, STREAM_INVOCATION, Sim, Slot, stream};
use crate::SimError;
use crate::engine::{SimTime, from_secs};
use crate::trace::TraceSink;
use crate::workload::Workload;
use faastwin_models::{Rng, SubmitPolicy};

/// One partition: an independent submitter bound to a node.
pub(super) struct Partition {
    pub(super) node: u32,
    pub(super) size: u64,
    pub(super) submitted: u64,
    pub(super) first_submit: Option<SimTime>,
    pub(super) last_done: SimTime,
    arrivals: Rng,
}

/// Every partition, which node each waits for, and when each node became ready.
pub(super) struct Submitters {
    pub(super) partitions: Vec<Partition>,
    node_partitions: Vec<Vec<u32>>,
    pub(super) node_ready: Vec<SimTime>,
    arrival_exp: Option<Exp<f64>>,
}

impl Submitters {
    pub(super) fn new(workload: &Workload, seed: u64) -> Result<Submitters, SimError> {
        let nodes = workload.nodes as usize;
        let mut node_partitions = vec![Vec::new(); nodes];
        let partitions = (0..workload.partitions)
            .map(|p| {
                let node = workload.node_of(p);
                node_partitions[node as usize].push(p);
                Partition {
                    node,
                    size: workload.partition_size(p),
                    submitted: 0,
                    first_submit: None,
                    last_done: 0,
                    arrivals: stream(seed, STREAM_ARRIVALS, u64::from(p)),
                }
            })
            .collect();
        let arrival_exp = match workload.policy {
            SubmitPolicy::Poisson { rate_per_s } => {
                Some(Exp::new(rate_per_s).map_err(|e| SimError::Invalid {
                    what: format!("poisson rate {rate_per_s}: {e}"),
                })?)
            }
            _ => None,
        };
        Ok(Submitters {
            partitions,
            node_partitions,
            node_ready: vec![0; nodes],
            arrival_exp,
        })
    }
}

impl<T: TraceSink + ?Sized> Sim<'_, T> {
    /// A node is ready: its partitions start submitting.
    pub(super) fn node_ready(&mut self, node: u32) -> Result<(), SimError> {
        let now = self.engine.now();
        self.submitters.node_ready[node as usize] = now;
        let partitions = std::mem::take(&mut self.submitters.node_partitions[node as usize]);
        for &p in &partitions {
            match &self.workload.policy {
                SubmitPolicy::Sequential | SubmitPolicy::Window { .. } => {
                    let window = self.workload.policy.window().unwrap_or(1);
                    let first = u64::from(window).min(self.submitters.partitions[p as usize].size);
                    for _ in 0..first {
                        self.submit(p)?;
                    }
                }
                SubmitPolicy::Poisson { .. } | SubmitPolicy::Arrivals { .. } => {
                    self.schedule_arrival(p, now)
                }
            }
        }
        self.submitters.node_partitions[node as usize] = partitions;
        Ok(())
    }

    /// Schedules the open-loop arrival of partition `p`'s next invocation.
    pub(super) fn schedule_arrival(&mut self, p: u32, now: SimTime) {
        let submitters = &mut self.submitters;
        let part = &mut submitters.partitions[p as usize];
        if part.submitted >= part.size {
            return;
        }
        let at = match (&self.workload.policy, &submitters.arrival_exp) {
            (SubmitPolicy::Poisson { .. }, Some(exp)) => {
                now.saturating_add(from_secs(exp.sample(&mut part.arrivals)))
            }
            (SubmitPolicy::Arrivals { times_s }, _) => {
                let id = u64::from(p) + part.submitted * u64::from(self.workload.partitions);
                let ready = submitters.node_ready[part.node as usize];
                ready
                    .saturating_add(from_secs(times_s[id as usize]))
                    .max(now)
            }
            _ => now,
        };
        self.engine.schedule(at, Event::Submit(p));
    }

    /// Partition `p` submits its next invocation now (if it has one left).
    pub(super) fn submit(&mut self, p: u32) -> Result<(), SimError> {
        let now = self.engine.now();
        self.submit_at(p, now)
    }

    /// Partition `p` submits its next invocation at `now` or later (if it has one left).
    pub(super) fn submit_at(&mut self, p: u32, at: SimTime) -> Result<(), SimError> {
        let partitions = u64::from(self.workload.partitions);
        let part = &mut self.submitters.partitions[p as usize];
        if part.submitted >= part.size {
            return Ok(());
        }
        let id = u64::from(p) + part.submitted * partitions;
        part.submitted += 1;
        part.first_submit.get_or_insert(at);
        let node = part.node;
        let mut rng = stream(self.seed, STREAM_INVOCATION, id);
        let bytes = self.workload.input_bytes.sample(&mut rng);
        let draws = super::Draws::new(&self.plan, bytes, &mut rng);
        let invocation = Invocation {
            id,
            partition: p,
            node,
            bytes,
            stage: 0,
            instants: [at; STAGES + 1],
            draws,
            placed: false,
            batch: None,
        };
        let slot: Slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = invocation;
                slot
            }
            None => {
                self.slots.push(invocation);
                (self.slots.len() - 1) as Slot
            }
        };
        if self.workload.policy.window().is_none() {
            self.schedule_arrival(p, at);
        }
        self.enter_stage_at(slot, 0, at)
    }
}
