//! The catch-up reader every projector and relay uses. It reads the log in the only order that
//! never skips a late commit:
//!
//! ```sql
//! WHERE (transaction_id, global_position) > ($last_tx, $last_pos)
//!   AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
//! ORDER BY transaction_id, global_position
//! ```
//!
//! `global_position` alone is not enough: identity values are taken at insert and become
//! visible at commit, out of order. Below the snapshot's xmin every transaction has finished,
//! so nothing can still appear behind the checkpoint.

use std::time::Duration;

use application::EventPosition;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;
use uuid::Uuid;

/// One row of the event log, as catch-up readers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub position: EventPosition,
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

impl StoredEvent {
    /// Deserialises the payload into the aggregate's event enum. cqrs-es stores the enum
    /// externally tagged (`{"AnalysisRequested": {...}}`), which is what serde reads back.
    pub fn decode<E: serde::de::DeserializeOwned>(&self) -> Result<E, serde_json::Error> {
        E::deserialize(&self.payload)
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    transaction_id: String,
    global_position: i64,
    event_id: Uuid,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Value,
    metadata: Value,
    recorded_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    #[error("reading the event log failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("corrupt transaction id `{0}` in the event log")]
    CorruptTransactionId(String),
}

/// Reads batches of the log after a position, in catch-up order.
#[derive(Debug, Clone, Copy)]
pub struct CatchUpReader {
    batch_size: i64,
}

impl CatchUpReader {
    pub fn new(batch_size: i64) -> Self {
        Self {
            batch_size: batch_size.max(1),
        }
    }

    /// The next events after `after` whose transactions have all finished.
    pub async fn read_after(
        &self,
        conn: &mut PgConnection,
        after: EventPosition,
    ) -> Result<Vec<StoredEvent>, CatchUpError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT transaction_id::text AS transaction_id, global_position, event_id, \
                    aggregate_type, aggregate_id, sequence, event_type, event_version, \
                    payload, metadata, recorded_at \
               FROM events \
              WHERE (transaction_id, global_position) > ($1::text::xid8, $2) \
                AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
              ORDER BY transaction_id, global_position \
              LIMIT $3",
        )
        .bind(after.transaction_id.to_string())
        .bind(after.global_position)
        .bind(self.batch_size)
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|row| {
                let transaction_id = row
                    .transaction_id
                    .parse()
                    .map_err(|_| CatchUpError::CorruptTransactionId(row.transaction_id.clone()))?;
                Ok(StoredEvent {
                    position: EventPosition {
                        transaction_id,
                        global_position: row.global_position,
                    },
                    event_id: row.event_id,
                    aggregate_type: row.aggregate_type,
                    aggregate_id: row.aggregate_id,
                    sequence: row.sequence,
                    event_type: row.event_type,
                    event_version: row.event_version,
                    payload: row.payload,
                    metadata: row.metadata,
                    recorded_at: row.recorded_at,
                })
            })
            .collect()
    }
}

/// Loads a named checkpoint (the start of the log when it has none).
pub async fn load_checkpoint(
    conn: &mut PgConnection,
    name: &str,
) -> Result<EventPosition, CatchUpError> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT transaction_id::text, global_position FROM checkpoints WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(conn)
    .await?;
    match row {
        None => Ok(EventPosition::default()),
        Some((transaction_id, global_position)) => Ok(EventPosition {
            transaction_id: transaction_id
                .parse()
                .map_err(|_| CatchUpError::CorruptTransactionId(transaction_id.clone()))?,
            global_position,
        }),
    }
}

/// Stores a checkpoint; call it inside the transaction that applied the events.
pub async fn save_checkpoint(
    conn: &mut PgConnection,
    name: &str,
    position: EventPosition,
) -> Result<(), CatchUpError> {
    sqlx::query(
        "INSERT INTO checkpoints (name, transaction_id, global_position, updated_at) \
         VALUES ($1, $2::text::xid8, $3, now()) \
         ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id, \
             global_position = EXCLUDED.global_position, updated_at = now()",
    )
    .bind(name)
    .bind(position.transaction_id.to_string())
    .bind(position.global_position)
    .execute(conn)
    .await?;
    Ok(())
}

/// Wakes catch-up readers when events are appended (the `insight_events` notification sent by
/// a trigger at commit). Readers also poll, so a dropped connection only costs latency.
#[derive(Clone)]
pub struct EventNotifier {
    appended: watch::Receiver<u64>,
}

impl EventNotifier {
    pub const CHANNEL: &'static str = "insight_events";

    /// Starts one listener task for the whole process.
    pub fn spawn(pool: PgPool) -> Self {
        let (sender, receiver) = watch::channel(0u64);
        tokio::spawn(async move {
            loop {
                if let Err(error) = listen(&pool, &sender).await {
                    tracing::warn!(%error, "event notification listener failed; reconnecting");
                }
                if sender.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Self { appended: receiver }
    }

    /// Returns when events were appended since the last call or when `poll` has passed.
    pub async fn wait(&mut self, poll: Duration) {
        let _ = tokio::time::timeout(poll, self.appended.changed()).await;
    }
}

async fn listen(pool: &PgPool, sender: &watch::Sender<u64>) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(EventNotifier::CHANNEL).await?;
    loop {
        listener.recv().await?;
        sender.send_modify(|count| *count += 1);
        if sender.is_closed() {
            return Ok(());
        }
    }
}
