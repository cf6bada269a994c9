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
