use std::error::Error as StdError;

use domain::AnalysisStatus;

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
