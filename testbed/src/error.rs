//! Errors of the testbed.

use std::path::PathBuf;

/// Why the testbed could not be built, started or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestbedError {
    /// A file or directory could not be read or written.
    #[error("{path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A tool the testbed needs is missing (go, gcc, podman, containerd, openssl, ...).
    #[error("{tool} not found: {hint}")]
    Missing {
        /// The program.
        tool: String,
        /// How to get it.
        hint: String,
    },
    /// A command failed; its output's tail says why.
    #[error("{what} failed ({status}): {output}")]
    Command {
        /// What was run, in words.
        what: String,
        /// Its exit status.
        status: String,
        /// The last lines it printed.
        output: String,
    },
    /// A component did not become ready in time; its log's tail says why.
    #[error("{what} not ready after {seconds} s; {log}: {tail}")]
    NotReady {
        /// What was waited for.
        what: String,
        /// How long.
        seconds: u64,
        /// The log to read.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// A component exited while the cluster was starting; its log's tail says why.
    #[error("{what} exited while {waiting} was awaited; {log}: {tail}")]
    Exited {
        /// The component.
        what: String,
        /// What was being waited for.
        waiting: String,
        /// Its log.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// A Kubernetes API request failed.
    #[error("{what}")]
    Kube {
        /// What was asked.
        what: String,
        /// kube-rs's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// An option asks for what cannot be (`--nodes 3` on two CPUs).
    #[error("{detail}")]
    Options {
        /// What is wrong, naming the option.
        detail: String,
    },
    /// The instance directory holds no testbed, or another one than asked for.
    #[error("{dir}: {detail}")]
    State {
        /// The instance directory.
        dir: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// A closure turning an I/O error on `path` into a [`TestbedError`].
pub(crate) fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> TestbedError + '_ {
    move |source| TestbedError::Io {
        path: path.to_owned(),
        source,
    }
}
