//! Kubernetes objects → timing layers, as pure functions on real API object JSON (one-second
//! timestamps, collapsed transitions, missing fields, failed pods, termination messages), and
//! the tracker fed with injected watch events.

use faastwin_measure::k8s::{
    DataVolume, JobTemplate, Pinning, PodStage, Tracker, TrackerEvent, job_facts, job_manifest,
    job_name, pod_facts, validate_run_id,
};
use faastwin_measure::{InvocationSpec, Outcome};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

pub(crate) fn spec() -> InvocationSpec {
    InvocationSpec {
        run_id: "run1".into(),
        workload: faastwin_measure::Body::Relay,
        repetition: 0,
        partition: 1,
        seq: 3,
        invocation_id: 7,
        node: "k8s-w2".into(),
        input: "/shared/data/relay-000007.json".into(),
        output: "/shared/run/results/r0-relay-000007.json".into(),
        input_bytes: 2173,
        warmup: false,
        attempt: 1,
        session: 0,
    }
}

pub(crate) fn template() -> JobTemplate {
    JobTemplate {
        namespace: "faastwin".into(),
        image: "localhost/faastwin-worker:latest".into(),
        image_pull_policy: "IfNotPresent".into(),
        volume: DataVolume::HostPath {
            dataset: "/shared/data".into(),
            results: "/shared/run/results".into(),
        },
        cpu_request: Some("100m".into()),
        memory_request: None,
        ttl_seconds: 300,
        pinning: Pinning::NodeName,
    }
}

/// A worker report as the termination message carries it.
pub(crate) fn report_json() -> String {
    json!({
        "workload": "relay", "invocation_id": "7", "host": "faastwin-run1-r0-000007-x2x9q",
        "body_start_unix_ns": 1_795_441_303_500_000_000u64, "body_end_unix_ns": 1_795_441_303_501_000_000u64,
        "read_ns": 40_000, "compute_ns": 60_000, "write_ns": 120_000, "body_ns": 400_000,
        "bytes_read": 2173, "bytes_written": 171, "records_seen": 1, "records_kept": 1,
        "records_rejected": 0, "records_malformed": 0
    })
    .to_string()
}

/// A pod of Job `faastwin-run1-r0-000007` in one of its stages, as the API server returns it.
pub(crate) fn pod(stage: &str) -> Pod {
    let mut status = json!({ "phase": "Pending", "conditions": [] });
    let scheduled = json!({ "type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-23T13:41:43Z" });
    let mut node = json!(null);
    match stage {
        "pending" => {}
        "scheduled" => {
            node = json!("k8s-w2");
            status["conditions"] = json!([scheduled]);
            status["containerStatuses"] = json!([{ "name": "worker", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                "state": { "waiting": { "reason": "ContainerCreating" } } }]);
        }
        "running" => {
            node = json!("k8s-w2");
            status["phase"] = json!("Running");
            status["conditions"] = json!([scheduled]);
            status["containerStatuses"] = json!([{ "name": "worker", "ready": true, "restartCount": 0, "image": "i", "imageID": "",
                "state": { "running": { "startedAt": "2026-11-23T13:41:44Z" } } }]);
        }
        "succeeded" | "failed" => {
            node = json!("k8s-w2");
            let ok = stage == "succeeded";
            status["phase"] = json!(if ok { "Succeeded" } else { "Failed" });
            status["conditions"] = json!([scheduled]);
            let message = if ok {
                report_json()
            } else {
                json!({"error": "input /data/relay-000007.json is not a valid relay JSON object", "exit_code": 6}).to_string()
            };
            status["containerStatuses"] = json!([{ "name": "worker", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                "state": { "terminated": { "exitCode": if ok { 0 } else { 6 }, "reason": if ok { "Completed" } else { "Error" },
                    "startedAt": "2026-11-23T13:41:44Z", "finishedAt": "2026-11-23T13:41:45Z", "message": message } } }]);
        }
        other => panic!("no pod stage {other}"),
    }
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "faastwin-run1-r0-000007-x2x9q", "namespace": "faastwin", "resourceVersion": "10",
            "creationTimestamp": "2026-11-23T13:41:43Z",
            "labels": { "batch.kubernetes.io/job-name": "faastwin-run1-r0-000007", "job-name": "faastwin-run1-r0-000007", "faastwin.io/run": "run1" } },
        "spec": { "nodeName": node, "restartPolicy": "Never", "containers": [{ "name": "worker", "image": "i" }] },
        "status": status
    }))
    .unwrap()
}

/// Job `faastwin-run1-r0-000007`: "running", "complete" or "failed".
pub(crate) fn job(state: &str) -> Job {
    let status = match state {
        "running" => json!({ "active": 1, "startTime": "2026-11-23T13:41:43Z" }),
        "complete" => {
            json!({ "succeeded": 1, "startTime": "2026-11-23T13:41:43Z", "completionTime": "2026-11-23T13:41:46Z",
            "conditions": [
                { "type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": "2026-11-23T13:41:46Z" },
                { "type": "Complete", "status": "True", "lastTransitionTime": "2026-11-23T13:41:46Z" } ] })
        }
        "failed" => json!({ "failed": 1, "startTime": "2026-11-23T13:41:43Z",
            "conditions": [
                { "type": "FailureTarget", "status": "True", "lastTransitionTime": "2026-11-23T13:41:45Z" },
                { "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "lastTransitionTime": "2026-11-23T13:41:46Z" } ] }),
        other => panic!("no job state {other}"),
    };
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": "faastwin-run1-r0-000007", "namespace": "faastwin", "creationTimestamp": "2026-11-23T13:41:43Z", "resourceVersion": "10",
            "labels": { "faastwin.io/run": "run1" } },
        "spec": { "template": { "spec": { "containers": [] } } },
        "status": status
    }))
    .unwrap()
}

const T13_41_43: i64 = 1_795_441_303_000_000_000;

#[test]
fn the_manifest_pins_labels_and_never_retries() {
    let job = job_manifest(&spec(), &template());
    let v = serde_json::to_value(&job).unwrap();
    assert_eq!(job_name(&spec()), "faastwin-run1-r0-000007");
    assert_eq!(v["metadata"]["labels"]["faastwin.io/run"], "run1");
    assert_eq!(
        v["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "faastwin"
    );
    assert_eq!(v["spec"]["backoffLimit"], 0);
    assert_eq!(v["spec"]["ttlSecondsAfterFinished"], 300);
    let pod = &v["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["faastwin.io/invocation"], "7");
    assert_eq!(pod["spec"]["nodeName"], "k8s-w2");
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["terminationMessagePolicy"], "FallbackToLogsOnError");
    assert_eq!(
        c["args"],
        json!([
            "relay",
            "--input",
            "/data/relay-000007.json",
            "--output",
            "/out/r0-relay-000007.json",
            "--invocation-id",
            "7"
        ])
    );
    assert_eq!(c["resources"]["requests"]["cpu"], "100m");
    assert_eq!(
        pod["spec"]["volumes"][0]["hostPath"]["path"],
        "/shared/data"
    );

    let mut t = template();
    t.pinning = Pinning::NodeSelector;
    t.volume = DataVolume::Claim {
        claim: "shared".into(),
        root: "/shared".into(),
    };
    let v = serde_json::to_value(job_manifest(&spec(), &t)).unwrap();
    let pod = &v["spec"]["template"]["spec"];
    assert!(pod["nodeName"].is_null());
    assert_eq!(pod["nodeSelector"]["kubernetes.io/hostname"], "k8s-w2");
    assert_eq!(
        pod["containers"][0]["args"][2],
        "/shared/data/relay-000007.json"
    );
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "shared"
    );
}

#[test]
fn run_ids_must_be_label_safe() {
    assert!(validate_run_id("20261123-134143-6e82").is_ok());
    for bad in [
        "",
        "Upper",
        "has_underscore",
        "-lead",
        "trail-",
        "x".repeat(31).as_str(),
    ] {
        assert!(validate_run_id(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn job_facts_read_second_resolution_times_and_terminal_conditions() {
    let running = job_facts(&job("running"));
    assert_eq!(
        (running.created, running.finished_ok, running.completed),
        (Some(T13_41_43), None, None)
    );
    let complete = job_facts(&job("complete"));
    assert_eq!(complete.finished_ok, Some(true));
    assert_eq!(complete.completed, Some(T13_41_43 + 3_000_000_000));
    // completionTime exists only on success: a failed Job's end is its Failed condition.
    let failed = job_facts(&job("failed"));
    assert_eq!(failed.finished_ok, Some(false));
    assert_eq!(failed.completed, Some(T13_41_43 + 3_000_000_000));
}

#[test]
fn pod_facts_follow_the_lifecycle() {
    assert_eq!(pod_facts(&pod("pending")).stage, PodStage::Pending);
    let scheduled = pod_facts(&pod("scheduled"));
    assert_eq!(
        (scheduled.stage, scheduled.node.as_deref()),
        (PodStage::Scheduled, Some("k8s-w2"))
    );
    assert_eq!(scheduled.times.scheduled, Some(T13_41_43));
    assert_eq!(scheduled.job.as_deref(), Some("faastwin-run1-r0-000007"));
    let running = pod_facts(&pod("running"));
    assert_eq!(
        (running.stage, running.times.started),
        (PodStage::Running, Some(T13_41_43 + 1_000_000_000))
    );
    let done = pod_facts(&pod("succeeded"));
    assert_eq!(
        (done.stage, done.exit_code),
        (PodStage::Terminated, Some(0))
    );
    assert_eq!(done.times.finished, Some(T13_41_43 + 2_000_000_000));
    assert!(matches!(
        done.message,
        Some(faastwin_measure::k8s::TerminationMessage::Report(_))
    ));
    let failed = pod_facts(&pod("failed"));
    assert_eq!(failed.exit_code, Some(6));
}

#[test]
fn a_minimal_pod_without_status_is_pending() {
    let bare: Pod = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
    )
    .unwrap();
    let facts = pod_facts(&bare);
    assert_eq!(
        (facts.stage, facts.job, facts.exit_code),
        (PodStage::Pending, None, None)
    );
}

#[tokio::test]
async fn the_tracker_records_each_stage_when_it_is_current() {
    let tracker = Tracker::default();
    let done = tracker.register("faastwin-run1-r0-000007");
    tracker.apply(TrackerEvent::Job(Box::new(job("running")), 100));
    tracker.apply(TrackerEvent::Pod(Box::new(pod("pending")), 110));
    tracker.apply(TrackerEvent::Pod(Box::new(pod("scheduled")), 120));
    tracker.apply(TrackerEvent::Pod(Box::new(pod("running")), 130));
    tracker.apply(TrackerEvent::Pod(Box::new(pod("succeeded")), 140));
    tracker.apply(TrackerEvent::Pod(Box::new(pod("succeeded")), 145)); // a repeated update
    tracker.apply(TrackerEvent::Job(Box::new(job("complete")), 150));
    let obs = done.await.unwrap();
    assert_eq!(obs.t_pod_seen, Some(110));
    assert_eq!(obs.t_scheduled_seen, Some(120));
    assert_eq!(obs.t_running_seen, Some(130));
    assert_eq!(
        obs.t_terminated_seen,
        Some(140),
        "first sight, not the repeat"
    );
    assert_eq!(obs.t_done_seen, Some(150));
    assert_eq!(obs.outcome, Some(Outcome::Succeeded));
    assert_eq!(obs.report.as_ref().unwrap().bytes_read, 2173);
    assert_eq!(obs.platform_times.created, Some(T13_41_43));
    assert_eq!(
        obs.platform_times.completed,
        Some(T13_41_43 + 3_000_000_000)
    );
    assert_eq!(obs.node.as_deref(), Some("k8s-w2"));
}

#[tokio::test]
async fn collapsed_transitions_leave_missing_instants_empty() {
    let tracker = Tracker::default();
    let done = tracker.register("faastwin-run1-r0-000007");
    tracker.apply(TrackerEvent::Pod(Box::new(pod("pending")), 10));
    tracker.apply(TrackerEvent::Pod(Box::new(pod("succeeded")), 20));
    tracker.apply(TrackerEvent::Job(Box::new(job("complete")), 30));
    let obs = done.await.unwrap();
    assert_eq!(
        (obs.t_pod_seen, obs.t_terminated_seen, obs.t_done_seen),
        (Some(10), Some(20), Some(30))
    );
    assert_eq!(
        (obs.t_scheduled_seen, obs.t_running_seen),
        (None, None),
        "never invented"
    );
    // The platform's own (one-second) times are still there as a cross-check.
    assert!(obs.platform_times.scheduled.is_some() && obs.platform_times.started.is_some());
}

#[tokio::test]
async fn a_failed_job_carries_the_exit_code_and_the_workers_error() {
    let tracker = Tracker::default();
    let done = tracker.register("faastwin-run1-r0-000007");
    tracker.apply(TrackerEvent::WatchError("connection reset".into()));
    tracker.apply(TrackerEvent::Pod(Box::new(pod("failed")), 20));
    tracker.apply(TrackerEvent::Job(Box::new(job("failed")), 30));
    let obs = done.await.unwrap();
    assert_eq!(
        (obs.outcome, obs.exit_code),
        (Some(Outcome::Failed), Some(6))
    );
    assert!(obs.report.is_none());
    assert!(
        obs.error
            .as_deref()
            .unwrap()
            .contains("not a valid relay JSON object")
    );
    assert!(obs.notes[0].contains("connection reset"));
}

#[test]
fn events_of_other_jobs_are_ignored() {
    let tracker = Tracker::default();
    let _done = tracker.register("faastwin-run1-r0-000008");
    tracker.apply(TrackerEvent::Pod(Box::new(pod("running")), 20));
    tracker.apply(TrackerEvent::Job(Box::new(job("complete")), 30));
    let obs = tracker.unregister("faastwin-run1-r0-000008").unwrap();
    assert_eq!((obs.t_pod_seen, obs.t_done_seen), (None, None));
}

/// Issue 29.7: a resumed attempt's Job has a name of its own, so the earlier attempt's Job
/// and pod (still there after a datastore restart) cannot be adopted by name.
#[test]
fn a_later_attempt_has_a_job_name_of_its_own() {
    let second = InvocationSpec {
        attempt: 2,
        ..spec()
    };
    assert_eq!(job_name(&spec()), "faastwin-run1-r0-000007");
    assert_eq!(job_name(&second), "faastwin-run1-r0-000007-a2");
    let longest = InvocationSpec {
        run_id: "r".repeat(30),
        repetition: 999,
        invocation_id: 999_999,
        attempt: 99,
        ..spec()
    };
    assert!(job_name(&longest).len() <= 63, "{}", job_name(&longest));
}

/// Issue 29.7: instants that stand before this attempt's submit (an earlier attempt's pod,
/// 184 s before, in the finding) fail the invocation with the reason, while a platform
/// timestamp truncated to the second just before the submit is this attempt's.
#[test]
fn timings_from_before_the_submit_are_refused_not_recorded() {
    let submit = T13_41_43 as u64 + 400_000_000;
    let obs = |scheduled: i64| faastwin_measure::Observation {
        outcome: Some(Outcome::Succeeded),
        t_submit: Some(submit),
        t_done_seen: Some(submit + 3_000_000_000),
        platform_times: faastwin_measure::PlatformTimes {
            created: Some(T13_41_43),
            scheduled: Some(scheduled),
            ..Default::default()
        },
        ..Default::default()
    };
    let kind = faastwin_measure::PlatformKind::K8s;
    let own = faastwin_measure::InvocationRecord::new(kind, &spec(), obs(T13_41_43));
    assert!(own.succeeded(), "{own:?}");
    let adopted =
        faastwin_measure::InvocationRecord::new(kind, &spec(), obs(T13_41_43 - 184_000_000_000));
    assert_eq!(adopted.outcome, Outcome::Failed);
    assert!(
        adopted
            .error
            .contains("p_scheduled is 184.400 s before this attempt's submit"),
        "{}",
        adopted.error
    );
}
