//! The stage pipeline: each stage is a pure delay, then work on a resource; placement holds a
//! node's room from the end of the control plane to the end of the body.

use super::{Event, STAGES, Sim, at as at_stage};
use crate::SimError;
use crate::engine::{SimTime, from_secs};
use crate::platform::Stage;
use crate::resource::{DETACHED, Resource, Slot};
use crate::trace::TraceSink;

/// What starting a stage's work on its resource leaves to do.
enum Work {
    /// The stage has no work on a resource.
    None,
    /// An event will move the invocation on (cycle, processor sharing, batch).
    Pending,
    /// A FIFO service, which ends at this instant; or work the invocation does not wait for
    /// (`detached`), which ends its stage now.
    EndsAt(SimTime),
}

impl<T: TraceSink + ?Sized> Sim<'_, T> {
    /// Moves an invocation into stage `stage` now (skipping absent stages), or finishes it.
    pub(super) fn enter_stage(&mut self, slot: Slot, stage: usize) -> Result<(), SimError> {
        let now = self.engine.now();
        self.enter_stage_at(slot, stage, now)
    }

    /// Moves an invocation into stage `stage` at `at` (now or later).
    ///
    /// A run of stages that touch no shared state costs one event: their delays are drawn now,
    /// in stage order from the invocation's own stream (so the values are those an event per
    /// stage would draw), their start instants follow from the sums, and one event is
    /// scheduled where the invocation next meets something shared: a resource, a place on a
    /// node, the release of a place or batch slot, or its observed completion.
    pub(super) fn enter_stage_at(
        &mut self,
        slot: Slot,
        mut stage: usize,
        mut at: SimTime,
    ) -> Result<(), SimError> {
        let now = self.engine.now();
        loop {
            let inv = &mut self.slots[slot as usize];
            inv.instants[stage] = at;
            inv.stage = stage;
            // The observed completion, placement after the control plane and the release of a
            // place or batch slot when the body ends all touch shared state: they happen at
            // their own instant.
            let needs_place = stage == at_stage(Stage::Startup)
                && !inv.placed
                && self.resources.cluster.is_some();
            // Without a trace, a sequential partition's completion touches only its own
            // partition and order-free sums: it is recorded as soon as it is known.
            let shared = (stage == STAGES && (!self.finish_ahead || at == SimTime::MAX))
                || needs_place
                || (stage == at_stage(Stage::Completion) && (inv.placed || inv.batch.is_some()));
            if shared && at > now {
                self.engine.schedule(at, Event::Enter(slot));
                return Ok(());
            }
            if stage == STAGES {
                return self.finish(slot, at);
            }
            if needs_place && !self.place(slot) {
                return Ok(());
            }
            if stage == at_stage(Stage::Completion) {
                self.release(slot)?;
                self.release_batch(slot);
            }
            // A stage with a clock starts its delay at the clock's next tick on its node.
            let inv = &self.slots[slot as usize];
            if let Some(clock) = self.clocks[stage] {
                let instance = self.resources.instance(clock, inv.node);
                if let Resource::Cycle(cycle) = &self.resources.instances[instance] {
                    at = cycle.next_tick(at);
                }
            }
            // A stage without a delay drew 0.
            at = at.saturating_add(from_secs(inv.draws.delay(stage)));
            if self.has_work[stage] {
                if at > now {
                    self.engine.schedule(at, Event::DelayDone(slot));
                    return Ok(());
                }
                match self.start_work(slot, stage) {
                    Work::Pending => return Ok(()),
                    Work::EndsAt(end) => at = end,
                    Work::None => {}
                }
            }
            stage += 1;
        }
    }

    /// Places an invocation on a node; false when it must wait for room.
    fn place(&mut self, slot: Slot) -> bool {
        let Some(cluster) = self.resources.cluster.as_mut() else {
            return true;
        };
        let partition = self.slots[slot as usize].partition;
        let home = self.submitters.partitions[partition as usize].node as usize;
        match cluster.submit(slot, home) {
            Some(node) => {
                debug_assert!(cluster.within_capacity());
                let inv = &mut self.slots[slot as usize];
                inv.node = node as u32;
                inv.placed = true;
                true
            }
            None => false,
        }
    }

    /// Frees the batch slot an invocation holds, asking for a pass if jobs wait.
    fn release_batch(&mut self, slot: Slot) {
        let inv = &mut self.slots[slot as usize];
        let Some(instance) = inv.batch.take() else {
            return;
        };
        let node = inv.node as usize;
        let now = self.engine.now();
        if let Resource::Batch(batch) = &mut self.resources.instances[instance as usize] {
            if let Some(at) = batch.release(now, node) {
                self.engine.schedule(at, Event::BatchPass(instance));
            }
        }
    }

    /// Frees an invocation's place and starts the waiting invocations that now fit.
    fn release(&mut self, slot: Slot) -> Result<(), SimError> {
        let inv = &mut self.slots[slot as usize];
        if !inv.placed {
            return Ok(());
        }
        inv.placed = false;
        let node = inv.node as usize;
        let placed = match self.resources.cluster.as_mut() {
            Some(cluster) => cluster.release(node),
            None => Vec::new(),
        };
        let now = self.engine.now();
        for (waiting, node) in placed {
            let inv = &mut self.slots[waiting as usize];
            inv.node = node as u32;
            inv.placed = true;
            // Startup begins now: the wait for room counts as control plane.
            inv.instants[at_stage(Stage::Startup)] = now;
            self.enter_stage(waiting, at_stage(Stage::Startup))?;
        }
        Ok(())
    }

    /// The delays before the resource of an invocation's current stage ended: its work
    /// starts, and after a FIFO service it moves on from the service's end.
    pub(super) fn delay_done(&mut self, slot: Slot) -> Result<(), SimError> {
        let stage = self.slots[slot as usize].stage;
        match self.start_work(slot, stage) {
            Work::EndsAt(end) => self.enter_stage_at(slot, stage + 1, end),
            Work::Pending | Work::None => Ok(()),
        }
    }

    /// Starts the resource part of `stage`.
    fn start_work(&mut self, slot: Slot, stage: usize) -> Work {
        let Some(spec) = &self.platform.stages[stage] else {
            return Work::None;
        };
        let Some((_, resource)) = spec.work_on() else {
            return Work::None;
        };
        let now = self.engine.now();
        let inv = &self.slots[slot as usize];
        let demand = inv.draws.work(stage);
        let node = spec.serving_node(inv.node);
        let instance = self.resources.instance(resource, node);
        if spec.detached {
            match &mut self.resources.instances[instance] {
                Resource::Fifo(fifo) => {
                    fifo.arrive(now, from_secs(demand));
                }
                Resource::ProcessorSharing(ps) => {
                    ps.arrive(now, DETACHED, demand.max(0.0));
                    self.reschedule_ps(instance);
                }
                // Refused when the platform is compiled.
                Resource::Cycle(_) | Resource::Batch(_) => {}
            }
            return Work::EndsAt(now);
        }
        match &mut self.resources.instances[instance] {
            Resource::Fifo(fifo) => return Work::EndsAt(fifo.arrive(now, from_secs(demand))),
            Resource::ProcessorSharing(ps) => {
                ps.arrive(now, slot, demand.max(0.0));
                self.reschedule_ps(instance);
            }
            Resource::Cycle(cycle) => {
                let at = cycle.next_tick(now).saturating_add(from_secs(demand));
                self.engine.schedule(at, Event::WorkDone(slot));
            }
            Resource::Batch(batch) => {
                if let Some(at) = batch.arrive(now, slot, node as usize, from_secs(demand)) {
                    self.engine.schedule(at, Event::BatchPass(instance as u32));
                }
            }
        }
        Work::Pending
    }

    /// A batch scheduler's pass: jobs that fit start their work.
    pub(super) fn batch_pass(&mut self, instance: usize) {
        let now = self.engine.now();
        let Resource::Batch(batch) = &mut self.resources.instances[instance] else {
            return;
        };
        let (started, next) = batch.pass(now);
        if let Some(at) = next {
            self.engine.schedule(at, Event::BatchPass(instance as u32));
        }
        for (slot, work) in started {
            self.slots[slot as usize].batch = Some(instance as u32);
            self.engine
                .schedule(now.saturating_add(work), Event::WorkDone(slot));
        }
    }

    /// A cycle or batch service ended: the invocation moves on.
    pub(super) fn work_done(&mut self, slot: Slot) -> Result<(), SimError> {
        let stage = self.slots[slot as usize].stage;
        self.enter_stage(slot, stage + 1)
    }

    /// A processor-sharing instance finished jobs: they move on.
    pub(super) fn ps_done(&mut self, instance: usize) -> Result<(), SimError> {
        let now = self.engine.now();
        let mut finished = std::mem::take(&mut self.resources.finished_buf);
        if let Resource::ProcessorSharing(ps) = &mut self.resources.instances[instance] {
            ps.pending = None;
            ps.take_finished(now, &mut finished);
        }
        self.reschedule_ps(instance);
        for &slot in finished.iter().filter(|&&slot| slot != DETACHED) {
            let stage = self.slots[slot as usize].stage;
            self.enter_stage(slot, stage + 1)?;
        }
        finished.clear();
        self.resources.finished_buf = finished;
        Ok(())
    }

    fn reschedule_ps(&mut self, instance: usize) {
        let now = self.engine.now();
        if let Resource::ProcessorSharing(ps) = &mut self.resources.instances[instance] {
            if let Some(id) = ps.pending.take() {
                self.engine.cancel(id);
            }
            if let Some(at) = ps.next_completion(now) {
                ps.pending = Some(self.engine.schedule(at, Event::PsDone(instance as u32)));
            }
        }
    }
}
