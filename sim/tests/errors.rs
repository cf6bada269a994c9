//! Bad scenarios and calibrations are refused with an error naming the file, key or object.

use std::path::Path;

use faastwin_sim::Scenario;

fn parse_err(text: &str) -> String {
    Scenario::parse(text, "bad.toml", Path::new("."))
        .unwrap_err()
        .to_string()
}

const GOOD: &str = r#"
platforms = ["ksi"]
[workload]
kind = "relay"
invocations = 10
input_bytes = { family = "constant", value = 2000 }
"#;

#[test]
fn a_good_scenario_parses() {
    let s = Scenario::parse(GOOD, "good.toml", Path::new(".")).unwrap();
    assert_eq!(s.workload.partitions, 1);
    assert_eq!(s.file.replications, 1);
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let err = parse_err(&GOOD.replace("invocations = 10", "invocations = 10\ninvokations = 3"));
    assert!(
        err.contains("bad.toml") && err.contains("invokations") && err.contains("line"),
        "{err}"
    );
}

#[test]
fn a_bad_distribution_names_the_parameter() {
    let err = parse_err(&GOOD.replace("value = 2000", "value = -5"));
    assert!(
        err.contains("constant: value = -5") && err.contains(">= 0"),
        "{err}"
    );
}

#[test]
fn an_unknown_platform_lists_the_known_ones() {
    let err = parse_err(&GOOD.replace(r#"["ksi"]"#, r#"["k8s"]"#));
    assert!(err.contains("\"k8s\"") && err.contains("k3s, ksi"), "{err}");
}

#[test]
fn an_unknown_workload_is_refused() {
    let err = parse_err(&GOOD.replace(r#"kind = "relay""#, r#"kind = "video""#));
    assert!(err.contains("workload \"video\""), "{err}");
}

#[test]
fn zero_counts_are_refused() {
    assert!(
        parse_err(&GOOD.replace("invocations = 10", "invocations = 0")).contains("invocations")
    );
    assert!(parse_err(&format!("replications = 0\n{GOOD}")).contains("replications"));
    let err = parse_err(&format!(
        "{GOOD}\n[[sweep]]\nparameter = \"nodes\"\nvalues = [1, 0]\n"
    ));
    assert!(
        err.contains("sweep point") && err.contains("nodes"),
        "{err}"
    );
}

/// A sweep value the axis cannot take is refused, naming the axis and the value, instead of
/// being rounded (1.5 nodes ran as 2) or dropped (a negative size, or a background rate with no
/// queue, left the workload as it was).
#[test]
fn sweep_values_an_axis_cannot_take_are_refused() {
    for (parameter, value, why) in [
        ("nodes", "1.5", "is not a whole number"),
        ("nodes_and_partitions", "2.25", "is not a whole number"),
        ("window", "nan", "is not a whole number"),
        ("input_bytes", "-5", "is not a size in bytes"),
        ("background_rate", "0.5", "no allocation_queue"),
    ] {
        let err = parse_err(&format!(
            "{GOOD}\n[[sweep]]\nparameter = \"{parameter}\"\nvalues = [1, {value}]\n"
        ));
        assert!(
            err.contains(&format!("sweep over {parameter}: the value")) && err.contains(why),
            "{parameter} = {value}: {err}"
        );
    }
}

#[test]
fn a_missing_calibration_file_is_named() {
    let err = parse_err(&format!("calibration = \"nope.toml\"\n{GOOD}"));
    assert!(err.contains("nope.toml"), "{err}");
}

#[test]
fn an_unknown_resource_is_named_with_its_platform_and_stage() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cal.toml"),
        r#"
[platforms.x.stages.control_plane]
work = { latency = { family = "constant", value = 1.0 } }
resource = "apiserver"
[platforms.x.workloads.relay]
"#,
    )
    .unwrap();
    let text = GOOD.replace(r#"["ksi"]"#, r#"["x"]"#);
    let err = Scenario::parse(
        &format!("calibration = \"cal.toml\"\n{text}"),
        "s.toml",
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("\"x\"") && err.contains("control_plane") && err.contains("apiserver"),
        "{err}"
    );
}

#[test]
fn a_bad_arrivals_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("arrivals.csv"), "time_s\n0.0\n1.5\nsoon\n").unwrap();
    let text = GOOD.replace(
        "input_bytes",
        "policy = { kind = \"arrivals\", file = \"arrivals.csv\" }\ninput_bytes",
    );
    let err = Scenario::parse(&text, "s.toml", dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("arrivals.csv") && err.contains("line 4"),
        "{err}"
    );
}

#[test]
fn limits_are_inclusive_and_the_seed_defaults_to_one() {
    let s = Scenario::parse(
        &format!("replications = 100000\n{GOOD}"),
        "r.toml",
        Path::new("."),
    )
    .unwrap();
    assert_eq!((s.file.replications, s.file.seed), (100_000, 1));
    let err = parse_err(&format!("replications = 100001\n{GOOD}"));
    assert!(
        err.contains("`replications` = 100001 is above the limit of 100000"),
        "{err}"
    );
    // A grid of exactly 100,000 points, then one row more.
    let axis = |parameter: &str, n: u32| {
        let values: Vec<String> = (1..=n).map(|v| v.to_string()).collect();
        format!(
            "[[sweep]]\nparameter = \"{parameter}\"\nvalues = [{}]\n",
            values.join(", ")
        )
    };
    let grid = format!(
        "{GOOD}\n{}{}",
        axis("invocations", 1000),
        axis("input_bytes", 100)
    );
    let s = Scenario::parse(&grid, "grid.toml", Path::new(".")).unwrap();
    assert_eq!(s.grid().len(), 100_000);
    let err = parse_err(&format!(
        "{GOOD}\n{}{}",
        axis("invocations", 1001),
        axis("input_bytes", 100)
    ));
    assert!(
        err.contains("the sweep grid has 100100 points, above the limit of 100000"),
        "{err}"
    );
}

#[test]
fn a_grid_point_is_described_by_its_values() {
    use faastwin_sim::scenario::{SweepParameter, describe};
    assert_eq!(
        describe(&[
            (SweepParameter::Partitions, 4.0),
            (SweepParameter::InputBytes, 1_048_576.0)
        ]),
        "partitions=4, input_bytes=1048576"
    );
    assert_eq!(describe(&[]), "");
}

#[test]
fn workload_counts_are_refused_above_their_limit_not_at_it() {
    use faastwin_sim::{MAX_INVOCATIONS, MAX_NODES, MAX_PARTITIONS, SubmitPolicy};
    let ok = |invocations: u64, partitions: u64, nodes: u64| {
        let count = |n: u64| u32::try_from(n).unwrap();
        crate::workload(
            invocations,
            count(partitions),
            count(nodes),
            SubmitPolicy::Sequential,
        )
        .validate()
    };
    assert!(ok(MAX_INVOCATIONS, 1, 1).is_ok());
    assert!(ok(MAX_INVOCATIONS, MAX_PARTITIONS, MAX_NODES).is_ok());
    for (invocations, partitions, nodes, field) in [
        (MAX_INVOCATIONS + 1, 1, 1, "invocations"),
        (10, MAX_PARTITIONS + 1, 1, "partitions"),
        (10, 1, MAX_NODES + 1, "nodes"),
    ] {
        let err = ok(invocations, partitions, nodes).unwrap_err().to_string();
        assert!(err.contains(&format!("workload.{field} = ")), "{err}");
        assert!(err.contains("is above the limit"), "{err}");
    }
}

#[test]
fn policies_that_cannot_submit_are_refused() {
    use faastwin_sim::SubmitPolicy;
    let check = |policy| {
        crate::workload(4, 2, 1, policy)
            .validate()
            .map_err(|e| e.to_string())
    };
    assert!(check(SubmitPolicy::Window { size: 1 }).is_ok());
    let err = check(SubmitPolicy::Window { size: 0 }).unwrap_err();
    assert!(err.contains("window size must be at least 1"), "{err}");
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = check(SubmitPolicy::Poisson { rate_per_s: rate }).unwrap_err();
        assert!(err.contains("rate_per_s must be > 0"), "{rate}: {err}");
    }
    let arrivals = |times: &[f64]| SubmitPolicy::Arrivals {
        times_s: std::sync::Arc::from(times.to_vec()),
    };
    assert!(check(arrivals(&[0.0, 0.0, 1.0, 2.0])).is_ok());
    assert!(
        check(arrivals(&[1.0, 2.0, 1.0, 2.0])).is_ok(),
        "two at the same time in one partition"
    );
    let err = check(arrivals(&[0.0, 1.0])).unwrap_err();
    assert!(err.contains("2 times for 4 invocations"), "{err}");
    let err = check(arrivals(&[0.0, -1.0, 1.0, 2.0])).unwrap_err();
    assert!(err.contains("arrival time 1 is -1"), "{err}");
    // Partition 0 has times 0 and 2, partition 1 has 5 then 1.
    let err = check(arrivals(&[0.0, 5.0, 2.0, 1.0])).unwrap_err();
    assert!(
        err.contains("arrival times of partition 1 go back in time at invocation 3"),
        "{err}"
    );
}

#[test]
fn a_csv_trace_writes_a_header_and_one_row_per_invocation() {
    use faastwin_sim::{CsvTrace, SubmitPolicy, simulate};
    let scenario = Scenario::parse(GOOD, "good.toml", Path::new(".")).unwrap();
    let platform = scenario
        .calibration
        .compile("ksi", scenario.workload.body)
        .unwrap();
    let workload = crate::workload(7, 1, 1, SubmitPolicy::Sequential);
    let mut out = Vec::new();
    let mut trace = CsvTrace::new(&mut out);
    simulate(&platform, &workload, 1, 0, &mut trace).unwrap();
    trace.flush().unwrap();
    drop(trace);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 7, "{text}");
    assert_eq!(
        lines[0],
        "platform,replication,invocation,partition,node,input_bytes,t_submit,t_scheduled,t_body_start,t_read_end,t_compute_end,t_body_end,t_done,latency"
    );
    assert!(lines[1..].iter().all(|l| l.starts_with("ksi,0,")), "{text}");
}
