//! Plans: a later deadline never costs more, the chance of meeting a deadline only grows with
//! it, and the same seed gives the same plan whatever the threads.

use faastwin_sim::plan::{Deadline, PlanRun, PlanSpace, plan};

#[test]
fn a_later_deadline_never_costs_more_and_the_plan_is_reproducible() {
    let (scenario, _) = crate::relay_two_node(64);
    let space = PlanSpace {
        nodes: vec![1, 2, 4],
        partitions_per_node: vec![1, 2, 4],
        windows: vec![1, 2],
    };
    let run = |threads| PlanRun {
        seed: 5,
        replications: 4,
        threads,
    };
    let mut previous: Option<faastwin_sim::plan::Plan> = None;
    for minutes in [0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0] {
        let deadline = Deadline {
            seconds: 60.0 * minutes,
            probability: 0.9,
        };
        let p = plan(&scenario, &space, deadline, run(2), &|| {}).unwrap();
        assert_eq!(p.candidates.len(), 2 * 3 * 3 * 2);
        if let Some(before) = &previous {
            for (a, b) in before.candidates.iter().zip(&p.candidates) {
                assert!(b.chance >= a.chance, "{minutes} min: {b:?} after {a:?}");
                assert!(!a.meets || b.meets);
            }
            let cost = |plan: &faastwin_sim::plan::Plan| {
                plan.choice
                    .map_or(f64::INFINITY, |i| plan.candidates[i].node_hours)
            };
            assert!(cost(&p) <= cost(before), "{minutes} min costs more");
        }
        previous = Some(p);
    }
    let last = previous.unwrap();
    assert!(last.choice.is_some(), "30 min for 64 relay Jobs is met");
    let deadline = Deadline {
        seconds: last.deadline_s,
        probability: 0.9,
    };
    assert_eq!(
        plan(&scenario, &space, deadline, run(1), &|| {}).unwrap(),
        last
    );
}
