use chrono::{DateTime, Utc};

use super::events::AnalysisSource;
use super::finding::Finding;
use crate::ids::{AnalysisId, ProjectId, UserId};

/// What clients and workers ask of an analysis. Times come from the application's clock.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalysisCommand {
    Request {
        analysis_id: AnalysisId,
        owner: UserId,
        project_id: ProjectId,
        project_name: String,
        detectors: Vec<String>,
        language: Option<String>,
        path: Option<String>,
        source: AnalysisSource,
        at: DateTime<Utc>,
    },
    Start {
        worker: String,
        at: DateTime<Utc>,
    },
    /// The worker fetched the source at this commit (the branch head it resolved, or the
    /// commit asked for).
    RecordSource {
        commit: String,
        at: DateTime<Utc>,
    },
    ReportProgress {
        progress: u8,
        at: DateTime<Utc>,
    },
    RecordIssueBatch {
        batch: u32,
        findings: Vec<Finding>,
        at: DateTime<Utc>,
    },
    Complete {
        at: DateTime<Utc>,
    },
    /// The attempt failed for good: the analysis becomes FAILED.
    Fail {
        error: String,
        at: DateTime<Utc>,
    },
    /// The attempt failed but another is allowed: back to QUEUED until `retry_at`.
    Reschedule {
        error: String,
        retry_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    Cancel {
        reason: Option<String>,
        at: DateTime<Utc>,
    },
}
