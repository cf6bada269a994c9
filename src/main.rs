//! `faastwin`: measure, calibrate, simulate and validate FaaS-like batches on Kubernetes
//! platforms. `main` only parses the command line and reports errors; each subcommand lives in
//! its own module.

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

mod calibrate;
mod cli;
mod dataset;
mod measure;
mod plan;
mod progress;
mod report;
mod signals;
mod simulate;

fn main() -> ExitCode {
    let cli = parse();
    init_tracing();
    match run(cli) {
        Ok(code) => code,
        // A reader that stops early (`faastwin simulate ... | head`) is not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the command line, noting which `measure` options were given explicitly.
fn parse() -> cli::Cli {
    let matches = cli::Cli::command().get_matches();
    let mut cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let (cli::Command::Measure(args), Some(("measure", m))) =
        (&mut cli.command, matches.subcommand())
    {
        args.given = m
            .ids()
            .filter(|id| m.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.to_string())
            .collect();
    }
    cli
}

fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        cli::Command::Dataset(args) => dataset::run(args),
        cli::Command::Measure(args) => measure::run(*args),
        cli::Command::Calibrate(args) => calibrate::run_calibrate(args),
        cli::Command::Validate(args) => calibrate::run_validate(args),
        cli::Command::Loop(args) => calibrate::run_loop_command(*args),
        cli::Command::Report(args) => report::run(args),
        cli::Command::Simulate(args) => simulate::run_simulate(args),
        cli::Command::Sweep(args) => simulate::run_sweep(args),
        cli::Command::Plan(args) => plan::run(args),
        cli::Command::Completions(args) => {
            let mut command = cli::Cli::command();
            clap_complete::generate(args.shell, &mut command, "faastwin", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        cli::Command::Man(args) => man(&args.out),
    }
}

/// Writes the man pages into `out` and names them on stderr.
fn man(out: &std::path::Path) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    clap_mangen::generate_to(cli::Cli::command(), out)
        .with_context(|| format!("writing the man pages into {}", out.display()))?;
    eprintln!(
        "man pages in {} (man -l {}/faastwin.1)",
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A closed pipe anywhere in the chain (csv errors carry their io::Error as the source).
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Log lines go to stderr; `RUST_LOG` chooses what is shown (default: warnings).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
