use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Insight Cloud API",
        description = "Projects, analyses and their findings. Errors are \
            application/problem+json (RFC 9457) with `code` and `error` members.",
        version = "1.0.0"
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "tokens", description = "API tokens of the caller"),
        (name = "projects", description = "Repositories under analysis"),
        (name = "analyses", description = "Analysis runs and their issues"),
        (name = "usage", description = "The caller's plan, limits and usage"),
        (name = "webhooks", description = "Webhook endpoints and their deliveries; incoming webhooks (Stripe, internal)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: `Authorization: Bearer ins_...`"))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document as served at `/api/openapi.json` (and held by a snapshot test).
pub fn document() -> utoipa::openapi::OpenApi {
    crate::routes::router(crate::MAX_BODY_BYTES).1
}
