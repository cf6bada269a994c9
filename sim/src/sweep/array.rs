//! A sweep as a job array: submitted, followed until no task is left, retried where chunks are
//! missing, and merged. The batch system is reached through [`ArrayScheduler`] (Slurm's client
//! lives in the measurement crate), so the workflow is the sweep's own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use faastwin_models::SlurmJobState;

use super::{ArrayOptions, ChunkFile, SweepMeta, SweepPlan, array_script, read_chunk, write_csv};
use crate::SimError;

/// An error of the batch system (its client's own type, kept as the cause).
pub type SchedulerError = Box<dyn std::error::Error + Send + Sync>;

/// What a sweep needs of a batch system.
pub trait ArrayScheduler {
    /// Submits `script` (as an array of the tasks in `array`, else the script's own range) with
    /// `extra` arguments; returns the array's job id.
    fn submit(
        &self,
        script: &Path,
        array: Option<&str>,
        extra: &[String],
    ) -> Result<u64, SchedulerError>;
    /// The array's tasks still pending or running (task → state); empty once none is left;
    /// `Err` when the batch system could not be asked (not "none left").
    fn active_tasks(&self, job: u64) -> Result<BTreeMap<u32, SlurmJobState>, SchedulerError>;
    /// What became of a task that left the queue, if the batch system still knows.
    fn task_state(&self, job: u64, task: u32) -> Option<SlurmJobState>;
    /// The most tasks one array may have, if the batch system limits it.
    fn max_tasks(&self) -> Option<u32>;
}

/// What happens to a sweep array, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrayEvent {
    /// Chunks are missing and these tasks are submitted again.
    Resubmitting(Vec<u32>),
    /// Every chunk is already there.
    Complete,
    /// The array was submitted: its job id and number of tasks.
    Submitted(u64, usize),
    /// Where it stands.
    Progress(ArrayProgress),
}

impl std::fmt::Display for ArrayEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArrayEvent::Resubmitting(tasks) => {
                let list: Vec<String> = tasks.iter().map(u32::to_string).collect();
                write!(
                    f,
                    "resubmitting {} chunk(s): {}",
                    tasks.len(),
                    list.join(",")
                )
            }
            ArrayEvent::Complete => write!(f, "every chunk is there; merging"),
            ArrayEvent::Submitted(job, n) => {
                write!(f, "submitted job array {job} ({n} tasks), following it")
            }
            ArrayEvent::Progress(p) => write!(
                f,
                "pending {}, running {}, done {}, failed {}",
                p.pending, p.running, p.done, p.failed
            ),
        }
    }
}

/// Where an array stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArrayProgress {
    /// Tasks waiting.
    pub pending: usize,
    /// Tasks running.
    pub running: usize,
    /// Tasks that wrote their chunk.
    pub done: usize,
    /// Tasks that ended without writing their chunk.
    pub failed: usize,
}

/// How a sweep array ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayOutcome {
    /// Every chunk is there; the merged CSV is at this path.
    Merged(PathBuf),
    /// Some tasks ended without their chunk: (array job id, task → Slurm state).
    Failed(u64, BTreeMap<u32, String>),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `OUT/sweep.json` and `OUT/sweep.sbatch` for `plan` in `chunks` tasks, submits the
/// array with `extra` arguments, follows it and merges.
pub fn submit_array(
    plan: &SweepPlan,
    out: &Path,
    chunks: u32,
    script: &str,
    extra: &[String],
    scheduler: &dyn ArrayScheduler,
    progress: &dyn Fn(ArrayEvent),
) -> Result<ArrayOutcome, SimError> {
    let units = plan.units().len();
    if chunks == 0 || chunks as usize > units {
        return Err(SimError::Invalid {
            what: format!(
                "--array-size {chunks}: the sweep has {units} units (grid points x platforms x replications); use 1 to {units} tasks"
            ),
        });
    }
    if let Some(max) = scheduler.max_tasks().filter(|max| chunks > *max) {
        return Err(SimError::Invalid {
            what: format!(
                "--array-size {chunks} is above the batch system's limit of {max} tasks per array (Slurm's MaxArraySize minus one)"
            ),
        });
    }
    for dir in ["chunks", "logs"] {
        std::fs::create_dir_all(out.join(dir)).map_err(io(&out.join(dir)))?;
    }
    let path = out.join("sweep.sbatch");
    std::fs::write(&path, script).map_err(io(&path))?;
    let tasks: BTreeSet<u32> = (0..chunks).collect();
    run_tasks(
        plan,
        out,
        SweepMeta::new(plan, chunks),
        &tasks,
        None,
        extra,
        scheduler,
        progress,
    )
}

/// The script of `plan` as an array of `chunks` tasks running `exe`, with its record.
pub fn prepare_array(
    plan: &SweepPlan,
    out: &Path,
    chunks: u32,
    exe: &Path,
    options: &ArrayOptions,
) -> (SweepMeta, String) {
    let meta = SweepMeta::new(plan, chunks);
    let script = array_script(&meta, out, exe, options);
    (meta, script)
}

/// Resubmits the tasks of the sweep in `dir` whose chunks are missing, then merges.
pub fn retry_array(
    dir: &Path,
    extra: &[String],
    scheduler: &dyn ArrayScheduler,
    progress: &dyn Fn(ArrayEvent),
) -> Result<ArrayOutcome, SimError> {
    let meta = SweepMeta::read(dir)?;
    let mut plan = SweepPlan::load(&meta.scenario, Some(meta.seed), Some(meta.replications))?;
    plan.level = meta.level;
    if plan.hash != meta.scenario_hash {
        return Err(SimError::Invalid {
            what: format!(
                "{} changed since the sweep was submitted (hash {} vs {}); start a new sweep",
                meta.scenario.display(),
                &plan.hash[..12],
                &meta.scenario_hash[..12]
            ),
        });
    }
    let missing: BTreeSet<u32> = (0..meta.chunks)
        .filter(|i| read_chunk(&dir.join("chunks"), *i, &plan.hash).is_none())
        .collect();
    if missing.is_empty() {
        progress(ArrayEvent::Complete);
        return merge_chunks(&plan, dir, &meta);
    }
    progress(ArrayEvent::Resubmitting(missing.iter().copied().collect()));
    let array = missing
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    run_tasks(
        &plan,
        dir,
        meta,
        &missing,
        Some(&array),
        extra,
        scheduler,
        progress,
    )
}

#[allow(clippy::too_many_arguments)]
fn run_tasks(
    plan: &SweepPlan,
    out: &Path,
    mut meta: SweepMeta,
    tasks: &BTreeSet<u32>,
    array: Option<&str>,
    extra: &[String],
    scheduler: &dyn ArrayScheduler,
    progress: &dyn Fn(ArrayEvent),
) -> Result<ArrayOutcome, SimError> {
    // The record first: a refused submission leaves a sweep that `--retry-failed` can submit
    // again once the cause is fixed.
    meta.write(out)?;
    let job = scheduler
        .submit(&out.join("sweep.sbatch"), array, extra)
        .map_err(|refused| SimError::Scheduler {
            what: format!(
                "the batch system refused the sweep array, so nothing was submitted (once the cause is fixed, `faastwin sweep --retry-failed {}` submits it)",
                out.display()
            ),
            source: refused,
        })?;
    meta.job_ids.push(job);
    meta.write(out)?;
    progress(ArrayEvent::Submitted(job, tasks.len()));
    let has_chunk = |i: u32| read_chunk(&out.join("chunks"), i, &meta.scenario_hash).is_some();
    let mut unanswered_since: Option<std::time::Instant> = None;
    loop {
        let active = match scheduler.active_tasks(job) {
            Ok(active) => {
                unanswered_since = None;
                active
            }
            // A batch system that does not answer for a moment (a controller restart) is
            // asked again; one that stays silent ends the wait, never the tasks.
            Err(why) => {
                let since = *unanswered_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() > UNANSWERED {
                    return Err(SimError::Scheduler {
                        what: format!(
                            "the batch system did not say for {} s how array {job} stands; its tasks may still run: once `squeue -j {job}` lists none, `faastwin sweep --retry-failed {}` merges what they wrote and submits what is missing",
                            UNANSWERED.as_secs(),
                            out.display()
                        ),
                        source: why,
                    });
                }
                std::thread::sleep(POLL);
                continue;
            }
        };
        let running = active
            .values()
            .filter(|s| **s == SlurmJobState::Running)
            .count();
        let failed: Vec<u32> = tasks
            .iter()
            .copied()
            .filter(|i| !active.contains_key(i) && !has_chunk(*i))
            .collect();
        progress(ArrayEvent::Progress(ArrayProgress {
            pending: active.len() - running,
            running,
            done: tasks.iter().filter(|i| has_chunk(**i)).count(),
            failed: failed.len(),
        }));
        if active.is_empty() {
            if failed.is_empty() {
                return merge_chunks(plan, out, &meta);
            }
            let states = failed
                .into_iter()
                .map(|i| {
                    let state = scheduler.task_state(job, i).map_or_else(
                        || "ended without writing its chunk; Slurm keeps no record of it (cancelled while pending?)".to_owned(),
                        |s| s.to_string(),
                    );
                    (i, state)
                })
                .collect();
            return Ok(ArrayOutcome::Failed(job, states));
        }
        std::thread::sleep(POLL);
    }
}

/// How often an array's tasks are looked at.
const POLL: Duration = Duration::from_millis(300);

/// How long the batch system may fail to answer before the wait for an array ends.
const UNANSWERED: Duration = Duration::from_secs(120);

fn merge_chunks(plan: &SweepPlan, out: &Path, meta: &SweepMeta) -> Result<ArrayOutcome, SimError> {
    let files: Vec<ChunkFile> = (0..meta.chunks)
        .map(|i| {
            read_chunk(&out.join("chunks"), i, &meta.scenario_hash).ok_or_else(|| {
                SimError::Invalid {
                    what: format!("chunk {i} is missing or from another scenario version"),
                }
            })
        })
        .collect::<Result<_, _>>()?;
    let results = plan.merge(&files)?;
    let path = out.join("sweep.csv");
    let file = std::fs::File::create(&path).map_err(io(&path))?;
    write_csv(plan, &results, std::io::BufWriter::new(file))?;
    Ok(ArrayOutcome::Merged(path))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A batch system that cannot be asked for a while (its controller restarting), then finds
    /// the array's tasks done: the tasks ran, which the failure of `squeue` must not hide.
    /// (Slurm's own controller is shared by the other tests, so the silence is faked here,
    /// behind the trait the real client implements.)
    struct Silent<'a> {
        plan: &'a SweepPlan,
        out: &'a Path,
        asked: Cell<u32>,
    }

    impl ArrayScheduler for Silent<'_> {
        fn submit(&self, _: &Path, _: Option<&str>, _: &[String]) -> Result<u64, SchedulerError> {
            Ok(7)
        }
        fn active_tasks(&self, _: u64) -> Result<BTreeMap<u32, SlurmJobState>, SchedulerError> {
            self.asked.set(self.asked.get() + 1);
            if self.asked.get() < 3 {
                return Err("squeue: Unable to contact slurm controller".into());
            }
            for i in 0..2 {
                let chunk = self.plan.chunk(i, 2).unwrap();
                super::super::write_chunk(&self.out.join("chunks"), &chunk).unwrap();
            }
            Ok(BTreeMap::new())
        }
        fn task_state(&self, _: u64, _: u32) -> Option<SlurmJobState> {
            None
        }
        fn max_tasks(&self) -> Option<u32> {
            None
        }
    }

    #[test]
    fn a_batch_system_that_cannot_be_asked_is_asked_again_not_taken_for_done() {
        let scenario =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/what-if/partitions.toml");
        let plan = SweepPlan::load(&scenario, None, Some(1)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let scheduler = Silent {
            plan: &plan,
            out: dir.path(),
            asked: Cell::new(0),
        };
        let outcome = submit_array(&plan, dir.path(), 2, "", &[], &scheduler, &|_| {}).unwrap();
        assert!(matches!(outcome, ArrayOutcome::Merged(_)), "{outcome:?}");
        assert_eq!(scheduler.asked.get(), 3);
    }
}
