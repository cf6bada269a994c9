//! `faastwin simulate` and `faastwin sweep` (here, as one array task, or as a Slurm job array
//! that is followed and merged).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use faastwin_measure::slurm::client;
use faastwin_models::SlurmJobState;
use faastwin_sim::sweep::{
    ArrayEvent, ArrayOptions, ArrayOutcome, ArrayScheduler, SchedulerError, SweepPlan,
    prepare_array, retry_array, submit_array, write_chunk, write_csv,
};
use faastwin_sim::{CsvTrace, Scenario, SimulateOptions, TraceSink, simulate_scenario};

use crate::cli::{OutputFormat, SimulateArgs, SweepArgs};
use crate::progress;

/// `given` threads, or all cores.
pub(crate) fn threads(given: Option<usize>) -> usize {
    given.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

pub(crate) fn run_simulate(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario)
        .with_context(|| format!("cannot load scenario {}", args.scenario.display()))?;
    if !scenario.file.sweep.is_empty() {
        eprintln!(
            "note: this scenario has a sweep grid; simulating its base workload (use `faastwin sweep` for the grid)"
        );
    }
    let replications = args.replications.unwrap_or(scenario.file.replications);
    let seed = args.seed.unwrap_or(scenario.file.seed);
    let options = SimulateOptions {
        seed,
        replications,
        threads: threads(args.threads),
        level: args.interval,
    };
    let bar = progress::items(options.simulations(&scenario), "simulating");
    let mut trace = match &args.trace {
        Some(path) => Some(CsvTrace::new(BufWriter::new(
            File::create(path)
                .with_context(|| format!("cannot create trace file {}", path.display()))?,
        ))),
        None => None,
    };
    let report = simulate_scenario(
        &scenario,
        &scenario.workload,
        options,
        trace.as_mut().map(|t| t as &mut dyn TraceSink),
        &|| bar.inc(1),
    )?;
    if let (Some(trace), Some(path)) = (trace.as_mut(), &args.trace) {
        trace
            .flush()
            .with_context(|| format!("writing trace {}", path.display()))?;
    }
    bar.finish_and_clear();
    let out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Table => report.write_table(&scenario.workload, out)?,
        OutputFormat::Csv => report.write_csv(out)?,
        OutputFormat::Json => report.write_json(out)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.retry_failed {
        // sbatch's own options override the script's #SBATCH lines: a retry may move the
        // tasks to another partition or give them more time.
        let mut extra: Vec<String> = args
            .array
            .partition
            .iter()
            .map(|p| format!("--partition={p}"))
            .collect();
        extra.extend(args.array.time.iter().map(|t| format!("--time={t}")));
        extra.extend(args.array.sbatch_args.iter().cloned());
        let outcome = retry_array(dir, &extra, &Slurm::new()?, &array_bar())
            .with_context(|| format!("retrying the sweep in {}", dir.display()))?;
        return report_array(outcome, dir);
    }
    let path = args
        .scenario
        .clone()
        .context("a scenario file is required (or --retry-failed DIR)")?;
    let mut plan = SweepPlan::load(&path, args.seed, args.replications)
        .with_context(|| format!("cannot load scenario {}", path.display()))?;
    plan.level = args.interval;
    if let Some((index, chunks)) = args.chunk {
        let out = args
            .out
            .clone()
            .context("--chunk needs --out DIR for the chunk file")?;
        write_chunk(&out, &plan.chunk(index, chunks)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.slurm {
        let out = std::path::absolute(args.out.as_deref().context("--slurm needs --out DIR")?)?;
        let exe = std::env::current_exe().context("cannot locate the faastwin executable")?;
        let options = ArrayOptions {
            partition: args.array.partition.clone(),
            time: args.array.time.clone(),
        };
        let (meta, script) = prepare_array(&plan, &out, args.array.array_size, &exe, &options);
        if args.dry_run {
            print!("{script}");
            eprintln!(
                "dry run: nothing submitted ({} array tasks would run)",
                meta.chunks
            );
            return Ok(ExitCode::SUCCESS);
        }
        let outcome = submit_array(
            &plan,
            &out,
            meta.chunks,
            &script,
            &args.array.sbatch_args,
            &Slurm::new()?,
            &array_bar(),
        )?;
        return report_array(outcome, &out);
    }
    let bar = progress::items(plan.units().len() as u64, "sweeping");
    let results = plan.run_local(threads(args.threads), &|| bar.inc(1))?;
    bar.finish_and_clear();
    let out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    write_csv(&plan, &results, out)?;
    if let Some(path) = &args.out {
        eprintln!(
            "wrote {} grid points x {} platforms to {}",
            plan.grid.len(),
            plan.scenario.file.platforms.len(),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn array_bar() -> impl Fn(ArrayEvent) {
    let bar = progress::items(0, "array tasks");
    move |event: ArrayEvent| match event {
        ArrayEvent::Progress(p) => {
            bar.set_length((p.pending + p.running + p.done + p.failed) as u64);
            bar.set_position(p.done as u64);
            bar.set_message(event.to_string());
        }
        other => eprintln!("{other}"),
    }
}

pub(crate) fn report_array(outcome: ArrayOutcome, dir: &Path) -> anyhow::Result<ExitCode> {
    match outcome {
        ArrayOutcome::Merged(path) => {
            eprintln!("merged the chunks into {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        ArrayOutcome::Failed(job, failed) => {
            for (task, state) in &failed {
                eprintln!("task {task} ({job}_{task}): {state}");
            }
            eprintln!(
                "{} task(s) failed; resubmit them alone with: faastwin sweep --retry-failed {}",
                failed.len(),
                dir.display()
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// The sweep's batch system: Slurm, through the one Slurm client.
pub(crate) struct Slurm(tokio::runtime::Runtime);

impl Slurm {
    pub(crate) fn new() -> anyhow::Result<Slurm> {
        Ok(Slurm(crate::measure::runtime()?))
    }
}

impl ArrayScheduler for Slurm {
    fn submit(
        &self,
        script: &Path,
        array: Option<&str>,
        extra: &[String],
    ) -> Result<u64, SchedulerError> {
        let mut args: Vec<String> = array.map(|a| format!("--array={a}")).into_iter().collect();
        args.extend(extra.iter().cloned());
        args.push(script.display().to_string());
        Ok(self.0.block_on(client::sbatch(&args))?)
    }

    fn active_tasks(&self, job: u64) -> Result<BTreeMap<u32, SlurmJobState>, SchedulerError> {
        Ok(self.0.block_on(client::array_tasks(job))?)
    }

    fn task_state(&self, job: u64, task: u32) -> Option<SlurmJobState> {
        self.0.block_on(client::job_state(&format!("{job}_{task}")))
    }

    fn max_tasks(&self) -> Option<u32> {
        self.0.block_on(client::max_array_tasks())
    }
}
