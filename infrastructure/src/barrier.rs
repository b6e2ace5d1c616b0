//! Read-your-writes: a write waits (up to a bound) until the projector of the read model the
//! client will read next has passed its event. Projectors announce each committed checkpoint
//! with `pg_notify('insight_checkpoints', 'name tx pos')` inside their transaction, so the
//! announcement is delivered exactly when the rows are visible, to every API process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use application::{EventPosition, ReadModel, ReadModelBarrier};
use async_trait::async_trait;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;

type Checkpoints = HashMap<String, EventPosition>;

#[derive(Clone)]
pub struct CheckpointBarrier {
    checkpoints: watch::Receiver<Checkpoints>,
    sender: Arc<watch::Sender<Checkpoints>>,
    timeout: Duration,
}

impl CheckpointBarrier {
    pub const CHANNEL: &'static str = "insight_checkpoints";

    /// Starts the listener task; `timeout` bounds every wait.
    pub fn spawn(pool: PgPool, timeout: Duration) -> Self {
        let (sender, receiver) = watch::channel(Checkpoints::new());
        let sender = Arc::new(sender);
        let barrier = Self {
            checkpoints: receiver,
            sender: sender.clone(),
            timeout,
        };
        tokio::spawn(async move {
            loop {
                // Ends with the last barrier, not when a dropped database breaks the
                // connection of a process that is shutting down.
                let outcome = tokio::select! {
                    outcome = follow(&pool, &sender) => outcome,
                    () = sender.closed() => return,
                };
                if let Err(error) = outcome {
                    tracing::warn!(%error, "checkpoint listener failed; reconnecting");
                }
                if sender.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        barrier
    }

    /// Records a checkpoint seen in this process (projectors running in-process call it after
    /// commit, which saves the round trip through Postgres).
    pub fn observe(&self, name: &str, position: EventPosition) {
        advance(&self.sender, name, position);
    }

    /// The payload projectors send: `name transaction_id global_position`.
    pub fn notification_payload(name: &str, position: EventPosition) -> String {
        format!(
            "{name} {} {}",
            position.transaction_id, position.global_position
        )
    }
}

fn advance(sender: &watch::Sender<Checkpoints>, name: &str, position: EventPosition) {
    sender.send_if_modified(|checkpoints| match checkpoints.get(name) {
        Some(known) if *known >= position => false,
        _ => {
            checkpoints.insert(name.to_string(), position);
            true
        }
    });
}

fn parse_payload(payload: &str) -> Option<(&str, EventPosition)> {
    let mut parts = payload.split(' ');
    let name = parts.next()?;
    let transaction_id = parts.next()?.parse().ok()?;
    let global_position = parts.next()?.parse().ok()?;
    Some((
        name,
        EventPosition {
            transaction_id,
            global_position,
        },
    ))
}

async fn follow(pool: &PgPool, sender: &watch::Sender<Checkpoints>) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CheckpointBarrier::CHANNEL).await?;
    // Listening first, then reading the table: no checkpoint can fall between the two.
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT name, transaction_id::text, global_position FROM checkpoints")
            .fetch_all(pool)
            .await?;
    for (name, transaction_id, global_position) in rows {
        if let Ok(transaction_id) = transaction_id.parse() {
            advance(
                sender,
                &name,
                EventPosition {
                    transaction_id,
                    global_position,
                },
            );
        }
    }
    loop {
        // `try_recv` returns None when the connection dropped: reload the table then.
        let Some(notification) = listener.try_recv().await? else {
            return Ok(());
        };
        if let Some((name, position)) = parse_payload(notification.payload()) {
            advance(sender, name, position);
        }
        if sender.is_closed() {
            return Ok(());
        }
    }
}

#[async_trait]
impl ReadModelBarrier for CheckpointBarrier {
    async fn wait_for(&self, read_model: ReadModel, position: EventPosition) -> bool {
        let name = read_model.projector_name();
        let mut checkpoints = self.checkpoints.clone();
        let reached = async move {
            checkpoints
                .wait_for(|known| known.get(name).is_some_and(|at| *at >= position))
                .await
                .is_ok()
        };
        tokio::time::timeout(self.timeout, reached)
            .await
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_payloads_round_trip() {
        let position = EventPosition {
            transaction_id: 812,
            global_position: 99,
        };
        let payload = CheckpointBarrier::notification_payload("analyses", position);
        assert_eq!(parse_payload(&payload), Some(("analyses", position)));
        assert_eq!(parse_payload("analyses x 1"), None);
    }

    #[test]
    fn checkpoints_only_move_forward() {
        let (sender, receiver) = watch::channel(Checkpoints::new());
        let later = EventPosition {
            transaction_id: 10,
            global_position: 5,
        };
        let earlier = EventPosition {
            transaction_id: 9,
            global_position: 50,
        };
        advance(&sender, "analyses", later);
        advance(&sender, "analyses", earlier);
        assert_eq!(receiver.borrow().get("analyses"), Some(&later));
    }
}
