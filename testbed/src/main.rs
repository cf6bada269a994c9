//! `faastwin-testbed`: build the components, start and stop a real Kubernetes on this machine.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use faastwin_testbed::build::{self, BuildOptions};
use faastwin_testbed::{Artifacts, UpOptions};

/// A real Kubernetes on one machine, built from source: a K3s-like cluster (kine, API server,
/// controller manager, scheduler, one kubelet with containerd, optional kwok fake nodes).
#[derive(Parser, Debug)]
#[command(name = "faastwin-testbed", version)]
struct Cli {
    /// Where the built components are kept [default: $FAASTWIN_TESTBED_CACHE or
    /// ~/.cache/faastwin-testbed].
    #[arg(long, global = true)]
    cache: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build the components from Go modules and the images with podman (cached: a second build
    /// does nothing).
    Build(BuildArgs),
    /// Build if needed, then start an instance and wait until a Job runs.
    Up(Box<UpArgs>),
    /// Stop the instance in DIR: only the processes it started.
    Down {
        /// The instance directory.
        #[arg(long, default_value = "/tmp/faastwin-testbed")]
        dir: PathBuf,
    },
    /// Show the instance's components and whether its API server answers.
    Status {
        /// The instance directory.
        #[arg(long, default_value = "/tmp/faastwin-testbed")]
        dir: PathBuf,
    },
    /// Kill one component (as a crash would) and start it again (e.g. kube-apiserver).
    Restart {
        /// The component: kine, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
        /// containerd (node i's: kubelet-i, containerd-i).
        component: String,
        /// The instance directory.
        #[arg(long, default_value = "/tmp/faastwin-testbed")]
        dir: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct BuildArgs {
    /// The worker image to build and save for the cluster.
    #[arg(long, default_value = "localhost/faastwin-worker:latest")]
    image: String,
    /// Do not build the worker image (use the archive already in the cache).
    #[arg(long)]
    no_worker_image: bool,
}

#[derive(clap::Args, Debug)]
struct UpArgs {
    /// The instance directory: state, logs, data and the kubeconfig.
    #[arg(long, default_value = "/tmp/faastwin-testbed")]
    dir: PathBuf,
    /// The node's name [default: this host's name].
    #[arg(long)]
    node: Option<String>,
    /// Real nodes, each a kubelet with its own containerd, cgroup root and an equal share of
    /// the CPUs this command may use (node 1 also runs the control plane): NODE, NODE-2, …
    #[arg(long, default_value_t = 1)]
    nodes: u32,
    /// Fake nodes (kwok) to add, fake-0 … fake-<M-1>, for control-plane experiments.
    #[arg(long, default_value_t = 0)]
    fake_nodes: u32,
    /// Also write the kubeconfig here.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Do not run a probe Job before returning (stop once a Job is accepted).
    #[arg(long)]
    no_probe: bool,
    /// If an instance already runs in DIR, use it instead of refusing.
    #[arg(long)]
    reuse: bool,
    /// Longest wait for each step [s].
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    #[command(flatten)]
    build: BuildArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // kube's client logs every non-2xx answer as an error; while a component starts, /readyz
    // answers 500 by design, so it is quiet unless RUST_LOG asks.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,kube_client=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn build_options(cache: Option<PathBuf>, args: &BuildArgs) -> BuildOptions {
    let mut options = BuildOptions::default_for_repo();
    if let Some(cache) = cache {
        options.cache = cache;
    }
    options.worker_image = args.image.clone();
    if args.no_worker_image {
        options.repo = None;
    }
    options
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let say = |line: &str| eprintln!("testbed: {line}");
    match cli.command {
        Command::Build(args) => {
            let artifacts = build::build(&build_options(cli.cache, &args), &say)?;
            println!("{}", artifacts.cache.display());
        }
        Command::Up(args) => {
            let options = build_options(cli.cache, &args.build);
            let running =
                faastwin_testbed::Instance::read(&args.dir).is_ok_and(|i| i.apiserver_alive());
            let artifacts: Artifacts = if args.reuse && running {
                Artifacts::at(&options.cache)
            } else {
                build::build(&options, &say)?
            };
            let node = match args.node {
                Some(node) => node,
                None => faastwin_workers_host_name(),
            };
            let instance = runtime.block_on(faastwin_testbed::up(&UpOptions {
                dir: args.dir,
                node,
                nodes: args.nodes,
                fake_nodes: args.fake_nodes,
                kubeconfig_copy: args.kubeconfig,
                probe: !args.no_probe,
                reuse: args.reuse,
                artifacts,
                worker_image: options.worker_image,
                timeout: Duration::from_secs(args.timeout),
            }))?;
            eprintln!(
                "testbed: up in {:.1} s; {}{}; stop it with: faastwin-testbed down --dir {}",
                instance.startup.last().map_or(0.0, |s| s.seconds),
                nodes_and_cpus(&instance),
                if instance.fake_nodes.is_empty() {
                    String::new()
                } else {
                    format!(" and {} fake nodes", instance.fake_nodes.len())
                },
                instance.dir.display()
            );
            println!("{}", instance.kubeconfig.display());
        }
        Command::Down { dir } => {
            runtime.block_on(faastwin_testbed::down(&dir))?;
            eprintln!("testbed: {} is down", dir.display());
        }
        Command::Status { dir } => {
            let (instance, components, answers) =
                runtime.block_on(faastwin_testbed::status(&dir))?;
            println!(
                "instance {} ({}), kubeconfig {}",
                instance.id,
                nodes_and_cpus(&instance),
                instance.kubeconfig.display()
            );
            for (name, pid, alive) in components {
                println!(
                    "  {name:<24} pid {pid:<8} {}",
                    if alive { "running" } else { "stopped" }
                );
            }
            println!(
                "  API server: {}",
                if answers { "ready" } else { "not answering" }
            );
            if !answers {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Restart { component, dir } => {
            let down = runtime.block_on(faastwin_testbed::restart(
                &dir,
                &component,
                Duration::from_secs(120),
            ))?;
            eprintln!(
                "testbed: {component} restarted, down for {:.1} s",
                down.as_secs_f64()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The real nodes and their CPUs: `node h (CPUs 0)`, `nodes h (CPU 0), h-2 (CPU 1)`.
fn nodes_and_cpus(instance: &faastwin_testbed::Instance) -> String {
    let nodes = instance.real_nodes();
    let each: Vec<String> = nodes
        .iter()
        .map(|n| match n.cpus.as_str() {
            "" => n.name.clone(),
            cpus => format!("{} (CPUs {cpus})", n.name),
        })
        .collect();
    format!(
        "node{} {}",
        if nodes.len() == 1 { "" } else { "s" },
        each.join(", ")
    )
}

/// This host's name (what the kubelet would call its node).
fn faastwin_workers_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}
