//! The Stripe event log and customer links in Postgres (`application::stripe::StripeEventLog`).

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use serde_json::Value;
use sqlx::PgPool;

use application::stripe::{StripeEvent, StripeEventLog, StripeOutcome};
use application::StoreError;
use domain::UserId;

#[derive(Clone)]
pub struct PgStripeEventLog {
    pool: PgPool,
}

impl PgStripeEventLog {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl StripeEventLog for PgStripeEventLog {
    async fn receive(&self, event: &StripeEvent, body: &Value) -> Result<bool, StoreError> {
        let created = Utc
            .timestamp_opt(event.created, 0)
            .single()
            .unwrap_or_default();
        let handled: Option<bool> = sqlx::query_scalar(
            "WITH inserted AS ( \
                 INSERT INTO stripe_events (id, type, created, livemode, body) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING false) \
             SELECT * FROM inserted \
             UNION ALL \
             SELECT handled_at IS NOT NULL AND parked_for_customer IS NULL \
               FROM stripe_events WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM inserted)",
        )
        .bind(&event.id)
        .bind(&event.event_type)
        .bind(created)
        .bind(event.livemode)
        .bind(body)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(handled.unwrap_or(false))
    }

    async fn finish(&self, event_id: &str, outcome: &StripeOutcome) -> Result<(), StoreError> {
        let parked = *outcome == StripeOutcome::Parked;
        sqlx::query(
            "UPDATE stripe_events SET handled_at = now(), outcome = $2, \
                 parked_for_customer = CASE WHEN $3 THEN parked_for_customer END \
             WHERE id = $1",
        )
        .bind(event_id)
        .bind(outcome.as_str())
        .bind(parked)
        .execute(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(())
    }

    async fn park(&self, event_id: &str, customer_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE stripe_events SET parked_for_customer = $2 WHERE id = $1")
            .bind(event_id)
            .bind(customer_id)
            .execute(&self.pool)
            .await
            .map_err(StoreError::new)?;
        Ok(())
    }

    async fn parked_for(&self, customer_id: &str) -> Result<Vec<Value>, StoreError> {
        sqlx::query_scalar(
            "SELECT body FROM stripe_events WHERE parked_for_customer = $1 \
             ORDER BY created, received_at",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::new)
    }

    async fn link_customer(&self, customer_id: &str, user: UserId) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stripe_customers (customer_id, user_id) VALUES ($1, $2) \
             ON CONFLICT (customer_id) DO NOTHING",
        )
        .bind(customer_id)
        .bind(user.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(())
    }

    async fn user_for_customer(&self, customer_id: &str) -> Result<Option<UserId>, StoreError> {
        let user: Option<uuid::Uuid> =
            sqlx::query_scalar("SELECT user_id FROM stripe_customers WHERE customer_id = $1")
                .bind(customer_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::new)?;
        Ok(user.map(UserId::from_uuid))
    }

    async fn user_exists(&self, user: UserId) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
            .bind(user.as_uuid())
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::new)
    }
}
