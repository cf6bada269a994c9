//! `faastwin calibrate`, `faastwin validate` and `faastwin loop` (measure → calibrate →
//! predict → measure → validate, for real, on the local or Slurm platform).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use faastwin_calibration::{Run, RunValidation, calibrate, median_abs_makespan_error, validate};
use faastwin_measure::{
    DriverClock, Launch, Launcher, NoProgress, Platform, ProcessPlatform, RunOptions,
    SlurmPlatform, SubmitPolicy,
};
use faastwin_sim::Calibration;

use crate::cli::{CalibrateArgs, LoopArgs, LoopPlatform, OutputFormat, ValidateArgs};

fn load_runs(dirs: &[PathBuf]) -> anyhow::Result<Vec<Run>> {
    dirs.iter()
        .map(|d| Run::load(d).with_context(|| format!("cannot read run {}", d.display())))
        .collect()
}

pub(crate) fn run_calibrate(args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    let runs = load_runs(&args.runs)?;
    let (calibration, fits) = calibrate(&runs).context("calibrating")?;
    let text = calibration.to_toml()?;
    std::fs::write(&args.out, text)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "{:<10} {:<22} {:>6} {:<20} {:>9} {:>9}  method",
        "platform", "component", "n", "family", "KS D", "KS p"
    );
    for f in &fits {
        for c in &f.components {
            println!(
                "{:<10} {:<22} {:>6} {:<20} {:>9.4} {:>9.3}  {}",
                f.platform,
                c.component,
                c.rows,
                c.fit.family,
                c.fit.ks_statistic,
                c.fit.ks_p_value,
                c.method
            );
        }
    }
    eprintln!("wrote {} ({} platform(s))", args.out.display(), fits.len());
    Ok(ExitCode::SUCCESS)
}

fn read_calibration(path: &Path) -> anyhow::Result<Calibration> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read calibration {}", path.display()))?;
    Ok(Calibration::from_toml(&text, &path.display().to_string())?)
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub(crate) fn run_validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let calibration = read_calibration(&args.calibration)?;
    let runs = load_runs(&args.runs)?;
    let validations: Vec<RunValidation> = runs
        .iter()
        .map(|run| {
            validate(&calibration, run, args.replications, args.seed, threads())
                .with_context(|| format!("validating {}", run.dir.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    print_validations(&mut std::io::stdout().lock(), &validations, args.format)?;
    let worst = validations
        .iter()
        .map(|v| v.makespan_rel_error().abs())
        .fold(0.0, f64::max);
    if worst > args.tolerance {
        eprintln!(
            "makespan error {:.1} % exceeds the tolerance of {:.1} %",
            100.0 * worst,
            100.0 * args.tolerance
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_validations(
    out: &mut impl Write,
    validations: &[RunValidation],
    format: OutputFormat,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, validations)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "run",
                "platform",
                "metric",
                "measured",
                "predicted",
                "abs_error",
                "rel_error",
            ])?;
            for v in validations {
                for m in &v.metrics {
                    w.write_record([
                        &v.run,
                        &v.platform,
                        &m.metric,
                        &m.measured.to_string(),
                        &m.predicted.to_string(),
                        &m.abs_error.to_string(),
                        &m.rel_error.to_string(),
                    ])?;
                }
                w.write_record([
                    &v.run,
                    &v.platform,
                    "latency_ks_distance",
                    "",
                    &v.latency_ks_distance.to_string(),
                    "",
                    "",
                ])?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            for v in validations {
                writeln!(out, "run {} ({}): {}", v.run, v.platform, v.scenario)?;
                writeln!(
                    out,
                    "  {:<20} {:>12} {:>12} {:>12} {:>9}",
                    "metric", "measured", "predicted", "abs error", "rel error"
                )?;
                for m in &v.metrics {
                    writeln!(
                        out,
                        "  {:<20} {:>12.4} {:>12.4} {:>12.4} {:>8.1}%",
                        m.metric,
                        m.measured,
                        m.predicted,
                        m.abs_error,
                        100.0 * m.rel_error
                    )?;
                }
                writeln!(
                    out,
                    "  {:<20} {:>12.3}",
                    "latency KS distance", v.latency_ks_distance
                )?;
            }
            if validations.len() > 1 {
                writeln!(
                    out,
                    "median |makespan error| over {} runs: {:.1} %",
                    validations.len(),
                    100.0 * median_abs_makespan_error(validations)
                )?;
            }
        }
    }
    Ok(())
}

/// One configuration of the closed loop.
struct Config {
    name: &'static str,
    partitions: u32,
    window: u32,
    shard: &'static str,
}

pub(crate) fn run_loop(args: LoopArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(closed_loop(args))
}

async fn closed_loop(args: LoopArgs) -> anyhow::Result<ExitCode> {
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let n = args.invocations;
    let small = args.small_shard_bytes;
    let shards = [
        ("small", small),
        ("double", small * 2),
        ("large", small * 8),
    ];
    for (name, bytes) in shards {
        let spec = faastwin_workers::dataset::DatasetSpec::Etl {
            count: n,
            seed: 1,
            shard_bytes: bytes,
        };
        faastwin_workers::dataset::generate(&spec, &out.join(format!("data-{name}")), &|_| {})
            .with_context(|| format!("generating the {name} dataset"))?;
    }
    let (nodes, platform_name) = match args.platform {
        LoopPlatform::Local => (vec![faastwin_workers::host_name()], "local"),
        LoopPlatform::Slurm => (vec!["n1".to_owned(), "n2".to_owned()], "slurm"),
    };
    let nodes = args
        .nodes
        .as_ref()
        .map_or(nodes, |n| n.split(',').map(str::to_owned).collect());
    // A spans two shard sizes, so that fixed and per-byte costs separate.
    let a = [
        Config {
            name: "A-small",
            partitions: 2,
            window: 1,
            shard: "small",
        },
        Config {
            name: "A-double",
            partitions: 2,
            window: 1,
            shard: "double",
        },
    ];
    let held_out = [
        Config {
            name: "B1-4-partitions",
            partitions: 4,
            window: 1,
            shard: "small",
        },
        Config {
            name: "B2-8x-shards",
            partitions: 2,
            window: 1,
            shard: "large",
        },
        Config {
            name: "B3-window-2",
            partitions: 2,
            window: 2,
            shard: "small",
        },
    ];
    eprintln!(
        "measuring configuration A (2 partitions, {small} and {} B shards, {n} invocations each) on {platform_name}",
        2 * small
    );
    let mut a_runs = Vec::new();
    for config in &a {
        a_runs.push(Run::load(
            &measure_config(&args, &nodes, platform_name, config).await?,
        )?);
    }
    let (calibration, _) = calibrate(&a_runs)?;
    let calibration_path = out.join("calibration.toml");
    std::fs::write(&calibration_path, calibration.to_toml()?)?;
    let mut validations = Vec::new();
    for b in &held_out {
        eprintln!("measuring held-out configuration {}", b.name);
        let dir = measure_config(&args, &nodes, platform_name, b).await?;
        let run = Run::load(&dir)?;
        validations.push(validate(
            &calibration,
            &run,
            args.replications,
            1,
            threads(),
        )?);
    }
    print_validations(
        &mut std::io::stdout().lock(),
        &validations,
        OutputFormat::Table,
    )?;
    let median = median_abs_makespan_error(&validations);
    println!(
        "closed loop on {platform_name}: calibrated on A, predicted {} held-out configurations; median |makespan error| {:.1} % (tolerance {:.1} %)",
        validations.len(),
        100.0 * median,
        100.0 * args.tolerance
    );
    Ok(if median <= args.tolerance {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn measure_config(
    args: &LoopArgs,
    nodes: &[String],
    platform_name: &str,
    c: &Config,
) -> anyhow::Result<PathBuf> {
    let out = args.out.join(format!("run-{}", c.name));
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    let dataset = faastwin_workers::dataset::read(&args.out.join(format!("data-{}", c.shard)))?;
    let worker = args
        .worker
        .clone()
        .unwrap_or_else(crate::measure::default_worker);
    let platform: Arc<dyn Platform> = match platform_name {
        "slurm" => Arc::new(SlurmPlatform::new(
            std::path::absolute(&worker)?,
            std::path::absolute(out.join("results"))?,
            Launcher::Sbatch,
            Duration::from_millis(50),
            DriverClock::start(),
        )),
        _ => Arc::new(ProcessPlatform::new(Launch::Local { worker })),
    };
    let options = RunOptions {
        run_id: format!("loop-{}", c.name.to_lowercase()),
        platform: platform_name.to_owned(),
        partitions: c.partitions,
        nodes: nodes.to_vec(),
        policy: if c.window > 1 {
            SubmitPolicy::Window { size: c.window }
        } else {
            SubmitPolicy::Sequential
        },
        repetitions: args.repetitions,
        between: None,
        warmup: 0,
        invocations: None,
        timeout_s: 600.0,
        seed: 1,
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    faastwin_measure::run(
        platform,
        options,
        dataset,
        out.clone(),
        false,
        Arc::new(NoProgress),
        rx,
    )
    .await
    .with_context(|| format!("measuring {}", c.name))?;
    Ok(out)
}
