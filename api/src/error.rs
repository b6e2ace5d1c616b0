//! The one error envelope: `application/problem+json` (RFC 9457) that also carries the original
//! service's `error` field and a stable `code`. Every failure of every handler ends up here.

use std::error::Error as StdError;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use application::{AppError, AuthFailure, StoreError};
use projections::queries::QueryError;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// RFC 9457 problem details, plus `code` and `error` for existing clients.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem, e.g. `urn:insight:problem:not-found`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `NOT_FOUND`, `MISSING_TOKEN`.
    pub code: String,
    /// The human-readable message, as the original API returned it.
    pub error: String,
    /// Problem-specific members (`parameter`, `validDetectors`, `analysisStatus`, ...).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    extensions: Map<String, Value>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    /// Logged, never sent: the cause of a 500.
    internal: Option<Box<dyn StdError + Send + Sync>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            extensions: Map::new(),
            headers: Vec::new(),
            internal: None,
        }
    }

    /// Adds a response header (`Retry-After`, say).
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_string(), value.into());
        self
    }

    /// A query, path or header parameter the client got wrong.
    pub fn bad_parameter(parameter: &str, message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            format!("{parameter}: {message}"),
        )
        .with("parameter", parameter)
    }

    pub fn bad_field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
            format!("{field}: {message}"),
        )
        .with("field", field)
    }

    pub fn not_found(resource: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{resource} not found"),
        )
    }

    pub fn internal(error: impl StdError + Send + Sync + 'static) -> Self {
        let mut api_error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error; it has been logged",
        );
        api_error.internal = Some(Box::new(error));
        api_error
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            problem_type: format!(
                "urn:insight:problem:{}",
                self.code.to_ascii_lowercase().replace('_', "-")
            ),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            error: self.detail.clone(),
            extensions: self.extensions.clone(),
        }
    }
}

/// The cause chain of an error on one line, for the log.
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(internal) = &self.internal {
            tracing::error!(error = %chain(internal.as_ref()), "request failed");
        }
        let body = serde_json::to_vec(&self.to_problem()).expect("problem serialises");
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"insight\""),
            );
        }
        response
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound { resource } => ApiError::not_found(resource),
            AppError::InvalidInput { field, message } => ApiError::bad_field(field, message),
            AppError::UnknownDetectors { unknown, valid } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "UNKNOWN_DETECTORS",
                format!(
                    "unknown detectors: {}; valid detectors are: {}",
                    unknown.join(", "),
                    valid.join(", ")
                ),
            )
            .with("unknownDetectors", unknown)
            .with("validDetectors", valid),
            AppError::AlreadyFinished { status } => ApiError::new(
                StatusCode::CONFLICT,
                "ALREADY_FINISHED",
                format!("analysis already finished: {status}"),
            )
            .with("analysisStatus", status.as_str()),
            AppError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "CONFLICT", message),
            AppError::Rejected(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "REJECTED", message)
            }
            AppError::ContentionExhausted { .. } => {
                ApiError::new(StatusCode::CONFLICT, "CONCURRENT_UPDATE", error.to_string())
            }
            AppError::LimitReached {
                kind,
                limit,
                used,
                resets_at,
            } => limit_reached(kind, limit, used, resets_at),
            AppError::CloudAnalysisNotAllowed { status } => ApiError::new(
                StatusCode::FORBIDDEN,
                "CLOUD_ANALYSIS_NOT_ALLOWED",
                format!(
                    "your subscription is {}: cloud analyses are not available until it is paid",
                    status.as_str()
                ),
            )
            .with("subscriptionStatus", status.as_str())
            .with("canRunCloudAnalysis", false)
            .with("upgradeUrl", UPGRADE_URL),
            AppError::UnmappedPrice { price_id } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNMAPPED_PRICE",
                format!("Stripe price {price_id} maps to no plan; configure STRIPE_PRICE_PLANS"),
            )
            .with("priceId", price_id),
            AppError::Store(store) => ApiError::internal(store),
        }
    }
}

/// Where a client sends a user who hit a plan limit.
pub const UPGRADE_URL: &str = "/pricing";

/// 429 with `Retry-After` for the analysis quotas (they free up with time); 403 for the
/// project limit (it frees up only when a project is archived).
fn limit_reached(
    kind: domain::LimitKind,
    limit: u32,
    used: u32,
    resets_at: Option<chrono::DateTime<chrono::Utc>>,
) -> ApiError {
    use domain::LimitKind;
    let (status, code, what) = match kind {
        LimitKind::AnalysesPerPeriod => (
            StatusCode::TOO_MANY_REQUESTS,
            "QUOTA_EXCEEDED",
            "analyses in this period",
        ),
        LimitKind::AnalysesPerHour => (
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "analyses in the last hour",
        ),
        LimitKind::ConcurrentAnalyses => (
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_RUNNING",
            "analyses running at once",
        ),
        LimitKind::Projects => (StatusCode::FORBIDDEN, "PROJECT_LIMIT_REACHED", "projects"),
    };
    let mut detail = format!("plan limit reached: {used} of {limit} {what}");
    if let Some(resets_at) = resets_at {
        detail.push_str(&format!("; resets at {}", resets_at.to_rfc3339()));
    }
    let mut error = ApiError::new(status, code, detail)
        .with("limitName", kind.as_str())
        .with("limit", limit)
        .with("used", used)
        .with("upgradeUrl", UPGRADE_URL);
    if let Some(resets_at) = resets_at {
        error = error.with(
            "resetsAt",
            resets_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        if status == StatusCode::TOO_MANY_REQUESTS {
            let millis = (resets_at - chrono::Utc::now()).num_milliseconds();
            let seconds = ((millis + 999) / 1000).max(1);
            error = error.with_header(
                header::RETRY_AFTER,
                HeaderValue::from_str(&seconds.to_string()).expect("digits are a header value"),
            );
        }
    }
    error
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::internal(error)
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::InvalidCursor => ApiError::bad_parameter("cursor", error),
            QueryError::Database(_) => ApiError::internal(error),
        }
    }
}

impl From<AuthFailure> for ApiError {
    fn from(failure: AuthFailure) -> Self {
        match failure {
            AuthFailure::Missing => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "MISSING_TOKEN",
                "missing bearer token: send `Authorization: Bearer <token>`",
            ),
            AuthFailure::Invalid => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_TOKEN",
                "invalid or revoked token",
            ),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "expected `Content-Type: application/json`",
            ),
            JsonRejection::JsonSyntaxError(error) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED_JSON",
                format!("malformed JSON: {}", error.body_text()),
            ),
            // Unknown fields and wrong types are the client's mistake: 400, as the API promises.
            JsonRejection::JsonDataError(error) => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_BODY", error.body_text())
            }
            JsonRejection::BytesRejection(error)
                if error.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    "request body is larger than the limit of 1 MiB",
                )
            }
            other => ApiError::new(other.status(), "INVALID_BODY", other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_parameter("path", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_parameter("query", rejection.body_text())
    }
}
