//! The driver: partitions submit invocations under a policy, repetitions follow each other,
//! records stream to `invocations.csv`, and `run.json` and `summary.csv` describe the run.
//!
//! ```text
//!  dataset ──▶ partition p (ids ≡ p mod P, bound to node p mod |nodes|) ──▶ Platform::invoke ──▶ record
//!                       sequential | window w | poisson λ                            │
//!                                                                  writer task ◀──────┘ append + flush
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faastwin_workers::dataset::Dataset;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use faastwin_models::{PlatformKind, SubmitPolicy};

use crate::components::{self, own_cpu_seconds};
use crate::platform::{Platform, PlatformInfo};
use crate::setup::PlatformSetup;
use crate::summary::{RepetitionSummary, summarise, write_summary};
use crate::writer::{RecordWriter, fill_gaps_and_rewrite, read_records};
use crate::{
    ClockInfo, DriverClock, InvocationRecord, InvocationSpec, MeasureError, Observation, Outcome,
};

/// Everything that defines a run (all of it goes to `run.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunOptions {
    /// Run id: labels everything the run creates.
    pub run_id: String,
    /// Platform.
    pub platform: PlatformKind,
    /// Number of partitions.
    pub partitions: u32,
    /// Node of each partition, cycled: partition p runs on `nodes[p mod len]`.
    pub nodes: Vec<String>,
    /// Submission policy.
    pub policy: SubmitPolicy,
    /// Repetitions of the whole batch.
    pub repetitions: u32,
    /// Shell command run between repetitions (e.g. dropping page caches).
    pub between: Option<String>,
    /// Warm-up invocations per partition and repetition, left out of warm metrics.
    pub warmup: u64,
    /// Use only the first this many dataset entries.
    pub invocations: Option<u64>,
    /// Longest an invocation may take [s].
    pub timeout_s: f64,
    /// Seed of the open-loop arrival process.
    pub seed: u64,
    /// How the platform was built, recorded so that `--resume` drives it the same way
    /// (`None` when the caller built the platform itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<PlatformSetup>,
}

impl RunOptions {
    /// One repetition, no warm-up, every dataset entry, a 60 s timeout, seed 1, no recorded
    /// setup: the rest of a run's options as `faastwin measure` defaults them.
    pub fn new(
        run_id: String,
        platform: PlatformKind,
        partitions: u32,
        nodes: Vec<String>,
        policy: SubmitPolicy,
    ) -> RunOptions {
        RunOptions {
            run_id,
            platform,
            partitions,
            nodes,
            policy,
            repetitions: 1,
            between: None,
            warmup: 0,
            invocations: None,
            timeout_s: 60.0,
            seed: 1,
            setup: None,
        }
    }

    /// The platform these options describe (its setup, or the default one), for `dataset`,
    /// recording into `run_dir`.
    pub async fn build_platform(
        &self,
        dataset: &Path,
        run_dir: &Path,
    ) -> Result<Arc<dyn Platform>, MeasureError> {
        self.setup
            .clone()
            // No setup: a caller that builds platforms itself; the defaults apply.
            .unwrap_or_default()
            .build(
                self.platform,
                &self.run_id,
                dataset,
                run_dir,
                self.partitions,
            )
            .await
    }
}

/// Where a run stands (`run.json`'s `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Measuring, or killed while measuring (then `--resume` continues it).
    Running,
    /// Every repetition ran.
    Complete,
    /// Stopped by Ctrl-C or SIGTERM; in-flight invocations are recorded as cancelled.
    Interrupted,
    /// The driver itself failed (a full disk, a panicking task); every record written so far is
    /// kept, and `--resume` continues the run.
    Failed,
}

/// `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMeta {
    /// faastwin version.
    pub tool_version: String,
    /// The options.
    pub options: RunOptions,
    /// The platform's description.
    pub platform: PlatformInfo,
    /// Host of the measuring process.
    pub driver_host: String,
    /// Dataset directory.
    pub dataset: PathBuf,
    /// sha256 of the dataset's manifest.csv.
    pub dataset_manifest_sha256: String,
    /// The dataset's spec.
    pub dataset_spec: faastwin_workers::dataset::DatasetSpec,
    /// The driver's clock.
    pub clock: ClockInfo,
    /// Start of the first session [Unix ns, driver clock].
    pub started_unix_ns: u64,
    /// Start of every later session (`--resume`) [Unix ns].
    #[serde(default)]
    pub resumed_unix_ns: Vec<u64>,
    /// End [Unix ns], when finished.
    pub ended_unix_ns: Option<u64>,
    /// Where the run stands.
    pub status: RunStatus,
    /// Resumed sessions: start of each earlier session.
    pub resumed: bool,
    /// Per repetition: when the `between` command ran and its exit code.
    pub between_runs: Vec<(u32, Option<i32>)>,
    /// CPU time of the measuring process itself, children excluded [s].
    pub driver_cpu_s: Option<f64>,
    /// `driver_cpu_s` per recorded invocation [ms]: the measuring process's own cost.
    pub driver_cpu_ms_per_invocation: Option<f64>,
    /// The CPU the whole machine spent while the last session measured (earlier sessions' in
    /// `earlier_node_cpu`), when the invocations run on the driver's machine (local processes,
    /// containers, the testbed's Kubernetes): what a start and a teardown cost in CPU beyond
    /// the bodies, which wall times alone cannot tell.
    #[serde(default)]
    pub node_cpu: Option<NodeCpu>,
    /// The same for each earlier session of a resumed run, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_node_cpu: Vec<NodeCpu>,
}

/// Busy CPU time of the machine over one session's measurement (`/proc/stat`). Checked as it
/// is read: a negative or infinite time is refused with the line of `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawNodeCpu")]
pub struct NodeCpu {
    /// The session these figures belong to (the records' `session`).
    pub session: u32,
    /// Busy CPU time of every core (user, nice, system, irq, softirq, steal) [s].
    pub busy_s: f64,
    /// Wall time over which it was taken [s].
    pub wall_s: f64,
    /// Busy CPU time of the machine before the run, per second of wall time: what other
    /// processes spend, to subtract [s/s].
    pub idle_busy_s_per_s: f64,
    /// CPU time of the measuring process in the same interval [s].
    pub driver_s: f64,
    /// CPU time of each component of the run in the same interval [s], where the platform
    /// tells (local: `bodies`; container: `podman`, `conmon+runc`, `containers`; the
    /// testbed's Kubernetes: `kubelet`, `containerd`, `pods`, the control plane's; see
    /// docs/measure.md).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, f64>,
}

impl NodeCpu {
    /// One line saying what each component spent, in all and per invocation (of
    /// `invocations`), beside the machine's whole; `None` without components.
    pub fn describe_components(&self, invocations: usize) -> Option<String> {
        if self.components.is_empty() {
            return None;
        }
        let per = |s: f64| 1e3 * s / invocations.max(1) as f64;
        let parts: Vec<String> = self
            .components
            .iter()
            .map(|(name, s)| format!("{name} {s:.2} s ({:.0} ms each)", per(*s)))
            .collect();
        Some(format!(
            "CPU by component over {invocations} invocations: {}; the machine spent {:.2} s in {:.2} s",
            parts.join(", "),
            self.busy_s,
            self.wall_s
        ))
    }
}

/// [`NodeCpu`] as written, before its values are checked.
#[derive(Deserialize)]
struct RawNodeCpu {
    session: u32,
    busy_s: f64,
    wall_s: f64,
    idle_busy_s_per_s: f64,
    driver_s: f64,
    #[serde(default)]
    components: BTreeMap<String, f64>,
}

impl TryFrom<RawNodeCpu> for NodeCpu {
    type Error = String;

    fn try_from(raw: RawNodeCpu) -> Result<NodeCpu, String> {
        let fixed = [
            ("busy_s", raw.busy_s),
            ("wall_s", raw.wall_s),
            ("idle_busy_s_per_s", raw.idle_busy_s_per_s),
            ("driver_s", raw.driver_s),
        ];
        let components = raw
            .components
            .iter()
            .map(|(name, v)| (format!("components.{name}"), *v));
        for (field, value) in fixed
            .map(|(f, v)| (f.to_owned(), v))
            .into_iter()
            .chain(components)
        {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!(
                    "node_cpu.{field} = {value} is not a time (finite, at least 0)"
                ));
            }
        }
        // A year of wall time, or more than 4096 cores busy over it, is no measurement.
        if raw.wall_s > 3.2e7 || raw.busy_s > 4096.0 * raw.wall_s.max(1.0) {
            return Err(format!(
                "node_cpu: busy_s = {} over wall_s = {} is not a measurement of one machine",
                raw.busy_s, raw.wall_s
            ));
        }
        Ok(NodeCpu {
            session: raw.session,
            busy_s: raw.busy_s,
            wall_s: raw.wall_s,
            idle_busy_s_per_s: raw.idle_busy_s_per_s,
            driver_s: raw.driver_s,
            components: raw.components,
        })
    }
}

impl RunMeta {
    /// The run.json of a session that starts now: a resumed run keeps its start and its
    /// earlier sessions' instants and CPU.
    fn starting(
        options: &RunOptions,
        info: &PlatformInfo,
        dataset: &Dataset,
        clock: &DriverClock,
        previous: &Previous,
        resume: bool,
    ) -> Result<RunMeta, MeasureError> {
        let now = clock.now_ns();
        let mut resumed_unix_ns = previous.resumed_unix_ns.clone();
        if previous.started_unix_ns.is_some() {
            resumed_unix_ns.push(now);
        }
        Ok(RunMeta {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            options: options.clone(),
            platform: info.clone(),
            driver_host: crate::process::host_name(),
            dataset: dataset.dir.clone(),
            dataset_manifest_sha256: faastwin_workers::dataset::file_sha256(
                &dataset.dir.join("manifest.csv"),
            )?,
            dataset_spec: dataset.spec.clone(),
            clock: clock.info(),
            started_unix_ns: previous.started_unix_ns.unwrap_or(now),
            resumed_unix_ns,
            ended_unix_ns: None,
            status: RunStatus::Running,
            resumed: resume && !previous.succeeded.is_empty(),
            between_runs: Vec::new(),
            driver_cpu_s: None,
            driver_cpu_ms_per_invocation: None,
            node_cpu: None,
            earlier_node_cpu: previous.node_cpu.clone(),
        })
    }

    /// Ends the session's record: its end, status, clock and the CPU it took (the driver's,
    /// per record, and the machine's when it was sampled).
    fn finish(
        &mut self,
        clock: &DriverClock,
        status: RunStatus,
        records: usize,
        node_cpu: Option<NodeCpu>,
    ) {
        self.ended_unix_ns = Some(clock.now_ns());
        self.status = status;
        self.clock = clock.info();
        self.driver_cpu_s = own_cpu_seconds();
        self.driver_cpu_ms_per_invocation =
            self.driver_cpu_s.map(|s| 1e3 * s / records.max(1) as f64);
        self.node_cpu = node_cpu;
    }

    /// The options to resume this run with: exactly the recorded ones. Platform options given
    /// again (`given`: their ids) must equal the recorded values.
    pub fn resumed_options(
        &self,
        setup: &PlatformSetup,
        given: &[String],
    ) -> Result<RunOptions, MeasureError> {
        let mut options = self.options.clone();
        // Runs recorded before setups were: the defaults are what they were driven with.
        let recorded = options.setup.take().unwrap_or_default();
        let changed = setup.differences(&recorded, given);
        if !changed.is_empty() {
            return Err(MeasureError::Options(format!(
                "cannot resume run {} with other options than it began with: --{} differ from what its run.json records",
                options.run_id,
                changed.join(", --").replace('_', "-")
            )));
        }
        options.setup = Some(recorded);
        Ok(options)
    }

    /// The machine's CPU over every session that recorded it, oldest first.
    pub fn node_cpu_sessions(&self) -> impl Iterator<Item = &NodeCpu> {
        self.earlier_node_cpu.iter().chain(&self.node_cpu)
    }

    /// Reads `DIR/run.json`; an error names the file, and the line and column of bad JSON.
    pub fn read(dir: &Path) -> Result<RunMeta, MeasureError> {
        let path = dir.join("run.json");
        let text = std::fs::read_to_string(&path).map_err(|source| MeasureError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| MeasureError::Json { path, source })
    }
}

/// What a finished run returns.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Records in the run directory (all sessions).
    pub records: Vec<InvocationRecord>,
    /// Per-repetition summaries.
    pub summaries: Vec<RepetitionSummary>,
    /// True when Ctrl-C interrupted it.
    pub interrupted: bool,
}

impl RunOutcome {
    /// Invocations that no attempt brought to success (a failed attempt that `--resume` redid
    /// successfully is not one).
    pub fn failed(&self) -> usize {
        crate::record::invocations_and_failures(&self.records).1
    }

    /// Invocations of the run (each counted once, whatever its attempts).
    pub fn invocations(&self) -> usize {
        crate::record::invocations_and_failures(&self.records).0
    }

    /// What `faastwin measure` prints: one line on the run, then the per-repetition table.
    pub fn write_table(
        &self,
        out: &mut dyn std::io::Write,
        options: &RunOptions,
        dir: &Path,
    ) -> std::io::Result<()> {
        writeln!(
            out,
            "run {} on {}: {} invocations recorded in {}",
            options.run_id,
            options.platform,
            self.records.len(),
            dir.display()
        )?;
        crate::write_summary_table(out, &self.summaries)
    }
}

/// Callbacks for progress display.
pub trait ProgressSink: Send + Sync {
    /// A repetition starts; `per_partition[p]` invocations to run in partition p.
    fn repetition(&self, repetition: u32, per_partition: &[u64]);
    /// One invocation of partition `p` ended.
    fn done(&self, partition: u32, record: &InvocationRecord);
}

/// No progress display.
pub struct NoProgress;
impl ProgressSink for NoProgress {
    fn repetition(&self, _: u32, _: &[u64]) {}
    fn done(&self, _: u32, _: &InvocationRecord) {}
}

/// The invocations of one run, from the dataset.
pub fn plan(
    options: &RunOptions,
    dataset: &Dataset,
    out_dir: &Path,
    repetition: u32,
) -> Vec<Vec<InvocationSpec>> {
    let limit = options.invocations.unwrap_or(u64::MAX);
    let entries: Vec<_> = dataset.entries.iter().filter(|e| e.id < limit).collect();
    let workload = dataset.spec.body();
    let partitions = options.partitions.max(1);
    let mut plan: Vec<Vec<InvocationSpec>> = vec![Vec::new(); partitions as usize];
    for (index, entry) in entries.iter().enumerate() {
        let p = (index as u64 % u64::from(partitions)) as u32;
        let seq = plan[p as usize].len() as u64;
        let node = options.nodes[p as usize % options.nodes.len()].clone();
        let stem = Path::new(&entry.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            // Manifest paths always name a file; an empty stem would still give a unique name.
            .unwrap_or_default();
        plan[p as usize].push(InvocationSpec {
            run_id: options.run_id.clone(),
            workload,
            repetition,
            partition: p,
            seq,
            invocation_id: entry.id,
            node,
            input: dataset.dir.join(&entry.path),
            output: out_dir
                .join("results")
                .join(format!("r{repetition}-{stem}.json")),
            input_bytes: entry.bytes,
            warmup: seq < options.warmup,
            attempt: 1,
            session: 0,
        });
    }
    plan
}

/// What earlier sessions of a resumed run left: the invocations that succeeded, how often each
/// was tried, and when the run first started.
struct Previous {
    succeeded: HashSet<(u32, u64)>,
    attempts: HashMap<(u32, u64), u32>,
    session: u32,
    started_unix_ns: Option<u64>,
    resumed_unix_ns: Vec<u64>,
    node_cpu: Vec<NodeCpu>,
}

impl Previous {
    fn load(out_dir: &Path, resume: bool, run_id: &str) -> Result<Previous, MeasureError> {
        let records_path = out_dir.join("invocations.csv");
        let mut previous = Previous {
            succeeded: HashSet::new(),
            attempts: HashMap::new(),
            session: 0,
            started_unix_ns: None,
            resumed_unix_ns: Vec::new(),
            node_cpu: Vec::new(),
        };
        if !resume || !records_path.exists() {
            return Ok(previous);
        }
        for r in read_records(&records_path)?
            .iter()
            .filter(|r| r.run_id == run_id)
        {
            let key = (r.repetition, r.invocation_id);
            if r.succeeded() {
                previous.succeeded.insert(key);
            }
            let tried = previous.attempts.entry(key).or_insert(0);
            *tried = (*tried).max(r.attempt);
            previous.session = previous.session.max(r.session + 1);
        }
        // A run cut short before its run.json was written has none; one that cannot be read
        // is refused with its line, never resumed without the sessions it records.
        if out_dir.join("run.json").exists() {
            let meta = RunMeta::read(out_dir)?;
            previous.started_unix_ns = Some(meta.started_unix_ns);
            previous.node_cpu = meta.node_cpu_sessions().cloned().collect();
            previous.resumed_unix_ns = meta.resumed_unix_ns;
            previous.session = previous
                .session
                .max(1 + previous.resumed_unix_ns.len() as u32);
        }
        Ok(previous)
    }
}

/// Refuses options no run can honour, before anything starts.
fn validate(options: &RunOptions, dataset: &Dataset) -> Result<(), MeasureError> {
    check_options(options, dataset.entries.len() as u64, &dataset.dir)
}

/// Refuses options that no run over a dataset of `available` inputs in `dataset_dir` can
/// honour: what [`run`] checks before anything starts, for a caller that plans several runs
/// and checks them all before it measures any.
pub fn check_options(
    options: &RunOptions,
    available: u64,
    dataset_dir: &Path,
) -> Result<(), MeasureError> {
    let refuse = |what: String| Err(MeasureError::Options(what));
    // A run id a cluster refuses as a label fails when the platform is set up, after a loop
    // may have measured for half an hour: refused here, before any work.
    if options.platform.is_kubernetes() {
        crate::k8s::validate_run_id(&options.run_id)?;
    }
    if options.partitions == 0 {
        return refuse("--partitions must be at least 1".into());
    }
    if options.repetitions == 0 {
        return refuse("--repetitions must be at least 1".into());
    }
    if !(options.timeout_s.is_finite() && options.timeout_s > 0.0) {
        return refuse(format!(
            "--timeout {} s is not a duration above 0",
            options.timeout_s
        ));
    }
    match &options.policy {
        SubmitPolicy::Window { size: 0 } => return refuse("--window must be at least 1".into()),
        SubmitPolicy::Poisson { rate_per_s } if !(rate_per_s.is_finite() && *rate_per_s > 0.0) => {
            return refuse(format!("--rate {rate_per_s}/s is not a rate above 0"));
        }
        SubmitPolicy::Arrivals { .. } => {
            return refuse(
                "arrival files are a simulation policy: measure submits sequentially, with --window or with --rate".into(),
            );
        }
        _ => {}
    }
    if let Some(n) = options.invocations {
        if n == 0 || n > available {
            return refuse(format!(
                "--invocations {n}: the dataset {} holds {available} inputs (use at most that many, or make a larger dataset)",
                dataset_dir.display()
            ));
        }
    }
    let n = options.invocations.unwrap_or(available);
    let partitions = u64::from(options.partitions);
    if partitions > n {
        return refuse(format!(
            "--partitions {partitions}: only {n} invocations to share, so {} partitions would submit nothing",
            partitions - n
        ));
    }
    // The smallest partition holds n / partitions invocations.
    if options.warmup >= n / partitions {
        return refuse(format!(
            "--warmup {}: the smallest of the {partitions} partitions holds {} of the {n} invocations, so it would measure none warm",
            options.warmup,
            n / partitions
        ));
    }
    Ok(())
}

/// Runs the measurement. `cancel` becomes true on Ctrl-C or SIGTERM: no new submissions,
/// in-flight invocations are recorded as cancelled, the platform cleans up, and every record
/// made so far stays on disk. A resumed run first removes what an earlier session left behind
/// (jobs, containers by the run's label), then runs only what did not succeed.
pub async fn run(
    platform: Arc<dyn Platform>,
    options: RunOptions,
    dataset: Dataset,
    out_dir: PathBuf,
    resume: bool,
    progress: Arc<dyn ProgressSink>,
    cancel: watch::Receiver<bool>,
) -> Result<RunOutcome, MeasureError> {
    validate(&options, &dataset)?;
    let records_path = open_out_dir(&out_dir, resume).await?;
    let previous = Previous::load(&out_dir, resume, &options.run_id)?;
    if resume {
        tracing::debug!(run = %options.run_id, "removing what earlier sessions left");
        platform.cleanup(&options.run_id).await?;
    }
    let clock = DriverClock::start();
    let Some(info) = start_platform(platform.as_ref(), &options, cancel.clone()).await? else {
        return Ok(RunOutcome {
            records: Vec::new(),
            summaries: Vec::new(),
            interrupted: true,
        });
    };
    // No nodes given: every node the platform offers (KSI knows them only once launched).
    let mut options = options;
    if options.nodes.is_empty() {
        options.nodes = info.nodes.clone();
    }
    if options.nodes.is_empty() {
        return Err(MeasureError::Options(
            "the platform offers no node to run on".into(),
        ));
    }
    let mut meta = RunMeta::starting(&options, &info, &dataset, &clock, &previous, resume)?;
    write_meta(&out_dir, &meta)?;
    // The machine's CPU where the invocations run on it: local processes and containers, and
    // a cluster whose nodes account their components here (the testbed).
    let components_start = platform.component_cpu(&options.run_id);
    let cpu_start = if options.platform.runs_on_node_cores() || !components_start.is_empty() {
        CpuSample::before_run().await
    } else {
        None
    };

    // The partitions stop on the user's cancel and on a failure of the driver itself (the
    // record writer, a panicking partition): `stop` carries both.
    let (stop_tx, stop) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let forwarder = tokio::spawn(forward_cancel(cancel.clone(), Arc::clone(&stop_tx)));
    let (tx, writer_task) = spawn_writer(&records_path, Arc::clone(&stop_tx))?;
    let session = Session {
        platform: &platform,
        options: &options,
        dataset: &dataset,
        out_dir: &out_dir,
        previous: &previous,
        progress: &progress,
        clock,
        tx: &tx,
        stop: &stop,
        stop_tx: &stop_tx,
    };
    let failure = session.repetitions(&mut meta.between_runs).await;
    drop(tx);
    forwarder.abort();
    let cpu_end = CpuSample::now();
    let components =
        components::difference(&components_start, &platform.component_cpu(&options.run_id));
    let interrupted = *cancel.borrow();
    let cleaned = platform.cleanup(&options.run_id).await;
    let written = writer_task
        .await
        .map_err(|source| MeasureError::Task {
            what: "the record writer".into(),
            source,
        })
        .and_then(|w| w);
    let failure = first_failure(failure, written, cleaned, options.platform);

    let records = fill_gaps_and_rewrite(&records_path)?;
    let summaries = summarise(&records, info.startup_overhead_s);
    write_summary(&out_dir.join("summary.csv"), &summaries)?;
    let status = match (&failure, interrupted) {
        (Some(_), _) => RunStatus::Failed,
        (None, true) => RunStatus::Interrupted,
        (None, false) => RunStatus::Complete,
    };
    let node_cpu = cpu_start.zip(cpu_end).map(|((start, idle), end)| NodeCpu {
        components,
        ..start.until(&end, idle, previous.session)
    });
    meta.finish(&clock, status, records.len(), node_cpu);
    write_meta(&out_dir, &meta)?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    Ok(RunOutcome {
        records,
        summaries,
        interrupted,
    })
}

/// Passes the user's cancel on to the partitions' stop signal.
async fn forward_cancel(mut cancel: watch::Receiver<bool>, stop: Arc<watch::Sender<bool>>) {
    if cancel.wait_for(|c| *c).await.is_ok() {
        stop.send_replace(true);
    }
}

/// Refuses to overwrite a run unless it is resumed; returns where its records go.
async fn open_out_dir(out_dir: &Path, resume: bool) -> Result<PathBuf, MeasureError> {
    let records_path = out_dir.join("invocations.csv");
    if records_path.exists() && !resume {
        return Err(MeasureError::Options(format!(
            "{} already holds a run; pass --resume to continue it or choose another --out",
            out_dir.display()
        )));
    }
    tokio::fs::create_dir_all(out_dir.join("results"))
        .await
        .map_err(|source| MeasureError::Io {
            path: out_dir.to_owned(),
            source,
        })?;
    Ok(records_path)
}

/// Starts the platform. That may take long (KSI's clusters, an allocation waiting in Slurm's
/// queue): Ctrl-C then removes what it started, and the run ends with nothing measured (None).
async fn start_platform(
    platform: &dyn Platform,
    options: &RunOptions,
    mut cancel: watch::Receiver<bool>,
) -> Result<Option<PlatformInfo>, MeasureError> {
    let interrupted = async move {
        // A closed channel (no one can cancel any more) never interrupts.
        if cancel.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        info = platform.prepare(&options.nodes) => Ok(Some(info?)),
        () = interrupted => {
            tracing::debug!(run = %options.run_id, "interrupted while the platform started");
            platform.cleanup(&options.run_id).await?;
            Ok(None)
        }
    }
}

/// The record writer's task: it ends with the first invocations' common failure, if any.
type WriterTask = tokio::task::JoinHandle<Result<Option<String>, MeasureError>>;

/// The task that appends each record to `invocations.csv` as it comes, and stops the run when
/// writing fails or the first invocations all failed alike (what is in flight is still
/// written). It ends once every sender is gone.
fn spawn_writer(
    records_path: &Path,
    stop: Arc<watch::Sender<bool>>,
) -> Result<(mpsc::UnboundedSender<InvocationRecord>, WriterTask), MeasureError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<InvocationRecord>();
    let mut writer = RecordWriter::open(records_path)?;
    let task = tokio::spawn(async move {
        let mut same = SameFailure::default();
        while let Some(record) = rx.recv().await {
            if let Err(e) = writer.append(&record) {
                stop.send_replace(true);
                return Err(e);
            }
            if same.observe(&record) {
                stop.send_replace(true);
            }
        }
        Ok(same.verdict())
    });
    Ok((tx, task))
}

/// The error a run ends with: a partition's, else the writer's, else the first invocations'
/// common cause, else the cleanup's.
fn first_failure(
    partition: Option<MeasureError>,
    written: Result<Option<String>, MeasureError>,
    cleaned: Result<(), MeasureError>,
    platform: PlatformKind,
) -> Option<MeasureError> {
    let all_failed_alike = match &written {
        Ok(Some(cause)) => Some(MeasureError::Platform {
            platform,
            detail: format!(
                "the first {SAME_FAILURES} invocations all failed the same way, so the run stopped early (every record is kept; fix the cause, then --resume): {cause}"
            ),
        }),
        _ => None,
    };
    partition
        .or(written.err())
        .or(all_failed_alike)
        .or(cleaned.err())
}

/// What every repetition of one session of a run shares.
struct Session<'a> {
    platform: &'a Arc<dyn Platform>,
    options: &'a RunOptions,
    dataset: &'a Dataset,
    out_dir: &'a Path,
    previous: &'a Previous,
    progress: &'a Arc<dyn ProgressSink>,
    clock: DriverClock,
    tx: &'a mpsc::UnboundedSender<InvocationRecord>,
    stop: &'a watch::Receiver<bool>,
    stop_tx: &'a watch::Sender<bool>,
}

impl Session<'_> {
    /// Runs the repetitions one after another until done or stopped, the command between
    /// them noted in `between_runs`; returns the first failure of the driver itself.
    async fn repetitions(
        &self,
        between_runs: &mut Vec<(u32, Option<i32>)>,
    ) -> Option<MeasureError> {
        let options = self.options;
        tracing::debug!(run = %options.run_id, platform = %options.platform, partitions = options.partitions, nodes = ?options.nodes, policy = ?options.policy, session = self.previous.session, "run starts");
        let mut failure = None;
        for repetition in 0..options.repetitions {
            if *self.stop.borrow() {
                break;
            }
            if repetition > 0 {
                if let Some(command) = &options.between {
                    tracing::debug!(run = %options.run_id, repetition, command, "between repetitions");
                    let status = tokio::process::Command::new("sh")
                        .args(["-c", command])
                        .status()
                        .await;
                    between_runs.push((repetition, status.ok().and_then(|s| s.code())));
                }
            }
            if let Some(e) = self.repetition(repetition).await {
                failure.get_or_insert(e);
            }
        }
        failure
    }

    /// The invocations of one repetition that this session still runs, by partition: those
    /// that no earlier session brought to success, each with its attempt number.
    fn still_to_run(&self, repetition: u32) -> Vec<Vec<InvocationSpec>> {
        let previous = self.previous;
        plan(self.options, self.dataset, self.out_dir, repetition)
            .into_iter()
            .map(|p| {
                p.into_iter()
                    .filter(|s| !previous.succeeded.contains(&(repetition, s.invocation_id)))
                    .map(|mut s| {
                        let key = (repetition, s.invocation_id);
                        s.attempt = previous.attempts.get(&key).copied().unwrap_or(0) + 1;
                        s.session = previous.session;
                        s
                    })
                    .collect()
            })
            .collect()
    }

    /// One repetition: every partition at once, each under the policy; a partition that
    /// stops abnormally stops the others and is the failure returned.
    async fn repetition(&self, repetition: u32) -> Option<MeasureError> {
        let options = self.options;
        let partitions = self.still_to_run(repetition);
        self.progress.repetition(
            repetition,
            &partitions
                .iter()
                .map(|p| p.len() as u64)
                .collect::<Vec<_>>(),
        );
        let mut tasks = JoinSet::new();
        for (p, specs) in partitions.into_iter().enumerate() {
            let ctx = PartitionContext {
                platform: Arc::clone(self.platform),
                clock: self.clock,
                timeout: Duration::from_secs_f64(options.timeout_s),
                tx: self.tx.clone(),
                cancel: self.stop.clone(),
                progress: Arc::clone(self.progress),
                kind: options.platform,
                seed: options.seed ^ (u64::from(repetition) << 32) ^ p as u64,
            };
            let policy = options.policy.clone();
            tasks.spawn(async move { ctx.run(specs, policy).await });
        }
        let mut failure = None;
        while let Some(joined) = tasks.join_next().await {
            if let Err(source) = joined {
                tracing::error!(run = %options.run_id, "a partition stopped abnormally: {source}");
                self.stop_tx.send_replace(true);
                failure.get_or_insert(MeasureError::Task {
                    what: format!("a partition of repetition {repetition}"),
                    source,
                });
            }
        }
        failure
    }
}

/// How many first invocations failing alike stop a run.
const SAME_FAILURES: usize = 3;

/// Watches a run's first records: when the first [`SAME_FAILURES`] all failed with the same
/// cause (a missing image, a pod the node rejects), every other invocation would too, each
/// after its own wait, and the run stops.
#[derive(Default)]
struct SameFailure {
    seen: usize,
    cause: Option<String>,
    stopped: bool,
}

impl SameFailure {
    /// Takes one record; true when the run should stop now.
    fn observe(&mut self, record: &InvocationRecord) -> bool {
        if self.stopped || self.seen >= SAME_FAILURES || record.outcome == Outcome::Cancelled {
            return false;
        }
        self.seen += 1;
        let cause = (!record.succeeded()).then(|| failure_kind(&record.error));
        match (self.seen, cause) {
            (_, None) => {
                self.seen = SAME_FAILURES;
                self.cause = None;
                false
            }
            (1, Some(cause)) => {
                self.cause = Some(cause);
                false
            }
            (n, Some(cause)) if self.cause.as_ref() == Some(&cause) => {
                self.stopped = n == SAME_FAILURES;
                self.stopped
            }
            (_, Some(_)) => {
                self.seen = SAME_FAILURES;
                self.cause = None;
                false
            }
        }
    }

    /// The shared cause, when the run was stopped for it.
    fn verdict(self) -> Option<String> {
        self.stopped.then_some(self.cause).flatten()
    }
}

/// An error with the names and numbers of its own invocation left out (Job and pod names,
/// ids, durations), so that two invocations failing for one cause compare equal.
fn failure_kind(error: &str) -> String {
    error
        .split_whitespace()
        .map(|word| {
            if word.contains("faastwin-") {
                "<object>".to_owned()
            } else {
                word.chars()
                    .map(|c| if c.is_ascii_digit() { '#' } else { c })
                    .collect()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The machine's busy CPU time, the driver's own and the wall clock at one instant.
#[derive(Debug, Clone, Copy)]
struct CpuSample {
    machine_s: f64,
    driver_s: f64,
    at: std::time::Instant,
}

impl CpuSample {
    fn now() -> Option<CpuSample> {
        Some(CpuSample {
            machine_s: machine_busy_seconds()?,
            driver_s: own_cpu_seconds()?,
            at: std::time::Instant::now(),
        })
    }

    /// A sample at the start of the measurement, with what the machine spends when the run
    /// does nothing (over 0.3 s before it) [s/s].
    async fn before_run() -> Option<(CpuSample, f64)> {
        let quiet = CpuSample::now()?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let start = CpuSample::now()?;
        let wall = start.at.duration_since(quiet.at).as_secs_f64();
        let other = (start.machine_s - quiet.machine_s) - (start.driver_s - quiet.driver_s);
        Some((start, (other / wall).max(0.0)))
    }

    fn until(&self, end: &CpuSample, idle_busy_s_per_s: f64, session: u32) -> NodeCpu {
        NodeCpu {
            session,
            busy_s: end.machine_s - self.machine_s,
            wall_s: end.at.duration_since(self.at).as_secs_f64(),
            idle_busy_s_per_s,
            driver_s: end.driver_s - self.driver_s,
            components: BTreeMap::new(),
        }
    }
}

/// Busy CPU time of every core of the machine since boot [s], from the first line of
/// /proc/stat (user, nice, system, irq, softirq and steal; guest time is inside user).
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    busy_seconds_of(stat.lines().next()?)
}

/// The busy seconds of a `/proc/stat` `cpu` line.
fn busy_seconds_of(line: &str) -> Option<f64> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<f64> = fields
        .map(|f| f.parse::<f64>().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| ticks.get(i).copied().unwrap_or(0.0))
        .sum::<f64>();
    // USER_HZ is 100 on every Linux ABI faastwin targets.
    (ticks.len() >= 4).then_some(busy / 100.0)
}

fn write_meta(out_dir: &Path, meta: &RunMeta) -> Result<(), MeasureError> {
    let path = out_dir.join("run.json");
    let text = serde_json::to_string_pretty(meta).map_err(|source| MeasureError::Json {
        path: out_dir.join("run.json"),
        source,
    })?;
    let tmp = out_dir.join("run.json.tmp");
    std::fs::write(&tmp, text + "\n").map_err(|source| MeasureError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &path).map_err(|source| MeasureError::Io { path, source })
}

struct PartitionContext {
    platform: Arc<dyn Platform>,
    clock: DriverClock,
    timeout: Duration,
    tx: mpsc::UnboundedSender<InvocationRecord>,
    cancel: watch::Receiver<bool>,
    progress: Arc<dyn ProgressSink>,
    kind: PlatformKind,
    seed: u64,
}

impl PartitionContext {
    async fn run(self, specs: Vec<InvocationSpec>, policy: SubmitPolicy) {
        let ctx = Arc::new(self);
        match policy {
            SubmitPolicy::Sequential => ctx.closed_loop(specs, 1).await,
            SubmitPolicy::Window { size } => ctx.closed_loop(specs, size.max(1) as usize).await,
            SubmitPolicy::Poisson { rate_per_s } => ctx.open_loop(specs, rate_per_s).await,
            // Refused before the run starts (`validate_policy`).
            SubmitPolicy::Arrivals { .. } => {}
        }
    }

    async fn closed_loop(self: &Arc<Self>, specs: Vec<InvocationSpec>, window: usize) {
        let mut in_flight = JoinSet::new();
        for spec in specs {
            while in_flight.len() >= window {
                in_flight.join_next().await;
            }
            if *self.cancel.borrow() {
                break;
            }
            let ctx = Arc::clone(self);
            in_flight.spawn(async move { ctx.one(spec).await });
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn open_loop(self: &Arc<Self>, specs: Vec<InvocationSpec>, rate_per_s: f64) {
        let mut rng = faastwin_models::rng_from_seed(self.seed);
        let mut in_flight = JoinSet::new();
        for spec in specs {
            let u: f64 = rand_unit(&mut rng);
            let wait = -(1.0 - u).ln() / rate_per_s;
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
            if *self.cancel.borrow() {
                break;
            }
            let ctx = Arc::clone(self);
            in_flight.spawn(async move { ctx.one(spec).await });
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn one(&self, spec: InvocationSpec) {
        tracing::debug!(run = %spec.run_id, repetition = spec.repetition, partition = spec.partition, invocation = spec.invocation_id, node = %spec.node, "invoke");
        let mut cancel = self.cancel.clone();
        let obs = tokio::select! {
            obs = self.platform.invoke(&spec, &self.clock, self.timeout) => obs,
            _ = cancel.wait_for(|c| *c) => Observation {
                outcome: Some(Outcome::Cancelled),
                error: Some("interrupted".into()),
                ..Observation::default()
            },
        };
        let record = InvocationRecord::new(self.kind, &spec, obs);
        tracing::debug!(run = %spec.run_id, invocation = spec.invocation_id, outcome = ?record.outcome, e2e_s = ?record.e2e_s, "ended");
        self.progress.done(spec.partition, &record);
        // The writer stops early only when it failed (full disk, say); that error ends the
        // run, so the record is logged rather than lost silently.
        if let Err(lost) = self.tx.send(record) {
            tracing::error!(run = %spec.run_id, invocation = spec.invocation_id, record = ?lost.0, "the record writer stopped; this invocation's record is not in invocations.csv");
        }
    }
}

fn rand_unit(rng: &mut faastwin_models::Rng) -> f64 {
    use rand::Rng as _;
    rng.random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::{NodeCpu, busy_seconds_of};

    #[test]
    fn a_node_cpu_record_that_is_no_measurement_is_refused_naming_its_field() {
        let read = |json: &str| serde_json::from_str::<NodeCpu>(json).map_err(|e| e.to_string());
        let good =
            r#"{"session":1,"busy_s":2.5,"wall_s":3.0,"idle_busy_s_per_s":0.01,"driver_s":0.1}"#;
        assert_eq!(read(good).unwrap().busy_s, 2.5);
        for (field, bad, named) in [
            ("busy_s", -5.0, "node_cpu.busy_s = -5"),
            ("wall_s", f64::NAN, "node_cpu.wall_s"),
            ("idle_busy_s_per_s", -0.1, "node_cpu.idle_busy_s_per_s"),
            ("driver_s", -1.0, "node_cpu.driver_s"),
            ("wall_s", 1e9, "not a measurement of one machine"),
            ("busy_s", 1e7, "not a measurement of one machine"),
        ] {
            let mut value: serde_json::Value = serde_json::from_str(good).unwrap();
            // NaN has no JSON form: written as null, it is not a number either.
            value[field] =
                serde_json::Number::from_f64(bad).map_or(serde_json::Value::Null, Into::into);
            let err = read(&value.to_string()).unwrap_err();
            let named = if bad.is_nan() {
                "invalid type: null"
            } else {
                named
            };
            assert!(err.contains(named), "{field} = {bad}: {err}");
        }
        // Components are optional, and each is a time like the rest.
        let with = |v: &str| {
            good.replace(
                "}",
                &format!(r#","components":{{"podman":1.5,"conmon+runc":{v}}}}}"#),
            )
        };
        assert_eq!(read(&with("0.5")).unwrap().components["conmon+runc"], 0.5);
        let err = read(&with("-2")).unwrap_err();
        assert!(
            err.contains("node_cpu.components.conmon+runc = -2"),
            "{err}"
        );
    }

    #[test]
    fn a_kubernetes_run_id_that_cannot_be_a_label_is_refused_before_any_work() {
        let options = |platform, run_id: &str| {
            super::RunOptions::new(
                run_id.into(),
                platform,
                1,
                vec!["n1".into()],
                faastwin_models::SubmitPolicy::Sequential,
            )
        };
        let dir = std::path::Path::new("/nonexistent-dataset");
        for kind in [crate::PlatformKind::K8s, crate::PlatformKind::Ksi] {
            let err = super::check_options(&options(kind, "Loop_H1"), 10, dir).unwrap_err();
            assert!(err.to_string().contains("\"Loop_H1\""), "{kind:?}: {err}");
            super::check_options(&options(kind, "loop-h1-ab12"), 10, dir).unwrap();
        }
        // Elsewhere a run id labels files only.
        super::check_options(&options(crate::PlatformKind::Local, "Loop_H1"), 10, dir).unwrap();
    }

    #[test]
    fn busy_time_counts_user_nice_system_irq_softirq_and_steal_not_idle_or_iowait() {
        // user nice system idle iowait irq softirq steal guest guest_nice [ticks]
        let line = "cpu  100 20 30 5000 400 6 7 8 50 0";
        assert_eq!(busy_seconds_of(line), Some(1.71));
        assert_eq!(busy_seconds_of("cpu0 1 2 3 4"), None, "only the total line");
        assert_eq!(busy_seconds_of("cpu 1 x 3 4"), None);
        assert_eq!(
            busy_seconds_of("cpu 1 2"),
            None,
            "too short to be /proc/stat"
        );
    }

    #[test]
    fn this_machine_reports_busy_time_that_grows() {
        let before = super::machine_busy_seconds().expect("/proc/stat");
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed().as_millis() < 100 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = super::machine_busy_seconds().expect("/proc/stat");
        assert!(after >= before + 0.05, "{before} -> {after}");
    }
}
