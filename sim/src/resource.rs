//! Shared resources an invocation's stage can occupy: FIFO servers, processor sharing and a
//! periodic scheduling cycle. Pure delays need no resource.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use crate::engine::{EventId, NS_PER_S, SimTime};

/// Index of an in-flight invocation.
pub(crate) type Slot = u32;

/// The slot of work no invocation waits for (a `detached` stage's): a processor-sharing
/// instance serves it like any other and nobody moves on when it ends.
pub(crate) const DETACHED: Slot = Slot::MAX;

/// c servers, one queue, first come first served.
///
/// Service times are known when a job arrives and jobs start in arrival order, so a job's
/// start is known at its arrival: the moment the earliest-free server frees (Lindley's
/// recursion, one server per heap entry). No event marks the end of a service; the caller
/// carries on from the returned instant.
#[derive(Debug)]
pub(crate) struct Fifo {
    servers: u32,
    /// With one server, when it becomes free: kept inline, since across many nodes a heap's
    /// separate buffer costs a cache miss per job.
    free: SimTime,
    /// With more, when each server that has worked becomes free (at most `servers` entries).
    free_at: BinaryHeap<Reverse<SimTime>>,
    busy_ns: u128,
}

impl Fifo {
    pub(crate) fn new(servers: u32) -> Self {
        Fifo {
            servers,
            free: 0,
            free_at: BinaryHeap::new(),
            busy_ns: 0,
        }
    }

    /// A job arrives at `now` needing `service`; returns when its service ends.
    pub(crate) fn arrive(&mut self, now: SimTime, service: SimTime) -> SimTime {
        if self.servers == 1 {
            let start = self.free.max(now);
            let end = start.saturating_add(service);
            self.free = end;
            self.busy_ns += u128::from(end - start);
            return end;
        }
        let start = if self.free_at.len() < self.servers as usize {
            now
        } else {
            let Reverse(free) = self.free_at.pop().unwrap_or(Reverse(now));
            free.max(now)
        };
        let end = start.saturating_add(service);
        self.free_at.push(Reverse(end));
        self.busy_ns += u128::from(end - start);
        end
    }

    /// Busy server time over `end` server time (every service ends by the run's end).
    pub(crate) fn utilisation(&mut self, end: SimTime) -> f64 {
        if end == 0 {
            0.0
        } else {
            self.busy_ns as f64 / (f64::from(self.servers) * end as f64)
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Finish {
    virtual_time: f64,
    seq: u64,
    slot: Slot,
}

impl PartialEq for Finish {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Finish {}
impl PartialOrd for Finish {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Finish {
    fn cmp(&self, other: &Self) -> Ordering {
        self.virtual_time
            .total_cmp(&other.virtual_time)
            .then(self.seq.cmp(&other.seq))
    }
}

/// Processor sharing: `capacity` units of service rate divided equally among the active jobs,
/// each getting at most `per_job_cap` (a job cannot use more than one core, or more than its
/// client's link). Work is in seconds at rate 1.
///
/// Implemented with virtual time: every active job receives the same rate, so the work served
/// to each since time 0 is one number `v`, and a job that arrives at `v0` with work `w` finishes
/// when `v` reaches `v0 + w`. Arrivals and departures cost O(log n).
#[derive(Debug)]
pub(crate) struct ProcessorSharing {
    capacity: f64,
    per_job_cap: f64,
    virtual_time: f64,
    last: SimTime,
    jobs: BinaryHeap<Reverse<Finish>>,
    seq: u64,
    /// The scheduled event of the next completion, if any.
    pub(crate) pending: Option<EventId>,
    requested: f64,
    served: f64,
}

impl ProcessorSharing {
    pub(crate) fn new(capacity: f64, per_job_cap: f64) -> Self {
        ProcessorSharing {
            capacity,
            per_job_cap,
            virtual_time: 0.0,
            last: 0,
            jobs: BinaryHeap::new(),
            seq: 0,
            pending: None,
            requested: 0.0,
            served: 0.0,
        }
    }

    /// Rate each active job receives [work units per second].
    fn rate(&self) -> f64 {
        let n = self.jobs.len();
        if n == 0 {
            0.0
        } else {
            (self.capacity / n as f64).min(self.per_job_cap)
        }
    }

    fn advance(&mut self, now: SimTime) {
        let dt = (now - self.last) as f64 / NS_PER_S;
        let rate = self.rate();
        self.virtual_time += rate * dt;
        self.served += rate * dt * self.jobs.len() as f64;
        self.last = now;
    }

    /// A job with `work` [s at rate 1] joins.
    pub(crate) fn arrive(&mut self, now: SimTime, slot: Slot, work: f64) {
        self.advance(now);
        self.requested += work;
        self.seq += 1;
        self.jobs.push(Reverse(Finish {
            virtual_time: self.virtual_time + work,
            seq: self.seq,
            slot,
        }));
    }

    /// Removes every job whose work is done by `now` into `done`, in finishing order.
    pub(crate) fn take_finished(&mut self, now: SimTime, done: &mut Vec<Slot>) {
        self.advance(now);
        // Completion times are rounded up to whole nanoseconds, so a job due now has at most a
        // rounding error of work left.
        let tolerance = 1e-9 * self.virtual_time.abs().max(1.0);
        while let Some(Reverse(head)) = self.jobs.peek() {
            if head.virtual_time > self.virtual_time + tolerance {
                break;
            }
            done.push(head.slot);
            self.jobs.pop();
        }
    }

    /// When the next job finishes, if any is active.
    pub(crate) fn next_completion(&self, now: SimTime) -> Option<SimTime> {
        let Reverse(head) = self.jobs.peek()?;
        let remaining = (head.virtual_time - self.virtual_time).max(0.0);
        let rate = self.rate();
        let dt_ns = (remaining / rate * NS_PER_S).ceil();
        Some(now.saturating_add((dt_ns as SimTime).max(1)))
    }

    /// Work requested and served so far [s at rate 1].
    #[cfg(test)]
    pub(crate) fn work(&self) -> (f64, f64) {
        (self.requested, self.served)
    }

    pub(crate) fn utilisation(&mut self, end: SimTime) -> f64 {
        self.advance(end.max(self.last));
        if end == 0 {
            0.0
        } else {
            self.served / (self.capacity * end as f64 / NS_PER_S)
        }
    }
}

/// A periodic scheduler (Slurm's main scheduling loop): a job that arrives waits for the next
/// cycle, every `interval` starting at `phase`, then its service runs as a pure delay.
#[derive(Debug)]
pub(crate) struct Cycle {
    interval: SimTime,
    phase: SimTime,
}

impl Cycle {
    pub(crate) fn new(interval: SimTime, phase: SimTime) -> Self {
        Cycle {
            interval: interval.max(1),
            phase: phase % interval.max(1),
        }
    }

    /// The first cycle at or after `now`.
    pub(crate) fn next_tick(&self, now: SimTime) -> SimTime {
        if now <= self.phase {
            return self.phase;
        }
        let since = now - self.phase;
        self.phase + since.div_ceil(self.interval) * self.interval
    }
}

/// A batch scheduler (native Slurm): jobs wait for a scheduling pass, then start in
/// submission order while their node has a free slot (CPU). Without backfill a pass stops at
/// the first job that cannot start; with backfill it goes on to jobs on other nodes, which
/// cannot delay the blocked job (they use no slot of its node). A job holds its slot until its
/// body ends.
#[derive(Debug)]
pub(crate) struct Batch {
    cycle: Cycle,
    backfill: bool,
    free: Vec<u32>,
    queue: VecDeque<(Slot, usize, SimTime)>,
    /// A pass is scheduled.
    pub(crate) pass_pending: bool,
}

impl Batch {
    pub(crate) fn new(
        interval: SimTime,
        phase: SimTime,
        backfill: bool,
        nodes: usize,
        slots_per_node: u32,
    ) -> Self {
        Batch {
            cycle: Cycle::new(interval, phase),
            backfill,
            free: vec![slots_per_node; nodes],
            queue: VecDeque::new(),
            pass_pending: false,
        }
    }

    /// Queues a job for `node` with `work` after it starts; returns the time of a pass to
    /// schedule, if none is pending.
    pub(crate) fn arrive(
        &mut self,
        now: SimTime,
        slot: Slot,
        node: usize,
        work: SimTime,
    ) -> Option<SimTime> {
        self.queue.push_back((slot, node, work));
        self.request_pass(now)
    }

    fn request_pass(&mut self, now: SimTime) -> Option<SimTime> {
        if self.pass_pending || self.queue.is_empty() {
            return None;
        }
        self.pass_pending = true;
        Some(self.cycle.next_tick(now))
    }

    /// One scheduling pass: the jobs started (slot, work) and the time of the next pass if
    /// jobs still wait.
    pub(crate) fn pass(&mut self, now: SimTime) -> (Vec<(Slot, SimTime)>, Option<SimTime>) {
        self.pass_pending = false;
        let mut started = Vec::new();
        let mut waiting = VecDeque::new();
        let mut blocked = false;
        while let Some((slot, node, work)) = self.queue.pop_front() {
            if !blocked && self.free[node] > 0 {
                self.free[node] -= 1;
                started.push((slot, work));
            } else {
                blocked = blocked || !self.backfill;
                waiting.push_back((slot, node, work));
            }
        }
        self.queue = waiting;
        // The next pass is the next cycle strictly after this one.
        let next = self.request_pass(now + 1);
        (started, next)
    }

    /// A job's body on `node` ended: its slot is free for the next pass; returns the time of
    /// a pass to schedule, if jobs wait and none is pending.
    pub(crate) fn release(&mut self, now: SimTime, node: usize) -> Option<SimTime> {
        self.free[node] += 1;
        self.request_pass(now)
    }
}

/// One instance of a resource.
#[derive(Debug)]
pub(crate) enum Resource {
    Fifo(Fifo),
    ProcessorSharing(Box<ProcessorSharing>),
    Cycle(Cycle),
    Batch(Box<Batch>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_queues_beyond_its_servers() {
        let mut f = Fifo::new(1);
        assert_eq!(f.arrive(0, 10), 10);
        // Waits for the first job, then serves for 5.
        assert_eq!(f.arrive(2, 5), 15);
        // Arrives after the server freed: starts at once.
        assert_eq!(f.arrive(20, 1), 21);
        assert!((f.utilisation(30) - 16.0 / 30.0).abs() < 1e-12);
    }

    /// With two servers a job takes the one that frees first, in arrival order.
    #[test]
    fn fifo_jobs_take_the_server_that_frees_first() {
        let mut f = Fifo::new(2);
        assert_eq!(f.arrive(0, 10), 10);
        assert_eq!(f.arrive(0, 4), 4);
        assert_eq!(f.arrive(1, 3), 7);
        assert_eq!(f.arrive(1, 3), 10);
        assert_eq!(f.arrive(1, 1), 11);
        assert!((f.utilisation(20) - 21.0 / 40.0).abs() < 1e-12);
    }

    #[test]
    fn processor_sharing_halves_the_rate_of_two_jobs() {
        let s = 1_000_000_000;
        let mut ps = ProcessorSharing::new(1.0, 1.0);
        ps.arrive(0, 1, 1.0);
        ps.arrive(0, 2, 2.0);
        // Both at rate 1/2: job 1 finishes at 2 s, then job 2 alone finishes at 3 s.
        assert_eq!(ps.next_completion(0), Some(2 * s));
        let mut done = Vec::new();
        ps.take_finished(2 * s, &mut done);
        assert_eq!(done, vec![1]);
        assert_eq!(ps.next_completion(2 * s), Some(3 * s));
        ps.take_finished(3 * s, &mut done);
        assert_eq!(done, vec![1, 2]);
        let (requested, served) = ps.work();
        assert!((requested - served).abs() < 1e-9);
    }

    #[test]
    fn per_job_cap_limits_a_lone_job() {
        let mut ps = ProcessorSharing::new(4.0, 1.0);
        ps.arrive(0, 1, 1.0);
        assert_eq!(ps.next_completion(0), Some(1_000_000_000));
    }

    #[test]
    fn cycle_rounds_up_to_the_next_tick() {
        let c = Cycle::new(10, 3);
        assert_eq!(c.next_tick(0), 3);
        assert_eq!(c.next_tick(3), 3);
        assert_eq!(c.next_tick(4), 13);
        assert_eq!(c.next_tick(23), 23);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// Reference processor sharing: re-divides the rate at every arrival and departure and
    /// decrements every job's remaining work, O(n) per event.
    fn reference(jobs: &[(f64, f64)], capacity: f64, cap: f64) -> Vec<f64> {
        let mut remaining: Vec<Option<f64>> = vec![None; jobs.len()];
        let mut finish = vec![f64::NAN; jobs.len()];
        let mut t = 0.0;
        let mut next_arrival = 0;
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by(|&a, &b| jobs[a].0.total_cmp(&jobs[b].0));
        loop {
            let active: Vec<usize> = (0..jobs.len())
                .filter(|&i| remaining[i].is_some())
                .collect();
            let rate = if active.is_empty() {
                0.0
            } else {
                (capacity / active.len() as f64).min(cap)
            };
            let to_finish = active
                .iter()
                .map(|&i| remaining[i].unwrap_or(0.0) / rate)
                .fold(f64::INFINITY, f64::min);
            let to_arrival = order
                .get(next_arrival)
                .map_or(f64::INFINITY, |&i| jobs[i].0 - t);
            if to_finish.is_infinite() && to_arrival.is_infinite() {
                return finish;
            }
            let dt = to_finish.min(to_arrival);
            for &i in &active {
                let left = remaining[i].unwrap_or(0.0) - rate * dt;
                if left <= 1e-12 {
                    remaining[i] = None;
                    finish[i] = t + dt;
                } else {
                    remaining[i] = Some(left);
                }
            }
            t += dt;
            if to_arrival <= to_finish {
                let i = order[next_arrival];
                remaining[i] = Some(jobs[i].1);
                next_arrival += 1;
            }
        }
    }

    proptest! {
        /// The O(log n) virtual-time implementation finishes every job when the reference does
        /// (to a microsecond), and serves exactly the work requested.
        #[test]
        fn virtual_time_matches_reference(
            jobs in prop::collection::vec((0.0f64..10.0, 0.01f64..3.0), 1..25),
            capacity in 0.5f64..4.0,
            cap in 0.25f64..2.0,
        ) {
            let expected = reference(&jobs, capacity, cap);
            let mut ps = ProcessorSharing::new(capacity, cap);
            let mut arrivals: Vec<(SimTime, usize)> =
                jobs.iter().enumerate().map(|(i, j)| ((j.0 * NS_PER_S).round() as SimTime, i)).collect();
            arrivals.sort();
            let mut got = vec![f64::NAN; jobs.len()];
            let mut now: SimTime = 0;
            let mut next = 0;
            let mut done = Vec::new();
            while next < arrivals.len() || ps.next_completion(now).is_some() {
                let completion = ps.next_completion(now);
                let arrival = arrivals.get(next).map(|a| a.0);
                match (completion, arrival) {
                    (Some(c), Some(a)) if c <= a => { now = c; done.clear(); ps.take_finished(now, &mut done); }
                    (Some(c), None) => { now = c; done.clear(); ps.take_finished(now, &mut done); }
                    (_, Some(a)) => { now = a; let (_, i) = arrivals[next]; ps.arrive(now, i as Slot, jobs[i].1); next += 1; continue; }
                    (None, None) => break,
                }
                for &slot in &done { got[slot as usize] = now as f64 / NS_PER_S; }
            }
            for (g, e) in got.iter().zip(&expected) {
                prop_assert!((g - e).abs() < 1e-6, "got {:?}\nexpected {:?}", got, expected);
            }
            let (requested, served) = ps.work();
            prop_assert!((requested - served).abs() < 1e-6 * requested.max(1.0), "requested {} served {}", requested, served);
        }
    }
}
