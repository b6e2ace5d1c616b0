use std::error::Error as StdError;

use chrono::{DateTime, Utc};
use domain::{AnalysisStatus, LimitKind, SubscriptionStatus};

/// An infrastructure failure (database down, corrupt row, ...): never the client's fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(#[source] pub Box<dyn StdError + Send + Sync>);

impl StoreError {
    pub fn new(error: impl StdError + Send + Sync + 'static) -> Self {
        Self(Box::new(error))
    }
}

/// What a use case can answer besides success. Business rejections and bad input are kept apart
/// from infrastructure failures, so the API can map the first to 4xx and only the last to 500.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{resource} not found")]
    NotFound { resource: &'static str },
    #[error("{field}: {message}")]
    InvalidInput {
        field: &'static str,
        message: String,
    },
    #[error("unknown detectors: {}; valid detectors are: {}", unknown.join(", "), valid.join(", "))]
    UnknownDetectors {
        unknown: Vec<String>,
        valid: Vec<String>,
    },
    #[error("analysis already finished: {status}")]
    AlreadyFinished { status: AnalysisStatus },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Rejected(String),
    /// A plan limit refused the request.
    #[error("{} limit reached: {used} of {limit}", kind.as_str())]
    LimitReached {
        kind: LimitKind,
        limit: u32,
        used: u32,
        resets_at: Option<DateTime<Utc>>,
    },
    /// The subscription's Stripe status does not allow cloud analyses.
    #[error("the subscription is {}: cloud analyses are not available", status.as_str())]
    CloudAnalysisNotAllowed { status: SubscriptionStatus },
    /// A Stripe price that maps to no plan (configuration: `STRIPE_PRICE_PLANS`).
    #[error("Stripe price {price_id} maps to no plan")]
    UnmappedPrice { price_id: String },
    #[error("too many concurrent changes to the same {resource}; retry")]
    ContentionExhausted { resource: &'static str },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            message: message.into(),
        }
    }
}
