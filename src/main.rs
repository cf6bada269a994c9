//! `faastwin`: measure, calibrate, simulate and validate FaaS-like batches on Kubernetes
//! platforms. `main` only parses the command line and reports errors; each subcommand lives in
//! its own module.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod dataset;
mod progress;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        cli::Command::Dataset(args) => dataset::run(args),
    }
}

/// Log lines go to stderr; `RUST_LOG` chooses what is shown (default: warnings).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
