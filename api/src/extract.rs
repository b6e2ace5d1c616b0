//! Request extractors: JSON bodies with our error mapping, the authenticated user, the
//! correlation id, and typed ids from path segments.

use std::str::FromStr;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::Json;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use domain::UserId;

/// `Json<T>` whose rejections become problem documents (415, 400, 413) instead of axum's text.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// The caller, established from `Authorization: Bearer <token>`.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: UserId,
    pub token_id: Uuid,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = match parts.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| ApiError::from(application::AuthFailure::Invalid))?,
            ),
        };
        let user = state.identity.authenticate(header).await??;
        tracing::Span::current().record("user.id", tracing::field::display(user.user_id));
        Ok(Self {
            user_id: user.user_id,
            token_id: user.token_id,
        })
    }
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id that ties together everything one request causes: taken from `X-Request-Id` when the
/// client sends a UUID there, otherwise made here. Stored on every event as `correlation_id`.
#[derive(Debug, Clone, Copy)]
pub struct CorrelationId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for CorrelationId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let id = parts
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|value: &HeaderValue| value.to_str().ok())
            .and_then(|value| Uuid::parse_str(value.trim()).ok())
            .unwrap_or_else(Uuid::now_v7);
        Ok(Self(id))
    }
}

/// Parses a path segment into a typed id, naming the parameter when it is not one.
pub fn parse_id<T: FromStr>(parameter: &str, raw: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_parameter(parameter, format!("`{raw}` is not a valid UUID")))
}

/// An optional JSON body: no body at all is `None`; anything else must be valid JSON.
pub struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers();
        let declared_empty = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|length| length.trim() == "0");
        let no_body_announced = headers.get(header::CONTENT_TYPE).is_none()
            && headers.get(header::CONTENT_LENGTH).is_none()
            && headers.get(header::TRANSFER_ENCODING).is_none();
        if declared_empty || no_body_announced {
            return Ok(Self(None));
        }
        let ApiJson(value) = ApiJson::<T>::from_request(request, state).await?;
        Ok(Self(Some(value)))
    }
}
