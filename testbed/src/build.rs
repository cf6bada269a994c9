//! Building the components from source, once: Kubernetes from its Go modules (our own module
//! requires `k8s.io/kubernetes` and replaces every staging module with its published build),
//! kine and kwok from theirs, the pause binary from the C source in the Kubernetes module, and
//! the pause and worker images with podman, saved as OCI archives for containerd to import.
//!
//! A stamp (the hash of the go.mod/go.sum files, the versions and the Go toolchain) decides
//! whether the binaries in the cache are current; a second build with the same stamp does
//! nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::error::{TestbedError, io};

/// The Kubernetes release the testbed builds (1.34: the last minor whose kubelet runs on
/// cgroup v1 without opting in).
pub const KUBERNETES_VERSION: &str = "v1.34.4";

/// The sandbox image every pod starts with, built here.
pub const PAUSE_IMAGE: &str = "localhost/faastwin-pause:3.10";

/// SQLite as K3s builds it: kine answers etcd's Status (which the API server asks before it
/// lets clients stream their initial lists, WatchList) from the `dbstat` table.
const KINE_CFLAGS: &str = "-DSQLITE_ENABLE_DBSTAT_VTAB=1 -DSQLITE_USE_ALLOCA=1";

/// The Kubernetes binaries, built from `go/kubernetes`.
const KUBERNETES_COMMANDS: [&str; 5] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kubectl",
];

/// Where the components come from and go.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildOptions {
    /// The testbed's source folder (holds `go/` and `run-workload.sh`).
    pub source: PathBuf,
    /// The cache: `bin/`, `images/`, `stamp`.
    pub cache: PathBuf,
    /// The faastwin repository (for the worker image), if the worker image should be built.
    pub repo: Option<PathBuf>,
    /// The worker image's name.
    pub worker_image: String,
}

impl BuildOptions {
    /// The testbed beside this crate's sources, the cache in `FAASTWIN_TESTBED_CACHE` or
    /// `~/.cache/faastwin-testbed`.
    pub fn default_for_repo() -> BuildOptions {
        let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let repo = source.parent().map(Path::to_path_buf);
        BuildOptions {
            source,
            cache: default_cache(),
            repo,
            worker_image: "localhost/faastwin-worker:latest".into(),
        }
    }
}

/// `FAASTWIN_TESTBED_CACHE`, else `$HOME/.cache/faastwin-testbed`.
pub fn default_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("FAASTWIN_TESTBED_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/faastwin-testbed")
}

/// The built components.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifacts {
    /// The cache they are in.
    pub cache: PathBuf,
}

impl Artifacts {
    /// The artifacts of `cache` (built or not).
    pub fn at(cache: &Path) -> Artifacts {
        Artifacts {
            cache: cache.to_owned(),
        }
    }

    /// A binary: `kube-apiserver`, `kubelet`, `kine`, `kwok`, `pause`, ...
    pub fn bin(&self, name: &str) -> PathBuf {
        self.cache.join("bin").join(name)
    }

    /// The pause image as an OCI archive.
    pub fn pause_image(&self) -> PathBuf {
        self.cache.join("images/pause.tar")
    }

    /// The worker image as an OCI archive.
    pub fn worker_image(&self) -> PathBuf {
        self.cache.join("images/worker.tar")
    }

    /// True when every binary and the pause image are there.
    pub fn complete(&self) -> bool {
        KUBERNETES_COMMANDS
            .iter()
            .chain(&["kine", "kwok", "pause"])
            .all(|b| self.bin(b).is_file())
            && self.pause_image().is_file()
    }
}

/// Runs `command`, returning its output when it succeeds and an error with the tail of what it
/// printed when it does not.
pub(crate) fn run(command: &mut Command, what: &str) -> Result<Output, TestbedError> {
    tracing::debug!(?command, "run");
    let program = command.get_program().to_string_lossy().into_owned();
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TestbedError::Missing {
                tool: program.clone(),
                hint: hint(&program).into(),
            },
            _ => TestbedError::Io {
                path: program.clone().into(),
                source: e,
            },
        })?;
    if out.status.success() {
        return Ok(out);
    }
    Err(TestbedError::Command {
        what: what.to_owned(),
        status: out.status.to_string(),
        output: tail(&[&out.stderr[..], &out.stdout[..]].concat(), 12),
    })
}

/// The last `lines` non-empty lines of some output.
pub(crate) fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

/// How to install a missing tool.
fn hint(program: &str) -> &'static str {
    match program {
        "go" => {
            "install Go 1.24 or newer (https://go.dev/dl; on these machines it is preinstalled)"
        }
        "gcc" => "apt-get install gcc libc6-dev",
        "podman" => "apt-get install podman runc",
        "containerd" | "ctr" => "apt-get install containerd",
        "openssl" => "apt-get install openssl",
        "runc" => "apt-get install runc",
        _ => "install it and put it on PATH",
    }
}

fn go(module: &Path) -> Command {
    let mut command = Command::new("go");
    command
        .current_dir(module)
        // The module's go.mod decides; never download another toolchain behind the user's back.
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod -buildvcs=false");
    command
}

/// The stamp of what the cache would be built from.
fn stamp(options: &BuildOptions) -> Result<String, TestbedError> {
    let mut hasher = Sha256::new();
    for module in ["kubernetes", "kine", "kwok"] {
        for file in ["go.mod", "go.sum"] {
            let path = options.source.join("go").join(module).join(file);
            hasher.update(std::fs::read(&path).map_err(io(&path))?);
        }
    }
    hasher.update(KUBERNETES_VERSION);
    hasher.update(PAUSE_IMAGE);
    hasher.update(KINE_CFLAGS);
    let version = run(Command::new("go").arg("version"), "go version")?;
    hasher.update(&version.stdout);
    Ok(hex::encode(hasher.finalize()))
}

/// Builds whatever the cache lacks or what changed; `progress` hears each step.
pub fn build(options: &BuildOptions, progress: &dyn Fn(&str)) -> Result<Artifacts, TestbedError> {
    let artifacts = Artifacts::at(&options.cache);
    let bin = options.cache.join("bin");
    std::fs::create_dir_all(&bin).map_err(io(&bin))?;
    std::fs::create_dir_all(options.cache.join("images")).map_err(io(&options.cache))?;
    let stamp_path = options.cache.join("stamp");
    let want = stamp(options)?;
    let have = std::fs::read_to_string(&stamp_path).unwrap_or_default();
    if have.trim() == want && artifacts.complete() {
        progress("components are current (cache stamp matches)");
    } else {
        let started = Instant::now();
        progress(&format!(
            "building Kubernetes {KUBERNETES_VERSION} (apiserver, controller manager, scheduler, kubelet, kubectl), kine and kwok from Go modules into {} — the first build takes 10-20 minutes on 2 cores",
            bin.display()
        ));
        build_go(options, &bin, progress)?;
        build_pause(options, &artifacts)?;
        std::fs::write(&stamp_path, &want).map_err(io(&stamp_path))?;
        progress(&format!(
            "built in {:.0} s",
            started.elapsed().as_secs_f64()
        ));
    }
    if let Some(repo) = &options.repo {
        worker_image(repo, &options.worker_image, &artifacts, progress)?;
    }
    Ok(artifacts)
}

fn build_go(
    options: &BuildOptions,
    bin: &Path,
    progress: &dyn Fn(&str),
) -> Result<(), TestbedError> {
    let go_dir = options.source.join("go");
    let ldflags = format!(
        "-s -w -X k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean"
    );
    let mut k8s = go(&go_dir.join("kubernetes"));
    k8s.env("CGO_ENABLED", "0")
        .args(["build", "-trimpath", "-ldflags", &ldflags, "-o"])
        .arg(format!("{}/", bin.display()))
        .args(KUBERNETES_COMMANDS.map(|c| format!("k8s.io/kubernetes/cmd/{c}")));
    progress("go build k8s.io/kubernetes/cmd/...");
    run(&mut k8s, "building Kubernetes")?;
    progress("go build github.com/k3s-io/kine (SQLite, cgo)");
    let mut kine = go(&go_dir.join("kine"));
    kine.env("CGO_ENABLED", "1")
        .env("CGO_CFLAGS", KINE_CFLAGS)
        .args(["build", "-trimpath", "-ldflags", "-s -w", "-o"])
        .arg(bin.join("kine"))
        .arg("github.com/k3s-io/kine");
    run(&mut kine, "building kine")?;
    progress("go build sigs.k8s.io/kwok/cmd/kwok");
    let mut kwok = go(&go_dir.join("kwok"));
    kwok.env("CGO_ENABLED", "0")
        .args(["build", "-trimpath", "-ldflags", "-s -w", "-o"])
        .arg(bin.join("kwok"))
        .arg("sigs.k8s.io/kwok/cmd/kwok");
    run(&mut kwok, "building kwok")?;
    Ok(())
}

/// The pause binary from `build/pause/linux/pause.c` of the Kubernetes module, statically
/// linked, and its `FROM scratch` image as an OCI archive.
fn build_pause(options: &BuildOptions, artifacts: &Artifacts) -> Result<(), TestbedError> {
    let module = run(
        go(&options.source.join("go/kubernetes")).args([
            "list",
            "-m",
            "-f",
            "{{.Dir}}",
            "k8s.io/kubernetes",
        ]),
        "locating the k8s.io/kubernetes module",
    )?;
    let dir = PathBuf::from(String::from_utf8_lossy(&module.stdout).trim());
    let pause = artifacts.bin("pause");
    run(
        Command::new("gcc")
            .args(["-Os", "-Wall", "-static", "-o"])
            .arg(&pause)
            .arg(format!("-DVERSION={KUBERNETES_VERSION}-faastwin"))
            .arg(dir.join("build/pause/linux/pause.c")),
        "compiling pause.c",
    )?;
    let context = options.cache.join("pause-context");
    std::fs::create_dir_all(&context).map_err(io(&context))?;
    std::fs::copy(&pause, context.join("pause")).map_err(io(&pause))?;
    let containerfile = context.join("Containerfile");
    std::fs::write(
        &containerfile,
        "FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT [\"/pause\"]\n",
    )
    .map_err(io(&containerfile))?;
    run(
        Command::new("podman")
            .args(["build", "--quiet", "-t", PAUSE_IMAGE, "-f"])
            .arg(&containerfile)
            .arg(&context),
        "building the pause image",
    )?;
    save(PAUSE_IMAGE, &artifacts.pause_image())
}

/// `podman save --format oci-archive`, replacing the archive atomically.
fn save(image: &str, archive: &Path) -> Result<(), TestbedError> {
    let tmp = archive.with_extension("tar.tmp");
    // A leftover of an interrupted save; podman refuses to overwrite.
    let _ = std::fs::remove_file(&tmp);
    run(
        Command::new("podman")
            .args(["save", "--quiet", "--format", "oci-archive", "-o"])
            .arg(&tmp)
            .arg(image),
        &format!("saving {image}"),
    )?;
    std::fs::rename(&tmp, archive).map_err(io(archive))
}

/// The worker image (built by `workers/container/build-image.sh` from the current sources,
/// which cargo keeps incremental) saved for containerd.
fn worker_image(
    repo: &Path,
    image: &str,
    artifacts: &Artifacts,
    progress: &dyn Fn(&str),
) -> Result<(), TestbedError> {
    progress(&format!("building the worker image {image}"));
    run(
        Command::new(repo.join("workers/container/build-image.sh")).arg(image),
        "building the worker image",
    )?;
    save(image, &artifacts.worker_image())
}
