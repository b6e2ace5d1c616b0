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
use std::sync::Arc;

use sqlx::PgConnection;
use tokio::sync::broadcast;
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

/// One read: the events found, and how far the log has been scanned for this reader.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub events: Vec<StoredEvent>,
    /// Every event up to here that the reader asked for is in `events` (or was before `after`):
    /// the last event's position when the batch is full, otherwise the snapshot horizon, so a
    /// reader that filters by event type moves past events it does not care about.
    pub scanned_to: EventPosition,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    horizon: String,
    transaction_id: Option<String>,
    global_position: Option<i64>,
    event_id: Option<Uuid>,
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    sequence: Option<i64>,
    event_type: Option<String>,
    event_version: Option<String>,
    payload: Option<Value>,
    metadata: Option<Value>,
    recorded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    #[error("reading the event log failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("corrupt transaction id `{0}` in the event log")]
    CorruptTransactionId(String),
}

fn parse_xid(text: &str) -> Result<u64, CatchUpError> {
    text.parse()
        .map_err(|_| CatchUpError::CorruptTransactionId(text.to_string()))
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

    /// One round trip in catch-up order: the snapshot horizon (None when the log is empty
    /// past `after`) and the rows after `after` below it, each with its position. `columns`
    /// are the event columns each reader wants (as `e.<column>`).
    async fn read_rows<R>(
        &self,
        conn: &mut PgConnection,
        after: EventPosition,
        event_types: &[&str],
        columns: &str,
    ) -> Result<(Option<u64>, Vec<(EventPosition, R)>), CatchUpError>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin + CatchUpRow,
    {
        // Without a type filter the clause is left out rather than made a no-op: with
        // `cardinality($4) = 0 OR event_type = ANY($4)` in the relay's query, some benchmark
        // runs published at half the rate (`insight bench pipeline`: 0.31 against 0.56).
        let type_filter = if event_types.is_empty() {
            ""
        } else {
            "AND event_type = ANY($4)"
        };
        let sql = format!(
            "WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) \
             SELECT h.xmin::text AS horizon, e.transaction_id::text AS transaction_id, \
                    e.global_position, {columns} \
               FROM horizon h \
               LEFT JOIN LATERAL ( \
                    SELECT * FROM events \
                     WHERE (transaction_id, global_position) > ($1::text::xid8, $2) \
                       AND transaction_id < h.xmin {type_filter} \
                     ORDER BY transaction_id, global_position \
                     LIMIT $3) e ON true"
        );
        let mut query = sqlx::query_as(&sql)
            .bind(after.transaction_id.to_string())
            .bind(after.global_position)
            .bind(self.batch_size);
        if !event_types.is_empty() {
            query = query.bind(event_types);
        }
        let rows: Vec<R> = query.fetch_all(conn).await?;
        let horizon = rows
            .first()
            .map(|row| parse_xid(row.horizon()))
            .transpose()?;
        let mut positioned = Vec::with_capacity(rows.len());
        for row in rows {
            // An empty read is one row holding only the horizon.
            let Some((transaction_id, global_position)) = row.position() else {
                continue;
            };
            let position = EventPosition {
                transaction_id: parse_xid(transaction_id)?,
                global_position,
            };
            positioned.push((position, row));
        }
        Ok((horizon, positioned))
    }

    /// The next events after `after` whose transactions have all finished; only the given
    /// event types when `event_types` is not empty. One round trip.
    pub async fn read_after(
        &self,
        conn: &mut PgConnection,
        after: EventPosition,
        event_types: &[&str],
    ) -> Result<Batch, CatchUpError> {
        let (horizon, rows) = self
            .read_rows::<EventRow>(
                conn,
                after,
                event_types,
                "e.event_id, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, \
                 e.event_version, e.payload, e.metadata, e.recorded_at",
            )
            .await?;
        let events: Vec<StoredEvent> = rows
            .into_iter()
            .map(|(position, row)| StoredEvent {
                position,
                event_id: row.event_id.unwrap_or_default(),
                aggregate_type: row.aggregate_type.unwrap_or_default(),
                aggregate_id: row.aggregate_id.unwrap_or_default(),
                sequence: row.sequence.unwrap_or_default(),
                event_type: row.event_type.unwrap_or_default(),
                event_version: row.event_version.unwrap_or_default(),
                payload: row.payload.unwrap_or(Value::Null),
                metadata: row.metadata.unwrap_or(Value::Null),
                recorded_at: row.recorded_at.unwrap_or_default(),
            })
            .collect();
        let scanned_to = self.scanned_to(
            after,
            horizon,
            events.last().map(|event| event.position),
            events.len(),
        );
        Ok(Batch { events, scanned_to })
    }
}

/// What every catch-up row carries besides the event: the horizon and the position.
trait CatchUpRow {
    fn horizon(&self) -> &str;
    fn position(&self) -> Option<(&str, i64)>;
}

macro_rules! catch_up_row {
    ($row:ty) => {
        impl CatchUpRow for $row {
            fn horizon(&self) -> &str {
                &self.horizon
            }

            fn position(&self) -> Option<(&str, i64)> {
                Some((self.transaction_id.as_deref()?, self.global_position?))
            }
        }
    };
}

catch_up_row!(EventRow);
catch_up_row!(PublishedRow);

/// An event as the relay publishes it: the event's own fields as raw JSON text, straight from
/// Postgres (no parse and re-serialise on the way to NATS).
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedEvent {
    pub position: EventPosition,
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// `payload -> event_type`: the fields inside the stored `{"EventType": {...}}`.
    pub data: String,
    pub actor: Option<String>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PublishedRow {
    horizon: String,
    transaction_id: Option<String>,
    global_position: Option<i64>,
    event_id: Option<Uuid>,
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    sequence: Option<i64>,
    event_type: Option<String>,
    event_version: Option<String>,
    data: Option<String>,
    actor: Option<String>,
    correlation_id: Option<Uuid>,
    causation_id: Option<Uuid>,
    recorded_at: Option<DateTime<Utc>>,
}

/// A batch of events to publish, and how far the log has been scanned (as in `Batch`).
#[derive(Debug, Clone, PartialEq)]
pub struct PublishBatch {
    pub events: Vec<PublishedEvent>,
    pub scanned_to: EventPosition,
}

impl CatchUpReader {
    /// Like `read_after` (same order, same horizon), shaped for publishing.
    pub async fn read_for_publishing(
        &self,
        conn: &mut PgConnection,
        after: EventPosition,
    ) -> Result<PublishBatch, CatchUpError> {
        let (horizon, rows) = self
            .read_rows::<PublishedRow>(
                conn,
                after,
                &[],
                "e.event_id, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, \
                 e.event_version, (e.payload -> e.event_type)::text AS data, e.actor, \
                 e.correlation_id, e.causation_id, e.recorded_at",
            )
            .await?;
        let events: Vec<PublishedEvent> = rows
            .into_iter()
            .map(|(position, row)| PublishedEvent {
                position,
                event_id: row.event_id.unwrap_or_default(),
                aggregate_type: row.aggregate_type.unwrap_or_default(),
                aggregate_id: row.aggregate_id.unwrap_or_default(),
                sequence: row.sequence.unwrap_or_default(),
                event_type: row.event_type.unwrap_or_default(),
                event_version: row.event_version.unwrap_or_default(),
                data: row.data.unwrap_or_else(|| "null".to_string()),
                actor: row.actor,
                correlation_id: row.correlation_id,
                causation_id: row.causation_id,
                recorded_at: row.recorded_at.unwrap_or_default(),
            })
            .collect();
        let scanned_to = self.scanned_to(
            after,
            horizon,
            events.last().map(|e| e.position),
            events.len(),
        );
        Ok(PublishBatch { events, scanned_to })
    }

    fn scanned_to(
        &self,
        after: EventPosition,
        horizon: Option<u64>,
        last: Option<EventPosition>,
        count: usize,
    ) -> EventPosition {
        let Some(horizon) = horizon else {
            return after;
        };
        if count as i64 >= self.batch_size {
            return last.unwrap_or(after);
        }
        // Everything below the horizon has finished: nothing can still appear before it.
        let below_horizon = EventPosition {
            transaction_id: horizon.saturating_sub(1),
            global_position: i64::MAX,
        };
        below_horizon.max(last.unwrap_or(after)).max(after)
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
            transaction_id: parse_xid(&transaction_id)?,
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

/// Moves a checkpoint from `from` to `to` if nobody else moved it meanwhile (compare-and-set),
/// inside the caller's transaction; false means another reader (or a rebuild) got there first
/// and the caller must roll back. With `announce`, `pg_notify(channel, payload)` is sent in the
/// same statement, delivered when the transaction commits.
pub async fn advance_checkpoint(
    conn: &mut PgConnection,
    name: &str,
    from: EventPosition,
    to: EventPosition,
    announce: Option<(&str, String)>,
) -> Result<bool, CatchUpError> {
    let (channel, payload) = match announce {
        Some((channel, payload)) => (Some(channel), Some(payload)),
        None => (None, None),
    };
    let moved = sqlx::query(
        "UPDATE checkpoints SET transaction_id = $4::text::xid8, global_position = $5, \
                updated_at = now() \
          WHERE name = $1 AND transaction_id = $2::text::xid8 AND global_position = $3 \
         RETURNING CASE WHEN $6::text IS NULL THEN NULL ELSE pg_notify($6, $7) END",
    )
    .bind(name)
    .bind(from.transaction_id.to_string())
    .bind(from.global_position)
    .bind(to.transaction_id.to_string())
    .bind(to.global_position)
    .bind(channel)
    .bind(payload)
    .fetch_optional(conn)
    .await?;
    Ok(moved.is_some())
}

/// Creates a checkpoint at the start of the log unless it exists.
pub async fn ensure_checkpoint(conn: &mut PgConnection, name: &str) -> Result<(), CatchUpError> {
    sqlx::query("INSERT INTO checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Wakes catch-up readers in this process as soon as a command of this process appended
/// events of a type they read; readers also poll, which is how events appended by other
/// processes reach them. (A Postgres NOTIFY per append would wake every process, but it
/// serialises appends: see the event-store migration.)
#[derive(Clone)]
pub struct EventNotifier {
    sender: broadcast::Sender<Arc<[String]>>,
}

impl Default for EventNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl EventNotifier {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(1024);
        Self { sender }
    }

    /// Called after a commit that appended events of these types (empty: not known).
    pub fn appended(&self, event_types: Vec<String>) {
        // No receiver is fine: nobody in this process reads the log.
        let _ = self.sender.send(event_types.into());
    }

    /// A waiter that wakes for the given event types (all when empty).
    pub fn subscribe(&self, event_types: &'static [&'static str]) -> EventWaiter {
        EventWaiter {
            receiver: self.sender.subscribe(),
            event_types,
        }
    }
}

pub struct EventWaiter {
    receiver: broadcast::Receiver<Arc<[String]>>,
    event_types: &'static [&'static str],
}

impl EventWaiter {
    /// Returns when events of interest were appended since the last call, or after `poll`.
    pub async fn wait(&mut self, poll: Duration) {
        let deadline = tokio::time::Instant::now() + poll;
        loop {
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Err(_elapsed) => return,
                Ok(Ok(types)) => {
                    // An empty list means "unknown types": wake.
                    let relevant = self.event_types.is_empty()
                        || types.is_empty()
                        || types
                            .iter()
                            .any(|appended| self.event_types.contains(&appended.as_str()));
                    if relevant {
                        return;
                    }
                }
                // Missed some: they may have been relevant.
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => return,
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    tokio::time::sleep_until(deadline).await;
                    return;
                }
            }
        }
    }
}
