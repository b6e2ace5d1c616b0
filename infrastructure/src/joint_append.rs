//! Appends to two streams in one transaction (see `application::ports::JointAppend`): the
//! quota charge on a `Subscription` together with the new `Analysis` or `Project` it pays for.

use std::sync::Arc;

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use sqlx::PgPool;

use application::ports::{JointAppend, JointAppendError, Unchanged};
use application::{CommandMetadata, EventPosition, StoreError};

use crate::event_store::{
    insert_statement, is_unique_violation, last_position, serialize, PgAggregateRepository,
};
use cqrs_es::persist::SerializedEvent;

pub struct PgJointAppend<A: Aggregate, B: Aggregate> {
    pool: PgPool,
    first: Arc<PgAggregateRepository<A>>,
    second: Arc<PgAggregateRepository<B>>,
}

impl<A: Aggregate, B: Aggregate> PgJointAppend<A, B> {
    pub fn new(
        pool: PgPool,
        first: Arc<PgAggregateRepository<A>>,
        second: Arc<PgAggregateRepository<B>>,
    ) -> Self {
        Self {
            pool,
            first,
            second,
        }
    }
}

fn store_error<E1, E2>(
    error: impl std::error::Error + Send + Sync + 'static,
) -> JointAppendError<E1, E2> {
    JointAppendError::Store(StoreError::new(error))
}

impl<A, B> PgJointAppend<A, B>
where
    A: Aggregate + Clone + 'static,
    B: Aggregate + Clone + 'static,
    A::Error: Send + Sync + 'static,
    B::Error: Send + Sync + 'static,
{
    /// Both streams' rows in one INSERT (atomic by itself), on the pool or inside the
    /// transaction that also refreshes a snapshot; `all` holds the second stream's rows first.
    async fn insert_both<'c>(
        &self,
        executor: impl sqlx::PgExecutor<'c>,
        second_id: &str,
        all: &[SerializedEvent],
        second_count: usize,
        unchanged: Option<&Unchanged>,
    ) -> Result<Vec<(String, i64)>, JointAppendError<A::Error, B::Error>> {
        match insert_statement(all, unchanged)
            .build_query_as::<(String, i64)>()
            .fetch_all(executor)
            .await
        {
            Ok(rows) if rows.is_empty() => Err(JointAppendError::DependencyMoved),
            Ok(rows) => Ok(rows),
            Err(error) if is_unique_violation(&error) => {
                // Which stream was taken decides the answer: a second stream that exists is a
                // repeated creation (even if the first moved too); otherwise the first stream
                // moved since its load. Asked on the pool: a transaction here is aborted.
                let second_exists: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_type = $1 \
                     AND aggregate_id = $2)",
                )
                .bind(B::TYPE)
                .bind(second_id)
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
                Err(if second_exists && second_count > 0 {
                    JointAppendError::SecondExists
                } else {
                    JointAppendError::FirstMoved
                })
            }
            Err(error) => Err(store_error(error)),
        }
    }
}

#[async_trait]
impl<A, B> JointAppend<A, B> for PgJointAppend<A, B>
where
    A: Aggregate + Clone + 'static,
    B: Aggregate + Clone + 'static,
    A::Command: Send,
    B::Command: Send,
    A::Error: Send + Sync + 'static,
    B::Error: Send + Sync + 'static,
{
    async fn execute_and_create(
        &self,
        first_id: &str,
        first: A::Command,
        second_id: &str,
        second: B::Command,
        unchanged: Option<&Unchanged>,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, JointAppendError<A::Error, B::Error>> {
        let mut created = B::default();
        let sink = EventSink::default();
        created
            .handle(second, self.second.services(), &sink)
            .await
            .map_err(JointAppendError::Second)?;
        let second_events = serialize::<B>(second_id, 0, sink.collect().await, metadata)
            .map_err(|error| JointAppendError::Store(StoreError(Box::new(error))))?;

        let checked_out = self
            .first
            .checkout(first_id)
            .await
            .map_err(JointAppendError::Store)?;
        let mut context = checked_out.context;
        let loaded_at = context.current_sequence;
        let aggregate = &mut context.aggregate;
        let sink = EventSink::default();
        if let Err(refusal) = aggregate.handle(first, self.first.services(), &sink).await {
            // A copy from memory may predate another process's append (a plan upgrade, a
            // refund): only the log can refuse. The copy is gone, so deciding again loads it.
            return Err(if checked_out.from_memory {
                JointAppendError::FirstMoved
            } else {
                JointAppendError::First(refusal)
            });
        }
        let first_events = serialize::<A>(first_id, loaded_at, sink.collect().await, metadata)
            .map_err(|error| JointAppendError::Store(StoreError(Box::new(error))))?;

        let sequence = loaded_at + first_events.len();
        let snapshot_due = !first_events.is_empty()
            && self
                .first
                .snapshot_every()
                .is_some_and(|every| sequence / every > loaded_at / every);
        let second_count = second_events.len();
        let mut all = second_events;
        all.extend(first_events);
        if all.is_empty() {
            self.first.keep(context);
            return Ok(None);
        }

        let rows = if snapshot_due {
            // Keep the first stream's snapshot as cqrs-es would: refreshed whenever the
            // sequence crosses a multiple of the snapshot size, in the append's transaction.
            let mut tx = self.pool.begin().await.map_err(store_error)?;
            let rows = self
                .insert_both(&mut *tx, second_id, &all, second_count, unchanged)
                .await?;
            let payload = serde_json::to_value(&*aggregate).map_err(store_error)?;
            let written = match context.current_snapshot {
                None => {
                    sqlx::query(
                        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, \
                         current_snapshot, payload) VALUES ($1, $2, $3, 1, $4) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(A::TYPE)
                    .bind(first_id)
                    .bind(sequence as i64)
                    .bind(&payload)
                    .execute(&mut *tx)
                    .await
                }
                Some(version) => {
                    sqlx::query(
                        "UPDATE snapshots SET last_sequence = $3, payload = $4, \
                         current_snapshot = $5 WHERE aggregate_type = $1 \
                         AND aggregate_id = $2 AND current_snapshot = $6",
                    )
                    .bind(A::TYPE)
                    .bind(first_id)
                    .bind(sequence as i64)
                    .bind(&payload)
                    .bind(version as i64 + 1)
                    .bind(version as i64)
                    .execute(&mut *tx)
                    .await
                }
            }
            .map_err(store_error)?;
            if written.rows_affected() == 0 {
                return Err(JointAppendError::FirstMoved);
            }
            tx.commit().await.map_err(store_error)?;
            context.current_snapshot = Some(context.current_snapshot.map_or(1, |v| v + 1));
            rows
        } else {
            self.insert_both(&self.pool, second_id, &all, second_count, unchanged)
                .await?
        };
        self.second.notify(&all[..second_count]);
        self.first.notify(&all[second_count..]);
        context.current_sequence = sequence;
        self.first.keep(context);
        last_position(rows).map_err(store_error)
    }
}
