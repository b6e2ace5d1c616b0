use application::identity::NewApiToken;
use application::{
    AppError, AuthenticatedUser, IdentityStore, NewUser, StoreError, TokenHash, TokenInfo,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::UserId;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Clone)]
pub struct PgIdentityStore {
    pool: PgPool,
}

impl PgIdentityStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl IdentityStore for PgIdentityStore {
    async fn create_user(&self, user: &NewUser) -> Result<(), AppError> {
        let result =
            sqlx::query("INSERT INTO users (id, email, plan, created_at) VALUES ($1, $2, $3, $4)")
                .bind(user.id.as_uuid())
                .bind(user.email.as_str())
                .bind(user.plan.as_str())
                .bind(user.created_at)
                .execute(&self.pool)
                .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.constraint() == Some("users_email_key") => {
                Err(AppError::Conflict(
                    "a user with this e-mail address already exists".into(),
                ))
            }
            Err(error) => Err(StoreError::new(error).into()),
        }
    }

    async fn insert_token(&self, token: &NewApiToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, token_prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.id)
        .bind(token.user_id.as_uuid())
        .bind(&token.name)
        .bind(&token.hash.0[..])
        .bind(&token.prefix)
        .bind(token.created_at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(())
    }

    async fn find_by_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AuthenticatedUser>, StoreError> {
        let row: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT id, user_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(row.map(|(token_id, user_id)| AuthenticatedUser {
            user_id: UserId::from_uuid(user_id),
            token_id,
        }))
    }

    async fn revoke_token(
        &self,
        user: UserId,
        token_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 \
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(token_id)
        .bind(user.as_uuid())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(result.rows_affected() == 1)
    }

    async fn list_tokens(&self, user: UserId) -> Result<Vec<TokenInfo>, StoreError> {
        let rows: Vec<(Uuid, String, String, DateTime<Utc>, Option<DateTime<Utc>>)> =
            sqlx::query_as(
                "SELECT id, name, token_prefix, created_at, revoked_at FROM api_tokens \
                 WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
            )
            .bind(user.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::new)?;
        Ok(rows
            .into_iter()
            .map(|(id, name, prefix, created_at, revoked_at)| TokenInfo {
                id,
                name,
                prefix,
                created_at,
                revoked_at,
            })
            .collect())
    }
}
