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
    /// Opens `path` for appending, writing the header when the file is new or empty.
    pub fn open(path: &Path) -> Result<Self, MeasureError> {
        let io = |source| MeasureError::Io {
            path: path.to_owned(),
            source,
        };
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
            detail: e.to_string(),
        };
        self.writer.serialize(record).map_err(csv_err)?;
        self.writer.flush().map_err(|source| MeasureError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// Reads every record of an `invocations.csv`; an error names the file and line.
pub fn read_records(path: &Path) -> Result<Vec<InvocationRecord>, MeasureError> {
    read_csv(path)
}

/// Reads every row of a CSV file with a header; an error names the file and line.
pub(crate) fn read_csv<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Vec<T>, MeasureError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| MeasureError::Csv {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let mut rows = Vec::new();
    for row in reader.deserialize::<T>() {
        rows.push(row.map_err(|e| MeasureError::Csv {
            path: path.to_owned(),
            detail: match e.position() {
                Some(p) => format!("line {}: {e}", p.line()),
                None => e.to_string(),
            },
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
                detail: e.to_string(),
            })?;
        }
        let mut file = w.into_inner().map_err(|e| MeasureError::Csv {
            path: tmp.clone(),
            detail: e.to_string(),
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
