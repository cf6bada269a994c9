//! The command line: every subcommand and option, with units in the help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use faastwin_measure::options::{positive_seconds, rate_per_s};
use faastwin_measure::{PlatformKind, PlatformSetup};
pub(crate) use faastwin_workers::dataset::parse_bytes;

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
    Loop(Box<LoopArgs>),
    /// Figures (SVG, PNG) and one self-contained HTML page from runs, calibrations,
    /// simulations, sweeps and validations.
    Report(ReportArgs),
    /// Simulate a scenario's platforms and print the study's run-level metrics.
    Simulate(SimulateArgs),
    /// Simulate every point of a scenario's sweep grid and write one CSV row per point and platform.
    Sweep(SweepArgs),
    /// The cheapest platform, node count, partitions and window that finish a scenario's
    /// workload by a deadline with a given probability.
    Plan(PlanArgs),
    /// Print a shell's completion script for faastwin (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Write faastwin's man pages (faastwin.1 and one per subcommand) into a folder.
    Man(ManArgs),
}

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell, e.g. `faastwin completions bash > /etc/bash_completion.d/faastwin`.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// Folder to write the pages into (created if missing); `man -l DIR/faastwin.1` reads one.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct CalibrateArgs {
    /// Run directories written by `faastwin measure`.
    #[arg(required = true)]
    pub(crate) runs: Vec<PathBuf>,
    /// Calibration file to write (TOML, what `faastwin simulate` reads).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Name of the calibrated platform [default: its kind]: `--as k3s` makes runs of
    /// `--platform k8s` usable by the shipped scenarios. With runs of several kinds, KIND=NAME
    /// (repeatable).
    #[arg(long = "as", value_name = "NAME|KIND=NAME")]
    pub(crate) names: Vec<String>,
    /// Also fit every platform this many times again on bootstrap resamples of the runs'
    /// repetitions, kept in the file: `validate`'s prediction intervals then include how much
    /// the fit itself could differ (each refit takes as long as the fit)
    #[arg(long, default_value_t = 0, value_parser = refits)]
    pub(crate) refits: u32,
    /// Seed of the resamples.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Validations of held-out runs (`faastwin validate --format csv` files) whose errors
    /// (measured over predicted, per platform the calibration has) prediction intervals also
    /// take into account: how far this kind of model missed where it was checked.
    #[arg(long, num_args = 1..)]
    pub(crate) model_error: Vec<PathBuf>,
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
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true, value_parser = share)]
    pub(crate) tolerance: f64,
    /// Replications per run.
    #[arg(long, default_value_t = 20, value_parser = replications)]
    pub(crate) replications: u32,
    /// Base seed.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Level of the prediction intervals of warm makespan and p50 latency (0.9: from the 5th
    /// to the 95th percentile of the simulated replications times the calibration runs'
    /// run-to-run variation).
    #[arg(long, default_value_t = faastwin_sim::interval::DEFAULT_LEVEL, value_parser = level)]
    pub(crate) interval: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) format: OutputFormat,
    /// The calibration's platform to predict with [default: the run's platform kind].
    #[arg(long = "as", value_name = "NAME")]
    pub(crate) platform_name: Option<String>,
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

#[derive(Args, Debug)]
pub(crate) struct LoopArgs {
    #[command(flatten)]
    pub(crate) options: faastwin_calibration::LoopOptions,
    /// Exit non-zero when the median |makespan error| exceeds this share.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true, value_parser = share)]
    pub(crate) tolerance: f64,
}

/// What a resumed run takes from its run.json and may not be given again. (Platform options
/// may be repeated with the recorded values, and are refused when they differ.)
#[rustfmt::skip]
const RESUME_CONFLICTS: [&str; 14] = [
    "platform", "dataset", "out", "partitions", "nodes", "window", "rate", "repetitions",
    "between", "warmup", "invocations", "timeout", "run_id", "seed",
];

#[derive(Args, Debug)]
pub(crate) struct MeasureArgs {
    /// Where invocations run: local, container, slurm, k8s or ksi.
    #[arg(long, value_parser = parse_platform)]
    pub(crate) platform: Option<PlatformKind>,
    /// Dataset directory written by `faastwin dataset` (on storage every node sees).
    #[arg(long)]
    pub(crate) dataset: Option<PathBuf>,
    /// Run directory: invocations.csv, run.json, summary.csv, results/ (on shared storage for Slurm).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Continue the interrupted run in this directory, skipping invocations that succeeded.
    #[arg(long, conflicts_with_all = RESUME_CONFLICTS)]
    pub(crate) resume: Option<PathBuf>,
    /// Number of partitions; invocation i goes to partition i mod P.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) partitions: u32,
    /// Nodes, comma-separated; partition p runs on the (p mod count)-th [default: this host; Slurm: every node].
    #[arg(long, value_delimiter = ',')]
    pub(crate) nodes: Vec<String>,
    /// Up to this many invocations in flight per partition [default: 1, sequential].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) window: Option<u32>,
    /// Open loop: Poisson arrivals per partition at this rate [1/s].
    #[arg(long, allow_negative_numbers = true, value_parser = rate_per_s)]
    pub(crate) rate: Option<f64>,
    /// Repetitions of the whole batch.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
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
    #[arg(long, default_value_t = 600.0, allow_negative_numbers = true, value_parser = positive_seconds)]
    pub(crate) timeout: f64,
    /// Run id, used as label on everything the run creates [default: date, time and pid].
    #[arg(long)]
    pub(crate) run_id: Option<String>,
    /// Seed of the open-loop arrival process.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Print what would be submitted, then stop.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) setup: PlatformSetup,
    /// The options given on the command line (filled after parsing), to check a resume.
    #[arg(skip)]
    pub(crate) given: Vec<String>,
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
    #[arg(long, value_parser = replications)]
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
    #[arg(long, value_parser = threads)]
    pub(crate) threads: Option<usize>,
    /// Level of the prediction intervals of warm makespan and p50/p95/p99 latency (0.9: from
    /// the 5th to the 95th percentile of the replications, of every refit where the
    /// calibration has refits, times the calibration runs' run-to-run variation).
    #[arg(long, default_value_t = faastwin_sim::interval::DEFAULT_LEVEL, value_parser = level)]
    pub(crate) interval: f64,
}

#[derive(Args, Debug)]
pub(crate) struct PlanArgs {
    /// Scenario file: the workload (invocations, body, shard size, policy), the platforms to
    /// consider and the calibration; its nodes and partitions are what the plan chooses.
    pub(crate) scenario: PathBuf,
    /// Finish by this long after booking (KSI's cluster startup included): 1800, 90s, 30m, 2h.
    #[arg(long, value_parser = deadline)]
    pub(crate) deadline: f64,
    /// With at least this probability.
    #[arg(long, default_value_t = 0.95, value_parser = level)]
    pub(crate) probability: f64,
    /// Node counts to consider.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4, 8])]
    pub(crate) nodes: Vec<u32>,
    /// Partitions per node to consider.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4, 8])]
    pub(crate) partitions_per_node: Vec<u32>,
    /// Windows (Jobs in flight per partition) to consider [default: the scenario's policy].
    #[arg(long, value_delimiter = ',')]
    pub(crate) windows: Vec<u32>,
    /// Replications per configuration and platform [default: the scenario's].
    #[arg(long, value_parser = replications)]
    pub(crate) replications: Option<u32>,
    /// Base seed, the same for every configuration [default: the scenario's].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Worker threads [default: all cores].
    #[arg(long, value_parser = threads)]
    pub(crate) threads: Option<usize>,
    /// Output format: the choice and each platform's frontier (table), or every candidate.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) format: OutputFormat,
    /// Also write the frontier as a figure (plan.svg, plan.png) and every candidate as
    /// plan.json into this folder.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Instead of one plan, plan each of these batch sizes (invocations) and compare the
    /// platforms' cheapest configurations: from which batch size on one pays off (KSI's
    /// per-node startup against a standing K3s cluster).
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["out", "format", "slurm"])]
    pub(crate) batch_sizes: Vec<u64>,
    /// Run the search as a Slurm job array in OUT (as `faastwin sweep --slurm` does: OUT keeps
    /// the search as plan-scenario.toml, the chunks and sweep.csv); run again with the same
    /// options after `faastwin sweep --retry-failed OUT` to plan from the chunks without
    /// submitting anything.
    #[arg(long, requires = "out")]
    pub(crate) slurm: bool,
    #[command(flatten)]
    pub(crate) array: ArrayArgs,
}

/// How a sweep or a plan runs as a Slurm job array (`--slurm`).
#[derive(Args, Debug)]
pub(crate) struct ArrayArgs {
    /// Number of array tasks (chunks) for --slurm.
    #[arg(long, default_value_t = 4)]
    pub(crate) array_size: u32,
    /// Slurm partition of the array tasks (with a sweep's --retry-failed: instead of the
    /// sweep's).
    #[arg(long)]
    pub(crate) partition: Option<String>,
    /// Slurm time limit of each array task, e.g. 00:30:00 (with a sweep's --retry-failed:
    /// instead of the sweep's).
    #[arg(long)]
    pub(crate) time: Option<String>,
    /// Extra sbatch argument (repeatable, e.g. --sbatch-arg=--account=proj).
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    pub(crate) sbatch_args: Vec<String>,
}

/// Parses a deadline: seconds, or a number with s, m or h.
fn deadline(s: &str) -> Result<f64, String> {
    let text = s.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1.0),
        Some((i, 'm')) => (&text[..i], 60.0),
        Some((i, 'h')) => (&text[..i], 3600.0),
        _ => (text, 1.0),
    };
    let seconds = positive_seconds(number.trim()).map_err(|_| {
        format!("{s:?} is not a deadline: give seconds or a number with s, m or h (30m)")
    })? * unit;
    positive_seconds(&seconds.to_string()).map_err(|e| format!("{s:?}: {e}"))
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
    #[arg(long, value_parser = replications)]
    pub(crate) replications: Option<u32>,
    /// Base seed, the same at every grid point (common random numbers) [default: the scenario's].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Worker threads for replications [default: all cores].
    #[arg(long, value_parser = threads)]
    pub(crate) threads: Option<usize>,
    /// Level of the prediction intervals in the CSV (see `simulate --interval`).
    #[arg(long, default_value_t = faastwin_sim::interval::DEFAULT_LEVEL, value_parser = level)]
    pub(crate) interval: f64,
    /// Run the sweep as a Slurm job array and merge the chunks into OUT/sweep.csv.
    #[arg(long, requires = "out")]
    pub(crate) slurm: bool,
    #[command(flatten)]
    pub(crate) array: ArrayArgs,
    /// With --slurm: print the sbatch script and submit nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Compute only chunk INDEX/COUNT and write it to OUT/chunk-INDEX.json (what array tasks run).
    #[arg(long, value_parser = faastwin_sim::sweep::parse_chunk)]
    pub(crate) chunk: Option<(u32, u32)>,
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

/// A share (0.05 = 5 %): finite, at least 0.
/// Parses a replication count: at least 1, at most what a scenario file may ask for.
fn replications(s: &str) -> Result<u32, String> {
    let max = faastwin_sim::scenario::MAX_REPLICATIONS;
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a replication count from 1 to {max}")),
    }
}

/// Most worker threads.
const MAX_THREADS: usize = 4096;

/// Parses a thread count: at least 1.
fn threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s:?} is not a thread count from 1 to {MAX_THREADS}"
        )),
    }
}

fn share(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a share (a number >= 0; 0.05 = 5 %)")),
    }
}

/// Most refits: more than enough for a 90 % interval's tails.
const MAX_REFITS: u32 = 1000;

/// Parses a refit count: 0 to [`MAX_REFITS`].
fn refits(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n <= MAX_REFITS => Ok(n),
        _ => Err(format!("{s:?} is not a refit count from 0 to {MAX_REFITS}")),
    }
}

/// Parses an interval's level: a share strictly between 0 and 1.
fn level(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not an interval level (a number between 0 and 1; 0.9 = 90 %)"
        )),
    }
}

/// Parses a platform kind, listing the kinds when it is none of them.
fn parse_platform(s: &str) -> Result<PlatformKind, String> {
    s.parse()
        .map_err(|e: faastwin_measure::UnknownName| e.to_string())
}

#[cfg(test)]
mod deadline_tests {
    #[test]
    fn a_deadline_is_seconds_or_a_number_with_its_unit() {
        assert_eq!(super::deadline("1800"), Ok(1800.0));
        assert_eq!(super::deadline("90s"), Ok(90.0));
        assert_eq!(super::deadline(" 30m"), Ok(1800.0));
        assert_eq!(super::deadline("1.5h"), Ok(5400.0));
        for bad in ["", "m", "-5m", "30 minutes", "0", "9000h"] {
            assert!(super::deadline(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
