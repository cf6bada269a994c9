//! `faastwin measure`: the command line turned into a platform setup and run options, one run,
//! and its summary printed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use faastwin_measure::{
    InvocationRecord, ProgressSink, RunMeta, RunOptions, SubmitPolicy, absolute, default_nodes,
    dry_run, new_run_id,
};
use indicatif::{MultiProgress, ProgressBar};

use crate::cli::MeasureArgs;
use crate::progress;

pub(crate) fn run(args: MeasureArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(run_async(args))
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Options, setup and directories of a run: from the command line, or from `run.json` on
/// `--resume` (which takes no other option, so a resumed run is driven exactly as it began).
async fn resolve(args: &MeasureArgs) -> anyhow::Result<(RunOptions, PathBuf, PathBuf)> {
    if let Some(dir) = &args.resume {
        let meta = RunMeta::read(dir)?;
        let options = meta.resumed_options(&args.setup, &args.given)?;
        return Ok((options, meta.dataset, dir.clone()));
    }
    // Absolute: the paths go to other processes, containers and nodes.
    let dataset = absolute(
        args.dataset
            .as_deref()
            .context("--dataset DIR is required (or --resume DIR)")?,
    )?;
    let out = absolute(
        args.out
            .as_deref()
            .context("--out DIR is required (or --resume DIR)")?,
    )?;
    anyhow::ensure!(
        !out.starts_with(&dataset),
        "--out {} is inside the dataset {}: choose a directory outside it (the run's files would mix with the inputs)",
        out.display(),
        dataset.display()
    );
    let platform = args
        .platform
        .context("--platform is required (or --resume DIR)")?;
    let policy = match (args.window, args.rate) {
        (Some(_), Some(_)) => anyhow::bail!("--window and --rate exclude each other"),
        (Some(size), None) => SubmitPolicy::Window { size },
        (None, Some(rate_per_s)) => SubmitPolicy::Poisson { rate_per_s },
        (None, None) => SubmitPolicy::Sequential,
    };
    let nodes = match args.nodes.is_empty() {
        false => args.nodes.clone(),
        true => default_nodes(platform)
            .await
            .context("finding the nodes (or pass --nodes)")?,
    };
    Ok((
        RunOptions {
            run_id: args.run_id.clone().unwrap_or_else(new_run_id),
            platform,
            partitions: args.partitions,
            nodes,
            policy,
            repetitions: args.repetitions,
            between: args.between.clone(),
            warmup: args.warmup,
            invocations: args.invocations,
            timeout_s: args.timeout,
            seed: args.seed,
            setup: Some(args.setup.clone()),
        },
        dataset,
        out,
    ))
}

async fn run_async(args: MeasureArgs) -> anyhow::Result<ExitCode> {
    let (options, dataset_dir, out) = resolve(&args).await?;
    let dataset = faastwin_workers::dataset::read(&dataset_dir).with_context(|| {
        format!(
            "cannot read dataset {} (make one with faastwin dataset)",
            dataset_dir.display()
        )
    })?;
    // Always set by `resolve`; the default only covers runs recorded before setups were.
    let setup = options.setup.clone().unwrap_or_default();
    if args.dry_run {
        for line in dry_run(&options, &setup, &dataset, &out).await? {
            println!("{line}");
        }
        eprintln!(
            "dry run: nothing submitted ({} repetitions would run)",
            options.repetitions
        );
        return Ok(ExitCode::SUCCESS);
    }
    let platform = options.build_platform(&dataset_dir, &out).await?;
    let cancel = crate::signals::cancel_on_interrupt(
        "interrupted: finishing in-flight invocations as cancelled, cleaning up",
    )?;
    let bars = Arc::new(PartitionBars::new(options.partitions));
    let outcome = faastwin_measure::run(
        platform,
        options.clone(),
        dataset,
        out.clone(),
        args.resume.is_some(),
        bars.clone(),
        cancel,
    )
    .await
    .with_context(|| format!("measuring into {}", out.display()))?;
    bars.clear();
    outcome.write_table(&mut std::io::stdout().lock(), &options, &out)?;
    // What the run's components spent in CPU over this session (local and container runs).
    let components = faastwin_measure::RunMeta::read(&out).ok().and_then(|meta| {
        let node = meta.node_cpu?;
        let session = outcome.records.iter().filter(|r| r.session == node.session);
        node.describe_components(session.count())
    });
    if let Some(line) = components {
        eprintln!("{line}");
    }
    let failed = outcome.failed();
    if failed > 0 {
        eprintln!(
            "{failed} invocations did not succeed: see the outcome and error columns of invocations.csv"
        );
    }
    Ok(if outcome.interrupted {
        ExitCode::from(130)
    } else if failed > 0 && failed == outcome.invocations() {
        eprintln!("every invocation failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One progress bar per partition, with ETA; hidden when stderr is not a terminal.
struct PartitionBars {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
}

impl PartitionBars {
    fn new(partitions: u32) -> Self {
        let multi = MultiProgress::with_draw_target(progress::draw_target());
        let bars = (0..partitions)
            .map(|p| multi.add(progress::items(0, &format!("partition {p}"))))
            .collect();
        PartitionBars { multi, bars }
    }

    fn clear(&self) {
        // Clearing only fails on a closed stderr, where there is nothing to clear.
        let _ = self.multi.clear();
    }
}

impl ProgressSink for PartitionBars {
    fn repetition(&self, repetition: u32, per_partition: &[u64]) {
        for (p, (bar, n)) in self.bars.iter().zip(per_partition).enumerate() {
            bar.reset();
            bar.set_length(*n);
            bar.set_message(format!("rep {repetition} partition {p}"));
        }
    }

    fn done(&self, partition: u32, _record: &InvocationRecord) {
        if let Some(bar) = self.bars.get(partition as usize) {
            bar.inc(1);
        }
    }
}
