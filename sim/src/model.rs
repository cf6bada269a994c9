//! One simulated run: invocations flow through a platform's stages and resources.
//!
//! ```text
//!  partition p ──submit──▶ control_plane ─▶ startup ─▶ read ─▶ compute ─▶ write ─▶ completion ──▶ observed
//!      ▲                    (delay, then work on a resource: FIFO / processor sharing / cycle)         │
//!      └──────────────────────────────── client gap (closed-loop policies) ◀────────────────────────────┘
//! ```
//!
//! Every random draw of an invocation (input size, each stage, the client gap after it) comes
//! from the invocation's own stream, seeded from the run seed and the invocation id, and every
//! node's startup from the node's own stream. So the samples do not depend on the order in
//! which events interleave (common random numbers): two runs of the same seed that differ only
//! in contention see the same service demands.

use faastwin_models::{Rng, rng_from_seed, splitmix64};
use rand_distr::{Distribution as _, Exp};

use crate::SimError;
use crate::engine::{Engine, SimTime, from_secs, to_secs};
use crate::metrics::{Decomposition, LatencyRecorder, RunResult, Utilisation};
use crate::placement::Cluster;
use crate::platform::{CompiledPlatform, Discipline, Scope};
use crate::resource::{Batch, Cycle, Fifo, ProcessorSharing, Resource, Slot};
use crate::trace::{TraceRow, TraceSink};
use crate::workload::Workload;
use faastwin_models::SubmitPolicy;

const STAGES: usize = 6;

#[derive(Debug, Clone, Copy)]
enum Event {
    /// A node accepts Jobs from now on.
    NodeReady(u32),
    /// A partition submits its next invocation.
    Submit(u32),
    /// The pure-delay part of an invocation's current stage ended.
    DelayDone(Slot),
    /// An invocation's FIFO or cycle service ended.
    WorkDone(Slot),
    /// A processor-sharing instance's next job finishes.
    PsDone(u32),
    /// A batch scheduler's pass.
    BatchPass(u32),
}

struct Invocation {
    id: u64,
    partition: u32,
    node: u32,
    bytes: f64,
    stage: usize,
    /// Start of each stage; index 6 is the observed completion.
    instants: [SimTime; STAGES + 1],
    rng: Rng,
    /// Holds a place on a node (placement model).
    placed: bool,
    /// Holds a slot of this batch-scheduler instance until its body ends.
    batch: Option<u32>,
}

struct Partition {
    node: u32,
    size: u64,
    submitted: u64,
    first_submit: Option<SimTime>,
    last_done: SimTime,
    arrivals: Rng,
}

/// Stream kinds, so that the streams of node 3 and invocation 3 differ.
const STREAM_INVOCATION: u64 = 1;
const STREAM_NODE: u64 = 2;
const STREAM_ARRIVALS: u64 = 3;
const STREAM_CYCLE: u64 = 4;
const STREAM_QUEUE: u64 = 5;

fn stream(seed: u64, kind: u64, index: u64) -> Rng {
    rng_from_seed(splitmix64(seed) ^ splitmix64((kind << 56) ^ index))
}

struct Sim<'a, T: TraceSink + ?Sized> {
    engine: Engine<Event>,
    platform: &'a CompiledPlatform,
    workload: &'a Workload,
    replication: u32,
    slots: Vec<Invocation>,
    free: Vec<Slot>,
    instances: Vec<Resource>,
    /// First instance of each resource of the platform.
    base: Vec<usize>,
    node_scoped: Vec<bool>,
    partitions: Vec<Partition>,
    node_partitions: Vec<Vec<u32>>,
    node_ready: Vec<SimTime>,
    seed: u64,
    arrival_exp: Option<Exp<f64>>,
    latencies: LatencyRecorder,
    stage_sum_ns: [u128; STAGES],
    gap_sum_s: f64,
    gaps: u64,
    completed: u64,
    finished_buf: Vec<Slot>,
    cluster: Option<Cluster<Slot>>,
    trace: &'a mut T,
}

/// Runs one replication of `workload` on `platform` with `seed`, sending one trace row per
/// invocation to `trace`.
pub fn simulate<T: TraceSink + ?Sized>(
    platform: &CompiledPlatform,
    workload: &Workload,
    seed: u64,
    replication: u32,
    trace: &mut T,
) -> Result<RunResult, SimError> {
    workload.validate()?;
    let mut sim = Sim::new(platform, workload, seed, replication, trace)?;
    sim.run()?;
    sim.result(seed)
}

impl<'a, T: TraceSink + ?Sized> Sim<'a, T> {
    fn new(
        platform: &'a CompiledPlatform,
        workload: &'a Workload,
        seed: u64,
        replication: u32,
        trace: &'a mut T,
    ) -> Result<Self, SimError> {
        let nodes = workload.nodes as usize;
        let mut instances = Vec::new();
        let mut base = Vec::new();
        let mut node_scoped = Vec::new();
        for (index, (_, spec)) in platform.resources.iter().enumerate() {
            base.push(instances.len());
            let count = if spec.scope == Scope::Node { nodes } else { 1 };
            node_scoped.push(spec.scope == Scope::Node);
            for i in 0..count {
                instances.push(match spec.discipline {
                    Discipline::Fifo { servers } => Resource::Fifo(Fifo::new(servers)),
                    Discipline::ProcessorSharing {
                        capacity,
                        per_job_cap,
                    } => Resource::ProcessorSharing(ProcessorSharing::new(capacity, per_job_cap)),
                    Discipline::Batch {
                        interval_s,
                        slots_per_node,
                        backfill,
                    } => {
                        let interval = from_secs(interval_s);
                        let mut rng = stream(seed, STREAM_CYCLE, ((index as u64) << 32) | i as u64);
                        let phase = from_secs(interval_s * rand::Rng::random::<f64>(&mut rng));
                        Resource::Batch(Batch::new(
                            interval,
                            phase,
                            backfill,
                            nodes,
                            slots_per_node,
                        ))
                    }
                    Discipline::Cycle { interval_s } => {
                        let interval = from_secs(interval_s);
                        let mut rng = stream(seed, STREAM_CYCLE, ((index as u64) << 32) | i as u64);
                        let phase = from_secs(interval_s * rand::Rng::random::<f64>(&mut rng));
                        Resource::Cycle(Cycle::new(interval, phase))
                    }
                });
            }
        }
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
        Ok(Sim {
            engine: Engine::new(),
            platform,
            workload,
            replication,
            slots: Vec::new(),
            free: Vec::new(),
            instances,
            base,
            node_scoped,
            partitions,
            node_partitions,
            node_ready: vec![0; nodes],
            seed,
            arrival_exp,
            latencies: LatencyRecorder::default(),
            stage_sum_ns: [0; STAGES],
            gap_sum_s: 0.0,
            gaps: 0,
            completed: 0,
            finished_buf: Vec::new(),
            cluster: workload.placement.as_ref().map(|p| Cluster::new(p, nodes)),
            trace,
        })
    }

    fn run(&mut self) -> Result<(), SimError> {
        // The allocation first waits in the Slurm queue (KSI), then every node starts.
        let allocated = match &self.workload.allocation_queue {
            Some(queue) => {
                let wait = queue.wait(self.workload.nodes, &mut stream(self.seed, STREAM_QUEUE, 0));
                if !wait.is_finite() {
                    return Err(SimError::Invalid {
                        what: "allocation_queue: the allocation never starts (the queue does not drain)".into(),
                    });
                }
                from_secs(wait)
            }
            None => 0,
        };
        for node in 0..self.workload.nodes {
            let ready = match &self.platform.node_startup {
                Some(d) => {
                    from_secs(d.sample(&mut stream(self.seed, STREAM_NODE, u64::from(node))))
                }
                None => 0,
            };
            self.engine
                .schedule(allocated + ready, Event::NodeReady(node));
        }
        while let Some((_, event)) = self.engine.next_event() {
            match event {
                Event::NodeReady(node) => self.node_ready(node)?,
                Event::Submit(p) => self.submit(p)?,
                Event::DelayDone(slot) => {
                    let stage = self.slots[slot as usize].stage;
                    if !self.start_work(slot, stage) {
                        self.enter_stage(slot, stage + 1)?;
                    }
                }
                Event::WorkDone(slot) => self.work_done(slot)?,
                Event::PsDone(instance) => self.ps_done(instance as usize)?,
                Event::BatchPass(instance) => self.batch_pass(instance as usize),
            }
        }
        if self.completed != self.workload.invocations {
            return Err(SimError::Invalid {
                what: format!(
                    "internal: {} of {} invocations completed on {}",
                    self.completed, self.workload.invocations, self.platform.name
                ),
            });
        }
        Ok(())
    }

    fn node_ready(&mut self, node: u32) -> Result<(), SimError> {
        let now = self.engine.now();
        self.node_ready[node as usize] = now;
        let partitions = std::mem::take(&mut self.node_partitions[node as usize]);
        for &p in &partitions {
            match &self.workload.policy {
                SubmitPolicy::Sequential | SubmitPolicy::Window { .. } => {
                    let window = self.workload.policy.window().unwrap_or(1);
                    let first = u64::from(window).min(self.partitions[p as usize].size);
                    for _ in 0..first {
                        self.submit(p)?;
                    }
                }
                SubmitPolicy::Poisson { .. } | SubmitPolicy::Arrivals { .. } => {
                    self.schedule_arrival(p, now)
                }
            }
        }
        self.node_partitions[node as usize] = partitions;
        Ok(())
    }

    /// Schedules the open-loop arrival of partition `p`'s next invocation.
    fn schedule_arrival(&mut self, p: u32, now: SimTime) {
        let part = &mut self.partitions[p as usize];
        if part.submitted >= part.size {
            return;
        }
        let at = match (&self.workload.policy, &self.arrival_exp) {
            (SubmitPolicy::Poisson { .. }, Some(exp)) => {
                now + from_secs(exp.sample(&mut part.arrivals))
            }
            (SubmitPolicy::Arrivals { times_s }, _) => {
                let id = u64::from(p) + part.submitted * u64::from(self.workload.partitions);
                let ready = self.node_ready[part.node as usize];
                (ready + from_secs(times_s[id as usize])).max(now)
            }
            _ => now,
        };
        self.engine.schedule(at, Event::Submit(p));
    }

    fn submit(&mut self, p: u32) -> Result<(), SimError> {
        let now = self.engine.now();
        let partitions = u64::from(self.workload.partitions);
        let part = &mut self.partitions[p as usize];
        if part.submitted >= part.size {
            return Ok(());
        }
        let id = u64::from(p) + part.submitted * partitions;
        part.submitted += 1;
        part.first_submit.get_or_insert(now);
        let node = part.node;
        let mut rng = stream(self.seed, STREAM_INVOCATION, id);
        let bytes = self.workload.input_bytes.sample(&mut rng);
        let invocation = Invocation {
            id,
            partition: p,
            node,
            bytes,
            stage: 0,
            instants: [now; STAGES + 1],
            rng,
            placed: false,
            batch: None,
        };
        let slot = match self.free.pop() {
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
            self.schedule_arrival(p, now);
        }
        self.enter_stage(slot, 0)
    }

    /// Moves an invocation into stage `stage` (skipping absent stages), or finishes it.
    fn enter_stage(&mut self, slot: Slot, mut stage: usize) -> Result<(), SimError> {
        let now = self.engine.now();
        loop {
            let inv = &mut self.slots[slot as usize];
            inv.instants[stage] = now;
            inv.stage = stage;
            let placed = inv.placed;
            if stage == STAGES {
                return self.finish(slot);
            }
            // Placement: after the control plane, the pod needs room on a node; it is released
            // when the body ends.
            if stage == 1 && !placed && self.cluster.is_some() && !self.place(slot) {
                return Ok(());
            }
            if stage == 5 {
                self.release(slot)?;
                self.release_batch(slot);
            }
            let inv = &mut self.slots[slot as usize];
            if let Some(spec) = &self.platform.stages[stage] {
                if let Some(delay) = &spec.delay {
                    let dt = from_secs(delay.sample(inv.bytes, &mut inv.rng));
                    if dt > 0 {
                        self.engine.schedule(now + dt, Event::DelayDone(slot));
                        return Ok(());
                    }
                }
                if self.start_work(slot, stage) {
                    return Ok(());
                }
            }
            stage += 1;
        }
    }

    /// Places an invocation on a node; false when it must wait for room.
    fn place(&mut self, slot: Slot) -> bool {
        let Some(cluster) = self.cluster.as_mut() else {
            return true;
        };
        let home = self.partitions[self.slots[slot as usize].partition as usize].node as usize;
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
        if let Resource::Batch(batch) = &mut self.instances[instance as usize] {
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
        let placed = match self.cluster.as_mut() {
            Some(cluster) => cluster.release(node),
            None => Vec::new(),
        };
        let now = self.engine.now();
        for (waiting, node) in placed {
            let inv = &mut self.slots[waiting as usize];
            inv.node = node as u32;
            inv.placed = true;
            // Startup begins now: the wait for room counts as control plane.
            inv.instants[1] = now;
            self.enter_stage(waiting, 1)?;
        }
        Ok(())
    }

    /// Starts the resource part of `stage`; false when the stage has none.
    fn start_work(&mut self, slot: Slot, stage: usize) -> bool {
        let Some(spec) = &self.platform.stages[stage] else {
            return false;
        };
        let (Some(work), Some(resource)) = (&spec.work, spec.resource) else {
            return false;
        };
        let now = self.engine.now();
        let inv = &mut self.slots[slot as usize];
        let demand = work.sample(inv.bytes, &mut inv.rng);
        let node = inv.node;
        let instance = self.instance(resource, node);
        match &mut self.instances[instance] {
            Resource::Fifo(fifo) => {
                let service = from_secs(demand);
                if fifo.arrive(now, slot, service) {
                    self.engine.schedule(now + service, Event::WorkDone(slot));
                }
            }
            Resource::ProcessorSharing(ps) => {
                ps.arrive(now, slot, demand.max(0.0));
                self.reschedule_ps(instance);
            }
            Resource::Cycle(cycle) => {
                let at = cycle.next_tick(now) + from_secs(demand);
                self.engine.schedule(at, Event::WorkDone(slot));
            }
            Resource::Batch(batch) => {
                if let Some(at) = batch.arrive(now, slot, node as usize, from_secs(demand)) {
                    self.engine.schedule(at, Event::BatchPass(instance as u32));
                }
            }
        }
        true
    }

    fn batch_pass(&mut self, instance: usize) {
        let now = self.engine.now();
        let Resource::Batch(batch) = &mut self.instances[instance] else {
            return;
        };
        let (started, next) = batch.pass(now);
        if let Some(at) = next {
            self.engine.schedule(at, Event::BatchPass(instance as u32));
        }
        for (slot, work) in started {
            self.slots[slot as usize].batch = Some(instance as u32);
            self.engine.schedule(now + work, Event::WorkDone(slot));
        }
    }

    fn instance(&self, resource: usize, node: u32) -> usize {
        self.base[resource]
            + if self.node_scoped[resource] {
                node as usize
            } else {
                0
            }
    }

    fn work_done(&mut self, slot: Slot) -> Result<(), SimError> {
        let now = self.engine.now();
        let inv = &self.slots[slot as usize];
        let stage = inv.stage;
        let resource = self.platform.stages[stage]
            .as_ref()
            .and_then(|s| s.resource);
        if let Some(resource) = resource {
            let instance = self.instance(resource, inv.node);
            if let Resource::Fifo(fifo) = &mut self.instances[instance] {
                if let Some((next, service)) = fifo.depart(now) {
                    self.engine.schedule(now + service, Event::WorkDone(next));
                }
            }
        }
        self.enter_stage(slot, stage + 1)
    }

    fn ps_done(&mut self, instance: usize) -> Result<(), SimError> {
        let now = self.engine.now();
        let mut finished = std::mem::take(&mut self.finished_buf);
        if let Resource::ProcessorSharing(ps) = &mut self.instances[instance] {
            ps.pending = None;
            ps.take_finished(now, &mut finished);
        }
        self.reschedule_ps(instance);
        for &slot in &finished {
            let stage = self.slots[slot as usize].stage;
            self.enter_stage(slot, stage + 1)?;
        }
        finished.clear();
        self.finished_buf = finished;
        Ok(())
    }

    fn reschedule_ps(&mut self, instance: usize) {
        let now = self.engine.now();
        if let Resource::ProcessorSharing(ps) = &mut self.instances[instance] {
            if let Some(id) = ps.pending.take() {
                self.engine.cancel(id);
            }
            if let Some(at) = ps.next_completion(now) {
                ps.pending = Some(self.engine.schedule(at, Event::PsDone(instance as u32)));
            }
        }
    }

    fn finish(&mut self, slot: Slot) -> Result<(), SimError> {
        let now = self.engine.now();
        let inv = &mut self.slots[slot as usize];
        let latency_s = to_secs(now - inv.instants[0]);
        self.latencies.add(latency_s);
        for (k, sum) in self.stage_sum_ns.iter_mut().enumerate() {
            *sum += u128::from(inv.instants[k + 1] - inv.instants[k]);
        }
        self.completed += 1;
        let s = |k: usize| to_secs(inv.instants[k]);
        self.trace.record(&TraceRow {
            platform: &self.platform.name,
            replication: self.replication,
            invocation: inv.id,
            partition: inv.partition,
            node: inv.node,
            input_bytes: inv.bytes,
            t_submit: s(0),
            t_scheduled: s(1),
            t_body_start: s(2),
            t_read_end: s(3),
            t_compute_end: s(4),
            t_body_end: s(5),
            t_done: s(6),
            latency: latency_s,
        })?;
        let p = inv.partition;
        let gap = match (&self.platform.client_gap, self.workload.policy.window()) {
            (Some(gap), Some(_)) => gap.sample(&mut inv.rng),
            _ => 0.0,
        };
        self.free.push(slot);
        let part = &mut self.partitions[p as usize];
        part.last_done = now;
        if self.workload.policy.window().is_some() && part.submitted < part.size {
            self.gap_sum_s += gap;
            self.gaps += 1;
            self.engine.schedule(now + from_secs(gap), Event::Submit(p));
        }
        Ok(())
    }

    fn result(mut self, seed: u64) -> Result<RunResult, SimError> {
        let end = self.engine.now();
        let partition_makespans_s: Vec<f64> = self
            .partitions
            .iter()
            .map(|p| {
                p.first_submit
                    .map_or(0.0, |first| to_secs(p.last_done - first))
            })
            .collect();
        let warm_makespan_s = partition_makespans_s.iter().copied().fold(0.0, f64::max);
        let latency = self.latencies.summary();
        let n = self.completed.max(1) as f64;
        let decomposition =
            Decomposition::from_array(self.stage_sum_ns.map(|ns| ns as f64 / 1e9 / n));
        let body_share = decomposition.body_s() / latency.mean_s;
        let utilisation = self
            .platform
            .resources
            .iter()
            .enumerate()
            .map(|(r, (name, _))| {
                let count = if self.node_scoped[r] {
                    self.workload.nodes as usize
                } else {
                    1
                };
                let instances = &mut self.instances[self.base[r]..self.base[r] + count];
                let total: f64 = instances
                    .iter_mut()
                    .map(|i| match i {
                        Resource::Fifo(f) => f.utilisation(end),
                        Resource::ProcessorSharing(ps) => ps.utilisation(end),
                        Resource::Cycle(_) | Resource::Batch(_) => 0.0,
                    })
                    .sum();
                Utilisation {
                    resource: name.clone(),
                    utilisation: total / count as f64,
                }
            })
            .collect();
        let startup_overhead_s = self
            .platform
            .node_startup
            .as_ref()
            .map(|_| to_secs(self.node_ready.iter().copied().max().unwrap_or(0)));
        Ok(RunResult {
            platform: self.platform.name.clone(),
            seed,
            invocations: self.completed,
            warm_makespan_s,
            partition_makespans_s,
            latency,
            startup_overhead_s,
            decomposition,
            mean_client_gap_s: if self.gaps == 0 {
                0.0
            } else {
                self.gap_sum_s / self.gaps as f64
            },
            body_share,
            utilisation,
            events: self.engine.processed(),
            end_s: to_secs(end),
        })
    }

    /// Work requested from and served by every processor-sharing instance (for checks).
    #[cfg(test)]
    fn ps_work(&self) -> Vec<(f64, f64)> {
        self.instances
            .iter()
            .filter_map(|i| match i {
                Resource::ProcessorSharing(ps) => Some(ps.work()),
                _ => None,
            })
            .collect()
    }
}

/// Runs a simulation and returns the work requested from and served by each processor-sharing
/// instance at the end (work conservation checks).
#[cfg(test)]
pub(crate) fn simulate_with_ps_work(
    platform: &CompiledPlatform,
    workload: &Workload,
    seed: u64,
) -> Result<Vec<(f64, f64)>, SimError> {
    let mut trace = crate::trace::NoTrace;
    let mut sim = Sim::new(platform, workload, seed, 0, &mut trace)?;
    sim.run()?;
    let end = sim.engine.now();
    for i in &mut sim.instances {
        if let Resource::ProcessorSharing(ps) = i {
            ps.utilisation(end);
        }
    }
    Ok(sim.ps_work())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Calibration;
    use faastwin_models::{Body, Distribution};
    use proptest::prelude::*;

    const STORAGE: &str = r#"
[platforms.p]
[platforms.p.resources.nfs]
scope = "storage"
discipline = { kind = "processor_sharing", capacity = 1.0, per_job_cap = 1.0 }
[platforms.p.resources.cores]
scope = "node"
discipline = { kind = "processor_sharing", capacity = 2.0, per_job_cap = 1.0 }
[platforms.p.workloads.relay.read]
work = { per_byte = { family = "lognormal", mu = -18.4, sigma = 0.5 } }
resource = "nfs"
[platforms.p.workloads.relay.compute]
work = { per_byte = { family = "lognormal", mu = -16.0, sigma = 0.3 } }
resource = "cores"
"#;

    proptest! {
        /// Processor sharing conserves work: bytes served equal bytes requested, whatever
        /// the contention.
        #[test]
        fn processor_sharing_conserves_work(n in 1u64..200, p in 1u32..12, nodes in 1u32..4, window in 1u32..4, seed in any::<u64>()) {
            let platform = Calibration::from_toml(STORAGE, "t").unwrap().compile("p", Body::Relay).unwrap();
            let workload = Workload {
                body: Body::Relay, invocations: n, partitions: p, nodes,
                input_bytes: Distribution::constant(64.0 * 1048576.0).unwrap(),
                policy: SubmitPolicy::Window { size: window },
                placement: None,
                allocation_queue: None,
            };
            let work = simulate_with_ps_work(&platform, &workload, seed).unwrap();
            prop_assert!(work.iter().map(|w| w.0).sum::<f64>() > 0.0);
            for (requested, served) in work {
                prop_assert!((requested - served).abs() <= 1e-6 * requested, "requested {} served {}", requested, served);
            }
        }
    }
}
