//! `faastwin dataset` writes the same bytes for the same arguments and says what it wrote.

use crate::faastwin;

#[test]
fn etl_dataset_is_deterministic_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        faastwin()
            .args([
                "dataset",
                "etl",
                "--count",
                "3",
                "--shard-bytes",
                "16KiB",
                "--seed",
                "5",
                "--out",
            ])
            .arg(dir.path().join(name))
            .assert()
            .success()
            .stderr(predicates::str::contains("wrote 3 files"));
    }
    let a = std::fs::read(dir.path().join("a/manifest.csv")).unwrap();
    let b = std::fs::read(dir.path().join("b/manifest.csv")).unwrap();
    assert_eq!(a, b);
    assert!(dir.path().join("a/shard-000002.jsonl").exists());
}

#[test]
fn bad_arguments_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    faastwin()
        .args([
            "dataset",
            "etl",
            "--count",
            "1",
            "--shard-bytes",
            "12 parsecs",
            "--out",
        ])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown unit"));
    faastwin()
        .args(["dataset", "relay", "--count", "0", "--out"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicates::str::contains("count must be at least 1"));
}
