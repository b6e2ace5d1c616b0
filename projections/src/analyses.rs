//! `rm_analyses`: one row per analysis (status, progress, counts, timing) for the listing and
//! the analysis page. Project renames reach it too, so listings show the current name.

use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::{Analysis, AnalysisEvent, AnalysisStatus, Project, ProjectEvent, Severity};
use infrastructure::StoredEvent;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::runner::{aggregate_uuid, ProjectionError, Projector};

pub struct AnalysesProjector;

#[async_trait]
impl Projector for AnalysesProjector {
    fn name(&self) -> &'static str {
        "analyses"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_analyses"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        &[
            "AnalysisRequested",
            "AnalysisStarted",
            "AnalysisSourceFetched",
            "AnalysisProgressed",
            "IssueBatchRecorded",
            "AnalysisCompleted",
            "AnalysisFailed",
            "AnalysisRescheduled",
            "AnalysisCancelled",
            "ProjectRenamed",
        ]
    }

    /// Consecutive requests (the bulk of a busy log) become one multi-row INSERT; everything
    /// else is applied one event at a time, in order.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut requested = Vec::new();
        for event in events {
            if event.aggregate_type == <Analysis as Aggregate>::TYPE
                && event.event_type == "AnalysisRequested"
            {
                requested.push(event);
                continue;
            }
            insert_requested(conn, &requested).await?;
            requested.clear();
            self.apply(conn, event).await?;
        }
        insert_requested(conn, &requested).await
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type == <Project as Aggregate>::TYPE {
            return apply_project_event(conn, event).await;
        }
        if event.aggregate_type != <Analysis as Aggregate>::TYPE {
            return Ok(());
        }
        let id = aggregate_uuid(event)?;
        let payload: AnalysisEvent = event
            .decode()
            .map_err(|error| ProjectionError::decode(event, error))?;
        // Every statement also stamps the row with the event's sequence and time.
        let query = match payload {
            AnalysisEvent::AnalysisRequested {
                owner,
                project_id,
                project_name,
                detectors,
                language,
                path,
                source,
                requested_at,
                ..
            } => sqlx::query(
                "INSERT INTO rm_analyses (id, owner_id, project_id, project_name, status, \
                     detectors, language, path, source, requested_at, updated_at, version) \
                 VALUES ($1, $4, $5, $6, 'QUEUED', $7, $8, $9, $10, $11, $2, $3)",
            )
            .bind(id)
            .bind(event.recorded_at)
            .bind(event.sequence)
            .bind(owner.as_uuid())
            .bind(project_id.as_uuid())
            .bind(project_name)
            .bind(detectors)
            .bind(language)
            .bind(path)
            .bind(serde_json::to_value(&source).map_err(|e| ProjectionError::decode(event, e))?)
            .bind(requested_at),
            AnalysisEvent::AnalysisStarted {
                attempt,
                started_at,
                ..
            } => sqlx::query(
                "UPDATE rm_analyses SET status = 'RUNNING', attempt = $4, progress = 0, \
                     started_at = COALESCE(started_at, $5), retry_at = NULL, \
                     updated_at = $2, version = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(event.recorded_at)
            .bind(event.sequence)
            .bind(attempt as i32)
            .bind(started_at),
            AnalysisEvent::AnalysisSourceFetched { commit, .. } => sqlx::query(
                "UPDATE rm_analyses SET git_commit = $4, updated_at = $2, version = $3 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(event.recorded_at)
            .bind(event.sequence)
            .bind(commit),
            AnalysisEvent::AnalysisProgressed { progress, .. } => sqlx::query(
                "UPDATE rm_analyses SET progress = $4, updated_at = $2, version = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(event.recorded_at)
            .bind(event.sequence)
            .bind(i16::from(progress)),
            AnalysisEvent::IssueBatchRecorded { findings, .. } => {
                let mut summary = domain::Summary::default();
                for finding in &findings {
                    summary.add(finding.severity);
                }
                sqlx::query(
                    "UPDATE rm_analyses SET total_issues = total_issues + $4, \
                         critical = critical + $5, high = high + $6, medium = medium + $7, \
                         low = low + $8, info = info + $9, updated_at = $2, version = $3 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(event.recorded_at)
                .bind(event.sequence)
                .bind(summary.total_issues as i64)
                .bind(summary.count(Severity::Critical) as i64)
                .bind(summary.count(Severity::High) as i64)
                .bind(summary.count(Severity::Medium) as i64)
                .bind(summary.count(Severity::Low) as i64)
                .bind(summary.count(Severity::Info) as i64)
            }
            AnalysisEvent::AnalysisCompleted {
                summary,
                finished_at,
                duration_ms,
            } => sqlx::query(
                "UPDATE rm_analyses SET status = 'COMPLETED', progress = 100, \
                     total_issues = $4, critical = $5, high = $6, medium = $7, low = $8, \
                     info = $9, finished_at = $10, duration_ms = $11, error = NULL, \
                     updated_at = $2, version = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(event.recorded_at)
            .bind(event.sequence)
            .bind(summary.total_issues as i64)
            .bind(summary.critical as i64)
            .bind(summary.high as i64)
            .bind(summary.medium as i64)
            .bind(summary.low as i64)
            .bind(summary.info as i64)
            .bind(finished_at)
            .bind(duration_ms),
            AnalysisEvent::AnalysisFailed {
                error,
                finished_at,
                duration_ms,
                ..
            } => sqlx::query(
                "UPDATE rm_analyses SET status = 'FAILED', error = $4, finished_at = $5, \
                     duration_ms = $6, updated_at = $2, version = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(event.recorded_at)
            .bind(event.sequence)
            .bind(error)
            .bind(finished_at)
            .bind(duration_ms),
            AnalysisEvent::AnalysisRescheduled {
                error,
                retry_count,
                retry_at,
                ..
            } => sqlx::query(
                "UPDATE rm_analyses SET status = 'QUEUED', error = $4, retry_count = $5, \
                     retry_at = $6, updated_at = $2, version = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(event.recorded_at)
            .bind(event.sequence)
            .bind(error)
            .bind(retry_count as i32)
            .bind(retry_at),
            AnalysisEvent::AnalysisCancelled {
                reason,
                finished_at,
                duration_ms,
                ..
            } => sqlx::query(
                "UPDATE rm_analyses SET status = $4, cancel_reason = $5, finished_at = $6, \
                     duration_ms = $7, updated_at = $2, version = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(event.recorded_at)
            .bind(event.sequence)
            .bind(AnalysisStatus::Cancelled.as_str())
            .bind(reason)
            .bind(finished_at)
            .bind(duration_ms),
        };
        query.execute(&mut *conn).await?;
        Ok(())
    }
}

async fn insert_requested(
    conn: &mut PgConnection,
    events: &[&StoredEvent],
) -> Result<(), ProjectionError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let id = aggregate_uuid(event)?;
        let AnalysisEvent::AnalysisRequested {
            owner,
            project_id,
            project_name,
            detectors,
            language,
            path,
            source,
            requested_at,
            ..
        } = event
            .decode()
            .map_err(|error| ProjectionError::decode(event, error))?
        else {
            continue;
        };
        let source =
            serde_json::to_value(&source).map_err(|error| ProjectionError::decode(event, error))?;
        rows.push((
            id,
            owner,
            project_id,
            project_name,
            detectors,
            language,
            path,
            source,
            requested_at,
            event,
        ));
    }
    let mut insert = QueryBuilder::<Postgres>::new(
        "INSERT INTO rm_analyses (id, owner_id, project_id, project_name, status, detectors, \
         language, path, source, requested_at, updated_at, version) ",
    );
    insert.push_values(rows, |mut row, values| {
        let (id, owner, project_id, name, detectors, language, path, source, requested_at, event) =
            values;
        row.push_bind(id)
            .push_bind(owner.as_uuid())
            .push_bind(project_id.as_uuid())
            .push_bind(name)
            .push_bind(AnalysisStatus::Queued.as_str())
            .push_bind(detectors)
            .push_bind(language)
            .push_bind(path)
            .push_bind(source)
            .push_bind(requested_at)
            .push_bind(event.recorded_at)
            .push_bind(event.sequence);
    });
    insert.build().execute(&mut *conn).await?;
    Ok(())
}

async fn apply_project_event(
    conn: &mut PgConnection,
    event: &StoredEvent,
) -> Result<(), ProjectionError> {
    let project_id = aggregate_uuid(event)?;
    if let ProjectEvent::ProjectRenamed { name, .. } = event
        .decode()
        .map_err(|error| ProjectionError::decode(event, error))?
    {
        sqlx::query("UPDATE rm_analyses SET project_name = $2 WHERE project_id = $1")
            .bind(project_id)
            .bind(name.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
