//! `faastwin dataset`: deterministic inputs for the relay and ETL bodies.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use faastwin_workers::dataset::{self, DatasetSpec};

use crate::cli::DatasetCommand;
use crate::progress;

pub(crate) fn run(command: DatasetCommand) -> anyhow::Result<ExitCode> {
    let (spec, out) = match command {
        DatasetCommand::Relay {
            common,
            payload_bytes,
        } => (
            DatasetSpec::Relay {
                count: common.count,
                seed: common.seed,
                payload_bytes,
            },
            common.out,
        ),
        DatasetCommand::Etl {
            common,
            shard_bytes,
        } => (
            DatasetSpec::Etl {
                count: common.count,
                seed: common.seed,
                shard_bytes,
            },
            common.out,
        ),
    };
    let bar = progress::bytes(spec.approximate_bytes(), "generating");
    let started = Instant::now();
    let entries = dataset::generate(&spec, &out, &|n| bar.inc(n))
        .with_context(|| format!("cannot generate dataset in {}", out.display()))?;
    bar.finish_and_clear();
    let total: u64 = entries.iter().map(|e| e.bytes).sum();
    eprintln!(
        "wrote {} files, {} bytes, to {} in {:.2} s (manifest.csv, dataset.json)",
        entries.len(),
        total,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
