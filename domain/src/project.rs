//! The `Project` aggregate: one repository (remote, branch, commit) owned by one user.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::ids::{ProjectId, UserId};
use crate::values::{GitBranch, GitCommit, GitRemote, ProjectName};
use crate::NoServices;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProjectCommand {
    Create {
        project_id: ProjectId,
        owner: UserId,
        name: ProjectName,
        git_remote: GitRemote,
        git_branch: GitBranch,
        git_commit: Option<GitCommit>,
        language: Option<String>,
        framework: Option<String>,
        at: DateTime<Utc>,
    },
    Rename {
        name: ProjectName,
        at: DateTime<Utc>,
    },
    Archive {
        at: DateTime<Utc>,
    },
}

/// Stored with camelCase field names, as published (docs/events.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase")]
pub enum ProjectEvent {
    ProjectCreated {
        project_id: ProjectId,
        owner: UserId,
        name: ProjectName,
        git_remote: GitRemote,
        git_branch: GitBranch,
        git_commit: Option<GitCommit>,
        language: Option<String>,
        framework: Option<String>,
        created_at: DateTime<Utc>,
    },
    ProjectRenamed {
        name: ProjectName,
        renamed_at: DateTime<Utc>,
    },
    ProjectArchived {
        archived_at: DateTime<Utc>,
    },
}

impl DomainEvent for ProjectEvent {
    fn event_type(&self) -> String {
        match self {
            ProjectEvent::ProjectCreated { .. } => "ProjectCreated",
            ProjectEvent::ProjectRenamed { .. } => "ProjectRenamed",
            ProjectEvent::ProjectArchived { .. } => "ProjectArchived",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectError {
    #[error("project already exists")]
    AlreadyExists,
    #[error("project not found")]
    NotFound,
    #[error("project is archived")]
    Archived,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: Option<ProjectId>,
    pub owner: Option<UserId>,
    pub name: Option<ProjectName>,
    pub git_remote: Option<GitRemote>,
    pub git_branch: GitBranch,
    pub git_commit: Option<GitCommit>,
    pub language: Option<String>,
    pub framework: Option<String>,
    pub archived: bool,
}

impl Project {
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    pub fn is_owned_by(&self, user: UserId) -> bool {
        self.owner == Some(user)
    }
}

impl Aggregate for Project {
    const TYPE: &'static str = "Project";
    type Command = ProjectCommand;
    type Event = ProjectEvent;
    type Error = ProjectError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: ProjectCommand,
        _services: &NoServices,
        sink: &EventSink<Self>,
    ) -> Result<(), ProjectError> {
        match command {
            ProjectCommand::Create {
                project_id,
                owner,
                name,
                git_remote,
                git_branch,
                git_commit,
                language,
                framework,
                at,
            } => {
                if self.exists() {
                    return Err(ProjectError::AlreadyExists);
                }
                let event = ProjectEvent::ProjectCreated {
                    project_id,
                    owner,
                    name,
                    git_remote,
                    git_branch,
                    git_commit,
                    language,
                    framework,
                    created_at: at,
                };
                sink.write(event, self).await;
            }
            ProjectCommand::Rename { name, at } => {
                self.ensure_active()?;
                if self.name.as_ref() != Some(&name) {
                    sink.write(
                        ProjectEvent::ProjectRenamed {
                            name,
                            renamed_at: at,
                        },
                        self,
                    )
                    .await;
                }
            }
            ProjectCommand::Archive { at } => {
                if !self.exists() {
                    return Err(ProjectError::NotFound);
                }
                // Archiving twice is the same fact: a no-op, not an error.
                if !self.archived {
                    sink.write(ProjectEvent::ProjectArchived { archived_at: at }, self)
                        .await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: ProjectEvent) {
        match event {
            ProjectEvent::ProjectCreated {
                project_id,
                owner,
                name,
                git_remote,
                git_branch,
                git_commit,
                language,
                framework,
                created_at: _,
            } => {
                self.id = Some(project_id);
                self.owner = Some(owner);
                self.name = Some(name);
                self.git_remote = Some(git_remote);
                self.git_branch = git_branch;
                self.git_commit = git_commit;
                self.language = language;
                self.framework = framework;
            }
            ProjectEvent::ProjectRenamed { name, .. } => self.name = Some(name),
            ProjectEvent::ProjectArchived { .. } => self.archived = true,
        }
    }
}

impl Project {
    fn ensure_active(&self) -> Result<(), ProjectError> {
        if !self.exists() {
            return Err(ProjectError::NotFound);
        }
        if self.archived {
            return Err(ProjectError::Archived);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
    }

    fn created() -> ProjectEvent {
        ProjectEvent::ProjectCreated {
            project_id: ProjectId::from_uuid(Uuid::from_u128(1)),
            owner: UserId::from_uuid(Uuid::from_u128(2)),
            name: ProjectName::parse("shop").unwrap(),
            git_remote: GitRemote::parse("https://example.com/acme/shop.git").unwrap(),
            git_branch: GitBranch::default(),
            git_commit: None,
            language: Some("typescript".into()),
            framework: None,
            created_at: at(),
        }
    }

    fn create_command() -> ProjectCommand {
        ProjectCommand::Create {
            project_id: ProjectId::from_uuid(Uuid::from_u128(1)),
            owner: UserId::from_uuid(Uuid::from_u128(2)),
            name: ProjectName::parse("shop").unwrap(),
            git_remote: GitRemote::parse("https://example.com/acme/shop.git").unwrap(),
            git_branch: GitBranch::default(),
            git_commit: None,
            language: Some("typescript".into()),
            framework: None,
            at: at(),
        }
    }

    fn framework() -> TestFramework<Project> {
        TestFramework::with(NoServices)
    }

    #[test]
    fn a_new_project_is_created_on_branch_main_by_default() {
        framework()
            .given_no_previous_events()
            .when(create_command())
            .then_expect_events(vec![created()]);
    }

    #[test]
    fn a_project_cannot_be_created_twice() {
        framework()
            .given(vec![created()])
            .when(create_command())
            .then_expect_error(ProjectError::AlreadyExists);
    }

    #[test]
    fn a_project_can_be_renamed() {
        let name = ProjectName::parse("storefront").unwrap();
        framework()
            .given(vec![created()])
            .when(ProjectCommand::Rename {
                name: name.clone(),
                at: at(),
            })
            .then_expect_events(vec![ProjectEvent::ProjectRenamed {
                name,
                renamed_at: at(),
            }]);
    }

    #[test]
    fn renaming_to_the_same_name_records_nothing() {
        framework()
            .given(vec![created()])
            .when(ProjectCommand::Rename {
                name: ProjectName::parse("shop").unwrap(),
                at: at(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_unknown_project_cannot_be_renamed() {
        framework()
            .given_no_previous_events()
            .when(ProjectCommand::Rename {
                name: ProjectName::parse("x").unwrap(),
                at: at(),
            })
            .then_expect_error(ProjectError::NotFound);
    }

    #[test]
    fn an_archived_project_cannot_be_renamed() {
        framework()
            .given(vec![
                created(),
                ProjectEvent::ProjectArchived { archived_at: at() },
            ])
            .when(ProjectCommand::Rename {
                name: ProjectName::parse("x").unwrap(),
                at: at(),
            })
            .then_expect_error(ProjectError::Archived);
    }

    #[test]
    fn archiving_twice_records_one_event() {
        framework()
            .given(vec![created()])
            .when(ProjectCommand::Archive { at: at() })
            .then_expect_events(vec![ProjectEvent::ProjectArchived { archived_at: at() }]);
        framework()
            .given(vec![
                created(),
                ProjectEvent::ProjectArchived { archived_at: at() },
            ])
            .when(ProjectCommand::Archive { at: at() })
            .then_expect_events(vec![]);
    }
}
