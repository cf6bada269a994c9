//! The closed loop, for real: measure configuration A, calibrate from it, then measure and
//! predict held-out configurations that were never used for fitting.
//!
//! ```text
//!  A-small, A-double (2 partitions, shards of S and 2S) ──measure──▶ calibrate
//!                                                                       │ predict
//!  B1 (4 partitions), B2 (8S shards), B3 (window 2) ────measure──▶ validate ◀┘
//! ```
//!
//! Every configuration is measured before the calibration, in rounds (one repetition of each
//! per round), so that the machine's drift falls on all alike; the calibration still sees A
//! alone. On Kubernetes, where A's latency stayed flat (the control plane's shared work
//! unseen), the loop climbs: B1 joins A and twice its partitions are measured and held out
//! ([`next_rung`]), until latency grows or `--max-partitions` stops it.
//!
//! With `--held-out K --seed S` the held-out configurations are K drawn at random from a
//! declared space (`closed_loop/random.rs`) instead: a model developed against fixed held-out
//! configurations has no held-out set left.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faastwin_measure::{Body, NoProgress, PlatformKind, PlatformSetup, RunOptions, SubmitPolicy};
use faastwin_workers::dataset::{self, DatasetSpec};

use crate::{CalibrationError, Run, RunValidation, calibrate, validate};

mod random;

/// What a loop measures and how it predicts (the options of `faastwin loop`).
#[derive(Debug, Clone, clap::Args)]
pub struct LoopOptions {
    /// Where to run: local, container, slurm, k8s or ksi.
    #[arg(long)]
    pub platform: PlatformKind,
    /// Directory for datasets, runs and the calibration.
    #[arg(long)]
    pub out: PathBuf,
    /// Invocations per configuration.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    pub invocations: u64,
    /// Shard size of configuration A [bytes; KiB, MiB, GiB accepted]; B2 uses 8 times this.
    #[arg(long, default_value_t = 1 << 20, value_parser = faastwin_workers::dataset::parse_bytes)]
    pub small_shard_bytes: u64,
    /// Repetitions of each configuration (calibration from all of A's; measured = median over
    /// B's), measured in rounds of one repetition of every configuration (KSI: in a row).
    /// Millisecond runs vary from run to run; three steady them.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repetitions: u32,
    /// Kubernetes: most partitions a held-out configuration may have. When A's latency did not
    /// grow with its load (the control plane's shared work unseen), the held-out configuration
    /// with the most partitions joins A and one with twice its partitions is measured instead,
    /// until latency grows or this is reached.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_partitions: u32,
    /// Replications of each prediction.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub replications: u32,
    /// Nodes, comma-separated [default: this host; slurm and ksi: n1,n2; with --logical-nodes
    /// N: n1..nN].
    #[arg(long, value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// Calibrate on the first K of the nodes only, and hold out one more configuration on all
    /// of them with the partitions scaled alike (`B4-<N>-nodes`): a prediction across node
    /// counts [default: every configuration on all the nodes].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub calibration_nodes: Option<u32>,
    /// Hold out this many configurations drawn at random (partitions, nodes, shard sizes,
    /// windows, open-loop rates, both bodies; see docs/fidelity.md) instead of B1-B3 (and B4).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub held_out: Option<u32>,
    /// Seed of the --held-out draws: the same seed, the same configurations. Develop against
    /// one seed and report another.
    #[arg(long, default_value_t = 1, requires = "held_out")]
    pub seed: u64,
    /// Warm-up invocations per partition and repetition [default: 1 on ksi, else 0].
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Longest an invocation may take [s].
    #[arg(long, default_value_t = 600.0, allow_negative_numbers = true, value_parser = faastwin_measure::options::positive_seconds)]
    pub timeout: f64,
    /// How the platform is reached and driven.
    #[command(flatten)]
    pub setup: PlatformSetup,
}

impl LoopOptions {
    /// The nodes, or the defaults: this host, or n1,n2 on Slurm and KSI (the test cluster).
    fn nodes(&self) -> Vec<String> {
        match (
            self.nodes.is_empty(),
            self.platform,
            self.setup.logical_nodes,
        ) {
            (false, _, _) => self.nodes.clone(),
            (true, PlatformKind::Slurm | PlatformKind::Ksi, _) => vec!["n1".into(), "n2".into()],
            (true, PlatformKind::Local | PlatformKind::Container, Some(n)) => {
                (1..=n).map(|i| format!("n{i}")).collect()
            }
            (true, _, _) => vec![faastwin_workers::host_name()],
        }
    }

    /// The nodes `config` runs on: its own count of them (a held-out node count), else the
    /// calibration's (the first `--calibration-nodes`, or all).
    fn nodes_of(&self, config: &LoopConfig) -> Vec<String> {
        let mut nodes = self.nodes();
        if let Some(n) = config.nodes.or(self.calibration_nodes) {
            nodes.truncate(n as usize);
        }
        nodes
    }

    /// Warm-up invocations: KSI's first Job per partition is a cold start.
    fn warmup(&self) -> u64 {
        self.warmup
            .unwrap_or(u64::from(self.platform == PlatformKind::Ksi))
    }
}

/// One configuration of the loop.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopConfig {
    /// Its name (`A-small`, `B1-4-partitions`, `H3-etl-p12-n2-w3-512k`, ...).
    pub name: Cow<'static, str>,
    /// The function body.
    pub body: Body,
    /// Partitions.
    pub partitions: u32,
    /// How each partition submits.
    pub policy: LoopPolicy,
    /// Shard size as a multiple of the small one (ETL).
    pub shard_factor: f64,
    /// Invocations as a multiple of `--invocations` (1; a wider rung keeps its predecessor's
    /// invocations per partition).
    pub scale: u64,
    /// Runs on the first this many of the loop's nodes; `None`: on the calibration's nodes
    /// (`--calibration-nodes`, or all of them).
    pub nodes: Option<u32>,
}

/// How a configuration's partitions submit.
#[derive(Debug, Clone, PartialEq)]
pub enum LoopPolicy {
    /// Closed loop: up to `window` invocations in flight per partition.
    Closed {
        /// In-flight invocations per partition.
        window: u32,
    },
    /// Open loop: Poisson arrivals per partition at `load` times the rate one partition alone
    /// completes sequentially, as the loop's calibration predicts it (`rate_per_s`, set once
    /// the calibration is made).
    Open {
        /// Share of one partition's sequential throughput.
        load: f64,
        /// Arrivals per second and partition.
        rate_per_s: Option<f64>,
    },
}

const SMALL: LoopConfig = LoopConfig {
    name: Cow::Borrowed("A-small"),
    body: Body::Etl,
    partitions: 2,
    policy: LoopPolicy::Closed { window: 1 },
    shard_factor: 1.0,
    scale: 1,
    nodes: None,
};

/// Configuration A: two partitions over two shard sizes, so fixed and per-byte costs separate.
pub const CALIBRATION: [LoopConfig; 2] = [
    SMALL,
    LoopConfig {
        name: Cow::Borrowed("A-double"),
        shard_factor: 2.0,
        ..SMALL
    },
];

/// The held-out configurations: more partitions, bigger shards, a window.
pub const HELD_OUT: [LoopConfig; 3] = [
    LoopConfig {
        name: Cow::Borrowed("B1-4-partitions"),
        partitions: 4,
        ..SMALL
    },
    LoopConfig {
        name: Cow::Borrowed("B2-8x-shards"),
        shard_factor: 8.0,
        ..SMALL
    },
    LoopConfig {
        name: Cow::Borrowed("B3-window-2"),
        policy: LoopPolicy::Closed { window: 2 },
        ..SMALL
    },
];

/// On Kubernetes and containers, configuration A also runs twice the invocations in flight (4
/// partitions), so that a shared server's service time (the control plane, the container
/// engine's serial path) can be told from delays; the first held-out configuration then has
/// more partitions than any of A's (8).
const WIDE: LoopConfig = LoopConfig {
    name: Cow::Borrowed("A-4-partitions"),
    partitions: 4,
    ..SMALL
};
const MORE: LoopConfig = LoopConfig {
    name: Cow::Borrowed("B1-8-partitions"),
    partitions: 8,
    ..SMALL
};

/// The relay body's part of configuration A, when a drawn held-out configuration runs relay.
const RELAY: LoopConfig = LoopConfig {
    name: Cow::Borrowed("A-relay"),
    body: Body::Relay,
    ..SMALL
};

/// The configurations a loop on `kind` calibrates from, and those it predicts.
pub fn configurations(kind: PlatformKind) -> (Vec<LoopConfig>, Vec<LoopConfig>) {
    let mut calibration = CALIBRATION.to_vec();
    let mut held_out = HELD_OUT.to_vec();
    if kind.is_kubernetes() || kind == PlatformKind::Container {
        calibration.push(WIDE);
        held_out[0] = MORE;
    }
    (calibration, held_out)
}

/// The held-out node count of a loop that calibrates on `calibration` of its `all` nodes:
/// configuration A-small's load per node on every node (`B4-<all>-nodes`: A-small's partitions
/// times all / calibration), or none when the calibration has every node already.
fn node_count_configuration(calibration: u32, all: u32) -> Option<LoopConfig> {
    (calibration >= 1 && calibration < all).then(|| LoopConfig {
        name: Cow::Owned(format!("B4-{all}-nodes")),
        partitions: (SMALL.partitions * all).div_ceil(calibration),
        nodes: Some(all),
        ..SMALL
    })
}

/// What a loop found.
#[derive(Debug, Clone)]
pub struct LoopOutcome {
    /// The calibration written to `OUT/calibration.toml`.
    pub calibration: PathBuf,
    /// One validation per held-out configuration.
    pub validations: Vec<RunValidation>,
}

/// Progress of a loop, in words.
pub trait LoopProgress {
    /// A step starts.
    fn step(&self, what: &str);
}

impl<F: Fn(&str)> LoopProgress for F {
    fn step(&self, what: &str) {
        self(what)
    }
}

/// Runs the whole loop. When `cancel` turns true (Ctrl-C, SIGTERM) the run being measured stops
/// as `faastwin measure` stops (in-flight invocations recorded as cancelled, the platform
/// cleaned up) and the loop ends with [`CalibrationError::Interrupted`].
///
/// With `--held-out K` the held-out configurations are drawn at random (`closed_loop/random.rs`): A is
/// measured and calibrated first, since an open-loop draw's rate is a share of what the
/// calibration predicts, then the draws are measured in rounds of their own.
pub async fn run_loop(
    options: &LoopOptions,
    progress: &dyn LoopProgress,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> Result<LoopOutcome, CalibrationError> {
    let io = |path: &Path| io_failure(format!("closed loop in {}", path.display()), path);
    check_calibration_nodes(options)?;
    let (mut calibration_configs, mut held_out) = plan(options);
    let all: Vec<&LoopConfig> = calibration_configs.iter().chain(&held_out).collect();
    check_configurations(options, &all)?;
    std::fs::create_dir_all(&options.out).map_err(io(&options.out))?;
    write_datasets(options, &all, progress, &cancel)?;
    clear_earlier_rungs(options, &all)?;
    let calibration = if options.held_out.is_some() {
        let a: Vec<&LoopConfig> = calibration_configs.iter().collect();
        measure_in_rounds(options, &a, progress, &cancel).await?;
        progress.step("calibrating from configuration A");
        let (calibration, fits) = calibrate_from(options, &calibration_configs)?;
        warn(&fits, progress);
        set_rates(options, &calibration, &mut held_out, progress)?;
        let drawn: Vec<&LoopConfig> = held_out.iter().collect();
        measure_in_rounds(options, &drawn, progress, &cancel).await?;
        calibration
    } else {
        measure_in_rounds(options, &all, progress, &cancel).await?;
        climb(
            options,
            &mut calibration_configs,
            &mut held_out,
            progress,
            &cancel,
        )
        .await?
    };
    let calibration_path = options.out.join("calibration.toml");
    std::fs::write(&calibration_path, calibration.to_toml()?).map_err(io(&calibration_path))?;
    let mut validations = Vec::new();
    for config in &held_out {
        progress.step(&format!(
            "predicting held-out configuration {}",
            config.name
        ));
        validations.push(predict(options, &calibration, config)?);
    }
    Ok(LoopOutcome {
        calibration: calibration_path,
        validations,
    })
}

/// The configurations a loop calibrates from and those it holds out: the fixed ones (and the
/// node count with `--calibration-nodes`), or `--held-out` drawn at random (A then gains
/// `A-relay` when a draw runs the relay body).
fn plan(options: &LoopOptions) -> (Vec<LoopConfig>, Vec<LoopConfig>) {
    let (mut calibration, mut held_out) = configurations(options.platform);
    let all_nodes = options.nodes().len() as u32;
    match options.held_out {
        Some(count) => {
            let space = random::Space::of(
                &calibration,
                all_nodes,
                options.max_partitions,
                options.invocations,
            );
            held_out = random::draw(count, options.seed, &space, options.small_shard_bytes);
            if held_out.iter().any(|c| c.body == Body::Relay) {
                calibration.push(RELAY);
            }
        }
        None => held_out.extend(
            options
                .calibration_nodes
                .and_then(|k| node_count_configuration(k, all_nodes)),
        ),
    }
    (calibration, held_out)
}

/// `x` to `digits` significant digits.
fn round_significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// Calibrates from the runs of `configs`.
fn calibrate_from(
    options: &LoopOptions,
    configs: &[LoopConfig],
) -> Result<(faastwin_sim::Calibration, Vec<crate::PlatformFit>), CalibrationError> {
    let runs = configs
        .iter()
        .map(|config| Run::load(&run_dir(options, config)))
        .collect::<Result<Vec<_>, _>>()?;
    calibrate(&runs, &BTreeMap::new())
}

fn warn(fits: &[crate::PlatformFit], progress: &dyn LoopProgress) {
    for warning in fits.iter().flat_map(|f| &f.warnings) {
        progress.step(&format!("warning: {warning}"));
    }
}

/// Calibrates from A, climbing rungs of load while A's latency stayed flat on Kubernetes
/// ([`next_rung`]): the held-out configuration with the most partitions joins A and one with
/// twice its partitions is measured and held out instead.
async fn climb(
    options: &LoopOptions,
    calibration_configs: &mut Vec<LoopConfig>,
    held_out: &mut [LoopConfig],
    progress: &dyn LoopProgress,
    cancel: &tokio::sync::watch::Receiver<bool>,
) -> Result<faastwin_sim::Calibration, CalibrationError> {
    loop {
        progress.step("calibrating from configuration A");
        let (calibration, fits) = calibrate_from(options, calibration_configs)?;
        let Some((joins, wider)) = next_rung(&fits, held_out, options.max_partitions) else {
            warn(&fits, progress);
            return Ok(calibration);
        };
        // What the flat curve predicted for the configuration that now joins A: how far an
        // extrapolation from below the knee went wrong, worth seeing before it is refitted.
        let joined = &held_out[0];
        let flat = predict(options, &calibration, joined)?;
        progress.step(&format!(
            "latency hardly grew up to {} Jobs in flight per control plane (calibrated from A, {} predicted with a warm makespan error of {:+.1} %); {} joins configuration A as {} and {} is measured and held out instead",
            fits.iter().filter_map(|f| f.flat_up_to).max().unwrap_or(0),
            joined.name,
            100.0 * flat.makespan_rel_error(),
            joined.name,
            joins.name,
            wider.name,
        ));
        let (from, to) = (run_dir(options, joined), run_dir(options, &joins));
        replace_dir(&from, &to)?;
        calibration_configs.push(joins);
        held_out[0] = wider;
        write_datasets(options, &[&held_out[0]], progress, cancel)?;
        measure_in_rounds(options, &[&held_out[0]], progress, cancel).await?;
    }
}

/// Sets each open-loop configuration's arrival rate: its load times the rate one of its
/// partitions alone completes invocations sequentially, as `calibration` predicts it on its
/// inputs.
fn set_rates(
    options: &LoopOptions,
    calibration: &faastwin_sim::Calibration,
    configs: &mut [LoopConfig],
    progress: &dyn LoopProgress,
) -> Result<(), CalibrationError> {
    for config in configs {
        let LoopPolicy::Open { load, .. } = config.policy else {
            continue;
        };
        let data = dataset_dir(options, config);
        let inputs = dataset::read(&data).map_err(|e| CalibrationError::Measure {
            what: format!("reading {}", data.display()),
            source: e.into(),
        })?;
        let bytes: Vec<f64> = inputs.entries.iter().map(|e| e.bytes as f64).collect();
        let mean_bytes = bytes.iter().sum::<f64>() / bytes.len().max(1) as f64;
        let sequential = random::sequential_throughput(
            calibration,
            options.platform.name(),
            config.body,
            mean_bytes,
            options.replications,
        )?;
        // Four significant digits: a rate to read, not a float's noise.
        let rate = round_significant(load * sequential, 4);
        config.policy = LoopPolicy::Open {
            load,
            rate_per_s: Some(rate),
        };
        progress.step(&format!(
            "{}: open loop at {:.0} % of one partition's predicted sequential throughput ({sequential:.3}/s): {rate} arrivals/s per partition",
            config.name,
            100.0 * load,
        ));
    }
    Ok(())
}

/// The validation of `config`'s run against what `calibration` predicts for it.
fn predict(
    options: &LoopOptions,
    calibration: &faastwin_sim::Calibration,
    config: &LoopConfig,
) -> Result<RunValidation, CalibrationError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let run = Run::load(&run_dir(options, config))?;
    validate(
        calibration,
        options.platform.name(),
        &run,
        options.replications,
        1,
        threads,
        crate::interval::DEFAULT_LEVEL,
    )
}

/// Maps an I/O error on `path` to the loop's error, saying what was being done.
fn io_failure(
    what: String,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> CalibrationError + use<> {
    let path = path.to_owned();
    move |source| CalibrationError::Measure {
        what,
        source: faastwin_measure::MeasureError::Io { path, source },
    }
}

/// Stops the loop before its next step once `cancel` has turned true.
fn unless_cancelled(
    cancel: &tokio::sync::watch::Receiver<bool>,
    step: impl FnOnce() -> String,
) -> Result<(), CalibrationError> {
    if *cancel.borrow() {
        return Err(CalibrationError::Interrupted {
            during: format!("before {}", step()),
        });
    }
    Ok(())
}

/// When A's runs did not show a Kubernetes control plane's shared work (latency flat over A's
/// loads: predictions above them extrapolate a flat curve, too fast once the control plane
/// saturates), the next rung of loads: the held-out configuration with the most partitions
/// (the first) joins A under an A name, and one with twice its partitions is held out instead,
/// as long as that stays within `max_partitions`. `None` when the shared work was seen, on
/// other platforms, or at the limit.
pub fn next_rung(
    fits: &[crate::PlatformFit],
    held_out: &[LoopConfig],
    max_partitions: u32,
) -> Option<(LoopConfig, LoopConfig)> {
    let widest = held_out.first()?;
    let flat = fits
        .iter()
        .any(|f| f.kind.is_kubernetes() && f.flat_up_to.is_some());
    let wider = widest.partitions.checked_mul(2)?;
    (flat && wider <= max_partitions).then(|| {
        let named = |prefix: &str, partitions: u32, scale: u64| LoopConfig {
            name: Cow::Owned(format!("{prefix}-{partitions}-partitions")),
            partitions,
            scale,
            ..widest.clone()
        };
        (
            named("A", widest.partitions, widest.scale),
            named("B1", wider, 2 * widest.scale),
        )
    })
}

/// Removes the runs an earlier loop into the same directory measured on rungs this one has not
/// climbed yet (`run-A-8-partitions`, `run-B1-16-partitions`, ...) or drew with another seed
/// (`run-H3-...`, `run-A-relay`), so that neither they nor a `run-A-*` glob over the directory
/// mix them into this loop's.
fn clear_earlier_rungs(
    options: &LoopOptions,
    configs: &[&LoopConfig],
) -> Result<(), CalibrationError> {
    let Ok(entries) = std::fs::read_dir(&options.out) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rung = ["run-A-", "run-B1-"].iter().any(|prefix| {
            name.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix("-partitions"))
                .is_some_and(|n| n.parse::<u32>().is_ok())
        });
        let drawn =
            name == "run-A-relay" || name.strip_prefix("run-").is_some_and(random::is_drawn);
        if (rung || drawn) && !configs.iter().any(|c| run_dir(options, c) == entry.path()) {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(io_failure(
                format!("removing {} (an earlier loop's rung)", path.display()),
                &path,
            ))?;
        }
    }
    Ok(())
}

/// Moves a run directory to a new name, replacing what an earlier loop left there.
fn replace_dir(from: &Path, to: &Path) -> Result<(), CalibrationError> {
    let fail = |path| {
        io_failure(
            format!("moving {} to {}", from.display(), to.display()),
            path,
        )
    };
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(fail(to))?;
    }
    std::fs::rename(from, to).map_err(fail(from))
}

/// Measures `configs` in rounds, one repetition of each per round, each round starting one
/// configuration later, so that none is always measured first.
async fn measure_in_rounds(
    options: &LoopOptions,
    configs: &[&LoopConfig],
    progress: &dyn LoopProgress,
    cancel: &tokio::sync::watch::Receiver<bool>,
) -> Result<(), CalibrationError> {
    let rounds = rounds(options);
    for round in 0..rounds {
        let order: Vec<&LoopConfig> = (0..configs.len())
            .map(|i| configs[(i + round as usize) % configs.len()])
            .collect();
        let repetitions = if rounds == 1 { options.repetitions } else { 1 };
        for config in order {
            progress.step(&format!(
                "measuring {} on {} (round {} of {rounds}: {} invocations x {repetitions} repetition{})",
                config.name,
                options.platform,
                round + 1,
                options.invocations * config.scale,
                if repetitions == 1 { "" } else { "s" },
            ));
            let total = repetitions * (round + 1);
            measure(options, config, round, total, progress, cancel).await?;
        }
    }
    Ok(())
}

/// `OUT/data-<factor>x` (ETL) or `OUT/data-relay`, with `-<count>` for more invocations than
/// `--invocations` (a rung's, a wide draw's).
fn dataset_dir(options: &LoopOptions, config: &LoopConfig) -> PathBuf {
    let stem = match config.body {
        Body::Relay => "data-relay".to_owned(),
        Body::Etl => format!("data-{}x", config.shard_factor),
    };
    options.out.join(match config.scale {
        1 => stem,
        scale => format!("{stem}-{}", options.invocations * scale),
    })
}

/// Writes the datasets `configs` read (seed 1), each once.
fn write_datasets(
    options: &LoopOptions,
    configs: &[&LoopConfig],
    progress: &dyn LoopProgress,
    cancel: &tokio::sync::watch::Receiver<bool>,
) -> Result<(), CalibrationError> {
    let mut written = std::collections::BTreeSet::new();
    for config in configs {
        let dir = dataset_dir(options, config);
        if !written.insert(dir.clone()) {
            continue;
        }
        unless_cancelled(cancel, || format!("writing dataset {}", dir.display()))?;
        progress.step(&format!("writing dataset {}", dir.display()));
        let count = options.invocations * config.scale;
        let spec = match config.body {
            Body::Relay => DatasetSpec::Relay {
                count,
                seed: 1,
                payload_bytes: RELAY_PAYLOAD_BYTES,
            },
            Body::Etl => DatasetSpec::Etl {
                count,
                seed: 1,
                shard_bytes: shard_bytes(options, config),
            },
        };
        dataset::generate(&spec, &dir, &|_| {}).map_err(|e| CalibrationError::Measure {
            what: format!("generating {}", dir.display()),
            source: e.into(),
        })?;
    }
    Ok(())
}

/// The relay body's payload: `faastwin dataset relay`'s default.
const RELAY_PAYLOAD_BYTES: u64 = 2048;

/// The shard size of an ETL configuration [bytes].
fn shard_bytes(options: &LoopOptions, config: &LoopConfig) -> u64 {
    (options.small_shard_bytes as f64 * config.shard_factor).round() as u64
}

/// Rounds a loop measures in: one repetition of every configuration per round, so that the
/// machine's drift over the loop (another tenant, a page-cache flush, a slower minute) falls on
/// every configuration alike instead of on whichever ran then. Between two sizes of A it would
/// otherwise read as a cost per byte. On KSI each round would start every node's cluster again
/// (about a minute each): one round, all repetitions in a row.
fn rounds(options: &LoopOptions) -> u32 {
    if options.platform == PlatformKind::Ksi {
        1
    } else {
        options.repetitions
    }
}

fn run_dir(options: &LoopOptions, config: &LoopConfig) -> PathBuf {
    options.out.join(format!("run-{}", config.name))
}

/// Measures round `round` of one configuration into `OUT/run-<name>`, up to `repetitions` in
/// all: the first round replaces an earlier run there, the others resume it (a session each).
async fn measure(
    options: &LoopOptions,
    config: &LoopConfig,
    round: u32,
    repetitions: u32,
    progress: &dyn LoopProgress,
    cancel: &tokio::sync::watch::Receiver<bool>,
) -> Result<(), CalibrationError> {
    let fail = |what: String| {
        move |source: faastwin_measure::MeasureError| CalibrationError::Measure { what, source }
    };
    let out = run_dir(options, config);
    unless_cancelled(cancel, || {
        format!("measuring {} into {}", config.name, out.display())
    })?;
    if round == 0 && out.exists() {
        std::fs::remove_dir_all(&out)
            .map_err(io_failure(format!("replacing {}", out.display()), &out))?;
    }
    let data = dataset_dir(options, config);
    let dataset =
        dataset::read(&data).map_err(|e| fail(format!("reading {}", data.display()))(e.into()))?;
    let (setup, run_options) = run_options(options, config, repetitions);
    let platform = setup
        .build(
            options.platform,
            &run_options.run_id,
            &data,
            &out,
            config.partitions,
        )
        .await
        .map_err(fail(format!("setting up {}", config.name)))?;
    if round == 0 {
        // A loop killed and started again into the same directory: its Jobs, pods and
        // containers still there carry this run's labels (no other run's) and go first.
        platform
            .cleanup(&run_options.run_id)
            .await
            .map_err(fail(format!(
                "removing what an earlier {} left",
                config.name
            )))?;
    }
    let outcome = faastwin_measure::run(
        platform,
        run_options,
        dataset,
        out.clone(),
        round > 0,
        Arc::new(NoProgress),
        cancel.clone(),
    )
    .await
    .map_err(fail(format!("measuring {}", config.name)))?;
    if outcome.interrupted {
        return Err(CalibrationError::Interrupted {
            during: format!("measuring {} into {}", config.name, out.display()),
        });
    }
    let failed = outcome.failed();
    if failed > 0 {
        let first = outcome
            .records
            .iter()
            .find(|r| !r.succeeded() && !r.error.is_empty())
            .map_or(String::new(), |r| format!(" (first: {})", r.error));
        progress.step(&format!(
            "warning: {}: {failed} of {} invocations did not succeed{first}; the calibration and validation use the others: see {}",
            config.name,
            outcome.invocations(),
            out.join("invocations.csv").display()
        ));
    }
    Ok(())
}

/// Refuses `--calibration-nodes` that leaves no node to hold out, before anything is measured.
fn check_calibration_nodes(options: &LoopOptions) -> Result<(), CalibrationError> {
    let all = options.nodes();
    match options.calibration_nodes {
        Some(k) if k as usize >= all.len() => Err(CalibrationError::Measure {
            what: format!(
                "--calibration-nodes {k}: the loop has {} node{} ({}), so no node count is left to hold out; nothing was measured",
                all.len(),
                if all.len() == 1 { "" } else { "s" },
                all.join(", ")
            ),
            source: faastwin_measure::MeasureError::Options(
                "give more --nodes (or --logical-nodes on local and container), or fewer calibration nodes".into(),
            ),
        }),
        _ => Ok(()),
    }
}

/// Refuses the loop before it writes or measures anything when any configuration's run would
/// be refused (too few invocations for its partitions or its warm-up, say): a loop that stops
/// at its third configuration has spent the first two for nothing.
fn check_configurations(
    options: &LoopOptions,
    configs: &[&LoopConfig],
) -> Result<(), CalibrationError> {
    for config in configs {
        let available = options.invocations * config.scale;
        let (_, run) = run_options(options, config, options.repetitions);
        faastwin_measure::check_options(&run, available, &dataset_dir(options, config)).map_err(
            |source| CalibrationError::Measure {
                what: format!(
                    "configuration {} ({} partitions, {available} invocations) cannot be measured; nothing was measured",
                    config.name, config.partitions
                ),
                source,
            },
        )?;
    }
    Ok(())
}

/// Six hex digits naming the loop into `out` (of its absolute path): the runs of two loops
/// into other directories never share a label on one cluster, while a loop started again into
/// the same directory finds what an earlier one left there by its labels.
fn loop_tag(out: &Path) -> String {
    use sha2::Digest;
    let path = std::path::absolute(out).unwrap_or_else(|_| out.to_owned());
    let digest = sha2::Sha256::digest(path.as_os_str().as_encoded_bytes());
    hex::encode(&digest[..3])
}

/// The platform setup and the options `config`'s run is measured with.
fn run_options(
    options: &LoopOptions,
    config: &LoopConfig,
    repetitions: u32,
) -> (PlatformSetup, RunOptions) {
    // A drawn configuration's name says what it is and is too long for a label: it is known
    // by its number (`h3`) in the run id.
    let name = config.name.to_lowercase();
    let known_as = match name.split_once('-') {
        Some((number, _)) if random::is_drawn(&config.name) => number,
        _ => &name,
    };
    let run_id = format!("loop-{known_as}-{}", loop_tag(&options.out));
    let setup = PlatformSetup {
        ksi: faastwin_measure::KsiSetup {
            ksi_nodes: Some(
                options
                    .setup
                    .ksi
                    .ksi_nodes
                    .unwrap_or(config.partitions)
                    .min(options.nodes_of(config).len().max(1) as u32),
            ),
            ..options.setup.ksi.clone()
        },
        ..options.setup.clone()
    };
    let run = RunOptions {
        run_id,
        platform: options.platform,
        partitions: config.partitions,
        nodes: options.nodes_of(config),
        policy: match config.policy {
            LoopPolicy::Closed { window: 1 } => SubmitPolicy::Sequential,
            LoopPolicy::Closed { window } => SubmitPolicy::Window { size: window },
            // Before the calibration sets it, a stand-in for the checks (any rate is valid).
            LoopPolicy::Open { rate_per_s, .. } => SubmitPolicy::Poisson {
                rate_per_s: rate_per_s.unwrap_or(1.0),
            },
        },
        repetitions,
        between: None,
        warmup: options.warmup(),
        invocations: None,
        timeout_s: options.timeout,
        seed: 1,
        setup: Some(setup.clone()),
    };
    (setup, run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(platform: PlatformKind) -> LoopOptions {
        LoopOptions {
            platform,
            out: PathBuf::from("out"),
            invocations: 40,
            small_shard_bytes: 1 << 20,
            repetitions: 3,
            replications: 20,
            nodes: Vec::new(),
            calibration_nodes: None,
            held_out: None,
            seed: 1,
            warmup: None,
            timeout: 600.0,
            max_partitions: 32,
            setup: PlatformSetup::default(),
        }
    }

    /// Issue 29.8: two loops into other directories never share a run id (and so a label) on
    /// one cluster; a loop into the same directory has the same ids, so it finds and removes
    /// what a killed predecessor left. Every id, rungs up to 128 partitions included, is a valid
    /// label and Job name prefix.
    #[test]
    fn a_loops_run_ids_are_its_directorys_own_and_valid_labels() {
        let mut one = options(PlatformKind::K8s);
        one.out = PathBuf::from("/tmp/loop-one");
        let mut other = one.clone();
        other.out = PathBuf::from("/tmp/loop-other");
        let id = |o: &LoopOptions, c: &LoopConfig| run_options(o, c, 1).1.run_id;
        let (calibration, held_out) = configurations(PlatformKind::K8s);
        let widest = LoopConfig {
            name: Cow::Borrowed("B1-128-partitions"),
            partitions: 128,
            scale: 16,
            ..MORE
        };
        let space = random::Space {
            max_partitions: 1000,
            nodes: 100,
            invocations: 40,
        };
        let drawn = random::draw(100, 1, &space, 1 << 30);
        let mut ids = std::collections::BTreeSet::new();
        for config in calibration
            .iter()
            .chain(&held_out)
            .chain([&widest, &RELAY])
            .chain(&drawn)
        {
            assert_ne!(id(&one, config), id(&other, config));
            assert_eq!(id(&one, config), id(&one.clone(), config));
            faastwin_measure::k8s::validate_run_id(&id(&one, config)).unwrap();
            assert!(ids.insert(id(&one, config)), "one id per configuration");
        }
        assert_eq!(id(&one, &drawn[99])[..10], *"loop-h100-");
    }

    #[test]
    fn rates_keep_four_significant_digits() {
        assert_eq!(round_significant(126.8354, 4), 126.8);
        assert_eq!(round_significant(0.0123456, 4), 0.01235);
        assert_eq!(round_significant(98765.4, 4), 98770.0);
        assert_eq!(round_significant(0.0, 4), 0.0);
    }

    #[test]
    fn slurm_and_ksi_default_to_the_test_clusters_nodes_and_the_rest_to_this_host() {
        for kind in [PlatformKind::Slurm, PlatformKind::Ksi] {
            assert_eq!(options(kind).nodes(), vec!["n1", "n2"], "{kind}");
        }
        for kind in [
            PlatformKind::Local,
            PlatformKind::Container,
            PlatformKind::K8s,
        ] {
            assert_eq!(options(kind).nodes(), vec![faastwin_workers::host_name()]);
        }
        let mut given = options(PlatformKind::Slurm);
        given.nodes = vec!["a".into()];
        assert_eq!(given.nodes(), vec!["a"]);
    }

    #[test]
    fn a_new_loop_removes_an_earlier_loops_rungs_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = options(PlatformKind::K8s);
        options.out = dir.path().to_owned();
        let kept = [
            "run-A-small",
            "run-A-4-partitions",
            "run-B1-8-partitions",
            "run-B2-8x-shards",
            "run-A-x-partitions",
            "data-1x-80",
            "run-Hx",
        ];
        let gone = [
            "run-A-8-partitions",
            "run-B1-16-partitions",
            "run-H1-etl-p3-n1-w2-1024k",
            "run-A-relay",
        ];
        for name in kept.iter().chain(&gone) {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        std::fs::write(dir.path().join("calibration.toml"), "").unwrap();
        let (a, b) = configurations(PlatformKind::K8s);
        let all: Vec<&LoopConfig> = a.iter().chain(&b).collect();
        clear_earlier_rungs(&options, &all).unwrap();
        for name in kept {
            assert!(dir.path().join(name).exists(), "{name} kept");
        }
        for name in gone {
            assert!(!dir.path().join(name).exists(), "{name} removed");
        }
        assert!(dir.path().join("calibration.toml").exists());
        options.out = dir.path().join("missing");
        clear_earlier_rungs(&options, &all).unwrap();
    }

    #[test]
    fn only_ksi_warms_up_by_default_and_a_given_warm_up_wins() {
        assert_eq!(options(PlatformKind::Ksi).warmup(), 1);
        for kind in [PlatformKind::Local, PlatformKind::Slurm, PlatformKind::K8s] {
            assert_eq!(options(kind).warmup(), 0, "{kind}");
        }
        let mut given = options(PlatformKind::Ksi);
        given.warmup = Some(0);
        assert_eq!(given.warmup(), 0);
    }
}
