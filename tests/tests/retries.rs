//! Each way an attempt can fail is retried with the policy's delays, then fails for good with
//! the last error. The job use case is driven directly (each call is one delivery), with the
//! real event store; the failing parts are the ports a job depends on.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use application::jobs::{
    AnalysisJobs, DetectorEngine, EngineFailure, JobOutcome, ProgressSender, RetryPolicy,
};
use async_trait::async_trait;
use domain::{AnalysisId, Finding};
use infrastructure::source::{GitLimits, GitSourceFetcher};
use insight_tests::{spawn_app, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

/// An engine that crashes the way a buggy detector would: a panic on its thread.
struct PanickingEngine {
    runs: AtomicUsize,
}

#[async_trait]
impl DetectorEngine for PanickingEngine {
    async fn run(
        &self,
        _root: &Path,
        _detectors: &[String],
        _progress: ProgressSender,
        _cancel: Arc<AtomicBool>,
    ) -> Result<Vec<Finding>, EngineFailure> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let crashed =
            tokio::task::spawn_blocking(|| -> Vec<Finding> { panic!("detector bug") }).await;
        crashed
            .map_err(|error| EngineFailure::Failed(format!("the detector engine crashed: {error}")))
    }
}

fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.email=d@example.com", "-c", "user.name=D"])
            .args(args)
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    };
    run(&["init", "-q", "-b", "main"]);
    std::fs::write(dir.path().join("a.js"), "let a = 1;\n").unwrap();
    run(&["add", "."]);
    run(&["commit", "-q", "-m", "one"]);
    dir
}

async fn queued_analysis(app: &TestApp, remote: &str) -> AnalysisId {
    let response = app
        .post_json(
            "/api/insight/projects",
            json!({"name": "r", "gitRemote": remote}),
        )
        .await;
    let project = response.json::<Value>().await.unwrap()["project"]["id"].clone();
    let response = app
        .post_json(
            "/api/insight/analysis",
            json!({"projectId": project, "detectors": ["eslint"]}),
        )
        .await;
    let id: Uuid = response.json::<Value>().await.unwrap()["analysisId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    AnalysisId::from_uuid(id)
}

/// Delivers the job until the use case stops asking for a retry; returns every outcome.
async fn deliver_until_settled(jobs: &AnalysisJobs, id: AnalysisId) -> Vec<JobOutcome> {
    let mut outcomes = Vec::new();
    for _ in 0..10 {
        let outcome = jobs
            .run(id, Arc::new(AtomicBool::new(false)), Uuid::now_v7())
            .await
            .unwrap();
        let again = matches!(outcome, JobOutcome::RetryAfter { .. });
        outcomes.push(outcome);
        if !again {
            break;
        }
    }
    outcomes
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        delays: vec![
            Duration::from_secs(5),
            Duration::from_secs(30),
            Duration::from_secs(120),
        ],
    }
}

async fn assert_failed_after_four_attempts(app: &TestApp, id: AnalysisId, says: &str) {
    app.wait_for_projections().await;
    let body: Value = app
        .get(&format!("/api/insight/analysis/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let analysis = &body["analysis"];
    assert_eq!(analysis["status"], "FAILED", "{body}");
    assert_eq!(analysis["attempt"], 4);
    assert_eq!(analysis["retryCount"], 3);
    assert!(
        analysis["error"].as_str().unwrap().contains(says),
        "{analysis}"
    );
}

#[tokio::test]
async fn a_crashing_detector_is_retried_with_growing_delays_then_fails() {
    let app = spawn_app().await;
    let repo = repository();
    let id = queued_analysis(&app, repo.path().to_str().unwrap()).await;
    let engine = Arc::new(PanickingEngine {
        runs: AtomicUsize::new(0),
    });
    let jobs = AnalysisJobs::new(
        app.app.services.analyses.clone(),
        Arc::new(GitSourceFetcher::default()),
        engine.clone(),
        policy(),
        "test-worker",
    );
    let outcomes = deliver_until_settled(&jobs, id).await;
    let delays: Vec<Duration> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            JobOutcome::RetryAfter { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect();
    assert_eq!(delays, policy().delays, "the policy's delays, in order");
    assert!(matches!(outcomes.last(), Some(JobOutcome::Failed { .. })));
    assert_eq!(engine.runs.load(Ordering::SeqCst), 4);
    assert_failed_after_four_attempts(&app, id, "crashed").await;

    // A redelivery after the end changes nothing.
    let late = jobs
        .run(id, Arc::new(AtomicBool::new(false)), Uuid::now_v7())
        .await
        .unwrap();
    assert_eq!(late, JobOutcome::Skipped);
    app.shutdown().await;
}

#[tokio::test]
async fn a_fetch_that_times_out_is_retried_then_fails_with_the_timeout() {
    let app = spawn_app().await;
    let repo = repository();
    let id = queued_analysis(&app, repo.path().to_str().unwrap()).await;
    let jobs = AnalysisJobs::new(
        app.app.services.analyses.clone(),
        Arc::new(GitSourceFetcher::new(GitLimits {
            timeout: Duration::from_micros(1),
            max_bytes: 1024 * 1024,
        })),
        Arc::new(infrastructure::engine::DetectorsEngine::default()),
        policy(),
        "test-worker",
    );
    let outcomes = deliver_until_settled(&jobs, id).await;
    assert_eq!(outcomes.len(), 4);
    assert_failed_after_four_attempts(&app, id, "took longer").await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_source_over_the_size_bound_is_an_attempt_failure() {
    let app = spawn_app().await;
    let repo = repository();
    let id = queued_analysis(&app, repo.path().to_str().unwrap()).await;
    let jobs = AnalysisJobs::new(
        app.app.services.analyses.clone(),
        Arc::new(GitSourceFetcher::new(GitLimits {
            timeout: Duration::from_secs(30),
            max_bytes: 4,
        })),
        Arc::new(infrastructure::engine::DetectorsEngine::default()),
        RetryPolicy { delays: vec![] },
        "test-worker",
    );
    let outcomes = deliver_until_settled(&jobs, id).await;
    assert!(
        matches!(&outcomes[..], [JobOutcome::Failed { error }] if error.contains("larger than"))
    );
    app.shutdown().await;
}
