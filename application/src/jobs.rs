//! The worker's use case: run one analysis job (fetch the source, run the detectors, record the
//! findings in batches, complete), and decide what a failure means (retry later, or fail for
//! good). Delivery (NATS), git and the detector engine are ports; this module only decides.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use uuid::Uuid;

use crate::analyses::AnalysisService;
use crate::error::AppError;
use crate::metadata::{Actor, CommandMetadata};
use crate::subscriptions::{RunSlot, SubscriptionService};
use domain::analysis::AnalysisSource;
use domain::{AnalysisId, AnalysisStatus, Finding, MAX_FINDINGS_PER_BATCH};

/// A source tree on disk for the length of one job; dropping it removes the folder.
pub struct FetchedSource {
    pub root: PathBuf,
    /// The commit that was checked out, when the source is a git repository.
    pub commit: Option<String>,
    /// Whatever keeps the folder alive (a temporary directory).
    pub guard: Box<dyn Send + Sync>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

#[async_trait]
pub trait SourceFetcher: Send + Sync {
    /// Fetches `source` into a fresh folder; `path` narrows the analysis to a sub-folder.
    async fn fetch(&self, source: &AnalysisSource) -> Result<FetchedSource, SourceError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineFailure {
    #[error("cancelled")]
    Cancelled,
    #[error("detector engine failed: {0}")]
    Failed(String),
}

/// Progress of a run, 0 to 100, sent by the engine as it goes.
pub type ProgressSender = watch::Sender<u8>;

#[async_trait]
pub trait DetectorEngine: Send + Sync {
    /// Runs the named detectors over `root`; findings come back in a deterministic order, so
    /// a job that runs twice records the same batches.
    async fn run(
        &self,
        root: &Path,
        detectors: &[String],
        progress: ProgressSender,
        cancel: Arc<AtomicBool>,
    ) -> Result<Vec<Finding>, EngineFailure>;
}

/// How often a job may fail before the analysis fails for good, and how long to wait between.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// One delay per retry: three delays mean four attempts.
    pub delays: Vec<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            delays: vec![
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(120),
            ],
        }
    }
}

impl RetryPolicy {
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }

    /// The delay before the attempt after `failed_attempt`, or None when none is left.
    pub fn delay_after(&self, failed_attempt: u32) -> Option<Duration> {
        self.delays
            .get(failed_attempt.saturating_sub(1) as usize)
            .copied()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Completed {
        findings: usize,
    },
    /// Back in the queue: deliver the job again after this delay.
    RetryAfter {
        delay: Duration,
        error: String,
    },
    Failed {
        error: String,
    },
    Cancelled,
    /// The owner's plan runs no more analyses at once: deliver the job again shortly.
    WaitingForSlot {
        limit: u32,
    },
    /// Nothing to do: the analysis is unknown or already finished (a redelivery).
    Skipped,
}

enum AttemptError {
    Cancelled,
    Failed(String),
    App(AppError),
}

impl From<AppError> for AttemptError {
    fn from(error: AppError) -> Self {
        match error {
            // The analysis was cancelled (or finished elsewhere) while this attempt ran.
            AppError::AlreadyFinished { .. } => AttemptError::Cancelled,
            other => AttemptError::App(other),
        }
    }
}

/// Progress is reported at most this often, so a stream stays short.
const PROGRESS_EVERY: Duration = Duration::from_millis(1000);

#[derive(Clone)]
pub struct AnalysisJobs {
    analyses: AnalysisService,
    fetcher: Arc<dyn SourceFetcher>,
    engine: Arc<dyn DetectorEngine>,
    policy: RetryPolicy,
    worker: String,
    run_slots: Option<SubscriptionService>,
}

impl AnalysisJobs {
    pub fn new(
        analyses: AnalysisService,
        fetcher: Arc<dyn SourceFetcher>,
        engine: Arc<dyn DetectorEngine>,
        policy: RetryPolicy,
        worker: impl Into<String>,
    ) -> Self {
        Self {
            analyses,
            fetcher,
            engine,
            policy,
            worker: worker.into(),
            run_slots: None,
        }
    }

    /// Bounds how many analyses of one user run at once (the plan's limit): a job over it
    /// waits, QUEUED, and is delivered again after `wait`.
    pub fn with_run_slots(mut self, subscriptions: SubscriptionService) -> Self {
        self.run_slots = Some(subscriptions);
        self
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Runs one attempt of the analysis. `cancel` is raised by whoever learns of a
    /// cancellation (the control subject); the job also notices it when a command is refused
    /// because the analysis finished. `causation_id` is the event that queued the job.
    #[tracing::instrument(skip(self, cancel), fields(analysis.id = %analysis_id))]
    pub async fn run(
        &self,
        analysis_id: AnalysisId,
        cancel: Arc<AtomicBool>,
        causation_id: Uuid,
    ) -> Result<JobOutcome, AppError> {
        let analysis = self.analyses.load(analysis_id).await?;
        let Some(status) = analysis.status else {
            return Ok(JobOutcome::Skipped);
        };
        if status.is_terminal() {
            return Ok(JobOutcome::Skipped);
        }
        let metadata = CommandMetadata::new(Actor::Worker(self.worker.clone()), causation_id)
            .caused_by(causation_id);
        if let (Some(subscriptions), Some(owner)) = (&self.run_slots, analysis.owner) {
            let slot = subscriptions
                .take_run_slot(owner, analysis_id, &metadata.next_command())
                .await?;
            if let RunSlot::Full { limit } = slot {
                return Ok(JobOutcome::WaitingForSlot { limit });
            }
        }
        match self
            .analyses
            .start(analysis_id, &self.worker, &metadata)
            .await
        {
            Ok(_) => {}
            Err(AppError::AlreadyFinished { .. }) => return Ok(JobOutcome::Skipped),
            Err(other) => return Err(other),
        }
        let attempt = self.analyses.load(analysis_id).await?.attempt;
        match self.attempt(analysis_id, &cancel, &metadata).await {
            Ok(findings) => match self
                .analyses
                .complete(analysis_id, &metadata.next_command())
                .await
            {
                Ok(_) => Ok(JobOutcome::Completed { findings }),
                Err(AppError::AlreadyFinished { .. }) => Ok(JobOutcome::Cancelled),
                Err(other) => Err(other),
            },
            Err(AttemptError::Cancelled) => Ok(JobOutcome::Cancelled),
            Err(AttemptError::App(error)) => Err(error),
            Err(AttemptError::Failed(error)) => {
                self.after_failure(analysis_id, attempt, error, &metadata)
                    .await
            }
        }
    }

    async fn after_failure(
        &self,
        analysis_id: AnalysisId,
        attempt: u32,
        error: String,
        metadata: &CommandMetadata,
    ) -> Result<JobOutcome, AppError> {
        let outcome = match self.policy.delay_after(attempt) {
            Some(delay) => {
                let retry_in = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                self.analyses
                    .reschedule(analysis_id, &error, retry_in, &metadata.next_command())
                    .await
                    .map(|_| JobOutcome::RetryAfter {
                        delay,
                        error: error.clone(),
                    })
            }
            None => self
                .analyses
                .fail(analysis_id, &error, &metadata.next_command())
                .await
                .map(|_| JobOutcome::Failed {
                    error: error.clone(),
                }),
        };
        match outcome {
            Err(AppError::AlreadyFinished { .. }) => Ok(JobOutcome::Cancelled),
            other => other,
        }
    }

    async fn attempt(
        &self,
        analysis_id: AnalysisId,
        cancel: &Arc<AtomicBool>,
        metadata: &CommandMetadata,
    ) -> Result<usize, AttemptError> {
        let (source, detectors, path) = self.analyses.job_input(analysis_id).await?;
        let fetched = self.fetcher.fetch(&source).await.map_err(|error| {
            AttemptError::Failed(format!("fetching the source failed: {error}"))
        })?;
        if let Some(commit) = &fetched.commit {
            self.analyses
                .record_source(analysis_id, commit, &metadata.next_command())
                .await?;
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(AttemptError::Cancelled);
        }

        let (progress_sender, mut progress) = watch::channel(0u8);
        let engine = self.engine.clone();
        // The request's path was checked to stay inside the tree (relative, no `..`).
        let root = match &path {
            Some(path) if !path.is_empty() => fetched.root.join(path),
            _ => fetched.root.clone(),
        };
        if !root.is_dir() {
            return Err(AttemptError::Failed(format!(
                "path `{}` is not a folder of the source",
                path.unwrap_or_default()
            )));
        }
        let run_cancel = cancel.clone();
        let mut run = tokio::spawn(async move {
            engine
                .run(&root, &detectors, progress_sender, run_cancel)
                .await
        });
        let mut reported = 0u8;
        let mut last_report = tokio::time::Instant::now();
        let findings = loop {
            tokio::select! {
                finished = &mut run => {
                    break finished.map_err(|error| AttemptError::Failed(format!("detector engine crashed: {error}")))?;
                }
                changed = progress.changed() => {
                    if changed.is_err() {
                        continue;
                    }
                    // The engine's 100 % is not the job's: batches are still to be recorded.
                    let now = (*progress.borrow()).min(90);
                    if now > reported && last_report.elapsed() >= PROGRESS_EVERY {
                        self.analyses
                            .report_progress(analysis_id, now, &metadata.next_command())
                            .await?;
                        reported = now;
                        last_report = tokio::time::Instant::now();
                    }
                }
            }
        };
        let findings = match findings {
            Ok(findings) => findings,
            Err(EngineFailure::Cancelled) => return Err(AttemptError::Cancelled),
            Err(EngineFailure::Failed(error)) => return Err(AttemptError::Failed(error)),
        };
        drop(fetched);

        let total = findings.len();
        for (index, chunk) in findings.chunks(MAX_FINDINGS_PER_BATCH).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(AttemptError::Cancelled);
            }
            // Batch numbers follow the deterministic order: a rerun records nothing twice.
            self.analyses
                .record_batch(
                    analysis_id,
                    index as u32 + 1,
                    chunk.to_vec(),
                    &metadata.next_command(),
                )
                .await?;
        }
        Ok(total)
    }
}

impl AnalysisService {
    /// What a job needs from the analysis: its source and detectors.
    pub async fn job_input(
        &self,
        analysis_id: AnalysisId,
    ) -> Result<(AnalysisSource, Vec<String>, Option<String>), AppError> {
        let analysis = self.load(analysis_id).await?;
        match (analysis.source, analysis.status) {
            (Some(source), Some(AnalysisStatus::Running)) => {
                Ok((source, analysis.detectors, analysis.path))
            }
            (_, Some(status)) if status.is_terminal() => Err(AppError::AlreadyFinished { status }),
            _ => Err(AppError::NotFound {
                resource: "analysis",
            }),
        }
    }
}
