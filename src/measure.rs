//! `faastwin measure`: real runs on local processes, containers, Slurm, Kubernetes and KSI.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use faastwin_measure::k8s::{DataVolume, JobTemplate, K8sPlatform, Pinning};
use faastwin_measure::ksi::{KsiConfig, KsiPlatform};
use faastwin_measure::{
    DriverClock, InvocationRecord, Launch, Launcher, Platform, ProcessPlatform, ProgressSink,
    RunOptions, SlurmPlatform, SubmitPolicy,
};
use indicatif::{MultiProgress, ProgressBar};

use crate::cli::{MeasureArgs, PinArg, PlatformKind};
use crate::progress;

pub(crate) fn run(args: MeasureArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(run_async(args))
}

/// Options and directories of a run: from the command line, or from `run.json` on --resume.
fn resolve(args: &MeasureArgs) -> anyhow::Result<(RunOptions, PathBuf, PathBuf)> {
    if let Some(dir) = &args.resume {
        let path = dir.join("run.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot resume: {}", path.display()))?;
        let meta: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("cannot resume: {} is not valid JSON", path.display()))?;
        let options: RunOptions = serde_json::from_value(meta["options"].clone())
            .with_context(|| format!("cannot resume: {} has no usable options", path.display()))?;
        let dataset = meta["dataset"]
            .as_str()
            .map(PathBuf::from)
            .context("run.json names no dataset")?;
        return Ok((options, dataset, dir.clone()));
    }
    let dataset = args
        .dataset
        .clone()
        .context("--dataset DIR is required (or --resume DIR)")?;
    let out = args
        .out
        .clone()
        .context("--out DIR is required (or --resume DIR)")?;
    let platform = args
        .platform
        .context("--platform is required (or --resume DIR)")?;
    let policy = match (args.window, args.rate) {
        (Some(_), Some(_)) => bail!("--window and --rate exclude each other"),
        (Some(size), None) => SubmitPolicy::Window { size },
        (None, Some(rate_per_s)) => SubmitPolicy::Poisson { rate_per_s },
        (None, None) => SubmitPolicy::Sequential,
    };
    let nodes = match (&args.nodes, platform) {
        (Some(nodes), _) => nodes
            .split(',')
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect(),
        (None, PlatformKind::Slurm) => slurm_nodes()?,
        (None, _) => vec![faastwin_workers::host_name()],
    };
    anyhow::ensure!(!nodes.is_empty(), "--nodes lists no node");
    anyhow::ensure!(args.partitions > 0, "--partitions must be at least 1");
    anyhow::ensure!(args.repetitions > 0, "--repetitions must be at least 1");
    let options = RunOptions {
        run_id: args.run_id.clone().unwrap_or_else(new_run_id),
        platform: platform.name().to_owned(),
        partitions: args.partitions,
        nodes,
        policy,
        repetitions: args.repetitions,
        between: args.between.clone(),
        warmup: args.warmup,
        invocations: args.invocations,
        timeout_s: args.timeout,
        seed: args.seed,
    };
    Ok((options, dataset, out))
}

async fn run_async(args: MeasureArgs) -> anyhow::Result<ExitCode> {
    let (options, dataset_dir, out) = resolve(&args)?;
    let dataset = faastwin_workers::dataset::read(&dataset_dir).with_context(|| {
        format!(
            "cannot read dataset {} (make one with faastwin dataset)",
            dataset_dir.display()
        )
    })?;
    if args.dry_run {
        return dry_run(&args, &options, &dataset, &dataset_dir, &out).await;
    }
    let platform = build_platform(&args, &options, &dataset_dir, &out).await?;
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: finishing in-flight invocations as cancelled, cleaning up");
            let _ = cancel_tx.send(true);
        }
    });
    let bars = Arc::new(PartitionBars::new(options.partitions));
    let outcome = faastwin_measure::run(
        platform,
        options.clone(),
        dataset,
        out.clone(),
        args.resume.is_some(),
        bars.clone(),
        cancel_rx,
    )
    .await
    .with_context(|| format!("measuring into {}", out.display()))?;
    bars.clear();
    let failed = outcome.records.iter().filter(|r| !r.succeeded()).count();
    println!(
        "run {} on {}: {} invocations recorded in {}",
        options.run_id,
        options.platform,
        outcome.records.len(),
        out.display()
    );
    println!(
        "{:<10} {:>12} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "repetition", "makespan_s", "p50_s", "p95_s", "p99_s", "mean_body_s", "failed"
    );
    for s in &outcome.summaries {
        let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
        println!(
            "{:<10} {:>12} {:>10} {:>10} {:>10} {:>12} {:>10}",
            s.repetition,
            f(s.warm_makespan_s),
            f(s.p50_latency_s),
            f(s.p95_latency_s),
            f(s.p99_latency_s),
            f(s.mean_body_s),
            s.failed
        );
    }
    if failed > 0 {
        eprintln!(
            "{failed} invocations did not succeed: see the outcome and error columns of invocations.csv"
        );
    }
    Ok(if outcome.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints every submission of the first repetition without touching any platform.
async fn dry_run(
    args: &MeasureArgs,
    options: &RunOptions,
    dataset: &faastwin_workers::dataset::Dataset,
    dataset_dir: &Path,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let mut options = options.clone();
    if options.nodes.is_empty() {
        options.nodes = (0..options.partitions)
            .map(|p| format!("<node of partition {p}>"))
            .collect();
    }
    let describe: Box<dyn Fn(&faastwin_measure::InvocationSpec) -> String> =
        match options.platform.as_str() {
            "k8s" | "ksi" => {
                let template = job_template(args, dataset_dir, out)?;
                Box::new(move |spec| {
                    serde_json::to_string(&faastwin_measure::k8s::job_manifest(spec, &template))
                        .unwrap_or_default()
                })
            }
            _ => {
                let platform = build_platform(args, &options, dataset_dir, out).await?;
                Box::new(move |spec| platform.describe_submission(spec))
            }
        };
    for partition in faastwin_measure::plan(&options, dataset, out, 0) {
        for spec in partition {
            println!(
                "# partition {} seq {} invocation {} on {}",
                spec.partition, spec.seq, spec.invocation_id, spec.node
            );
            println!("{}", describe(&spec));
        }
    }
    eprintln!(
        "dry run: nothing submitted ({} repetitions would run)",
        options.repetitions
    );
    Ok(ExitCode::SUCCESS)
}

fn job_template(args: &MeasureArgs, dataset: &Path, out: &Path) -> anyhow::Result<JobTemplate> {
    let k = &args.kubernetes;
    let volume = match (&k.pvc, &k.pvc_root) {
        (Some(claim), Some(root)) => DataVolume::Claim {
            claim: claim.clone(),
            root: absolute(root)?,
        },
        _ => DataVolume::HostPath {
            dataset: absolute(dataset)?,
            results: absolute(&out.join("results"))?,
        },
    };
    Ok(JobTemplate {
        namespace: k.namespace.clone(),
        image: args.image.clone(),
        image_pull_policy: k.image_pull_policy.clone(),
        volume,
        cpu_request: k.cpu_request.clone(),
        memory_request: k.memory_request.clone(),
        ttl_seconds: k.ttl_seconds,
        pinning: match k.pin {
            PinArg::NodeName => Pinning::NodeName,
            PinArg::NodeSelector => Pinning::NodeSelector,
        },
    })
}

async fn kube_client(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .with_context(|| format!("kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no Kubernetes configuration found (set KUBECONFIG or pass --kubeconfig)")?,
    };
    kube::Client::try_from(config).context("cannot build a Kubernetes client")
}

async fn build_platform(
    args: &MeasureArgs,
    options: &RunOptions,
    dataset: &Path,
    out: &Path,
) -> anyhow::Result<Arc<dyn Platform>> {
    let worker = args.worker.clone().unwrap_or_else(default_worker);
    let results = absolute(&out.join("results"))?;
    Ok(match options.platform.as_str() {
        "k8s" => {
            let client = kube_client(args.kubernetes.kubeconfig.as_deref()).await?;
            let template = job_template(args, dataset, out)?;
            Arc::new(K8sPlatform::new(
                client,
                template,
                &options.run_id,
                DriverClock::start(),
            )?)
        }
        "ksi" => {
            let k = &args.ksi;
            let config = KsiConfig {
                nodes: k.ksi_nodes.unwrap_or(options.partitions),
                run_workload: k
                    .ksi_run_workload
                    .clone()
                    .context("--ksi-run-workload PATH (KSI's run-workload.sh) is required")?,
                shared_dir: absolute(
                    &k.ksi_shared
                        .clone()
                        .context("--ksi-shared DIR (KSI's shared folder) is required")?,
                )?,
                srun_args: k.srun_args.clone(),
                ready_timeout: Duration::from_secs_f64(k.ksi_ready_timeout),
                poll: Duration::from_millis(100),
            };
            let template = job_template(args, dataset, out)?;
            Arc::new(KsiPlatform::new(
                config,
                template,
                &options.run_id,
                absolute(out)?,
                DriverClock::start(),
            )?)
        }
        "local" => Arc::new(ProcessPlatform::new(Launch::Local { worker })),
        "container" => Arc::new(ProcessPlatform::new(Launch::Container {
            image: args.image.clone(),
            dataset: absolute(dataset)?,
            results,
        })),
        "slurm" => Arc::new(SlurmPlatform::new(
            absolute(&worker)?,
            results,
            if args.srun {
                Launcher::Srun
            } else {
                Launcher::Sbatch
            },
            Duration::from_millis(args.poll_ms),
            DriverClock::start(),
        )),
        other => bail!("unknown platform {other:?} in run.json"),
    })
}

/// `path` made absolute against the current directory (paths go to other processes and nodes).
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot make {} absolute", path.display()))
}

/// `faastwin-worker` next to this executable, else on PATH.
pub(crate) fn default_worker() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("faastwin-worker")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("faastwin-worker"))
}

fn slurm_nodes() -> anyhow::Result<Vec<String>> {
    let out = std::process::Command::new("sinfo")
        .args(["-h", "-N", "-o", "%N"])
        .output()
        .context("no Slurm: cannot run sinfo (apt-get install slurm-wlm), or pass --nodes")?;
    anyhow::ensure!(
        out.status.success(),
        "no Slurm controller answers: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let mut nodes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .collect();
    nodes.dedup();
    Ok(nodes)
}

/// A run id that is a valid label value and sorts by time: `20261123-134501-3f2a`.
fn new_run_id() -> String {
    let now = chrono::Local::now();
    format!(
        "{}-{:04x}",
        now.format("%Y%m%d-%H%M%S"),
        std::process::id() & 0xffff
    )
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
        let _ = self.multi.clear();
    }
}

impl ProgressSink for PartitionBars {
    fn repetition(&self, repetition: u32, per_partition: &[u64]) {
        for (bar, n) in self.bars.iter().zip(per_partition) {
            bar.reset();
            bar.set_length(*n);
            bar.set_message(format!(
                "rep {repetition} partition {}",
                bar.message().rsplit(' ').next().unwrap_or("")
            ));
        }
    }

    fn done(&self, partition: u32, _record: &InvocationRecord) {
        if let Some(bar) = self.bars.get(partition as usize) {
            bar.inc(1);
        }
    }
}
