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
//!
//! The run is split by concern: [`submission`] (partitions, policies, node readiness), the stage
//! [`pipeline`] (delays, placement, work on resources), the [`resources`] and their instances,
//! and [`recording`] (latencies, decomposition, trace, the run's result).

mod pipeline;
mod recording;
mod resources;
mod submission;

use std::hint::black_box;

use faastwin_models::{Distribution, Rng, SizeModel, rng_from_seed, splitmix64};

use crate::SimError;
use crate::engine::{Engine, SimTime, from_secs};
use crate::metrics::RunResult;
use crate::platform::{CompiledPlatform, Stage};
use crate::resource::{Resource, Slot};
use crate::trace::TraceSink;
use crate::workload::Workload;
use recording::Recorder;
use resources::Resources;
use submission::Submitters;

/// Number of stages; index `STAGES` of an invocation's instants is its observed completion.
const STAGES: usize = Stage::COUNT;

/// Index of a stage in an invocation's instants.
const fn at(stage: Stage) -> usize {
    stage.index()
}

#[derive(Debug, Clone, Copy)]
enum Event {
    /// A node accepts Jobs from now on.
    NodeReady(u32),
    /// A partition submits its next invocation.
    Submit(u32),
    /// The delays before the resource of an invocation's current stage ended: its work starts.
    DelayDone(Slot),
    /// An invocation enters its current stage, which touches shared state (placement, the
    /// release of a place, its observed completion), after a run of delays.
    Enter(Slot),
    /// An invocation's cycle or batch service ended.
    WorkDone(Slot),
    /// A processor-sharing instance's next job finishes.
    PsDone(u32),
    /// A batch scheduler's pass.
    BatchPass(u32),
}

/// One invocation in flight.
struct Invocation {
    id: u64,
    partition: u32,
    node: u32,
    bytes: f64,
    stage: usize,
    /// Start of each stage; index `STAGES` is the observed completion.
    instants: [SimTime; STAGES + 1],
    /// Every random draw of the invocation, made at its submission (see [`Draws`]).
    draws: Draws,
    /// Holds a place on a node (placement model).
    placed: bool,
    /// Holds a slot of this batch-scheduler instance until its body ends.
    batch: Option<u32>,
}

/// An invocation's draws from its own stream, all made when it is submitted, in the order its
/// stages would make them: each stage's delay, then its work, then the client gap after it.
///
/// The order is fixed by the platform, not by the run, so drawing them up front gives the
/// values a draw at each stage would. It also keeps the draws out of the walk through the
/// stages: in one tight loop their `exp`s overlap, where between the walk's steps each waited
/// for the last (the relay model went from 0.46 to 0.49 of its draws' rate with it).
#[derive(Debug, Clone, Copy)]
struct Draws([f64; DRAWS]);

/// Each stage's delay, each stage's work on its resource, the client gap after completion.
const DRAWS: usize = 2 * STAGES + 1;

impl Draws {
    /// Makes `plan`'s draws from `rng` for an input of `bytes`. A duration is its fixed part
    /// plus its part per byte times the bytes, as [`SizeModel::sample`] adds them.
    fn new(plan: &[Draw<'_>], bytes: f64, rng: &mut Rng) -> Draws {
        let mut draws = [0.0; DRAWS];
        for draw in plan {
            let v = draw.distribution.sample(rng);
            draws[draw.target] += if draw.per_byte { v * bytes } else { v };
        }
        Draws(draws)
    }

    /// The delay of `stage` [s] (0 without one).
    #[inline]
    fn delay(&self, stage: usize) -> f64 {
        self.0[stage]
    }

    /// The work of `stage` on its resource [s] (0 without one).
    #[inline]
    fn work(&self, stage: usize) -> f64 {
        self.0[STAGES + stage]
    }

    /// The client gap after the invocation's completion [s] (0 without one).
    #[inline]
    fn gap(&self) -> f64 {
        self.0[2 * STAGES]
    }
}

/// One draw of an invocation: from `distribution`, times the input's bytes if `per_byte`,
/// added to entry `target` of [`Draws`].
#[derive(Debug, Clone, Copy)]
struct Draw<'a> {
    distribution: &'a Distribution,
    per_byte: bool,
    target: usize,
}

/// An invocation's draws in order, laid out once per run: each stage's delay (its fixed part,
/// then its part per byte), its work (the same), then the client gap.
fn draw_plan(platform: &CompiledPlatform, closed_loop: bool) -> Vec<Draw<'_>> {
    fn terms<'a>(plan: &mut Vec<Draw<'a>>, model: &'a SizeModel, target: usize) {
        for (d, per_byte) in [(&model.latency, false), (&model.per_byte, true)] {
            if let Some(distribution) = d {
                plan.push(Draw {
                    distribution,
                    per_byte,
                    target,
                });
            }
        }
    }
    let mut plan = Vec::new();
    for (stage, spec) in platform.stages.iter().enumerate() {
        let Some(spec) = spec else { continue };
        if let Some(delay) = &spec.delay {
            terms(&mut plan, delay, stage);
        }
        if let Some((work, _)) = spec.work_on() {
            terms(&mut plan, work, STAGES + stage);
        }
    }
    if let (Some(gap), true) = (&platform.client_gap, closed_loop) {
        plan.push(Draw {
            distribution: gap,
            per_byte: false,
            target: 2 * STAGES,
        });
    }
    plan
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
    /// What an invocation draws, in order.
    plan: Vec<Draw<'a>>,
    /// Which stages work on a resource.
    has_work: [bool; STAGES],
    /// Each stage's clock (a `cycle` resource), whose next tick it waits for first.
    clocks: [Option<usize>; STAGES],
    seed: u64,
    /// Invocations in flight, by slot; freed slots are reused.
    slots: Vec<Invocation>,
    free: Vec<Slot>,
    resources: Resources,
    submitters: Submitters,
    recorder: Recorder,
    trace: &'a mut T,
    /// Completions are recorded when they become known, not at their instant: no trace
    /// wants them in order, and each partition has one invocation in flight.
    finish_ahead: bool,
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
        Ok(Sim {
            engine: Engine::new(),
            platform,
            workload,
            plan: draw_plan(platform, workload.policy.window().is_some()),
            has_work: platform
                .stages
                .each_ref()
                .map(|spec| spec.as_ref().is_some_and(|s| s.work_on().is_some())),
            clocks: platform
                .stages
                .each_ref()
                .map(|spec| spec.as_ref().and_then(|s| s.clock)),
            seed,
            slots: Vec::new(),
            free: Vec::new(),
            resources: Resources::new(platform, workload, seed),
            submitters: Submitters::new(workload, seed)?,
            recorder: Recorder::new(replication),
            finish_ahead: !trace.keeps_rows() && workload.policy.window() == Some(1),
            trace,
        })
    }

    /// Loads what the next event will touch (its invocation, partition and resource
    /// instance) before this one is handled. With thousands of nodes they are thousands of
    /// invocations apart in memory and each is a cache miss; loaded here, the misses overlap
    /// with this event's work (safe Rust has no prefetch instruction, so these are plain loads
    /// kept alive by `black_box`). Reads only: results do not depend on it. Measured on 2M
    /// relay invocations on 10,000 nodes, 6 alternations: 1.70 → 2.03 M/s (medians).
    #[inline]
    fn warm_next(&self) {
        let Some(Event::DelayDone(slot) | Event::Enter(slot) | Event::WorkDone(slot)) =
            self.engine.peek()
        else {
            return;
        };
        let Some(inv) = self.slots.get(*slot as usize) else {
            return;
        };
        let d = &inv.draws.0;
        black_box((
            inv.instants[0],
            inv.instants[STAGES],
            d[0],
            d[DRAWS / 2],
            d[DRAWS - 1],
        ));
        if let Some(part) = self.submitters.partitions.get(inv.partition as usize) {
            black_box(part.submitted);
        }
        let resource = self
            .platform
            .stages
            .get(inv.stage)
            .and_then(|s| Some((s.as_ref()?, s.as_ref()?.work_on()?.1)));
        if let Some((stage, resource)) = resource {
            let instance = self.resources.instances.get(
                self.resources
                    .instance(resource, stage.serving_node(inv.node)),
            );
            black_box(matches!(instance, Some(Resource::Fifo(_))));
        }
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
                .schedule(allocated.saturating_add(ready), Event::NodeReady(node));
        }
        while let Some((at, event)) = self.engine.next_event() {
            if at == SimTime::MAX {
                return Err(SimError::Invalid {
                    what: format!(
                        "{}: simulated time ran past its end (about 584 years): a delay, service time or arrival gap of the platform or the policy is far too long",
                        self.platform.name
                    ),
                });
            }
            self.warm_next();
            match event {
                Event::NodeReady(node) => self.node_ready(node)?,
                Event::Submit(p) => self.submit(p)?,
                Event::DelayDone(slot) => self.delay_done(slot)?,
                Event::Enter(slot) => {
                    let stage = self.slots[slot as usize].stage;
                    self.enter_stage(slot, stage)?;
                }
                Event::WorkDone(slot) => self.work_done(slot)?,
                Event::PsDone(instance) => self.ps_done(instance as usize)?,
                Event::BatchPass(instance) => self.batch_pass(instance as usize),
            }
        }
        if self.recorder.completed != self.workload.invocations {
            return Err(SimError::Invalid {
                what: format!(
                    "internal: {} of {} invocations completed on {}",
                    self.recorder.completed, self.workload.invocations, self.platform.name
                ),
            });
        }
        Ok(())
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
    let mut work = Vec::new();
    for i in &mut sim.resources.instances {
        if let crate::resource::Resource::ProcessorSharing(ps) = i {
            ps.utilisation(end);
            work.push(ps.work());
        }
    }
    Ok(work)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Calibration;
    use faastwin_models::{Body, Distribution, SubmitPolicy};
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

    /// Spread placement of Jobs requesting `request` millicores on nodes of `node`.
    fn spread(request: u32, node: u32) -> Option<crate::placement::PlacementSpec> {
        Some(crate::placement::PlacementSpec::LeastAllocated {
            request: crate::placement::Request {
                cpu_millicores: request,
                memory_mib: 64,
            },
            node: crate::placement::Allocatable {
                cpu_millicores: node,
                memory_mib: 4096,
                max_pods: 110,
            },
        })
    }

    /// The study's K3s relay model and a relay workload on it (2,200-byte inputs).
    fn k3s_relay(
        invocations: u64,
        nodes: u32,
        policy: SubmitPolicy,
        placement: Option<crate::placement::PlacementSpec>,
    ) -> (CompiledPlatform, Workload) {
        study_relay("k3s", invocations, nodes, policy, placement)
    }

    /// One of the study's relay models (`k3s`, `ksi`) and a relay workload on it.
    fn study_relay(
        name: &str,
        invocations: u64,
        nodes: u32,
        policy: SubmitPolicy,
        placement: Option<crate::placement::PlacementSpec>,
    ) -> (CompiledPlatform, Workload) {
        let platform = crate::scenario::embedded_calibration()
            .unwrap()
            .compile(name, Body::Relay)
            .unwrap();
        let workload = Workload {
            body: Body::Relay,
            invocations,
            partitions: nodes,
            nodes,
            input_bytes: Distribution::constant(2200.0).unwrap(),
            policy,
            placement,
            allocation_queue: None,
        };
        (platform, workload)
    }

    /// A run of stages without shared resources costs one event, and a FIFO service none:
    /// on the study's K3s model a sequential partition's invocation costs one, the end of the
    /// control plane's delay, where its work joins the API server's queue; the rest of its
    /// stages, its completion and the next submission follow from there (no trace asks for
    /// completions in order). With a window of two, its observed completion and the next
    /// submission are events of their own.
    #[test]
    fn an_invocation_costs_one_event_per_meeting_with_shared_state() {
        // Two node-ready events; under the window, the first two submissions of each
        // partition happen at its node's readiness, without an event of their own. With a
        // placement model an invocation also stops where it takes its place (the end of the
        // control plane's work) and where it releases it (the end of its body).
        let room = spread(500, 4000);
        for (policy, placement, events) in [
            (SubmitPolicy::Sequential, None, 1_000 + 2),
            (
                SubmitPolicy::Window { size: 2 },
                None,
                3 * 1_000 - 2 * 2 + 2,
            ),
            (SubmitPolicy::Sequential, room, 3 * 1_000 + 2),
        ] {
            let (platform, workload) = k3s_relay(1_000, 2, policy.clone(), placement);
            let r = simulate(&platform, &workload, 7, 0, &mut crate::trace::NoTrace).unwrap();
            assert_eq!(r.invocations, 1_000);
            assert_eq!(r.events, events, "{policy:?}");
        }
    }

    /// A run with a trace records each completion at its instant, in order; one without
    /// records a sequential partition's completion as soon as it is known. Both give the
    /// same results, on every policy, with and without placement, relay and ETL, whatever
    /// order completions are recorded in.
    #[test]
    fn a_trace_changes_the_events_not_the_results() {
        let mut fewer = 0;
        for (policy, placement) in [
            (SubmitPolicy::Sequential, None),
            (SubmitPolicy::Sequential, spread(1500, 2000)),
            (SubmitPolicy::Window { size: 3 }, None),
            (SubmitPolicy::Poisson { rate_per_s: 2.0 }, None),
        ] {
            for (name, body, partitions) in [
                ("k3s", Body::Relay, 3),
                ("ksi", Body::Relay, 5),
                ("k3s", Body::Etl, 4),
            ] {
                let (_, relay) = study_relay(name, 300, 2, policy.clone(), placement.clone());
                let platform = crate::scenario::embedded_calibration()
                    .unwrap()
                    .compile(name, body)
                    .unwrap();
                let workload = match body {
                    Body::Etl => Workload {
                        body,
                        input_bytes: Distribution::constant(8e6).unwrap(),
                        partitions,
                        ..relay
                    },
                    _ => Workload {
                        partitions,
                        ..relay
                    },
                };
                let mut trace = crate::trace::VecTrace::default();
                let traced = simulate(&platform, &workload, 4, 0, &mut trace).unwrap();
                let plain =
                    simulate(&platform, &workload, 4, 0, &mut crate::trace::NoTrace).unwrap();
                assert_eq!(trace.rows.len(), 300);
                let done: Vec<f64> = trace.rows.iter().map(|r| r.done_s()).collect();
                assert!(
                    done.windows(2).all(|w| w[0] <= w[1]),
                    "rows in completion order"
                );
                assert!(plain.events <= traced.events, "{name} {policy:?}");
                fewer += usize::from(plain.events < traced.events);
                assert_eq!(
                    RunResult { events: 0, ..plain },
                    RunResult {
                        events: 0,
                        ..traced
                    },
                    "{name} {policy:?} {placement:?}"
                );
            }
        }
        // Sequential partitions, with and without placement, on three platforms.
        assert_eq!(fewer, 6);
    }

    /// Each instant of the trace is its own stage's start: on the study's K3s relay model,
    /// where every stage takes time, they strictly increase, and each gap is that stage's
    /// duration (the control plane's 2.3 s of work dominates its stage).
    #[test]
    fn trace_instants_are_the_starts_of_their_stages() {
        let (platform, workload) = k3s_relay(20, 1, SubmitPolicy::Sequential, None);
        let mut trace = crate::trace::VecTrace::default();
        simulate(&platform, &workload, 3, 0, &mut trace).unwrap();
        assert_eq!(trace.rows.len(), 20);
        for row in &trace.rows {
            let t = row.instants;
            assert!(t.windows(2).all(|w| w[1] > w[0]), "{t:?}");
            // Control plane: 0.05 s delay + 2.34 s of work; startup 0.83 s; completion 0.68 s.
            assert!((2.0..3.0).contains(&(t[1] - t[0])), "{t:?}");
            assert!((0.7..1.0).contains(&(t[2] - t[1])), "{t:?}");
            assert!((0.5..0.9).contains(&(t[6] - t[5])), "{t:?}");
        }
    }

    /// The run-level figures of the K3s relay model follow from its parameters: a mean client
    /// gap of the lognormal's mean (median 0.080 s), a body share of body over mean latency,
    /// and two sequential partitions keeping the one API server busy (the study's point).
    #[test]
    fn run_figures_follow_from_the_model() {
        let (platform, workload) = k3s_relay(2_000, 2, SubmitPolicy::Sequential, None);
        let r = simulate(&platform, &workload, 9, 0, &mut crate::trace::NoTrace).unwrap();
        let gap_mean = (-2.5257f64 + 0.1f64.powi(2) / 2.0).exp();
        assert!(
            (r.mean_client_gap_s / gap_mean - 1.0).abs() < 0.01,
            "{}",
            r.mean_client_gap_s
        );
        let share = r.decomposition.body_s() / r.latency.mean_s;
        assert!((r.body_share - share).abs() < 1e-12 && share > 0.0 && share < 0.01);
        let names: Vec<&str> = r.utilisation.iter().map(|u| u.resource.as_str()).collect();
        assert_eq!(names, ["api_server", "cores", "nfs"]);
        assert!(r.utilisation[0].utilisation > 0.95, "{:?}", r.utilisation);
        assert!(r.utilisation[0].utilisation <= 1.0, "{:?}", r.utilisation);
        assert_eq!(r.utilisation[1].utilisation, 0.0, "relay bodies are delays");
        // A resource on every node reports the mean over its nodes: on each of two nodes one
        // partition's ETL bodies use one of 4 cores for 4.2 s of every Job's ~9.7 s (0.108).
        let platform = crate::scenario::embedded_calibration()
            .unwrap()
            .compile("k3s", Body::Etl)
            .unwrap();
        let etl = Workload {
            body: Body::Etl,
            input_bytes: Distribution::constant(64.0 * 1048576.0).unwrap(),
            ..workload
        };
        let r = simulate(&platform, &etl, 9, 0, &mut crate::trace::NoTrace).unwrap();
        let cores = r.utilisation[1].utilisation;
        assert!((0.095..0.125).contains(&cores), "{:?}", r.utilisation);
    }

    /// A node with room for one Job holds one at a time, from its placement to the end of its
    /// body, however many its partition keeps in flight; the others wait for the room. (On
    /// KSI, whose per-node control plane passes Jobs faster than they start, they would
    /// overlap.)
    #[test]
    fn a_node_with_room_for_one_job_runs_one_at_a_time() {
        let one = spread(1000, 1000);
        let (platform, free) = study_relay("ksi", 40, 1, SubmitPolicy::Window { size: 4 }, None);
        let overlaps = |workload: &Workload| {
            let mut trace = crate::trace::VecTrace::default();
            simulate(&platform, workload, 5, 0, &mut trace).unwrap();
            let mut held: Vec<(f64, f64)> = trace
                .rows
                .iter()
                .map(|r| (r.start_of(Stage::Startup), r.start_of(Stage::Completion)))
                .collect();
            held.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert_eq!(held.len(), 40);
            held.windows(2).filter(|p| p[1].0 < p[0].1).count()
        };
        assert!(overlaps(&free) > 10, "without placement, Jobs overlap");
        let workload = Workload {
            placement: one,
            ..free.clone()
        };
        assert_eq!(overlaps(&workload), 0, "two Jobs on the node at once");
    }

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
