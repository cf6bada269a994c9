//! The platform's resources, one instance per cluster or per node, and the placement model.

use super::{STREAM_CYCLE, stream};
use crate::engine::{SimTime, from_secs};
use crate::metrics::Utilisation;
use crate::placement::Cluster;
use crate::platform::{CompiledPlatform, Discipline, Scope};
use crate::resource::{Batch, Cycle, Fifo, ProcessorSharing, Resource, Slot};
use crate::workload::Workload;

/// Every resource instance of a run.
pub(super) struct Resources {
    pub(super) instances: Vec<Resource>,
    /// First instance of each resource of the platform.
    base: Vec<usize>,
    node_scoped: Vec<bool>,
    /// Where Jobs run and how much room each node has (placement model).
    pub(super) cluster: Option<Cluster<Slot>>,
    /// Reused buffer for the jobs a processor-sharing instance finishes at once.
    pub(super) finished_buf: Vec<Slot>,
}

impl Resources {
    pub(super) fn new(platform: &CompiledPlatform, workload: &Workload, seed: u64) -> Resources {
        let nodes = workload.nodes as usize;
        let mut instances = Vec::new();
        let mut base = Vec::new();
        let mut node_scoped = Vec::new();
        for (index, (_, spec)) in platform.resources.iter().enumerate() {
            base.push(instances.len());
            let count = if spec.scope == Scope::Node { nodes } else { 1 };
            node_scoped.push(spec.scope == Scope::Node);
            for i in 0..count {
                // A periodic resource starts at a random phase of its interval.
                let phase = |interval_s: f64| {
                    let mut rng = stream(seed, STREAM_CYCLE, ((index as u64) << 32) | i as u64);
                    from_secs(interval_s * rand::Rng::random::<f64>(&mut rng))
                };
                instances.push(match spec.discipline {
                    Discipline::Fifo { servers } => Resource::Fifo(Fifo::new(servers)),
                    Discipline::ProcessorSharing {
                        capacity,
                        per_job_cap,
                    } => Resource::ProcessorSharing(Box::new(ProcessorSharing::new(
                        capacity,
                        per_job_cap,
                    ))),
                    Discipline::Batch {
                        interval_s,
                        slots_per_node,
                        backfill,
                    } => Resource::Batch(Box::new(Batch::new(
                        from_secs(interval_s),
                        phase(interval_s),
                        backfill,
                        nodes,
                        slots_per_node,
                    ))),
                    Discipline::Cycle { interval_s } => {
                        Resource::Cycle(Cycle::new(from_secs(interval_s), phase(interval_s)))
                    }
                });
            }
        }
        Resources {
            instances,
            base,
            node_scoped,
            cluster: workload.placement.as_ref().map(|p| Cluster::new(p, nodes)),
            finished_buf: Vec::new(),
        }
    }

    /// The instance of resource `resource` that serves `node`.
    pub(super) fn instance(&self, resource: usize, node: u32) -> usize {
        self.base[resource]
            + if self.node_scoped[resource] {
                node as usize
            } else {
                0
            }
    }

    /// Mean utilisation of each resource over its instances, up to `end`.
    pub(super) fn utilisation(
        &mut self,
        platform: &CompiledPlatform,
        nodes: u32,
        end: SimTime,
    ) -> Vec<Utilisation> {
        platform
            .resources
            .iter()
            .enumerate()
            .map(|(r, (name, _))| {
                let count = if self.node_scoped[r] {
                    nodes as usize
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
            .collect()
    }
}
