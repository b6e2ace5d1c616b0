//! The notification outbox in Postgres.

use async_trait::async_trait;
use sqlx::PgPool;

use application::notifications::{Notification, NotificationOutbox};
use application::StoreError;

#[derive(Clone)]
pub struct PgNotificationOutbox {
    pool: PgPool,
}

impl PgNotificationOutbox {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl NotificationOutbox for PgNotificationOutbox {
    async fn record(&self, notification: &Notification) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO notifications (id, user_id, kind, subject, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(notification.id)
        .bind(notification.user.as_uuid())
        .bind(notification.kind.as_str())
        .bind(&notification.subject)
        .bind(&notification.body)
        .bind(notification.created_at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(())
    }
}
