//! `POST /api/webhooks/insight-internal`: trusted services report through signed Standard
//! Webhooks messages; and `INTERNAL_WEBHOOK_URL` receives `analysis.completed`/`failed`.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use domain::{AnalysisId, Finding, Severity};
use hmac::{Hmac, Mac};
use insight::Roles;
use insight_tests::receiver::{Behaviour, Receiver};
use insight_tests::{spawn_app_configured, worker_metadata, TestApp};
use reqwest::Response;
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn sign(id: &str, timestamp: i64, body: &str, secret: &str) -> String {
    let key = BASE64.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

async fn send_signed(
    app: &TestApp,
    id: &str,
    timestamp: i64,
    body: &Value,
    secret: &str,
) -> Response {
    let body = body.to_string();
    app.client
        .post(app.url("/api/webhooks/insight-internal"))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", sign(id, timestamp, &body, secret))
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn send(app: &TestApp, id: &str, body: &Value) -> Response {
    send_signed(app, id, chrono::Utc::now().timestamp(), body, SECRET).await
}

fn finding(severity: Severity, line: u32) -> Value {
    serde_json::to_value(Finding {
        severity,
        detector: "outside-runner".into(),
        rule: "r1".into(),
        category: "security".into(),
        file_path: "app/main.py".into(),
        line,
        column: None,
        end_line: None,
        end_column: None,
        message: "found by the outside runner".into(),
        suggestion: None,
        confidence: 0.7,
        auto_fixable: false,
        snippet: None,
        fingerprint: None,
    })
    .unwrap()
}

async fn spawn(receiver: &Receiver) -> TestApp {
    let url = receiver.url("internal", Behaviour::Succeed);
    spawn_app_configured(
        Roles {
            worker: false,
            ..Roles::default()
        },
        |config| {
            config.internal_webhook_secret = Some(SECRET.into());
            config.internal_webhook_url = Some(url);
        },
    )
    .await
}

#[tokio::test]
async fn unsigned_forged_or_stale_messages_are_refused_and_change_nothing() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let message = json!({"type": "project.created", "timestamp": "2026-12-01T00:00:00Z",
        "data": {"owner": app.user_id, "name": "shop", "gitRemote": "https://example.com/a.git"}});
    let events = app.event_count().await;

    let unsigned = app
        .client
        .post(app.url("/api/webhooks/insight-internal"))
        .json(&message)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert_eq!(
        unsigned.headers()["content-type"],
        "application/problem+json"
    );
    let forged = send_signed(
        &app,
        "msg_1",
        chrono::Utc::now().timestamp(),
        &message,
        "whsec_dGhpcyBpcyBub3QgdGhlIHJpZ2h0IHNlY3JldCBhdCBhbGw=",
    )
    .await;
    assert_eq!(forged.status(), 401);
    let stale = send_signed(
        &app,
        "msg_2",
        chrono::Utc::now().timestamp() - 301,
        &message,
        SECRET,
    )
    .await;
    assert_eq!(stale.status(), 401);
    let problem: Value = stale.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("300"));

    let unknown = send(
        &app,
        "msg_3",
        &json!({"type": "analysis.exploded", "data": {}}),
    )
    .await;
    assert_eq!(unknown.status(), 400);
    let bad = send(
        &app,
        "msg_4",
        &json!({"type": "project.created",
        "data": {"owner": app.user_id, "name": "", "gitRemote": "https://example.com/a.git"}}),
    )
    .await;
    assert_eq!(bad.status(), 400);
    assert_eq!(app.event_count().await, events, "nothing written");
    app.shutdown().await;
}

#[tokio::test]
async fn project_created_makes_the_project_once() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let message = json!({"type": "project.created", "timestamp": "2026-12-01T00:00:00Z",
        "data": {"owner": app.user_id, "name": "from-ci", "gitRemote": "https://example.com/ci.git",
                 "gitBranch": "develop"}});
    let response = send(&app, "msg_project_1", &message).await;
    assert_eq!(response.status(), 200);
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(receipt["outcome"], "applied");
    let project = receipt["projectId"].as_str().unwrap().to_string();

    let again = send(&app, "msg_project_1", &message).await;
    assert_eq!(again.status(), 200);
    let receipt: Value = again.json().await.unwrap();
    assert_eq!(receipt["outcome"], "duplicate");

    app.wait_for_projections().await;
    let list: Value = app.get("/api/insight/projects").await.json().await.unwrap();
    let projects = list["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0]["id"], project);
    assert_eq!(projects[0]["name"], "from-ci");
    let actor: String =
        sqlx::query_scalar("SELECT actor FROM events WHERE event_type = 'ProjectCreated'")
            .fetch_one(&app.app.services.pool)
            .await
            .unwrap();
    assert_eq!(actor, "system:internal-webhook");
    app.shutdown().await;
}

#[tokio::test]
async fn an_outside_runner_completes_a_running_analysis_and_the_internal_url_hears_of_it() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let project = app.create_project("shop").await;
    let analysis = app.submit_analysis(project).await;
    let completed = |summary: Value| {
        json!({"type": "analysis.completed", "timestamp": "2026-12-01T00:00:00Z",
            "data": {"analysisId": analysis,
                     "findings": [finding(Severity::Critical, 1), finding(Severity::Low, 2), finding(Severity::Low, 3)],
                     "summary": summary}})
    };
    let right =
        json!({"totalIssues": 3, "critical": 1, "high": 0, "medium": 0, "low": 2, "info": 0});

    // Still QUEUED: refused, and the id may be used again once it runs.
    let queued = send(&app, "msg_done", &completed(right.clone())).await;
    assert_eq!(queued.status(), 409);
    app.app
        .services
        .analyses
        .start(
            AnalysisId::from_uuid(analysis),
            "outside-runner",
            &worker_metadata(),
        )
        .await
        .unwrap();
    let events = app.event_count().await;
    let wrong = send(
        &app,
        "msg_wrong",
        &completed(json!({"totalIssues": 9, "critical": 9,
        "high": 0, "medium": 0, "low": 0, "info": 0})),
    )
    .await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        app.event_count().await,
        events,
        "a wrong summary writes nothing"
    );

    let response = send(&app, "msg_done", &completed(right)).await;
    assert_eq!(response.status(), 200);
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(receipt["analysisId"], analysis.to_string());
    app.wait_for_projections().await;
    let detail: Value = app
        .get(&format!("/api/insight/analysis/{analysis}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["analysis"]["status"], "COMPLETED");
    assert_eq!(detail["analysis"]["summary"]["totalIssues"], 3);
    assert_eq!(detail["analysis"]["summary"]["critical"], 1);
    assert_eq!(detail["issues"].as_array().unwrap().len(), 3);

    // INTERNAL_WEBHOOK_URL gets analysis.completed, signed with the internal secret.
    let hits = receiver
        .wait_for("internal", 1, Duration::from_secs(20))
        .await;
    let hit = &hits[0];
    assert_eq!(
        hit.header("webhook-signature"),
        sign(
            hit.header("webhook-id"),
            hit.header("webhook-timestamp").parse().unwrap(),
            &hit.body,
            SECRET
        )
    );
    let body = hit.json();
    assert_eq!(body["type"], "analysis.completed");
    assert_eq!(body["data"]["analysisId"], analysis.to_string());
    assert_eq!(body["data"]["summary"]["totalIssues"], 3);
    assert_eq!(body["data"]["owner"], app.user_id.to_string());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.hits("internal").len(),
        1,
        "only completed and failed go there"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn without_a_secret_the_internal_webhook_is_unavailable() {
    let app = insight_tests::spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/webhooks/insight-internal"))
        .json(&json!({"type": "project.created", "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    app.shutdown().await;
}
