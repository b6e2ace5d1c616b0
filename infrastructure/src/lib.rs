//! Adapters of Insight Cloud: configuration, the Postgres pool and migrations, the event store
//! (postgres-es with our extra columns), the gap-safe catch-up reader shared by every projector
//! and relay, the identity store, the read-your-writes barrier, NATS connections and the clock.
//!
//! Implements the ports of `application`; depends on `application` and `domain` only among our
//! crates. It must not import `api` or `projections` (they sit above it).

pub mod barrier;
pub mod catch_up;
pub mod clock;
pub mod config;
pub mod db;
pub mod detector_catalog;
pub mod engine;
pub mod event_store;
pub mod identity_store;
pub mod joint_append;
pub mod mailer;
pub mod messaging;
pub mod notifications;
pub mod public_events;
pub mod relay;
pub mod source;
pub mod stripe_log;
pub mod subscription_policy;
pub mod webhooks;
pub mod worker;

pub use barrier::CheckpointBarrier;
pub use catch_up::{CatchUpReader, EventNotifier, StoredEvent};
pub use clock::SystemClock;
pub use config::Config;
pub use event_store::PgAggregateRepository;
pub use identity_store::PgIdentityStore;
pub use notifications::PgNotificationOutbox;
