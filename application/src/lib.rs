//! Use cases of Insight Cloud: what a user or a worker can ask for (submit, cancel, start,
//! record a batch, complete, ...), the policies around them (ownership, idempotency, detector
//! names, read-your-writes), and the ports (traits) through which they reach the outside world.
//!
//! Depends on `domain` only (plus small pure libraries). It must not import sqlx, axum,
//! async-nats or any other adapter: `infrastructure` implements the ports.

pub mod analyses;
mod contention;
pub mod error;
pub mod identity;
pub mod internal_webhook;
pub mod jobs;
pub mod metadata;
pub mod notifications;
pub mod ports;
pub mod projects;
pub mod stripe;
pub mod subscriptions;
pub mod webhooks;

pub use analyses::{AnalysisService, SourceOverride, SubmitAnalysis, Submitted};
pub use error::{AppError, StoreError};
pub use identity::{
    AuthFailure, AuthenticatedUser, Email, IdentityService, IssuedToken, NewUser, PlainToken, Plan,
    TokenHash, TokenInfo,
};
pub use metadata::{Actor, CommandMetadata};
pub use ports::{
    AggregateRepository, CancelSignal, Clock, DetectorCatalog, EventPosition, IdentityStore,
    ReadModel, ReadModelBarrier, Unchanged, UploadReceipt, UploadStore, Versioned,
};
pub use projects::{CreateProject, ProjectService};
pub use subscriptions::{RunSlot, SubscriptionService};
