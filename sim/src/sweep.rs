//! What-if sweeps: a scenario's grid × platforms × (fits ×) replications, run here or anywhere in
//! chunks, and written as one CSV whatever ran it.
//!
//! ```text
//!  SweepPlan::load(scenario, seed, replications) ── hash of everything the numbers depend on
//!      │
//!      ├── run_local ─────────────── all units, in parallel ──┐
//!      └── chunk i/K (array task) ── chunk-i.json ── merge ───┴─▶ SweepResults ─▶ sweep CSV
//! ```
//!
//! This module owns every sweep file: the CSV (writer and reader), the chunk files, the
//! `sweep.json` of a sweep submitted as a Slurm job array, and that array's script.

mod array;
mod chunk;
mod csv;
mod files;

use std::path::{Path, PathBuf};

pub use array::{
    ArrayEvent, ArrayOutcome, ArrayProgress, ArrayScheduler, SchedulerError, prepare_array,
    retry_array, submit_array,
};
pub use chunk::{
    ChunkFile, SweepResults, Unit, UnitResult, chunk_units, merge, refit_counts, run_chunk,
    run_units, units,
};
pub use csv::{SweepRow, SweepTable, read_csv, write_csv};
pub use files::{ArrayOptions, SweepMeta, array_script, read_chunk, write_chunk};

use crate::SimError;
use crate::scenario::{GridPoint, Scenario};

/// A sweep ready to run: the scenario with the command line's overrides, its grid and hash.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    /// The scenario file, absolute (array tasks on other nodes read it).
    pub path: PathBuf,
    /// The loaded scenario.
    pub scenario: Scenario,
    /// Base seed.
    pub seed: u64,
    /// Replications per grid point and platform.
    pub replications: u32,
    /// The grid.
    pub grid: Vec<GridPoint>,
    /// sha256 of the scenario file, its calibration, the seed and the replication count.
    pub hash: String,
    /// Level of the prediction intervals in the CSV (it changes no simulation, so it is not
    /// in the hash).
    pub level: f64,
}

impl SweepPlan {
    /// Loads the scenario at `path`; `seed` and `replications` override the scenario's.
    pub fn load(
        path: &Path,
        seed: Option<u64>,
        replications: Option<u32>,
    ) -> Result<SweepPlan, SimError> {
        let scenario = Scenario::load(path)?;
        let replications = replications.unwrap_or(scenario.file.replications);
        if replications == 0 {
            return Err(SimError::Invalid {
                what: "replications must be at least 1".into(),
            });
        }
        let seed = seed.unwrap_or(scenario.file.seed);
        let text = std::fs::read(path).map_err(|source| SimError::Io {
            path: path.to_owned(),
            source,
        })?;
        let hash = hash(&text, &scenario.calibration.to_toml()?, seed, replications);
        let path = std::path::absolute(path).map_err(|source| SimError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(SweepPlan {
            path,
            grid: scenario.grid(),
            scenario,
            seed,
            replications,
            hash,
            level: crate::interval::DEFAULT_LEVEL,
        })
    }

    /// Every unit of the sweep, point-major.
    pub fn units(&self) -> Vec<Unit> {
        units(
            self.grid.len(),
            &refit_counts(&self.scenario),
            self.replications,
        )
    }

    /// Runs every unit here on up to `threads` threads.
    pub fn run_local(
        &self,
        threads: usize,
        progress: &(dyn Fn() + Sync),
    ) -> Result<SweepResults, SimError> {
        let results = run_units(
            &self.scenario,
            &self.grid,
            self.seed,
            &self.units(),
            threads,
            progress,
        )?;
        self.merge(&[ChunkFile {
            scenario_hash: self.hash.clone(),
            chunk: 0,
            chunks: 1,
            results,
        }])
    }

    /// Runs chunk `index` of `chunks`.
    pub fn chunk(&self, index: u32, chunks: u32) -> Result<ChunkFile, SimError> {
        run_chunk(
            &self.scenario,
            &self.grid,
            self.seed,
            self.replications,
            index,
            chunks,
            &self.hash,
        )
    }

    /// Merges chunk files of this sweep (refusing other versions, gaps and duplicates).
    pub fn merge(&self, files: &[ChunkFile]) -> Result<SweepResults, SimError> {
        merge(
            files,
            &self.hash,
            self.grid.len(),
            &self.scenario.file.platforms,
            &refit_counts(&self.scenario),
            self.replications,
        )
    }
}

/// Parses `INDEX/COUNT` (`3/8`): chunk INDEX of COUNT, INDEX below COUNT.
pub fn parse_chunk(text: &str) -> Result<(u32, u32), String> {
    let (i, k) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not INDEX/COUNT, e.g. 3/8"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("{s:?} in {text:?} is not a count"))
    };
    let (i, k) = (number(i)?, number(k)?);
    if k == 0 || i >= k {
        return Err(format!("chunk {i}/{k}: the index must be below the count"));
    }
    Ok((i, k))
}

/// sha256 of everything a sweep's numbers depend on.
fn hash(scenario: &[u8], calibration: &str, seed: u64, replications: u32) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(scenario);
    hasher.update(calibration.as_bytes());
    hasher.update(seed.to_le_bytes());
    hasher.update(replications.to_le_bytes());
    hex::encode(hasher.finalize())
}
