//! `GET /api/insight/analysis/{id}/stream`: live progress as Server-Sent Events. Each event of
//! the analysis becomes one SSE event whose id is the event's sequence, so a client that
//! reconnects with `Last-Event-ID` continues where it stopped; the stream closes after the
//! terminal event (completed, failed, cancelled).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde_json::{Map, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, Problem};
use crate::extract::{parse_id, AuthUser};
use crate::state::AppState;
use domain::AnalysisId;

/// Events read per query.
const PAGE: i64 = 200;

/// The SSE name and the status an event stands for; terminal events end the stream.
fn describe(event_type: &str) -> (&'static str, Option<&'static str>, bool) {
    match event_type {
        "AnalysisRequested" => ("status", Some("QUEUED"), false),
        "AnalysisStarted" | "AnalysisSourceFetched" => ("status", Some("RUNNING"), false),
        "AnalysisRescheduled" => ("status", Some("QUEUED"), false),
        "AnalysisProgressed" => ("progress", None, false),
        "IssueBatchRecorded" => ("issues", None, false),
        "AnalysisCompleted" => ("completed", Some("COMPLETED"), true),
        "AnalysisFailed" => ("failed", Some("FAILED"), true),
        "AnalysisCancelled" => ("cancelled", Some("CANCELLED"), true),
        _ => ("event", None, false),
    }
}

struct Cursor {
    pool: PgPool,
    analysis_id: Uuid,
    after: i64,
    /// The analysis had finished when the stream opened: end when nothing more is left.
    finished_at_open: bool,
    done: bool,
    ready: VecDeque<Event>,
    poll: Duration,
}

impl Cursor {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some((Ok(event), self));
            }
            if self.done {
                return None;
            }
            let events = match projections::queries::analysis_events_after(
                &self.pool,
                self.analysis_id,
                self.after,
                PAGE,
            )
            .await
            {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, analysis.id = %self.analysis_id, "progress stream ended");
                    return None;
                }
            };
            if events.is_empty() {
                if self.finished_at_open {
                    return None;
                }
                tokio::time::sleep(self.poll).await;
                continue;
            }
            for stored in events {
                self.after = stored.sequence;
                let (name, status, terminal) = describe(&stored.event_type);
                let mut data = match stored.data {
                    Value::Object(fields) => fields,
                    _ => Map::new(),
                };
                if let Some(status) = status {
                    data.insert("status".into(), status.into());
                }
                if stored.event_type == "AnalysisCompleted" {
                    data.insert("progress".into(), 100.into());
                }
                let event = Event::default()
                    .id(stored.sequence.to_string())
                    .event(name)
                    .json_data(Value::Object(data))
                    .expect("JSON serialises");
                self.ready.push_back(event);
                if terminal {
                    self.done = true;
                    break;
                }
            }
        }
    }
}

/// Live status, progress and the final summary of one of the caller's analyses.
#[utoipa::path(get, path = "/api/insight/analysis/{id}/stream", tag = "analyses",
    params(("id" = Uuid, Path, description = "Analysis id"),
        ("Last-Event-ID" = Option<String>, Header,
            description = "Resume after this event (the id of the last event received)")),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream",
            description = "`status`, `progress`, `issues`, then `completed`, `failed` or `cancelled`"),
        (status = "4XX", body = Problem)))]
pub async fn analysis_stream(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id: AnalysisId = parse_id("id", &id)?;
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|raw| raw.trim().parse::<i64>().ok())
            .filter(|after| *after >= 0)
            .ok_or_else(|| {
                ApiError::bad_parameter("Last-Event-ID", "must be the id of an event received")
            })?,
    };
    // Served exactly when `GET /api/insight/analysis/{id}` serves it; whether it has ended
    // is asked of the log, which the listing may trail.
    super::analyses::served_analysis(&state, &user, id).await?;
    let finished_at_open = state
        .analyses
        .owned(user.user_id, id)
        .await?
        .status
        .is_some_and(|status| status.is_terminal());
    let cursor = Cursor {
        pool: state.read_pool.clone(),
        analysis_id: id.as_uuid(),
        after,
        finished_at_open,
        done: false,
        ready: VecDeque::new(),
        poll: state.stream_poll,
    };
    let stream = futures::stream::unfold(cursor, Cursor::next);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
