//! Sweeps: a plan's hash covers what its numbers depend on, its units are grid × platforms ×
//! replications, chunks merged give what a local run gives, and chunk specs are checked.

use std::path::{Path, PathBuf};

use faastwin_sim::sweep::{SweepPlan, parse_chunk};

const SCENARIO: &str = r#"
calibration = "embedded"
platforms = ["ksi", "k3s"]
seed = 4
replications = 2

[workload]
kind = "relay"
invocations = 12
nodes = 2
input_bytes = { family = "constant", value = 2200 }

[[sweep]]
parameter = "partitions"
values = [1, 2, 4]
"#;

fn scenario(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("sweep.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_hash_follows_the_scenario_the_seed_and_the_replications() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), SCENARIO);
    let plan = SweepPlan::load(&path, None, None).unwrap();
    assert_eq!((plan.seed, plan.replications), (4, 2));
    assert_eq!(plan.hash.len(), 64);
    assert!(plan.hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(SweepPlan::load(&path, None, None).unwrap().hash, plan.hash);
    let seed = SweepPlan::load(&path, Some(5), None).unwrap();
    assert_eq!(seed.seed, 5);
    let replications = SweepPlan::load(&path, None, Some(3)).unwrap();
    assert_eq!(replications.replications, 3);
    let edited = scenario(
        dir.path(),
        &SCENARIO.replace("values = [1, 2, 4]", "values = [1, 2, 8]"),
    );
    let mut hashes = vec![
        plan.hash.clone(),
        seed.hash,
        replications.hash,
        SweepPlan::load(&edited, None, None).unwrap().hash,
    ];
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 4, "each change makes another hash");
    let err = SweepPlan::load(&path, None, Some(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("replications must be at least 1"), "{err}");
    assert!(plan.path.is_absolute());
}

#[test]
fn chunks_merged_give_what_a_local_run_gives() {
    let dir = tempfile::tempdir().unwrap();
    let plan = SweepPlan::load(&scenario(dir.path(), SCENARIO), None, None).unwrap();
    assert_eq!(plan.grid.len(), 3);
    assert_eq!(plan.units().len(), 3 * 2 * 2);
    let local = plan.run_local(2, &|| {}).unwrap();
    assert_eq!(local.len(), 3 * 2);
    assert!(local.values().all(|runs| runs.len() == 2));
    let chunks: Vec<_> = (0..3).map(|i| plan.chunk(i, 3).unwrap()).collect();
    assert_eq!(plan.merge(&chunks).unwrap(), local);
    let err = plan.merge(&chunks[..2]).unwrap_err().to_string();
    assert!(err.contains("missing: point"), "{err}");
}

#[test]
fn a_chunk_is_index_slash_count_with_the_index_below_the_count() {
    assert_eq!(parse_chunk("3/8"), Ok((3, 8)));
    assert_eq!(parse_chunk(" 0 / 1 "), Ok((0, 1)));
    for (bad, why) in [
        ("8/8", "the index must be below the count"),
        ("9/8", "the index must be below the count"),
        ("0/0", "the index must be below the count"),
        ("3", "is not INDEX/COUNT"),
        ("a/8", "is not a count"),
        ("3/-8", "is not a count"),
    ] {
        let err = parse_chunk(bad).unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
    }
}
