//! The `slurm` platform: each invocation is one Slurm job pinned to its partition's node.
//!
//! With `sbatch` (the default) one poller runs `scontrol show job -o` for all of this run's jobs
//! every poll interval (not one command per job), and records the driver-clock instant at
//! which each job is first seen RUNNING and first seen in a terminal state; Slurm's own
//! SubmitTime, StartTime and EndTime (whole seconds, local time) go to the `p_*` columns. The
//! worker's report comes from the job's output file. With `srun` the invocation is a blocking
//! child process and only the client-side instants and the worker report are recorded.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use faastwin_models::SlurmJobState;

use super::client::{self, JobView, shell_quote};
use crate::platform::{Platform, PlatformInfo};
use crate::process::{parse_report, run_command, version_of};
use crate::{DriverClock, InvocationSpec, MeasureError, Observation, Outcome, PlatformKind};

/// How jobs are submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Launcher {
    /// `sbatch --wrap`, followed by polling `scontrol`.
    Sbatch,
    /// A blocking `srun` per invocation.
    Srun,
}

type Watchers = Arc<Mutex<HashMap<u64, watch::Sender<(JobView, u64)>>>>;

/// The Slurm platform.
pub struct SlurmPlatform {
    worker: PathBuf,
    results: PathBuf,
    launcher: Launcher,
    poll: Duration,
    clock: DriverClock,
    watchers: Watchers,
    poller: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl SlurmPlatform {
    /// A Slurm platform running `worker` with results under `results`, polling every `poll`.
    pub fn new(
        worker: PathBuf,
        results: PathBuf,
        launcher: Launcher,
        poll: Duration,
        clock: DriverClock,
    ) -> Self {
        SlurmPlatform {
            worker,
            results,
            launcher,
            poll,
            clock,
            watchers: Arc::default(),
            poller: Mutex::new(None),
        }
    }

    fn job_name(spec: &InvocationSpec) -> String {
        format!(
            "faastwin-{}-r{}-{}",
            spec.run_id, spec.repetition, spec.invocation_id
        )
    }

    fn log_path(&self, spec: &InvocationSpec) -> PathBuf {
        self.results.join(format!(
            "slurm-r{}-{:06}.out",
            spec.repetition, spec.invocation_id
        ))
    }

    fn worker_args(&self, spec: &InvocationSpec) -> Vec<String> {
        let mut args = vec![self.worker.display().to_string()];
        args.extend(spec.worker_args(
            spec.input.display().to_string(),
            spec.output.display().to_string(),
        ));
        args
    }

    fn sbatch_args(&self, spec: &InvocationSpec) -> Vec<String> {
        let wrap = self
            .worker_args(spec)
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        let mut args = Self::placement_args(spec);
        args.extend([
            "--output".into(),
            self.log_path(spec).display().to_string(),
            "--wrap".into(),
            format!("exec {wrap}"),
        ]);
        args
    }

    /// One task on the invocation's node, named after the invocation (sbatch and srun alike).
    fn placement_args(spec: &InvocationSpec) -> Vec<String> {
        vec![
            "--job-name".into(),
            Self::job_name(spec),
            "--nodelist".into(),
            spec.node.clone(),
            "--nodes=1".into(),
            "--ntasks=1".into(),
        ]
    }

    fn srun_args(&self, spec: &InvocationSpec) -> Vec<String> {
        let mut args = Self::placement_args(spec);
        args.push("--quiet".into());
        args.extend(self.worker_args(spec));
        args
    }

    /// Starts the poller once: one `scontrol show job -o` per interval for every watched job.
    fn ensure_poller(&self) {
        let mut poller = self.poller.lock().unwrap_or_else(PoisonError::into_inner);
        if poller.is_some() {
            return;
        }
        let watchers = Arc::clone(&self.watchers);
        let clock = self.clock;
        let poll = self.poll;
        *poller = Some(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(poll);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if watchers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_empty()
                {
                    continue;
                }
                let jobs = match client::show_jobs().await {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::warn!("polling Slurm failed, retrying: {e}");
                        continue;
                    }
                };
                let seen_at = clock.now_ns();
                let watchers = watchers.lock().unwrap_or_else(PoisonError::into_inner);
                for (id, _, view) in jobs {
                    if let Some(tx) = watchers.get(&id) {
                        tx.send_if_modified(|current| {
                            if current.0 != view {
                                *current = (view.clone(), seen_at);
                                true
                            } else {
                                false
                            }
                        });
                    }
                }
            }
        }));
    }

    async fn invoke_sbatch(
        &self,
        spec: &InvocationSpec,
        clock: &DriverClock,
        timeout: Duration,
    ) -> Observation {
        let mut obs = Observation {
            platform_clock: Some("slurm scontrol, 1 s, local time"),
            ..Observation::default()
        };
        self.ensure_poller();
        obs.t_submit = Some(clock.now_ns());
        let job_id = match client::sbatch(&self.sbatch_args(spec)).await {
            Ok(id) => id,
            Err(e) => return submit_error(obs, faastwin_models::error_chain(&e)),
        };
        tracing::debug!(run = %spec.run_id, job = job_id, invocation = spec.invocation_id, "submitted");
        obs.t_create_ack = Some(clock.now_ns());
        let (tx, mut rx) = watch::channel((JobView::default(), 0));
        self.watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(job_id, tx);
        let followed = tokio::time::timeout(timeout, async {
            loop {
                if rx.changed().await.is_err() {
                    return None;
                }
                let (view, seen_at) = rx.borrow_and_update().clone();
                if view.has_started() && !view.is_terminal() && obs.t_scheduled_seen.is_none() {
                    obs.t_scheduled_seen = Some(seen_at);
                    obs.t_running_seen = Some(seen_at);
                }
                if view.is_terminal() {
                    obs.t_done_seen = Some(seen_at);
                    return Some(view);
                }
            }
        })
        .await;
        self.watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&job_id);
        let view = match followed {
            Ok(Some(view)) => view,
            Ok(None) => {
                obs.outcome = Some(Outcome::Failed);
                obs.error = Some(format!("job {job_id}: poller stopped"));
                return obs;
            }
            Err(_) => {
                obs.outcome = Some(Outcome::TimedOut);
                obs.error = Some(format!(
                    "job {job_id} not finished after {} s (cancelled)",
                    timeout.as_secs_f64()
                ));
                if let Err(e) = client::cancel(&[job_id.to_string()]).await {
                    obs.notes
                        .push(format!("cancelling timed-out job {job_id} failed: {e}"));
                }
                return obs;
            }
        };
        if obs.t_scheduled_seen.is_none() {
            obs.notes
                .push("RUNNING never seen (collapsed transition)".into());
        }
        obs.node = view.node.clone();
        obs.exit_code = view.exit_code;
        obs.platform_times = view.times.clone();
        let log = match tokio::fs::read_to_string(self.log_path(spec)).await {
            Ok(log) => log,
            Err(e) => {
                obs.notes.push(format!(
                    "job output {} unreadable: {e}",
                    self.log_path(spec).display()
                ));
                String::new()
            }
        };
        obs.report = parse_report(&log);
        if view.state == SlurmJobState::Completed && obs.report.is_some() {
            obs.outcome = Some(Outcome::Succeeded);
        } else {
            obs.outcome = Some(Outcome::Failed);
            let last = log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_owned();
            obs.error = Some(format!("job {job_id} {}: {last}", view.state));
        }
        obs
    }
}

/// True when job `name` is one of run `run_id`'s: `faastwin-<run>-r<repetition>-<invocation>`
/// exactly (the run `abc` does not claim the jobs of the run `abc-r1-x`).
pub(crate) fn is_job_of(name: &str, run_id: &str) -> bool {
    let Some(rest) = name
        .strip_prefix("faastwin-")
        .and_then(|n| n.strip_prefix(run_id))
        .and_then(|n| n.strip_prefix("-r"))
    else {
        return false;
    };
    let mut parts = rest.split('-');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

fn submit_error(mut obs: Observation, error: String) -> Observation {
    obs.outcome = Some(Outcome::SubmitError);
    obs.error = Some(error);
    obs
}

#[async_trait]
impl Platform for SlurmPlatform {
    async fn prepare(&self, nodes: &[String]) -> Result<PlatformInfo, MeasureError> {
        let fail = |detail: String| MeasureError::Platform {
            platform: PlatformKind::Slurm,
            detail,
        };
        let version = version_of("sinfo", "--version")
            .await
            .ok_or_else(|| fail("no Slurm: sinfo not found (apt-get install slurm-wlm)".into()))?;
        let known = client::nodes().await?;
        if let Some(unknown) = nodes.iter().find(|n| !known.contains(n)) {
            return Err(fail(format!(
                "unknown node {unknown:?} (sinfo lists: {})",
                known.join(", ")
            )));
        }
        if version_of(&self.worker.display().to_string(), "--version")
            .await
            .is_none()
        {
            return Err(fail(format!(
                "cannot run the worker {}",
                self.worker.display()
            )));
        }
        let cpus = client::cpus_per_node().await;
        let interval = client::scheduler_interval_s().await?;
        Ok(PlatformInfo {
            versions: vec![
                ("faastwin".into(), env!("CARGO_PKG_VERSION").into()),
                ("slurm".into(), version),
            ],
            nodes: known,
            cpus_per_node: cpus,
            scheduler_interval_s: Some(interval),
            poll_interval_s: Some(self.poll.as_secs_f64()),
            ..PlatformInfo::new(PlatformKind::Slurm)
        })
    }

    fn describe_submission(&self, spec: &InvocationSpec) -> String {
        let (program, args) = match self.launcher {
            Launcher::Sbatch => {
                let mut args = vec!["--parsable".to_owned()];
                args.extend(self.sbatch_args(spec));
                ("sbatch", args)
            }
            Launcher::Srun => ("srun", self.srun_args(spec)),
        };
        format!(
            "{program} {}",
            args.iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        )
    }

    async fn invoke(
        &self,
        spec: &InvocationSpec,
        clock: &DriverClock,
        timeout: Duration,
    ) -> Observation {
        match self.launcher {
            Launcher::Sbatch => self.invoke_sbatch(spec, clock, timeout).await,
            Launcher::Srun => {
                let mut obs = run_command("srun", &self.srun_args(spec), clock, timeout).await;
                // srun returns when the step ends; the spawn is not a placement.
                obs.t_scheduled_seen = None;
                obs.t_create_ack = None;
                obs.node = Some(spec.node.clone());
                obs
            }
        }
    }

    async fn cleanup(&self, run_id: &str) -> Result<(), MeasureError> {
        if let Some(poller) = self
            .poller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            poller.abort();
        }
        // Every queued or running job named as this run's jobs are, whichever session of the run
        // submitted it (a resumed run removes what an earlier, killed session left), and no other.
        let ours: Vec<String> = client::queue()
            .await?
            .into_iter()
            .filter(|(_, name, _)| is_job_of(name, run_id))
            .map(|(id, _, _)| id)
            .collect();
        tracing::debug!(run = run_id, jobs = ?ours, "cancelling this run's queued jobs");
        client::cancel(&ours).await
    }
}

#[cfg(test)]
mod tests {
    use super::is_job_of;

    #[test]
    fn a_run_claims_exactly_its_own_job_names() {
        assert!(is_job_of("faastwin-abc-r0-17", "abc"));
        assert!(is_job_of("faastwin-abc-r12-0", "abc"));
        assert!(
            !is_job_of("faastwin-abc-r1-x-r0-5", "abc"),
            "the run abc-r1-x"
        );
        assert!(!is_job_of("faastwin-abcd-r0-1", "abc"));
        assert!(!is_job_of("faastwin-abc-r0-1-2", "abc"));
        assert!(!is_job_of("faastwin-ksi-abc", "abc"));
        assert!(!is_job_of("other-abc-r0-1", "abc"));
    }
}
