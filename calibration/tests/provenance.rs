//! The `[provenance]` of a calibration: for every component its family, parameters, fit
//! statistics, the runners-up (the chosen family not among them) and how many values were
//! raised to the clock's microsecond.

use faastwin_calibration::calibrate;

use crate::kept::a_runs;

#[test]
fn provenance_lists_every_component_with_its_runners_up_and_its_floored_values() {
    let mut runs = a_runs("local-1");
    // Three gaps of zero: below the microsecond a clock resolves.
    for r in runs[0]
        .records
        .iter_mut()
        .filter(|r| r.succeeded() && !r.warmup && r.gap_to_next_s.is_some())
        .take(3)
    {
        r.gap_to_next_s = Some(0.0);
    }
    let (calibration, fits) = calibrate(&runs, &Default::default()).unwrap();
    let local = calibration.provenance["local"].as_table().unwrap();
    let runs_listed = local["runs"].as_array().unwrap();
    assert_eq!(runs_listed.len(), 2);
    assert_eq!(local["rows"].as_integer(), Some(fits[0].rows as i64));
    let components = local["components"].as_table().unwrap();
    assert_eq!(components.len(), fits[0].components.len());
    for c in &fits[0].components {
        let t = components[&c.component].as_table().unwrap();
        assert_eq!(t["family"].as_str(), Some(c.fit.family.as_str()));
        assert_eq!(t["method"].as_str(), Some(c.method.as_str()));
        let runners_up: Vec<&str> = t["runners_up"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let others: Vec<&str> = c
            .fit
            .candidates
            .iter()
            .map(|x| x.family.as_str())
            .filter(|f| *f != c.fit.family)
            .collect();
        assert_eq!(runners_up.len(), others.len(), "{}", c.component);
        for (shown, family) in runners_up.iter().zip(&others) {
            assert!(shown.starts_with(&format!("{family} (AIC ")), "{shown}");
        }
        assert_eq!(
            t.get("floored_below_1us").and_then(|v| v.as_integer()),
            (c.fit.floored > 0).then_some(c.fit.floored as i64),
            "{}",
            c.component
        );
    }
    assert_eq!(
        components["client_gap"]["floored_below_1us"].as_integer(),
        Some(3)
    );
    // A parametric choice is among the candidates, so one fewer runner-up than candidates.
    let gap = fits[0]
        .components
        .iter()
        .find(|c| c.component == "client_gap")
        .unwrap();
    if gap
        .fit
        .candidates
        .iter()
        .any(|x| x.family == gap.fit.family)
    {
        assert_eq!(
            components["client_gap"]["runners_up"]
                .as_array()
                .unwrap()
                .len(),
            gap.fit.candidates.len() - 1
        );
    }
}
