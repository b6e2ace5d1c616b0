//! Analysis use cases: the client side (submit, cancel) and the worker side (start, progress,
//! record a batch, complete, fail, reschedule), so a whole lifecycle can be driven without NATS.

use std::collections::BTreeSet;
use std::sync::Arc;

use cqrs_es::AggregateError;
use tracing::instrument;
use uuid::Uuid;

use crate::contention::{self, ContentionBackoff};
use crate::error::{AppError, StoreError};
use crate::metadata::{Actor, CommandMetadata};
use crate::ports::{
    AggregateRepository, CancelSignal, Clock, DetectorCatalog, EventPosition, JointAppend,
    JointAppendError, ReadModel, ReadModelBarrier, Unchanged, UploadStore,
};
use domain::analysis::AnalysisSource;
use domain::{
    Analysis, AnalysisCommand, AnalysisError, AnalysisId, AnalysisStatus, Finding, GitBranch,
    GitCommit, Project, ProjectId, Subscription, SubscriptionCommand, UserId,
};

/// Fixed namespace of idempotency-derived analysis ids (UUIDv5 over user id and key).
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a4e_9d1b_4c57_8e0a_5b2f_3c9d_1e07);

/// Which commit or branch to analyse instead of the project's own.
#[derive(Debug, Clone, Default)]
pub struct SourceOverride {
    pub git_commit: Option<GitCommit>,
    pub git_branch: Option<GitBranch>,
    /// Analyse this uploaded archive instead of the git remote.
    pub upload_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default)]
pub struct SubmitAnalysis {
    pub project_id: Option<ProjectId>,
    pub detectors: Option<Vec<String>>,
    pub language: Option<String>,
    pub path: Option<String>,
    pub source: Option<SourceOverride>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    pub analysis_id: AnalysisId,
    pub status: AnalysisStatus,
    /// False when an earlier request with the same idempotency key created it.
    pub created: bool,
}

/// Why a submission's new stream was not appended.
enum RequestNotAppended {
    /// The id is taken: an earlier request with the same idempotency key created it.
    Exists,
    /// The project changed after the state the request was built on.
    ProjectMoved,
    Refused(AppError),
}

#[derive(Clone)]
pub struct AnalysisService {
    analyses: Arc<dyn AggregateRepository<Analysis>>,
    projects: Arc<dyn AggregateRepository<Project>>,
    detectors: Arc<dyn DetectorCatalog>,
    barrier: Arc<dyn ReadModelBarrier>,
    clock: Arc<dyn Clock>,
    cancel_signal: Option<Arc<dyn CancelSignal>>,
    uploads: Option<Arc<dyn UploadStore>>,
    quota: Option<Arc<dyn JointAppend<Subscription, Analysis>>>,
}

impl AnalysisService {
    pub fn new(
        analyses: Arc<dyn AggregateRepository<Analysis>>,
        projects: Arc<dyn AggregateRepository<Project>>,
        detectors: Arc<dyn DetectorCatalog>,
        barrier: Arc<dyn ReadModelBarrier>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            analyses,
            projects,
            detectors,
            barrier,
            clock,
            cancel_signal: None,
            uploads: None,
            quota: None,
        }
    }

    /// Charges every submission to the user's subscription (period quota, hourly rate), in
    /// the same transaction that creates the analysis.
    pub fn with_quota(mut self, quota: Arc<dyn JointAppend<Subscription, Analysis>>) -> Self {
        self.quota = Some(quota);
        self
    }

    /// Lets analyses read uploaded archives.
    pub fn with_uploads(mut self, uploads: Arc<dyn UploadStore>) -> Self {
        self.uploads = Some(uploads);
        self
    }

    /// Signals running jobs when a cancel is recorded.
    pub fn with_cancel_signal(mut self, signal: Arc<dyn CancelSignal>) -> Self {
        self.cancel_signal = Some(signal);
        self
    }

    /// Queues an analysis of one of the caller's projects. With an idempotency key, the same
    /// key always names the same analysis, so a retried request returns the first result.
    #[instrument(skip(self, request, correlation_id), fields(user.id = %user))]
    pub async fn submit(
        &self,
        user: UserId,
        request: SubmitAnalysis,
        correlation_id: Uuid,
    ) -> Result<Submitted, AppError> {
        let project_id = request
            .project_id
            .ok_or_else(|| AppError::invalid("projectId", "is required"))?;
        let detectors = self.select_detectors(request.detectors)?;
        let path = request.path.map(validate_path).transpose()?;
        let language = request
            .language
            .map(|language| language.trim().to_string())
            .filter(|language| !language.is_empty());
        if language.as_ref().is_some_and(|l| l.chars().count() > 64) {
            return Err(AppError::invalid(
                "language",
                "must be at most 64 characters",
            ));
        }
        let analysis_id = match &request.idempotency_key {
            Some(key) => idempotent_analysis_id(user, key)?,
            None => AnalysisId::from_uuid(Uuid::now_v7()),
        };

        let overrides = request.source.unwrap_or_default();
        if let Some(upload_id) = overrides.upload_id {
            let known = match &self.uploads {
                Some(uploads) => uploads.belongs_to(user, upload_id).await?,
                None => false,
            };
            if !known {
                return Err(AppError::NotFound { resource: "upload" });
            }
        }

        let requested_at = self.clock.now();
        let metadata = CommandMetadata::new(Actor::User(user), correlation_id);
        let project_key = project_id.to_string();
        // The project may come from memory when the append can be made conditional on it
        // (the quota path): then a rename or archive since voids the append, and any refusal
        // is confirmed on the log first.
        let mut fresh = self.quota.is_none();
        let mut backoff = ContentionBackoff::new();
        let appended = loop {
            let project = self.projects.load_recent(&project_key, fresh).await?;
            if let Err(refusal) = submittable(&project.aggregate, user) {
                if project.from_memory {
                    fresh = true;
                    continue;
                }
                return Err(refusal);
            }
            let command = AnalysisCommand::Request {
                analysis_id,
                owner: user,
                project_id,
                project_name: project
                    .aggregate
                    .name
                    .as_ref()
                    .map(|name| name.to_string())
                    .unwrap_or_default(),
                detectors: detectors.clone(),
                language: language.clone(),
                path: path.clone(),
                source: source_for(&project.aggregate, overrides.clone()),
                at: requested_at,
            };
            let unchanged = project.unchanged(&project_key);
            match self
                .append_request(
                    user,
                    analysis_id,
                    requested_at,
                    command,
                    &unchanged,
                    &metadata,
                )
                .await
            {
                Err(RequestNotAppended::ProjectMoved)
                    if project.from_memory || backoff.wait().await =>
                {
                    fresh = true;
                }
                other => break other,
            }
        };
        match appended {
            Ok(position) => {
                self.wait_until_visible(ReadModel::Analyses, position).await;
                Ok(Submitted {
                    analysis_id,
                    status: AnalysisStatus::Queued,
                    created: true,
                })
            }
            Err(RequestNotAppended::Exists) => {
                let existing = self.analyses.load(&analysis_id.to_string()).await?;
                match existing.status {
                    // Only this user's key maps to this id, but check rather than trust.
                    // The request that created it waits for its read model; this one does not.
                    Some(status) if existing.is_owned_by(user) => Ok(Submitted {
                        analysis_id,
                        status,
                        created: false,
                    }),
                    _ => Err(AppError::NotFound {
                        resource: "analysis",
                    }),
                }
            }
            Err(RequestNotAppended::ProjectMoved) => Err(AppError::ContentionExhausted {
                resource: "project",
            }),
            Err(RequestNotAppended::Refused(error)) => Err(error),
        }
    }

    /// Appends the new analysis stream, charged to the subscription when quotas are on.
    async fn append_request(
        &self,
        user: UserId,
        analysis_id: AnalysisId,
        requested_at: chrono::DateTime<chrono::Utc>,
        command: AnalysisCommand,
        project: &Unchanged,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, RequestNotAppended> {
        let Some(quota) = &self.quota else {
            // A new stream needs no load: the append itself finds out whether the id (only
            // an idempotency key can repeat one) was taken, by this request's twin or an
            // earlier one.
            return match self
                .analyses
                .create(&analysis_id.to_string(), command, metadata)
                .await
            {
                Ok(position) => Ok(position),
                Err(AggregateError::AggregateConflict) => Err(RequestNotAppended::Exists),
                Err(other) => Err(RequestNotAppended::Refused(analysis_error(other))),
            };
        };
        let _turn = contention::turn_on(&user).await;
        let mut backoff = ContentionBackoff::new();
        loop {
            // Counted at the request's own time, so a refund finds the period it was in.
            let charge = SubscriptionCommand::CountAnalysis {
                user,
                analysis_id,
                at: requested_at,
            };
            let refused = match quota
                .execute_and_create(
                    &user.to_string(),
                    charge,
                    &analysis_id.to_string(),
                    command.clone(),
                    Some(project),
                    metadata,
                )
                .await
            {
                Ok(position) => return Ok(position),
                Err(JointAppendError::SecondExists) => return Err(RequestNotAppended::Exists),
                Err(JointAppendError::DependencyMoved) => {
                    return Err(RequestNotAppended::ProjectMoved)
                }
                Err(JointAppendError::FirstMoved) if backoff.wait().await => continue,
                Err(JointAppendError::FirstMoved) => AppError::ContentionExhausted {
                    resource: "subscription",
                },
                Err(JointAppendError::First(refusal)) => refusal.into(),
                Err(JointAppendError::Second(rejection)) => {
                    analysis_error(AggregateError::UserError(rejection))
                }
                Err(JointAppendError::Store(error)) => AppError::Store(error),
            };
            return Err(RequestNotAppended::Refused(refused));
        }
    }

    /// Cancels a queued or running analysis of the caller's.
    #[instrument(skip(self, correlation_id), fields(user.id = %user, analysis.id = %analysis_id))]
    pub async fn cancel(
        &self,
        user: UserId,
        analysis_id: AnalysisId,
        reason: Option<String>,
        correlation_id: Uuid,
    ) -> Result<AnalysisStatus, AppError> {
        self.owned(user, analysis_id).await?;
        let command = AnalysisCommand::Cancel {
            reason,
            at: self.clock.now(),
        };
        let metadata = CommandMetadata::new(Actor::User(user), correlation_id);
        let position = self
            .analyses
            .execute(&analysis_id.to_string(), command, &metadata)
            .await
            .map_err(analysis_error)?;
        if let Some(signal) = &self.cancel_signal {
            signal.cancelled(analysis_id).await;
        }
        self.wait_until_visible(ReadModel::Analyses, position).await;
        Ok(AnalysisStatus::Cancelled)
    }

    /// The analysis, if it exists and belongs to `user` (NotFound otherwise).
    pub async fn owned(&self, user: UserId, analysis_id: AnalysisId) -> Result<Analysis, AppError> {
        let analysis = self.analyses.load(&analysis_id.to_string()).await?;
        if !analysis.exists() || !analysis.is_owned_by(user) {
            return Err(AppError::NotFound {
                resource: "analysis",
            });
        }
        Ok(analysis)
    }

    // --- worker side -------------------------------------------------------------------------

    /// Loads an analysis without an ownership check: for workers and other trusted callers.
    pub async fn load(&self, analysis_id: AnalysisId) -> Result<Analysis, AppError> {
        Ok(self.analyses.load(&analysis_id.to_string()).await?)
    }

    pub async fn start(
        &self,
        analysis_id: AnalysisId,
        worker: &str,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        let command = AnalysisCommand::Start {
            worker: worker.to_string(),
            at: self.clock.now(),
        };
        self.execute_for_worker(analysis_id, command, metadata)
            .await
    }

    pub async fn record_source(
        &self,
        analysis_id: AnalysisId,
        commit: &str,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        let command = AnalysisCommand::RecordSource {
            commit: commit.to_string(),
            at: self.clock.now(),
        };
        self.execute_for_worker(analysis_id, command, metadata)
            .await
    }

    pub async fn report_progress(
        &self,
        analysis_id: AnalysisId,
        progress: u8,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        let command = AnalysisCommand::ReportProgress {
            progress,
            at: self.clock.now(),
        };
        self.execute_for_worker(analysis_id, command, metadata)
            .await
    }

    /// Records findings under a batch number; a batch number seen before is a no-op, so a job
    /// that runs twice never duplicates its findings.
    pub async fn record_batch(
        &self,
        analysis_id: AnalysisId,
        batch: u32,
        findings: Vec<Finding>,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        let command = AnalysisCommand::RecordIssueBatch {
            batch,
            findings,
            at: self.clock.now(),
        };
        self.execute_for_worker(analysis_id, command, metadata)
            .await
    }

    pub async fn complete(
        &self,
        analysis_id: AnalysisId,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        let command = AnalysisCommand::Complete {
            at: self.clock.now(),
        };
        self.execute_for_worker(analysis_id, command, metadata)
            .await
    }

    pub async fn fail(
        &self,
        analysis_id: AnalysisId,
        error: &str,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        let command = AnalysisCommand::Fail {
            error: error.to_string(),
            at: self.clock.now(),
        };
        self.execute_for_worker(analysis_id, command, metadata)
            .await
    }

    pub async fn reschedule(
        &self,
        analysis_id: AnalysisId,
        error: &str,
        retry_in: chrono::Duration,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        let now = self.clock.now();
        let command = AnalysisCommand::Reschedule {
            error: error.to_string(),
            retry_at: now + retry_in,
            at: now,
        };
        self.execute_for_worker(analysis_id, command, metadata)
            .await
    }

    async fn execute_for_worker(
        &self,
        analysis_id: AnalysisId,
        command: AnalysisCommand,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        self.analyses
            .execute(&analysis_id.to_string(), command, metadata)
            .await
            .map_err(analysis_error)
    }

    /// Waits for the read models this user will read next; a timeout is not an error (the
    /// write is committed), the client may just see it a moment later.
    pub async fn wait_until_visible(&self, read_model: ReadModel, position: Option<EventPosition>) {
        if let Some(position) = position {
            if !self.barrier.wait_for(read_model, position).await {
                tracing::warn!(read_model = ?read_model, "read model did not catch up in time");
            }
        }
    }

    fn select_detectors(&self, requested: Option<Vec<String>>) -> Result<Vec<String>, AppError> {
        let Some(requested) = requested else {
            return Ok(self.detectors.default_selection());
        };
        let valid = self.detectors.valid_names();
        let mut selected = BTreeSet::new();
        let mut unknown = Vec::new();
        for name in requested {
            let name = name.trim().to_ascii_lowercase();
            if valid.contains(&name) {
                selected.insert(name);
            } else if !unknown.contains(&name) {
                unknown.push(name);
            }
        }
        if !unknown.is_empty() {
            return Err(AppError::UnknownDetectors { unknown, valid });
        }
        if selected.is_empty() {
            return Err(AppError::invalid(
                "detectors",
                "must name at least one detector, or be left out for the default set",
            ));
        }
        Ok(selected.into_iter().collect())
    }
}

/// The same user and key always give the same analysis id; different users never collide.
fn idempotent_analysis_id(user: UserId, key: &str) -> Result<AnalysisId, AppError> {
    let valid = !key.is_empty() && key.len() <= 255 && key.chars().all(|c| c.is_ascii_graphic());
    if !valid {
        return Err(AppError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        ));
    }
    let name = format!("{user}:{key}");
    Ok(AnalysisId::from_uuid(Uuid::new_v5(
        &IDEMPOTENCY_NAMESPACE,
        name.as_bytes(),
    )))
}

/// A sub-folder to analyse: relative, no `..`, at most 1024 characters.
fn validate_path(path: String) -> Result<String, AppError> {
    let trimmed = path.trim().trim_matches('/').to_string();
    if trimmed.chars().count() > 1024
        || path.trim().starts_with('/')
        || trimmed.contains('\\')
        || trimmed.contains('\0')
        || trimmed.split('/').any(|part| part == "..")
    {
        return Err(AppError::invalid(
            "path",
            "must be a relative path inside the repository, without `..`",
        ));
    }
    Ok(trimmed)
}

/// Why `user` may not submit an analysis of `project`, if anything.
fn submittable(project: &Project, user: UserId) -> Result<(), AppError> {
    if !project.exists() || !project.is_owned_by(user) {
        return Err(AppError::NotFound {
            resource: "project",
        });
    }
    if project.archived {
        return Err(AppError::Conflict("project is archived".into()));
    }
    Ok(())
}

fn source_for(project: &Project, overrides: SourceOverride) -> AnalysisSource {
    if let Some(upload_id) = overrides.upload_id {
        return AnalysisSource::Upload { upload_id };
    }
    let git_branch = overrides
        .git_branch
        .unwrap_or_else(|| project.git_branch.clone());
    let git_commit = overrides.git_commit.or_else(|| project.git_commit.clone());
    AnalysisSource::Git {
        git_remote: project
            .git_remote
            .as_ref()
            .map(|remote| remote.to_string())
            .unwrap_or_default(),
        git_branch: git_branch.to_string(),
        git_commit: git_commit.map(|commit| commit.to_string()),
    }
}

fn analysis_error(error: AggregateError<AnalysisError>) -> AppError {
    match error {
        AggregateError::UserError(AnalysisError::NotFound) => AppError::NotFound {
            resource: "analysis",
        },
        AggregateError::UserError(AnalysisError::AlreadyFinished(status)) => {
            AppError::AlreadyFinished { status }
        }
        AggregateError::UserError(
            rejection @ (AnalysisError::InvalidProgress(_)
            | AnalysisError::BatchTooLarge { .. }
            | AnalysisError::InvalidFinding(_)
            | AnalysisError::NoDetectors
            | AnalysisError::InvalidCommit(_)),
        ) => AppError::Rejected(rejection.to_string()),
        AggregateError::UserError(rejection @ AnalysisError::NotRunning(_)) => {
            AppError::Conflict(rejection.to_string())
        }
        AggregateError::AggregateConflict => AppError::ContentionExhausted {
            resource: "analysis",
        },
        other => AppError::Store(StoreError(Box::new(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_gives_the_same_id_only_for_the_same_user() {
        let alice = UserId::from_uuid(Uuid::from_u128(1));
        let bob = UserId::from_uuid(Uuid::from_u128(2));
        assert_eq!(
            idempotent_analysis_id(alice, "k-1").unwrap(),
            idempotent_analysis_id(alice, "k-1").unwrap()
        );
        assert_ne!(
            idempotent_analysis_id(alice, "k-1").unwrap(),
            idempotent_analysis_id(bob, "k-1").unwrap()
        );
        assert!(idempotent_analysis_id(alice, "").is_err());
        assert!(idempotent_analysis_id(alice, "with space").is_err());
    }

    #[test]
    fn paths_must_stay_inside_the_repository() {
        assert_eq!(validate_path("src/app/".into()).unwrap(), "src/app");
        for bad in ["/etc", "../x", "a/../../b", "a\\b"] {
            assert!(validate_path(bad.into()).is_err(), "{bad}");
        }
    }
}
