use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{Map, Value};

use crate::dto::{Health, Readiness};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: 200 only when Postgres and NATS both answer.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Problem)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let mut checks = Map::new();
    let mut ready = true;
    for probe in state.probes.iter() {
        let up = probe.is_ready().await;
        ready &= up;
        checks.insert(
            probe.name().into(),
            Value::from(if up { "up" } else { "down" }),
        );
    }
    if !ready {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NOT_READY",
            "a dependency is unavailable",
        )
        .with("checks", checks));
    }
    Ok(Json(Readiness {
        status: "ready".into(),
        checks,
    }))
}
