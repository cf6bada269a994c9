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
    /// Simulate a scenario's platforms and print the study's run-level metrics.
    Simulate(SimulateArgs),
    /// Simulate every point of a scenario's sweep grid and write one CSV row per point and platform.
    Sweep(SweepArgs),
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
    pub(crate) scenario: PathBuf,
    /// Output CSV file [default: stdout].
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
