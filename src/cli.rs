//! The command line: every subcommand and option, with units in the help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Predicts how long batches of short-lived FaaS-like invocations take on Kubernetes platforms
/// (K3s, KSI) and their baselines, from latency models calibrated on real runs.
#[derive(Parser, Debug)]
#[command(name = "faastwin", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Write a deterministic dataset (relay objects or ETL shards) with a manifest.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Run real invocations on a platform and record every timing layer of each.
    Measure(Box<MeasureArgs>),
    /// Fit latency models to measured runs and write a calibration file.
    Calibrate(CalibrateArgs),
    /// Simulate the scenario of each run with a calibration and compare with what was measured.
    Validate(ValidateArgs),
    /// Closed loop, for real: measure configuration A, calibrate, predict and measure held-out
    /// configurations, validate.
    Loop(LoopArgs),
    /// Figures (SVG, PNG) and one self-contained HTML page from runs, calibrations,
    /// simulations, sweeps and validations.
    Report(ReportArgs),
    /// Simulate a scenario's platforms and print the study's run-level metrics.
    Simulate(SimulateArgs),
    /// Simulate every point of a scenario's sweep grid and write one CSV row per point and platform.
    Sweep(SweepArgs),
}

#[derive(Args, Debug)]
pub(crate) struct CalibrateArgs {
    /// Run directories written by `faastwin measure`.
    #[arg(required = true)]
    pub(crate) runs: Vec<PathBuf>,
    /// Calibration file to write (TOML, what `faastwin simulate` reads).
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct ValidateArgs {
    /// Calibration file.
    #[arg(long)]
    pub(crate) calibration: PathBuf,
    /// Run directories to predict and compare.
    #[arg(long, required = true, num_args = 1..)]
    pub(crate) runs: Vec<PathBuf>,
    /// Exit non-zero when a warm makespan error exceeds this share (0.05 = 5 %).
    #[arg(long, default_value_t = 0.05)]
    pub(crate) tolerance: f64,
    /// Replications per run.
    #[arg(long, default_value_t = 20)]
    pub(crate) replications: u32,
    /// Base seed.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) format: OutputFormat,
}

#[derive(Args, Debug)]
pub(crate) struct ReportArgs {
    /// Run directories, calibration files (.toml), `simulate --format json` and
    /// `validate --format json` outputs (.json), sweep CSVs (.csv).
    #[arg(required = true)]
    pub(crate) inputs: Vec<PathBuf>,
    /// Directory for the figures and index.html.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// Platforms the closed loop can run on here.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoopPlatform {
    /// Local processes.
    Local,
    /// Slurm jobs (nodes n1,n2 unless --nodes says otherwise).
    Slurm,
}

#[derive(Args, Debug)]
pub(crate) struct LoopArgs {
    /// Where to run.
    #[arg(long, value_enum)]
    pub(crate) platform: LoopPlatform,
    /// Directory for datasets, runs and the calibration.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Invocations per configuration.
    #[arg(long, default_value_t = 40)]
    pub(crate) invocations: u64,
    /// Shard size of configuration A [bytes]; the 8x configuration uses 8 times this.
    #[arg(long, default_value_t = 1 << 20, value_parser = parse_bytes)]
    pub(crate) small_shard_bytes: u64,
    /// Repetitions of each configuration (calibration from all of A's; measured = median
    /// over B's). Local millisecond runs vary from run to run; three steady them.
    #[arg(long, default_value_t = 3)]
    pub(crate) repetitions: u32,
    /// Replications of each prediction.
    #[arg(long, default_value_t = 20)]
    pub(crate) replications: u32,
    /// Exit non-zero when the median |makespan error| exceeds this share.
    #[arg(long, default_value_t = 0.05)]
    pub(crate) tolerance: f64,
    /// Nodes, comma-separated [default: this host; Slurm: n1,n2].
    #[arg(long)]
    pub(crate) nodes: Option<String>,
    /// The faastwin-worker binary [default: next to faastwin].
    #[arg(long)]
    pub(crate) worker: Option<PathBuf>,
}

/// Platforms `faastwin measure` can drive.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlatformKind {
    /// The worker as a child process of the measuring process (bare metal).
    Local,
    /// One `podman run --rm` of the worker image per invocation (container per task).
    Container,
    /// One Slurm job per invocation, pinned to its partition's node.
    Slurm,
    /// One Kubernetes Job per invocation on the cluster of a kubeconfig (K3s or any other).
    K8s,
    /// KSI launched on a Slurm allocation: one temporary cluster per node, one partition each.
    Ksi,
}

impl PlatformKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            PlatformKind::Local => "local",
            PlatformKind::Container => "container",
            PlatformKind::Slurm => "slurm",
            PlatformKind::K8s => "k8s",
            PlatformKind::Ksi => "ksi",
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct MeasureArgs {
    /// Where invocations run.
    #[arg(long, value_enum)]
    pub(crate) platform: Option<PlatformKind>,
    /// Dataset directory written by `faastwin dataset` (on storage every node sees).
    #[arg(long)]
    pub(crate) dataset: Option<PathBuf>,
    /// Run directory: invocations.csv, run.json, summary.csv, results/ (on shared storage for Slurm).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Continue the interrupted run in this directory, skipping invocations that succeeded.
    #[arg(long, conflicts_with_all = ["platform", "dataset", "out", "partitions", "nodes", "window", "rate", "repetitions"])]
    pub(crate) resume: Option<PathBuf>,
    /// Number of partitions; invocation i goes to partition i mod P.
    #[arg(long, default_value_t = 1)]
    pub(crate) partitions: u32,
    /// Nodes, comma-separated; partition p runs on the (p mod count)-th [default: this host; Slurm: every node].
    #[arg(long)]
    pub(crate) nodes: Option<String>,
    /// Up to this many invocations in flight per partition [default: 1, sequential].
    #[arg(long)]
    pub(crate) window: Option<u32>,
    /// Open loop: Poisson arrivals per partition at this rate [1/s].
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// Repetitions of the whole batch.
    #[arg(long, default_value_t = 1)]
    pub(crate) repetitions: u32,
    /// Shell command run between repetitions (e.g. 'sync; echo 3 > /proc/sys/vm/drop_caches').
    #[arg(long)]
    pub(crate) between: Option<String>,
    /// Warm-up invocations per partition and repetition, left out of the warm metrics.
    #[arg(long, default_value_t = 0)]
    pub(crate) warmup: u64,
    /// Use only the first N dataset entries.
    #[arg(long)]
    pub(crate) invocations: Option<u64>,
    /// Longest an invocation may take before it is killed and recorded as timed out [s].
    #[arg(long, default_value_t = 600.0)]
    pub(crate) timeout: f64,
    /// Run id, used as label on everything the run creates [default: date, time and pid].
    #[arg(long)]
    pub(crate) run_id: Option<String>,
    /// Seed of the open-loop arrival process.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// The faastwin-worker binary [default: next to faastwin, else on PATH].
    #[arg(long)]
    pub(crate) worker: Option<PathBuf>,
    /// Worker image for the container platform.
    #[arg(long, default_value = "localhost/faastwin-worker:latest")]
    pub(crate) image: String,
    /// Slurm: submit with a blocking srun instead of sbatch (client-side instants only).
    #[arg(long)]
    pub(crate) srun: bool,
    /// Slurm: interval between scontrol polls [ms].
    #[arg(long, default_value_t = 50)]
    pub(crate) poll_ms: u64,
    /// Print what would be submitted, then stop.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) kubernetes: KubernetesArgs,
    #[command(flatten)]
    pub(crate) ksi: KsiArgs,
}

#[derive(Args, Debug)]
#[command(next_help_heading = "Kubernetes (k8s, ksi)")]
pub(crate) struct KubernetesArgs {
    /// Kubeconfig of the cluster [default: $KUBECONFIG, ~/.kube/config, or in-cluster].
    #[arg(long)]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Namespace of the Jobs.
    #[arg(long, default_value = "default")]
    pub(crate) namespace: String,
    /// imagePullPolicy of the worker container.
    #[arg(long, default_value = "IfNotPresent")]
    pub(crate) image_pull_policy: String,
    /// How Jobs are pinned to their partition's node.
    #[arg(long, value_enum, default_value_t = PinArg::NodeName)]
    pub(crate) pin: PinArg,
    /// CPU request of the worker container (e.g. 100m).
    #[arg(long)]
    pub(crate) cpu_request: Option<String>,
    /// Memory request of the worker container (e.g. 64Mi).
    #[arg(long)]
    pub(crate) memory_request: Option<String>,
    /// ttlSecondsAfterFinished of the Jobs [s].
    #[arg(long, default_value_t = 300)]
    pub(crate) ttl_seconds: i32,
    /// Mount this PersistentVolumeClaim at /shared instead of hostPath volumes.
    #[arg(long, requires = "pvc_root")]
    pub(crate) pvc: Option<String>,
    /// The directory the PVC exposes, as this host sees it (dataset and run dir lie under it).
    #[arg(long)]
    pub(crate) pvc_root: Option<PathBuf>,
}

/// Node pinning of Kubernetes Jobs.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PinArg {
    /// spec.nodeName (bypasses the scheduler).
    NodeName,
    /// nodeSelector kubernetes.io/hostname (through the scheduler).
    NodeSelector,
}

#[derive(Args, Debug)]
#[command(next_help_heading = "KSI")]
pub(crate) struct KsiArgs {
    /// KSI's run-workload.sh.
    #[arg(long)]
    pub(crate) ksi_run_workload: Option<PathBuf>,
    /// The shared folder KSI writes kubeconfig-liqo-<procid>.yaml to.
    #[arg(long)]
    pub(crate) ksi_shared: Option<PathBuf>,
    /// Slurm nodes to allocate [default: --partitions].
    #[arg(long)]
    pub(crate) ksi_nodes: Option<u32>,
    /// Extra srun argument for the KSI allocation (repeatable, e.g. --srun-arg=--partition=gpu).
    #[arg(long = "srun-arg", allow_hyphen_values = true)]
    pub(crate) srun_args: Vec<String>,
    /// Longest launch → every node's cluster answering [s].
    #[arg(long, default_value_t = 600.0)]
    pub(crate) ksi_ready_timeout: f64,
}

/// Output format of `faastwin simulate`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    /// Aligned text tables, as in the study.
    Table,
    /// Long CSV: metric, platform, median, mean, std, min, max, ci95_low, ci95_high, replications, seed.
    Csv,
    /// JSON: per platform the medians (warm_makespan_s, p50_latency_s, p95_latency_s,
    /// startup_overhead_s, ...) with every statistic under `stats`.
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {
    /// Scenario file (TOML); see scenarios/README.md.
    pub(crate) scenario: PathBuf,
    /// Replications per platform [default: the scenario's].
    #[arg(long)]
    pub(crate) replications: Option<u32>,
    /// Base seed [default: the scenario's].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Write one CSV row per simulated invocation to this file (instants in seconds).
    #[arg(long)]
    pub(crate) trace: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) format: OutputFormat,
    /// Worker threads for replications [default: all cores].
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

#[derive(Args, Debug)]
pub(crate) struct SweepArgs {
    /// Scenario file with one or more [[sweep]] axes.
    #[arg(required_unless_present = "retry_failed")]
    pub(crate) scenario: Option<PathBuf>,
    /// Output: the CSV file (local) [default: stdout], or the sweep directory (--slurm, --chunk).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Replications per grid point and platform [default: the scenario's].
    #[arg(long)]
    pub(crate) replications: Option<u32>,
    /// Base seed, the same at every grid point (common random numbers) [default: the scenario's].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Worker threads for replications [default: all cores].
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Run the sweep as a Slurm job array and merge the chunks into OUT/sweep.csv.
    #[arg(long, requires = "out")]
    pub(crate) slurm: bool,
    /// Number of array tasks (chunks) for --slurm.
    #[arg(long, default_value_t = 4)]
    pub(crate) array_size: u32,
    /// Slurm partition of the array tasks.
    #[arg(long)]
    pub(crate) partition: Option<String>,
    /// Slurm time limit of each array task (e.g. 00:30:00).
    #[arg(long)]
    pub(crate) time: Option<String>,
    /// Extra sbatch argument (repeatable, e.g. --sbatch-arg=--account=proj).
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    pub(crate) sbatch_args: Vec<String>,
    /// With --slurm: print the sbatch script and submit nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Compute only chunk INDEX/COUNT and write it to OUT/chunk-INDEX.json (what array tasks run).
    #[arg(long)]
    pub(crate) chunk: Option<String>,
    /// Resubmit the failed or missing chunks of the --slurm sweep in this directory, then merge.
    #[arg(long, conflicts_with_all = ["slurm", "chunk"])]
    pub(crate) retry_failed: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum DatasetCommand {
    /// Small JSON objects for the relay body: relay-000000.json, relay-000001.json, ...
    Relay {
        #[command(flatten)]
        common: DatasetArgs,
        /// Length of each payload string [bytes].
        #[arg(long, default_value_t = 2048)]
        payload_bytes: u64,
    },
    /// JSONL shards of sensor records for the ETL body: shard-000000.jsonl, ...
    Etl {
        #[command(flatten)]
        common: DatasetArgs,
        /// Target size of each shard [bytes; suffixes KiB, MiB, GiB, KB, MB, GB accepted].
        #[arg(long, value_parser = parse_bytes)]
        shard_bytes: u64,
    },
}

#[derive(Args, Debug)]
pub(crate) struct DatasetArgs {
    /// Number of files (invocations).
    #[arg(long)]
    pub(crate) count: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Seed of the generator: same arguments give byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
}

/// Parses a byte count: a plain integer or a number with a binary or decimal unit suffix.
pub(crate) fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    Ok((value * factor as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn byte_counts_parse_with_units() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1.5KiB"), Ok(1536));
        assert_eq!(parse_bytes("2MB"), Ok(2_000_000));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("MiB").is_err());
    }
}
