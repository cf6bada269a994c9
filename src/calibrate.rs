//! `faastwin calibrate`, `faastwin validate` and `faastwin loop`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use faastwin_calibration::{
    ErrorDistribution, Run, RunValidation, ValidationFormat, coverage_note, extrapolation_note,
    median_abs_makespan_error, platform_names, run_loop, spread_note, validate, write_fits,
    write_validations,
};
use faastwin_sim::Calibration;

use crate::cli::{CalibrateArgs, LoopArgs, OutputFormat, ValidateArgs};

fn load_runs(dirs: &[PathBuf]) -> anyhow::Result<Vec<Run>> {
    dirs.iter()
        // The error names the run and the file (`run DIR: DIR/run.json: ...`).
        .map(|d| Run::load(d).map_err(anyhow::Error::from))
        .collect()
}

pub(crate) fn run_calibrate(args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    let runs = load_runs(&args.runs)?;
    let names = platform_names(&args.names, &runs)?;
    let bar = crate::progress::items(u64::from(args.refits), "refits");
    let validations: Vec<(String, String)> = args
        .model_error
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|text| (p.display().to_string(), text))
                .with_context(|| format!("cannot read validations {}", p.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    let (mut calibration, fits) = faastwin_calibration::interval::calibrate_with_refits(
        &runs,
        &names,
        args.refits,
        args.seed,
        &|_| bar.inc(1),
    )
    .context("calibrating")?;
    bar.finish_and_clear();
    if !validations.is_empty() {
        let kept = faastwin_calibration::interval::add_model_error(&mut calibration, &validations)?;
        if kept.is_empty() {
            eprintln!(
                "warning: no row of the --model-error files is of a platform this calibration has ({})",
                calibration
                    .platforms
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for (name, n) in kept {
            eprintln!(
                "{name}: the model's error on {n} held-out runs kept for prediction intervals"
            );
        }
    }
    std::fs::write(&args.out, calibration.to_toml()?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    write_fits(&mut std::io::stdout().lock(), &fits)?;
    for warning in fits.iter().flat_map(|f| &f.warnings) {
        eprintln!("warning: {warning}");
    }
    eprintln!(
        "wrote {} (platforms: {})",
        args.out.display(),
        fits.iter()
            .map(|f| format!("{} from {} runs", f.platform, f.kind))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

fn read_calibration(path: &Path) -> anyhow::Result<Calibration> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read calibration {}", path.display()))?;
    Ok(Calibration::from_toml(&text, &path.display().to_string())?)
}

fn format(format: OutputFormat) -> ValidationFormat {
    match format {
        OutputFormat::Table => ValidationFormat::Table,
        OutputFormat::Csv => ValidationFormat::Csv,
        OutputFormat::Json => ValidationFormat::Json,
    }
}

pub(crate) fn run_validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let calibration = read_calibration(&args.calibration)?;
    let runs = load_runs(&args.runs)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let validations: Vec<RunValidation> = runs
        .iter()
        .map(|run| {
            let name = platform_for(&calibration, args.platform_name.as_deref(), run)?;
            validate(
                &calibration,
                name,
                run,
                args.replications,
                args.seed,
                threads,
                args.interval,
            )
            .with_context(|| format!("validating {}", run.dir.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    write_validations(
        &mut std::io::stdout().lock(),
        &validations,
        format(args.format),
    )?;
    if let (OutputFormat::Table, [_, _, ..]) = (&args.format, validations.as_slice()) {
        if let Some(distribution) = ErrorDistribution::of(&validations) {
            println!("{distribution}");
        }
        if let Some(coverage) = coverage_note(&validations) {
            println!("{coverage}");
        }
        if let Some(note) = extrapolation_note(&validations) {
            println!("{note}");
        }
    }
    let worst = validations
        .iter()
        .map(|v| v.makespan_rel_error().abs())
        .fold(0.0, f64::max);
    if worst.is_nan() || worst > args.tolerance {
        eprintln!(
            "makespan error {:.1} % exceeds the tolerance of {:.1} %{}",
            100.0 * worst,
            100.0 * args.tolerance,
            spread_note(&validations)
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The calibration's platform that predicts `run`: the one named with `--as`, else the one
/// named after the run's platform kind, else the calibration's only platform (said on stderr);
/// with several and none of the run's kind, the error says which flag chooses.
fn platform_for<'a>(
    calibration: &'a faastwin_sim::Calibration,
    given: Option<&'a str>,
    run: &Run,
) -> anyhow::Result<&'a str> {
    let kind = run.platform().name();
    if let Some(name) = given {
        return Ok(name);
    }
    if let Some((name, _)) = calibration.platforms.get_key_value(kind) {
        return Ok(name);
    }
    let names: Vec<&str> = calibration.platforms.keys().map(String::as_str).collect();
    match names.as_slice() {
        [only] => {
            eprintln!(
                "{}: a {kind} run, predicted with the calibration's only platform, {only:?}",
                run.dir.display()
            );
            Ok(only)
        }
        _ => anyhow::bail!(
            "{}: the calibration has no platform {kind:?}, the run's kind; choose one of {} with --as NAME",
            run.dir.display(),
            names.join(", ")
        ),
    }
}

pub(crate) fn run_loop_command(args: LoopArgs) -> anyhow::Result<ExitCode> {
    let options = &args.options;
    let outcome = crate::measure::runtime()?.block_on(async {
        let cancel = crate::signals::cancel_on_interrupt(
            "interrupted: finishing in-flight invocations as cancelled, cleaning up",
        )?;
        anyhow::Ok(run_loop(options, &|step: &str| eprintln!("{step}"), cancel).await)
    })?;
    let outcome = match outcome {
        Err(e @ faastwin_calibration::CalibrationError::Interrupted { .. }) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(130));
        }
        other => other?,
    };
    write_validations(
        &mut std::io::stdout().lock(),
        &outcome.validations,
        ValidationFormat::Table,
    )?;
    let median = median_abs_makespan_error(&outcome.validations);
    let drawn = options.held_out.map_or(String::new(), |_| {
        format!(" (drawn at random, seed {})", options.seed)
    });
    println!(
        "closed loop on {}: calibrated on A, predicted {} held-out configurations{drawn}; median |makespan error| {:.1} % (tolerance {:.1} %){}",
        options.platform,
        outcome.validations.len(),
        100.0 * median,
        100.0 * args.tolerance,
        spread_note(&outcome.validations)
    );
    if let Some(distribution) = ErrorDistribution::of(&outcome.validations) {
        println!("{distribution}");
    }
    if let Some(coverage) = coverage_note(&outcome.validations) {
        println!("{coverage}");
    }
    if let Some(note) = extrapolation_note(&outcome.validations) {
        println!("{note}");
    }
    Ok(if median <= args.tolerance {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
