//! Process and container starts and teardowns measured on nodes with fewer cores than
//! partitions: how much of their wall time to keep.
//!
//! A body measured with `b` bodies per node on `c < b` cores took `b / c` times its service
//! time (processor sharing), so its durations are scaled by `c / b`. Starts and teardowns were
//! scaled the same way, which assumes that every one of them overlapped others for its whole
//! length and that all of it was CPU work. Neither holds: about half a container's start is a
//! wait (`cpu_work`), and two partitions' starts overlap only part of the time. On logical
//! nodes of one CPU (docs/loops/container-15, container-16) configuration A's own runs came out
//! 38-52 % too fast. So the scale is chosen between `c / b` and 1 so that the simulator
//! reproduces the runs' own mean and p95 Job latency, as the container engine's serial time is.

use faastwin_measure::InvocationRecord;
use faastwin_sim::PlatformSpec;

use super::contention::latency_error;
use super::cpu_work::{share_and_how, split, split_with};
use super::fitter::{Fitter, scale_of};
use crate::CalibrationError;
use crate::runs::Run;

/// Scales tried, evenly from `c / b` to 1.
const SCALES: usize = 11;

/// The startup and completion of `spec` (a local or container platform) refitted from `warm`
/// with the scale of [`SCALES`] whose simulated latency of `runs` is closest to the measured;
/// returns the scale (1 where the nodes had a core per body, and nothing changes).
pub(super) fn fit_scale(
    f: &mut Fitter<'_>,
    name: &str,
    spec: &mut PlatformSpec,
    warm: &[&InvocationRecord],
    runs: &[&Run],
) -> Result<f64, CalibrationError> {
    let cpus = runs.first().and_then(|r| r.meta.platform.cpus_per_node);
    let lowest = scale_of(&runs.iter().collect::<Vec<_>>(), cpus);
    if lowest >= 1.0 {
        return Ok(1.0);
    }
    let (share, how) = share_and_how(runs);
    let column = |get: fn(&InvocationRecord) -> Option<f64>, scale: f64| -> Vec<f64> {
        warm.iter()
            .filter_map(|r| get(r))
            .filter(|v| *v >= 0.0)
            .map(|v| v * scale)
            .collect()
    };
    let starts = |r: &InvocationRecord| r.pre_body_s();
    let ends = |r: &InvocationRecord| r.completion_s;
    let (what_start, what_end) = (f.what("startup"), f.what("completion"));
    let candidate = |scale: f64| -> Result<PlatformSpec, CalibrationError> {
        let mut s = spec.clone();
        s.stages.startup = split_with("startup", &column(starts, scale), share, &mut |_, v| {
            Ok(Some(crate::fit::fit(&v, &what_start)?.model))
        })?;
        s.stages.completion =
            split_with("completion", &column(ends, scale), share, &mut |_, v| {
                Ok(Some(crate::fit::fit(&v, &what_end)?.model))
            })?;
        Ok(s)
    };
    let (mut best, mut least) = (lowest, f64::INFINITY);
    let mut at_lowest = f64::NAN;
    for k in 0..SCALES {
        let scale = lowest + (1.0 - lowest) * k as f64 / (SCALES - 1) as f64;
        let e = latency_error(runs, name, &candidate(scale)?)?;
        if k == 0 {
            at_lowest = e;
        }
        if e < least {
            (best, least) = (scale, e);
        }
    }
    *spec = candidate(best)?;
    // The components, recorded again with the scale chosen.
    f.components.retain(|c| {
        !matches!(
            c.component.as_str(),
            "startup" | "startup_wait" | "completion" | "completion_wait"
        )
    });
    let busiest = runs.iter().map(|r| r.bodies_per_node()).max().unwrap_or(1);
    let scaled = format!(
        "measured with up to {busiest} partitions per node on {} cores, scaled by {best:.2}, chosen from {SCALES} scales ({lowest:.2}, as if all CPU work overlapping, to 1) so that the simulated mean and p95 latency of the runs fit best: summed squared relative error {least:.4}; at {lowest:.2} it was {at_lowest:.4}",
        cpus.unwrap_or(1)
    );
    split(
        f,
        "startup",
        column(starts, best),
        share,
        &format!("spawn requested -> body start (worker clock); {how}; {scaled}"),
    )?;
    split(
        f,
        "completion",
        column(ends, best),
        share,
        &format!("body end -> exit seen (process teardown and reaping); {how}; {scaled}"),
    )?;
    Ok(best)
}
