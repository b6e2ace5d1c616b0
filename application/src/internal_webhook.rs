//! `POST /api/webhooks/insight-internal`: events from trusted services that do not speak NATS,
//! signed the Standard Webhooks way with `INTERNAL_WEBHOOK_SECRET`. Each message id is handled
//! once; each event becomes commands through the existing use cases:
//!
//! - `analysis.completed`: an outside runner reports the findings and summary of a RUNNING
//!   analysis (recorded in batches, then completed);
//! - `project.created`: creates a project for a user.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use tracing::instrument;
use uuid::Uuid;

use crate::analyses::AnalysisService;
use crate::error::{AppError, StoreError};
use crate::metadata::{Actor, CommandMetadata};
use crate::ports::Clock;
use crate::projects::{CreateProject, ProjectService};
use crate::webhooks::{verify, VerifyError, WebhookSecret};
use domain::{
    AnalysisId, AnalysisStatus, Finding, GitBranch, GitCommit, GitRemote, ProjectId, ProjectName,
    Summary, UserId, MAX_FINDINGS_PER_BATCH,
};

/// Remembers which message ids were handled.
#[async_trait]
pub trait ReceivedMessages: Send + Sync {
    /// Records `id`; false when it was recorded before (the message is a repeat).
    async fn first_time(&self, id: &str, event_type: &str) -> Result<bool, StoreError>;
    /// Forgets `id` after its handling failed, so the sender's retry is handled.
    async fn forget(&self, id: &str) -> Result<(), StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum InternalWebhookError {
    #[error(transparent)]
    Signature(#[from] VerifyError),
    #[error(transparent)]
    App(#[from] AppError),
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(rename = "type")]
    event_type: String,
    data: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AnalysisCompleted {
    analysis_id: AnalysisId,
    #[serde(default)]
    findings: Vec<Finding>,
    summary: Option<SummaryInput>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct SummaryInput {
    total_issues: u64,
    critical: u64,
    high: u64,
    medium: u64,
    low: u64,
    info: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProjectCreated {
    owner: UserId,
    name: String,
    git_remote: String,
    git_branch: Option<String>,
    git_commit: Option<String>,
    language: Option<String>,
    framework: Option<String>,
}

/// What a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalOutcome {
    AnalysisCompleted(AnalysisId),
    ProjectCreated(ProjectId),
    /// The id was handled before: nothing changed.
    Duplicate,
}

#[derive(Clone)]
pub struct InternalWebhooks {
    secret: WebhookSecret,
    received: Arc<dyn ReceivedMessages>,
    analyses: AnalysisService,
    projects: ProjectService,
    clock: Arc<dyn Clock>,
}

impl InternalWebhooks {
    pub fn new(
        secret: WebhookSecret,
        received: Arc<dyn ReceivedMessages>,
        analyses: AnalysisService,
        projects: ProjectService,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            secret,
            received,
            analyses,
            projects,
            clock,
        }
    }

    /// Verifies, parses and handles one message. Nothing is parsed before the signature holds.
    #[instrument(skip_all, fields(webhook.id = id.unwrap_or_default()))]
    pub async fn handle(
        &self,
        id: Option<&str>,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<InternalOutcome, InternalWebhookError> {
        verify(
            &self.secret,
            id,
            timestamp,
            signature,
            body,
            self.clock.now(),
        )?;
        let id = id.unwrap_or_default();
        if id.is_empty() || id.len() > 255 {
            return Err(AppError::invalid("webhook-id", "must be 1 to 255 characters").into());
        }
        let message: Message = serde_json::from_slice(body).map_err(|error| {
            AppError::invalid(
                "body",
                format!("expected {{type, timestamp, data}}: {error}"),
            )
        })?;
        // Parse (and check) everything before anything is written.
        let command = match message.event_type.as_str() {
            "analysis.completed" => {
                let input: AnalysisCompleted = serde_json::from_value(message.data)
                    .map_err(|error| AppError::invalid("data", error.to_string()))?;
                for (index, finding) in input.findings.iter().enumerate() {
                    finding
                        .validate(index)
                        .map_err(|error| AppError::invalid("data.findings", error.to_string()))?;
                }
                Command::Complete(input)
            }
            "project.created" => {
                let input: ProjectCreated = serde_json::from_value(message.data)
                    .map_err(|error| AppError::invalid("data", error.to_string()))?;
                Command::CreateProject(input.owner, parse_project(input)?)
            }
            other => {
                return Err(AppError::invalid(
                    "type",
                    format!(
                        "`{other}` is not accepted; expected analysis.completed or project.created"
                    ),
                )
                .into())
            }
        };
        if !self
            .received
            .first_time(id, &message.event_type)
            .await
            .map_err(AppError::from)?
        {
            return Ok(InternalOutcome::Duplicate);
        }
        let outcome = match command {
            Command::Complete(input) => self.complete(id, input).await,
            Command::CreateProject(owner, project) => self
                .projects
                .create_for(
                    owner,
                    project,
                    Uuid::now_v7(),
                    Actor::System("internal-webhook".into()),
                )
                .await
                .map(InternalOutcome::ProjectCreated),
        };
        if outcome.is_err() {
            self.received.forget(id).await.map_err(AppError::from)?;
        }
        Ok(outcome?)
    }

    async fn complete(
        &self,
        message_id: &str,
        input: AnalysisCompleted,
    ) -> Result<InternalOutcome, AppError> {
        let analysis = self.analyses.load(input.analysis_id).await?;
        let Some(status) = analysis.status else {
            return Err(AppError::NotFound {
                resource: "analysis",
            });
        };
        if status != AnalysisStatus::Running {
            return Err(AppError::Conflict(format!(
                "analysis is {status}: only a RUNNING analysis can be completed"
            )));
        }
        let mut expected = analysis.summary;
        for finding in &input.findings {
            expected.add(finding.severity);
        }
        if let Some(summary) = &input.summary {
            if *summary != summary_input(&expected) {
                return Err(AppError::invalid(
                    "data.summary",
                    format!(
                        "does not match the findings: expected {} issues ({} critical, {} high, {} medium, {} low, {} info)",
                        expected.total_issues, expected.critical, expected.high, expected.medium, expected.low, expected.info
                    ),
                ));
            }
        }
        let metadata = CommandMetadata::new(
            Actor::System("internal-webhook".into()),
            Uuid::new_v5(&Uuid::NAMESPACE_OID, message_id.as_bytes()),
        );
        // Batch numbers after the ones already recorded: a worker may have recorded some.
        let first = analysis.recorded_batches.last().copied().unwrap_or(0) + 1;
        for (offset, chunk) in input.findings.chunks(MAX_FINDINGS_PER_BATCH).enumerate() {
            self.analyses
                .record_batch(
                    input.analysis_id,
                    first + offset as u32,
                    chunk.to_vec(),
                    &metadata.next_command(),
                )
                .await?;
        }
        self.analyses
            .complete(input.analysis_id, &metadata.next_command())
            .await?;
        Ok(InternalOutcome::AnalysisCompleted(input.analysis_id))
    }
}

enum Command {
    Complete(AnalysisCompleted),
    CreateProject(UserId, CreateProject),
}

fn summary_input(summary: &Summary) -> SummaryInput {
    SummaryInput {
        total_issues: summary.total_issues,
        critical: summary.critical,
        high: summary.high,
        medium: summary.medium,
        low: summary.low,
        info: summary.info,
    }
}

fn parse_project(input: ProjectCreated) -> Result<CreateProject, AppError> {
    let field = |name: &'static str| {
        move |error: domain::ValueError| AppError::invalid(name, error.to_string())
    };
    Ok(CreateProject {
        name: ProjectName::parse(&input.name).map_err(field("data.name"))?,
        git_remote: GitRemote::parse(&input.git_remote).map_err(field("data.gitRemote"))?,
        git_branch: match input.git_branch.as_deref() {
            None => GitBranch::default(),
            Some(branch) => GitBranch::parse(branch).map_err(field("data.gitBranch"))?,
        },
        git_commit: input
            .git_commit
            .as_deref()
            .map(GitCommit::parse)
            .transpose()
            .map_err(field("data.gitCommit"))?,
        language: input.language.filter(|value| !value.trim().is_empty()),
        framework: input.framework.filter(|value| !value.trim().is_empty()),
    })
}
