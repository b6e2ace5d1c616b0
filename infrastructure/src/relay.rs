//! The relay: a catch-up reader (the same gap-safe order as the projectors) that publishes
//! every event to JetStream with `Nats-Msg-Id` = event id, awaits the acks of a window, and only
//! then moves its checkpoint. A crash between publish and checkpoint republishes the window;
//! JetStream drops the duplicates by message id. One relay is active at a time (a session
//! advisory lock); the others stand by and take over when it goes away.

use std::time::Duration;

use application::EventPosition;
use async_nats::jetstream;
use async_nats::HeaderMap;
use futures::stream::FuturesOrdered;
use futures::StreamExt;
use sqlx::{Connection, PgConnection, PgPool};
use std::future::IntoFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catch_up::{
    advance_checkpoint, ensure_checkpoint, load_checkpoint, CatchUpReader, EventNotifier,
    PublishBatch, PublishedEvent,
};
use crate::messaging::Topology;
use crate::public_events;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    CatchUp(#[from] crate::catch_up::CatchUpError),
    #[error("database error in the relay: {0}")]
    Database(#[from] sqlx::Error),
    #[error("publishing to JetStream failed: {0}")]
    Publish(String),
}

pub struct Relay {
    checkpoint: String,
    pool: PgPool,
    database_url: String,
    jetstream: jetstream::Context,
    topology: Topology,
    reader: CatchUpReader,
    window: usize,
}

pub struct RelayHandle {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RelayHandle {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

impl Relay {
    /// One checkpoint per subject prefix: `relay` for the default `insight`, `relay:<prefix>`
    /// otherwise (a second deployment or a benchmark publishing the same log elsewhere).
    pub fn checkpoint_name(topology: &Topology) -> String {
        if topology.prefix == "insight" {
            "relay".to_string()
        } else {
            format!("relay:{}", topology.prefix)
        }
    }

    /// `window`: events published before awaiting their acks (at most a few hundred).
    pub fn new(
        pool: PgPool,
        database_url: impl Into<String>,
        jetstream: jetstream::Context,
        topology: Topology,
        window: i64,
    ) -> Self {
        let checkpoint = Self::checkpoint_name(&topology);
        Self {
            checkpoint,
            pool,
            database_url: database_url.into(),
            jetstream,
            topology,
            // Read several windows at once; publish with at most `window` acks outstanding.
            reader: CatchUpReader::new(window.clamp(1, 500) * 4),
            window: window.clamp(1, 500) as usize,
        }
    }

    /// Publishes the next window after `position` and waits for every ack. Returns how far
    /// the checkpoint may now move and how many events went out (None: nothing to publish).
    /// It does not move the checkpoint: a crash after this republishes the same window.
    pub async fn publish_after(
        &self,
        position: EventPosition,
    ) -> Result<Option<(EventPosition, usize)>, RelayError> {
        let batch = self.read(position).await?;
        if batch.events.is_empty() {
            return Ok(None);
        }
        let (to, count) = (batch.scanned_to, batch.events.len());
        self.publish(batch.events).await?;
        Ok(Some((to, count)))
    }

    async fn read(&self, position: EventPosition) -> Result<PublishBatch, RelayError> {
        let mut conn = self.pool.acquire().await?;
        Ok(self.reader.read_for_publishing(&mut conn, position).await?)
    }

    /// Publishes a batch in order and waits for every ack.
    async fn publish(&self, events: Vec<PublishedEvent>) -> Result<(), RelayError> {
        // A sliding window: never more than `window` acks outstanding, published in order.
        let mut outstanding: FuturesOrdered<
            <async_nats::jetstream::context::PublishAckFuture as IntoFuture>::IntoFuture,
        > = FuturesOrdered::new();
        for event in events {
            if outstanding.len() >= self.window {
                if let Some(ack) = outstanding.next().await {
                    ack.map_err(|error| RelayError::Publish(error.to_string()))?;
                }
            }
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", event.event_id.to_string().as_str());
            let subject = public_events::subject(&self.topology.prefix, &event);
            let body = public_events::into_envelope_bytes(event)
                .map_err(|error| RelayError::Publish(error.to_string()))?;
            let ack = self
                .jetstream
                .publish_with_headers(subject, headers, body.into())
                .await
                .map_err(|error| RelayError::Publish(error.to_string()))?;
            outstanding.push_back(ack.into_future());
        }
        while let Some(ack) = outstanding.next().await {
            ack.map_err(|error| RelayError::Publish(error.to_string()))?;
        }
        Ok(())
    }

    /// The relay's checkpoint (created at the start of the log when missing).
    pub async fn checkpoint(&self) -> Result<EventPosition, RelayError> {
        let mut conn = self.pool.acquire().await?;
        ensure_checkpoint(&mut conn, &self.checkpoint).await?;
        Ok(load_checkpoint(&mut conn, &self.checkpoint).await?)
    }

    /// Publishes until the log holds nothing more, moving the checkpoint after each batch's
    /// acks; returns how many events went out. The next batch is read while the current one is
    /// being published (reads are harmless; only the checkpoint commits to anything).
    pub async fn relay_window(&self, position: &mut EventPosition) -> Result<usize, RelayError> {
        let mut published = 0;
        let mut batch = self.read(*position).await?;
        while !batch.events.is_empty() {
            let to = batch.scanned_to;
            let count = batch.events.len();
            let (next, sent) = tokio::join!(self.read(to), self.publish(batch.events));
            sent?;
            let mut conn = self.pool.acquire().await?;
            if !advance_checkpoint(&mut conn, &self.checkpoint, *position, to, None).await? {
                // Another relay moved it (it should not be running): follow it.
                *position = load_checkpoint(&mut conn, &self.checkpoint).await?;
                return Ok(published);
            }
            *position = to;
            published += count;
            batch = next?;
        }
        Ok(published)
    }

    /// Runs until stopped. Waits for leadership first; publishes while there is work;
    /// otherwise waits for an append in this process or the poll interval.
    pub fn spawn(self, notifier: EventNotifier, poll: Duration) -> RelayHandle {
        let (shutdown, mut stopped) = watch::channel(false);
        let mut waiter = notifier.subscribe(&[]);
        let task = tokio::spawn(async move {
            let mut leader: Option<PgConnection> = None;
            let mut position: Option<EventPosition> = None;
            let mut backoff = Duration::from_millis(200);
            loop {
                if *stopped.borrow() {
                    return;
                }
                if leader.is_none() {
                    // The relay creates the stream too, so events published before any worker
                    // started are kept.
                    if let Err(error) =
                        crate::messaging::ensure_stream(&self.jetstream, &self.topology).await
                    {
                        tracing::warn!(%error, "events stream not ready; retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = stopped.changed() => return,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                        continue;
                    }
                    match self.try_lead().await {
                        Ok(Some(conn)) => {
                            tracing::info!("relay is active");
                            leader = Some(conn);
                            position = None;
                        }
                        Ok(None) => {
                            tokio::select! {
                                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                                _ = stopped.changed() => return,
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "relay cannot reach Postgres");
                            tokio::select! {
                                _ = tokio::time::sleep(backoff) => continue,
                                _ = stopped.changed() => return,
                            }
                        }
                    }
                }
                let outcome = async {
                    let current = match position.as_mut() {
                        Some(current) => current,
                        None => position.insert(self.checkpoint().await?),
                    };
                    self.relay_window(current).await
                };
                let outcome = tokio::select! {
                    outcome = outcome => outcome,
                    _ = stopped.changed() => return,
                };
                match outcome {
                    Ok(0) => {
                        backoff = Duration::from_millis(200);
                        tokio::select! {
                            _ = waiter.wait(poll) => {}
                            _ = stopped.changed() => return,
                        }
                    }
                    Ok(_) => backoff = Duration::from_millis(200),
                    Err(error) => {
                        // Nothing was checkpointed: the same window goes out again.
                        tracing::warn!(%error, "relay window failed; retrying");
                        position = None;
                        if let Some(conn) = leader.as_mut() {
                            if conn.ping().await.is_err() {
                                leader = None;
                            }
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = stopped.changed() => return,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
        RelayHandle { shutdown, task }
    }

    /// A connection that holds the relay lock for as long as it lives, or None when another
    /// relay holds it.
    async fn try_lead(&self) -> Result<Option<PgConnection>, sqlx::Error> {
        let mut conn = PgConnection::connect(&self.database_url).await?;
        let locked: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(hashtextextended('insight-relay:' || $1, 0))",
        )
        .bind(&self.topology.prefix)
        .fetch_one(&mut conn)
        .await?;
        Ok(locked.then_some(conn))
    }
}
