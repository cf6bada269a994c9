//! The container platform: one `podman run --rm` of the worker image per invocation. Needs
//! podman and builds the image with `workers/container/build-image.sh` (cached after the
//! first build); set `FAASTWIN_NO_PODMAN=1` to skip.

use std::path::Path;
use std::sync::Arc;

use faastwin_measure::{Launch, ProcessPlatform, SubmitPolicy};

use crate::{check_succeeded, host, measure, options, relay_dataset};

const IMAGE: &str = "localhost/faastwin-worker:measure-test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invocation_is_one_container() {
    if !crate::components::podman() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workers/container/build-image.sh");
    let built = std::process::Command::new(script)
        .arg(IMAGE)
        .output()
        .expect("podman and cargo available");
    assert!(
        built.status.success(),
        "image build failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let dataset = relay_dataset(dir.path(), 3);
    let out = dir.path().join("run");
    std::fs::create_dir_all(out.join("results")).unwrap();
    let platform = Arc::new(ProcessPlatform::new(Launch::Container {
        image: IMAGE.into(),
        dataset: dataset.dir.clone(),
        results: out.join("results"),
    }));
    let outcome = measure(
        platform,
        options("container", 1, vec![host()], SubmitPolicy::Sequential),
        dataset,
        &out,
    )
    .await;
    assert_eq!(outcome.records.len(), 3);
    for r in &outcome.records {
        check_succeeded(r);
        // Container start is what this baseline adds: far more than a process spawn.
        assert!(r.startup_s.unwrap() > 0.005, "{r:?}");
    }
    assert_eq!(std::fs::read_dir(out.join("results")).unwrap().count(), 3);
}
