//! Process and container starts and teardowns measured on nodes with fewer cores than
//! partitions: their CPU work as measured, their wait as what is left of their wall time.
//!
//! A body measured with `b` bodies per node on `c < b` cores took `b / c` times its service
//! time (processor sharing), so its durations are scaled by `c / b`. Starts and teardowns used
//! to be scaled the same way, which takes all of them for CPU work: about half a container's
//! start is a wait (`cpu_work`), so A's own runs came out 38-52 % too fast on logical nodes of
//! one CPU (docs/loops/container-15, container-16). The machine's busy time says how much CPU
//! each start takes, whatever the load: `share` of its wall time `v`. That work was stretched
//! by the `b / c` partitions sharing the cores, so the wait is what remains,
//! `v - share · v · b / c` (none when the cores were busy all along). As a stage split: the wall
//! times scaled by `1 - share · (b / c - 1)`, of which the share `share / scale` is work.

use faastwin_measure::InvocationRecord;

use super::cpu_work::share_and_how;
use super::fitter::scale_of;
use crate::runs::Run;

/// How the starts and teardowns of `runs` are split: each wall time scaled by `scale`, of
/// which `share` is CPU work on the node's cores and the rest a wait, and how that was found.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StartSplit {
    /// Factor on each measured wall time.
    pub(super) scale: f64,
    /// Share of the scaled time that is CPU work.
    pub(super) share: f64,
    /// In words, for the provenance.
    pub(super) how: String,
}

impl StartSplit {
    /// The split of `runs`' starts and teardowns.
    pub(super) fn of(runs: &[&Run]) -> StartSplit {
        let (measured, how) = share_and_how(runs);
        let cpus = runs.first().and_then(|r| r.meta.platform.cpus_per_node);
        let stretch = 1.0 / scale_of(&runs.iter().collect::<Vec<_>>(), cpus);
        if stretch <= 1.0 {
            return StartSplit {
                scale: 1.0,
                share: measured,
                how,
            };
        }
        // The CPU work cannot take longer than the wall time it was measured in.
        let scale = (1.0 - measured * (stretch - 1.0)).max(measured).max(1e-3);
        let busiest = runs.iter().map(|r| r.bodies_per_node()).max().unwrap_or(1);
        StartSplit {
            scale,
            share: (measured / scale).min(1.0),
            how: format!(
                "{how}; measured with up to {busiest} partitions per node on {} cores, so that work was stretched {stretch:.2}x: the wait is what is left, {:.0} % of the wall time",
                cpus.unwrap_or(1),
                100.0 * (scale - measured).max(0.0)
            ),
        }
    }

    /// One column of the warm rows, non-negative values, scaled.
    pub(super) fn values(
        &self,
        warm: &[&InvocationRecord],
        get: impl Fn(&InvocationRecord) -> Option<f64>,
    ) -> Vec<f64> {
        warm.iter()
            .filter_map(|r| get(r))
            .filter(|v| *v >= 0.0)
            .map(|v| v * self.scale)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::StartSplit;
    use crate::runs::kept;

    #[test]
    fn the_wait_is_the_wall_time_less_the_measured_work_stretched_by_the_partitions_per_core() {
        // A-small: two partitions on a node of one CPU (container-16) or of two (container-14).
        let one = kept("container-16/run-A-small");
        let split = StartSplit::of(&[&one]);
        let (measured, _) = super::share_and_how(&[&one]);
        assert!(measured > 0.2 && measured < 0.5, "{measured}");
        // work = measured share of the wall time, unscaled; wait = wall - 2 x work.
        assert!((split.scale * split.share - measured).abs() < 1e-12);
        let wait = split.scale * (1.0 - split.share);
        assert!((wait - (1.0 - 2.0 * measured)).abs() < 1e-12, "{split:?}");
        assert!(split.how.contains("up to 2 partitions per node on 1 cores"));
        let two = kept("container-14/run-A-small");
        let whole = StartSplit::of(&[&two]);
        assert_eq!(whole.scale, 1.0, "a core per partition: as measured");
        assert_eq!(whole.share, super::share_and_how(&[&two]).0);
    }
}
