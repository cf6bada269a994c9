//! A Slurm-like batch queue: FIFO by priority (submission order) with optional backfill, over
//! whole nodes. Used for the wait of KSI's allocation behind other users' jobs.
//!
//! At each scheduling pass, pending jobs are considered in priority order. Without backfill
//! the pass stops at the first job that does not fit. With backfill, the first job that does
//! not fit gets a reservation — the earliest time enough nodes are free, judging running jobs
//! by their time limits — and a lower-priority job may start now only if it fits now and
//! either ends (by its time limit) before that reservation or leaves enough nodes for it.

use serde::{Deserialize, Serialize};

/// One batch job.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchJob {
    /// Submission order (lower = higher priority).
    pub id: u64,
    /// Whole nodes requested.
    pub nodes: u32,
    /// Time limit the scheduler plans with [s].
    pub time_limit_s: f64,
    /// Actual run time [s] (≤ time limit).
    pub duration_s: f64,
}

#[derive(Debug, Clone, Copy)]
struct Running {
    nodes: u32,
    planned_end: f64,
    end: f64,
}

/// The queue and the cluster it schedules.
#[derive(Debug, Clone)]
pub struct SlurmQueue {
    nodes: u32,
    backfill: bool,
    pending: Vec<BatchJob>,
    running: Vec<Running>,
}

impl SlurmQueue {
    /// A cluster of `nodes` nodes.
    pub fn new(nodes: u32, backfill: bool) -> Self {
        SlurmQueue {
            nodes,
            backfill,
            pending: Vec::new(),
            running: Vec::new(),
        }
    }

    fn free(&self) -> u32 {
        self.nodes - self.running.iter().map(|r| r.nodes).sum::<u32>()
    }

    /// Adds a job (kept in priority order).
    pub fn submit(&mut self, job: BatchJob) {
        let at = self.pending.partition_point(|j| j.id < job.id);
        self.pending.insert(at, job);
    }

    /// Removes jobs that ended by `now`.
    pub fn finish_until(&mut self, now: f64) {
        self.running.retain(|r| r.end > now);
    }

    /// When the earliest running job ends, if any.
    pub fn next_end(&self) -> Option<f64> {
        self.running.iter().map(|r| r.end).min_by(f64::total_cmp)
    }

    /// The reservation of a job needing `nodes`: the earliest time the planned ends free them.
    fn reservation(&self, nodes: u32, now: f64) -> f64 {
        let mut free = self.free();
        if free >= nodes {
            return now;
        }
        let mut ends: Vec<&Running> = self.running.iter().collect();
        ends.sort_by(|a, b| a.planned_end.total_cmp(&b.planned_end));
        for r in ends {
            free += r.nodes;
            if free >= nodes {
                return r.planned_end.max(now);
            }
        }
        f64::INFINITY
    }

    /// One scheduling pass at `now`; returns the jobs started, with the reservation the
    /// highest-priority waiting job had when each was backfilled (None: started in order).
    pub fn schedule(&mut self, now: f64) -> Vec<(BatchJob, Option<f64>)> {
        self.finish_until(now);
        let mut started = Vec::new();
        let mut reservation: Option<(f64, u32)> = None;
        let mut i = 0;
        while i < self.pending.len() {
            let job = self.pending[i];
            let fits = job.nodes <= self.free();
            match reservation {
                None if fits => {
                    self.start(i, now);
                    started.push((job, None));
                    continue;
                }
                None => {
                    if !self.backfill {
                        break;
                    }
                    reservation = Some((self.reservation(job.nodes, now), job.nodes));
                }
                Some((at, needed)) => {
                    // Nodes free at the reservation if this job runs to its limit.
                    let ends_before = now + job.time_limit_s <= at;
                    let spare_at_reservation = self.free_at(at) >= needed + job.nodes;
                    if fits && (ends_before || spare_at_reservation) {
                        self.start(i, now);
                        started.push((job, Some(at)));
                        continue;
                    }
                }
            }
            i += 1;
        }
        started
    }

    /// Nodes free at time `at` by the planned ends of running jobs.
    fn free_at(&self, at: f64) -> u32 {
        self.nodes
            - self
                .running
                .iter()
                .filter(|r| r.planned_end > at)
                .map(|r| r.nodes)
                .sum::<u32>()
    }

    fn start(&mut self, index: usize, now: f64) {
        let job = self.pending.remove(index);
        self.running.push(Running {
            nodes: job.nodes,
            planned_end: now + job.time_limit_s,
            end: now + job.duration_s.min(job.time_limit_s),
        });
    }

    /// Jobs waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The highest-priority waiting job and its reservation at `now`: the earliest time the
    /// planned ends of running jobs free enough nodes for it.
    pub fn top_reservation(&self, now: f64) -> Option<(u64, f64)> {
        let top = self.pending.first()?;
        Some((top.id, self.reservation(top.nodes, now)))
    }

    /// Nodes in use.
    pub fn busy_nodes(&self) -> u32 {
        self.nodes - self.free()
    }
}

/// Other users' jobs on the cluster KSI's allocation queues in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationQueue {
    /// Nodes of the Slurm cluster.
    pub cluster_nodes: u32,
    /// Backfill scheduling (Slurm's sched/backfill) instead of strict FIFO.
    #[serde(default = "yes")]
    pub backfill: bool,
    /// Interval between scheduling passes [s].
    #[serde(default = "thirty")]
    pub interval_s: f64,
    /// Background arrivals [jobs/s].
    pub arrival_rate_per_s: f64,
    /// Nodes each background job requests.
    pub job_nodes: faastwin_models::Distribution,
    /// Run time of each background job [s].
    pub duration_s: faastwin_models::Distribution,
    /// Time limit = this × run time (users overestimate).
    #[serde(default = "two")]
    pub time_limit_factor: f64,
    /// How long the background load runs before KSI submits, to reach a steady queue [s].
    #[serde(default = "day")]
    pub warmup_s: f64,
    /// Time limit of KSI's own allocation [s].
    #[serde(default = "hour")]
    pub allocation_time_limit_s: f64,
}

fn yes() -> bool {
    true
}
fn thirty() -> f64 {
    30.0
}
fn two() -> f64 {
    2.0
}
fn day() -> f64 {
    86_400.0
}
fn hour() -> f64 {
    3_600.0
}

impl AllocationQueue {
    /// Checks the numbers.
    pub fn validate(&self, nodes: u32) -> Result<(), crate::SimError> {
        let bad = |what: String| {
            Err(crate::SimError::Invalid {
                what: format!("allocation_queue: {what}"),
            })
        };
        if nodes > self.cluster_nodes {
            return bad(format!(
                "the allocation needs {nodes} nodes but the cluster has {}",
                self.cluster_nodes
            ));
        }
        if !(self.interval_s > 0.0
            && self.arrival_rate_per_s >= 0.0
            && self.time_limit_factor >= 1.0
            && self.warmup_s >= 0.0)
        {
            return bad("interval_s > 0, arrival_rate_per_s >= 0, time_limit_factor >= 1 and warmup_s >= 0 are required".into());
        }
        Ok(())
    }

    /// How long an allocation of `nodes` nodes waits after submission [s], behind a
    /// background load that ran `warmup_s` before it.
    pub fn wait(&self, nodes: u32, rng: &mut faastwin_models::Rng) -> f64 {
        let mut queue = SlurmQueue::new(self.cluster_nodes, self.backfill);
        // The rate is clamped positive, so Exp::new only fails on NaN, which validation refuses.
        let exp = rand_distr::Exp::new(self.arrival_rate_per_s.max(1e-12)).ok();
        let mut next_arrival = -self.warmup_s;
        let mut id = 0u64;
        let mut t = -self.warmup_s;
        let mut submitted = false;
        let ksi = u64::MAX / 2;
        // Give up after a year: the queue cannot drain.
        while t < 3.2e7 {
            while next_arrival <= t {
                let nodes =
                    (self.job_nodes.sample(rng).round() as u32).clamp(1, self.cluster_nodes);
                let duration = self.duration_s.sample(rng).max(1.0);
                queue.submit(BatchJob {
                    id,
                    nodes,
                    time_limit_s: duration * self.time_limit_factor,
                    duration_s: duration,
                });
                id += 1;
                next_arrival += match &exp {
                    Some(e) if self.arrival_rate_per_s > 0.0 => {
                        rand_distr::Distribution::sample(e, rng)
                    }
                    _ => f64::INFINITY,
                };
            }
            if !submitted && t >= 0.0 {
                // KSI's job gets the priority of its submission time: after everything so far.
                queue.submit(BatchJob {
                    id: ksi,
                    nodes,
                    time_limit_s: self.allocation_time_limit_s,
                    duration_s: self.allocation_time_limit_s,
                });
                submitted = true;
                // Later background jobs queue behind it.
                id = ksi + 1;
            }
            if queue.schedule(t).iter().any(|(j, _)| j.id == ksi) {
                return t.max(0.0);
            }
            t += self.interval_s;
        }
        f64::INFINITY
    }
}
