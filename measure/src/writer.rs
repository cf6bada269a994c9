//! `invocations.csv`: appended and flushed row by row, so a crash or Ctrl-C loses nothing
//! measured; read back for `--resume`, summaries and calibration.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{InvocationRecord, MeasureError};

/// Appends records to `invocations.csv`, flushing each one.
pub struct RecordWriter {
    path: PathBuf,
    writer: csv::Writer<File>,
}

impl RecordWriter {
    /// Opens `path` for appending, writing the header when the file is new or empty. An
    /// existing file must have this version's header; a torn last line (a crash or a full disk
    /// in the middle of a row) is cut off first, so the next row starts on a line of its own.
    pub fn open(path: &Path) -> Result<Self, MeasureError> {
        let io = |source| MeasureError::Io {
            path: path.to_owned(),
            source,
        };
        if path.exists() {
            repair(path)?;
        }
        let fresh = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let writer = csv::WriterBuilder::new()
            .has_headers(fresh)
            .from_writer(file);
        Ok(RecordWriter {
            path: path.to_owned(),
            writer,
        })
    }

    /// Appends one record and flushes it to the operating system.
    pub fn append(&mut self, record: &InvocationRecord) -> Result<(), MeasureError> {
        let csv_err = |e: csv::Error| MeasureError::Csv {
            path: self.path.clone(),
            source: e,
        };
        self.writer.serialize(record).map_err(csv_err)?;
        self.writer.flush().map_err(|source| MeasureError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// The header of `invocations.csv` as this version writes it (serialized from a record, so it
/// follows the record's fields).
fn header() -> Result<String, csv::Error> {
    let spec = crate::InvocationSpec {
        run_id: String::new(),
        workload: faastwin_models::Body::Relay,
        repetition: 0,
        partition: 0,
        seq: 0,
        invocation_id: 0,
        node: String::new(),
        input: PathBuf::new(),
        output: PathBuf::new(),
        input_bytes: 0,
        warmup: false,
        attempt: 1,
        session: 0,
    };
    let record = InvocationRecord::new(
        faastwin_models::PlatformKind::Local,
        &spec,
        crate::Observation::default(),
    );
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(&record)?;
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// Cuts a torn last line off `path` (one with no newline at its end), checking the header.
fn repair(path: &Path) -> Result<(), MeasureError> {
    let io = |source| MeasureError::Io {
        path: path.to_owned(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io)?;
    if bytes.is_empty() {
        return Ok(());
    }
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let want = header().map_err(|e| MeasureError::Csv {
        path: path.to_owned(),
        source: e,
    })?;
    if String::from_utf8_lossy(first).trim_end() != want {
        return Err(MeasureError::CsvContent {
            path: path.to_owned(),
            detail: "its header is not this version's (written by another faastwin): cannot append to it".into(),
        });
    }
    if bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let line = bytes[..keep].iter().filter(|b| **b == b'\n').count() + 1;
    tracing::warn!(
        "{}: line {line} was torn (a crash or a full disk in mid-row); cut off before resuming",
        path.display()
    );
    let file = OpenOptions::new().write(true).open(path).map_err(io)?;
    file.set_len(keep as u64).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Reads every record of an `invocations.csv`; an error names the file, line and column. A
/// torn last line (no newline at its end, and not a whole row) is left out with a warning: the
/// rows before it are whole, since each was flushed with its newline.
pub fn read_records(path: &Path) -> Result<Vec<InvocationRecord>, MeasureError> {
    let bytes = std::fs::read(path).map_err(|source| MeasureError::Io {
        path: path.to_owned(),
        source,
    })?;
    match read_csv_from(path, &bytes) {
        Ok(records) => Ok(records),
        Err(error) if !bytes.is_empty() && !bytes.ends_with(b"\n") => {
            let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let records = read_csv_from(path, &bytes[..keep]).map_err(|_| error)?;
            tracing::warn!(
                "{}: the last line is torn (a crash or a full disk in mid-row) and left out; the {} rows before it are used",
                path.display(),
                records.len()
            );
            Ok(records)
        }
        Err(error) => Err(error),
    }
}

/// Reads every row of a CSV file with a header; an error names the file and line.
pub(crate) fn read_csv<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Vec<T>, MeasureError> {
    let bytes = std::fs::read(path).map_err(|source| MeasureError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_csv_from(path, &bytes)
}

/// Reads every row of CSV `bytes` (from `path`); an error names the file, the line and the
/// column by its header name.
fn read_csv_from<T: serde::de::DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<T>, MeasureError> {
    let fail = |detail: String| MeasureError::CsvContent {
        path: path.to_owned(),
        detail,
    };
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
    let mut rows = Vec::new();
    for row in reader.deserialize::<T>() {
        rows.push(row.map_err(|e| {
            let line = e.position().map(|p| p.line());
            let column = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => err
                    .field()
                    .and_then(|f| headers.get(f as usize))
                    .map(|name| format!("column `{name}`: {}", err.kind())),
                _ => None,
            };
            fail(match (line, column) {
                (Some(l), Some(c)) => format!("line {l}, {c}"),
                (Some(l), None) => format!("line {l}: {e}"),
                (None, _) => e.to_string(),
            })
        })?);
    }
    Ok(rows)
}

/// Fills `gap_to_next_s` (done seen → the partition's next submission) for every record and
/// rewrites the file atomically (temporary file, then rename).
pub fn fill_gaps_and_rewrite(path: &Path) -> Result<Vec<InvocationRecord>, MeasureError> {
    let mut records = read_records(path)?;
    fill_gaps(&mut records);
    let tmp = path.with_extension("csv.tmp");
    {
        let file = File::create(&tmp).map_err(|source| MeasureError::Io {
            path: tmp.clone(),
            source,
        })?;
        let mut w = csv::Writer::from_writer(file);
        for r in &records {
            w.serialize(r).map_err(|e| MeasureError::Csv {
                path: tmp.clone(),
                source: e,
            })?;
        }
        let mut file = w.into_inner().map_err(|e| MeasureError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        file.flush().map_err(|source| MeasureError::Io {
            path: tmp.clone(),
            source,
        })?;
    }
    std::fs::rename(&tmp, path).map_err(|source| MeasureError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(records)
}

/// Sets each record's gap to the next submission of its (repetition, partition).
pub fn fill_gaps(records: &mut [InvocationRecord]) {
    let mut by_partition: BTreeMap<(u32, u32), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        by_partition
            .entry((r.repetition, r.partition))
            .or_default()
            .push(i);
    }
    for indices in by_partition.values_mut() {
        indices.sort_by_key(|&i| (records[i].seq, records[i].attempt));
        for pair in indices.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if let (Some(done), Some(next)) = (records[a].t_done_seen, records[b].t_submit) {
                records[a].gap_to_next_s = Some((next as i128 - done as i128) as f64 / 1e9);
            }
        }
    }
}
