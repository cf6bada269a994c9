//! Speed never changes an answer silently: `simulate --format json` of every shipped scenario,
//! with its own seed, equals the pinned output in `tests/golden/` number for number.
//! After a deliberate change of the model, `FAASTWIN_BLESS=1 cargo test golden` rewrites them.

use std::path::Path;

use crate::{faastwin, repo_path};

fn shipped() -> Vec<(String, std::path::PathBuf)> {
    let mut all = Vec::new();
    for dir in ["study", "what-if"] {
        let mut files: Vec<_> = std::fs::read_dir(repo_path("scenarios").join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for file in files {
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            all.push((format!("{dir}-{stem}"), file));
        }
    }
    all
}

#[test]
fn every_shipped_scenario_simulates_exactly_as_pinned() {
    let bless = std::env::var_os("FAASTWIN_BLESS").is_some();
    let mut checked = 0;
    for (name, scenario) in shipped() {
        let relative = scenario.strip_prefix(repo_path("")).unwrap().to_owned();
        let out = faastwin()
            .current_dir(repo_path(""))
            .args(["simulate", "--format", "json"])
            .arg(&relative)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let golden = repo_path("tests/golden").join(format!("{name}.json"));
        if bless {
            std::fs::write(&golden, &out.stdout).unwrap();
            continue;
        }
        let want: serde_json::Value = read(&golden);
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            got,
            want,
            "{name}: simulate --format json differs from {}",
            golden.display()
        );
        checked += 1;
    }
    assert!(bless || checked >= 10, "only {checked} scenarios checked");
}

fn read(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!("{}: {e} (create it with FAASTWIN_BLESS=1)", path.display())
        }),
    )
    .unwrap()
}
