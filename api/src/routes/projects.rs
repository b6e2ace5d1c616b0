use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use uuid::Uuid;

use crate::dto::{CreateProjectRequest, ProjectEnvelope, ProjectList, ProjectView};
use crate::error::{ApiError, Problem};
use crate::extract::{parse_id, ApiJson, AuthUser, CorrelationId};
use crate::params::{ProjectListParams, QueryMap};
use crate::state::AppState;
use application::CreateProject;
use domain::{GitBranch, GitCommit, GitRemote, ProjectId, ProjectName};

fn parse_create(request: CreateProjectRequest) -> Result<CreateProject, ApiError> {
    let field = |name: &'static str| move |error| ApiError::bad_field(name, error);
    Ok(CreateProject {
        name: ProjectName::parse(&request.name).map_err(field("name"))?,
        git_remote: GitRemote::parse(&request.git_remote).map_err(field("gitRemote"))?,
        git_branch: match request.git_branch.as_deref() {
            None => GitBranch::default(),
            Some(branch) => GitBranch::parse(branch).map_err(field("gitBranch"))?,
        },
        git_commit: request
            .git_commit
            .as_deref()
            .map(GitCommit::parse)
            .transpose()
            .map_err(field("gitCommit"))?,
        language: request.language.filter(|value| !value.trim().is_empty()),
        framework: request.framework.filter(|value| !value.trim().is_empty()),
    })
}

/// Registers a project (a git remote and branch) for the caller.
#[utoipa::path(post, path = "/api/insight/projects", tag = "projects",
    request_body = CreateProjectRequest,
    security(("bearer" = [])),
    responses((status = 201, body = ProjectEnvelope), (status = "4XX", body = Problem)))]
pub async fn create_project(
    State(state): State<AppState>,
    user: AuthUser,
    CorrelationId(correlation_id): CorrelationId,
    ApiJson(request): ApiJson<CreateProjectRequest>,
) -> Result<(StatusCode, HeaderMap, Json<ProjectEnvelope>), ApiError> {
    let input = parse_create(request)?;
    let id = state
        .projects
        .create(user.user_id, input.clone(), correlation_id)
        .await?;
    // The write waited for the read model; should that wait have run out, answer from the
    // accepted input rather than fail a write that is committed.
    let project = match load(&state, user, id.as_uuid()).await {
        Ok(project) => project,
        Err(_) => {
            let now = chrono::Utc::now();
            ProjectView {
                id: id.as_uuid(),
                name: input.name.to_string(),
                git_remote: input.git_remote.to_string(),
                git_branch: input.git_branch.to_string(),
                git_commit: input.git_commit.map(|commit| commit.to_string()),
                language: input.language,
                framework: input.framework,
                archived: false,
                created_at: now,
                updated_at: now,
            }
        }
    };
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/insight/projects/{id}")) {
        headers.insert(header::LOCATION, location);
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(ProjectEnvelope {
            success: true,
            project,
        }),
    ))
}

/// The caller's projects, newest first.
#[utoipa::path(get, path = "/api/insight/projects", tag = "projects",
    params(ProjectListParams),
    security(("bearer" = [])),
    responses((status = 200, body = ProjectList), (status = "4XX", body = Problem)))]
pub async fn list_projects(
    State(state): State<AppState>,
    user: AuthUser,
    query: QueryMap,
) -> Result<Json<ProjectList>, ApiError> {
    let page = query.page_request(20, 100)?;
    let (rows, pagination) =
        projections::queries::projects(&state.read_pool, user.user_id.as_uuid(), &page).await?;
    Ok(Json(ProjectList {
        success: true,
        projects: rows.into_iter().map(ProjectView::from).collect(),
        pagination: pagination.into(),
    }))
}

/// One of the caller's projects.
#[utoipa::path(get, path = "/api/insight/projects/{id}", tag = "projects",
    params(("id" = Uuid, Path, description = "Project id")),
    security(("bearer" = [])),
    responses((status = 200, body = ProjectEnvelope), (status = "4XX", body = Problem)))]
pub async fn get_project(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ProjectEnvelope>, ApiError> {
    let id: ProjectId = parse_id("id", &id)?;
    let project = load(&state, user, id.as_uuid()).await?;
    Ok(Json(ProjectEnvelope {
        success: true,
        project,
    }))
}

async fn load(state: &AppState, user: AuthUser, id: Uuid) -> Result<ProjectView, ApiError> {
    projections::queries::project(&state.read_pool, user.user_id.as_uuid(), id)
        .await?
        .map(ProjectView::from)
        .ok_or_else(|| ApiError::not_found("project"))
}
