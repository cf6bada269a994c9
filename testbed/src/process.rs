//! The component processes of an instance: started detached in their own process group with a
//! log file each, and stopped only when the pid still runs the command this instance started.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{TestbedError, io};

/// One started component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Its name (`kine`, `kube-apiserver`, ...).
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// The program and arguments, to start it again.
    pub command: Vec<String>,
    /// Its log file.
    pub log: PathBuf,
}

/// Starts `program args` detached (own process group, stdin closed, output to
/// `logs/<name>.log`) and returns it.
pub(crate) fn start(
    name: &str,
    program: &Path,
    args: &[String],
    logs: &Path,
) -> Result<Component, TestbedError> {
    std::fs::create_dir_all(logs).map_err(io(logs))?;
    let log = logs.join(format!("{name}.log"));
    let out = File::options()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(io(&log))?;
    let err = out.try_clone().map_err(io(&log))?;
    tracing::debug!(name, program = %program.display(), ?args, "start");
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TestbedError::Missing {
                tool: program.display().to_string(),
                hint: "run `faastwin-testbed build` first (or apt-get install containerd)".into(),
            },
            _ => TestbedError::Io {
                path: program.to_owned(),
                source: e,
            },
        })?;
    let mut command = vec![program.display().to_string()];
    command.extend(args.iter().cloned());
    Ok(Component {
        name: name.to_owned(),
        pid: child.id(),
        command,
        log,
    })
}

/// True while `component.pid` runs exactly the command line it was started with (a recycled pid
/// is not ours). Zombies (exited, not reaped by this VM's init) do not count.
pub(crate) fn alive(component: &Component) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", component.pid)) else {
        return false;
    };
    let started: Vec<u8> = component
        .command
        .iter()
        .flat_map(|arg| arg.bytes().chain(std::iter::once(0)))
        .collect();
    running(component.pid) && cmdline == started
}

/// True until process `pid` has finished exiting (gone, or a zombie: its files, sockets
/// included, are closed by then; an exiting process loses its command line earlier).
fn running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    !stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('Z' | 'X')))
}

/// Stops a component, only if it is still ours: SIGTERM, then SIGKILL after `grace` (at once
/// with no grace, as a crash would); returns once it has exited.
pub(crate) fn stop(component: &Component, grace: Duration) {
    if !alive(component) {
        return;
    }
    let pid = component.pid;
    tracing::debug!(name = %component.name, pid, "stop");
    if !grace.is_zero() {
        signal(pid, "TERM");
        let deadline = Instant::now() + grace;
        while running(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if running(pid) {
        signal(pid, "KILL");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends a signal with kill(1) (no unsafe code in this workspace).
pub(crate) fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
    if let Err(e) = sent {
        tracing::warn!("cannot run kill -{name} {pid}: {e}");
    }
}

/// The last `lines` lines of a log, for errors.
pub(crate) fn log_tail(log: &Path, lines: usize) -> String {
    std::fs::read(log).map_or_else(
        |e| format!("({} unreadable: {e})", log.display()),
        |bytes| crate::build::tail(&bytes, lines),
    )
}
