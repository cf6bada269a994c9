//! `faastwin simulate` and `faastwin sweep`: run a scenario's platforms with replications and
//! print the study's run-level metrics.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use faastwin_sim::chunk::SweepResults;
use faastwin_sim::scenario::describe;
use faastwin_sim::{
    CsvTrace, PlatformSummary, Scenario, Stage, Stats, Workload, replicate, replication_seed,
    simulate,
};
use serde::Serialize;

use crate::cli::{OutputFormat, SimulateArgs, SweepArgs};
use crate::progress;

/// A loaded scenario with the command line's overrides applied.
struct Plan {
    scenario: Scenario,
    seed: u64,
    replications: u32,
    threads: usize,
}

fn plan(
    path: &Path,
    seed: Option<u64>,
    replications: Option<u32>,
    threads: Option<usize>,
) -> anyhow::Result<Plan> {
    let scenario =
        Scenario::load(path).with_context(|| format!("cannot load scenario {}", path.display()))?;
    let replications = replications.unwrap_or(scenario.file.replications);
    anyhow::ensure!(replications > 0, "--replications must be at least 1");
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    Ok(Plan {
        seed: seed.unwrap_or(scenario.file.seed),
        replications,
        threads,
        scenario,
    })
}

/// Runs every platform of `workload`; one summary per platform, in the scenario's order.
fn run_platforms(
    plan: &Plan,
    workload: &Workload,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<PlatformSummary>> {
    let mut summaries = Vec::new();
    for name in &plan.scenario.file.platforms {
        let platform = plan.scenario.calibration.compile(name, &workload.kind)?;
        let runs = replicate(
            &platform,
            workload,
            plan.seed,
            plan.replications,
            plan.threads,
            &|| bar.inc(1),
        )
        .with_context(|| format!("simulating platform {name}"))?;
        summaries.push(PlatformSummary::of(&runs, plan.seed)?);
    }
    Ok(summaries)
}

pub(crate) fn run_simulate(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let plan = plan(&args.scenario, args.seed, args.replications, args.threads)?;
    if !plan.scenario.file.sweep.is_empty() {
        eprintln!(
            "note: this scenario has a sweep grid; simulating its base workload (use `faastwin sweep` for the grid)"
        );
    }
    let workload = &plan.scenario.workload;
    if let Some(path) = &args.trace {
        write_trace(&plan, workload, path)?;
    }
    let total = plan.scenario.file.platforms.len() as u64 * u64::from(plan.replications);
    let bar = progress::items(total, "simulating");
    let summaries = run_platforms(&plan, workload, &bar)?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Table => print_table(&mut out, &plan, workload, &summaries)?,
        OutputFormat::Csv => print_csv(&mut out, &summaries)?,
        OutputFormat::Json => {
            let report = JsonReport {
                scenario: &plan.scenario.origin,
                description: &plan.scenario.file.description,
                seed: plan.seed,
                replications: plan.replications,
                quantile_estimator: "type 7 (linear interpolation between order statistics)",
                platforms: &summaries,
            };
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The documented JSON output of `faastwin simulate --format json`.
#[derive(Serialize)]
struct JsonReport<'a> {
    scenario: &'a str,
    description: &'a str,
    seed: u64,
    replications: u32,
    quantile_estimator: &'a str,
    platforms: &'a [PlatformSummary],
}

/// Streams every invocation of every replication to a CSV file (replications run one after
/// another so rows never interleave).
fn write_trace(plan: &Plan, workload: &Workload, path: &Path) -> anyhow::Result<()> {
    let file = File::create(path)
        .with_context(|| format!("cannot create trace file {}", path.display()))?;
    let mut trace = CsvTrace::new(BufWriter::new(file));
    for name in &plan.scenario.file.platforms {
        let platform = plan.scenario.calibration.compile(name, &workload.kind)?;
        for r in 0..plan.replications {
            simulate(
                &platform,
                workload,
                replication_seed(plan.seed, r),
                r,
                &mut trace,
            )
            .with_context(|| format!("writing trace {}", path.display()))?;
        }
    }
    trace
        .flush()
        .with_context(|| format!("writing trace {}", path.display()))?;
    Ok(())
}

fn policy_name(w: &Workload) -> String {
    match &w.policy {
        faastwin_sim::Policy::Sequential => "sequential".into(),
        faastwin_sim::Policy::Window { size } => format!("window of {size}"),
        faastwin_sim::Policy::Poisson { rate_per_s } => {
            format!("poisson {rate_per_s}/s per partition")
        }
        faastwin_sim::Policy::Arrivals { .. } => "arrival times from file".into(),
    }
}

fn print_table(
    out: &mut impl Write,
    plan: &Plan,
    w: &Workload,
    summaries: &[PlatformSummary],
) -> anyhow::Result<()> {
    writeln!(out, "scenario: {}", plan.scenario.origin)?;
    if !plan.scenario.file.description.is_empty() {
        writeln!(out, "          {}", plan.scenario.file.description)?;
    }
    writeln!(
        out,
        "workload: {}, {} invocations, {} partitions on {} nodes, input {:.0} B (mean), {}",
        w.kind,
        w.invocations,
        w.partitions,
        w.nodes,
        w.input_bytes.mean(),
        policy_name(w)
    )?;
    writeln!(
        out,
        "runs:     {} replications per platform, seed {}",
        plan.replications, plan.seed
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<28} {:<8} {:>10} {:>10} {:>9} {:>10} {:>10}   {:<21}",
        "metric", "platform", "median", "mean", "std", "min", "max", "95% CI of mean"
    )?;
    for (i, (label, _, _)) in metrics(&summaries[0]).iter().enumerate() {
        for s in summaries {
            match metrics(s)[i].2 {
                Some(st) => writeln!(
                    out,
                    "{:<28} {:<8} {:>10.3} {:>10.3} {:>9.3} {:>10.3} {:>10.3}   [{:.3}, {:.3}]",
                    label,
                    s.platform,
                    st.median,
                    st.mean,
                    st.std,
                    st.min,
                    st.max,
                    st.ci95[0],
                    st.ci95[1]
                )?,
                None => writeln!(out, "{:<28} {:<8} {:>10}", label, s.platform, "n/a")?,
            }
        }
    }
    writeln!(out)?;
    write!(out, "{:<28}", "mean latency decomposition")?;
    for s in summaries {
        write!(out, " {:>20}", s.platform)?;
    }
    writeln!(out)?;
    for (i, stage) in Stage::ALL.iter().enumerate() {
        write!(out, "  {:<26}", format!("{} [s]", stage.name()))?;
        for s in summaries {
            let v = s.decomposition.as_array()[i];
            let total: f64 = s.decomposition.as_array().iter().sum();
            write!(out, " {:>11.3} ({:>5.1}%)", v, 100.0 * v / total)?;
        }
        writeln!(out)?;
    }
    write!(out, "  {:<26}", "client gap [s]")?;
    for s in summaries {
        write!(out, " {:>11.3} {:>8}", s.mean_client_gap_s, "")?;
    }
    writeln!(out)?;
    let mut any = false;
    for s in summaries {
        for u in &s.utilisation {
            if !any {
                writeln!(
                    out,
                    "\nutilisation of shared resources (mean over instances and replications)"
                )?;
                any = true;
            }
            writeln!(
                out,
                "  {:<8} {:<20} {:>6.1}%",
                s.platform,
                u.resource,
                100.0 * u.utilisation
            )?;
        }
    }
    Ok(())
}

/// The run-level metrics of a summary: table label, CSV name, statistics (`None`: not defined
/// for this platform).
fn metrics(s: &PlatformSummary) -> [(&'static str, &'static str, Option<&Stats>); 7] {
    let st = &s.stats;
    [
        (
            "warm makespan [s]",
            "warm_makespan_s",
            Some(&st.warm_makespan_s),
        ),
        (
            "p50 Job latency [s]",
            "p50_latency_s",
            Some(&st.p50_latency_s),
        ),
        (
            "p95 Job latency [s]",
            "p95_latency_s",
            Some(&st.p95_latency_s),
        ),
        (
            "p99 Job latency [s]",
            "p99_latency_s",
            Some(&st.p99_latency_s),
        ),
        (
            "mean Job latency [s]",
            "mean_latency_s",
            Some(&st.mean_latency_s),
        ),
        (
            "startup overhead [s]",
            "startup_overhead_s",
            st.startup_overhead_s.as_ref(),
        ),
        (
            "body share of mean latency",
            "body_share",
            Some(&st.body_share),
        ),
    ]
}

fn print_csv(out: &mut impl Write, summaries: &[PlatformSummary]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "metric",
        "platform",
        "median",
        "mean",
        "std",
        "min",
        "max",
        "ci95_low",
        "ci95_high",
        "replications",
        "seed",
    ])?;
    for s in summaries {
        for (_, metric, st) in metrics(s) {
            let Some(st) = st else { continue };
            w.write_record([
                metric.to_owned(),
                s.platform.clone(),
                st.median.to_string(),
                st.mean.to_string(),
                st.std.to_string(),
                st.min.to_string(),
                st.max.to_string(),
                st.ci95[0].to_string(),
                st.ci95[1].to_string(),
                st.n.to_string(),
                s.seed.to_string(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

pub(crate) fn run_sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.retry_failed {
        return crate::sweep_slurm::retry(&args, dir);
    }
    let scenario = args
        .scenario
        .clone()
        .context("a scenario file is required (or --retry-failed DIR)")?;
    let plan = plan(&scenario, args.seed, args.replications, args.threads)?;
    let grid = plan.scenario.grid();
    let hash = scenario_hash(&scenario, &plan)?;
    if let Some(chunk) = &args.chunk {
        let (index, chunks) = parse_chunk(chunk)?;
        let out = args
            .out
            .clone()
            .context("--chunk needs --out DIR for the chunk file")?;
        let file = faastwin_sim::chunk::run_chunk(
            &plan.scenario,
            &grid,
            plan.seed,
            plan.replications,
            index,
            chunks,
            &hash,
        )?;
        crate::sweep_slurm::write_chunk(&out, &file)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.slurm {
        return crate::sweep_slurm::submit(&args, &scenario, &plan_parts(&plan), &hash, grid.len());
    }
    let total = grid.len() as u64
        * plan.scenario.file.platforms.len() as u64
        * u64::from(plan.replications);
    let bar = progress::items(total, "sweeping");
    let mut results = SweepResults::new();
    for point in &grid {
        for (index, name) in plan.scenario.file.platforms.iter().enumerate() {
            let platform = plan
                .scenario
                .calibration
                .compile(name, &point.workload.kind)?;
            let runs = replicate(
                &platform,
                &point.workload,
                plan.seed,
                plan.replications,
                plan.threads,
                &|| bar.inc(1),
            )
            .with_context(|| format!("at sweep point {}", describe(&point.values)))?;
            results.insert((point.index, index), runs);
        }
    }
    bar.finish_and_clear();
    let out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    write_sweep_csv(&plan.scenario, plan.seed, &grid, &results, out)?;
    if let Some(path) = &args.out {
        eprintln!(
            "wrote {} grid points x {} platforms to {}",
            grid.len(),
            plan.scenario.file.platforms.len(),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What the Slurm path needs of a plan.
pub(crate) struct PlanParts {
    pub(crate) seed: u64,
    pub(crate) replications: u32,
    pub(crate) platforms: Vec<String>,
}

fn plan_parts(plan: &Plan) -> PlanParts {
    PlanParts {
        seed: plan.seed,
        replications: plan.replications,
        platforms: plan.scenario.file.platforms.clone(),
    }
}

/// sha256 of everything a sweep's numbers depend on: the scenario file, its calibration, the
/// seed and the replication count.
fn scenario_hash(path: &Path, plan: &Plan) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?);
    hasher.update(plan.scenario.calibration.to_toml()?.as_bytes());
    hasher.update(plan.seed.to_le_bytes());
    hasher.update(plan.replications.to_le_bytes());
    Ok(hex::encode(hasher.finalize()))
}

/// Loads a scenario with the sweep's overrides, for merging chunks.
pub(crate) fn load_plan(
    path: &Path,
    seed: u64,
    replications: u32,
) -> anyhow::Result<(Scenario, Vec<faastwin_sim::GridPoint>, String)> {
    let plan = plan(path, Some(seed), Some(replications), Some(1))?;
    let hash = scenario_hash(path, &plan)?;
    let grid = plan.scenario.grid();
    Ok((plan.scenario, grid, hash))
}

fn parse_chunk(text: &str) -> anyhow::Result<(u32, u32)> {
    let (i, k) = text
        .split_once('/')
        .context("--chunk is INDEX/COUNT, e.g. 3/8")?;
    let (i, k): (u32, u32) = (
        i.trim().parse().context("--chunk index")?,
        k.trim().parse().context("--chunk count")?,
    );
    anyhow::ensure!(
        k > 0 && i < k,
        "--chunk {i}/{k}: the index must be below the count"
    );
    Ok((i, k))
}

/// The sweep CSV: one row per grid point and platform, whatever computed the results.
pub(crate) fn write_sweep_csv(
    scenario: &Scenario,
    seed: u64,
    grid: &[faastwin_sim::GridPoint],
    results: &SweepResults,
    out: Box<dyn Write>,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["point"];
    header.extend(scenario.file.sweep.iter().map(|a| a.parameter.name()));
    header.extend([
        "platform",
        "replications",
        "seed",
        "warm_makespan_s",
        "warm_makespan_s_mean",
        "warm_makespan_s_std",
        "warm_makespan_s_ci95_low",
        "warm_makespan_s_ci95_high",
        "p50_latency_s",
        "p95_latency_s",
        "p99_latency_s",
        "mean_latency_s",
        "startup_overhead_s",
        "body_share",
    ]);
    w.write_record(&header)?;
    for point in grid {
        for index in 0..scenario.file.platforms.len() {
            let runs = results
                .get(&(point.index, index))
                .context("a grid point has no results")?;
            let s = PlatformSummary::of(runs, seed)?;
            let st = &s.stats;
            let mut row = vec![point.index.to_string()];
            row.extend(point.values.iter().map(|(_, v)| v.to_string()));
            row.extend([
                s.platform.clone(),
                s.replications.to_string(),
                s.seed.to_string(),
                st.warm_makespan_s.median.to_string(),
                st.warm_makespan_s.mean.to_string(),
                st.warm_makespan_s.std.to_string(),
                st.warm_makespan_s.ci95[0].to_string(),
                st.warm_makespan_s.ci95[1].to_string(),
                st.p50_latency_s.median.to_string(),
                st.p95_latency_s.median.to_string(),
                st.p99_latency_s.median.to_string(),
                st.mean_latency_s.median.to_string(),
                s.startup_overhead_s
                    .map_or(String::new(), |v| v.to_string()),
                st.body_share.median.to_string(),
            ]);
            w.write_record(&row)?;
        }
    }
    w.flush()?;
    Ok(())
}
