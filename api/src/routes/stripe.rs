//! `POST /api/webhooks/stripe`: Stripe events, signature first. Nothing is parsed before the
//! `Stripe-Signature` header checks out against the raw body.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::state::AppState;
use application::stripe::{verify_signature, StripeEvent};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripeReceipt {
    pub received: bool,
    /// `applied`, `duplicate` (handled before: nothing changed), `ignored` (a type we do not
    /// act on) or `parked` (for a customer not linked yet).
    pub outcome: String,
}

/// Receives a Stripe event. A missing, malformed, mismatched or stale (over 300 s) signature
/// is refused with 400 and nothing happens; a redelivered event answers 200 and changes
/// nothing; an unknown type answers 200.
#[utoipa::path(post, path = "/api/webhooks/stripe", tag = "webhooks",
    request_body(content = String, content_type = "application/json",
        description = "A Stripe event, exactly as Stripe sent it"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix>,v1=<hex HMAC-SHA256>")),
    responses((status = 200, body = StripeReceipt), (status = "4XX", body = Problem)))]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<StripeReceipt>, ApiError> {
    let Some(stripe) = &state.stripe else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "STRIPE_NOT_CONFIGURED",
            "this deployment has no STRIPE_WEBHOOK_SECRET",
        ));
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok());
    verify_signature(header, &body, &stripe.secret, stripe.service.now()).map_err(|error| {
        tracing::warn!(%error, "Stripe webhook refused");
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_SIGNATURE",
            error.to_string(),
        )
    })?;
    let event = StripeEvent::parse(&body)?;
    let raw = serde_json::from_slice(&body).map_err(|error| ApiError::bad_field("body", error))?;
    let outcome = stripe.service.handle(event, raw).await?;
    Ok(Json(StripeReceipt {
        received: true,
        outcome: outcome.as_str().to_string(),
    }))
}
