//! The event store: postgres-es appends and loads aggregates; we add the position lookup that
//! read-your-writes needs. postgres-es's in-process queries are not used (they run after commit
//! and are lost on a crash); projections are catch-up readers instead.

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventStore, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventEnvelope, EventStore};
use lru::LruCache;
use postgres_es::PostgresEventRepository;
use sqlx::{PgPool, Postgres, QueryBuilder};

use application::{
    AggregateRepository, CommandMetadata, EventPosition, StoreError, Unchanged, Versioned,
};

use crate::catch_up::EventNotifier;

type Store<A> = PersistedEventStore<PostgresEventRepository, A>;

/// One aggregate type's repository over the shared `events` table.
pub struct PgAggregateRepository<A>
where
    A: Aggregate,
{
    pool: PgPool,
    services: A::Services,
    cqrs: CqrsFramework<A, Store<A>>,
    store: Store<A>,
    notifier: Option<EventNotifier>,
    snapshot_every: Option<usize>,
    /// Streams kept in memory between commands (see [`Self::keep_in_memory`]).
    resident: Option<Mutex<LruCache<String, Resident<A>>>>,
    _aggregate: PhantomData<A>,
}

/// A stream's state for one command, and whether it came from memory: such a copy may be
/// behind the log, which an append detects but a refusal would not.
pub(crate) struct CheckedOut<A: Aggregate> {
    pub(crate) context: EventStoreAggregateContext<A>,
    pub(crate) from_memory: bool,
}

/// A stream's state as of its last append by this process.
struct Resident<A> {
    aggregate: A,
    sequence: usize,
    snapshot: Option<usize>,
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
            cqrs: CqrsFramework::new(make_store(), vec![], services.clone()),
            services,
            store: make_store(),
            pool,
            notifier: None,
            snapshot_every,
            resident: None,
            _aggregate: PhantomData,
        }
    }

    /// Wakes this process's catch-up readers after every append.
    pub fn with_notifier(mut self, notifier: EventNotifier) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Keeps up to `streams` streams' latest state in memory between the commands that
    /// [`crate::joint_append`] runs, so a hot stream (a user's subscription, charged by every
    /// submission) is not read back from its snapshot and events each time. A copy that
    /// another process or path made stale is harmless: its append reuses a taken sequence
    /// number, the primary key refuses it, and the caller decides again on a fresh load.
    pub fn keep_in_memory(mut self, streams: NonZeroUsize) -> Self {
        self.resident = Some(Mutex::new(LruCache::new(streams)));
        self
    }
}

#[async_trait]
impl<A> AggregateRepository<A> for PgAggregateRepository<A>
where
    A: Aggregate + Clone + 'static,
    A::Command: Send,
    A::Error: Send + Sync + 'static,
{
    async fn create(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AggregateError<A::Error>> {
        let mut aggregate = A::default();
        let sink = EventSink::default();
        aggregate
            .handle(command, &self.services, &sink)
            .await
            .map_err(AggregateError::UserError)?;
        let serialized = serialize::<A>(aggregate_id, 0, sink.collect().await, metadata)?;
        if serialized.is_empty() {
            return Ok(None);
        }
        // One statement, so one round trip and its own transaction; the primary key on
        // (aggregate_type, aggregate_id, sequence) turns a taken stream into a conflict.
        let rows: Vec<(String, i64)> = match insert_statement(&serialized, None)
            .build_query_as()
            .fetch_all(&self.pool)
            .await
        {
            Ok(rows) => rows,
            Err(error) if is_unique_violation(&error) => {
                return Err(AggregateError::AggregateConflict)
            }
            Err(error) => return Err(AggregateError::DatabaseConnectionError(Box::new(error))),
        };
        self.notify(&serialized);
        last_position(rows).map_err(|error| AggregateError::UnexpectedError(Box::new(error)))
    }

    async fn load(&self, aggregate_id: &str) -> Result<A, StoreError> {
        Ok(self.load_from_log(aggregate_id).await?.aggregate)
    }

    async fn load_recent(
        &self,
        aggregate_id: &str,
        fresh: bool,
    ) -> Result<Versioned<A>, StoreError> {
        if let Some(resident) = &self.resident {
            if !fresh {
                let mut resident = resident.lock().expect("resident streams lock");
                if let Some(kept) = resident.get(aggregate_id) {
                    return Ok(Versioned {
                        aggregate: kept.aggregate.clone(),
                        sequence: kept.sequence,
                        from_memory: true,
                    });
                }
            }
        }
        let context = self.load_from_log(aggregate_id).await?;
        let loaded = Versioned {
            aggregate: context.aggregate.clone(),
            sequence: context.current_sequence,
            from_memory: false,
        };
        // Only streams that exist: a missing one must be asked again each time.
        if loaded.sequence > 0 {
            self.keep(context);
        }
        Ok(loaded)
    }

    async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AggregateError<A::Error>> {
        let executed = self
            .cqrs
            .execute_with_metadata(aggregate_id, command, metadata.to_map())
            .await;
        // The framework loads and appends by itself: a resident copy is now behind
        // (harmless, see `keep_in_memory`, but it would cost a refused append).
        self.forget(aggregate_id);
        executed?;
        // Wake the projectors first: they can start while the position is looked up. The
        // command's event types are not known here (cqrs-es does not return them), so every
        // projector wakes; a no-op command costs them one empty read.
        if let Some(notifier) = &self.notifier {
            notifier.appended(Vec::new());
        }
        // The events this command appended carry its command id; none means it was a no-op.
        let position: Option<(String, i64)> = sqlx::query_as(
            "SELECT transaction_id::text, global_position FROM events \
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND command_id = $3 \
             ORDER BY sequence DESC LIMIT 1",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(metadata.command_id)
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

impl<A> PgAggregateRepository<A>
where
    A: Aggregate + Clone + 'static,
    A::Error: Send + Sync + 'static,
{
    /// The current state with the sequence and snapshot version it was loaded at: what a
    /// caller that appends by itself (see `joint_append`) needs. A resident copy is taken
    /// out of memory (commands on one stream queue in this process, see
    /// `application::contention`); the caller hands the new state back with [`Self::keep`]
    /// once its append committed, and drops it on any failure, so the next load reads the log.
    pub(crate) async fn checkout(&self, aggregate_id: &str) -> Result<CheckedOut<A>, StoreError> {
        if let Some(resident) = self.resident.as_ref().and_then(|resident| {
            resident
                .lock()
                .expect("resident streams lock")
                .pop(aggregate_id)
        }) {
            return Ok(CheckedOut {
                context: EventStoreAggregateContext {
                    aggregate_id: aggregate_id.to_string(),
                    aggregate: resident.aggregate,
                    current_sequence: resident.sequence,
                    current_snapshot: resident.snapshot,
                },
                from_memory: true,
            });
        }
        let context = self.load_from_log(aggregate_id).await?;
        Ok(CheckedOut {
            context,
            from_memory: false,
        })
    }

    async fn load_from_log(
        &self,
        aggregate_id: &str,
    ) -> Result<EventStoreAggregateContext<A>, StoreError> {
        self.store
            .load_aggregate(aggregate_id)
            .await
            .map_err(|error| StoreError(Box::new(error)))
    }

    /// Keeps a stream's state as of an append this process just committed.
    pub(crate) fn keep(&self, context: EventStoreAggregateContext<A>) {
        if let Some(resident) = &self.resident {
            resident.lock().expect("resident streams lock").put(
                context.aggregate_id,
                Resident {
                    aggregate: context.aggregate,
                    sequence: context.current_sequence,
                    snapshot: context.current_snapshot,
                },
            );
        }
    }

    fn forget(&self, aggregate_id: &str) {
        if let Some(resident) = &self.resident {
            resident
                .lock()
                .expect("resident streams lock")
                .pop(aggregate_id);
        }
    }

    pub(crate) fn services(&self) -> &A::Services {
        &self.services
    }

    pub(crate) fn snapshot_every(&self) -> Option<usize> {
        self.snapshot_every
    }

    /// Wakes this process's catch-up readers for the event types just appended.
    pub(crate) fn notify(&self, serialized: &[SerializedEvent]) {
        if let Some(notifier) = &self.notifier {
            notifier.appended(
                serialized
                    .iter()
                    .map(|event| event.event_type.clone())
                    .collect(),
            );
        }
    }
}

/// Serialises `events` exactly as cqrs-es does (so postgres-es loads them like its own), with
/// sequences following `after_sequence`.
pub(crate) fn serialize<A: Aggregate>(
    aggregate_id: &str,
    after_sequence: usize,
    events: Vec<A::Event>,
    metadata: &CommandMetadata,
) -> Result<Vec<SerializedEvent>, AggregateError<A::Error>> {
    let metadata = metadata.to_map();
    events
        .into_iter()
        .enumerate()
        .map(|(index, payload)| {
            let envelope = EventEnvelope::<A> {
                aggregate_id: aggregate_id.to_string(),
                sequence: after_sequence + index + 1,
                payload,
                metadata: metadata.clone(),
            };
            SerializedEvent::try_from(&envelope)
                .map_err(|error| AggregateError::UnexpectedError(Box::new(error)))
        })
        .collect()
}

/// One multi-row INSERT of `serialized`, returning each row's position. With `unchanged`, the
/// rows are inserted only if that stream still ends at its sequence (no rows come back
/// otherwise): the check and the append are one statement, so nothing can slip between them
/// that a load-then-append would not also have missed.
pub(crate) fn insert_statement<'a>(
    serialized: &'a [SerializedEvent],
    unchanged: Option<&'a Unchanged>,
) -> QueryBuilder<'a, Postgres> {
    const COLUMNS: &str =
        "aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata";
    let mut insert = QueryBuilder::<Postgres>::new(format!("INSERT INTO events ({COLUMNS}) "));
    if unchanged.is_some() {
        insert.push("SELECT * FROM (");
    }
    insert.push_values(serialized, |mut row, event| {
        row.push_bind(&event.aggregate_type)
            .push_bind(&event.aggregate_id)
            .push_bind(event.sequence as i64)
            .push_bind(&event.event_type)
            .push_bind(&event.event_version)
            .push_bind(&event.payload)
            .push_bind(&event.metadata);
    });
    if let Some(unchanged) = unchanged {
        insert.push(format!(") AS appended ({COLUMNS}) WHERE NOT EXISTS (SELECT 1 FROM events WHERE aggregate_type = "));
        insert
            .push_bind(unchanged.aggregate_type)
            .push(" AND aggregate_id = ")
            .push_bind(&unchanged.aggregate_id)
            .push(" AND sequence > ")
            .push_bind(unchanged.sequence as i64)
            .push(")");
    }
    insert.push(" RETURNING transaction_id::text, global_position");
    insert
}

pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(error) if error.code().as_deref() == Some("23505"))
}

/// The greatest of the positions an INSERT returned.
pub(crate) fn last_position(
    rows: Vec<(String, i64)>,
) -> Result<Option<EventPosition>, std::num::ParseIntError> {
    rows.into_iter()
        .map(|(transaction_id, global_position)| {
            Ok(EventPosition {
                transaction_id: transaction_id.parse()?,
                global_position,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|positions| positions.into_iter().max())
}
