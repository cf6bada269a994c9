//! The kubelet's relist (issue 30): the kubelet sees a container's end only at the next pass
//! of its pod lifecycle event generator, every second or so, a clock with its own phase on
//! each node. Its period is read from the pods' terminated instants (`t_terminated_seen`),
//! which fall on the passes: on this testbed consecutive ones lie whole periods apart, within
//! tens of ms. Calibration names it in the completion's provenance; a platform file can model
//! it as a `cycle` resource per node that the completion stage waits for (its `clock`), which
//! makes sequential Jobs' latencies come in whole periods (3.0 or 4.0 s) as measured. Fitted
//! so by default, held-out configurations at more Jobs in flight came out worse
//! (docs/fidelity.md, "The kubelet's relist"), so calibration keeps the completion a delay.

use std::collections::BTreeMap;

use faastwin_measure::InvocationRecord;

/// The kubelet's relist period when nothing else is known [s] (`relistPeriod`, 1 s).
const NOMINAL_S: f64 = 1.0;

/// Consecutive terminated instants further apart than this are not counted [s]: too many
/// periods for the spacing to tell one period from the next.
const LONGEST_S: f64 = 10.0;

/// A spacing within this of a whole number of periods fits the clock [s].
const TOLERANCE_S: f64 = 0.1;

/// The clock is read only from at least this many spacings, of which at least this share fit.
const SPACINGS: usize = 20;
const FITTING: f64 = 0.6;

/// The relist as read from runs: its period, the lag from a pass to the terminated instant
/// seen, and what follows.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Relist {
    /// Period [s].
    pub(super) period_s: f64,
    /// A pass → the pod's terminated state seen by the client [s], as the shortest waits
    /// bound it.
    pub(super) lag_s: f64,
    /// Median terminated seen → completion seen [s].
    pub(super) after_s: f64,
    /// How it was read, for the provenance.
    pub(super) how: String,
}

/// Reads the relist from `warm` (the runs' warm rows), or says why it cannot: too few
/// terminated instants, or spacings that do not come in whole periods (fake nodes, whose
/// containers kwok ends at once, or a node too busy to keep its clock).
pub(super) fn read(warm: &[&InvocationRecord]) -> Result<Relist, String> {
    let mut seen: BTreeMap<(&str, u32, u32, &str), Vec<u64>> = BTreeMap::new();
    for r in warm {
        if let Some(t) = r.t_terminated_seen {
            seen.entry((&r.run_id, r.session, r.repetition, &r.node))
                .or_default()
                .push(t);
        }
    }
    let mut spacings = Vec::new();
    for instants in seen.values_mut() {
        instants.sort_unstable();
        spacings.extend(
            instants
                .windows(2)
                .map(|w| (w[1] - w[0]) as f64 / 1e9)
                .filter(|d| (0.5 * NOMINAL_S..=LONGEST_S).contains(d)),
        );
    }
    if spacings.len() < SPACINGS {
        return Err(format!(
            "{} spacings of consecutive terminated instants on one node, fewer than {SPACINGS}",
            spacings.len()
        ));
    }
    let periods: Vec<f64> = spacings
        .iter()
        .map(|d| d / (d / NOMINAL_S).round().max(1.0))
        .collect();
    let period = median(&periods);
    let fitting = spacings
        .iter()
        .filter(|d| {
            let whole = (*d / period).round().max(1.0);
            (*d - whole * period).abs() <= TOLERANCE_S
        })
        .count() as f64
        / spacings.len() as f64;
    if fitting < FITTING {
        return Err(format!(
            "only {:.0} % of {} spacings of consecutive terminated instants lie within {TOLERANCE_S} s of whole periods of {period:.3} s",
            100.0 * fitting,
            spacings.len()
        ));
    }
    // The wait for the pass is between 0 and a period: its shortest 5 % are within 5 % of a
    // period of 0, so what the shortest body end → terminated seen leave is the lag.
    let waits: Vec<f64> = warm
        .iter()
        .filter_map(|r| Some(r.completion_s? - after_pass(r)?))
        .collect();
    let lag = (quantile(&waits, 0.05) - 0.05 * period).max(0.0);
    let after: Vec<f64> = warm.iter().filter_map(|r| after_pass(r)).collect();
    let after_s = median(&after);
    Ok(Relist {
        period_s: period,
        lag_s: lag,
        after_s,
        how: format!(
            "the kubelet sees a container's end at its relist passes, every {period:.3} s on each node (the median spacing of consecutive pods' terminated instants, t_terminated_seen, over whole periods: {} spacings, {:.0} % within {TOLERANCE_S} s of whole periods); a pass is seen {lag:.3} s after it at least, and the completion {after_s:.3} s after that (medians): the delay holds a wait of up to a period",
            spacings.len(),
            100.0 * fitting
        ),
    })
}

/// Terminated seen → completion seen [s].
fn after_pass(r: &InvocationRecord) -> Option<f64> {
    let (done, terminated) = (r.t_done_seen?, r.t_terminated_seen?);
    (done >= terminated).then(|| (done - terminated) as f64 / 1e9)
}

/// The type-7 quantile `q` of `values` (the project's estimator); 0 when empty.
fn quantile(values: &[f64], q: f64) -> f64 {
    faastwin_models::quantile::of(values, q).unwrap_or(0.0)
}

fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::kept;

    /// The kept Kubernetes loop k8s-12: its A runs show the relist at about 1.007 s, a lag of
    /// tens of ms, and about 2.1 s from terminated seen to completion seen.
    #[test]
    fn the_relist_is_read_from_the_terminated_instants_of_a_kept_loop() {
        let runs = [kept("k8s-12/run-A-small"), kept("k8s-12/run-A-double")];
        let warm: Vec<&InvocationRecord> = runs.iter().flat_map(|r| r.warm()).collect();
        let relist = read(&warm).unwrap();
        assert!(
            (1.0..1.03).contains(&relist.period_s),
            "{}",
            relist.period_s
        );
        assert!((0.0..0.2).contains(&relist.lag_s), "{}", relist.lag_s);
        assert!((1.9..2.4).contains(&relist.after_s), "{}", relist.after_s);
        assert!(relist.how.contains("t_terminated_seen"), "{}", relist.how);
    }

    /// Terminated instants that keep no clock (spread at random) give no relist.
    #[test]
    fn instants_without_a_clock_give_no_relist() {
        let run = kept("k8s-12/run-A-small");
        let mut records: Vec<InvocationRecord> = run.warm().cloned().collect();
        let mut t = records[0].t_terminated_seen.unwrap();
        for (i, r) in records.iter_mut().enumerate() {
            // Spacings of 1.3, 1.6, 1.9, 2.2, 2.5 s: far from whole periods of any one length.
            t += 1_300_000_000 + 300_000_000 * (i as u64 % 5);
            r.t_terminated_seen = Some(t);
            r.t_done_seen = Some(t + 2_000_000_000);
        }
        let warm: Vec<&InvocationRecord> = records.iter().collect();
        let err = read(&warm).unwrap_err();
        assert!(err.contains("whole periods"), "{err}");
        assert!(read(&warm[..5]).unwrap_err().contains("fewer than"));
    }
}
