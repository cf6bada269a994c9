//! What is run: invocations, partitions, nodes, input sizes and the submission policy.

use faastwin_models::{Body, Distribution, SubmitPolicy};

/// A batch of invocations.
///
/// Invocation `i` belongs to partition `i mod partitions`; partition `p` runs on node
/// `p mod nodes` (one partition per node when they are equal, several per node when there are
/// more partitions). Each partition submits its invocations in id order under `policy`.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Which function body runs: selects the body models of the platform.
    pub body: Body,
    /// Number of invocations.
    pub invocations: u64,
    /// Number of partitions (independent submitters).
    pub partitions: u32,
    /// Number of worker nodes.
    pub nodes: u32,
    /// Input size of each invocation [bytes], drawn per invocation.
    pub input_bytes: Distribution,
    /// How each partition submits.
    pub policy: SubmitPolicy,
    /// Where Jobs run; `None`: partition p's Jobs on node p mod nodes, with no capacity limit.
    pub placement: Option<crate::placement::PlacementSpec>,
    /// The Slurm queue the platform's allocation waits in before its node startups (KSI).
    pub allocation_queue: Option<crate::slurm_queue::AllocationQueue>,
}

/// Most invocations one replication simulates (about 11 minutes on one core).
pub const MAX_INVOCATIONS: u64 = 1_000_000_000;
/// Most partitions of a workload.
pub const MAX_PARTITIONS: u64 = 1_000_000;
/// Most nodes of a workload.
pub const MAX_NODES: u64 = 100_000;

impl Workload {
    /// The node that partition `p` runs on.
    pub fn node_of(&self, partition: u32) -> u32 {
        partition % self.nodes
    }

    /// Invocations of partition `p`.
    pub fn partition_size(&self, partition: u32) -> u64 {
        let p = u64::from(partition);
        let n = u64::from(self.partitions);
        if p >= self.invocations {
            0
        } else {
            (self.invocations - p).div_ceil(n)
        }
    }

    /// Checks the counts and the policy.
    pub fn validate(&self) -> Result<(), crate::SimError> {
        let bad = |what: String| Err(crate::SimError::Invalid { what });
        for (field, value, max) in [
            ("invocations", self.invocations, MAX_INVOCATIONS),
            // Nodes before partitions: partitions default to the node count, so an absurd node
            // count is named as what the user wrote.
            ("nodes", u64::from(self.nodes), MAX_NODES),
            ("partitions", u64::from(self.partitions), MAX_PARTITIONS),
        ] {
            if value == 0 {
                return bad(format!("workload.{field} must be at least 1"));
            }
            if value > max {
                return bad(format!(
                    "workload.{field} = {value} is above the limit of {max}{}",
                    if field == "invocations" {
                        " (one replication simulates about 1.5 million invocations per second on one core)"
                    } else {
                        " (each takes memory for the whole run)"
                    }
                ));
            }
        }
        if let Some(placement) = &self.placement {
            placement.validate()?;
        }
        if let Some(queue) = &self.allocation_queue {
            queue.validate(self.nodes)?;
        }
        match &self.policy {
            SubmitPolicy::Window { size: 0 } => bad("policy window size must be at least 1".into()),
            SubmitPolicy::Poisson { rate_per_s }
                if !(*rate_per_s > 0.0 && rate_per_s.is_finite()) =>
            {
                bad(format!(
                    "policy poisson rate_per_s must be > 0 (got {rate_per_s})"
                ))
            }
            SubmitPolicy::Arrivals { times_s } if times_s.len() as u64 != self.invocations => {
                bad(format!(
                    "arrival times: {} times for {} invocations",
                    times_s.len(),
                    self.invocations
                ))
            }
            SubmitPolicy::Arrivals { times_s } => {
                let p = self.partitions as usize;
                for (i, w) in times_s.iter().enumerate() {
                    if !(w.is_finite() && *w >= 0.0) {
                        return bad(format!("arrival time {i} is {w}, not a time >= 0"));
                    }
                    if i >= p && times_s[i - p] > *w {
                        return bad(format!(
                            "arrival times of partition {} go back in time at invocation {i}",
                            i % p
                        ));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
