//! Deterministic datasets: relay input objects and ETL shards, with a manifest.
//!
//! Every file is generated from its own seeded stream (`seed` and the file's id), so the same
//! arguments give byte-identical files whatever the number of threads, another seed gives other
//! bytes, and files can be generated in parallel. A directory holds:
//!
//! - `relay-000042.json` or `shard-000042.jsonl`, one per invocation;
//! - `manifest.csv`: `id,path,bytes,sha256`, one row per file, sorted by id;
//! - `dataset.json`: the [`DatasetSpec`] that produced it.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, Gamma, Normal};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use faastwin_models::splitmix64;

use crate::etl::Category;
use crate::relay::RelayInput;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "workload", rename_all = "lowercase", deny_unknown_fields)]
pub enum DatasetSpec {
    /// Small JSON objects for the relay body.
    Relay {
        /// Number of objects.
        count: u64,
        /// Seed of the generator.
        seed: u64,
        /// Length of each payload string [bytes].
        payload_bytes: u64,
    },
    /// JSONL shards for the ETL body.
    Etl {
        /// Number of shards.
        count: u64,
        /// Seed of the generator.
        seed: u64,
        /// Target size of each shard [bytes]; a shard holds whole records and is at most this
        /// large, short of it by less than one record (about 150 bytes).
        shard_bytes: u64,
    },
}

impl DatasetSpec {
    /// The function body that reads this dataset.
    pub fn body(&self) -> faastwin_models::Body {
        match self {
            DatasetSpec::Relay { .. } => faastwin_models::Body::Relay,
            DatasetSpec::Etl { .. } => faastwin_models::Body::Etl,
        }
    }

    /// Number of files.
    pub fn count(&self) -> u64 {
        match self {
            DatasetSpec::Relay { count, .. } | DatasetSpec::Etl { count, .. } => *count,
        }
    }

    /// Approximate total size [bytes], for progress reporting.
    pub fn approximate_bytes(&self) -> u64 {
        match self {
            DatasetSpec::Relay {
                count,
                payload_bytes,
                ..
            } => count.saturating_mul(payload_bytes.saturating_add(160)),
            DatasetSpec::Etl {
                count, shard_bytes, ..
            } => count.saturating_mul(*shard_bytes),
        }
    }

    /// File name of invocation `id`.
    pub fn file_name(&self, id: u64) -> String {
        match self {
            DatasetSpec::Relay { .. } => format!("relay-{id:06}.json"),
            DatasetSpec::Etl { .. } => format!("shard-{id:06}.jsonl"),
        }
    }

    fn validate(&self) -> Result<(), DatasetError> {
        let bad = |what: String| Err(DatasetError::Invalid { what });
        match *self {
            DatasetSpec::Relay { count: 0, .. } | DatasetSpec::Etl { count: 0, .. } => {
                bad("count must be at least 1".into())
            }
            DatasetSpec::Relay { count, .. } | DatasetSpec::Etl { count, .. }
                if count > MAX_COUNT =>
            {
                bad(format!(
                    "count {count} is above the limit of {MAX_COUNT} files"
                ))
            }
            DatasetSpec::Etl { shard_bytes, .. } if shard_bytes < MIN_SHARD_BYTES => bad(format!(
                "shard size {shard_bytes} B is below the minimum of {MIN_SHARD_BYTES} B"
            )),
            DatasetSpec::Etl { shard_bytes, .. } if shard_bytes > MAX_SHARD_BYTES => bad(format!(
                "shard size {shard_bytes} B is above the limit of {MAX_SHARD_BYTES} B (64 GiB)"
            )),
            DatasetSpec::Relay {
                payload_bytes: 0, ..
            } => bad("payload size must be at least 1 byte".into()),
            DatasetSpec::Relay { payload_bytes, .. } if payload_bytes > MAX_PAYLOAD_BYTES => {
                bad(format!(
                    "payload size {payload_bytes} B is above the limit of {MAX_PAYLOAD_BYTES} B (64 MiB: a relay object is small; use etl for big inputs)"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Most files a dataset may hold.
pub const MAX_COUNT: u64 = 100_000_000;
/// Largest ETL shard [bytes].
pub const MAX_SHARD_BYTES: u64 = 64 << 30;
/// Largest relay payload [bytes] (the worker holds it in memory).
pub const MAX_PAYLOAD_BYTES: u64 = 64 << 20;

/// Free bytes on the filesystem of `dir` (or of its nearest existing ancestor), from df(1).
fn free_bytes(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|d| d.exists())?;
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(existing)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
}

/// Refuses a dataset that would not fit on `dir`'s filesystem (with 5 % to spare), before a
/// byte is written.
fn check_space(spec: &DatasetSpec, dir: &Path) -> Result<(), DatasetError> {
    let need = spec
        .approximate_bytes()
        .saturating_add(spec.count().saturating_mul(4096));
    match free_bytes(dir) {
        Some(free) if need.saturating_add(need / 20) > free => Err(DatasetError::Invalid {
            what: format!(
                "{} files of about {} B need about {:.1} GiB, but {} has {:.1} GiB free",
                spec.count(),
                spec.approximate_bytes() / spec.count().max(1),
                need as f64 / f64::from(1u32 << 30),
                dir.display(),
                free as f64 / f64::from(1u32 << 30)
            ),
        }),
        _ => Ok(()),
    }
}

/// Smallest shard that holds a useful number of records [bytes].
pub const MIN_SHARD_BYTES: u64 = 1024;

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Invocation id.
    pub id: u64,
    /// Path relative to the dataset directory.
    pub path: String,
    /// File size [bytes].
    pub bytes: u64,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
}

/// A dataset directory as read back: its spec and manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The directory.
    pub dir: PathBuf,
    /// What generated it.
    pub spec: DatasetSpec,
    /// One entry per file, sorted by id.
    pub entries: Vec<ManifestEntry>,
}

/// Why a dataset could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// The arguments make no dataset.
    #[error("invalid dataset: {what}")]
    Invalid {
        /// What is wrong.
        what: String,
    },
    /// A file could not be written or read.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A manifest or spec file is malformed.
    #[error("{path}: {detail}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line where known.
        detail: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Generates the dataset described by `spec` into `dir`, in parallel over files.
///
/// `progress` is called with the number of bytes each finished file added.
pub fn generate(
    spec: &DatasetSpec,
    dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<ManifestEntry>, DatasetError> {
    spec.validate()?;
    check_space(spec, dir)?;
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let entries = (0..spec.count())
        .into_par_iter()
        .map(|id| {
            let entry = generate_file(spec, dir, id)?;
            progress(entry.bytes);
            Ok(entry)
        })
        .collect::<Result<Vec<_>, DatasetError>>()?;
    write_manifest(dir, &entries)?;
    let spec_path = dir.join("dataset.json");
    let spec_json = serde_json::to_string_pretty(spec).map_err(|e| DatasetError::Malformed {
        path: spec_path.clone(),
        detail: e.to_string(),
    })?;
    fs::write(&spec_path, spec_json + "\n").map_err(io_err(&spec_path))?;
    Ok(entries)
}

fn generate_file(spec: &DatasetSpec, dir: &Path, id: u64) -> Result<ManifestEntry, DatasetError> {
    let name = spec.file_name(id);
    let path = dir.join(&name);
    let file = File::create(&path).map_err(io_err(&path))?;
    let mut out = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let written = match *spec {
        DatasetSpec::Relay {
            seed,
            payload_bytes,
            ..
        } => write_relay(&mut out, &mut stream(seed, id), id, payload_bytes),
        DatasetSpec::Etl {
            seed, shard_bytes, ..
        } => write_shard(&mut out, &mut stream(seed, id), id, shard_bytes),
    };
    written
        .and_then(|()| out.inner.flush())
        .map_err(io_err(&path))?;
    Ok(ManifestEntry {
        id,
        path: name,
        bytes: out.bytes,
        sha256: hex::encode(out.hasher.finalize()),
    })
}

/// The generator stream of file `id`: independent of every other file's.
fn stream(seed: u64, id: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(splitmix64(seed ^ splitmix64(id.wrapping_add(0x5eed))))
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// 2026-01-01T00:00:00Z in Unix milliseconds: the first timestamp of shard 0.
const BASE_TS_MS: i64 = 1_767_225_600_000;

fn write_relay(
    out: &mut impl Write,
    rng: &mut Pcg64Mcg,
    id: u64,
    payload_bytes: u64,
) -> std::io::Result<()> {
    let payload: String = (0..payload_bytes)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    let input = RelayInput {
        id,
        payload,
        metadata: serde_json::json!({
            "tenant": format!("t-{:02}", rng.random_range(0..16)),
            "priority": rng.random_range(0..5),
            "created_unix_ms": BASE_TS_MS + (id as i64) * 1000 + rng.random_range(0..1000),
            "tags": ["relay", if rng.random_bool(0.5) { "even-load" } else { "bursty" }],
        }),
    };
    serde_json::to_writer(&mut *out, &input)?;
    out.write_all(b"\n")
}

/// Stations in a shard: with five categories, a few hundred group keys.
const STATIONS: u32 = 64;

fn write_shard(
    out: &mut impl Write,
    rng: &mut Pcg64Mcg,
    id: u64,
    shard_bytes: u64,
) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(256);
    let mut written = 0u64;
    let mut ts = BASE_TS_MS + (id as i64) * 3_600_000;
    for k in 0u64.. {
        line.clear();
        ts += rng.random_range(1..20);
        write_record(&mut line, rng, id * 10_000_000 + k, ts)?;
        if written + line.len() as u64 > shard_bytes {
            break;
        }
        out.write_all(&line)?;
        written += line.len() as u64;
    }
    Ok(())
}

/// One record; about 4 % of them fail a validity rule and 0.5 % are cut short (malformed).
fn write_record(
    line: &mut Vec<u8>,
    rng: &mut Pcg64Mcg,
    event_id: u64,
    ts: i64,
) -> std::io::Result<()> {
    let station = rng.random_range(0..STATIONS);
    let category = match rng.random_range(0..10) {
        0..=2 => Category::Temperature,
        3 | 4 => Category::Pressure,
        5 | 6 => Category::Humidity,
        7 | 8 => Category::WindSpeed,
        _ => Category::Precipitation,
    };
    let (mut value, mut unit) = reading(rng, station, category);
    let mut quality = 0.5 + 0.5 * rng.random::<f64>().sqrt();
    let fault: f64 = rng.random();
    let truncate = fault < 0.005;
    if (0.005..0.015).contains(&fault) {
        value = f64::NAN; // written as null
    } else if (0.015..0.025).contains(&fault) {
        value = 9_999.0;
    } else if (0.025..0.035).contains(&fault) {
        quality = 0.5 * rng.random::<f64>();
    } else if (0.035..0.04).contains(&fault) {
        unit = "furlong";
    }
    let start = line.len();
    write!(
        line,
        r#"{{"event_id":{event_id},"ts_ms":{ts},"station":"ST-{station:04}","category":"{}","value":"#,
        category.name()
    )?;
    if value.is_nan() {
        line.extend_from_slice(b"null");
    } else {
        write!(line, "{value:.3}")?;
    }
    write!(line, r#","unit":"{unit}","quality":{quality:.3}}}"#)?;
    if truncate {
        let len = line.len() - start;
        line.truncate(start + rng.random_range(len / 3..len - 1));
    }
    line.push(b'\n');
    Ok(())
}

/// A plausible reading of `category` at `station`, in one of the category's units.
fn reading(rng: &mut Pcg64Mcg, station: u32, category: Category) -> (f64, &'static str) {
    let normal = |mean: f64, sd: f64, rng: &mut Pcg64Mcg| {
        Normal::new(mean, sd).map(|n| n.sample(rng)).unwrap_or(mean)
    };
    match category {
        Category::Temperature => {
            let celsius = normal(4.0 + f64::from(station % 17), 6.0, rng);
            match rng.random_range(0..10) {
                0 | 1 => (celsius * 9.0 / 5.0 + 32.0, "degF"),
                2 => (celsius + 273.15, "K"),
                _ => (celsius, "degC"),
            }
        }
        Category::Pressure => {
            let kpa = normal(101.3 - f64::from(station % 5) * 0.8, 1.2, rng);
            if rng.random_bool(0.5) {
                (kpa * 10.0, "hPa")
            } else {
                (kpa, "kPa")
            }
        }
        Category::Humidity => (
            (40.0 + 55.0 * rng.random::<f64>().powf(0.7)).min(100.0),
            "pct",
        ),
        Category::WindSpeed => {
            let ms = Gamma::new(2.0, 2.2).map(|g| g.sample(rng)).unwrap_or(4.4);
            if rng.random_bool(0.3) {
                (ms * 3.6, "km/h")
            } else {
                (ms, "m/s")
            }
        }
        Category::Precipitation => {
            let wet = rng.random_bool(0.3);
            let mm = if wet {
                Exp::new(0.5).map(|e| e.sample(rng)).unwrap_or(2.0)
            } else {
                0.0
            };
            (mm, "mm")
        }
    }
}

fn write_manifest(dir: &Path, entries: &[ManifestEntry]) -> Result<(), DatasetError> {
    let path = dir.join("manifest.csv");
    let malformed = |e: csv::Error| DatasetError::Malformed {
        path: path.clone(),
        detail: e.to_string(),
    };
    let mut writer = csv::Writer::from_path(&path).map_err(malformed)?;
    for entry in entries {
        writer.serialize(entry).map_err(malformed)?;
    }
    writer.flush().map_err(io_err(&path))
}

/// Reads a dataset directory written by [`generate`]: its spec and manifest.
pub fn read(dir: &Path) -> Result<Dataset, DatasetError> {
    let spec_path = dir.join("dataset.json");
    let spec_text = fs::read_to_string(&spec_path).map_err(io_err(&spec_path))?;
    let spec: DatasetSpec =
        serde_json::from_str(&spec_text).map_err(|e| DatasetError::Malformed {
            path: spec_path.clone(),
            detail: e.to_string(),
        })?;
    let path = dir.join("manifest.csv");
    let mut reader = csv::Reader::from_path(&path).map_err(|e| DatasetError::Malformed {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    let mut entries = Vec::new();
    for row in reader.deserialize::<ManifestEntry>() {
        entries.push(row.map_err(|e| DatasetError::Malformed {
            path: path.clone(),
            detail: match e.position() {
                Some(pos) => format!("line {}: {e}", pos.line()),
                None => e.to_string(),
            },
        })?);
    }
    if entries.len() as u64 != spec.count() {
        return Err(DatasetError::Malformed {
            path,
            detail: format!(
                "{} entries, but dataset.json says {}",
                entries.len(),
                spec.count()
            ),
        });
    }
    Ok(Dataset {
        dir: dir.to_owned(),
        spec,
        entries,
    })
}

/// Lowercase hex sha256 of a file's bytes (the manifest's hash, for run metadata).
pub fn file_sha256(path: &Path) -> Result<String, DatasetError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Parses a byte count: a plain integer or a number with a binary or decimal unit suffix
/// (`4096`, `64MiB`, `1.5 KiB`, `2MB`).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    Ok((value * factor as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse_with_units() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1.5KiB"), Ok(1536));
        assert_eq!(parse_bytes("2MB"), Ok(2_000_000));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("MiB").is_err());
    }
}
