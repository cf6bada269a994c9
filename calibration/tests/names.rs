//! Naming calibrated platforms (`calibrate --as`): `NAME` for runs of one kind, `KIND=NAME`
//! otherwise, refused when it names a kind no run is on, twice, or emptily.

use std::collections::BTreeMap;

use faastwin_calibration::{calibrate, platform_names};
use faastwin_measure::PlatformKind;

use crate::kept::{a_runs, run};

fn strings(given: &[&str]) -> Vec<String> {
    given.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn a_bare_name_renames_the_one_kind_of_the_runs() {
    let runs = a_runs("k8s-2");
    let names = platform_names(&strings(&["k3s"]), &runs).unwrap();
    assert_eq!(
        names,
        BTreeMap::from([(PlatformKind::K8s, "k3s".to_owned())])
    );
    let (calibration, fits) = calibrate(&runs, &names).unwrap();
    assert_eq!(
        calibration.platforms.keys().collect::<Vec<_>>(),
        vec!["k3s"]
    );
    assert_eq!(
        (fits[0].platform.as_str(), fits[0].kind),
        ("k3s", PlatformKind::K8s)
    );
    assert!(calibration.provenance.contains_key("k3s"));
    // Without a name, the kind's own.
    let (calibration, _) = calibrate(&runs, &BTreeMap::new()).unwrap();
    assert!(calibration.platforms.contains_key("k8s"));
}

#[test]
fn runs_of_two_kinds_need_kind_equals_name() {
    let runs = vec![run("local-1/run-A-small"), run("container-4/run-A-small")];
    let err = platform_names(&strings(&["mine"]), &runs)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--as mine: the runs are on 2 platform kinds; say which with KIND=NAME"),
        "{err}"
    );
    let names = platform_names(&strings(&["container=podman", "local=laptop"]), &runs).unwrap();
    assert_eq!(
        names,
        BTreeMap::from([
            (PlatformKind::Local, "laptop".to_owned()),
            (PlatformKind::Container, "podman".to_owned())
        ])
    );
    let (calibration, _) = calibrate(&runs, &names).unwrap();
    assert_eq!(
        calibration.platforms.keys().collect::<Vec<_>>(),
        vec!["laptop", "podman"]
    );
}

#[test]
fn a_name_for_no_run_twice_or_empty_is_refused() {
    let runs = a_runs("local-1");
    for (given, want) in [
        (vec!["slurm=batch"], None),
        (
            vec!["local=a", "local=b"],
            Some("--as names platform local twice"),
        ),
        (vec!["local="], Some("--as local=: the name is empty")),
        (vec!["moon=x"], Some("--as moon=x: ")),
    ] {
        let got = platform_names(&strings(&given), &runs);
        match want {
            Some(want) => {
                let err = got.unwrap_err().to_string();
                assert!(err.contains(want), "{given:?}: {err}");
            }
            None => {
                let names = got.unwrap();
                let err = calibrate(&runs, &names).unwrap_err().to_string();
                assert!(
                    err.contains("a name is given for platform slurm, but no run is on slurm (the runs are on: local)"),
                    "{err}"
                );
            }
        }
    }
    let two = vec![run("local-1/run-A-small"), run("container-4/run-A-small")];
    let names = platform_names(&strings(&["local=x", "container=x"]), &two).unwrap();
    let err = calibrate(&two, &names).unwrap_err().to_string();
    assert!(
        err.contains("two platform kinds would both be named \"x\""),
        "{err}"
    );
}
