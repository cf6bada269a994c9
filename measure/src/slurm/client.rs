//! The one place faastwin talks to Slurm: `sbatch`, `squeue`, `scontrol`, `scancel` and
//! `sinfo`, each logged at debug level, with one parser per output format.

use std::collections::{BTreeMap, HashMap};
use std::process::Output;

use chrono::{Local, NaiveDateTime, TimeZone};
use tokio::process::Command;

use faastwin_models::SlurmJobState;

use crate::{MeasureError, PlatformTimes};

/// What `scontrol show job` says of one job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobView {
    /// JobState.
    pub state: SlurmJobState,
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
        self.state.is_terminal()
    }

    /// True once the job left PENDING.
    pub fn has_started(&self) -> bool {
        self.state.has_started()
    }
}

/// The job id `sbatch --parsable` prints (`1234` or `1234;cluster`).
pub fn parse_job_id(stdout: &str) -> Option<u64> {
    stdout.trim().split(';').next()?.trim().parse().ok()
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
        // A line without JobState reads as "" (neither started nor terminal): polled again.
        state: SlurmJobState::parse(fields.get("JobState").copied().unwrap_or_default()),
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
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c))
    {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Runs one Slurm command, logging it; `Err` when it cannot be started.
async fn command(program: &str, args: &[String]) -> Result<Output, MeasureError> {
    tracing::debug!(program, ?args, "slurm command");
    Command::new(program)
        .args(args)
        .output()
        .await
        .map_err(|e| MeasureError::Slurm {
            what: format!("cannot run {program}"),
            detail: format!("{e} (is Slurm installed? apt-get install slurm-wlm)"),
        })
}

/// Runs one Slurm command that must succeed; returns its stdout.
async fn checked(program: &str, args: &[String], what: &str) -> Result<String, MeasureError> {
    let out = command(program, args).await?;
    if !out.status.success() {
        return Err(MeasureError::Slurm {
            what: format!("{program} ({what})"),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// Submits a batch job (`sbatch --parsable ARGS`) and returns its id.
pub async fn sbatch(args: &[String]) -> Result<u64, MeasureError> {
    let mut all = vec!["--parsable".to_owned()];
    all.extend_from_slice(args);
    let stdout = checked("sbatch", &all, "submitting a job").await?;
    parse_job_id(&stdout).ok_or_else(|| MeasureError::Slurm {
        what: "sbatch".into(),
        detail: format!("printed no job id: {stdout:?}"),
    })
}

/// Every job Slurm still knows (`scontrol show job -o`).
pub async fn show_jobs() -> Result<Vec<(u64, String, JobView)>, MeasureError> {
    let stdout = checked("scontrol", &strings(&["show", "job", "-o"]), "listing jobs").await?;
    Ok(stdout.lines().filter_map(parse_scontrol_line).collect())
}

/// The state of one job or array task (`1234` or `1234_5`), if Slurm still knows it.
pub async fn job_state(id: &str) -> Option<SlurmJobState> {
    let out = command("scontrol", &strings(&["show", "job", "-o", id]))
        .await
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("JobState=").map(SlurmJobState::parse))
}

/// Queued and running jobs as (id, name, state).
pub async fn queue() -> Result<Vec<(String, String, SlurmJobState)>, MeasureError> {
    let stdout = checked(
        "squeue",
        &strings(&["-h", "-o", "%i|%j|%T"]),
        "listing the queue",
    )
    .await?;
    Ok(stdout
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '|');
            Some((
                parts.next()?.trim().to_owned(),
                parts.next()?.trim().to_owned(),
                SlurmJobState::parse(parts.next()?),
            ))
        })
        .collect())
}

/// Why job `id` is pending (`squeue -h -j ID -o %r`), if Slurm says.
pub async fn pending_reason(id: &str) -> Option<String> {
    let out = command("squeue", &strings(&["-h", "-j", id, "-o", "%r"]))
        .await
        .ok()?;
    let reason = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !reason.is_empty()).then_some(reason)
}

/// The states of a job array's tasks still queued or running (task index → state); empty once
/// Slurm no longer lists the array. A failure of `squeue` itself (the controller unreachable,
/// say) is an error, never "nothing active": that would judge running tasks failed.
pub async fn array_tasks(job: u64) -> Result<BTreeMap<u32, SlurmJobState>, MeasureError> {
    let args = strings(&["-h", "-r", "-j", &job.to_string(), "-o", "%K %T"]);
    let out = command("squeue", &args).await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // squeue refuses a job it no longer knows: nothing active.
        if forgotten_job(&stderr) {
            return Ok(BTreeMap::new());
        }
        return Err(MeasureError::Slurm {
            what: format!("squeue (following job {job})"),
            detail: stderr.trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, state)| Some((k.trim().parse().ok()?, SlurmJobState::parse(state))))
        .collect())
}

/// True when Slurm's error says it no longer knows the job (it ended and was purged).
fn forgotten_job(stderr: &str) -> bool {
    stderr.contains("Invalid job id")
}

/// Cancels jobs by id.
pub async fn cancel(ids: &[String]) -> Result<(), MeasureError> {
    if ids.is_empty() {
        return Ok(());
    }
    checked("scancel", ids, "cancelling jobs").await.map(|_| ())
}

/// Cancels every job with this exact name.
pub async fn cancel_by_name(name: &str) -> Result<(), MeasureError> {
    checked(
        "scancel",
        &strings(&["--name", name]),
        "cancelling jobs by name",
    )
    .await
    .map(|_| ())
}

/// The nodes `sinfo` lists, sorted, each once.
pub async fn nodes() -> Result<Vec<String>, MeasureError> {
    let stdout = checked(
        "sinfo",
        &strings(&["-h", "-N", "-o", "%N"]),
        "listing nodes",
    )
    .await?;
    let mut nodes: Vec<String> = stdout.lines().map(|l| l.trim().to_owned()).collect();
    nodes.retain(|n| !n.is_empty());
    nodes.sort();
    nodes.dedup();
    Ok(nodes)
}

/// The fewest CPUs of any node (`sinfo -o %c`).
pub async fn cpus_per_node() -> Option<u32> {
    let out = command("sinfo", &strings(&["-h", "-N", "-o", "%c"]))
        .await
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .min()
}

/// The most tasks one job array may have: `MaxArraySize` of `scontrol show config` minus one
/// (task ids run from 0 to MaxArraySize − 1).
pub async fn max_array_tasks() -> Option<u32> {
    let out = command("scontrol", &strings(&["show", "config"]))
        .await
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.trim_start().starts_with("MaxArraySize"))
        .and_then(|l| l.split_once('=')?.1.trim().parse::<u32>().ok())
        .map(|max| max.saturating_sub(1))
}

/// The scheduling interval from `scontrol show config` [s]; Slurm's documented default, 60 s,
/// when the configuration sets none. A failed `scontrol` is an error: the interval becomes the
/// model's scheduling cycle, and a guessed one would predict every Slurm run.
pub async fn scheduler_interval_s() -> Result<f64, MeasureError> {
    let config = checked(
        "scontrol",
        &strings(&["show", "config"]),
        "reading the scheduling interval",
    )
    .await?;
    Ok(sched_interval(&config).unwrap_or(SLURM_DEFAULT_SCHED_INTERVAL_S))
}

/// Slurm's `sched_interval` when SchedulerParameters sets none [s] (slurm.conf(5)).
const SLURM_DEFAULT_SCHED_INTERVAL_S: f64 = 60.0;

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
            (id, name.as_str(), view.state.name()),
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
    fn job_ids_parse_with_and_without_a_cluster() {
        assert_eq!(parse_job_id("1234\n"), Some(1234));
        assert_eq!(parse_job_id("1234;cluster\n"), Some(1234));
        assert_eq!(parse_job_id("Submitted batch job 1234"), None);
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
        assert_eq!(shell_quote(""), "''");
    }
}
