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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{Local, NaiveDateTime, TimeZone};
use tokio::process::Command;
use tokio::sync::watch;

use crate::platform::{Platform, PlatformInfo};
use crate::process::{parse_report, run_command, version_of};
use crate::{DriverClock, InvocationSpec, MeasureError, Observation, Outcome, PlatformTimes};

/// How jobs are submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    /// `sbatch --wrap`, followed by polling `scontrol`.
    Sbatch,
    /// A blocking `srun` per invocation.
    Srun,
}

/// What the poller last saw of one job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobView {
    /// JobState (PENDING, RUNNING, COMPLETED, FAILED, ...).
    pub state: String,
    /// NodeList.
    pub node: Option<String>,
    /// Exit code of the batch script.
    pub exit_code: Option<i32>,
    /// Slurm's SubmitTime, StartTime and EndTime [Unix ns].
    pub times: PlatformTimes,
}

impl JobView {
    /// True for states a job never leaves.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.state.as_str(),
            "COMPLETED"
                | "FAILED"
                | "CANCELLED"
                | "TIMEOUT"
                | "NODE_FAIL"
                | "OUT_OF_MEMORY"
                | "PREEMPTED"
                | "BOOT_FAIL"
                | "DEADLINE"
        )
    }

    fn has_started(&self) -> bool {
        !matches!(self.state.as_str(), "PENDING" | "")
    }
}

/// Parses one line of `scontrol show job -o` into (job id, job name, view).
pub fn parse_scontrol_line(line: &str) -> Option<(u64, String, JobView)> {
    let mut fields = HashMap::new();
    for token in line.split_whitespace() {
        if let Some((k, v)) = token.split_once('=') {
            fields.entry(k).or_insert(v);
        }
    }
    let id = fields.get("JobId")?.parse().ok()?;
    let name = fields.get("JobName")?.to_string();
    let time = |key: &str| fields.get(key).and_then(|v| slurm_time(v));
    let view = JobView {
        state: fields
            .get("JobState")
            .map(|s| s.to_string())
            .unwrap_or_default(),
        node: fields
            .get("NodeList")
            .filter(|n| !n.is_empty() && **n != "(null)")
            .map(|n| n.to_string()),
        exit_code: fields
            .get("ExitCode")
            .and_then(|e| e.split(':').next())
            .and_then(|c| c.parse().ok()),
        times: PlatformTimes {
            created: time("SubmitTime"),
            scheduled: time("StartTime"),
            started: None,
            finished: time("EndTime"),
            completed: None,
        },
    };
    Some((id, name, view))
}

/// Slurm's `2026-11-23T13:37:10` (local time) as Unix nanoseconds.
fn slurm_time(value: &str) -> Option<i64> {
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S").ok()?;
    Local
        .from_local_datetime(&naive)
        .earliest()?
        .timestamp_nanos_opt()
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
    submitted: Arc<Mutex<Vec<u64>>>,
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
            submitted: Arc::default(),
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
        vec![
            "--parsable".into(),
            "--job-name".into(),
            Self::job_name(spec),
            "--nodelist".into(),
            spec.node.clone(),
            "--nodes=1".into(),
            "--ntasks=1".into(),
            "--output".into(),
            self.log_path(spec).display().to_string(),
            "--wrap".into(),
            format!("exec {wrap}"),
        ]
    }

    fn srun_args(&self, spec: &InvocationSpec) -> Vec<String> {
        let mut args = vec![
            "--job-name".into(),
            Self::job_name(spec),
            "--nodelist".into(),
            spec.node.clone(),
            "--nodes=1".into(),
            "--ntasks=1".into(),
            "--quiet".into(),
        ];
        args.extend(self.worker_args(spec));
        args
    }

    /// Starts the poller once: one `scontrol show job -o` per interval for every watched job.
    fn ensure_poller(&self) {
        let Ok(mut poller) = self.poller.lock() else {
            return;
        };
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
                if watchers.lock().map(|w| w.is_empty()).unwrap_or(true) {
                    continue;
                }
                let Ok(out) = Command::new("scontrol")
                    .args(["show", "job", "-o"])
                    .output()
                    .await
                else {
                    continue;
                };
                let seen_at = clock.now_ns();
                let text = String::from_utf8_lossy(&out.stdout);
                let Ok(watchers) = watchers.lock() else {
                    return;
                };
                for (id, _, view) in text.lines().filter_map(parse_scontrol_line) {
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
            attempt: 1,
            platform_clock: Some("slurm scontrol, 1 s, local time"),
            ..Observation::default()
        };
        self.ensure_poller();
        obs.t_submit = Some(clock.now_ns());
        let out = Command::new("sbatch")
            .args(self.sbatch_args(spec))
            .output()
            .await;
        let job_id: u64 = match out {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                match text.trim().split(';').next().and_then(|id| id.parse().ok()) {
                    Some(id) => id,
                    None => {
                        return submit_error(obs, format!("sbatch printed no job id: {text:?}"));
                    }
                }
            }
            Ok(out) => {
                return submit_error(
                    obs,
                    format!(
                        "sbatch failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                );
            }
            Err(e) => return submit_error(obs, format!("cannot run sbatch: {e}")),
        };
        obs.t_create_ack = Some(clock.now_ns());
        if let Ok(mut s) = self.submitted.lock() {
            s.push(job_id);
        }
        let (tx, mut rx) = watch::channel((JobView::default(), 0));
        if let Ok(mut w) = self.watchers.lock() {
            w.insert(job_id, tx);
        }
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
        if let Ok(mut w) = self.watchers.lock() {
            w.remove(&job_id);
        }
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
                let _ = Command::new("scancel")
                    .arg(job_id.to_string())
                    .output()
                    .await;
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
        let log = tokio::fs::read_to_string(self.log_path(spec))
            .await
            .unwrap_or_default();
        obs.report = parse_report(&log);
        if view.state == "COMPLETED" && obs.report.is_some() {
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

fn submit_error(mut obs: Observation, error: String) -> Observation {
    obs.outcome = Some(Outcome::SubmitError);
    obs.error = Some(error);
    obs
}

/// Slurm's main scheduling interval from `scontrol show config` (`sched_interval=` in
/// SchedulerParameters; Slurm's default is 60 s).
pub(crate) fn sched_interval(config: &str) -> Option<f64> {
    let line = config
        .lines()
        .find(|l| l.trim_start().starts_with("SchedulerParameters"))?;
    let value = line.split_once('=')?.1;
    value
        .split(',')
        .find_map(|kv| kv.trim().strip_prefix("sched_interval="))
        .and_then(|v| v.trim().parse().ok())
}

/// Quotes an argument for `sh`.
fn shell_quote(arg: &str) -> String {
    if arg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c))
    {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

#[async_trait]
impl Platform for SlurmPlatform {
    async fn prepare(&self, nodes: &[String]) -> Result<PlatformInfo, MeasureError> {
        let fail = |detail: String| MeasureError::Platform {
            platform: "slurm".into(),
            detail,
        };
        let version = version_of("sinfo", "--version")
            .await
            .ok_or_else(|| fail("no Slurm: sinfo not found (apt-get install slurm-wlm)".into()))?;
        let out = Command::new("sinfo")
            .args(["-h", "-N", "-o", "%N"])
            .output()
            .await
            .map_err(|e| fail(format!("cannot run sinfo: {e}")))?;
        if !out.status.success() {
            return Err(fail(format!(
                "no Slurm controller answers: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let mut known: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .collect();
        known.sort();
        known.dedup();
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
        let cpus = Command::new("sinfo")
            .args(["-h", "-N", "-o", "%c"])
            .output()
            .await
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| l.trim().parse::<u32>().ok())
                    .min()
            });
        let config = Command::new("scontrol")
            .args(["show", "config"])
            .output()
            .await
            .ok();
        let interval = config.and_then(|o| sched_interval(&String::from_utf8_lossy(&o.stdout)));
        Ok(PlatformInfo {
            name: "slurm".into(),
            versions: vec![
                ("faastwin".into(), env!("CARGO_PKG_VERSION").into()),
                ("slurm".into(), version),
            ],
            nodes: known,
            cpus_per_node: cpus,
            scheduler_interval_s: Some(interval.unwrap_or(60.0)),
            poll_interval_s: Some(self.poll.as_secs_f64()),
            ..PlatformInfo::default()
        })
    }

    fn describe_submission(&self, spec: &InvocationSpec) -> String {
        let (program, args) = match self.launcher {
            Launcher::Sbatch => ("sbatch", self.sbatch_args(spec)),
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
        if let Some(poller) = self.poller.lock().ok().and_then(|mut p| p.take()) {
            poller.abort();
        }
        // Only jobs this run submitted, and only those still known to Slurm under this run's name.
        let ids: Vec<u64> = self.submitted.lock().map(|s| s.clone()).unwrap_or_default();
        if ids.is_empty() {
            return Ok(());
        }
        let out = Command::new("squeue")
            .args(["-h", "-o", "%i %j"])
            .output()
            .await;
        let Ok(out) = out else { return Ok(()) };
        let prefix = format!("faastwin-{run_id}-");
        let ours: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(id, name)| {
                name.starts_with(&prefix) && id.parse::<u64>().is_ok_and(|i| ids.contains(&i))
            })
            .map(|(id, _)| id.to_owned())
            .collect();
        if !ours.is_empty() {
            let _ = Command::new("scancel").args(&ours).output().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scontrol_lines_parse_including_collapsed_and_unknown_times() {
        let line = "JobId=17 JobName=faastwin-abc-r0-3 UserId=root(0) JobState=COMPLETED Reason=None \
                    ExitCode=0:0 SubmitTime=2026-11-23T13:37:08 StartTime=2026-11-23T13:37:10 \
                    EndTime=2026-11-23T13:37:11 NodeList=n2 Command=(null)";
        let (id, name, view) = parse_scontrol_line(line).unwrap();
        assert_eq!(
            (id, name.as_str(), view.state.as_str()),
            (17, "faastwin-abc-r0-3", "COMPLETED")
        );
        assert_eq!(view.node.as_deref(), Some("n2"));
        assert_eq!(view.exit_code, Some(0));
        let (s, st, e) = (
            view.times.created.unwrap(),
            view.times.scheduled.unwrap(),
            view.times.finished.unwrap(),
        );
        assert_eq!((st - s, e - st), (2_000_000_000, 1_000_000_000));
        assert!(view.is_terminal());

        let pending = "JobId=18 JobName=x JobState=PENDING ExitCode=0:0 SubmitTime=2026-11-23T13:37:08 StartTime=Unknown NodeList=";
        let (_, _, view) = parse_scontrol_line(pending).unwrap();
        assert_eq!(view.times.scheduled, None);
        assert_eq!(view.node, None);
        assert!(!view.has_started() && !view.is_terminal());

        let failed = "JobId=19 JobName=y JobState=FAILED ExitCode=3:0 NodeList=n1";
        assert_eq!(parse_scontrol_line(failed).unwrap().2.exit_code, Some(3));
        assert!(parse_scontrol_line("garbage without fields").is_none());
    }

    #[test]
    fn the_scheduling_interval_is_read_from_the_configuration() {
        let config = "MinJobAge               = 300 sec\nSchedulerParameters     = sched_interval=1,bf_interval=30\nSchedulerType = sched/backfill\n";
        assert_eq!(sched_interval(config), Some(1.0));
        assert_eq!(sched_interval("SchedulerParameters     = (null)\n"), None);
    }

    #[test]
    fn arguments_are_quoted_for_the_shell() {
        assert_eq!(
            shell_quote("/data/shard-000001.jsonl"),
            "/data/shard-000001.jsonl"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
