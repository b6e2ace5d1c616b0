//! `/api/insight/webhooks`: the caller's webhook endpoints, their delivery log, redelivery,
//! replay from the event log, and secret rotation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, Problem};
use crate::extract::{parse_id, ApiJson, AuthUser};
use crate::params::QueryMap;
use crate::state::AppState;
use application::webhooks::{
    Delivery, DeliveryAttempt, RegisterEndpoint, RegisteredEndpoint, WebhookEndpoint,
};
use domain::ProjectId;

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `https://...` (http only where the deployment allows it).
    pub url: String,
    /// Event types to receive (`analysis.completed`, `analysis.failed`, ...); all when absent
    /// or empty.
    pub event_types: Option<Vec<String>>,
    /// Only events of this project.
    pub project_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    /// Empty: every event type.
    pub event_types: Vec<String>,
    pub project_id: Option<Uuid>,
    /// `active` or `disabled`.
    pub status: String,
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
    /// Until then the previous secret signs too (after a rotation).
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
}

impl From<WebhookEndpoint> for WebhookView {
    fn from(endpoint: WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url,
            event_types: endpoint.event_types,
            project_id: endpoint.project_id.map(|id| id.as_uuid()),
            status: if endpoint.disabled_at.is_some() {
                "disabled"
            } else {
                "active"
            }
            .to_string(),
            disabled_at: endpoint.disabled_at.map(time),
            disabled_reason: endpoint.disabled_reason,
            previous_secret_expires_at: endpoint.previous_secret_expires_at.map(time),
            created_at: time(endpoint.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookWithSecret {
    pub success: bool,
    pub webhook: WebhookView,
    /// `whsec_...`: shown this once; verify `webhook-signature` with it.
    pub secret: String,
}

impl From<RegisteredEndpoint> for WebhookWithSecret {
    fn from(registered: RegisteredEndpoint) -> Self {
        Self {
            success: true,
            webhook: registered.endpoint.into(),
            secret: registered.secret.expose().to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookList {
    pub success: bool,
    pub webhooks: Vec<WebhookView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEnvelope {
    pub success: bool,
    pub webhook: WebhookView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: i32,
    pub attempted_at: String,
    pub status_code: Option<u16>,
    pub duration_ms: i64,
    /// The start of the response body (at most 1 KiB).
    pub response_body: Option<String>,
    pub error: Option<String>,
}

impl From<DeliveryAttempt> for AttemptView {
    fn from(attempt: DeliveryAttempt) -> Self {
        Self {
            attempt: attempt.attempt,
            attempted_at: time(attempt.attempted_at),
            status_code: attempt.status_code,
            duration_ms: attempt.duration_ms,
            response_body: attempt.response_body,
            error: attempt.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: Uuid,
    /// Also the `webhook-id` header.
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub attempts: Vec<AttemptView>,
}

impl From<Delivery> for DeliveryView {
    fn from(delivery: Delivery) -> Self {
        Self {
            id: delivery.id,
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            status: delivery.status,
            next_attempt_at: delivery.next_attempt_at.map(time),
            created_at: time(delivery.created_at),
            attempts: delivery.attempts.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    pub success: bool,
    pub deliveries: Vec<DeliveryView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayRequest {
    /// RFC 3339: every matching event recorded at or after this time is sent again.
    pub since: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Scheduled {
    pub success: bool,
    /// Deliveries scheduled.
    pub scheduled: u64,
    pub message: String,
}

/// Registers an endpoint. The signing secret is in this answer only.
#[utoipa::path(post, path = "/api/insight/webhooks", tag = "webhooks",
    request_body = CreateWebhookRequest,
    security(("bearer" = [])),
    responses((status = 201, body = WebhookWithSecret), (status = "4XX", body = Problem)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<CreateWebhookRequest>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    let input = RegisterEndpoint {
        url: request.url,
        event_types: request.event_types,
        project_id: request.project_id.map(ProjectId::from_uuid),
    };
    let registered = state.webhooks.register(user.user_id, input).await?;
    Ok((StatusCode::CREATED, Json(registered.into())))
}

/// The caller's endpoints (secrets are never listed).
#[utoipa::path(get, path = "/api/insight/webhooks", tag = "webhooks",
    security(("bearer" = [])),
    responses((status = 200, body = WebhookList), (status = "4XX", body = Problem)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<WebhookList>, ApiError> {
    let endpoints = state.webhooks.list(user.user_id).await?;
    Ok(Json(WebhookList {
        success: true,
        webhooks: endpoints.into_iter().map(Into::into).collect(),
    }))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/insight/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    security(("bearer" = [])),
    responses((status = 200, body = WebhookEnvelope), (status = "4XX", body = Problem)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    let endpoint = state
        .webhooks
        .get(user.user_id, parse_id("id", &id)?)
        .await?;
    Ok(Json(WebhookEnvelope {
        success: true,
        webhook: endpoint.into(),
    }))
}

/// Removes an endpoint: nothing more is sent to it.
#[utoipa::path(delete, path = "/api/insight/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = "4XX", body = Problem)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .webhooks
        .delete(user.user_id, parse_id("id", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown once; the old one keeps signing for the overlap
/// (`WEBHOOK_SECRET_OVERLAP`), so both signatures are sent meanwhile.
#[utoipa::path(post, path = "/api/insight/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    security(("bearer" = [])),
    responses((status = 200, body = WebhookWithSecret), (status = "4XX", body = Problem)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<WebhookWithSecret>, ApiError> {
    let rotated = state
        .webhooks
        .rotate_secret(user.user_id, parse_id("id", &id)?)
        .await?;
    Ok(Json(rotated.into()))
}

/// The endpoint's deliveries, newest first, each with every attempt.
#[utoipa::path(get, path = "/api/insight/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id"),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50")),
    security(("bearer" = [])),
    responses((status = 200, body = DeliveryList), (status = "4XX", body = Problem)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    query: QueryMap,
) -> Result<Json<DeliveryList>, ApiError> {
    let id: Uuid = parse_id("id", &id)?;
    let limit = match query.get("limit") {
        None => 50,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|limit| (1..=200).contains(limit))
            .ok_or_else(|| ApiError::bad_parameter("limit", "must be a number from 1 to 200"))?,
    };
    let deliveries = state.webhooks.deliveries(user.user_id, id, limit).await?;
    Ok(Json(DeliveryList {
        success: true,
        deliveries: deliveries.into_iter().map(Into::into).collect(),
    }))
}

/// Sends a delivery once more, now (same `webhook-id`).
#[utoipa::path(post, path = "/api/insight/webhooks/{id}/deliveries/{deliveryId}/redeliver",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id"),
        ("deliveryId" = Uuid, Path, description = "Delivery id")),
    security(("bearer" = [])),
    responses((status = 202, body = Scheduled), (status = "4XX", body = Problem)))]
pub async fn redeliver(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Scheduled>), ApiError> {
    let id: Uuid = parse_id("id", &id)?;
    let delivery: Uuid = parse_id("deliveryId", &delivery)?;
    state.webhooks.redeliver(user.user_id, id, delivery).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Scheduled {
            success: true,
            scheduled: 1,
            message: "delivery scheduled".into(),
        }),
    ))
}

/// Sends again every matching event recorded since `since`, read from the event log (so
/// events older than NATS keeps are included); at most 10 000 events per replay.
#[utoipa::path(post, path = "/api/insight/webhooks/{id}/replay", tag = "webhooks",
    request_body = ReplayRequest,
    params(("id" = Uuid, Path, description = "Endpoint id")),
    security(("bearer" = [])),
    responses((status = 202, body = Scheduled), (status = "4XX", body = Problem)))]
pub async fn replay(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ReplayRequest>,
) -> Result<(StatusCode, Json<Scheduled>), ApiError> {
    let id: Uuid = parse_id("id", &id)?;
    let since = DateTime::parse_from_rfc3339(request.since.trim())
        .map_err(|_| ApiError::bad_field("since", "must be an RFC 3339 time"))?
        .with_timezone(&Utc);
    let scheduled = state.webhooks.replay(user.user_id, id, since).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Scheduled {
            success: true,
            scheduled,
            message: format!("{scheduled} deliveries scheduled"),
        }),
    ))
}
