//! Runs projectors: read a batch in catch-up order, apply it, move the checkpoint and announce
//! it, commit. One transaction per batch, so rows and checkpoint move together or not at all.
//! The checkpoint moves by compare-and-set, so any number of runners of one projector (in any
//! number of processes) apply each event exactly once: a runner that lost the race rolls back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use application::EventPosition;
use async_trait::async_trait;
use chrono::Utc;
use hdrhistogram::Histogram;
use infrastructure::catch_up::{
    advance_checkpoint, ensure_checkpoint, load_checkpoint, save_checkpoint, CatchUpError,
};
use infrastructure::{CatchUpReader, CheckpointBarrier, EventNotifier, StoredEvent};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    CatchUp(#[from] CatchUpError),
    #[error("database error while projecting: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event {event_id} has an aggregate id that is not a UUID: `{aggregate_id}`")]
    BadAggregateId {
        event_id: uuid::Uuid,
        aggregate_id: String,
    },
    #[error("event {event_id} ({event_type}) cannot be decoded: {source}")]
    Decode {
        event_id: uuid::Uuid,
        event_type: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The aggregate id of an event as a UUID (every aggregate of ours is addressed by one).
pub fn aggregate_uuid(event: &StoredEvent) -> Result<uuid::Uuid, ProjectionError> {
    event
        .aggregate_id
        .parse()
        .map_err(|_| ProjectionError::BadAggregateId {
            event_id: event.event_id,
            aggregate_id: event.aggregate_id.clone(),
        })
}

impl ProjectionError {
    pub fn decode(event: &StoredEvent, source: serde_json::Error) -> Self {
        Self::Decode {
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            source,
        }
    }
}

/// A read model's writer. `apply` runs inside the batch transaction and must only write the
/// projector's own tables.
#[async_trait]
pub trait Projector: Send + Sync {
    /// Also the name of its checkpoint.
    fn name(&self) -> &'static str;

    /// The tables it owns, emptied by a rebuild.
    fn tables(&self) -> &'static [&'static str];

    /// The event types it reads (empty: all). Others are skipped in the query itself.
    fn event_types(&self) -> &'static [&'static str] {
        &[]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError>;

    /// Applies a batch in order. Override to write several events per statement.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            self.apply(conn, event).await?;
        }
        Ok(())
    }
}

/// Projection lag (event recorded → read model committed), in microseconds, per projector.
#[derive(Clone)]
pub struct ProjectionStats {
    lag_micros: Arc<Mutex<Histogram<u64>>>,
}

impl Default for ProjectionStats {
    fn default() -> Self {
        Self {
            lag_micros: Arc::new(Mutex::new(
                Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            )),
        }
    }
}

impl ProjectionStats {
    fn record(&self, events: &[StoredEvent]) {
        let now = Utc::now();
        let mut histogram = self.lag_micros.lock().expect("stats lock poisoned");
        for event in events {
            let lag = (now - event.recorded_at)
                .num_microseconds()
                .unwrap_or(i64::MAX);
            histogram.saturating_record(lag.max(1) as u64);
        }
    }

    /// (count, p50, p99, max) of the lag in milliseconds since the last reset.
    pub fn lag_millis(&self) -> (u64, f64, f64, f64) {
        let histogram = self.lag_micros.lock().expect("stats lock poisoned");
        let millis = |micros: u64| micros as f64 / 1000.0;
        (
            histogram.len(),
            millis(histogram.value_at_quantile(0.50)),
            millis(histogram.value_at_quantile(0.99)),
            millis(histogram.max()),
        )
    }

    pub fn reset(&self) {
        self.lag_micros.lock().expect("stats lock poisoned").reset();
    }
}

/// Where a runner is: the stored checkpoint (what compare-and-set expects) and how far it has
/// scanned, which can be further when the events past the checkpoint were not for it.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    stored: EventPosition,
    scanned: EventPosition,
}

#[derive(Clone)]
pub struct ProjectorRunner {
    pool: PgPool,
    projector: Arc<dyn Projector>,
    reader: CatchUpReader,
    barrier: Option<CheckpointBarrier>,
    stats: ProjectionStats,
}

/// A running projector task; `stop` ends it.
pub struct ProjectorHandle {
    pub name: &'static str,
    pub stats: ProjectionStats,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ProjectorHandle {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

impl ProjectorRunner {
    pub fn new(pool: PgPool, projector: Arc<dyn Projector>, batch_size: i64) -> Self {
        Self {
            pool,
            projector,
            reader: CatchUpReader::new(batch_size),
            barrier: None,
            stats: ProjectionStats::default(),
        }
    }

    /// Tells an in-process barrier about each commit (no round trip through Postgres).
    pub fn with_barrier(mut self, barrier: CheckpointBarrier) -> Self {
        self.barrier = Some(barrier);
        self
    }

    pub fn stats(&self) -> ProjectionStats {
        self.stats.clone()
    }

    async fn load_cursor(&self) -> Result<Cursor, ProjectionError> {
        let mut conn = self.pool.acquire().await?;
        ensure_checkpoint(&mut conn, self.projector.name()).await?;
        let stored = load_checkpoint(&mut conn, self.projector.name()).await?;
        Ok(Cursor {
            stored,
            scanned: stored,
        })
    }

    /// Applies one batch; returns how many events it applied (0: caught up for now).
    async fn run_batch(&self, cursor: &mut Cursor) -> Result<usize, ProjectionError> {
        let name = self.projector.name();
        let mut conn = self.pool.acquire().await?;
        let batch = self
            .reader
            .read_after(&mut conn, cursor.scanned, self.projector.event_types())
            .await?;
        if batch.events.is_empty() {
            // Nothing for this projector up to the horizon: remember it, write nothing.
            cursor.scanned = batch.scanned_to;
            return Ok(0);
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        self.projector.apply_batch(&mut tx, &batch.events).await?;
        let to = batch.scanned_to;
        let announcement = CheckpointBarrier::notification_payload(name, to);
        let moved = advance_checkpoint(
            &mut tx,
            name,
            cursor.stored,
            to,
            Some((CheckpointBarrier::CHANNEL, announcement)),
        )
        .await?;
        if !moved {
            // Another runner (or a rebuild) moved the checkpoint: drop this batch, start over
            // from where it is now.
            tx.rollback().await?;
            drop(conn);
            *cursor = self.load_cursor().await?;
            return Ok(0);
        }
        tx.commit().await?;
        *cursor = Cursor {
            stored: to,
            scanned: to,
        };
        self.stats.record(&batch.events);
        if let Some(barrier) = &self.barrier {
            barrier.observe(name, to);
        }
        Ok(batch.events.len())
    }

    /// Runs batches until the log holds nothing more for this projector.
    pub async fn catch_up(&self) -> Result<usize, ProjectionError> {
        let mut cursor = self.load_cursor().await?;
        let mut applied = 0;
        loop {
            match self.run_batch(&mut cursor).await? {
                0 => {
                    // A lost compare-and-set also returns 0: make sure the log is drained.
                    let mut conn = self.pool.acquire().await?;
                    let rest = self
                        .reader
                        .read_after(&mut conn, cursor.scanned, self.projector.event_types())
                        .await?;
                    if rest.events.is_empty() {
                        return Ok(applied);
                    }
                }
                n => applied += n,
            }
        }
    }

    /// Runs until stopped: batches back to back while there is work, otherwise waits for an
    /// append in this process or the poll interval. Errors are logged and retried with backoff.
    pub fn spawn(self, notifier: EventNotifier, poll: Duration) -> ProjectorHandle {
        let mut waiter = notifier.subscribe(self.projector.event_types());
        let (shutdown, mut stopped) = watch::channel(false);
        let name = self.projector.name();
        let stats = self.stats.clone();
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            let mut cursor = None;
            loop {
                if *stopped.borrow() {
                    return;
                }
                let outcome = tokio::select! {
                    outcome = self.step(&mut cursor) => outcome,
                    _ = stopped.changed() => return,
                };
                match outcome {
                    Ok(0) => {
                        backoff = Duration::from_millis(100);
                        tokio::select! {
                            _ = waiter.wait(poll) => {}
                            _ = stopped.changed() => return,
                        }
                    }
                    Ok(_) => backoff = Duration::from_millis(100),
                    Err(error) => {
                        cursor = None;
                        tracing::error!(projector = name, error = %error, "projection batch failed; retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = stopped.changed() => return,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
        ProjectorHandle {
            name,
            stats,
            shutdown,
            task,
        }
    }

    async fn step(&self, cursor: &mut Option<Cursor>) -> Result<usize, ProjectionError> {
        let current = match cursor {
            Some(current) => current,
            None => cursor.insert(self.load_cursor().await?),
        };
        self.run_batch(current).await
    }
}

/// Replays the whole log into a projector's tables. Everything happens in one transaction:
/// readers keep seeing the old rows (DELETE, not TRUNCATE, so they are not blocked) until the
/// rebuilt ones commit, and a crash half-way leaves the old read model in place. A live runner
/// of the same projector, in any process, loses its next compare-and-set and starts over from
/// the rebuilt checkpoint.
pub async fn rebuild(
    pool: &PgPool,
    projector: Arc<dyn Projector>,
    batch_size: i64,
) -> Result<usize, ProjectionError> {
    let name = projector.name();
    let reader = CatchUpReader::new(batch_size);
    let mut tx = pool.begin().await?;
    ensure_checkpoint(&mut tx, name).await?;
    // Lock the checkpoint row first: live runners block on it instead of racing the rebuild.
    sqlx::query("SELECT 1 FROM checkpoints WHERE name = $1 FOR UPDATE")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    for table in projector.tables() {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
    }
    let mut position = EventPosition::default();
    let mut applied = 0;
    loop {
        let batch = reader
            .read_after(&mut tx, position, projector.event_types())
            .await?;
        projector.apply_batch(&mut tx, &batch.events).await?;
        applied += batch.events.len();
        if batch.scanned_to == position || batch.events.is_empty() {
            position = batch.scanned_to.max(position);
            break;
        }
        position = batch.scanned_to;
    }
    save_checkpoint(&mut tx, name, position).await?;
    tx.commit().await?;
    // Events committed while the rebuild ran are picked up by the usual catch-up.
    ProjectorRunner::new(pool.clone(), projector, batch_size)
        .catch_up()
        .await
        .map(|more| applied + more)
}

/// A projector's checkpoint and the number of committed events for it after that checkpoint.
pub async fn status(
    pool: &PgPool,
    projector: &dyn Projector,
) -> Result<(EventPosition, i64), ProjectionError> {
    let mut conn = pool.acquire().await?;
    let position = load_checkpoint(&mut conn, projector.name()).await?;
    let behind: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events \
          WHERE (transaction_id, global_position) > ($1::text::xid8, $2) \
            AND (cardinality($3::text[]) = 0 OR event_type = ANY($3))",
    )
    .bind(position.transaction_id.to_string())
    .bind(position.global_position)
    .bind(projector.event_types())
    .fetch_one(&mut *conn)
    .await?;
    Ok((position, behind))
}
