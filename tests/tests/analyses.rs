//! Analyses over REST, with the worker side driven through the application's use cases.

use domain::{AnalysisId, Finding, ProjectId, ProjectName, Severity};
use insight_tests::{spawn_app, worker_metadata, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

fn finding(severity: Severity, detector: &str, category: &str, path: &str, line: u32) -> Finding {
    Finding {
        severity,
        detector: detector.into(),
        rule: format!("{detector}-rule"),
        category: category.into(),
        file_path: path.into(),
        line,
        column: Some(3),
        end_line: Some(line),
        end_column: Some(9),
        message: format!("{severity} in {path}:{line}"),
        suggestion: Some("fix it".into()),
        confidence: 0.8,
        auto_fixable: false,
        snippet: Some("let x = 1;".into()),
        fingerprint: Some(format!("fp-{path}-{line}")),
    }
}

async fn start(app: &TestApp, id: Uuid) {
    app.app
        .services
        .analyses
        .start(AnalysisId::from_uuid(id), "w1", &worker_metadata())
        .await
        .unwrap();
}

async fn record(app: &TestApp, id: Uuid, batch: u32, findings: Vec<Finding>) {
    app.app
        .services
        .analyses
        .record_batch(
            AnalysisId::from_uuid(id),
            batch,
            findings,
            &worker_metadata(),
        )
        .await
        .unwrap();
}

async fn complete(app: &TestApp, id: Uuid) {
    app.app
        .services
        .analyses
        .complete(AnalysisId::from_uuid(id), &worker_metadata())
        .await
        .unwrap();
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_submitted_analysis_runs_to_completion_with_its_findings_in_order() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let id = app.submit_analysis(project_id).await;

    let queued = get_json(&app, &format!("/api/insight/analysis/{id}")).await;
    assert_eq!(queued["analysis"]["status"], "QUEUED");
    assert_eq!(queued["analysis"]["projectName"], "shop");
    assert_eq!(queued["issues"], json!([]));

    start(&app, id).await;
    app.app
        .services
        .analyses
        .report_progress(AnalysisId::from_uuid(id), 40, &worker_metadata())
        .await
        .unwrap();
    record(
        &app,
        id,
        1,
        vec![
            finding(Severity::Low, "eslint", "style", "src/b.ts", 4),
            finding(Severity::Critical, "security", "secrets", "src/z.ts", 9),
            finding(Severity::High, "security", "secrets", "src/a.ts", 20),
        ],
    )
    .await;
    record(
        &app,
        id,
        2,
        vec![
            finding(Severity::High, "eslint", "bugs", "src/a.ts", 3),
            finding(
                Severity::Info,
                "complexity",
                "maintainability",
                "src/a.ts",
                1,
            ),
        ],
    )
    .await;
    app.wait_for_projections().await;
    let running = get_json(&app, &format!("/api/insight/analysis/{id}")).await;
    assert_eq!(running["analysis"]["status"], "RUNNING");
    assert_eq!(running["analysis"]["progress"], 40);
    assert_eq!(running["analysis"]["attempt"], 1);

    complete(&app, id).await;
    app.wait_for_projections().await;
    let done = get_json(&app, &format!("/api/insight/analysis/{id}")).await;
    let analysis = &done["analysis"];
    assert_eq!(analysis["status"], "COMPLETED");
    assert_eq!(analysis["progress"], 100);
    assert_eq!(
        analysis["summary"],
        json!({"totalIssues": 5, "critical": 1, "high": 2, "medium": 0, "low": 1, "info": 1})
    );
    assert!(analysis["timing"]["startedAt"].is_string());
    assert!(analysis["timing"]["finishedAt"].is_string());
    assert!(analysis["timing"]["duration"].as_i64().unwrap() >= 0);
    let order: Vec<(String, String, i64)> = done["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| {
            (
                issue["severity"].as_str().unwrap().to_string(),
                issue["filePath"].as_str().unwrap().to_string(),
                issue["line"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![
            ("CRITICAL".into(), "src/z.ts".into(), 9),
            ("HIGH".into(), "src/a.ts".into(), 3),
            ("HIGH".into(), "src/a.ts".into(), 20),
            ("LOW".into(), "src/b.ts".into(), 4),
            ("INFO".into(), "src/a.ts".into(), 1),
        ]
    );
    let first = &done["issues"][0];
    assert_eq!(first["detector"], "security");
    assert_eq!(first["rule"], "security-rule");
    assert_eq!(first["category"], "secrets");
    assert_eq!(first["suggestion"], "fix it");
    assert_eq!(first["confidence"], 0.8);
    assert_eq!(done["pagination"]["total"], 5);
    app.shutdown().await;
}

#[tokio::test]
async fn a_batch_recorded_twice_counts_once() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let id = app.submit_analysis(project_id).await;
    start(&app, id).await;
    let batch = vec![finding(Severity::High, "security", "secrets", "a.js", 1)];
    record(&app, id, 1, batch.clone()).await;
    record(&app, id, 1, batch).await;
    complete(&app, id).await;
    app.wait_for_projections().await;
    let done = get_json(&app, &format!("/api/insight/analysis/{id}")).await;
    assert_eq!(done["analysis"]["summary"]["totalIssues"], 1);
    assert_eq!(done["issues"].as_array().unwrap().len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn issues_page_by_cursor_and_by_number_in_the_same_order_with_filters() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let id = app.submit_analysis(project_id).await;
    start(&app, id).await;
    let severities = Severity::ALL;
    for batch in 0..3u32 {
        let findings = (0..50u32)
            .map(|i| {
                let n = batch * 50 + i;
                finding(
                    severities[(n % 5) as usize],
                    if n % 2 == 0 { "security" } else { "eslint" },
                    if n % 3 == 0 { "secrets" } else { "bugs" },
                    &format!(
                        "{}/file{:03}.ts",
                        if n % 4 == 0 { "lib" } else { "src" },
                        n % 17
                    ),
                    n % 11 + 1,
                )
            })
            .collect();
        record(&app, id, batch + 1, findings).await;
    }
    complete(&app, id).await;
    app.wait_for_projections().await;

    let base = format!("/api/insight/analysis/{id}");
    let mut by_cursor = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("{base}?limit=40"),
            Some(cursor) => format!("{base}?limit=40&cursor={cursor}"),
        };
        let page = get_json(&app, &path).await;
        assert_eq!(page["pagination"]["total"], 150);
        by_cursor.extend(page["issues"].as_array().unwrap().iter().cloned());
        match page["pagination"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(by_cursor.len(), 150);
    let mut by_number = Vec::new();
    for page in 1..=4 {
        let body = get_json(&app, &format!("{base}?limit=40&page={page}")).await;
        assert_eq!(body["pagination"]["totalPages"], 4);
        assert_eq!(body["pagination"]["page"], page);
        by_number.extend(body["issues"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(by_cursor, by_number);
    let keys: Vec<(i64, String, i64)> = by_cursor
        .iter()
        .map(|issue| {
            let rank = issue["severity"]
                .as_str()
                .unwrap()
                .parse::<Severity>()
                .unwrap()
                .rank() as i64;
            (
                rank,
                issue["filePath"].as_str().unwrap().to_string(),
                issue["line"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "CRITICAL first, then path, then line");
    let ids: std::collections::HashSet<&str> = by_cursor
        .iter()
        .map(|issue| issue["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 150);

    let default_page = get_json(&app, &base).await;
    assert_eq!(default_page["pagination"]["limit"], 50);
    assert_eq!(default_page["issues"].as_array().unwrap().len(), 50);

    // Filters, each checked against the full list.
    let expect = |predicate: &dyn Fn(&Value) -> bool| {
        by_cursor.iter().filter(|issue| predicate(issue)).count() as u64
    };
    let filters: Vec<(&str, u64)> = vec![
        (
            "severity=CRITICAL",
            expect(&|i| i["severity"] == "CRITICAL"),
        ),
        (
            "severity=critical,low",
            expect(&|i| i["severity"] == "CRITICAL" || i["severity"] == "LOW"),
        ),
        ("detector=eslint", expect(&|i| i["detector"] == "eslint")),
        ("category=secrets", expect(&|i| i["category"] == "secrets")),
        (
            "filePath=lib/",
            expect(&|i| i["filePath"].as_str().unwrap().starts_with("lib/")),
        ),
        (
            "filePath=src/file00&detector=security",
            expect(&|i| {
                i["filePath"].as_str().unwrap().starts_with("src/file00")
                    && i["detector"] == "security"
            }),
        ),
    ];
    for (filter, expected) in filters {
        let body = get_json(&app, &format!("{base}?limit=200&{filter}")).await;
        assert_eq!(body["pagination"]["total"], expected, "{filter}");
        assert_eq!(
            body["issues"].as_array().unwrap().len() as u64,
            expected,
            "{filter}"
        );
        assert!(expected > 0, "{filter} matches something");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn an_idempotency_key_returns_the_same_analysis_even_under_concurrency() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let send = |key: &'static str| {
        app.request(Method::POST, "/api/insight/analysis")
            .header("idempotency-key", key)
            .json(&json!({"projectId": project_id}))
            .send()
    };
    let responses = futures::future::join_all((0..8).map(|_| send("build-42"))).await;
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            201 => created += 1,
            200 => {}
            other => panic!(
                "unexpected status {other}: {}",
                response.text().await.unwrap()
            ),
        }
        let body: Value = response.json().await.unwrap();
        ids.insert(body["analysisId"].as_str().unwrap().to_string());
    }
    let requested_so_far: Vec<(String, i64)> = sqlx::query_as(
        "SELECT aggregate_id, sequence FROM events WHERE event_type = 'AnalysisRequested'",
    )
    .fetch_all(&app.app.services.pool)
    .await
    .unwrap();
    assert_eq!(ids.len(), 1, "{requested_so_far:?}");
    assert_eq!(created, 1, "{requested_so_far:?}");
    let again = send("build-42").await.unwrap();
    assert_eq!(again.status(), 200);
    let other = send("build-43").await.unwrap();
    assert_eq!(other.status(), 201);
    assert_eq!(app.events_of_type("AnalysisRequested").await, 2);
    app.shutdown().await;
}

#[tokio::test]
async fn someone_elses_or_an_unknown_project_or_analysis_is_404() {
    let app = spawn_app().await;
    let (_, stranger) = insight_tests::create_user(&app.app.services, "stranger").await;
    let project_id = app.create_project("shop").await;
    let analysis_id = app.submit_analysis(project_id).await;
    let before = app.event_count().await;

    for project in [project_id, Uuid::new_v4()] {
        let response = app
            .request_as(&stranger, Method::POST, "/api/insight/analysis")
            .json(&json!({"projectId": project}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
    for path in [
        format!("/api/insight/analysis/{analysis_id}"),
        format!("/api/insight/projects/{project_id}"),
        format!("/api/insight/analysis/{}", Uuid::new_v4()),
    ] {
        let response = app
            .request_as(&stranger, Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let cancel = app
        .request_as(
            &stranger,
            Method::POST,
            &format!("/api/insight/analysis/{analysis_id}/cancel"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 404);
    let listing: Value = app
        .request_as(&stranger, Method::GET, "/api/insight/analyses")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing["analyses"], json!([]));
    assert_eq!(app.event_count().await, before);
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_detectors_are_refused_with_the_valid_ones() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let response = app
        .post_json(
            "/api/insight/analysis",
            json!({"projectId": project_id, "detectors": ["security", "telepathy"]}),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "UNKNOWN_DETECTORS");
    assert_eq!(body["unknownDetectors"], json!(["telepathy"]));
    let valid = body["validDetectors"].as_array().unwrap();
    for name in ["typescript", "eslint", "security", "complexity", "circular"] {
        assert!(valid.contains(&json!(name)), "{name}");
    }
    assert!(body["error"].as_str().unwrap().contains("telepathy"));
    app.shutdown().await;
}

#[tokio::test]
async fn cancelling_a_queued_analysis_works_once_and_a_finished_one_is_409() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let queued = app.submit_analysis(project_id).await;
    let cancel = |id: Uuid| {
        app.request(Method::POST, &format!("/api/insight/analysis/{id}/cancel"))
            .send()
    };
    let response = cancel(queued).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "cancelled");
    let view = get_json(&app, &format!("/api/insight/analysis/{queued}")).await;
    assert_eq!(view["analysis"]["status"], "CANCELLED");
    assert!(view["analysis"]["timing"]["duration"].is_null());

    let again = cancel(queued).await.unwrap();
    assert_eq!(again.status(), 409);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["analysisStatus"], "CANCELLED");
    assert!(body["error"].as_str().unwrap().contains("CANCELLED"));

    let finished = app.submit_analysis(project_id).await;
    start(&app, finished).await;
    complete(&app, finished).await;
    let response = cancel(finished).await.unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["analysisStatus"], "COMPLETED");

    let running = app.submit_analysis(project_id).await;
    start(&app, running).await;
    let response = app
        .request(
            Method::POST,
            &format!("/api/insight/analysis/{running}/cancel"),
        )
        .json(&json!({"reason": "wrong branch"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let view = get_json(&app, &format!("/api/insight/analysis/{running}")).await;
    assert_eq!(view["analysis"]["status"], "CANCELLED");
    assert_eq!(view["analysis"]["cancelReason"], "wrong branch");
    app.shutdown().await;
}

#[tokio::test]
async fn a_failed_attempt_is_rescheduled_then_fails_for_good_with_its_error() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let id = app.submit_analysis(project_id).await;
    let analyses = &app.app.services.analyses;
    let analysis_id = AnalysisId::from_uuid(id);
    start(&app, id).await;
    analyses
        .reschedule(
            analysis_id,
            "clone timed out",
            chrono::Duration::seconds(5),
            &worker_metadata(),
        )
        .await
        .unwrap();
    app.wait_for_projections().await;
    let view = get_json(&app, &format!("/api/insight/analysis/{id}")).await;
    assert_eq!(view["analysis"]["status"], "QUEUED");
    assert_eq!(view["analysis"]["retryCount"], 1);
    assert_eq!(view["analysis"]["attempt"], 1);
    assert!(view["analysis"]["retryAt"].is_string());

    start(&app, id).await;
    analyses
        .fail(analysis_id, "repository not found", &worker_metadata())
        .await
        .unwrap();
    app.wait_for_projections().await;
    let view = get_json(&app, &format!("/api/insight/analysis/{id}")).await;
    assert_eq!(view["analysis"]["status"], "FAILED");
    assert_eq!(view["analysis"]["attempt"], 2);
    assert_eq!(view["analysis"]["error"], "repository not found");

    let late = analyses.complete(analysis_id, &worker_metadata()).await;
    assert!(matches!(
        late,
        Err(application::AppError::AlreadyFinished { .. })
    ));
    app.shutdown().await;
}

#[tokio::test]
async fn the_listing_is_newest_first_and_filters_by_project_and_status() {
    let app = spawn_app().await;
    let shop = app.create_project("shop").await;
    let blog = app.create_project("blog").await;
    let mut ids = Vec::new();
    for project in [shop, blog, shop, shop, blog] {
        ids.push(app.submit_analysis(project).await);
    }
    start(&app, ids[0]).await;
    complete(&app, ids[0]).await;
    app.wait_for_projections().await;

    let all = get_json(&app, "/api/insight/analyses").await;
    let listed: Vec<String> = all["analyses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let newest_first: Vec<String> = ids.iter().rev().map(|id| id.to_string()).collect();
    assert_eq!(listed, newest_first);
    assert_eq!(all["pagination"]["limit"], 20);

    let shop_only = get_json(&app, &format!("/api/insight/analyses?projectId={shop}")).await;
    assert_eq!(shop_only["pagination"]["total"], 3);
    let completed = get_json(&app, "/api/insight/analyses?status=completed").await;
    assert_eq!(completed["pagination"]["total"], 1);
    assert_eq!(completed["analyses"][0]["id"], ids[0].to_string());

    let first = get_json(&app, "/api/insight/analyses?limit=2").await;
    let cursor = first["pagination"]["nextCursor"].as_str().unwrap();
    let second = get_json(
        &app,
        &format!("/api/insight/analyses?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(second["analyses"][0]["id"], newest_first[2]);
    app.shutdown().await;
}

#[tokio::test]
async fn events_carry_actor_correlation_causation_and_command_ids() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let correlation = Uuid::new_v4();
    let response = app
        .request(Method::POST, "/api/insight/analysis")
        .header("x-request-id", correlation.to_string())
        .json(&json!({"projectId": project_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers()["x-request-id"],
        correlation.to_string().as_str()
    );
    let id: Uuid = response.json::<Value>().await.unwrap()["analysisId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    start(&app, id).await;
    let rows: Vec<(String, String, Uuid, Uuid, i64, String, Uuid)> = sqlx::query_as(
        "SELECT event_type, actor, correlation_id, command_id, global_position, \
                transaction_id::text, event_id FROM events \
         WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(id.to_string())
    .fetch_all(&app.app.services.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, "AnalysisRequested");
    assert_eq!(rows[0].1, format!("user:{}", app.user_id));
    assert_eq!(rows[0].2, correlation);
    assert_eq!(rows[1].0, "AnalysisStarted");
    assert_eq!(rows[1].1, "worker:test-worker");
    assert_ne!(rows[0].3, rows[1].3, "each command has its own id");
    assert!(rows[1].4 > rows[0].4);
    app.shutdown().await;
}

/// Each API process keeps the projects it submits against in memory; a rename or an archive
/// made by another process must count at once all the same.
#[tokio::test]
async fn a_project_renamed_or_archived_by_another_process_counts_at_once_here() {
    let app = spawn_app().await;
    let other = app.another_api_process().await;
    let project = app.create_project("before").await;
    app.submit_analysis(project).await;

    let project_id = ProjectId::from_uuid(project);
    let name = ProjectName::parse("after").unwrap();
    let projects = &other.services.projects;
    projects
        .rename(app.user_id, project_id, name, Uuid::now_v7())
        .await
        .unwrap();
    let renamed = app.submit_analysis(project).await;
    let body = get_json(&app, &format!("/api/insight/analysis/{renamed}")).await;
    assert_eq!(body["analysis"]["projectName"], "after", "{body}");

    projects
        .archive(app.user_id, project_id, Uuid::now_v7())
        .await
        .unwrap();
    let refused = app
        .post_json(
            "/api/insight/analysis",
            json!({"projectId": project, "detectors": ["security"]}),
        )
        .await;
    assert_eq!(refused.status(), 409);
    assert_eq!(app.events_of_type("AnalysisRequested").await, 2);
    other.stop().await.unwrap();
}
