//! `faastwin completions` and `faastwin man` are made from the same clap definition as the
//! parser, so every subcommand and option a user can type is in them.

use crate::faastwin;

const SUBCOMMANDS: [&str; 10] = [
    "dataset",
    "measure",
    "calibrate",
    "validate",
    "loop",
    "report",
    "simulate",
    "sweep",
    "completions",
    "man",
];

#[test]
fn bash_completion_is_valid_bash_and_knows_every_subcommand_and_option() {
    let out = faastwin().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "no {sub} in the completion");
    }
    for option in [
        "--replications",
        "--kubeconfig",
        "--ksi-run-workload",
        "--tolerance",
    ] {
        assert!(script.contains(option), "no {option} in the completion");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faastwin.bash");
    std::fs::write(&file, &script).unwrap();
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn every_shell_clap_knows_gets_a_script_and_another_is_refused_naming_them() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = faastwin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("faastwin"),
            "{shell}"
        );
    }
    faastwin()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("possible values: bash"));
}

#[test]
fn man_writes_a_page_per_subcommand_with_its_options() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man/pages");
    faastwin()
        .args(["man", "--out"])
        .arg(&out)
        .assert()
        .success();
    let main = std::fs::read_to_string(out.join("faastwin.1")).unwrap();
    assert!(
        main.starts_with(".ie"),
        "roff: {}",
        &main[..40.min(main.len())]
    );
    for sub in SUBCOMMANDS {
        let page = std::fs::read_to_string(out.join(format!("faastwin-{sub}.1")))
            .unwrap_or_else(|e| panic!("faastwin-{sub}.1: {e}"));
        assert!(
            page.contains(".SH OPTIONS") || page.contains(".SH SUBCOMMANDS"),
            "{sub}"
        );
        assert!(main.contains(sub), "faastwin.1 does not list {sub}");
    }
    let validate = std::fs::read_to_string(out.join("faastwin-validate.1")).unwrap();
    assert!(validate.contains("tolerance"), "{validate}");
}

#[test]
fn man_into_a_folder_it_cannot_create_names_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    faastwin()
        .args(["man", "--out"])
        .arg(file.join("man"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("a-file/man"));
}
