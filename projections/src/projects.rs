//! `rm_projects`: one row per project, for listings and project pages.

use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::{Project, ProjectEvent};
use infrastructure::StoredEvent;
use sqlx::PgConnection;

use crate::runner::{aggregate_uuid, ProjectionError, Projector};

pub struct ProjectsProjector;

#[async_trait]
impl Projector for ProjectsProjector {
    fn name(&self) -> &'static str {
        "projects"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_projects"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        &["ProjectCreated", "ProjectRenamed", "ProjectArchived"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type != <Project as Aggregate>::TYPE {
            return Ok(());
        }
        let project_id = aggregate_uuid(event)?;
        match event
            .decode::<ProjectEvent>()
            .map_err(|error| ProjectionError::decode(event, error))?
        {
            ProjectEvent::ProjectCreated {
                owner,
                name,
                git_remote,
                git_branch,
                git_commit,
                language,
                framework,
                created_at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO rm_projects (id, owner_id, name, git_remote, git_branch, \
                         git_commit, language, framework, created_at, updated_at, version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
                )
                .bind(project_id)
                .bind(owner.as_uuid())
                .bind(name.as_str())
                .bind(git_remote.as_str())
                .bind(git_branch.as_str())
                .bind(git_commit.as_ref().map(|commit| commit.as_str()))
                .bind(language)
                .bind(framework)
                .bind(created_at)
                .bind(event.sequence)
                .execute(&mut *conn)
                .await?;
            }
            ProjectEvent::ProjectRenamed { name, renamed_at } => {
                sqlx::query(
                    "UPDATE rm_projects SET name = $2, updated_at = $3, version = $4 WHERE id = $1",
                )
                .bind(project_id)
                .bind(name.as_str())
                .bind(renamed_at)
                .bind(event.sequence)
                .execute(&mut *conn)
                .await?;
            }
            ProjectEvent::ProjectArchived { archived_at } => {
                sqlx::query(
                    "UPDATE rm_projects SET archived = true, updated_at = $2, version = $3 \
                     WHERE id = $1",
                )
                .bind(project_id)
                .bind(archived_at)
                .bind(event.sequence)
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok(())
    }
}
