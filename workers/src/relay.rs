//! The relay body: hash one small JSON object's payload with a little runtime metadata.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::io::{host_name, read_input, write_atomically};
use crate::report::{Counts, Stopwatch};
use crate::{Body, Report, WorkerError};

/// One relay input object, as `faastwin dataset relay` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayInput {
    /// The invocation id.
    pub id: u64,
    /// The payload to hash.
    pub payload: String,
    /// Free-form metadata; carried along, not hashed.
    #[serde(default)]
    pub metadata: serde_json::Value,
}

/// The relay result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayOutput {
    /// The invocation id the hash was computed with.
    pub invocation_id: String,
    /// The host the hash was computed on.
    pub host: String,
    /// Lowercase hex sha256 of [`relay_digest_input`].
    pub sha256: String,
    /// Bytes of the payload.
    pub payload_bytes: u64,
    /// Wall clock at body start [ns since the Unix epoch].
    pub body_start_unix_ns: u64,
}

/// Options of one relay invocation.
#[derive(Debug, Clone, Default)]
pub struct RelayOptions {
    /// Overrides the invocation id (default: the input's `id`).
    pub invocation_id: Option<String>,
    /// Overrides the host name (default: the kernel's host name).
    pub host: Option<String>,
}

/// The exact bytes the relay hashes: `payload | invocation_id | host`.
pub fn relay_digest_input(payload: &str, invocation_id: &str, host: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(payload.len() + invocation_id.len() + host.len() + 2);
    buf.extend_from_slice(payload.as_bytes());
    buf.push(b'|');
    buf.extend_from_slice(invocation_id.as_bytes());
    buf.push(b'|');
    buf.extend_from_slice(host.as_bytes());
    buf
}

/// Runs the relay body on `input`, writing the result to `output`.
pub fn run(input: &Path, output: &Path, options: &RelayOptions) -> Result<Report, WorkerError> {
    let mut watch = Stopwatch::start();
    let (bytes, read_ns) = Stopwatch::time(|| read_input(input));
    let bytes = bytes?;
    watch.read_ns = read_ns;

    let (result, compute_ns) = Stopwatch::time(|| -> Result<_, WorkerError> {
        let parsed: RelayInput =
            serde_json::from_slice(&bytes).map_err(|e| WorkerError::InputGarbage {
                path: input.to_owned(),
                expected: "relay JSON object",
                detail: e.to_string(),
            })?;
        let invocation_id = options
            .invocation_id
            .clone()
            .unwrap_or_else(|| parsed.id.to_string());
        let host = options.host.clone().unwrap_or_else(host_name);
        let digest = Sha256::digest(relay_digest_input(&parsed.payload, &invocation_id, &host));
        let out = RelayOutput {
            invocation_id,
            host,
            sha256: hex::encode(digest),
            payload_bytes: parsed.payload.len() as u64,
            body_start_unix_ns: watch.body_start_unix_ns(),
        };
        let encoded = serde_json::to_vec(&out).map_err(|e| WorkerError::InputGarbage {
            path: input.to_owned(),
            expected: "relay JSON object",
            detail: e.to_string(),
        })?;
        Ok((out, encoded))
    });
    let (out, encoded) = result?;
    watch.compute_ns = compute_ns;

    let (written, write_ns) = Stopwatch::time(|| write_atomically(output, &encoded));
    written?;
    watch.write_ns = write_ns;

    let counts = Counts {
        bytes_read: bytes.len() as u64,
        bytes_written: encoded.len() as u64,
        seen: 1,
        kept: 1,
        ..Counts::default()
    };
    Ok(watch.finish(counts, Body::Relay, out.invocation_id, out.host))
}
