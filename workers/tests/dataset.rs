//! The dataset generator is deterministic, sized as asked, and its manifest is true.

use faastwin_workers::dataset::{self, DatasetSpec};
use faastwin_workers::etl;

fn generate(spec: &DatasetSpec) -> (tempfile::TempDir, Vec<dataset::ManifestEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let entries = dataset::generate(spec, dir.path(), &|_| {}).unwrap();
    (dir, entries)
}

#[test]
fn same_arguments_give_identical_bytes_and_other_seeds_differ() {
    let spec = DatasetSpec::Etl {
        count: 3,
        seed: 9,
        shard_bytes: 64 << 10,
    };
    let (a_dir, a) = generate(&spec);
    let (b_dir, b) = generate(&spec);
    assert_eq!(a, b);
    for entry in &a {
        let left = std::fs::read(a_dir.path().join(&entry.path)).unwrap();
        let right = std::fs::read(b_dir.path().join(&entry.path)).unwrap();
        assert_eq!(left, right, "{}", entry.path);
    }
    let (_, c) = generate(&DatasetSpec::Etl {
        count: 3,
        seed: 10,
        shard_bytes: 64 << 10,
    });
    for (x, y) in a.iter().zip(&c) {
        assert_ne!(x.sha256, y.sha256);
    }
    assert_ne!(
        a[0].sha256, a[1].sha256,
        "files of one dataset differ from each other"
    );
}

#[test]
fn manifest_matches_the_files() {
    let spec = DatasetSpec::Relay {
        count: 5,
        seed: 1,
        payload_bytes: 2048,
    };
    let (dir, entries) = generate(&spec);
    let read = dataset::read(dir.path()).unwrap();
    assert_eq!(read.entries, entries);
    assert_eq!(read.spec, spec);
    for (id, entry) in entries.iter().enumerate() {
        assert_eq!(entry.id, id as u64);
        assert_eq!(entry.path, format!("relay-{id:06}.json"));
        let path = dir.path().join(&entry.path);
        assert_eq!(entry.bytes, std::fs::metadata(&path).unwrap().len());
        assert_eq!(entry.sha256, dataset::file_sha256(&path).unwrap());
        let input: faastwin_workers::relay::RelayInput =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(input.id, id as u64);
        assert_eq!(input.payload.len(), 2048);
    }
}

#[test]
fn shards_hold_whole_records_close_to_the_target_size() {
    for shard_bytes in [4 << 10, 1 << 20] {
        let spec = DatasetSpec::Etl {
            count: 2,
            seed: 3,
            shard_bytes,
        };
        let (dir, entries) = generate(&spec);
        for entry in &entries {
            assert!(
                entry.bytes <= shard_bytes && entry.bytes > shard_bytes - 200,
                "{entry:?}"
            );
            let bytes = std::fs::read(dir.path().join(&entry.path)).unwrap();
            assert_eq!(bytes.last(), Some(&b'\n'));
            let agg = etl::aggregate(&bytes);
            assert!(agg.kept > 0);
            if shard_bytes == 1 << 20 {
                // About 4 % invalid and 0.5 % malformed records, so the filter has work.
                let filtered = agg.filtered as f64 / agg.seen as f64;
                let malformed = agg.malformed as f64 / agg.seen as f64;
                assert!(
                    (0.02..0.07).contains(&filtered),
                    "filtered share {filtered}"
                );
                assert!(
                    (0.001..0.01).contains(&malformed),
                    "malformed share {malformed}"
                );
                assert!(
                    (200..=320).contains(&agg.groups.len()),
                    "{} groups",
                    agg.groups.len()
                );
            }
        }
    }
}

#[test]
fn nonsense_specs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = dataset::generate(
        &DatasetSpec::Etl {
            count: 1,
            seed: 1,
            shard_bytes: 10,
        },
        dir.path(),
        &|_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("below the minimum"), "{err}");
    let err = dataset::generate(
        &DatasetSpec::Relay {
            count: 0,
            seed: 1,
            payload_bytes: 10,
        },
        dir.path(),
        &|_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("count"), "{err}");
}

#[test]
fn a_corrupt_manifest_is_named_with_its_line() {
    let spec = DatasetSpec::Relay {
        count: 2,
        seed: 1,
        payload_bytes: 16,
    };
    let (dir, _) = generate(&spec);
    let manifest = dir.path().join("manifest.csv");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen(",relay-000001.json,", ",relay-000001.json,notanumber", 1),
    )
    .unwrap();
    let err = dataset::read(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("manifest.csv") && err.contains("line 3"),
        "{err}"
    );
}
