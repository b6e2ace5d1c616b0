//! `POST /api/webhooks/insight-internal`: events from trusted services, signed the Standard
//! Webhooks way with `INTERNAL_WEBHOOK_SECRET`. Nothing is parsed before the signature holds.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, Problem};
use crate::state::AppState;
use application::internal_webhook::{InternalOutcome, InternalWebhookError};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InternalReceipt {
    pub received: bool,
    /// `applied` or `duplicate` (this webhook-id was handled before: nothing changed).
    pub outcome: String,
    pub analysis_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
}

/// Receives `analysis.completed` (findings and summary of a RUNNING analysis, from an outside
/// runner) or `project.created` (a project for a user). A missing or wrong signature, or a
/// timestamp more than 5 minutes away, is refused with 401; a repeated `webhook-id` answers
/// 200 and changes nothing.
#[utoipa::path(post, path = "/api/webhooks/insight-internal", tag = "webhooks",
    request_body(content = String, content_type = "application/json",
        description = "`{type, timestamp, data}`, signed"),
    params(("webhook-id" = String, Header, description = "Message id, unique per message"),
        ("webhook-timestamp" = String, Header, description = "Unix seconds"),
        ("webhook-signature" = String, Header, description = "v1,<base64 HMAC-SHA256>")),
    responses((status = 200, body = InternalReceipt), (status = "4XX", body = Problem)))]
pub async fn internal_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<InternalReceipt>, ApiError> {
    let Some(internal) = &state.internal_webhook else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "INTERNAL_WEBHOOK_NOT_CONFIGURED",
            "this deployment has no INTERNAL_WEBHOOK_SECRET",
        ));
    };
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let outcome = internal
        .handle(
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            &body,
        )
        .await
        .map_err(|error| match error {
            InternalWebhookError::Signature(error) => {
                tracing::warn!(%error, "internal webhook refused");
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "INVALID_SIGNATURE",
                    error.to_string(),
                )
            }
            InternalWebhookError::App(error) => error.into(),
        })?;
    let (outcome, analysis_id, project_id) = match outcome {
        InternalOutcome::AnalysisCompleted(id) => ("applied", Some(id.as_uuid()), None),
        InternalOutcome::ProjectCreated(id) => ("applied", None, Some(id.as_uuid())),
        InternalOutcome::Duplicate => ("duplicate", None, None),
    };
    Ok(Json(InternalReceipt {
        received: true,
        outcome: outcome.into(),
        analysis_id,
        project_id,
    }))
}
