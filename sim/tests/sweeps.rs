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
    assert!(
        local
            .values()
            .all(|fits| fits.len() == 1 && fits[0].len() == 2)
    );
    let chunks: Vec<_> = (0..3).map(|i| plan.chunk(i, 3).unwrap()).collect();
    assert_eq!(plan.merge(&chunks).unwrap(), local);
    let err = plan.merge(&chunks[..2]).unwrap_err().to_string();
    assert!(err.contains("missing: point"), "{err}");
}

/// A calibration with refits: every refit is simulated at every grid point (its share of the
/// replications), chunks of the array merge to the local results, and the CSV's intervals
/// hold the refits' disagreement.
#[test]
fn a_sweep_simulates_the_refits_for_its_intervals() {
    use faastwin_sim::interval::Intervals;
    use faastwin_sim::sweep::{read_csv, write_csv};
    let dir = tempfile::tempdir().unwrap();
    let mut calibration = faastwin_sim::scenario::embedded_calibration().unwrap();
    let k3s = calibration.platforms["k3s"].clone();
    let ksi = calibration.platforms["ksi"].clone();
    calibration.refits.insert("k3s".into(), vec![k3s, ksi]);
    std::fs::write(
        dir.path().join("refitted.toml"),
        calibration.to_toml().unwrap(),
    )
    .unwrap();
    let text = SCENARIO.replace("\"embedded\"", "\"refitted.toml\"");
    let mut plan = SweepPlan::load(&scenario(dir.path(), &text), None, None).unwrap();
    plan.level = 0.8;
    // Per point: KSI 2, K3s 2 and its two refits 2 each.
    assert_eq!(plan.units().len(), 3 * (2 + 2 + 2 * 2));
    let local = plan.run_local(2, &|| {}).unwrap();
    let chunks: Vec<_> = (0..4).map(|i| plan.chunk(i, 4).unwrap()).collect();
    assert_eq!(plan.merge(&chunks).unwrap(), local);
    let mut out = Vec::new();
    write_csv(&plan, &local, &mut out).unwrap();
    let table = read_csv(out.as_slice()).unwrap();
    let platforms = &plan.scenario.file.platforms;
    for row in &table.rows {
        assert_eq!(row.interval_level, 0.8);
        let fits = &local[&(
            row.point,
            platforms.iter().position(|p| *p == row.platform).unwrap(),
        )];
        let alone = Intervals::of(&fits[..1], &Default::default(), &Default::default(), 0.8)
            .warm_makespan_s
            .unwrap();
        let [low, high] = row.intervals_s[0];
        if row.platform == "k3s" {
            assert_eq!(fits.len(), 3);
            assert!(
                high - low > 2.0 * (alone.high - alone.low),
                "the refits' disagreement is missing: {row:?} against {alone:?}"
            );
        } else {
            assert_eq!(fits.len(), 1);
            assert_eq!([low, high], [alone.low, alone.high]);
        }
    }
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

#[test]
fn the_sweep_csv_reads_back_as_written() {
    use faastwin_sim::sweep::{read_csv, write_csv};
    let dir = tempfile::tempdir().unwrap();
    let plan = SweepPlan::load(&scenario(dir.path(), SCENARIO), None, None).unwrap();
    let results = plan.run_local(2, &|| {}).unwrap();
    let mut out = Vec::new();
    write_csv(&plan, &results, &mut out).unwrap();
    let table = read_csv(out.as_slice()).unwrap();
    assert_eq!(table.parameters, vec!["partitions"]);
    assert_eq!(table.rows.len(), 3 * 2);
    for row in &table.rows {
        let fits = &results[&(
            row.point,
            plan.scenario
                .file
                .platforms
                .iter()
                .position(|p| *p == row.platform)
                .unwrap(),
        )];
        let s = faastwin_sim::PlatformSummary::of(&fits[0], plan.seed).unwrap();
        let intervals = faastwin_sim::interval::Intervals::of(
            fits,
            &Default::default(),
            &Default::default(),
            0.9,
        );
        assert_eq!(row.interval_level, 0.9);
        for (got, want) in row.intervals_s.iter().zip(intervals.all()) {
            let want = want.unwrap();
            assert_eq!(*got, [want.low, want.high]);
        }
        assert_eq!(row.values, vec![[1.0, 2.0, 4.0][row.point]]);
        assert_eq!((row.replications, row.seed), (2, 4));
        assert_eq!(row.warm_makespan_s[0], s.stats.warm_makespan_s.median);
        assert_eq!(row.warm_makespan_s[4], s.stats.warm_makespan_s.ci95[1]);
        assert_eq!(row.latency_s[3], s.stats.mean_latency_s.median);
        assert_eq!(row.startup_overhead_s, s.startup_overhead_s);
        assert_eq!(row.body_share, s.stats.body_share.median);
        // KSI starts its nodes, K3s does not: one of each.
        assert_eq!(row.startup_overhead_s.is_some(), row.platform == "ksi");
    }
    // A count that is not one is named with its line and column.
    let text = String::from_utf8(out).unwrap();
    let bad = text.replacen("\n0,1,ksi,2,", "\n0,1,ksi,2.5,", 1);
    assert_ne!(bad, text);
    let err = read_csv(bad.as_bytes()).unwrap_err().to_string();
    assert!(
        err.contains("line 2, column `replications`: 2.5 is not a count"),
        "{err}"
    );
    // An empty cell is a missing startup overhead, and nothing else.
    let header = text.lines().next().unwrap();
    let column = header
        .split(',')
        .position(|c| c == "warm_makespan_s")
        .unwrap();
    let mut cells: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    cells[column] = "";
    let err = read_csv(format!("{header}\n{}\n", cells.join(",")).as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column `warm_makespan_s`: \"\" is not a number"),
        "{err}"
    );
    let err = read_csv("x,y\n1,2\n".as_bytes()).unwrap_err().to_string();
    assert!(err.contains("its first column is `point`"), "{err}");
}

#[test]
fn chunk_files_and_the_sweep_record_are_written_whole_and_read_only_if_theirs() {
    use faastwin_sim::sweep::{SweepMeta, read_chunk, write_chunk};
    let dir = tempfile::tempdir().unwrap();
    let plan = SweepPlan::load(&scenario(dir.path(), SCENARIO), None, None).unwrap();
    let chunk = plan.chunk(1, 3).unwrap();
    let chunks = dir.path().join("chunks");
    write_chunk(&chunks, &chunk).unwrap();
    assert!(chunks.join("chunk-1.json").is_file());
    let names: Vec<_> = std::fs::read_dir(&chunks)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary left: {names:?}");
    assert_eq!(read_chunk(&chunks, 1, &plan.hash), Some(chunk));
    assert_eq!(read_chunk(&chunks, 1, "another sweep"), None);
    assert_eq!(read_chunk(&chunks, 2, &plan.hash), None);
    std::fs::copy(chunks.join("chunk-1.json"), chunks.join("chunk-2.json")).unwrap();
    assert_eq!(
        read_chunk(&chunks, 2, &plan.hash),
        None,
        "chunk 1 under chunk 2's name"
    );

    let meta = SweepMeta::new(&plan, 3);
    assert_eq!(
        meta.job_name,
        format!("faastwin-sweep-{}", &plan.hash[..12])
    );
    assert_eq!(
        (meta.chunks, meta.points, meta.seed, meta.replications),
        (3, 3, 4, 2)
    );
    meta.write(dir.path()).unwrap();
    assert_eq!(SweepMeta::read(dir.path()).unwrap(), meta);
}

#[test]
fn the_array_script_runs_one_chunk_per_task_with_the_sweeps_own_options() {
    use faastwin_sim::sweep::{ArrayOptions, SweepMeta, array_script};
    let dir = tempfile::tempdir().unwrap();
    let plan = SweepPlan::load(&scenario(dir.path(), SCENARIO), None, None).unwrap();
    let meta = SweepMeta::new(&plan, 4);
    let options = ArrayOptions {
        partition: Some("batch".into()),
        time: Some("00:30:00".into()),
    };
    let script = array_script(&meta, Path::new("/out"), Path::new("/bin/it's"), &options);
    let lines: Vec<&str> = script.lines().collect();
    assert_eq!(lines[0], "#!/bin/bash");
    assert!(lines.contains(&format!("#SBATCH --job-name={}", meta.job_name).as_str()));
    for line in [
        "#SBATCH --array=0-3",
        "#SBATCH --output=/out/logs/task-%a.out",
        "#SBATCH --partition=batch",
        "#SBATCH --time=00:30:00",
    ] {
        assert!(lines.contains(&line), "{line}: {script}");
    }
    assert_eq!(
        *lines.last().unwrap(),
        format!(
            "exec '/bin/it'\\''s' sweep '{}' --seed 4 --replications 2 --threads 1 --chunk \"${{SLURM_ARRAY_TASK_ID}}/4\" --out '/out/chunks'",
            plan.path.display()
        )
    );
    let plain = array_script(
        &meta,
        Path::new("/out"),
        Path::new("/bin/f"),
        &ArrayOptions::default(),
    );
    assert!(!plain.contains("--partition") && !plain.contains("--time"));
}
