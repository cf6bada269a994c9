//! The files of a sweep run as a Slurm job array:
//!
//! ```text
//!  OUT/sweep.json      what was submitted (scenario, hash, chunks, seed, replications, job ids)
//!  OUT/sweep.sbatch    the array script: task i runs `faastwin sweep SCENARIO --chunk i/K --out OUT/chunks`
//!  OUT/chunks/         chunk-<i>.json, one per task, each carrying the scenario hash
//!  OUT/logs/           task-<i>.out
//!  OUT/sweep.csv       the merged result, byte-identical to a local sweep
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ChunkFile, SweepPlan};
use crate::SimError;

/// `OUT/sweep.json`: what was submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepMeta {
    /// The scenario file (absolute).
    pub scenario: PathBuf,
    /// The sweep's hash (scenario, calibration, seed, replications).
    pub scenario_hash: String,
    /// Number of array tasks.
    pub chunks: u32,
    /// Base seed.
    pub seed: u64,
    /// Replications per grid point and platform.
    pub replications: u32,
    /// Grid points.
    pub points: usize,
    /// Slurm job name of the array.
    pub job_name: String,
    /// Every array job submitted for this sweep (the first, then each retry).
    pub job_ids: Vec<u64>,
    /// Level of the prediction intervals in the merged CSV.
    #[serde(default = "default_level")]
    pub level: f64,
}

fn default_level() -> f64 {
    crate::interval::DEFAULT_LEVEL
}

impl SweepMeta {
    /// The record of `plan` split into `chunks` array tasks.
    pub fn new(plan: &SweepPlan, chunks: u32) -> SweepMeta {
        SweepMeta {
            scenario: plan.path.clone(),
            scenario_hash: plan.hash.clone(),
            chunks,
            seed: plan.seed,
            replications: plan.replications,
            points: plan.grid.len(),
            job_name: format!("faastwin-sweep-{}", &plan.hash[..12]),
            job_ids: Vec::new(),
            level: plan.level,
        }
    }

    /// Reads `DIR/sweep.json`.
    pub fn read(dir: &Path) -> Result<SweepMeta, SimError> {
        let path = dir.join("sweep.json");
        let text = std::fs::read_to_string(&path).map_err(|source| SimError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| SimError::Json {
            what: format!("{}: not a sweep record", path.display()),
            source,
        })
    }

    /// Writes `DIR/sweep.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), SimError> {
        let json = serde_json::to_vec_pretty(self).map_err(|source| SimError::Json {
            what: "cannot encode sweep.json".into(),
            source,
        })?;
        write_atomically(&dir.join("sweep.json"), &json)
    }
}

/// Where and how long array tasks run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArrayOptions {
    /// Slurm partition.
    pub partition: Option<String>,
    /// Time limit of each task (`00:30:00`).
    pub time: Option<String>,
}

/// The array script: task `i` runs `EXE sweep SCENARIO --chunk i/K --out OUT/chunks`.
pub fn array_script(meta: &SweepMeta, out: &Path, exe: &Path, options: &ArrayOptions) -> String {
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let mut lines = vec![
        "#!/bin/bash".to_owned(),
        format!(
            "# faastwin sweep of {} as a Slurm job array ({} chunks).",
            meta.scenario.display(),
            meta.chunks
        ),
        format!("#SBATCH --job-name={}", meta.job_name),
        format!("#SBATCH --array=0-{}", meta.chunks.saturating_sub(1)),
        format!("#SBATCH --output={}/logs/task-%a.out", out.display()),
        "#SBATCH --ntasks=1".to_owned(),
    ];
    if let Some(p) = &options.partition {
        lines.push(format!("#SBATCH --partition={p}"));
    }
    if let Some(t) = &options.time {
        lines.push(format!("#SBATCH --time={t}"));
    }
    lines.push(format!(
        "exec {} sweep {} --seed {} --replications {} --threads 1 --chunk \"${{SLURM_ARRAY_TASK_ID}}/{}\" --out {}",
        quote(exe),
        quote(&meta.scenario),
        meta.seed,
        meta.replications,
        meta.chunks,
        quote(&out.join("chunks"))
    ));
    lines.join("\n") + "\n"
}

/// Writes a chunk file atomically into `dir` as `chunk-<i>.json`.
pub fn write_chunk(dir: &Path, file: &ChunkFile) -> Result<(), SimError> {
    std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let json = serde_json::to_vec(file).map_err(|source| SimError::Json {
        what: format!("cannot encode chunk {}", file.chunk),
        source,
    })?;
    write_atomically(&dir.join(format!("chunk-{}.json", file.chunk)), &json)
}

/// Chunk `index` from `dir`, when it is there, readable and of the sweep with `hash`.
pub fn read_chunk(dir: &Path, index: u32, hash: &str) -> Option<ChunkFile> {
    let text = std::fs::read(dir.join(format!("chunk-{index}.json"))).ok()?;
    let file: ChunkFile = serde_json::from_slice(&text).ok()?;
    (file.scenario_hash == hash && file.chunk == index).then_some(file)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        // Callers pass file paths; a nameless path still gets a hidden temporary beside it.
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|source| SimError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| SimError::Io {
        path: path.to_owned(),
        source,
    })
}
