//! Properties of the scheduler models (proptest, with shrinking; regressions are committed
//! under proptest-regressions/).

use std::collections::BTreeMap;

use faastwin_sim::placement::{Allocatable, Cluster, PlacementSpec, Request};
use faastwin_sim::slurm_queue::{BatchJob, SlurmQueue};
use faastwin_sim::{Body, NoTrace, SubmitPolicy, simulate};
use proptest::prelude::*;

use crate::{PER_NODE, platform, workload};

fn spec(model: u8, request: Request, node: Allocatable) -> PlacementSpec {
    match model % 3 {
        0 => PlacementSpec::Pinned { request, node },
        1 => PlacementSpec::LeastAllocated { request, node },
        _ => PlacementSpec::MostAllocated { request, node },
    }
}

fn cluster_setup() -> impl Strategy<Value = (u8, usize, Request, Allocatable)> {
    (
        0u8..3,
        1usize..6,
        0u32..20,
        0u32..16,
        1u32..80,
        1u32..64,
        1u32..12,
    )
        .prop_filter_map(
            "a Job must fit on an empty node",
            |(model, nodes, cpu, mem, node_cpu, node_mem, pods)| {
                let request = Request {
                    cpu_millicores: cpu * 100,
                    memory_mib: mem * 128,
                };
                let node = Allocatable {
                    cpu_millicores: node_cpu * 100,
                    memory_mib: node_mem * 128,
                    max_pods: pods,
                };
                (request.cpu_millicores <= node.cpu_millicores
                    && request.memory_mib <= node.memory_mib)
                    .then_some((model, nodes, request, node))
            },
        )
}

/// Submits and releases Jobs in the given order; returns the placement log (job, node).
fn replay(
    model: u8,
    nodes: usize,
    request: Request,
    node: Allocatable,
    ops: &[(bool, u8)],
) -> Result<Vec<(u32, usize)>, TestCaseError> {
    let mut cluster: Cluster<u32> = Cluster::new(&spec(model, request, node), nodes);
    let mut on: BTreeMap<u32, usize> = BTreeMap::new();
    let mut homes: BTreeMap<u32, usize> = BTreeMap::new();
    let mut log = Vec::new();
    for (i, &(submit, pick)) in ops.iter().enumerate() {
        let placed = if submit || on.is_empty() {
            let home = usize::from(pick) % nodes;
            homes.insert(i as u32, home);
            cluster
                .submit(i as u32, home)
                .map(|n| vec![(i as u32, n)])
                .unwrap_or_default()
        } else {
            let (&job, &n) = on
                .iter()
                .nth(usize::from(pick) % on.len())
                .unwrap_or((&0, &0));
            on.remove(&job);
            cluster.release(n)
        };
        for (job, n) in placed {
            on.insert(job, n);
            log.push((job, n));
            if model % 3 == 0 {
                prop_assert_eq!(
                    n,
                    homes[&job],
                    "pinned placement never moves a Job off its node"
                );
            }
        }
        prop_assert!(
            cluster.within_capacity(),
            "a node holds more than its allocatable"
        );
        prop_assert!(
            !cluster.idles_while_pending(),
            "a waiting Job fits on a node it may use"
        );
    }
    Ok(log)
}

proptest! {
    /// No node ever exceeds its allocatable; no Job waits while a node it may use has room
    /// (work conservation); pinned never moves a Job; the same sequence gives the same schedule.
    #[test]
    fn placement_respects_capacity_conserves_work_and_is_deterministic(
        (model, nodes, request, node) in cluster_setup(),
        ops in prop::collection::vec((any::<bool>(), any::<u8>()), 1..120),
    ) {
        let first = replay(model, nodes, request, node, &ops)?;
        let second = replay(model, nodes, request, node, &ops)?;
        prop_assert_eq!(first, second);
    }

    /// Least-allocated spreads identical Jobs over identical nodes evenly.
    #[test]
    fn least_allocated_spreads_evenly(nodes in 1usize..9, jobs in 0u32..60, cpu in 0u32..5) {
        let request = Request { cpu_millicores: cpu * 100, memory_mib: 64 };
        let node = Allocatable { cpu_millicores: 1_000_000, memory_mib: 1_000_000, max_pods: 1_000 };
        let mut cluster: Cluster<u32> = Cluster::new(&PlacementSpec::LeastAllocated { request, node }, nodes);
        for j in 0..jobs {
            prop_assert!(cluster.submit(j, 0).is_some());
        }
        let pods = cluster.pods();
        prop_assert!(pods.iter().max().unwrap() - pods.iter().min().unwrap() <= 1, "{:?}", pods);
    }

    /// Most-allocated fills one node before the next.
    #[test]
    fn most_allocated_fills_one_node_before_the_next(nodes in 1usize..6, per_node in 1u32..8, jobs in 0u32..40) {
        let request = Request { cpu_millicores: 1000, memory_mib: 0 };
        let node = Allocatable { cpu_millicores: 1000 * per_node, memory_mib: 1024, max_pods: 110 };
        let mut cluster: Cluster<u32> = Cluster::new(&PlacementSpec::MostAllocated { request, node }, nodes);
        for j in 0..jobs {
            cluster.submit(j, nodes - 1);
        }
        let pods = cluster.pods();
        // Full nodes, then at most one partly filled node, then empty ones.
        let first_not_full = pods.iter().position(|&p| p < per_node).unwrap_or(nodes);
        prop_assert!(pods[first_not_full.min(nodes)..].iter().skip(1).all(|&p| p == 0), "{:?}", pods);
        prop_assert_eq!(pods.iter().sum::<u32>(), jobs.min(per_node * nodes as u32));
    }

    /// FIFO without backfill starts jobs in submission order; with backfill the highest-
    /// priority waiting job never starts later than its reservation; capacity always holds.
    #[test]
    fn slurm_fifo_keeps_order_and_backfill_keeps_reservations(
        nodes in 1u32..16,
        backfill in any::<bool>(),
        jobs in prop::collection::vec((1u32..16, 1.0f64..100.0, 0.1f64..1.0, 0.0f64..50.0), 1..40),
    ) {
        let mut queue = SlurmQueue::new(nodes, backfill);
        let mut arrivals: Vec<(f64, BatchJob)> = jobs.iter().enumerate().map(|(i, &(n, limit, share, at))| {
            (at, BatchJob { id: i as u64, nodes: n.min(nodes), time_limit_s: limit, duration_s: limit * share })
        }).collect();
        arrivals.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        // Priority is arrival order.
        for (i, a) in arrivals.iter_mut().enumerate() {
            a.1.id = i as u64;
        }
        let mut starts: BTreeMap<u64, f64> = BTreeMap::new();
        let mut reservations: BTreeMap<u64, f64> = BTreeMap::new();
        let mut next = 0;
        let mut now = 0.0f64;
        for _ in 0..10_000 {
            while next < arrivals.len() && arrivals[next].0 <= now {
                queue.submit(arrivals[next].1);
                next += 1;
            }
            for (job, _) in queue.schedule(now) {
                starts.insert(job.id, now);
            }
            prop_assert!(queue.busy_nodes() <= nodes);
            if let Some((top, at)) = queue.top_reservation(now) {
                let r = reservations.entry(top).or_insert(at);
                *r = r.min(at);
            }
            let upcoming = [queue.next_end(), arrivals.get(next).map(|a| a.0)];
            match upcoming.into_iter().flatten().min_by(f64::total_cmp) {
                Some(t) => now = t.max(now),
                None => break,
            }
        }
        prop_assert_eq!(starts.len(), arrivals.len(), "every job started");
        // Capacity over time, from the starts and the run times alone: at every start, the
        // jobs started before it and still running (ending later) leave room for it.
        let job = |id: u64| arrivals.iter().map(|a| a.1).find(|j| j.id == id).unwrap();
        for (&id, &start) in &starts {
            let in_use: u32 = starts
                .iter()
                .filter(|&(&other, &t)| other != id && t <= start && t + job(other).duration_s > start)
                .map(|(&other, _)| job(other).nodes)
                .sum();
            prop_assert!(in_use + job(id).nodes <= nodes, "job {} started at {} with {} of {} nodes in use", id, start, in_use, nodes);
        }
        if !backfill {
            let mut by_start: Vec<(f64, u64)> = starts.iter().map(|(&id, &t)| (t, id)).collect();
            by_start.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            prop_assert!(by_start.windows(2).all(|w| w[0].1 < w[1].1), "FIFO order broken: {:?}", by_start);
        }
        for (id, reserved) in &reservations {
            prop_assert!(starts[id] <= reserved + 1e-9, "job {} reserved for {} started at {}", id, reserved, starts[id]);
        }
    }

    /// A simulation with placement completes every invocation, the same way for the same seed.
    #[test]
    fn simulations_with_placement_complete_and_repeat(
        (model, nodes, request, node) in cluster_setup(),
        n in 1u64..80, partitions in 1u32..8, seed in any::<u64>(),
    ) {
        let platform = platform(PER_NODE, "p", Body::Relay);
        let mut w = workload(n, partitions, nodes as u32, SubmitPolicy::Window { size: 2 });
        w.placement = Some(spec(model, request, node));
        let a = simulate(&platform, &w, seed, 0, &mut NoTrace).unwrap();
        let b = simulate(&platform, &w, seed, 0, &mut NoTrace).unwrap();
        prop_assert_eq!(a.invocations, n);
        prop_assert_eq!(a, b);
    }
}

/// Native Slurm: one job per invocation, a pass every second, 2 slots per node; the job's
/// launch is 50 ms after its pass, and its body holds the slot.
fn batch_platform(backfill: bool) -> faastwin_sim::CompiledPlatform {
    platform(
        &format!(
            r#"
[platforms.s]
[platforms.s.resources.slurm]
scope = "cluster"
discipline = {{ kind = "batch", interval_s = 1.0, slots_per_node = 2, backfill = {backfill} }}
[platforms.s.stages.control_plane]
work = {{ latency = {{ family = "constant", value = 0.05 }} }}
resource = "slurm"
[platforms.s.workloads.relay.compute]
delay = {{ latency = {{ family = "lognormal", mu = 0.0, sigma = 0.8 }} }}
"#
        ),
        "s",
        Body::Relay,
    )
}

proptest! {
    /// The batch scheduler never runs more jobs on a node than it has slots; without backfill
    /// jobs start in submission order across the cluster, with backfill in submission order on
    /// each node; the same seed gives the same schedule.
    #[test]
    fn slurm_batch_scheduling_respects_slots_and_order(
        backfill in any::<bool>(), n in 1u64..120, partitions in 1u32..8, nodes in 1u32..4, window in 1u32..4, seed in any::<u64>(),
    ) {
        let platform = batch_platform(backfill);
        let w = workload(n, partitions, nodes, SubmitPolicy::Window { size: window });
        let mut trace = faastwin_sim::VecTrace::default();
        simulate(&platform, &w, seed, 0, &mut trace).unwrap();
        prop_assert_eq!(trace.rows.len() as u64, n);
        // A job holds its slot from its pass (50 ms before placement) to its body's end.
        let held = |r: &faastwin_sim::OwnedTraceRow| (
            r.start_of(faastwin_sim::Stage::Startup) - 0.05,
            r.start_of(faastwin_sim::Stage::Completion),
        );
        for node in 0..nodes {
            let mut edges: Vec<(f64, i32)> = trace.rows.iter().filter(|r| r.node == node)
                .flat_map(|r| { let (a, b) = held(r); [(a, 1), (b, -1)] }).collect();
            // Releases first at equal times: a slot freed and taken in the same pass.
            edges.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            let mut running = 0;
            for (_, d) in edges {
                running += d;
                prop_assert!(running <= 2, "node {} ran {} jobs at once", node, running);
            }
        }
        let mut by_submit: Vec<&faastwin_sim::OwnedTraceRow> = trace.rows.iter().collect();
        by_submit.sort_by(|a, b| a.submit_s().total_cmp(&b.submit_s()).then(a.invocation.cmp(&b.invocation)));
        // FIFO: a job submitted strictly before another never starts after it (simultaneous
        // submissions queue in the order the partitions submitted them).
        let in_order = |rows: &[&faastwin_sim::OwnedTraceRow]| {
            let mut earlier_max = f64::NEG_INFINITY;
            let mut group_max = f64::NEG_INFINITY;
            let mut group_submit = f64::NEG_INFINITY;
            rows.iter().all(|r| {
                if r.submit_s() > group_submit {
                    earlier_max = earlier_max.max(group_max);
                    group_submit = r.submit_s();
                }
                group_max = group_max.max(held(r).0);
                held(r).0 + 1e-9 >= earlier_max
            })
        };
        if backfill {
            for node in 0..nodes {
                let on_node: Vec<&faastwin_sim::OwnedTraceRow> = by_submit.iter().copied().filter(|r| r.node == node).collect();
                prop_assert!(in_order(&on_node), "node {} started out of order", node);
            }
        } else {
            prop_assert!(in_order(&by_submit), "FIFO started a later job first");
        }
        let mut again = faastwin_sim::VecTrace::default();
        simulate(&platform, &w, seed, 0, &mut again).unwrap();
        prop_assert_eq!(trace.rows, again.rows);
    }
}

#[test]
fn a_batch_scheduler_must_schedule_the_whole_cluster() {
    let err = faastwin_sim::Calibration::from_toml(
        r#"
[platforms.s.resources.slurm]
scope = "node"
discipline = { kind = "batch", interval_s = 1.0, slots_per_node = 2 }
[platforms.s.workloads.relay]
"#,
        "t",
    )
    // Refused as the file is read (with its line), or at the latest when compiled.
    .and_then(|c| c.compile("s", Body::Relay))
    .unwrap_err()
    .to_string();
    assert!(err.contains("scope must be \"cluster\""), "{err}");
}

/// Backfill by hand: a lower-priority job starts now if it ends before the top job's
/// reservation, or if the nodes free at the reservation cover both; never by taking a node the
/// reservation needs.
#[test]
fn backfill_starts_only_what_leaves_the_reservation_its_nodes() {
    let job = |id, nodes, limit| BatchJob {
        id,
        nodes,
        time_limit_s: limit,
        duration_s: limit,
    };
    let started = |jobs: &[BatchJob]| -> Vec<(u64, Option<f64>)> {
        let mut queue = SlurmQueue::new(6, true);
        for j in jobs {
            queue.submit(*j);
        }
        queue
            .schedule(0.0)
            .into_iter()
            .map(|(j, at)| (j.id, at))
            .collect()
    };
    // One node busy for long, four until 100; the top job needs 3: at 100, five are free, so a
    // one-node job running past 100 still leaves it three.
    assert_eq!(
        started(&[
            job(0, 1, 1000.0),
            job(1, 4, 100.0),
            job(2, 3, 50.0),
            job(3, 1, 200.0)
        ]),
        vec![(0, None), (1, None), (3, Some(100.0))]
    );
    // Two busy for long, three until 100; the top job needs 4, exactly what is free at 100: a
    // job running past 100 would take one of them, one ending by 50 does not.
    assert_eq!(
        started(&[
            job(0, 2, 1000.0),
            job(1, 3, 100.0),
            job(2, 4, 50.0),
            job(3, 1, 200.0),
            job(4, 1, 50.0)
        ]),
        vec![(0, None), (1, None), (4, Some(100.0))]
    );
    // What is left: the top job and the one that would have taken its node.
    let mut queue = SlurmQueue::new(6, true);
    for j in [
        job(0, 2, 1000.0),
        job(1, 3, 100.0),
        job(2, 4, 50.0),
        job(3, 1, 200.0),
        job(4, 1, 50.0),
    ] {
        queue.submit(j);
    }
    queue.schedule(0.0);
    assert_eq!(queue.pending(), 2);
    assert_eq!(queue.busy_nodes(), 6);
    assert_eq!(queue.top_reservation(0.0), Some((2, 100.0)));
    assert_eq!(queue.next_end(), Some(50.0));
}

fn allocation_queue(text: &str) -> faastwin_sim::slurm_queue::AllocationQueue {
    toml::from_str(text).unwrap()
}

const QUEUE: &str = r#"
cluster_nodes = 4
arrival_rate_per_s = 0.0
job_nodes = { family = "constant", value = 4 }
duration_s = { family = "constant", value = 1000 }
"#;

#[test]
fn an_allocation_queue_defaults_to_backfill_every_30_s_after_a_day_with_limits_twice_the_run() {
    let q = allocation_queue(QUEUE);
    assert!(q.backfill);
    assert_eq!(
        (
            q.interval_s,
            q.time_limit_factor,
            q.warmup_s,
            q.allocation_time_limit_s
        ),
        (30.0, 2.0, 86_400.0, 3_600.0)
    );
}

#[test]
fn allocation_queue_values_that_cannot_work_are_refused() {
    let q = allocation_queue(QUEUE);
    assert!(q.validate(4).is_ok(), "the whole cluster");
    let err = q.validate(5).unwrap_err().to_string();
    assert!(
        err.contains("the allocation needs 5 nodes but the cluster has 4"),
        "{err}"
    );
    for bad in [
        "interval_s = 0.0",
        "arrival_rate_per_s = -1.0",
        "time_limit_factor = 0.5",
        "warmup_s = -1.0",
    ] {
        let key = bad.split(' ').next().unwrap();
        let text = QUEUE
            .lines()
            .filter(|l| !l.starts_with(key))
            .collect::<Vec<_>>()
            .join("\n");
        let q = allocation_queue(&format!("{text}\n{bad}\n"));
        let err = q.validate(1).unwrap_err().to_string();
        assert!(
            err.contains("interval_s > 0, arrival_rate_per_s >= 0"),
            "{bad}: {err}"
        );
    }
    let edge = allocation_queue(&format!(
        "{QUEUE}\ntime_limit_factor = 1.0\nwarmup_s = 0.0\ninterval_s = 0.5\n"
    ));
    assert!(edge.validate(1).is_ok());
}

/// One background job, the whole cluster for 1000 s from 100 s before the allocation; passes
/// every 30 s from -100 s: the allocation is submitted at the pass at 20 s and starts at the
/// first pass after the job ends at 900 s. A job that ended before: at the pass at 20 s.
#[test]
fn an_allocation_waits_for_the_pass_after_the_background_job_that_holds_its_nodes() {
    let mut rng = faastwin_models::rng_from_seed(1);
    let q = allocation_queue(&format!("{QUEUE}\nwarmup_s = 100.0\n"));
    assert_eq!(q.wait(1, &mut rng), 920.0);
    let short = allocation_queue(&format!(
        "{}\nwarmup_s = 100.0\nduration_s = {{ family = \"constant\", value = 50 }}\n",
        QUEUE.replace("duration_s = { family = \"constant\", value = 1000 }", "")
    ));
    assert_eq!(short.wait(1, &mut rng), 20.0);
}
