//! Where Jobs run: Kubernetes-like placement by requests against node allocatable.
//!
//! A [`Cluster`] holds each node's allocatable CPU, memory and pod count and what its Jobs
//! request. A Job that fits nowhere waits, and pending Jobs are retried in creation order
//! whenever capacity frees. How a node is chosen among the feasible ones is a [`Placement`]:
//! pinned (the study: the partition's node), least-allocated (kube-scheduler's default
//! spread) or most-allocated (bin packing); ties go to the lowest node index.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// What one Job (pod) requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// CPU [millicores].
    #[serde(default)]
    pub cpu_millicores: u32,
    /// Memory [MiB].
    #[serde(default)]
    pub memory_mib: u32,
}

/// What one node offers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocatable {
    /// CPU [millicores].
    pub cpu_millicores: u32,
    /// Memory [MiB].
    pub memory_mib: u32,
    /// Pods (kubelet's maxPods).
    #[serde(default = "max_pods")]
    pub max_pods: u32,
}

fn max_pods() -> u32 {
    110
}

/// How a node is chosen among those a Job fits on.
pub trait Placement: Send + Sync + std::fmt::Debug {
    /// The node for a Job preferring `home` (its partition's node), or `None` when it fits
    /// nowhere now. `fits(n)` says whether the Job fits on node n; `score(n)` is node n's
    /// allocated share after placing the Job (0 = empty, 1 = full).
    fn choose(
        &self,
        home: usize,
        nodes: usize,
        fits: &dyn Fn(usize) -> bool,
        score: &dyn Fn(usize) -> f64,
    ) -> Option<usize>;
    /// The model's name.
    fn name(&self) -> &'static str;
}

/// The partition's node, or wait.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pinned;

impl Placement for Pinned {
    fn choose(
        &self,
        home: usize,
        _nodes: usize,
        fits: &dyn Fn(usize) -> bool,
        _score: &dyn Fn(usize) -> f64,
    ) -> Option<usize> {
        fits(home).then_some(home)
    }
    fn name(&self) -> &'static str {
        "pinned"
    }
}

/// The feasible node that stays least allocated (kube-scheduler's LeastAllocated scoring).
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastAllocated;

impl Placement for LeastAllocated {
    fn choose(
        &self,
        _home: usize,
        nodes: usize,
        fits: &dyn Fn(usize) -> bool,
        score: &dyn Fn(usize) -> f64,
    ) -> Option<usize> {
        (0..nodes)
            .filter(|&n| fits(n))
            .min_by(|&a, &b| score(a).total_cmp(&score(b)).then(a.cmp(&b)))
    }
    fn name(&self) -> &'static str {
        "least_allocated"
    }
}

/// The feasible node that becomes most allocated (MostAllocated scoring: bin packing).
#[derive(Debug, Clone, Copy, Default)]
pub struct MostAllocated;

impl Placement for MostAllocated {
    fn choose(
        &self,
        _home: usize,
        nodes: usize,
        fits: &dyn Fn(usize) -> bool,
        score: &dyn Fn(usize) -> f64,
    ) -> Option<usize> {
        (0..nodes)
            .filter(|&n| fits(n))
            .min_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)))
    }
    fn name(&self) -> &'static str {
        "most_allocated"
    }
}

/// A placement model as a scenario names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum PlacementSpec {
    /// Partition p's Jobs on node p mod nodes (the study).
    Pinned {
        /// What each Job requests.
        request: Request,
        /// What each node offers.
        node: Allocatable,
    },
    /// Spread: the feasible node left least allocated.
    LeastAllocated {
        /// What each Job requests.
        request: Request,
        /// What each node offers.
        node: Allocatable,
    },
    /// Bin packing: the feasible node left most allocated.
    MostAllocated {
        /// What each Job requests.
        request: Request,
        /// What each node offers.
        node: Allocatable,
    },
}

impl PlacementSpec {
    /// The model, the request and the node allocatable.
    pub fn parts(&self) -> (Box<dyn Placement>, Request, Allocatable) {
        match *self {
            PlacementSpec::Pinned { request, node } => (Box::new(Pinned), request, node),
            PlacementSpec::LeastAllocated { request, node } => {
                (Box::new(LeastAllocated), request, node)
            }
            PlacementSpec::MostAllocated { request, node } => {
                (Box::new(MostAllocated), request, node)
            }
        }
    }

    /// Checks that one Job fits on an empty node.
    pub fn validate(&self) -> Result<(), crate::SimError> {
        let (_, r, n) = self.parts();
        if r.cpu_millicores > n.cpu_millicores || r.memory_mib > n.memory_mib || n.max_pods == 0 {
            return Err(crate::SimError::Invalid {
                what: format!("placement: a Job requesting {r:?} fits on no node offering {n:?}"),
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Used {
    cpu: u64,
    memory: u64,
    pods: u32,
}

/// Nodes, what is placed on them, and the Jobs waiting for room.
#[derive(Debug)]
pub struct Cluster<J> {
    model: Box<dyn Placement>,
    request: Request,
    node: Allocatable,
    used: Vec<Used>,
    pending: VecDeque<(J, usize)>,
}

impl<J: Copy> Cluster<J> {
    /// `nodes` identical nodes under `spec`.
    pub fn new(spec: &PlacementSpec, nodes: usize) -> Self {
        let (model, request, node) = spec.parts();
        Cluster {
            model,
            request,
            node,
            used: vec![Used::default(); nodes],
            pending: VecDeque::new(),
        }
    }

    fn fits(&self, n: usize) -> bool {
        let u = self.used[n];
        u.cpu + u64::from(self.request.cpu_millicores) <= u64::from(self.node.cpu_millicores)
            && u.memory + u64::from(self.request.memory_mib) <= u64::from(self.node.memory_mib)
            && u.pods < self.node.max_pods
    }

    /// Allocated share of node n after one more Job: mean of CPU and memory shares, pods
    /// when nothing else is requested.
    fn score(&self, n: usize) -> f64 {
        let u = self.used[n];
        let share =
            |used: u64, req: u32, cap: u32| (used + u64::from(req)) as f64 / f64::from(cap.max(1));
        if self.request.cpu_millicores == 0 && self.request.memory_mib == 0 {
            return f64::from(u.pods + 1) / f64::from(self.node.max_pods.max(1));
        }
        0.5 * (share(u.cpu, self.request.cpu_millicores, self.node.cpu_millicores)
            + share(u.memory, self.request.memory_mib, self.node.memory_mib))
    }

    fn try_place(&mut self, home: usize) -> Option<usize> {
        let nodes = self.used.len();
        let chosen = self
            .model
            .choose(home % nodes, nodes, &|n| self.fits(n), &|n| self.score(n))?;
        let u = &mut self.used[chosen];
        u.cpu += u64::from(self.request.cpu_millicores);
        u.memory += u64::from(self.request.memory_mib);
        u.pods += 1;
        Some(chosen)
    }

    /// A Job preferring node `home` arrives; returns its node, or `None` when it waits.
    ///
    /// It never takes room from a waiting Job: every waiting Job fits nowhere it may go (the
    /// invariant [`Cluster::idles_while_pending`] checks), so room the new Job finds is room
    /// no waiting Job can use (a Job pinned to a free node does not queue behind one pinned
    /// to a full node).
    pub fn submit(&mut self, job: J, home: usize) -> Option<usize> {
        if let Some(node) = self.try_place(home) {
            return Some(node);
        }
        self.pending.push_back((job, home));
        None
    }

    /// A Job on `node` ended; returns the waiting Jobs placed now, in creation order.
    pub fn release(&mut self, node: usize) -> Vec<(J, usize)> {
        let u = &mut self.used[node];
        u.cpu -= u64::from(self.request.cpu_millicores);
        u.memory -= u64::from(self.request.memory_mib);
        u.pods -= 1;
        let mut placed = Vec::new();
        let mut still = VecDeque::new();
        while let Some((job, home)) = self.pending.pop_front() {
            match self.try_place(home) {
                Some(n) => placed.push((job, n)),
                None => still.push_back((job, home)),
            }
        }
        self.pending = still;
        placed
    }

    /// Jobs waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Pods on each node.
    pub fn pods(&self) -> Vec<u32> {
        self.used.iter().map(|u| u.pods).collect()
    }

    /// True when no node holds more than its allocatable.
    pub fn within_capacity(&self) -> bool {
        self.used.iter().all(|u| {
            u.cpu <= u64::from(self.node.cpu_millicores)
                && u.memory <= u64::from(self.node.memory_mib)
                && u.pods <= self.node.max_pods
        })
    }

    /// True when some waiting Job would fit on a node its model may choose (should never
    /// hold after `submit` or `release`).
    pub fn idles_while_pending(&self) -> bool {
        self.pending.iter().any(|&(_, home)| {
            let nodes = self.used.len();
            self.model
                .choose(home % nodes, nodes, &|n| self.fits(n), &|n| self.score(n))
                .is_some()
        })
    }

    /// The model's name.
    pub fn model_name(&self) -> &'static str {
        self.model.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(spec: PlacementSpec, used: &[(u64, u64, u32)]) -> Cluster<u32> {
        let mut c = Cluster::new(&spec, used.len());
        for (u, &(cpu, memory, pods)) in c.used.iter_mut().zip(used) {
            *u = Used { cpu, memory, pods };
        }
        c
    }

    const REQUEST: Request = Request {
        cpu_millicores: 1000,
        memory_mib: 1024,
    };
    const NODE: Allocatable = Allocatable {
        cpu_millicores: 4000,
        memory_mib: 8192,
        max_pods: 10,
    };

    /// A Job that fits on no empty node (too much CPU, too much memory, or nodes that take no
    /// pods) is refused up front, each reason on its own; one that just fits is taken; a node
    /// section without max_pods gets the kubelet's default of 110.
    #[test]
    fn a_job_that_fits_on_no_node_is_refused() {
        let spec = |cpu, memory, max_pods| PlacementSpec::Pinned {
            request: Request {
                cpu_millicores: cpu,
                memory_mib: memory,
            },
            node: Allocatable { max_pods, ..NODE },
        };
        assert!(spec(4000, 8192, 1).validate().is_ok());
        for bad in [spec(4001, 1, 10), spec(1, 8193, 10), spec(1, 1, 0)] {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains("fits on no node"), "{err}");
        }
        assert_eq!(max_pods(), 110);
        let names = [
            PlacementSpec::Pinned {
                request: REQUEST,
                node: NODE,
            },
            PlacementSpec::LeastAllocated {
                request: REQUEST,
                node: NODE,
            },
            PlacementSpec::MostAllocated {
                request: REQUEST,
                node: NODE,
            },
        ]
        .map(|s| Cluster::<u32>::new(&s, 1).model_name());
        assert_eq!(names, ["pinned", "least_allocated", "most_allocated"]);
    }

    /// Three nodes loaded differently in CPU and memory; scores computed by hand: the mean of
    /// the CPU and memory shares after one more Job.
    #[test]
    fn scores_are_the_mean_allocated_share_after_one_more_job() {
        let used = [(1000, 4096, 1), (2000, 0, 1), (0, 0, 0)];
        let least = cluster(
            PlacementSpec::LeastAllocated {
                request: REQUEST,
                node: NODE,
            },
            &used,
        );
        for (n, want) in [
            (0, 0.5 * (0.5 + 0.625)),
            (1, 0.5 * (0.75 + 0.125)),
            (2, 0.5 * (0.25 + 0.125)),
        ] {
            assert!(
                (least.score(n) - want).abs() < 1e-12,
                "node {n}: {} vs {want}",
                least.score(n)
            );
        }
        let mut least = least;
        assert_eq!(least.try_place(0), Some(2), "spread: the emptiest node");
        let mut most = cluster(
            PlacementSpec::MostAllocated {
                request: REQUEST,
                node: NODE,
            },
            &used,
        );
        assert_eq!(most.try_place(2), Some(0), "bin packing: the fullest node");
        // Node 2 cannot take a Job now: the next best of each model.
        let full = [(1000, 4096, 1), (2000, 0, 1), (3500, 0, 1)];
        let mut least = cluster(
            PlacementSpec::LeastAllocated {
                request: REQUEST,
                node: NODE,
            },
            &full,
        );
        assert_eq!(least.try_place(2), Some(1));
        let mut pinned = cluster(
            PlacementSpec::Pinned {
                request: REQUEST,
                node: NODE,
            },
            &full,
        );
        assert_eq!(pinned.try_place(2), None, "pinned waits for its own node");
        assert_eq!(pinned.try_place(1), Some(1));
    }

    /// A Job that fills a node exactly fits; one millicore, MiB or pod more does not.
    #[test]
    fn a_job_that_exactly_fills_a_node_fits() {
        let spec = PlacementSpec::Pinned {
            request: REQUEST,
            node: NODE,
        };
        let edge = cluster(
            spec.clone(),
            &[(3000, 7168, 9), (3001, 0, 0), (0, 7169, 0), (0, 0, 10)],
        );
        assert!(edge.fits(0));
        assert!(!edge.fits(1), "CPU over");
        assert!(!edge.fits(2), "memory over");
        assert!(!edge.fits(3), "pods over");
    }

    /// With no CPU or memory requested, the pod count is the share.
    #[test]
    fn without_requests_the_pod_count_decides() {
        let none = Request {
            cpu_millicores: 0,
            memory_mib: 0,
        };
        let used = [(0, 0, 3), (0, 0, 1), (0, 0, 8)];
        let least = cluster(
            PlacementSpec::LeastAllocated {
                request: none,
                node: NODE,
            },
            &used,
        );
        for (n, want) in [(0, 0.4), (1, 0.2), (2, 0.9)] {
            assert!((least.score(n) - want).abs() < 1e-12, "node {n}");
        }
        let mut least = least;
        assert_eq!(least.try_place(0), Some(1));
        let mut most = cluster(
            PlacementSpec::MostAllocated {
                request: none,
                node: NODE,
            },
            &used,
        );
        assert_eq!(most.try_place(0), Some(2));
        assert_eq!(most.pods(), vec![3, 1, 9]);
    }

    /// The invariant checkers the property tests rely on see what they guard against: a node
    /// over each of its limits on its own, and a Job waiting while a node has room for it.
    #[test]
    fn the_checkers_see_a_node_over_each_limit_and_a_job_waiting_beside_room() {
        let spec = PlacementSpec::LeastAllocated {
            request: REQUEST,
            node: NODE,
        };
        assert!(cluster(spec.clone(), &[(4000, 8192, 10), (0, 0, 0)]).within_capacity());
        for over in [(4001, 0, 0), (0, 8193, 0), (0, 0, 11)] {
            assert!(
                !cluster(spec.clone(), &[(0, 0, 0), over]).within_capacity(),
                "{over:?}"
            );
        }
        let mut room = cluster(spec.clone(), &[(4000, 8192, 10), (0, 0, 0)]);
        assert_eq!(room.pending(), 0);
        room.pending.push_back((7, 0));
        assert_eq!(room.pending(), 1);
        assert!(room.idles_while_pending(), "node 1 is empty");
        let mut full = cluster(spec, &[(4000, 8192, 10), (4000, 8192, 10)]);
        full.pending.push_back((7, 0));
        assert!(!full.idles_while_pending(), "no node has room");
    }
}
