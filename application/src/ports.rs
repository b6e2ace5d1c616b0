//! What the use cases need from the outside world. `infrastructure` implements each one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::{Aggregate, AggregateError};

use crate::error::StoreError;
use crate::identity::{AuthenticatedUser, NewApiToken, NewUser, TokenHash, TokenInfo};
use crate::metadata::CommandMetadata;
use domain::UserId;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Where an event sits in the catch-up order every reader follows: by transaction id, then by
/// global position. Ordered the same way, so "a checkpoint has passed this event" is `>=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventPosition {
    pub transaction_id: u64,
    pub global_position: i64,
}

/// Loads aggregates and executes commands against them through the event store.
#[async_trait]
pub trait AggregateRepository<A>: Send + Sync
where
    A: Aggregate + 'static,
    A::Command: Send,
{
    /// The current state; `A::default()` when the aggregate has no events yet.
    async fn load(&self, aggregate_id: &str) -> Result<A, StoreError>;

    /// The state and the sequence it reflects, possibly from this process's memory and so
    /// possibly behind the log (`fresh` reads the log): only for a decision whose append is
    /// made conditional on that sequence ([`Unchanged`]), and never for a refusal.
    async fn load_recent(
        &self,
        aggregate_id: &str,
        fresh: bool,
    ) -> Result<Versioned<A>, StoreError>;

    /// Runs `command` and appends its events in one transaction. Returns the position of the
    /// last event written, or None when the command was a no-op.
    async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AggregateError<A::Error>>;

    /// Runs `command` as the first command of a new stream: against `A::default()`, with no
    /// load. Fails with `AggregateConflict` when the stream already has events (then load it).
    async fn create(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AggregateError<A::Error>>;
}

/// An aggregate's state and the sequence of the last event it reflects.
#[derive(Debug, Clone)]
pub struct Versioned<A> {
    pub aggregate: A,
    pub sequence: usize,
    /// True when the state came from memory rather than from the log.
    pub from_memory: bool,
}

impl<A: Aggregate> Versioned<A> {
    /// The condition that the stream still ends where this state was taken.
    pub fn unchanged(&self, aggregate_id: &str) -> Unchanged {
        Unchanged {
            aggregate_type: A::TYPE,
            aggregate_id: aggregate_id.to_string(),
            sequence: self.sequence,
        }
    }
}

/// A stream an append depends on without writing to it: the append happens only if the
/// stream still ends at `sequence`, so a decision taken on its state still holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchanged {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub sequence: usize,
}

/// The read models a client may want to see its own write in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadModel {
    Projects,
    Analyses,
    AnalysisIssues,
}

impl ReadModel {
    /// The name of the projector (and of its checkpoint) that maintains this read model.
    pub const fn projector_name(self) -> &'static str {
        match self {
            ReadModel::Projects => "projects",
            ReadModel::Analyses => "analyses",
            ReadModel::AnalysisIssues => "analysis_issues",
        }
    }
}

/// Read-your-writes: waits, up to a configured bound, until a read model has applied an event.
#[async_trait]
pub trait ReadModelBarrier: Send + Sync {
    /// True when the read model caught up; false when the bound ran out first.
    async fn wait_for(&self, read_model: ReadModel, position: EventPosition) -> bool;
}

/// The names of the detectors an analysis may ask for, and the set used when it names none.
pub trait DetectorCatalog: Send + Sync {
    fn valid_names(&self) -> Vec<String>;
    fn default_selection(&self) -> Vec<String>;
}

/// Users and API tokens.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Fails with `AppError::Conflict` when the e-mail address is already registered.
    async fn create_user(&self, user: &NewUser) -> Result<(), crate::AppError>;
    async fn insert_token(&self, token: &NewApiToken) -> Result<(), StoreError>;
    /// The user behind an active (not revoked) token.
    async fn find_by_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AuthenticatedUser>, StoreError>;
    /// False when the user has no such token (or it was revoked already).
    async fn revoke_token(
        &self,
        user: UserId,
        token_id: uuid::Uuid,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn list_tokens(&self, user: UserId) -> Result<Vec<TokenInfo>, StoreError>;
}

/// Tells running jobs that an analysis was cancelled, so they stop within moments rather than
/// at their next check. Best effort: the cancellation itself is already recorded.
#[async_trait]
pub trait CancelSignal: Send + Sync {
    async fn cancelled(&self, analysis_id: domain::AnalysisId);
}

/// What an accepted upload holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReceipt {
    pub upload_id: uuid::Uuid,
    pub format: String,
    pub size_bytes: u64,
    pub files: u64,
    pub expanded_bytes: u64,
}

/// Uploaded source archives: checked when stored (a hostile or oversized archive is refused
/// with `AppError::InvalidInput`), read back by workers.
#[async_trait]
pub trait UploadStore: Send + Sync {
    async fn store(&self, owner: UserId, bytes: Vec<u8>) -> Result<UploadReceipt, crate::AppError>;
    async fn belongs_to(&self, owner: UserId, upload_id: uuid::Uuid) -> Result<bool, StoreError>;
    async fn content(&self, upload_id: uuid::Uuid) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Why a joint append did not happen.
#[derive(Debug)]
pub enum JointAppendError<E1, E2> {
    /// The existing aggregate refused its command.
    First(E1),
    /// The new aggregate refused its command.
    Second(E2),
    /// The new stream exists already (a repeated idempotency key).
    SecondExists,
    /// Another command appended to the existing stream meanwhile, or the state the decision
    /// used may be out of date: decide again (the next attempt reads the log).
    FirstMoved,
    /// The stream named by `Unchanged` gained events since the decision: decide again on
    /// its fresh state.
    DependencyMoved,
    Store(StoreError),
}

/// Two aggregates' events in one transaction: a command on an existing stream (decided against
/// its current state) and the first command of a new stream. Both land or neither does, so a
/// crash can neither charge a quota for an analysis that was never created nor create one
/// that was never charged.
#[async_trait]
pub trait JointAppend<A, B>: Send + Sync
where
    A: Aggregate + 'static,
    B: Aggregate + 'static,
    A::Command: Send,
    B::Command: Send,
{
    async fn execute_and_create(
        &self,
        first_id: &str,
        first: A::Command,
        second_id: &str,
        second: B::Command,
        unchanged: Option<&Unchanged>,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, JointAppendError<A::Error, B::Error>>;
}
