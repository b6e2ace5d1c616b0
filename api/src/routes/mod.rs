//! One module per resource; `router` merges them and collects their OpenAPI paths.

pub mod analyses;
pub mod health;
pub mod internal;
pub mod projects;
pub mod stream;
pub mod stripe;
pub mod tokens;
pub mod uploads;
pub mod usage;
pub mod webhooks;

use axum::Router;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::openapi::ApiDoc;
use crate::state::AppState;

/// Every route, and the OpenAPI document generated from their annotations.
/// `max_upload_bytes` bounds the upload route's body; every other body is bounded by
/// `MAX_BODY_BYTES` (set on the whole app).
pub fn router(max_upload_bytes: usize) -> (Router<AppState>, OpenApiDocument) {
    use utoipa::OpenApi;
    let uploads = OpenApiRouter::new()
        .routes(routes!(uploads::upload_archive))
        .layer(axum::extract::DefaultBodyLimit::max(max_upload_bytes));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(tokens::create_token, tokens::list_tokens))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(projects::create_project, projects::list_projects))
        .routes(routes!(projects::get_project))
        .routes(routes!(analyses::submit_analysis))
        .routes(routes!(analyses::get_analysis))
        .routes(routes!(analyses::list_analyses))
        .routes(routes!(analyses::cancel_analysis))
        .routes(routes!(usage::get_usage))
        .routes(routes!(stream::analysis_stream))
        .routes(routes!(stripe::stripe_webhook))
        .routes(routes!(internal::internal_webhook))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(webhooks::get_webhook, webhooks::delete_webhook))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::replay))
        .merge(uploads)
        .split_for_parts()
}
