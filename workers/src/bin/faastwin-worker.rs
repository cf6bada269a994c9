//! `faastwin-worker`: the program every invocation runs. See the crate docs of
//! `faastwin-workers` for what the bodies do.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use faastwin_workers::{Report, WorkerError, etl, relay, write_termination_message};

const EXIT_CODES: &str = "\
Exit codes:
  0  the body ran and the result was written
  1  internal error (a bug)
  2  bad command line
  3  input not found
  4  input unreadable (permissions, a directory, an I/O error)
  5  input empty
  6  input is garbage (not JSON, no record parses, missing fields)
  7  too many malformed ETL records (above --max-bad-share)
  8  result could not be written

On success the timing report is printed to stdout as one JSON line and written to the
termination log; on failure one line goes to stderr and {\"error\",\"exit_code\"} to the
termination log.";

/// Runs one relay or ETL function body and reports its own timings.
#[derive(Parser, Debug)]
#[command(name = "faastwin-worker", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    body: Body,
}

#[derive(Subcommand, Debug)]
enum Body {
    /// Hash one small JSON object's payload with the invocation id and host name.
    Relay {
        #[command(flatten)]
        common: Common,
    },
    /// Parse, transform, filter and aggregate one JSONL shard.
    Etl {
        #[command(flatten)]
        common: Common,
        /// Fail the shard when more than this share (0-1) of its records is malformed.
        #[arg(long, default_value_t = 0.10, value_parser = parse_share)]
        max_bad_share: f64,
    },
}

#[derive(Args, Debug)]
struct Common {
    /// Input file (relay: JSON object; etl: JSONL shard).
    #[arg(long)]
    input: PathBuf,
    /// Result file, written atomically (temporary file, then rename).
    #[arg(long)]
    output: PathBuf,
    /// Invocation id [default: relay: the input's id; etl: the input's file stem].
    #[arg(long)]
    invocation_id: Option<String>,
    /// Host name to report and hash [default: the kernel's host name].
    #[arg(long)]
    host: Option<String>,
    /// Where to write the Kubernetes termination message (at most 4096 bytes)
    /// [default: /dev/termination-log when it exists].
    #[arg(long)]
    termination_log: Option<PathBuf>,
}

fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (common, result) = match &cli.body {
        Body::Relay { common } => {
            let options = relay::RelayOptions {
                invocation_id: common.invocation_id.clone(),
                host: common.host.clone(),
            };
            (common, relay::run(&common.input, &common.output, &options))
        }
        Body::Etl {
            common,
            max_bad_share,
        } => {
            let options = etl::EtlOptions {
                invocation_id: common.invocation_id.clone(),
                host: common.host.clone(),
                max_bad_share: *max_bad_share,
            };
            (common, etl::run(&common.input, &common.output, &options))
        }
    };
    let termination_log = common.termination_log.clone().or_else(|| {
        let default = Path::new("/dev/termination-log");
        default.exists().then(|| default.to_owned())
    });
    finish(result, termination_log.as_deref())
}

fn finish(result: Result<Report, WorkerError>, termination_log: Option<&Path>) -> ExitCode {
    let (message, code) = match result {
        Ok(report) => match serde_json::to_string(&report) {
            Ok(line) => {
                println!("{line}");
                (line, 0)
            }
            Err(e) => {
                eprintln!("faastwin-worker: cannot encode report: {e}");
                return ExitCode::from(1);
            }
        },
        Err(error) => {
            eprintln!("faastwin-worker: {error}");
            let code = error.exit_code() as i32;
            let message = serde_json::json!({ "error": error.to_string(), "exit_code": code });
            (message.to_string(), code)
        }
    };
    if let Some(path) = termination_log {
        if let Err(e) = write_termination_message(path, &message) {
            eprintln!(
                "faastwin-worker: cannot write termination log {}: {e}",
                path.display()
            );
        }
    }
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
