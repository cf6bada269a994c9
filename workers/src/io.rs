//! Reading inputs with one error per cause, and writing results atomically.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::WorkerError;

/// The error of an input that cannot be opened or read: missing or unreadable.
fn input_error(path: &Path, source: std::io::Error) -> WorkerError {
    match source.kind() {
        ErrorKind::NotFound => WorkerError::InputMissing {
            path: path.to_owned(),
        },
        _ => WorkerError::InputUnreadable {
            path: path.to_owned(),
            source,
        },
    }
}

/// Opens the input file for streaming (a directory opens, then its first read fails).
pub(crate) fn open_input(path: &Path) -> Result<fs::File, WorkerError> {
    fs::File::open(path).map_err(|source| input_error(path, source))
}

/// Reads the whole input file, classifying failures as missing, unreadable or empty.
pub(crate) fn read_input(path: &Path) -> Result<Vec<u8>, WorkerError> {
    let bytes = fs::read(path).map_err(|source| input_error(path, source))?;
    if bytes.is_empty() {
        return Err(WorkerError::InputEmpty {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written result and a failure leaves nothing behind.
///
/// An output that exists and is not a regular file (`/dev/null`, a pipe) is written to as it
/// is: renaming over it would replace the device or pipe with a file (as root, `/dev/null`
/// itself).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WorkerError> {
    let fail = |source| WorkerError::OutputFailed {
        path: path.to_owned(),
        source,
    };
    if fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(fail);
    }
    let tmp = temporary_path(path);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        // Best effort: the temporary file may not even exist.
        let _ = fs::remove_file(&tmp);
        return Err(fail(source));
    }
    Ok(())
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        // Results are files; a nameless path still gets a hidden temporary beside it.
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// The host name as the kernel reports it (the pod name inside a Kubernetes pod).
pub fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
