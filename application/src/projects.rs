//! Project use cases: create, rename, archive, each checked against the caller's ownership.

use std::sync::Arc;

use cqrs_es::AggregateError;
use tracing::instrument;
use uuid::Uuid;

use crate::contention::{self, ContentionBackoff};
use crate::error::{AppError, StoreError};
use crate::metadata::{Actor, CommandMetadata};
use crate::ports::{
    AggregateRepository, Clock, EventPosition, JointAppend, JointAppendError, ReadModel,
    ReadModelBarrier,
};
use domain::{
    GitBranch, GitCommit, GitRemote, Project, ProjectCommand, ProjectError, ProjectId, ProjectName,
    Subscription, SubscriptionCommand, UserId,
};

/// A project to create, already parsed from the request.
#[derive(Debug, Clone)]
pub struct CreateProject {
    pub name: ProjectName,
    pub git_remote: GitRemote,
    pub git_branch: GitBranch,
    pub git_commit: Option<GitCommit>,
    pub language: Option<String>,
    pub framework: Option<String>,
}

#[derive(Clone)]
pub struct ProjectService {
    projects: Arc<dyn AggregateRepository<Project>>,
    barrier: Arc<dyn ReadModelBarrier>,
    clock: Arc<dyn Clock>,
    quota: Option<Arc<dyn JointAppend<Subscription, Project>>>,
}

impl ProjectService {
    pub fn new(
        projects: Arc<dyn AggregateRepository<Project>>,
        barrier: Arc<dyn ReadModelBarrier>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            projects,
            barrier,
            clock,
            quota: None,
        }
    }

    /// Counts every new project against the plan's project limit, in the same transaction
    /// that creates it.
    pub fn with_quota(mut self, quota: Arc<dyn JointAppend<Subscription, Project>>) -> Self {
        self.quota = Some(quota);
        self
    }

    #[instrument(skip(self, input, correlation_id), fields(user.id = %user))]
    pub async fn create(
        &self,
        user: UserId,
        input: CreateProject,
        correlation_id: Uuid,
    ) -> Result<ProjectId, AppError> {
        self.create_for(user, input, correlation_id, Actor::User(user))
            .await
    }

    /// Creates a project owned by `user` on behalf of `actor` (the user, or a trusted service
    /// such as the internal webhook).
    pub async fn create_for(
        &self,
        user: UserId,
        input: CreateProject,
        correlation_id: Uuid,
        actor: Actor,
    ) -> Result<ProjectId, AppError> {
        for (field, value) in [
            ("language", &input.language),
            ("framework", &input.framework),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > 64) {
                return Err(AppError::invalid(field, "must be at most 64 characters"));
            }
        }
        let project_id = ProjectId::from_uuid(Uuid::now_v7());
        let command = ProjectCommand::Create {
            project_id,
            owner: user,
            name: input.name,
            git_remote: input.git_remote,
            git_branch: input.git_branch,
            git_commit: input.git_commit,
            language: input.language,
            framework: input.framework,
            at: self.clock.now(),
        };
        let metadata = CommandMetadata::new(actor, correlation_id);
        let position = self
            .append_new(user, project_id, command, &metadata)
            .await?;
        self.wait_until_visible(position).await;
        Ok(project_id)
    }

    async fn append_new(
        &self,
        user: UserId,
        project_id: ProjectId,
        command: ProjectCommand,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        let Some(quota) = &self.quota else {
            return self
                .projects
                .create(&project_id.to_string(), command, metadata)
                .await
                .map_err(project_error);
        };
        let _turn = contention::turn_on(&user).await;
        let mut backoff = ContentionBackoff::new();
        loop {
            let charge = SubscriptionCommand::CountProject {
                user,
                project_id,
                at: self.clock.now(),
            };
            return match quota
                .execute_and_create(
                    &user.to_string(),
                    charge,
                    &project_id.to_string(),
                    command.clone(),
                    None,
                    metadata,
                )
                .await
            {
                Ok(position) => Ok(position),
                Err(JointAppendError::FirstMoved) if backoff.wait().await => continue,
                Err(JointAppendError::FirstMoved) => Err(AppError::ContentionExhausted {
                    resource: "subscription",
                }),
                // Project ids are fresh UUIDv7s: a taken one is a bug, not a client's retry.
                Err(JointAppendError::SecondExists) => {
                    Err(project_error(AggregateError::AggregateConflict))
                }
                Err(JointAppendError::First(refusal)) => Err(refusal.into()),
                Err(JointAppendError::Second(rejection)) => {
                    Err(project_error(AggregateError::UserError(rejection)))
                }
                Err(JointAppendError::DependencyMoved) => {
                    unreachable!("no dependency was named")
                }
                Err(JointAppendError::Store(error)) => Err(AppError::Store(error)),
            };
        }
    }

    #[instrument(skip(self, correlation_id), fields(user.id = %user, project.id = %project_id))]
    pub async fn rename(
        &self,
        user: UserId,
        project_id: ProjectId,
        name: ProjectName,
        correlation_id: Uuid,
    ) -> Result<(), AppError> {
        self.owned(user, project_id).await?;
        let command = ProjectCommand::Rename {
            name,
            at: self.clock.now(),
        };
        self.run(user, project_id, command, correlation_id).await
    }

    #[instrument(skip(self, correlation_id), fields(user.id = %user, project.id = %project_id))]
    pub async fn archive(
        &self,
        user: UserId,
        project_id: ProjectId,
        correlation_id: Uuid,
    ) -> Result<(), AppError> {
        self.owned(user, project_id).await?;
        let command = ProjectCommand::Archive {
            at: self.clock.now(),
        };
        self.run(user, project_id, command, correlation_id).await
    }

    /// The project, if it exists and belongs to `user`; anything else is NotFound, never
    /// Forbidden, so ids cannot be probed.
    pub async fn owned(&self, user: UserId, project_id: ProjectId) -> Result<Project, AppError> {
        let project = self.projects.load(&project_id.to_string()).await?;
        if !project.exists() || !project.is_owned_by(user) {
            return Err(AppError::NotFound {
                resource: "project",
            });
        }
        Ok(project)
    }

    async fn run(
        &self,
        user: UserId,
        project_id: ProjectId,
        command: ProjectCommand,
        correlation_id: Uuid,
    ) -> Result<(), AppError> {
        let metadata = CommandMetadata::new(Actor::User(user), correlation_id);
        let position = self
            .projects
            .execute(&project_id.to_string(), command, &metadata)
            .await
            .map_err(project_error)?;
        self.wait_until_visible(position).await;
        Ok(())
    }

    async fn wait_until_visible(&self, position: Option<EventPosition>) {
        if let Some(position) = position {
            self.barrier.wait_for(ReadModel::Projects, position).await;
        }
    }
}

fn project_error(error: AggregateError<ProjectError>) -> AppError {
    match error {
        AggregateError::UserError(ProjectError::NotFound) => AppError::NotFound {
            resource: "project",
        },
        AggregateError::UserError(rejection) => AppError::Conflict(rejection.to_string()),
        AggregateError::AggregateConflict => AppError::ContentionExhausted {
            resource: "project",
        },
        other => AppError::Store(StoreError(Box::new(other))),
    }
}
