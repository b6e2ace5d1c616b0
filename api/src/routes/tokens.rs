use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use uuid::Uuid;

use crate::dto::{CreateTokenRequest, CreatedToken, TokenList, TokenSummary};
use crate::error::{ApiError, Problem};
use crate::extract::{parse_id, ApiJson, AuthUser};
use crate::state::AppState;

/// Creates another API token for the caller. The token is in this response only.
#[utoipa::path(post, path = "/api/insight/tokens", tag = "tokens",
    request_body = CreateTokenRequest,
    security(("bearer" = [])),
    responses((status = 201, body = CreatedToken), (status = "4XX", body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<CreateTokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let name = request.name.unwrap_or_else(|| "api".to_string());
    let issued = state.identity.issue_token(user.user_id, &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            success: true,
            id: issued.id,
            name: issued.name,
            token: issued.token.expose().to_string(),
            created_at: issued.created_at,
        }),
    ))
}

/// Lists the caller's tokens (never the secrets).
#[utoipa::path(get, path = "/api/insight/tokens", tag = "tokens",
    security(("bearer" = [])),
    responses((status = 200, body = TokenList), (status = "4XX", body = Problem)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<TokenList>, ApiError> {
    let tokens = state.identity.list_tokens(user.user_id).await?;
    Ok(Json(TokenList {
        success: true,
        tokens: tokens
            .into_iter()
            .map(|token| TokenSummary {
                id: token.id,
                name: token.name,
                prefix: token.prefix,
                created_at: token.created_at,
                revoked_at: token.revoked_at,
            })
            .collect(),
    }))
}

/// Revokes one of the caller's tokens; it stops working at once.
#[utoipa::path(delete, path = "/api/insight/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "Token id")),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let token_id: Uuid = parse_id("id", &id)?;
    state.identity.revoke_token(user.user_id, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
