//! Plans and quotas through the real API, Postgres and (for run slots) NATS and workers:
//! exact limits under concurrency in one process and in two, the 429 and 403 answers,
//! refunds, the project limit and the running-at-once limit.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use application::metadata::{Actor, CommandMetadata};
use application::Plan;
use domain::{AnalysisId, ProjectId};
use futures::future::join_all;
use insight::Roles;
use insight_tests::{create_user_on, spawn_app, spawn_app_configured, TestApp};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use uuid::Uuid;

async fn user_on(app: &TestApp, plan: Plan) -> String {
    create_user_on(&app.app.services, "plan", plan).await.1
}

async fn project_of(app: &TestApp, token: &str) -> Uuid {
    let response = app
        .request_as(token, Method::POST, "/api/insight/projects")
        .json(&json!({"name": "shop", "gitRemote": "https://example.com/acme/shop.git"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["project"]["id"].as_str().unwrap().parse().unwrap()
}

async fn submit(client: &Client, base: &str, token: &str, project: Uuid) -> reqwest::Response {
    client
        .post(format!("{base}/api/insight/analysis"))
        .bearer_auth(token)
        .json(&json!({"projectId": project, "detectors": ["security"]}))
        .send()
        .await
        .unwrap()
}

async fn usage(app: &TestApp, token: &str) -> Value {
    let response = app
        .request_as(token, Method::GET, "/api/insight/usage")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// FREE's hourly rate (5) would bind before its period quota (10): these tests of the period
/// quota lift the hourly one.
fn period_quota_only(config: &mut infrastructure::Config) {
    config.plans.free.analyses_per_hour = None;
}

#[tokio::test]
async fn fifty_simultaneous_submissions_by_a_free_user_give_exactly_ten() {
    let app = spawn_app_configured(
        Roles {
            worker: false,
            ..Roles::default()
        },
        period_quota_only,
    )
    .await;
    let token = user_on(&app, Plan::Free).await;
    let project = project_of(&app, &token).await;
    let client = Client::new();
    let responses =
        join_all((0..50).map(|_| submit(&client, &app.base_url, &token, project))).await;
    let created = responses.iter().filter(|r| r.status() == 201).count();
    let refused = responses.iter().filter(|r| r.status() == 429).count();
    assert_eq!((created, refused), (10, 40));
    assert_eq!(app.events_of_type("AnalysisRequested").await, 10);
    assert_eq!(app.events_of_type("AnalysisCounted").await, 10);
    let usage = usage(&app, &token).await;
    assert_eq!(usage["used"]["analysesPerPeriod"], 10);
    assert_eq!(usage["remaining"]["analysesPerPeriod"], 0);
}

#[tokio::test]
async fn two_api_processes_share_one_quota_exactly() {
    let app = spawn_app_configured(
        Roles {
            worker: false,
            ..Roles::default()
        },
        period_quota_only,
    )
    .await;
    let second = app.another_api_process().await;
    let second_url = format!("http://{}", second.address.unwrap());
    let token = user_on(&app, Plan::Free).await;
    let project = project_of(&app, &token).await;
    let client = Client::new();
    let responses = join_all((0..50).map(|i| {
        let base = if i % 2 == 0 {
            app.base_url.clone()
        } else {
            second_url.clone()
        };
        let client = client.clone();
        let token = token.clone();
        async move { submit(&client, &base, &token, project).await.status() }
    }))
    .await;
    let created = responses.iter().filter(|s| s.as_u16() == 201).count();
    let refused = responses.iter().filter(|s| s.as_u16() == 429).count();
    assert_eq!((created, refused), (10, 40));
    assert_eq!(app.events_of_type("AnalysisRequested").await, 10);
    second.stop().await.unwrap();
}

#[tokio::test]
async fn the_hourly_rate_is_exact_and_answers_429_with_retry_after_and_the_limit() {
    let app = spawn_app().await;
    let token = user_on(&app, Plan::Free).await;
    let project = project_of(&app, &token).await;
    let client = Client::new();
    let responses =
        join_all((0..20).map(|_| submit(&client, &app.base_url, &token, project))).await;
    assert_eq!(responses.iter().filter(|r| r.status() == 201).count(), 5);
    let refused = responses
        .into_iter()
        .find(|r| r.status() == 429)
        .expect("a refusal");
    let retry_after: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "RATE_LIMITED");
    assert_eq!(body["limit"], 5);
    assert_eq!(body["used"], 5);
    assert_eq!(body["upgradeUrl"], "/pricing");
    assert!(body["error"].as_str().unwrap().contains("5 of 5"));
    assert!(body["resetsAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn the_period_quota_answers_429_naming_when_it_resets() {
    let app = spawn_app_configured(Roles::default(), |config| {
        config.plans.free.analyses_per_hour = None;
        config.plans.free.analyses_per_period = Some(2);
    })
    .await;
    let token = user_on(&app, Plan::Free).await;
    let project = project_of(&app, &token).await;
    let client = Client::new();
    for _ in 0..2 {
        assert_eq!(
            submit(&client, &app.base_url, &token, project)
                .await
                .status(),
            201
        );
    }
    let refused = submit(&client, &app.base_url, &token, project).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "QUOTA_EXCEEDED");
    let resets_at: chrono::DateTime<chrono::Utc> =
        body["resetsAt"].as_str().unwrap().parse().unwrap();
    // FREE periods are calendar months (UTC): the quota starts again on the 1st.
    assert_eq!(
        resets_at,
        domain::Period::calendar_month(chrono::Utc::now()).end
    );
    let usage = usage(&app, &token).await;
    assert_eq!(usage["resetsAt"], body["resetsAt"]);
}

#[tokio::test]
async fn an_analysis_cancelled_before_it_started_gives_its_unit_back() {
    let app = spawn_app_configured(
        Roles {
            worker: false,
            ..Roles::default()
        },
        |config| {
            config.plans.free.analyses_per_hour = None;
            config.plans.free.analyses_per_period = Some(2);
        },
    )
    .await;
    let token = user_on(&app, Plan::Free).await;
    let project = project_of(&app, &token).await;
    let client = Client::new();
    let first: Value = submit(&client, &app.base_url, &token, project)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        submit(&client, &app.base_url, &token, project)
            .await
            .status(),
        201
    );
    assert_eq!(
        submit(&client, &app.base_url, &token, project)
            .await
            .status(),
        429
    );
    let id = first["analysisId"].as_str().unwrap();
    let cancelled = app
        .request_as(
            &token,
            Method::POST,
            &format!("/api/insight/analysis/{id}/cancel"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    // The subscription policy reads the cancellation from the log and refunds the unit.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if usage(&app, &token).await["used"]["analysesPerPeriod"] == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no refund");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        submit(&client, &app.base_url, &token, project)
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn the_project_limit_is_exact_and_an_archived_project_frees_its_place() {
    let app = spawn_app().await;
    let (user, token) = create_user_on(&app.app.services, "projects", Plan::Free).await;
    let client = Client::new();
    let responses = join_all((0..8).map(|i| {
        client
            .post(app.url("/api/insight/projects"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("p{i}"), "gitRemote": "https://example.com/a/b.git"}))
            .send()
    }))
    .await;
    let statuses: Vec<u16> = responses
        .iter()
        .map(|r| r.as_ref().unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 403).count(),
        5,
        "{statuses:?}"
    );
    let refused = responses
        .into_iter()
        .map(Result::unwrap)
        .find(|r| r.status() == 403)
        .unwrap();
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "PROJECT_LIMIT_REACHED");
    assert_eq!(body["limit"], 3);
    assert_eq!(body["upgradeUrl"], "/pricing");
    assert_eq!(app.events_of_type("ProjectCreated").await, 3);

    let listed: Value = app
        .request_as(&token, Method::GET, "/api/insight/projects")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first: ProjectId = listed["projects"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    app.app
        .services
        .projects
        .archive(user, first, Uuid::now_v7())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if usage(&app, &token).await["used"]["projects"] == 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "project not freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = client
        .post(app.url("/api/insight/projects"))
        .bearer_auth(&token)
        .json(&json!({"name": "again", "gitRemote": "https://example.com/a/b.git"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
}

#[tokio::test]
async fn a_plan_change_applies_at_once() {
    let app = spawn_app().await;
    let (user, token) = create_user_on(&app.app.services, "upgrade", Plan::Free).await;
    let project = project_of(&app, &token).await;
    let client = Client::new();
    for _ in 0..5 {
        assert_eq!(
            submit(&client, &app.base_url, &token, project)
                .await
                .status(),
            201
        );
    }
    assert_eq!(
        submit(&client, &app.base_url, &token, project)
            .await
            .status(),
        429
    );
    let metadata = CommandMetadata::new(Actor::System("test".into()), Uuid::now_v7());
    app.app
        .services
        .subscriptions
        .change_plan(user, Plan::Pro, &metadata)
        .await
        .unwrap();
    assert_eq!(
        submit(&client, &app.base_url, &token, project)
            .await
            .status(),
        201
    );
    let usage = usage(&app, &token).await;
    assert_eq!(usage["plan"], "PRO");
    assert_eq!(usage["limits"]["analysesPerPeriod"], 1000);
    assert_eq!(usage["used"]["analysesPerPeriod"], 6);
    assert_eq!(usage["remaining"]["analysesPerHour"], 94);
    assert_eq!(usage["canRunCloudAnalysis"], true);
}

/// Each API process keeps the subscriptions it charges in memory; a plan change made by
/// another process must still count at once: a refusal is only ever decided on the log.
#[tokio::test]
async fn a_plan_change_made_by_another_process_applies_at_once_here() {
    let app = spawn_app().await;
    let other = app.another_api_process().await;
    let (user, token) = create_user_on(&app.app.services, "elsewhere", Plan::Free).await;
    let project = project_of(&app, &token).await;
    let client = Client::new();
    for _ in 0..5 {
        let response = submit(&client, &app.base_url, &token, project).await;
        assert_eq!(response.status(), 201);
    }
    // Full now, which this process's copy knows; asked through the log, not by a refusal
    // (a refusal drops the copy).
    assert_eq!(usage(&app, &token).await["remaining"]["analysesPerHour"], 0);

    // An upgrade elsewhere: this process's copy would refuse. Then a downgrade elsewhere:
    // this process's copy (now PRO) would accept.
    let metadata = CommandMetadata::new(Actor::System("test".into()), Uuid::now_v7());
    for (plan, expected) in [(Plan::Pro, 201), (Plan::Free, 429)] {
        other
            .services
            .subscriptions
            .change_plan(user, plan, &metadata)
            .await
            .unwrap();
        let response = submit(&client, &app.base_url, &token, project).await;
        assert_eq!(response.status(), expected, "after the change to {plan:?}");
    }
    assert_eq!(app.events_of_type("AnalysisRequested").await, 6);
    assert_eq!(app.events_of_type("AnalysisCounted").await, 6);
    other.stop().await.unwrap();
}

#[tokio::test]
async fn usage_without_a_token_is_401_and_a_new_user_starts_on_free() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .get(app.url("/api/insight/usage"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let token = user_on(&app, Plan::Free).await;
    let usage = usage(&app, &token).await;
    assert_eq!(usage["plan"], "FREE");
    assert_eq!(usage["status"], "active");
    assert_eq!(usage["limits"]["analysesPerPeriod"], 10);
    assert_eq!(usage["limits"]["analysesPerHour"], 5);
    assert_eq!(usage["limits"]["concurrentAnalyses"], 1);
    assert_eq!(usage["limits"]["projects"], 3);
    assert_eq!(usage["limits"]["retentionDays"], 30);
    assert_eq!(usage["remaining"]["analysesPerPeriod"], 10);
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.email=dev@example.com", "-c", "user.name=Dev"])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Over the running-at-once limit, analyses are accepted and wait QUEUED: with FREE's one
/// slot, the event log shows each analysis starting only after the previous one finished.
#[tokio::test]
async fn analyses_over_the_running_limit_wait_queued_until_a_slot_frees() {
    let app = spawn_app_configured(Roles::default(), period_quota_only).await;
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(repo.path().join("app.js"), "debugger;\nvar x = 1;\n").unwrap();
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "one"]);
    let token = user_on(&app, Plan::Free).await;
    let created = app
        .request_as(&token, Method::POST, "/api/insight/projects")
        .json(&json!({"name": "repo", "gitRemote": repo.path().to_str().unwrap()}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let project: Uuid = created.json::<Value>().await.unwrap()["project"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let client = Client::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let response = submit(&client, &app.base_url, &token, project).await;
        assert_eq!(
            response.status(),
            201,
            "accepted even over the running limit"
        );
        let body: Value = response.json().await.unwrap();
        ids.push(
            body["analysisId"]
                .as_str()
                .unwrap()
                .parse::<AnalysisId>()
                .unwrap(),
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let finished: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE event_type = 'AnalysisCompleted'",
        )
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap();
        if finished == 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "analyses did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // In log order, never two analyses of this user between start and finish at once.
    let lifecycle: Vec<(String, String)> = sqlx::query_as(
        "SELECT aggregate_id, event_type FROM events \
          WHERE aggregate_type = 'Analysis' \
            AND event_type IN ('AnalysisStarted', 'AnalysisCompleted') \
          ORDER BY transaction_id, global_position",
    )
    .fetch_all(&app.app.services.pool)
    .await
    .unwrap();
    let mut running = 0;
    for (analysis, event) in &lifecycle {
        running += if event == "AnalysisStarted" { 1 } else { -1 };
        assert!(
            running <= 1,
            "{analysis} started while another ran: {lifecycle:?}"
        );
    }
    // The last slot is freed by the subscription policy once it reads the completion.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while usage(&app, &token).await["used"]["concurrentAnalyses"] != 0 {
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn analyses_older_than_the_plans_retention_are_no_longer_served() {
    let app = spawn_app().await;
    let (user, token) = create_user_on(&app.app.services, "retention", Plan::Free).await;
    let project = project_of(&app, &token).await;
    let client = Client::new();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = submit(&client, &app.base_url, &token, project).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        ids.push(body["analysisId"].as_str().unwrap().to_string());
    }
    // The first one as if it had been requested 31 days ago (FREE keeps 30).
    sqlx::query("UPDATE rm_analyses SET requested_at = now() - interval '31 days' WHERE id = $1")
        .bind(ids[0].parse::<Uuid>().unwrap())
        .execute(&app.app.services.pool)
        .await
        .unwrap();
    let list = |token: &str| {
        app.request_as(token, Method::GET, "/api/insight/analyses")
            .send()
    };
    let listed: Value = list(&token).await.unwrap().json().await.unwrap();
    assert_eq!(listed["pagination"]["total"], 1, "{listed}");
    assert_eq!(listed["analyses"][0]["id"], ids[1].as_str());
    let get_old = |suffix: &str| {
        app.request_as(
            &token,
            Method::GET,
            &format!("/api/insight/analysis/{}{suffix}", ids[0]),
        )
        .send()
    };
    assert_eq!(get_old("").await.unwrap().status(), 404);
    assert_eq!(get_old("/stream").await.unwrap().status(), 404);

    // The log still holds it: a plan with a longer retention serves it again.
    let metadata = CommandMetadata::new(Actor::System("test".into()), Uuid::now_v7());
    app.app
        .services
        .subscriptions
        .change_plan(user, Plan::Pro, &metadata)
        .await
        .unwrap();
    let listed: Value = list(&token).await.unwrap().json().await.unwrap();
    assert_eq!(listed["pagination"]["total"], 2, "{listed}");
    assert_eq!(get_old("").await.unwrap().status(), 200);
}

#[tokio::test]
async fn charges_across_snapshot_boundaries_keep_the_subscription_exact() {
    // The subscription is snapshotted every 30 events: 65 charges cross two refreshes,
    // each written in the transaction of the charge that crossed it.
    let app = spawn_app().await;
    let project = project_of(&app, &app.token).await;
    let client = Client::new();
    for _ in 0..65 {
        let response = submit(&client, &app.base_url, &app.token, project).await;
        assert_eq!(response.status(), 201);
    }
    let (last_sequence, version): (i64, i64) = sqlx::query_as(
        "SELECT last_sequence, current_snapshot FROM snapshots \
         WHERE aggregate_type = 'Subscription' AND aggregate_id = $1",
    )
    .bind(app.user_id.to_string())
    .fetch_one(&app.app.services.pool)
    .await
    .unwrap();
    assert!(last_sequence >= 60, "snapshot at {last_sequence}");
    assert!(version >= 2, "snapshot refreshed {version} times");
    let usage = usage(&app, &app.token).await;
    assert_eq!(usage["used"]["analysesPerPeriod"], 65);
    assert_eq!(usage["used"]["analysesPerHour"], 65);
}
