use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::aggregate::AnalysisStatus;
use super::finding::{Finding, Summary};
use crate::ids::{AnalysisId, ProjectId, UserId};

/// Which source an analysis reads: the project's git remote (at a commit or a branch head).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum AnalysisSource {
    Git {
        git_remote: String,
        git_branch: String,
        /// None: the branch head, resolved by the worker when it fetches.
        git_commit: Option<String>,
    },
    /// An archive the user uploaded (`POST /api/insight/uploads`).
    Upload { upload_id: uuid::Uuid },
}

/// Facts about an analysis, in the past tense. Never edited; new shapes get a new version and an
/// upcaster. Field names are stored in camelCase: the public message body (docs/events.md)
/// carries the stored fields as they are, with no conversion on the way out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase")]
pub enum AnalysisEvent {
    AnalysisRequested {
        analysis_id: AnalysisId,
        owner: UserId,
        project_id: ProjectId,
        /// The project's name when requested; later renames reach read models as project events.
        project_name: String,
        detectors: Vec<String>,
        language: Option<String>,
        path: Option<String>,
        source: AnalysisSource,
        requested_at: DateTime<Utc>,
    },
    AnalysisStarted {
        attempt: u32,
        worker: String,
        started_at: DateTime<Utc>,
    },
    AnalysisSourceFetched {
        commit: String,
        at: DateTime<Utc>,
    },
    AnalysisProgressed {
        progress: u8,
        at: DateTime<Utc>,
    },
    IssueBatchRecorded {
        batch: u32,
        findings: Vec<Finding>,
        recorded_at: DateTime<Utc>,
    },
    AnalysisCompleted {
        summary: Summary,
        finished_at: DateTime<Utc>,
        duration_ms: Option<i64>,
    },
    AnalysisFailed {
        attempt: u32,
        error: String,
        finished_at: DateTime<Utc>,
        duration_ms: Option<i64>,
    },
    AnalysisRescheduled {
        failed_attempt: u32,
        error: String,
        retry_count: u32,
        retry_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    AnalysisCancelled {
        reason: Option<String>,
        previous_status: AnalysisStatus,
        finished_at: DateTime<Utc>,
        duration_ms: Option<i64>,
    },
}

impl AnalysisEvent {
    pub const fn name(&self) -> &'static str {
        match self {
            AnalysisEvent::AnalysisRequested { .. } => "AnalysisRequested",
            AnalysisEvent::AnalysisStarted { .. } => "AnalysisStarted",
            AnalysisEvent::AnalysisSourceFetched { .. } => "AnalysisSourceFetched",
            AnalysisEvent::AnalysisProgressed { .. } => "AnalysisProgressed",
            AnalysisEvent::IssueBatchRecorded { .. } => "IssueBatchRecorded",
            AnalysisEvent::AnalysisCompleted { .. } => "AnalysisCompleted",
            AnalysisEvent::AnalysisFailed { .. } => "AnalysisFailed",
            AnalysisEvent::AnalysisRescheduled { .. } => "AnalysisRescheduled",
            AnalysisEvent::AnalysisCancelled { .. } => "AnalysisCancelled",
        }
    }
}

impl DomainEvent for AnalysisEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}
