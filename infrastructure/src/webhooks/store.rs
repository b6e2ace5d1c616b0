//! Endpoints, deliveries and attempts in Postgres; replay reads the event log itself, so it
//! reaches events older than anything NATS keeps.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use application::internal_webhook::ReceivedMessages;
use application::webhooks::{
    message_body, Delivery, DeliveryAttempt, NewEndpoint, WebhookEndpoint, WebhookSecret,
    WebhookStore, WEBHOOK_EVENT_TYPES,
};
use application::StoreError;
use domain::{ProjectId, UserId};

/// Most events one replay schedules.
pub const MAX_REPLAY_EVENTS: i64 = 10_000;

/// The owner and project of an aggregate, from its first event (the log is the truth; read
/// models may lag behind the stream).
pub(crate) const OWNER_COLUMNS: &str =
    "coalesce(f.payload -> 'AnalysisRequested' ->> 'owner', f.payload -> 'ProjectCreated' ->> 'owner') AS owner, \
     coalesce(f.payload -> 'AnalysisRequested' ->> 'projectId', f.payload -> 'ProjectCreated' ->> 'projectId') AS project";

#[derive(Clone)]
pub struct PgWebhookStore {
    pool: PgPool,
}

impl PgWebhookStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

type EndpointRow = (
    Uuid,
    Option<Uuid>,
    String,
    Vec<String>,
    Option<Uuid>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
);

const ENDPOINT_COLUMNS: &str = "id, owner_id, url, event_types, project_id, created_at, \
     disabled_at, disabled_reason, previous_secret_expires_at";

fn endpoint(row: EndpointRow) -> WebhookEndpoint {
    WebhookEndpoint {
        id: row.0,
        owner: row.1.map(UserId::from_uuid),
        url: row.2,
        event_types: row.3,
        project_id: row.4.map(ProjectId::from_uuid),
        created_at: row.5,
        disabled_at: row.6,
        disabled_reason: row.7,
        previous_secret_expires_at: row.8,
    }
}

fn store_error(error: sqlx::Error) -> StoreError {
    StoreError::new(error)
}

#[async_trait]
impl WebhookStore for PgWebhookStore {
    async fn insert_endpoint(&self, new: &NewEndpoint) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, owner_id, url, event_types, project_id, secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new.id)
        .bind(new.owner.as_uuid())
        .bind(&new.url)
        .bind(&new.event_types)
        .bind(new.project_id.map(|id| id.as_uuid()))
        .bind(new.secret.expose())
        .bind(new.created_at)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn endpoints_of(&self, owner: UserId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
              WHERE owner_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
        ))
        .bind(owner.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(rows.into_iter().map(endpoint).collect())
    }

    async fn endpoint(
        &self,
        owner: UserId,
        id: Uuid,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        let row: Option<EndpointRow> = sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
              WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL"
        ))
        .bind(id)
        .bind(owner.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(row.map(endpoint))
    }

    async fn delete_endpoint(&self, owner: UserId, id: Uuid) -> Result<bool, StoreError> {
        let deleted = sqlx::query(
            "UPDATE webhook_endpoints SET deleted_at = now() \
              WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(owner.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn rotate_secret(
        &self,
        id: Uuid,
        secret: &WebhookSecret,
        previous_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, secret = $2, \
                    previous_secret_expires_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(secret.expose())
        .bind(previous_until)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn deliveries(&self, endpoint: Uuid, limit: i64) -> Result<Vec<Delivery>, StoreError> {
        type Row = (Uuid, Uuid, String, String, DateTime<Utc>, DateTime<Utc>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, event_id, event_type, status, next_attempt_at, created_at \
               FROM webhook_deliveries WHERE endpoint_id = $1 \
              ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(endpoint)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let ids: Vec<Uuid> = rows.iter().map(|row| row.0).collect();
        type AttemptRow = (
            Uuid,
            i32,
            DateTime<Utc>,
            Option<i32>,
            i64,
            Option<String>,
            Option<String>,
        );
        let attempts: Vec<AttemptRow> = sqlx::query_as(
            "SELECT delivery_id, attempt, attempted_at, status_code, duration_ms, response_body, error \
               FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, event_id, event_type, status, next, created_at)| Delivery {
                    id,
                    event_id,
                    event_type,
                    next_attempt_at: (status == "pending").then_some(next),
                    status,
                    created_at,
                    attempts: attempts
                        .iter()
                        .filter(|attempt| attempt.0 == id)
                        .map(|attempt| DeliveryAttempt {
                            attempt: attempt.1,
                            attempted_at: attempt.2,
                            status_code: attempt.3.and_then(|code| u16::try_from(code).ok()),
                            duration_ms: attempt.4,
                            response_body: attempt.5.clone(),
                            error: attempt.6.clone(),
                        })
                        .collect(),
                },
            )
            .collect())
    }

    async fn redeliver(&self, endpoint: Uuid, delivery: Uuid) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now() \
              WHERE id = $1 AND endpoint_id = $2",
        )
        .bind(delivery)
        .bind(endpoint)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(updated.rows_affected() > 0)
    }

    async fn replay(
        &self,
        endpoint: &WebhookEndpoint,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let wanted: Vec<&str> = if endpoint.event_types.is_empty() {
            WEBHOOK_EVENT_TYPES.to_vec()
        } else {
            endpoint.event_types.iter().map(String::as_str).collect()
        };
        let stored: Vec<&str> = wanted
            .iter()
            .filter_map(|public| super::stored_event_type(public).map(|(_, event)| event))
            .collect();
        type Row = (
            Uuid,
            String,
            String,
            String,
            DateTime<Utc>,
            Value,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT e.event_id, e.aggregate_type, e.aggregate_id, e.event_type, e.recorded_at, \
                    e.payload -> e.event_type, {OWNER_COLUMNS} \
               FROM events e \
               JOIN events f ON f.aggregate_type = e.aggregate_type \
                            AND f.aggregate_id = e.aggregate_id AND f.sequence = 1 \
              WHERE e.recorded_at >= $1 AND e.event_type = ANY($2) \
                AND coalesce(f.payload -> 'AnalysisRequested' ->> 'owner', \
                             f.payload -> 'ProjectCreated' ->> 'owner') = $3 \
              ORDER BY e.global_position LIMIT $4"
        ))
        .bind(since)
        .bind(&stored)
        .bind(endpoint.owner.map(|owner| owner.to_string()))
        .bind(MAX_REPLAY_EVENTS)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let mut scheduled = 0;
        for (event_id, aggregate_type, aggregate_id, event_type, at, data, owner, project) in rows {
            let public = crate::public_events::public_type(&aggregate_type, &event_type);
            let project_id = project.and_then(|id| id.parse::<Uuid>().ok());
            if endpoint
                .project_id
                .is_some_and(|wanted| Some(wanted.as_uuid()) != project_id)
            {
                continue;
            }
            let body = message_body(
                &public,
                at,
                &aggregate_id,
                owner.and_then(|id| id.parse().ok()).map(UserId::from_uuid),
                project_id.map(ProjectId::from_uuid),
                &data,
            );
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (endpoint_id, event_id) DO UPDATE \
                    SET status = 'pending', next_attempt_at = now()",
            )
            .bind(Uuid::now_v7())
            .bind(endpoint.id)
            .bind(event_id)
            .bind(&public)
            .bind(&body)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
            scheduled += 1;
        }
        Ok(scheduled)
    }
}

/// Message ids received on the internal webhook.
#[derive(Clone)]
pub struct PgReceivedMessages {
    pool: PgPool,
}

impl PgReceivedMessages {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl ReceivedMessages for PgReceivedMessages {
    async fn first_time(&self, id: &str, event_type: &str) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO internal_webhook_messages (id, event_type) VALUES ($1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(event_type)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(inserted.rows_affected() > 0)
    }

    async fn forget(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM internal_webhook_messages WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
