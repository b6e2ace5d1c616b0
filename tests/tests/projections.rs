//! The catch-up order and rebuilds of the read models.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::AnalysisId;
use infrastructure::{EventNotifier, StoredEvent};
use insight_tests::{spawn_app, worker_metadata};
use projections::{ProjectionError, Projector, ProjectorRunner};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// Records the order in which it is given events.
struct RecordingProjector;

#[async_trait]
impl Projector for RecordingProjector {
    fn name(&self) -> &'static str {
        "test_recording"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["test_applied"]
    }

    /// Only what the tests insert (creating the test's user appends a subscription event).
    fn event_types(&self) -> &'static [&'static str] {
        &["ProjectCreated"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        sqlx::query("INSERT INTO test_applied (event_id) VALUES ($1)")
            .bind(event.event_id)
            .execute(conn)
            .await?;
        Ok(())
    }
}

async fn insert_project_created(conn: &mut PgConnection, owner: Uuid) -> Uuid {
    let project_id = Uuid::new_v4();
    let payload = json!({"ProjectCreated": {
        "projectId": project_id, "owner": owner, "name": format!("p-{project_id}"),
        "gitRemote": "https://example.com/r.git", "gitBranch": "main", "gitCommit": null,
        "language": null, "framework": null, "createdAt": "2026-11-01T00:00:00Z"}});
    let metadata = json!({"actor": "system:test", "correlation_id": Uuid::new_v4(),
        "command_id": Uuid::new_v4()});
    sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload, metadata) VALUES ('Project', $1, 1, 'ProjectCreated', '1.0', $2, $3) \
         RETURNING event_id",
    )
    .bind(project_id.to_string())
    .bind(payload)
    .bind(metadata)
    .fetch_one(conn)
    .await
    .unwrap()
}

async fn recorded(app: &insight_tests::TestApp) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT event_id FROM test_applied ORDER BY seq")
        .fetch_all(&app.app.services.pool)
        .await
        .unwrap()
}

/// A transaction that inserted an event and is still open holds the catch-up reader back:
/// later commits are not applied before it, and it is applied (first) once it commits.
/// (The open transaction holds back every reader on this Postgres for a moment, so it is kept
/// short.)
#[tokio::test]
async fn a_late_commit_is_neither_skipped_nor_reordered() {
    let app = spawn_app().await;
    sqlx::query("CREATE TABLE test_applied (seq bigserial PRIMARY KEY, event_id uuid NOT NULL)")
        .execute(&app.app.services.pool)
        .await
        .unwrap();
    let runner = ProjectorRunner::new(
        app.app.services.pool.clone(),
        Arc::new(RecordingProjector),
        100,
    );
    let handle = runner.spawn(EventNotifier::new(), Duration::from_millis(20));
    let owner = app.user_id.as_uuid();

    let mut slow = app.connection().await;
    let mut slow_tx = slow.begin().await.unwrap();
    let late = insert_project_created(&mut slow_tx, owner).await;

    let mut fast = app.connection().await;
    let mut committed = Vec::new();
    for _ in 0..2 {
        committed.push(insert_project_created(&mut fast, owner).await);
    }
    let late_position: i64 =
        sqlx::query_scalar("SELECT global_position FROM events WHERE event_id = $1")
            .bind(late)
            .fetch_one(&mut *slow_tx)
            .await
            .unwrap();
    let fast_position: i64 =
        sqlx::query_scalar("SELECT global_position FROM events WHERE event_id = $1")
            .bind(committed[0])
            .fetch_one(&mut fast)
            .await
            .unwrap();
    assert!(
        late_position < fast_position,
        "the late event took the earlier position"
    );

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        recorded(&app).await,
        Vec::<Uuid>::new(),
        "nothing passes the open transaction"
    );

    slow_tx.commit().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while recorded(&app).await.len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "projector did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(recorded(&app).await, vec![late, committed[0], committed[1]]);
    handle.stop().await;

    // The real read model got all three as well.
    app.wait_for_projections().await;
    let by_owner: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_projects WHERE owner_id = $1")
        .bind(owner)
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap();
    assert_eq!(by_owner, 3);
    app.shutdown().await;
}

async fn dump(app: &insight_tests::TestApp) -> Value {
    let mut tables = serde_json::Map::new();
    for (table, order) in [
        ("rm_projects", "id"),
        ("rm_analyses", "id"),
        ("rm_analysis_issues", "analysis_id, batch, idx"),
        (
            "rm_analysis_issue_facets",
            "analysis_id, severity_rank, detector, category",
        ),
    ] {
        let rows: Value = sqlx::query_scalar(&format!(
            "SELECT COALESCE(json_agg(t ORDER BY {order}), '[]'::json) FROM {table} t"
        ))
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap();
        tables.insert(table.to_string(), rows);
    }
    Value::Object(tables)
}

#[tokio::test]
async fn rebuilt_read_models_equal_the_live_ones() {
    let app = spawn_app().await;
    let shop = app.create_project("shop").await;
    let blog = app.create_project("blog").await;
    let services = &app.app.services;
    let analyses = &services.analyses;
    let mut ids = Vec::new();
    for project in [shop, blog, shop] {
        ids.push(AnalysisId::from_uuid(app.submit_analysis(project).await));
    }
    let metadata = worker_metadata();
    analyses.start(ids[0], "w", &metadata).await.unwrap();
    for batch in 1..=3u32 {
        let findings = (0..20u32)
            .map(|i| domain::Finding {
                severity: domain::Severity::ALL[(i % 5) as usize],
                detector: "security".into(),
                rule: "r".into(),
                category: if i % 2 == 0 { "secrets" } else { "bugs" }.into(),
                file_path: format!("src/{batch}/{i}.ts"),
                line: i + 1,
                column: None,
                end_line: None,
                end_column: None,
                message: "m".into(),
                suggestion: None,
                confidence: 0.5,
                auto_fixable: i % 3 == 0,
                snippet: None,
                fingerprint: None,
            })
            .collect();
        analyses
            .record_batch(ids[0], batch, findings, &metadata)
            .await
            .unwrap();
    }
    analyses.complete(ids[0], &metadata).await.unwrap();
    analyses.start(ids[1], "w", &metadata).await.unwrap();
    analyses
        .reschedule(ids[1], "boom", chrono::Duration::seconds(1), &metadata)
        .await
        .unwrap();
    analyses
        .cancel(app.user_id, ids[2], Some("no".into()), Uuid::now_v7())
        .await
        .unwrap();
    services
        .projects
        .rename(
            app.user_id,
            domain::ProjectId::from_uuid(shop),
            domain::ProjectName::parse("storefront").unwrap(),
            Uuid::now_v7(),
        )
        .await
        .unwrap();
    app.wait_for_projections().await;
    let live = dump(&app).await;
    assert_eq!(live["rm_analysis_issues"].as_array().unwrap().len(), 60);
    assert!(live["rm_analyses"][0]["project_name"].is_string());

    for projector in projections::all_projectors() {
        projections::rebuild(&services.pool, projector, 7)
            .await
            .unwrap();
    }
    let rebuilt = dump(&app).await;
    assert_eq!(rebuilt, live);
    let renamed = rebuilt["rm_analyses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["project_name"] == "storefront")
        .count();
    assert_eq!(renamed, 2);
    app.shutdown().await;
}

#[tokio::test]
async fn events_cannot_be_edited_or_deleted() {
    let app = spawn_app().await;
    app.create_project("shop").await;
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let error = sqlx::query(statement)
            .execute(&app.app.services.pool)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    let missing_metadata = sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload, metadata) VALUES ('Project', 'x', 1, 'ProjectCreated', '1.0', '{}', '{}')",
    )
    .execute(&app.app.services.pool)
    .await;
    assert!(
        missing_metadata.is_err(),
        "an event without actor and ids is refused"
    );
    app.shutdown().await;
}

/// Several runners of one projector (as in several processes) apply every event exactly once.
#[tokio::test]
async fn competing_runners_apply_each_event_exactly_once() {
    let app = spawn_app().await;
    sqlx::query("CREATE TABLE test_applied (seq bigserial PRIMARY KEY, event_id uuid NOT NULL)")
        .execute(&app.app.services.pool)
        .await
        .unwrap();
    let notifier = EventNotifier::new();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            ProjectorRunner::new(
                app.app.services.pool.clone(),
                Arc::new(RecordingProjector),
                7,
            )
            .spawn(notifier.clone(), Duration::from_millis(5))
        })
        .collect();
    let owner = app.user_id.as_uuid();
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let url = app.database_url.clone();
            tokio::spawn(async move {
                let mut conn = PgConnection::connect(&url).await.unwrap();
                let mut ids = Vec::new();
                for _ in 0..25 {
                    ids.push(insert_project_created(&mut conn, owner).await);
                }
                ids
            })
        })
        .collect();
    let mut expected = Vec::new();
    for writer in writers {
        expected.extend(writer.await.unwrap());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let applied = recorded(&app).await;
        if applied.len() >= expected.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "runners did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for handle in handles {
        handle.stop().await;
    }
    let mut applied = recorded(&app).await;
    assert_eq!(applied.len(), expected.len(), "no event applied twice");
    applied.sort();
    expected.sort();
    assert_eq!(applied, expected);
    app.shutdown().await;
}
