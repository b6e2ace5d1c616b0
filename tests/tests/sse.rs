//! Live progress over Server-Sent Events: one analysis's status, progress and final summary,
//! resumable with Last-Event-ID, closed after the terminal event, for its owner only.

use std::time::Duration;

use domain::{AnalysisId, Finding, Severity};
use insight_tests::{spawn_app, worker_metadata, TestApp};
use reqwest::{Method, Response};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone)]
struct SseEvent {
    id: i64,
    name: String,
    data: Value,
}

/// Reads SSE frames from a streaming response: `count` events, or until the stream closes
/// when `count` is None.
async fn read_events(response: &mut Response, count: Option<usize>) -> (Vec<SseEvent>, bool) {
    let mut buffer = String::new();
    let mut events = Vec::new();
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let (mut id, mut name, mut data) = (None, String::new(), String::new());
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("id:") {
                    id = Some(value.trim().parse().unwrap());
                } else if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim());
                }
            }
            if let Some(id) = id {
                events.push(SseEvent {
                    id,
                    name,
                    data: serde_json::from_str(&data).unwrap(),
                });
                if count.is_some_and(|count| events.len() >= count) {
                    return (events, false);
                }
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("the stream goes on or closes")
            .unwrap();
        match chunk {
            Some(bytes) => buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
            None => return (events, true),
        }
    }
}

async fn open(app: &TestApp, analysis: Uuid, last_event_id: Option<i64>) -> Response {
    let mut request = app.request(
        Method::GET,
        &format!("/api/insight/analysis/{analysis}/stream"),
    );
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    request.send().await.unwrap()
}

fn finding(severity: Severity, line: u32) -> Finding {
    Finding {
        severity,
        detector: "security".into(),
        rule: "sql-injection".into(),
        category: "security".into(),
        file_path: "src/db.js".into(),
        line,
        column: None,
        end_line: None,
        end_column: None,
        message: "unsafe query".into(),
        suggestion: None,
        confidence: 0.9,
        auto_fixable: false,
        snippet: None,
        fingerprint: None,
    }
}

#[tokio::test]
async fn a_client_that_reconnects_with_last_event_id_misses_nothing_and_sees_the_end() {
    let app = spawn_app().await;
    let project = app.create_project("shop").await;
    let analysis = app.submit_analysis(project).await;
    let id = AnalysisId::from_uuid(analysis);
    let services = app.app.services.analyses.clone();

    let mut first = open(&app, analysis, None).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "text/event-stream");
    services.start(id, "w1", &worker_metadata()).await.unwrap();
    let (seen, closed) = read_events(&mut first, Some(2)).await;
    assert!(!closed);
    assert_eq!(seen[0].name, "status");
    assert_eq!(seen[0].data["status"], "QUEUED");
    assert_eq!(seen[1].data["status"], "RUNNING");
    drop(first);

    // While the client is away the analysis moves on and finishes.
    services
        .report_progress(id, 40, &worker_metadata())
        .await
        .unwrap();
    services
        .record_batch(
            id,
            1,
            vec![finding(Severity::High, 3), finding(Severity::Low, 9)],
            &worker_metadata(),
        )
        .await
        .unwrap();
    services
        .report_progress(id, 90, &worker_metadata())
        .await
        .unwrap();

    let mut second = open(&app, analysis, Some(seen[1].id)).await;
    assert_eq!(second.status(), 200);
    let (more, closed) = read_events(&mut second, Some(3)).await;
    assert!(!closed);
    services.complete(id, &worker_metadata()).await.unwrap();
    let (rest, closed) = read_events(&mut second, None).await;
    assert!(closed, "the stream ends after the terminal event");

    let all: Vec<SseEvent> = seen.into_iter().chain(more).chain(rest).collect();
    let ids: Vec<i64> = all.iter().map(|event| event.id).collect();
    let mut expected = ids.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(ids, expected, "in order, none twice");
    let names: Vec<&str> = all.iter().map(|event| event.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "status",
            "status",
            "progress",
            "issues",
            "progress",
            "completed"
        ]
    );
    assert_eq!(all[2].data["progress"], 40);
    assert_eq!(all[3].data["count"], 2);
    let last = all.last().unwrap();
    assert_eq!(last.data["status"], "COMPLETED");
    assert_eq!(last.data["summary"]["totalIssues"], 2);
    assert_eq!(last.data["summary"]["high"], 1);

    // A stream opened after the end replays and closes; one opened past the end just closes.
    let mut late = open(&app, analysis, None).await;
    let (replayed, closed) = read_events(&mut late, None).await;
    assert!(closed);
    assert_eq!(replayed.len(), all.len());
    let mut done = open(&app, analysis, Some(last.id)).await;
    let (nothing, closed) = read_events(&mut done, None).await;
    assert!(closed && nothing.is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn only_the_owner_may_watch_and_a_bad_last_event_id_is_refused() {
    let app = spawn_app().await;
    let project = app.create_project("shop").await;
    let analysis = app.submit_analysis(project).await;
    let (_, stranger) = insight_tests::create_user(&app.app.services, "stranger").await;
    let response = app
        .request_as(
            &stranger,
            Method::GET,
            &format!("/api/insight/analysis/{analysis}/stream"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = open(&app, Uuid::new_v4(), None).await;
    assert_eq!(response.status(), 404);
    let response = app
        .request(
            Method::GET,
            &format!("/api/insight/analysis/{analysis}/stream"),
        )
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .client
        .get(app.url(&format!("/api/insight/analysis/{analysis}/stream")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    app.shutdown().await;
}
