use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::commands::AnalysisCommand;
use super::events::AnalysisEvent;
use super::finding::{FindingError, Summary, MAX_FINDINGS_PER_BATCH};
use crate::ids::{AnalysisId, ProjectId, UserId};
use crate::NoServices;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AnalysisStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl AnalysisStatus {
    pub const ALL: [AnalysisStatus; 5] = [
        AnalysisStatus::Queued,
        AnalysisStatus::Running,
        AnalysisStatus::Completed,
        AnalysisStatus::Failed,
        AnalysisStatus::Cancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AnalysisStatus::Queued => "QUEUED",
            AnalysisStatus::Running => "RUNNING",
            AnalysisStatus::Completed => "COMPLETED",
            AnalysisStatus::Failed => "FAILED",
            AnalysisStatus::Cancelled => "CANCELLED",
        }
    }

    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            AnalysisStatus::Completed | AnalysisStatus::Failed | AnalysisStatus::Cancelled
        )
    }
}

impl fmt::Display for AnalysisStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{0}`: expected one of QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED")]
pub struct UnknownStatus(pub String);

impl FromStr for AnalysisStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    #[error("analysis not found")]
    NotFound,
    #[error("analysis already finished: {0}")]
    AlreadyFinished(AnalysisStatus),
    #[error("analysis is not running: {0}")]
    NotRunning(AnalysisStatus),
    #[error("progress must be between 0 and 100, got {0}")]
    InvalidProgress(u8),
    #[error("a batch holds at most {max} findings, got {got}")]
    BatchTooLarge { max: usize, got: usize },
    #[error(transparent)]
    InvalidFinding(#[from] FindingError),
    #[error("at least one detector is required")]
    NoDetectors,
    #[error("`{0}` is not a commit id")]
    InvalidCommit(String),
}

/// The decision state of one analysis. Findings themselves live in events and read models; the
/// aggregate keeps only what its rules need (batch numbers, counts, times), so it stays small.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub id: Option<AnalysisId>,
    pub owner: Option<UserId>,
    pub project_id: Option<ProjectId>,
    pub status: Option<AnalysisStatus>,
    pub attempt: u32,
    pub retry_count: u32,
    pub progress: u8,
    pub source: Option<super::events::AnalysisSource>,
    pub detectors: Vec<String>,
    /// The sub-folder to analyse, if any.
    pub path: Option<String>,
    pub commit: Option<String>,
    pub recorded_batches: BTreeSet<u32>,
    pub summary: Summary,
    pub requested_at: Option<DateTime<Utc>>,
    pub first_started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Analysis {
    pub fn exists(&self) -> bool {
        self.status.is_some()
    }

    pub fn is_owned_by(&self, user: UserId) -> bool {
        self.owner == Some(user)
    }

    fn current_status(&self) -> Result<AnalysisStatus, AnalysisError> {
        self.status.ok_or(AnalysisError::NotFound)
    }

    fn ensure_not_finished(&self) -> Result<AnalysisStatus, AnalysisError> {
        let status = self.current_status()?;
        if status.is_terminal() {
            return Err(AnalysisError::AlreadyFinished(status));
        }
        Ok(status)
    }

    fn ensure_running(&self) -> Result<(), AnalysisError> {
        match self.ensure_not_finished()? {
            AnalysisStatus::Running => Ok(()),
            other => Err(AnalysisError::NotRunning(other)),
        }
    }

    /// Finish minus first start; None when the analysis never started.
    fn duration_ms_until(&self, finished_at: DateTime<Utc>) -> Option<i64> {
        self.first_started_at
            .map(|started| (finished_at - started).num_milliseconds().max(0))
    }
}

impl Aggregate for Analysis {
    const TYPE: &'static str = "Analysis";
    type Command = AnalysisCommand;
    type Event = AnalysisEvent;
    type Error = AnalysisError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: AnalysisCommand,
        _services: &NoServices,
        sink: &EventSink<Self>,
    ) -> Result<(), AnalysisError> {
        match command {
            AnalysisCommand::Request {
                analysis_id,
                owner,
                project_id,
                project_name,
                detectors,
                language,
                path,
                source,
                at,
            } => {
                // A repeated request (same idempotency key, so same id) is the same fact.
                if self.exists() {
                    return Ok(());
                }
                if detectors.is_empty() {
                    return Err(AnalysisError::NoDetectors);
                }
                let event = AnalysisEvent::AnalysisRequested {
                    analysis_id,
                    owner,
                    project_id,
                    project_name,
                    detectors,
                    language,
                    path,
                    source,
                    requested_at: at,
                };
                sink.write(event, self).await;
            }
            AnalysisCommand::Start { worker, at } => {
                // RUNNING is allowed too: the previous worker vanished and the job came back.
                self.ensure_not_finished()?;
                let event = AnalysisEvent::AnalysisStarted {
                    attempt: self.attempt + 1,
                    worker,
                    started_at: at,
                };
                sink.write(event, self).await;
            }
            AnalysisCommand::RecordSource { commit, at } => {
                self.ensure_running()?;
                let valid = (7..=64).contains(&commit.len())
                    && commit.chars().all(|c| c.is_ascii_hexdigit());
                if !valid {
                    return Err(AnalysisError::InvalidCommit(commit));
                }
                if self.commit.as_deref() != Some(commit.as_str()) {
                    sink.write(AnalysisEvent::AnalysisSourceFetched { commit, at }, self)
                        .await;
                }
            }
            AnalysisCommand::ReportProgress { progress, at } => {
                self.ensure_running()?;
                if progress > 100 {
                    return Err(AnalysisError::InvalidProgress(progress));
                }
                if progress != self.progress {
                    sink.write(AnalysisEvent::AnalysisProgressed { progress, at }, self)
                        .await;
                }
            }
            AnalysisCommand::RecordIssueBatch {
                batch,
                findings,
                at,
            } => {
                self.ensure_running()?;
                if self.recorded_batches.contains(&batch) {
                    return Ok(());
                }
                if findings.len() > MAX_FINDINGS_PER_BATCH {
                    return Err(AnalysisError::BatchTooLarge {
                        max: MAX_FINDINGS_PER_BATCH,
                        got: findings.len(),
                    });
                }
                for (index, finding) in findings.iter().enumerate() {
                    finding.validate(index)?;
                }
                let event = AnalysisEvent::IssueBatchRecorded {
                    batch,
                    findings,
                    recorded_at: at,
                };
                sink.write(event, self).await;
            }
            AnalysisCommand::Complete { at } => {
                self.ensure_running()?;
                let event = AnalysisEvent::AnalysisCompleted {
                    summary: self.summary,
                    finished_at: at,
                    duration_ms: self.duration_ms_until(at),
                };
                sink.write(event, self).await;
            }
            AnalysisCommand::Fail { error, at } => {
                self.ensure_not_finished()?;
                let event = AnalysisEvent::AnalysisFailed {
                    attempt: self.attempt,
                    error,
                    finished_at: at,
                    duration_ms: self.duration_ms_until(at),
                };
                sink.write(event, self).await;
            }
            AnalysisCommand::Reschedule {
                error,
                retry_at,
                at,
            } => {
                self.ensure_running()?;
                let event = AnalysisEvent::AnalysisRescheduled {
                    failed_attempt: self.attempt,
                    error,
                    retry_count: self.retry_count + 1,
                    retry_at,
                    at,
                };
                sink.write(event, self).await;
            }
            AnalysisCommand::Cancel { reason, at } => {
                let previous_status = self.ensure_not_finished()?;
                let event = AnalysisEvent::AnalysisCancelled {
                    reason,
                    previous_status,
                    finished_at: at,
                    duration_ms: self.duration_ms_until(at),
                };
                sink.write(event, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: AnalysisEvent) {
        match event {
            AnalysisEvent::AnalysisRequested {
                analysis_id,
                owner,
                project_id,
                requested_at,
                source,
                detectors,
                path,
                ..
            } => {
                self.id = Some(analysis_id);
                self.source = Some(source);
                self.detectors = detectors;
                self.path = path;
                self.owner = Some(owner);
                self.project_id = Some(project_id);
                self.status = Some(AnalysisStatus::Queued);
                self.requested_at = Some(requested_at);
            }
            AnalysisEvent::AnalysisStarted {
                attempt,
                started_at,
                ..
            } => {
                self.status = Some(AnalysisStatus::Running);
                self.attempt = attempt;
                self.progress = 0;
                self.first_started_at.get_or_insert(started_at);
            }
            AnalysisEvent::AnalysisSourceFetched { commit, .. } => self.commit = Some(commit),
            AnalysisEvent::AnalysisProgressed { progress, .. } => self.progress = progress,
            AnalysisEvent::IssueBatchRecorded {
                batch, findings, ..
            } => {
                // Idempotent on purpose: cqrs-es 0.5 applies the events of the command that
                // triggers a snapshot a second time (once in `EventSink::write`, once when it
                // builds the snapshot), so every `apply` must tolerate seeing an event twice.
                if self.recorded_batches.insert(batch) {
                    for finding in &findings {
                        self.summary.add(finding.severity);
                    }
                }
            }
            AnalysisEvent::AnalysisCompleted { finished_at, .. } => {
                self.status = Some(AnalysisStatus::Completed);
                self.progress = 100;
                self.finished_at = Some(finished_at);
            }
            AnalysisEvent::AnalysisFailed { finished_at, .. } => {
                self.status = Some(AnalysisStatus::Failed);
                self.finished_at = Some(finished_at);
            }
            AnalysisEvent::AnalysisRescheduled { retry_count, .. } => {
                self.status = Some(AnalysisStatus::Queued);
                self.retry_count = retry_count;
            }
            AnalysisEvent::AnalysisCancelled { finished_at, .. } => {
                self.status = Some(AnalysisStatus::Cancelled);
                self.finished_at = Some(finished_at);
            }
        }
    }
}
