//! Held-out configurations drawn at random (`loop --held-out K --seed S`): a model tuned on a
//! fixed set of held-out configurations has no held-out set left, so the loop draws them from
//! a declared space instead, one seed to develop against and another to report.
//!
//! The space, each dimension drawn independently and uniformly unless said:
//!
//! | dimension | values |
//! | --- | --- |
//! | body | ETL (2 in 3) or relay (1 in 3; configuration A then gains `A-relay`) |
//! | partitions | 1 … 4 × the most of any configuration A (and at most `--max-partitions`) |
//! | nodes | 1 … the loop's nodes (at most the partitions) |
//! | shard size (ETL) | 0.25 … 8 × `--small-shard-bytes`, log-uniform, in eighths |
//! | policy | a window of 1 … 4 (3 in 4), or open loop (1 in 4): Poisson arrivals per partition at 30 … 90 % of the rate one partition alone completes sequentially, as the calibration predicts it |
//! | invocations | `--invocations`, times the least whole factor giving every partition 4 |

use std::borrow::Cow;

use faastwin_measure::Body;
use rand::{Rng, SeedableRng};

use super::{LoopConfig, LoopPolicy};

/// Where the draws come from: the loop's calibration and nodes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Space {
    /// Most partitions a draw may have.
    pub(crate) max_partitions: u32,
    /// The loop's nodes.
    pub(crate) nodes: u32,
    /// `--invocations`.
    pub(crate) invocations: u64,
}

impl Space {
    /// The space of a loop whose configuration A is `calibration`, on `nodes` nodes, capped by
    /// `max_partitions`.
    pub(crate) fn of(
        calibration: &[LoopConfig],
        nodes: u32,
        max_partitions: u32,
        invocations: u64,
    ) -> Self {
        let widest = calibration.iter().map(|c| c.partitions).max().unwrap_or(1);
        Space {
            max_partitions: (4 * widest).min(max_partitions).max(1),
            nodes: nodes.max(1),
            invocations,
        }
    }
}

/// Invocations each partition of a drawn configuration gets at least.
pub(crate) const PER_PARTITION: u64 = 4;

/// `count` configurations drawn from `space` with `seed`: the same seed, the same draws.
/// Named `H<i>-<body>-p<partitions>-n<nodes>-<policy>[-<shard KiB>k]`.
pub(crate) fn draw(
    count: u32,
    seed: u64,
    space: &Space,
    small_shard_bytes: u64,
) -> Vec<LoopConfig> {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    (1..=count)
        .map(|i| {
            let body = if rng.random_range(0..3) == 0 {
                Body::Relay
            } else {
                Body::Etl
            };
            let partitions = rng.random_range(1..=space.max_partitions);
            let nodes = rng.random_range(1..=space.nodes.min(partitions));
            let eighths = (8.0 * 2f64.powf(rng.random_range(-2.0..=3.0))).round();
            let shard_factor = eighths.clamp(2.0, 64.0) / 8.0;
            let policy = if rng.random_range(0..4) == 0 {
                LoopPolicy::Open {
                    load: f64::from(rng.random_range(6..=18u32)) * 0.05,
                    rate_per_s: None,
                }
            } else {
                LoopPolicy::Closed {
                    window: rng.random_range(1..=4),
                }
            };
            let wanted = PER_PARTITION * u64::from(partitions);
            let scale = wanted.div_ceil(space.invocations).max(1);
            let policy_name = match &policy {
                LoopPolicy::Closed { window } => format!("w{window}"),
                LoopPolicy::Open { load, .. } => format!("open{:.0}", 100.0 * load),
            };
            let shard = match body {
                Body::Etl => format!(
                    "-{}k",
                    (small_shard_bytes as f64 * shard_factor / 1024.0).round()
                ),
                Body::Relay => String::new(),
            };
            LoopConfig {
                name: Cow::Owned(format!(
                    "H{i}-{body}-p{partitions}-n{nodes}-{policy_name}{shard}"
                )),
                body,
                partitions,
                policy,
                shard_factor: if body == Body::Etl { shard_factor } else { 1.0 },
                scale,
                nodes: Some(nodes),
            }
        })
        .collect()
}

/// Whether `name` is a drawn configuration's (`H<i>-...`).
pub(crate) fn is_drawn(name: &str) -> bool {
    name.strip_prefix('H')
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(number, _)| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
}

/// Invocations one partition alone completes per second, sequentially, on inputs of
/// `input_bytes`, as `calibration`'s platform `name` predicts: 100 invocations, median over
/// `replications`.
pub(crate) fn sequential_throughput(
    calibration: &faastwin_sim::Calibration,
    name: &str,
    body: Body,
    input_bytes: f64,
    replications: u32,
) -> Result<f64, crate::CalibrationError> {
    const INVOCATIONS: u64 = 100;
    let model = |source| crate::CalibrationError::Model {
        what: format!("the sequential throughput of {body} on {name}"),
        source,
    };
    let workload = faastwin_sim::Workload {
        body,
        invocations: INVOCATIONS,
        partitions: 1,
        nodes: 1,
        input_bytes: faastwin_models::Distribution::new(
            faastwin_models::RawDistribution::Constant { value: input_bytes },
        )
        .map_err(model)?,
        policy: faastwin_measure::SubmitPolicy::Sequential,
        placement: None,
        allocation_queue: None,
    };
    let platform = calibration.compile(name, body)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runs = faastwin_sim::replicate(&platform, &workload, 1, replications, threads, &|| {})?;
    let summary = faastwin_sim::PlatformSummary::of(&runs, 1)?;
    Ok(INVOCATIONS as f64 / summary.warm_makespan_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> Space {
        Space {
            max_partitions: 16,
            nodes: 2,
            invocations: 40,
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_configurations_and_another_seed_others() {
        let one = draw(8, 1, &space(), 1 << 20);
        assert_eq!(one, draw(8, 1, &space(), 1 << 20));
        assert_ne!(one, draw(8, 2, &space(), 1 << 20));
        assert_eq!(
            draw(3, 1, &space(), 1 << 20),
            one[..3],
            "a prefix of a longer draw"
        );
    }

    /// Every draw lies in the declared space, and over many draws every dimension's ends are
    /// reached: a space that is declared but never drawn from is not tested.
    #[test]
    fn draws_stay_in_the_declared_space_and_reach_its_ends() {
        let space = space();
        let draws = draw(2000, 7, &space, 1 << 20);
        let mut seen = (false, false, 0u32, 1.0f64, 1.0f64, 0u32, false);
        for c in &draws {
            assert!((1..=16).contains(&c.partitions), "{c:?}");
            let nodes = c.nodes.unwrap();
            assert!((1..=2).contains(&nodes) && nodes <= c.partitions, "{c:?}");
            assert!((0.25..=8.0).contains(&c.shard_factor), "{c:?}");
            assert_eq!((c.shard_factor * 8.0).fract(), 0.0, "eighths: {c:?}");
            assert!(
                c.scale * 40 >= PER_PARTITION * u64::from(c.partitions),
                "{c:?}"
            );
            assert!(
                (c.scale - 1) * 40 < PER_PARTITION * u64::from(c.partitions),
                "the least scale: {c:?}"
            );
            match c.policy {
                LoopPolicy::Closed { window } => {
                    assert!((1..=4).contains(&window));
                    seen.5 = seen.5.max(window);
                }
                LoopPolicy::Open { load, rate_per_s } => {
                    assert!((0.3 - 1e-9..=0.9 + 1e-9).contains(&load), "{c:?}");
                    assert_eq!(rate_per_s, None, "rates are set after the calibration");
                    seen.6 = true;
                }
            }
            seen.0 |= c.body == Body::Relay;
            seen.1 |= c.body == Body::Etl;
            seen.2 = seen.2.max(c.partitions);
            if c.body == Body::Etl {
                seen.3 = seen.3.min(c.shard_factor);
                seen.4 = seen.4.max(c.shard_factor);
            }
            assert!(is_drawn(&c.name), "{c:?}");
        }
        assert_eq!(seen, (true, true, 16, 0.25, 8.0, 4, true));
        assert!(draws.iter().any(|c| c.nodes == Some(2)));
    }

    #[test]
    fn drawn_names_are_told_from_the_fixed_ones() {
        for name in ["H1-etl-p2-n1-w1-1024k", "H12-relay-p3-n2-open60"] {
            assert!(is_drawn(name), "{name}");
        }
        for name in ["A-small", "B1-8-partitions", "Hx-1", "H-1", "H1", "A-relay"] {
            assert!(!is_drawn(name), "{name}");
        }
    }

    #[test]
    fn the_space_is_four_times_configuration_as_widest_capped_by_max_partitions() {
        let (a, _) = super::super::configurations(faastwin_measure::PlatformKind::K8s);
        assert_eq!(Space::of(&a, 2, 32, 40).max_partitions, 16);
        assert_eq!(Space::of(&a, 2, 10, 40).max_partitions, 10);
        let (a, _) = super::super::configurations(faastwin_measure::PlatformKind::Slurm);
        assert_eq!(Space::of(&a, 2, 32, 40).max_partitions, 8);
    }
}
