//! The ETL body: parse one JSONL shard of sensor records, transform, filter, aggregate.
//!
//! A record looks like
//! `{"event_id":7,"ts_ms":1767225600123,"station":"ST-0042","category":"temperature","value":21.375,"unit":"degC","quality":0.973}`.
//!
//! - transform: the value is normalised to one unit per category (°C, kPa, %, m/s, mm) and the
//!   hour of day is derived from the timestamp (UTC);
//! - filter: a record is kept when its quality is at least 0.5, its timestamp lies in
//!   2000–2100, its station id is `ST-dddd`, its unit is known for its category and its
//!   normalised value is finite and physically plausible ([`Category::valid_range`]);
//! - aggregate: per group key `station/category`, count, sum, min, max, mean, sample variance
//!   (Welford, n − 1 in the denominator, 0 for one record) and the number of daytime records
//!   (06:00–18:00 UTC).
//!
//! A line that does not parse is counted as malformed (and rejected); the shard fails only when
//! the malformed share exceeds [`EtlOptions::max_bad_share`], or when no line parses at all.

use std::path::Path;

use serde::{Deserialize, Serialize};

mod fast;

use crate::io::{host_name, open_input, write_atomically};
use crate::report::{Counts, Stopwatch};
use crate::{Body, Report, WorkerError};

/// Categories of sensor readings, each with its canonical unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Air temperature, canonical unit °C (`degC`; also `degF`, `K`).
    Temperature,
    /// Air pressure, canonical unit kPa (`kPa`; also `hPa`).
    Pressure,
    /// Relative humidity, canonical unit % (`pct`).
    Humidity,
    /// Wind speed, canonical unit m/s (`m/s`; also `km/h`).
    WindSpeed,
    /// Precipitation, canonical unit mm (`mm`).
    Precipitation,
}

impl Category {
    /// Every category, in index order.
    pub const ALL: [Category; 5] = [
        Category::Temperature,
        Category::Pressure,
        Category::Humidity,
        Category::WindSpeed,
        Category::Precipitation,
    ];

    /// The name used in records and group keys.
    pub fn name(self) -> &'static str {
        match self {
            Category::Temperature => "temperature",
            Category::Pressure => "pressure",
            Category::Humidity => "humidity",
            Category::WindSpeed => "wind_speed",
            Category::Precipitation => "precipitation",
        }
    }

    fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Plausible range of a normalised value, inclusive.
    pub fn valid_range(self) -> (f64, f64) {
        match self {
            Category::Temperature => (-90.0, 60.0),
            Category::Pressure => (80.0, 110.0),
            Category::Humidity => (0.0, 100.0),
            Category::WindSpeed => (0.0, 120.0),
            Category::Precipitation => (0.0, 500.0),
        }
    }

    /// Converts `value` in `unit` to the canonical unit; `None` for a unit the category lacks.
    pub fn normalise(self, unit: &str, value: f64) -> Option<f64> {
        Some(match (self, unit) {
            (Category::Temperature, "degC") => value,
            (Category::Temperature, "degF") => (value - 32.0) * 5.0 / 9.0,
            (Category::Temperature, "K") => value - 273.15,
            (Category::Pressure, "kPa") => value,
            (Category::Pressure, "hPa") => value / 10.0,
            (Category::Humidity, "pct") => value,
            (Category::WindSpeed, "m/s") => value,
            (Category::WindSpeed, "km/h") => value / 3.6,
            (Category::Precipitation, "mm") => value,
            _ => return None,
        })
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The largest station number a station id `ST-dddd` can carry.
const MAX_STATION: usize = 9_999;
/// 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z in Unix milliseconds.
const TS_RANGE_MS: (i64, i64) = (946_684_800_000, 4_102_444_800_000);
/// Records below this quality are dropped.
pub const MIN_QUALITY: f64 = 0.5;

#[derive(Deserialize)]
struct RawRecord<'a> {
    ts_ms: i64,
    #[serde(borrow)]
    station: &'a str,
    #[serde(borrow)]
    category: &'a str,
    value: Option<f64>,
    #[serde(borrow)]
    unit: &'a str,
    quality: f64,
}

/// Aggregate statistics of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    /// `ST-dddd/category`.
    pub key: String,
    /// Records kept in this group.
    pub count: u64,
    /// Sum of normalised values.
    pub sum: f64,
    /// Smallest normalised value.
    pub min: f64,
    /// Largest normalised value.
    pub max: f64,
    /// Mean of normalised values.
    pub mean: f64,
    /// Sample variance (n − 1 in the denominator; 0 for a single record).
    pub variance: f64,
    /// Records between 06:00 and 18:00 UTC.
    pub daytime: u64,
}

/// The ETL result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtlOutput {
    /// The invocation id.
    pub invocation_id: String,
    /// The host that computed it.
    pub host: String,
    /// Non-empty lines in the shard.
    pub records_seen: u64,
    /// Records that passed the filter.
    pub records_kept: u64,
    /// Records dropped (filtered or malformed).
    pub records_rejected: u64,
    /// Lines that did not parse.
    pub records_malformed: u64,
    /// Per-group statistics, sorted by key.
    pub groups: Vec<GroupStats>,
    /// Wall clock at body start [ns since the Unix epoch].
    pub body_start_unix_ns: u64,
}

/// Options of one ETL invocation.
#[derive(Debug, Clone)]
pub struct EtlOptions {
    /// Overrides the invocation id (default: the input file's stem).
    pub invocation_id: Option<String>,
    /// Overrides the host name (default: the kernel's host name).
    pub host: Option<String>,
    /// The shard fails when more than this share of its records is malformed (0–1).
    pub max_bad_share: f64,
}

impl Default for EtlOptions {
    fn default() -> Self {
        EtlOptions {
            invocation_id: None,
            host: None,
            max_bad_share: 0.10,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Accumulator {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
    daytime: u64,
}

impl Accumulator {
    fn add(&mut self, value: f64, daytime: bool) {
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (value - self.mean);
        self.daytime += u64::from(daytime);
    }
}

/// Result of aggregating a shard held in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    /// Non-empty lines.
    pub seen: u64,
    /// Records kept.
    pub kept: u64,
    /// Records that parsed but failed a validity rule.
    pub filtered: u64,
    /// Lines that did not parse.
    pub malformed: u64,
    /// 1-based line number and parser message of the first malformed line.
    pub first_malformed: Option<(u64, String)>,
    /// Per-group statistics, sorted by key.
    pub groups: Vec<GroupStats>,
}

/// Parses, transforms, filters and aggregates a whole shard held in memory.
pub fn aggregate(shard: &[u8]) -> Aggregation {
    let mut aggregator = Aggregator::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', shard) {
        aggregator.line(&shard[start..end]);
        start = end + 1;
    }
    aggregator.line(&shard[start..]);
    aggregator.finish()
}

/// First size of the streaming buffer [bytes].
pub const STREAM_BUFFER_BYTES: usize = 1 << 20;

/// Longest line the streaming parser holds [bytes]; a longer one is counted as malformed
/// without being held (no record of the generator comes near: they are about 130 bytes).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// What streaming a shard gives: the aggregation, the bytes read and the time spent waiting
/// for them [ns] (the rest of the body is compute).
#[derive(Debug, Clone, PartialEq)]
pub struct Streamed {
    /// The aggregation, as [`aggregate`] gives it for the same bytes.
    pub aggregation: Aggregation,
    /// Bytes read.
    pub bytes: u64,
    /// Time inside `read` calls [ns].
    pub read_ns: u64,
}

/// Aggregates a shard read from `input` through a buffer of [`STREAM_BUFFER_BYTES`] (grown
/// for a longer line up to [`MAX_LINE_BYTES`]): memory stays bounded whatever the shard's size,
/// and the result is that of [`aggregate`] on the same bytes.
pub fn aggregate_stream(mut input: impl std::io::Read) -> std::io::Result<Streamed> {
    let mut aggregator = Aggregator::new();
    let mut buf = vec![0u8; STREAM_BUFFER_BYTES];
    // Bytes of an unfinished line at the front of `buf`.
    let mut held = 0;
    // Inside a line too long to hold: skip to its end.
    let mut skipping = false;
    let (mut bytes, mut read_ns) = (0u64, 0u64);
    loop {
        if held == buf.len() {
            if buf.len() < MAX_LINE_BYTES {
                buf.resize((buf.len() * 2).min(MAX_LINE_BYTES), 0);
            } else {
                aggregator.too_long();
                skipping = true;
                held = 0;
            }
        }
        let started = std::time::Instant::now();
        let n = loop {
            match input.read(&mut buf[held..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        read_ns += started.elapsed().as_nanos() as u64;
        bytes += n as u64;
        if n == 0 {
            if !skipping {
                aggregator.line(&buf[..held]);
            }
            break;
        }
        let filled = held + n;
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &buf[held..filled]).map(|e| e + held) {
            if skipping {
                skipping = false;
            } else {
                aggregator.line(&buf[start..end]);
            }
            start = end + 1;
        }
        if skipping {
            held = 0;
        } else {
            buf.copy_within(start..filled, 0);
            held = filled - start;
        }
    }
    Ok(Streamed {
        aggregation: aggregator.finish(),
        bytes,
        read_ns,
    })
}

/// Aggregation state, fed one line (without its newline) at a time.
struct Aggregator {
    groups: Vec<Accumulator>,
    agg: Aggregation,
    line_no: u64,
}

impl Aggregator {
    fn new() -> Self {
        Aggregator {
            groups: vec![Accumulator::default(); (MAX_STATION + 1) * Category::ALL.len()],
            agg: Aggregation {
                seen: 0,
                kept: 0,
                filtered: 0,
                malformed: 0,
                first_malformed: None,
                groups: Vec::new(),
            },
            line_no: 0,
        }
    }

    fn line(&mut self, mut line: &[u8]) {
        self.line_no += 1;
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.agg.seen += 1;
        let parsed = match fast::record(line) {
            Some(record) => Ok(record),
            None => serde_json::from_slice::<RawRecord<'_>>(line).map_err(|e| e.to_string()),
        };
        match parsed {
            Err(e) => self.malformed(e),
            Ok(record) => match transform(&record) {
                Some((group, value, daytime)) => {
                    self.agg.kept += 1;
                    self.groups[group].add(value, daytime);
                }
                None => self.agg.filtered += 1,
            },
        }
    }

    fn too_long(&mut self) {
        self.line_no += 1;
        self.agg.seen += 1;
        self.malformed(format!("line longer than {MAX_LINE_BYTES} bytes"));
    }

    fn malformed(&mut self, detail: String) {
        self.agg.malformed += 1;
        if self.agg.first_malformed.is_none() {
            self.agg.first_malformed = Some((self.line_no, detail));
        }
    }

    fn finish(mut self) -> Aggregation {
        self.agg.groups = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, acc)| acc.count > 0)
            .map(|(index, acc)| group_stats(index, acc))
            .collect();
        self.agg
    }
}

/// Applies the transform and the filter: the group index, normalised value and daytime flag of
/// a kept record, `None` for a dropped one.
fn transform(record: &RawRecord<'_>) -> Option<(usize, f64, bool)> {
    // Written so that a NaN quality is dropped too.
    if record.quality.is_nan() || record.quality < MIN_QUALITY {
        return None;
    }
    if record.ts_ms < TS_RANGE_MS.0 || record.ts_ms >= TS_RANGE_MS.1 {
        return None;
    }
    let station = parse_station(record.station)?;
    let category = Category::parse(record.category)?;
    let value = category.normalise(record.unit, record.value?)?;
    let (low, high) = category.valid_range();
    if !(value.is_finite() && (low..=high).contains(&value)) {
        return None;
    }
    let hour = record.ts_ms.div_euclid(3_600_000).rem_euclid(24);
    Some((
        station * Category::ALL.len() + category.index(),
        value,
        (6..18).contains(&hour),
    ))
}

fn parse_station(id: &str) -> Option<usize> {
    let digits = id.strip_prefix("ST-")?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn group_stats(index: usize, acc: &Accumulator) -> GroupStats {
    let station = index / Category::ALL.len();
    let category = Category::ALL[index % Category::ALL.len()];
    let variance = if acc.count > 1 {
        acc.m2 / (acc.count - 1) as f64
    } else {
        0.0
    };
    GroupStats {
        key: format!("ST-{station:04}/{}", category.name()),
        count: acc.count,
        sum: acc.sum,
        min: acc.min,
        max: acc.max,
        mean: acc.mean,
        variance,
        daytime: acc.daytime,
    }
}

/// Runs the ETL body on `input`, writing the result to `output`.
pub fn run(input: &Path, output: &Path, options: &EtlOptions) -> Result<Report, WorkerError> {
    let mut watch = Stopwatch::start();
    let (file, open_ns) = Stopwatch::time(|| open_input(input));
    let file = file?;
    // Reading and parsing interleave: the time inside reads is the read, the rest compute.
    let (streamed, stream_ns) = Stopwatch::time(|| aggregate_stream(file));
    let streamed = streamed.map_err(|source| WorkerError::InputUnreadable {
        path: input.to_owned(),
        source,
    })?;
    if streamed.bytes == 0 {
        return Err(WorkerError::InputEmpty {
            path: input.to_owned(),
        });
    }
    watch.read_ns = open_ns + streamed.read_ns;
    let bytes_read = streamed.bytes;
    let agg = streamed.aggregation;
    let (result, compute_ns) = Stopwatch::time(|| -> Result<_, WorkerError> {
        check_bad_share(input, &agg, options.max_bad_share)?;
        let invocation_id = options.invocation_id.clone().unwrap_or_else(|| {
            input
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                // An input the worker could read has a name; "" only labels the result.
                .unwrap_or_default()
        });
        let out = EtlOutput {
            invocation_id,
            host: options.host.clone().unwrap_or_else(host_name),
            records_seen: agg.seen,
            records_kept: agg.kept,
            records_rejected: agg.filtered + agg.malformed,
            records_malformed: agg.malformed,
            groups: agg.groups,
            body_start_unix_ns: watch.body_start_unix_ns(),
        };
        // Serialising plain numbers and strings cannot fail; keep the error path anyway.
        let encoded = serde_json::to_vec(&out).map_err(|e| WorkerError::InputGarbage {
            path: input.to_owned(),
            expected: "ETL JSONL shard",
            detail: e.to_string(),
        })?;
        Ok((out, encoded))
    });
    let (out, encoded) = result?;
    watch.compute_ns = stream_ns.saturating_sub(streamed.read_ns) + compute_ns;

    let (written, write_ns) = Stopwatch::time(|| write_atomically(output, &encoded));
    written?;
    watch.write_ns = write_ns;

    let counts = Counts {
        bytes_read,
        bytes_written: encoded.len() as u64,
        seen: out.records_seen,
        kept: out.records_kept,
        rejected: out.records_rejected,
        malformed: out.records_malformed,
    };
    Ok(watch.finish(counts, Body::Etl, out.invocation_id, out.host))
}

fn check_bad_share(input: &Path, agg: &Aggregation, limit: f64) -> Result<(), WorkerError> {
    let parsed = agg.kept + agg.filtered;
    let first = agg.first_malformed.clone().unwrap_or((0, String::new()));
    if parsed == 0 {
        let detail = if agg.seen == 0 {
            "no records".to_owned()
        } else {
            format!("no line parses as a record; line {}: {}", first.0, first.1)
        };
        return Err(WorkerError::InputGarbage {
            path: input.to_owned(),
            expected: "ETL JSONL shard",
            detail,
        });
    }
    let share = agg.malformed as f64 / agg.seen as f64;
    if share > limit {
        return Err(WorkerError::TooManyBadRecords {
            path: input.to_owned(),
            malformed: agg.malformed,
            seen: agg.seen,
            share,
            limit,
            first_line: first.0,
            first_detail: first.1,
        });
    }
    Ok(())
}
