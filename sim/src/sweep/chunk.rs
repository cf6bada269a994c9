//! Work units, the one executor that runs any set of them, chunk files and their merge.
//!
//! A sweep is a list of work units — (grid point, platform, fit, replication) — in a fixed
//! order; fit 0 is the calibration's own model, fit k its refit k (`calibrate --refits`),
//! simulated for the prediction intervals.
//! Chunk `i` of `k` takes the units whose index is `i` modulo `k`. A unit's seed depends only
//! on the base seed and its replication, never on the chunk, so merging the chunks of any `k`
//! gives exactly the results of one local sweep. Every chunk file carries a hash of the
//! scenario it was computed from, and a merge refuses chunks of another scenario version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::SimError;
use crate::interval::{refit_replications, refit_seed};
use crate::metrics::RunResult;
use crate::model::simulate;
use crate::replicate::{parallel_indexed, replication_seed};
use crate::scenario::{GridPoint, Scenario};
use crate::trace::NoTrace;

/// One simulation of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unit {
    /// Grid point index.
    pub point: usize,
    /// Index in the scenario's `platforms`.
    pub platform: usize,
    /// 0: the calibration's model of the platform; k: its refit k.
    pub fit: u32,
    /// Replication.
    pub replication: u32,
}

/// Every unit of a sweep, point-major: at every point, each platform's `replications`, then
/// each of its refits' share of them (`refits[i]` refits of platform `i`).
pub fn units(points: usize, refits: &[usize], replications: u32) -> Vec<Unit> {
    let mut all = Vec::new();
    for point in 0..points {
        for (platform, &count) in refits.iter().enumerate() {
            let each = refit_replications(replications, count);
            for fit in 0..=count as u32 {
                for replication in 0..if fit == 0 { replications } else { each } {
                    all.push(Unit {
                        point,
                        platform,
                        fit,
                        replication,
                    });
                }
            }
        }
    }
    all
}

/// How many refits each of `scenario`'s platforms has.
pub fn refit_counts(scenario: &Scenario) -> Vec<usize> {
    scenario
        .file
        .platforms
        .iter()
        .map(|name| scenario.calibration.refits.get(name).map_or(0, Vec::len))
        .collect()
}

/// The units of chunk `index` of `chunks` (round-robin, so chunks are balanced).
pub fn chunk_units(all: &[Unit], index: u32, chunks: u32) -> Vec<Unit> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| *i as u64 % u64::from(chunks) == u64::from(index))
        .map(|(_, u)| *u)
        .collect()
}

/// The result of one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    /// Grid point index.
    pub point: usize,
    /// Platform name.
    pub platform: String,
    /// 0: the calibration's model; k: its refit k.
    #[serde(default)]
    pub fit: u32,
    /// Replication.
    pub replication: u32,
    /// What the simulation reported.
    pub result: RunResult,
}

/// What one chunk writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkFile {
    /// Hash of the scenario, calibration, seed and replications it was computed from.
    pub scenario_hash: String,
    /// This chunk's index.
    pub chunk: u32,
    /// Number of chunks.
    pub chunks: u32,
    /// Its units' results.
    pub results: Vec<UnitResult>,
}

/// Runs `units` of `scenario`'s sweep on up to `threads` threads; results in `units` order.
/// `progress` is called after each unit. A local sweep runs every unit; an array task its chunk.
pub fn run_units(
    scenario: &Scenario,
    grid: &[GridPoint],
    seed: u64,
    units: &[Unit],
    threads: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<UnitResult>, SimError> {
    let platforms = &scenario.file.platforms;
    let run = |unit: &Unit| -> Result<UnitResult, SimError> {
        let point = grid.get(unit.point).ok_or_else(|| SimError::Invalid {
            what: format!("unit of grid point {} beyond the grid", unit.point),
        })?;
        let name = &platforms[unit.platform];
        let (platform, seed) =
            match unit.fit {
                0 => (
                    scenario.calibration.compile(name, point.workload.body)?,
                    seed,
                ),
                k => {
                    let i = k as usize - 1;
                    let refit = scenario.calibration.refit(name, i).ok_or_else(|| {
                        SimError::Invalid {
                            what: format!(
                                "unit of refit {k} of {name}, which the calibration does not have"
                            ),
                        }
                    })?;
                    (
                        refit.compile(name, point.workload.body)?,
                        refit_seed(seed, i),
                    )
                }
            };
        let result = simulate(
            &platform,
            &point.workload,
            replication_seed(seed, unit.replication),
            unit.replication,
            &mut NoTrace,
        )?;
        Ok(UnitResult {
            point: unit.point,
            platform: name.clone(),
            fit: unit.fit,
            replication: unit.replication,
            result,
        })
    };
    parallel_indexed(
        units.len(),
        threads,
        "a sweep unit",
        |i| run(&units[i]),
        progress,
    )
}

/// Runs chunk `index` of `chunks` of `scenario`'s sweep.
pub fn run_chunk(
    scenario: &Scenario,
    grid: &[GridPoint],
    seed: u64,
    replications: u32,
    index: u32,
    chunks: u32,
    scenario_hash: &str,
) -> Result<ChunkFile, SimError> {
    if chunks == 0 || index >= chunks {
        return Err(SimError::Invalid {
            what: format!("chunk {index}/{chunks}: need 0 <= index < chunks"),
        });
    }
    let all = units(grid.len(), &refit_counts(scenario), replications);
    let results = run_units(
        scenario,
        grid,
        seed,
        &chunk_units(&all, index, chunks),
        1,
        &|| {},
    )?;
    Ok(ChunkFile {
        scenario_hash: scenario_hash.to_owned(),
        chunk: index,
        chunks,
        results,
    })
}

/// Results of a whole sweep: per (grid point, platform index), per fit (the calibration's
/// model first, then each refit), replications in order.
pub type SweepResults = BTreeMap<(usize, usize), Vec<Vec<RunResult>>>;

/// Merges chunk files into the results of the whole sweep, checking that every chunk comes from
/// the same scenario version and that no unit is missing or duplicated.
pub fn merge(
    chunk_files: &[ChunkFile],
    scenario_hash: &str,
    points: usize,
    platforms: &[String],
    refits: &[usize],
    replications: u32,
) -> Result<SweepResults, SimError> {
    let mut slots: BTreeMap<(usize, usize, u32, u32), RunResult> = BTreeMap::new();
    for file in chunk_files {
        if file.scenario_hash != scenario_hash {
            return Err(SimError::Invalid {
                what: format!(
                    "chunk {} of {} was computed from another scenario version (hash {}, expected {})",
                    file.chunk, file.chunks, file.scenario_hash, scenario_hash
                ),
            });
        }
        for r in &file.results {
            let platform = platforms
                .iter()
                .position(|p| *p == r.platform)
                .ok_or_else(|| SimError::Invalid {
                    what: format!("chunk {}: unknown platform {}", file.chunk, r.platform),
                })?;
            if slots
                .insert((r.point, platform, r.fit, r.replication), r.result.clone())
                .is_some()
            {
                return Err(SimError::Invalid {
                    what: format!(
                        "point {} platform {} fit {} replication {} appears twice",
                        r.point, r.platform, r.fit, r.replication
                    ),
                });
            }
        }
    }
    let mut merged = SweepResults::new();
    for unit in units(points, refits, replications) {
        let result = slots
            .remove(&(unit.point, unit.platform, unit.fit, unit.replication))
            .ok_or_else(|| SimError::Invalid {
                what: format!(
                    "missing: point {} platform {} fit {} replication {}",
                    unit.point, platforms[unit.platform], unit.fit, unit.replication
                ),
            })?;
        let fits = merged.entry((unit.point, unit.platform)).or_default();
        if fits.len() <= unit.fit as usize {
            fits.resize_with(unit.fit as usize + 1, Vec::new);
        }
        fits[unit.fit as usize].push(result);
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_partition_the_units() {
        let all = units(3, &[0, 2], 4);
        // Per point: 4 of the first platform, 4 + 2 refits x 2 of the second.
        assert_eq!(all.len(), 3 * (4 + 4 + 2 * 2));
        for k in 1..7 {
            let mut seen: Vec<Unit> = (0..k).flat_map(|i| chunk_units(&all, i, k)).collect();
            seen.sort();
            assert_eq!(seen, all, "k = {k}");
            let sizes: Vec<usize> = (0..k).map(|i| chunk_units(&all, i, k).len()).collect();
            assert!(
                sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
                "balanced: {sizes:?}"
            );
        }
    }

    #[test]
    fn merge_refuses_other_versions_gaps_and_duplicates() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/what-if/partitions.toml"
        ))
        .unwrap();
        let scenario =
            Scenario::parse(&text, "partitions.toml", std::path::Path::new(".")).unwrap();
        let grid = scenario.grid();
        let platforms = scenario.file.platforms.clone();
        let refits = refit_counts(&scenario);
        let chunks: Vec<ChunkFile> = (0..2)
            .map(|i| run_chunk(&scenario, &grid, 1, 1, i, 2, "h1").unwrap())
            .collect();
        assert!(merge(&chunks, "h1", grid.len(), &platforms, &refits, 1).is_ok());
        let err = merge(&chunks, "h2", grid.len(), &platforms, &refits, 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("another scenario version"), "{err}");
        let err = merge(&chunks[..1], "h1", grid.len(), &platforms, &refits, 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
        let twice = vec![chunks[0].clone(), chunks[0].clone(), chunks[1].clone()];
        assert!(
            merge(&twice, "h1", grid.len(), &platforms, &refits, 1)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(
            run_chunk(&scenario, &grid, 1, 1, 2, 2, "h1").is_err(),
            "index beyond the count"
        );
    }
}
