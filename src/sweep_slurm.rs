//! `faastwin sweep --slurm`: a sweep as a Slurm job array, followed and merged.
//!
//! ```text
//!  OUT/sweep.json      what was submitted (scenario, hash, chunks, seed, replications, job ids)
//!  OUT/sweep.sbatch    the array script: task i runs `faastwin sweep SCENARIO --chunk i/K --out OUT/chunks`
//!  OUT/chunks/         chunk-<i>.json, one per task, each carrying the scenario hash
//!  OUT/logs/           task-<i>.out
//!  OUT/sweep.csv       the merged result, byte-identical to a local sweep
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, bail};
use faastwin_sim::chunk::{ChunkFile, merge};
use serde::{Deserialize, Serialize};

use crate::cli::SweepArgs;
use crate::simulate::{PlanParts, load_plan, write_sweep_csv};

/// `OUT/sweep.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SweepMeta {
    scenario: PathBuf,
    scenario_hash: String,
    chunks: u32,
    seed: u64,
    replications: u32,
    points: usize,
    job_name: String,
    job_ids: Vec<u64>,
}

/// Writes a chunk file atomically into `dir`.
pub(crate) fn write_chunk(dir: &Path, file: &ChunkFile) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("chunk-{}.json", file.chunk));
    let tmp = dir.join(format!(".chunk-{}.json.tmp", file.chunk));
    std::fs::write(&tmp, serde_json::to_vec(file)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn read_chunk(dir: &Path, index: u32, hash: &str) -> Option<ChunkFile> {
    let text = std::fs::read(dir.join(format!("chunk-{index}.json"))).ok()?;
    let file: ChunkFile = serde_json::from_slice(&text).ok()?;
    (file.scenario_hash == hash && file.chunk == index).then_some(file)
}

fn script(meta: &SweepMeta, out: &Path, args: &SweepArgs) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot locate the faastwin executable")?;
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let mut lines = vec![
        "#!/bin/bash".to_owned(),
        format!(
            "# faastwin sweep of {} as a Slurm job array ({} chunks).",
            meta.scenario.display(),
            meta.chunks
        ),
        format!("#SBATCH --job-name={}", meta.job_name),
        format!("#SBATCH --array=0-{}", meta.chunks - 1),
        format!("#SBATCH --output={}/logs/task-%a.out", out.display()),
        "#SBATCH --ntasks=1".to_owned(),
    ];
    if let Some(p) = &args.partition {
        lines.push(format!("#SBATCH --partition={p}"));
    }
    if let Some(t) = &args.time {
        lines.push(format!("#SBATCH --time={t}"));
    }
    lines.push(format!(
        "exec {} sweep {} --seed {} --replications {} --threads 1 --chunk \"${{SLURM_ARRAY_TASK_ID}}/{}\" --out {}",
        quote(&exe),
        quote(&meta.scenario),
        meta.seed,
        meta.replications,
        meta.chunks,
        quote(&out.join("chunks"))
    ));
    Ok(lines.join("\n") + "\n")
}

fn write_meta(out: &Path, meta: &SweepMeta) -> anyhow::Result<()> {
    std::fs::write(
        out.join("sweep.json"),
        serde_json::to_string_pretty(meta)? + "\n",
    )
    .context("cannot write sweep.json")
}

fn sbatch(script_path: &Path, array: Option<&str>, extra: &[String]) -> anyhow::Result<u64> {
    let mut command = Command::new("sbatch");
    command.arg("--parsable");
    if let Some(array) = array {
        command.arg(format!("--array={array}"));
    }
    let out = command
        .args(extra)
        .arg(script_path)
        .output()
        .context("no Slurm: cannot run sbatch")?;
    anyhow::ensure!(
        out.status.success(),
        "sbatch failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .split(';')
        .next()
        .and_then(|id| id.parse().ok())
        .with_context(|| format!("sbatch printed no job id: {text:?}"))
}

pub(crate) fn submit(
    args: &SweepArgs,
    scenario: &Path,
    plan: &PlanParts,
    hash: &str,
    points: usize,
) -> anyhow::Result<ExitCode> {
    let out = args.out.clone().context("--slurm needs --out DIR")?;
    anyhow::ensure!(args.array_size > 0, "--array-size must be at least 1");
    let meta = SweepMeta {
        scenario: std::path::absolute(scenario)?,
        scenario_hash: hash.to_owned(),
        chunks: args.array_size,
        seed: plan.seed,
        replications: plan.replications,
        points,
        job_name: format!("faastwin-sweep-{}", &hash[..12]),
        job_ids: Vec::new(),
    };
    let out = std::path::absolute(&out)?;
    let text = script(&meta, &out, args)?;
    if args.dry_run {
        print!("{text}");
        eprintln!(
            "dry run: nothing submitted ({} array tasks would run)",
            meta.chunks
        );
        return Ok(ExitCode::SUCCESS);
    }
    for dir in ["chunks", "logs"] {
        std::fs::create_dir_all(out.join(dir))
            .with_context(|| format!("cannot create {}", out.join(dir).display()))?;
    }
    let script_path = out.join("sweep.sbatch");
    std::fs::write(&script_path, &text)?;
    let tasks: BTreeSet<u32> = (0..meta.chunks).collect();
    run_tasks(
        &out,
        meta,
        &script_path,
        &tasks,
        None,
        &args.sbatch_args,
        &plan.platforms,
    )
}

pub(crate) fn retry(args: &SweepArgs, dir: &Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(dir.join("sweep.json"))
        .with_context(|| format!("{} holds no --slurm sweep", dir.display()))?;
    let meta: SweepMeta = serde_json::from_str(&text).context("sweep.json is malformed")?;
    let (scenario, _, hash) = load_plan(&meta.scenario, meta.seed, meta.replications)?;
    if hash != meta.scenario_hash {
        bail!(
            "{} changed since the sweep was submitted (hash {} vs {}); start a new sweep",
            meta.scenario.display(),
            &hash[..12],
            &meta.scenario_hash[..12]
        );
    }
    let missing: BTreeSet<u32> = (0..meta.chunks)
        .filter(|i| read_chunk(&dir.join("chunks"), *i, &hash).is_none())
        .collect();
    let platforms = scenario.file.platforms.clone();
    if missing.is_empty() {
        eprintln!("every chunk is there; merging");
        return finish(dir, &meta, &platforms);
    }
    let array = missing
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    eprintln!("resubmitting {} chunk(s): {array}", missing.len());
    run_tasks(
        dir,
        meta,
        &dir.join("sweep.sbatch"),
        &missing,
        Some(&array),
        &args.sbatch_args,
        &platforms,
    )
}

fn run_tasks(
    out: &Path,
    mut meta: SweepMeta,
    script_path: &Path,
    tasks: &BTreeSet<u32>,
    array: Option<&str>,
    extra: &[String],
    platforms: &[String],
) -> anyhow::Result<ExitCode> {
    let job = sbatch(script_path, array, extra)?;
    meta.job_ids.push(job);
    write_meta(out, &meta)?;
    eprintln!(
        "submitted job array {job} ({} tasks), following it",
        tasks.len()
    );
    let failed = follow(out, &meta, job, tasks)?;
    if !failed.is_empty() {
        for (task, state) in &failed {
            eprintln!("task {task} ({}_{task}): {state}", job);
        }
        eprintln!(
            "{} task(s) failed; resubmit them alone with: faastwin sweep --retry-failed {}",
            failed.len(),
            out.display()
        );
        return Ok(ExitCode::from(1));
    }
    finish(out, &meta, platforms)
}

/// Follows the array until no task is pending or running; returns the tasks that ended
/// without a valid chunk, with their Slurm state.
fn follow(
    out: &Path,
    meta: &SweepMeta,
    job: u64,
    tasks: &BTreeSet<u32>,
) -> anyhow::Result<BTreeMap<u32, String>> {
    let bar = crate::progress::items(tasks.len() as u64, "array tasks");
    loop {
        let listing = Command::new("squeue")
            .args(["-h", "-r", "-j", &job.to_string(), "-o", "%K %T"])
            .output();
        let active: BTreeMap<u32, String> = match listing {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_once(' '))
                .filter_map(|(k, state)| Some((k.trim().parse().ok()?, state.trim().to_owned())))
                .collect(),
            // squeue refuses a job it no longer knows: nothing active.
            _ => BTreeMap::new(),
        };
        let done = tasks
            .iter()
            .filter(|i| read_chunk(&out.join("chunks"), **i, &meta.scenario_hash).is_some())
            .count();
        let running = active.values().filter(|s| s.as_str() == "RUNNING").count();
        let pending = active.len() - running;
        let finished_without_chunk: Vec<u32> = tasks
            .iter()
            .copied()
            .filter(|i| {
                !active.contains_key(i)
                    && read_chunk(&out.join("chunks"), *i, &meta.scenario_hash).is_none()
            })
            .collect();
        bar.set_position(done as u64);
        bar.set_message(format!(
            "pending {pending}, running {running}, done {done}, failed {}",
            finished_without_chunk.len()
        ));
        if active.is_empty() {
            bar.finish_and_clear();
            return Ok(finished_without_chunk
                .into_iter()
                .map(|i| (i, task_state(job, i)))
                .collect());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn task_state(job: u64, task: u32) -> String {
    let out = Command::new("scontrol")
        .args(["show", "job", "-o", &format!("{job}_{task}")])
        .output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("JobState=").map(str::to_owned))
        })
        .unwrap_or_else(|| "ended without writing its chunk; Slurm keeps no record of it (cancelled while pending?)".to_owned())
}

fn finish(out: &Path, meta: &SweepMeta, platforms: &[String]) -> anyhow::Result<ExitCode> {
    let (scenario, grid, _) = load_plan(&meta.scenario, meta.seed, meta.replications)?;
    let files: Vec<ChunkFile> = (0..meta.chunks)
        .map(|i| {
            read_chunk(&out.join("chunks"), i, &meta.scenario_hash)
                .with_context(|| format!("chunk {i} is missing or from another scenario version"))
        })
        .collect::<anyhow::Result<_>>()?;
    let results = merge(
        &files,
        &meta.scenario_hash,
        grid.len(),
        platforms,
        meta.replications,
    )?;
    let path = out.join("sweep.csv");
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    write_sweep_csv(
        &scenario,
        meta.seed,
        &grid,
        &results,
        Box::new(std::io::BufWriter::new(file)),
    )?;
    eprintln!("merged {} chunks into {}", meta.chunks, path.display());
    Ok(ExitCode::SUCCESS)
}
