//! The ETL body's transform, filter and aggregates, checked on a shard computed by hand.

use faastwin_workers::etl::{self, EtlOptions, EtlOutput};

use crate::write;

/// 2026-01-01T10:00:00Z and 2026-01-01T00:00:00Z.
const TEN_AM: i64 = 1_767_261_600_000;
const MIDNIGHT: i64 = 1_767_225_600_000;

fn tiny_shard() -> String {
    let rec = |id: u32, ts: i64, station: &str, category: &str, value: &str, unit: &str, q: f64| {
        format!(
            r#"{{"event_id":{id},"ts_ms":{ts},"station":"{station}","category":"{category}","value":{value},"unit":"{unit}","quality":{q}}}"#
        )
    };
    [
        rec(1, TEN_AM, "ST-0001", "temperature", "20.0", "degC", 0.9), // 20 °C, daytime
        rec(2, TEN_AM, "ST-0001", "temperature", "77.0", "degF", 0.8), // 25 °C, daytime
        rec(3, MIDNIGHT, "ST-0001", "temperature", "300.15", "K", 0.7), // 27 °C, night
        rec(4, MIDNIGHT, "ST-0002", "pressure", "1000.0", "hPa", 0.99), // 100 kPa
        rec(5, MIDNIGHT, "ST-0002", "pressure", "100.0", "kPa", 0.3),  // low quality
        rec(6, MIDNIGHT, "ST-0002", "pressure", "null", "kPa", 0.9),   // no value
        rec(7, MIDNIGHT, "ST-0003", "wind_speed", "3.0", "furlong", 0.9), // unknown unit
        rec(8, MIDNIGHT, "ST-0002", "pressure", "999.0", "kPa", 0.9),  // implausible
        r#"{"event_id":9,"ts_ms":17672"#.to_owned(),                   // cut short
        String::new(),                                                 // blank: not a record
    ]
    .join("\n")
}

#[test]
fn aggregates_match_hand_computed_values() {
    let agg = etl::aggregate(tiny_shard().as_bytes());
    assert_eq!(
        (agg.seen, agg.kept, agg.filtered, agg.malformed),
        (9, 4, 4, 1)
    );
    assert_eq!(agg.first_malformed.as_ref().map(|m| m.0), Some(9));
    assert_eq!(agg.groups.len(), 2);

    let t = &agg.groups[0];
    assert_eq!(t.key, "ST-0001/temperature");
    assert_eq!(t.count, 3);
    assert!((t.sum - 72.0).abs() < 1e-9, "sum {}", t.sum);
    assert!((t.mean - 24.0).abs() < 1e-9);
    assert!((t.min - 20.0).abs() < 1e-9);
    assert!((t.max - 27.0).abs() < 1e-9);
    // deviations -4, 1, 3: (16 + 1 + 9) / (3 - 1)
    assert!((t.variance - 13.0).abs() < 1e-9, "variance {}", t.variance);
    assert_eq!(t.daytime, 2);

    let p = &agg.groups[1];
    assert_eq!(p.key, "ST-0002/pressure");
    assert_eq!((p.count, p.daytime), (1, 0));
    assert!((p.mean - 100.0).abs() < 1e-9);
    assert_eq!(p.variance, 0.0);
}

#[test]
fn run_writes_result_and_counts_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "shard-000003.jsonl", tiny_shard().as_bytes());
    let output = dir.path().join("out.json");
    let options = EtlOptions {
        max_bad_share: 0.2,
        host: Some("h".into()),
        ..EtlOptions::default()
    };
    let report = etl::run(&input, &output, &options).unwrap();
    let out: EtlOutput = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(out.invocation_id, "shard-000003");
    assert_eq!(
        (out.records_seen, out.records_kept, out.records_rejected),
        (9, 4, 5)
    );
    assert_eq!(report.records_malformed, 1);
    assert_eq!(report.bytes_read, tiny_shard().len() as u64);
    assert_eq!(
        report.bytes_written,
        std::fs::metadata(&output).unwrap().len()
    );
}

#[test]
fn unit_conversions_are_exact_where_they_should_be() {
    use faastwin_workers::etl::Category;
    assert_eq!(Category::Temperature.normalise("degF", 212.0), Some(100.0));
    assert_eq!(Category::Pressure.normalise("hPa", 1013.0), Some(101.3));
    assert_eq!(Category::WindSpeed.normalise("km/h", 36.0), Some(10.0));
    assert_eq!(Category::Humidity.normalise("degC", 1.0), None);
}

/// A reader that hands out at most `step` bytes per call, so lines straddle reads.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Streaming gives what the whole shard in memory gives, however the reads cut the lines:
/// a generated shard, the hand-made one (a cut record, a blank line), CRLF endings, white
/// space only lines, a last line without its newline, and fields in another order or with
/// escapes (parsed the slow way).
#[test]
fn streaming_gives_what_the_whole_shard_gives_however_reads_cut_lines() {
    let dir = tempfile::tempdir().unwrap();
    let spec = faastwin_workers::dataset::DatasetSpec::Etl {
        count: 1,
        seed: 3,
        shard_bytes: 3 << 20,
    };
    let entries = faastwin_workers::dataset::generate(&spec, dir.path(), &|_| {}).unwrap();
    let generated = std::fs::read(dir.path().join(&entries[0].path)).unwrap();
    let odd = [
        tiny_shard(),
        tiny_shard().replace('\n', "\r\n"),
        format!("{}\n   \n\t\n", tiny_shard()),
        r#"{"ts_ms":1767261600000,"event_id":1,"station":"ST-0001","category":"temperature","value":20.0,"unit":"degC","quality":0.9}"#.to_owned()
            + "\n"
            + r#"{"event_id":2,"ts_ms":1767261600000,"station":"ST-0001","category":"temp\u0065rature","value":2.5e1,"unit":"degC","quality":0.9}"#,
    ];
    let mut shards: Vec<Vec<u8>> = odd.iter().map(|s| s.as_bytes().to_vec()).collect();
    shards.push(generated);
    for shard in &shards {
        let whole = etl::aggregate(shard);
        for step in [1, 7, 4096, usize::MAX] {
            let streamed = etl::aggregate_stream(Trickle { bytes: shard, step }).unwrap();
            assert_eq!(streamed.bytes, shard.len() as u64);
            assert_eq!(streamed.aggregation, whole, "step {step}");
        }
    }
    assert!(
        etl::aggregate(&shards[4]).kept > 20_000,
        "the generated shard is not trivial"
    );
}

/// A line longer than the streaming parser holds is one malformed record, and the lines after
/// it are read as usual.
#[test]
fn a_line_too_long_to_hold_is_one_malformed_record() {
    let good = r#"{"event_id":1,"ts_ms":1767261600000,"station":"ST-0001","category":"temperature","value":20.0,"unit":"degC","quality":0.9}"#;
    let mut shard = format!("{good}\n").into_bytes();
    shard.extend(std::iter::repeat_n(b'x', etl::MAX_LINE_BYTES + 10));
    shard.extend(format!("\n{good}\n{good}").bytes());
    let streamed = etl::aggregate_stream(Trickle {
        bytes: &shard,
        step: 1 << 20,
    })
    .unwrap();
    let agg = streamed.aggregation;
    assert_eq!((agg.seen, agg.kept, agg.malformed), (4, 3, 1));
    let (line, detail) = agg.first_malformed.unwrap();
    assert_eq!(line, 2);
    assert!(detail.contains("longer than"), "{detail}");
}
