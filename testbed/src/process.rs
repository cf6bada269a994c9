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
    /// The CPUs it may run on (its node's), given to it and to everything it starts as their
    /// affinity; none: wherever `up` could.
    #[serde(default)]
    pub cpus: Option<String>,
    /// The cpuacct cgroup its CPU time is accounted in (`faastwin-<id>/faastwin-kubelet`),
    /// which everything it starts joins too until moved (containers move to their pods'):
    /// only where cpuacct is a hierarchy of its own ([`cpuacct_root`]).
    #[serde(default)]
    pub accounting: Option<String>,
}

/// The cgroup v1 cpuacct hierarchy, when it is mounted alone: a process that joins one of
/// its cgroups changes how its CPU time is summed, not how it is scheduled (mounted with the
/// cpu controller, it would change the latter).
pub(crate) fn cpuacct_root() -> Option<PathBuf> {
    let root = Path::new("/sys/fs/cgroup/cpuacct");
    (root.join("cpuacct.usage").is_file() && !root.join("cpu.shares").exists())
        .then(|| root.to_owned())
}

/// While alive, this process (all its threads) is accounted in another cpuacct cgroup, so that
/// a child started meanwhile is born there, with everything it ever starts: no process can
/// escape, as one started before a move would. Moves back when dropped.
struct Accounted {
    procs: PathBuf,
    home: PathBuf,
}

impl Accounted {
    /// Enters the cpuacct cgroup `cgroup` (created if missing); `None` where cpuacct is not a
    /// hierarchy of its own.
    fn enter(cgroup: &str) -> Result<Option<Accounted>, TestbedError> {
        let Some(root) = cpuacct_root() else {
            return Ok(None);
        };
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(io(Path::new("/proc/self/cgroup")))?;
        let home = own
            .lines()
            .find_map(|l| l.split_once(":cpuacct:").map(|(_, path)| path.to_owned()))
            .unwrap_or_else(|| "/".to_owned());
        let dir = root.join(cgroup.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let procs = dir.join("cgroup.procs");
        std::fs::write(&procs, std::process::id().to_string()).map_err(io(&procs))?;
        Ok(Some(Accounted {
            procs,
            home: root.join(home.trim_start_matches('/')).join("cgroup.procs"),
        }))
    }
}

impl Drop for Accounted {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(&self.home, std::process::id().to_string()) {
            tracing::warn!(
                "cannot move back to {} from {}: {e}",
                self.home.display(),
                self.procs.display()
            );
        }
    }
}

/// Starts `program args` detached (own process group, stdin closed, output to
/// `logs/<name>.log`), on `cpus` if given (through `taskset`, which execs it: the pid and the
/// command line are the program's), and returns it.
pub(crate) fn start(
    name: &str,
    program: &Path,
    args: &[String],
    logs: &Path,
    cpus: Option<&str>,
    accounting: Option<&str>,
) -> Result<Component, TestbedError> {
    std::fs::create_dir_all(logs).map_err(io(logs))?;
    let log = logs.join(format!("{name}.log"));
    let out = File::options()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(io(&log))?;
    let err = out.try_clone().map_err(io(&log))?;
    let missing = || TestbedError::Missing {
        tool: program.display().to_string(),
        hint: "run `faastwin-testbed build` first (or apt-get install containerd)".into(),
    };
    // taskset would start and then fail to exec it: said here instead, before anything runs.
    if program.is_absolute() && !program.exists() {
        return Err(missing());
    }
    tracing::debug!(name, program = %program.display(), ?args, ?cpus, "start");
    let mut command = match cpus {
        Some(cpus) => {
            let mut taskset = Command::new("taskset");
            taskset.args(["-c", cpus]).arg(program);
            taskset
        }
        None => Command::new(program),
    };
    // Born in its accounting cgroup (issue 30), where one is given and cpuacct allows.
    let accounted = match accounting.map(Accounted::enter).transpose() {
        Ok(entered) => entered.flatten(),
        Err(e) => {
            tracing::warn!("{name}'s CPU time is not accounted apart: {e}");
            None
        }
    };
    let child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => missing(),
            _ => TestbedError::Io {
                path: program.to_owned(),
                source: e,
            },
        })?;
    let mut command = vec![program.display().to_string()];
    command.extend(args.iter().cloned());
    let accounting = accounting.filter(|_| accounted.is_some());
    drop(accounted);
    Ok(Component {
        name: name.to_owned(),
        pid: child.id(),
        command,
        log,
        cpus: cpus.map(str::to_owned),
        accounting: accounting.map(str::to_owned),
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

/// True once a component started by this process has exited (or its pid is gone). Unlike
/// [`alive`], it does not compare command lines: for a few milliseconds after `start` returns,
/// `/proc/<pid>/cmdline` can still be empty (measured: up to 2.4 ms), which `alive` takes for a
/// recycled pid.
pub(crate) fn gone(component: &Component) -> bool {
    !running(component.pid)
}

/// True until every thread of process `pid` has finished exiting (gone, or a zombie: its files,
/// sockets included, are closed by then). The leader of a multi-threaded process (a Go
/// component) shows as a zombie as soon as its own thread exits, while its other threads may
/// still be exiting and hold its files, a listening port among them: each thread counts.
fn running(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| !exited(&stat))
    })
}

/// True when a `/proc/.../stat` line says zombie (`Z`) or dead (`X`).
fn exited(stat: &str) -> bool {
    stat.rsplit_once(')')
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A process whose main thread exits (its leader turns zombie) while another thread keeps
    /// listening on a port, as a Go component being killed can look for a moment.
    const LEADER_EXITS: &str = r#"
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
static void *hold(void *arg) { (void)arg; sleep(30); return NULL; }
int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t n = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, n) || listen(s, 1) || getsockname(s, (struct sockaddr *)&a, &n)) return 1;
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    pthread_t t;
    pthread_create(&t, NULL, hold, NULL);
    pthread_exit(NULL);
}
"#;

    #[test]
    fn a_zombie_leader_with_a_live_thread_is_still_running_and_holds_its_port() {
        let dir = tempfile::tempdir().unwrap();
        let (source, bin) = (dir.path().join("leader.c"), dir.path().join("leader"));
        std::fs::write(&source, LEADER_EXITS).unwrap();
        let built = Command::new("gcc")
            .arg(&source)
            .args(["-pthread", "-o"])
            .arg(&bin)
            .status();
        if !built.is_ok_and(|s| s.success()) {
            assert!(
                std::env::var_os("FAASTWIN_REQUIRE_ALL").is_none(),
                "gcc is required (FAASTWIN_REQUIRE_ALL is set) but does not work"
            );
            eprintln!("skipped: no working gcc (apt-get install gcc libc6-dev)");
            return;
        }
        let mut child = Command::new(&bin).stdout(Stdio::piped()).spawn().unwrap();
        let mut port = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut port,
        )
        .unwrap();
        let port: u16 = port.trim().parse().unwrap();
        let pid = child.id();
        let leader = format!("/proc/{pid}/stat");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !exited(&std::fs::read_to_string(&leader).unwrap()) {
            assert!(Instant::now() < deadline, "the leader never exited");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(running(pid), "a thread still runs");
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        signal(pid, "KILL");
        let deadline = Instant::now() + Duration::from_secs(10);
        while running(pid) {
            assert!(Instant::now() < deadline, "SIGKILL did not end it");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "once no thread runs, the port is free"
        );
        child.wait().unwrap();
    }

    /// A component started on CPUs runs there (and whatever it starts, by inheritance), and is
    /// still recognised as itself: `taskset` execs it, so its pid and command line are its own.
    #[test]
    fn a_component_on_cpus_is_allowed_those_alone_and_is_still_itself() {
        let logs = tempfile::tempdir().unwrap();
        let first = faastwin_models::cpus::allowed().unwrap()[0].to_string();
        let accounting = format!("faastwin-test-{}/faastwin-sleeper", std::process::id());
        let sleeper = start(
            "sleeper",
            Path::new("/bin/sh"),
            &["-c".into(), "sleep 5 & wait".into()],
            logs.path(),
            Some(&first),
            Some(&accounting),
        )
        .unwrap();
        let allowed = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Cpus_allowed_list:")
                        .map(|v| v.trim().to_owned())
                })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !alive(&sleeper) {
            assert!(Instant::now() < deadline, "never ran as itself");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(allowed(sleeper.pid).as_deref(), Some(first.as_str()));
        assert_eq!(sleeper.cpus.as_deref(), Some(first.as_str()));
        let child = loop {
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", sleeper.pid))
                    .unwrap_or_default();
            if let Some(pid) = children.split_whitespace().next() {
                break pid.parse::<u32>().unwrap();
            }
            assert!(Instant::now() < deadline, "the child never started");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(allowed(child).as_deref(), Some(first.as_str()));
        // Where cpuacct is a hierarchy of its own, the component and what it starts are
        // accounted in its cgroup (issue 30: the CPU time of the kubelet, containerd, ...).
        if let Some(root) = cpuacct_root() {
            assert_eq!(sleeper.accounting.as_deref(), Some(accounting.as_str()));
            let cgroup_of = |pid: u32| {
                std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.split_once(":cpuacct:").map(|(_, path)| path.to_owned()))
            };
            let want = format!("/{accounting}");
            assert_eq!(cgroup_of(sleeper.pid).as_deref(), Some(want.as_str()));
            assert_eq!(cgroup_of(child).as_deref(), Some(want.as_str()));
            stop(&sleeper, Duration::ZERO);
            signal(child, "KILL");
            // A process another test started meanwhile may have been born there too.
            let dir = root.join(&accounting);
            let deadline = Instant::now() + Duration::from_secs(30);
            while std::fs::remove_dir(&dir).is_err() {
                assert!(Instant::now() < deadline, "{} stays busy", dir.display());
                std::thread::sleep(Duration::from_millis(10));
            }
            std::fs::remove_dir(dir.parent().unwrap()).unwrap();
        } else {
            assert_eq!(sleeper.accounting, None);
            stop(&sleeper, Duration::ZERO);
            signal(child, "KILL");
        }
    }

    #[test]
    fn a_stat_line_says_exited_after_the_command_name_even_with_parentheses_in_it() {
        assert!(exited("42 (a) b) Z 1 42"));
        assert!(exited("42 (x) X 1"));
        assert!(!exited("42 (a) Z) S 1 42"));
        assert!(!exited("garbage"));
    }
}
