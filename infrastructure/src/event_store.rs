//! The event store: postgres-es appends and loads aggregates; we add the position lookup that
//! read-your-writes needs. postgres-es's in-process queries are not used (they run after commit
//! and are lost on a crash); projections are catch-up readers instead.

use std::marker::PhantomData;

use async_trait::async_trait;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateContext, AggregateError, CqrsFramework, EventStore};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

use application::{AggregateRepository, CommandMetadata, EventPosition, StoreError};

type Store<A> = PersistedEventStore<PostgresEventRepository, A>;

/// One aggregate type's repository over the shared `events` table.
pub struct PgAggregateRepository<A>
where
    A: Aggregate,
{
    pool: PgPool,
    cqrs: CqrsFramework<A, Store<A>>,
    store: Store<A>,
    _aggregate: PhantomData<A>,
}

impl<A> PgAggregateRepository<A>
where
    A: Aggregate,
    A::Services: Clone,
{
    /// `snapshot_every`: None reads every event on load (short streams); Some(n) keeps a
    /// snapshot refreshed every n commands, for long streams (an analysis with many batches).
    pub fn new(pool: PgPool, services: A::Services, snapshot_every: Option<usize>) -> Self {
        let make_store = || {
            let repo = PostgresEventRepository::new(pool.clone());
            match snapshot_every {
                Some(size) => PersistedEventStore::new_snapshot_store(repo, size),
                None => PersistedEventStore::new_event_store(repo),
            }
        };
        Self {
            cqrs: CqrsFramework::new(make_store(), vec![], services),
            store: make_store(),
            pool,
            _aggregate: PhantomData,
        }
    }
}

#[async_trait]
impl<A> AggregateRepository<A> for PgAggregateRepository<A>
where
    A: Aggregate + Clone + 'static,
    A::Command: Send,
    A::Error: Send + Sync + 'static,
{
    async fn load(&self, aggregate_id: &str) -> Result<A, StoreError> {
        let mut context = self
            .store
            .load_aggregate(aggregate_id)
            .await
            .map_err(|error| StoreError(Box::new(error)))?;
        Ok(context.aggregate().clone())
    }

    async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AggregateError<A::Error>> {
        let command_id = metadata.command_id.to_string();
        self.cqrs
            .execute_with_metadata(aggregate_id, command, metadata.to_map())
            .await?;
        // The events this command appended carry its command id; none means it was a no-op.
        let position: Option<(String, i64)> = sqlx::query_as(
            "SELECT transaction_id::text, global_position FROM events \
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND metadata ->> 'command_id' = $3 \
             ORDER BY sequence DESC LIMIT 1",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(&command_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|error| AggregateError::DatabaseConnectionError(Box::new(error)))?;
        position
            .map(|(transaction_id, global_position)| {
                let transaction_id = transaction_id
                    .parse()
                    .map_err(|error| AggregateError::UnexpectedError(Box::new(error)))?;
                Ok(EventPosition {
                    transaction_id,
                    global_position,
                })
            })
            .transpose()
    }
}
