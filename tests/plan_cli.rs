//! `faastwin plan` from the command line: the choice is the cheapest configuration that meets
//! the deadline, and `simulate` of that configuration agrees; an impossible deadline exits 1
//! with the closest configuration; bad input is named before any simulation.

use predicates::prelude::*;

use crate::{faastwin, repo_path};

fn relay() -> String {
    repo_path("scenarios/study/relay-two-node.toml")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_choice_is_the_cheapest_that_meets_the_deadline_and_simulate_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let out = faastwin()
        .args(["plan", &relay(), "--deadline", "6m", "--format", "json"])
        .args(["--nodes", "1,2,4", "--partitions-per-node", "1,4"])
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = plan["candidates"].as_array().unwrap();
    assert_eq!(
        candidates.len(),
        2 * 3 * 2,
        "platforms x nodes x partitions per node"
    );
    let choice = &candidates[plan["choice"].as_u64().unwrap() as usize];
    let cost = |c: &serde_json::Value| c["node_hours"].as_f64().unwrap();
    for c in candidates {
        let meets = c["chance"].as_f64().unwrap() >= 0.95;
        assert_eq!(c["meets"].as_bool().unwrap(), meets, "{c}");
        assert_eq!(meets, c["time_s"].as_f64().unwrap() <= 360.0, "{c}");
        if meets {
            assert!(
                cost(c) >= cost(choice),
                "{c} is cheaper than the choice {choice}"
            );
        }
    }
    assert!(dir.path().join("plan.svg").is_file() && dir.path().join("plan.png").is_file());
    assert!(dir.path().join("plan.json").is_file());

    // `simulate` of the chosen configuration finishes by the deadline.
    let nodes = choice["nodes"].as_u64().unwrap();
    let partitions = choice["partitions"].as_u64().unwrap();
    let text = std::fs::read_to_string(relay())
        .unwrap()
        .replace("nodes = 2\n", &format!("nodes = {nodes}\n"))
        .replace("partitions = 2\n", &format!("partitions = {partitions}\n"))
        .replace(
            "platforms = [\"ksi\", \"k3s\"]",
            &format!("platforms = [{}]", choice["platform"]),
        );
    let scenario = dir.path().join("chosen.toml");
    std::fs::write(&scenario, text).unwrap();
    let out = faastwin()
        .args(["simulate", "--format", "json"])
        .arg(&scenario)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &report["platforms"][0];
    let time = p["startup_overhead_s"].as_f64().unwrap_or(0.0)
        + p["intervals"]["warm_makespan_s"]["high"].as_f64().unwrap();
    assert!(
        time <= 360.0,
        "simulate says {time} s for the plan's choice {choice}"
    );
}

#[test]
fn an_impossible_deadline_exits_1_with_the_closest_configuration() {
    faastwin()
        .args(["plan", &relay(), "--deadline", "10s", "--nodes", "1,2"])
        .args(["--partitions-per-node", "1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "choice:    none meets the deadline",
        ))
        .stdout(predicate::str::contains("closest:"));
}

#[test]
fn bad_plans_are_named_before_any_simulation() {
    for (args, why) in [
        (&["--deadline", "30 minutes"][..], "is not a deadline"),
        (
            &["--deadline", "5m", "--nodes", "0"],
            "nodes: give one or more counts",
        ),
        (
            &["--deadline", "5m", "--windows", "0"],
            "a window holds at least 1 Job",
        ),
        (
            &["--deadline", "5m", "--probability", "1.5"],
            "is not an interval level",
        ),
    ] {
        faastwin()
            .args(["plan", &relay()])
            .args(args)
            .assert()
            .failure()
            .stderr(predicate::str::contains(why));
    }
    // Windows need a closed loop.
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open.toml");
    std::fs::write(
        &open,
        std::fs::read_to_string(relay()).unwrap().replace(
            "policy = { kind = \"sequential\" }",
            "policy = { kind = \"poisson\", rate_per_s = 0.5 }",
        ),
    )
    .unwrap();
    faastwin()
        .arg("plan")
        .arg(&open)
        .args(["--deadline", "5m", "--windows", "2"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "windows apply to a closed-loop policy",
        ));
}
