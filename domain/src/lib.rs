//! The business core of Insight Cloud: the `Project`, `Analysis` and `Subscription` aggregates, their commands,
//! events and errors, and the value types they speak in (ids, `Severity`, findings, git refs).
//!
//! Pure by rule: no I/O, no clock (times arrive inside commands), no SQL, no HTTP, no NATS.
//! It may depend only on cqrs-es, serde, uuid, chrono (as a value type) and thiserror.

pub mod analysis;
pub mod ids;
pub mod plan;
pub mod project;
pub mod severity;
pub mod subscription;
pub mod values;

pub use analysis::{
    Analysis, AnalysisCommand, AnalysisError, AnalysisEvent, AnalysisStatus, Finding, FindingError,
    Summary, MAX_FINDINGS_PER_BATCH,
};
pub use ids::{AnalysisId, ProjectId, UserId};
pub use plan::{Limit, Period, Plan, PlanCatalog, PlanLimits, UnknownPlan};
pub use project::{Project, ProjectCommand, ProjectError, ProjectEvent};
pub use severity::Severity;
pub use subscription::{
    LimitKind, StripeOrigin, StripeSubscriptionState, Subscription, SubscriptionCommand,
    SubscriptionError, SubscriptionEvent, SubscriptionStatus, UsageReport,
};
pub use values::{GitBranch, GitCommit, GitRemote, ProjectName, ValueError};

/// Aggregates here need no outside services: every fact they decide on arrives in the command.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoServices;
