use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use uuid::Uuid;

use crate::dto::{
    AnalysisDetail, AnalysisList, AnalysisView, CancelRequest, IssueView, SourceRequest,
    SubmitAnalysisRequest, SubmittedAnalysis,
};
use crate::error::{ApiError, Problem};
use crate::extract::{parse_id, ApiJson, AuthUser, CorrelationId, OptionalJson};
use crate::params::{AnalysisListParams, IssuePageParams, QueryMap};
use crate::state::AppState;
use application::{SourceOverride, SubmitAnalysis};
use domain::{AnalysisId, AnalysisStatus, GitBranch, GitCommit, Severity};
use projections::queries::{AnalysisFilter, IssueFilter};

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

fn parse_source(source: SourceRequest) -> Result<SourceOverride, ApiError> {
    if source.upload_id.is_some() && (source.git_commit.is_some() || source.git_branch.is_some()) {
        return Err(ApiError::bad_field(
            "source",
            "give either uploadId or gitCommit/gitBranch, not both",
        ));
    }
    Ok(SourceOverride {
        upload_id: source.upload_id,
        git_commit: source
            .git_commit
            .as_deref()
            .map(GitCommit::parse)
            .transpose()
            .map_err(|error| ApiError::bad_field("source.gitCommit", error))?,
        git_branch: source
            .git_branch
            .as_deref()
            .map(GitBranch::parse)
            .transpose()
            .map_err(|error| ApiError::bad_field("source.gitBranch", error))?,
    })
}

fn polling_url(id: AnalysisId) -> String {
    format!("/api/insight/analysis/{id}")
}

/// Queues an analysis of one of the caller's projects. With `Idempotency-Key`, a repeated
/// request returns the analysis the first one created, with 200.
#[utoipa::path(post, path = "/api/insight/analysis", tag = "analyses",
    request_body = SubmitAnalysisRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible ASCII characters; the same key gives the same analysis")),
    security(("bearer" = [])),
    responses(
        (status = 201, body = SubmittedAnalysis, description = "Queued"),
        (status = 200, body = SubmittedAnalysis, description = "Already submitted with this key"),
        (status = "4XX", body = Problem)))]
pub async fn submit_analysis(
    State(state): State<AppState>,
    user: AuthUser,
    CorrelationId(correlation_id): CorrelationId,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SubmitAnalysisRequest>,
) -> Result<(StatusCode, HeaderMap, Json<SubmittedAnalysis>), ApiError> {
    let idempotency_key = match headers.get(IDEMPOTENCY_KEY_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::bad_parameter("Idempotency-Key", "must be visible ASCII"))?
                .to_string(),
        ),
    };
    let submission = SubmitAnalysis {
        project_id: Some(request.project_id.into()),
        detectors: request.detectors,
        language: request.language,
        path: request.path,
        source: request.source.map(parse_source).transpose()?,
        idempotency_key,
    };
    let submitted = state
        .analyses
        .submit(user.user_id, submission, correlation_id)
        .await?;
    let url = polling_url(submitted.analysis_id);
    let mut response_headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&url) {
        response_headers.insert(header::LOCATION, location);
    }
    let (status, message) = if submitted.created {
        (StatusCode::CREATED, "analysis queued")
    } else {
        (
            StatusCode::OK,
            "analysis already submitted with this Idempotency-Key",
        )
    };
    Ok((
        status,
        response_headers,
        Json(SubmittedAnalysis {
            success: true,
            analysis_id: submitted.analysis_id.as_uuid(),
            status: submitted.status.as_str().to_ascii_lowercase(),
            polling_url: url,
            message: message.to_string(),
        }),
    ))
}

fn issue_filter(query: &QueryMap) -> Result<IssueFilter, ApiError> {
    let severities = match query.get("severity") {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(|part| {
                part.parse::<Severity>()
                    .map_err(|error| ApiError::bad_parameter("severity", error))
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(IssueFilter {
        severities,
        detector: query.text("detector", 128)?,
        category: query.text("category", 128)?,
        file_path_prefix: query.text("filePath", 1024)?,
    })
}

/// One analysis with a page of its issues: CRITICAL first, then by file path and line.
#[utoipa::path(get, path = "/api/insight/analysis/{id}", tag = "analyses",
    params(("id" = Uuid, Path, description = "Analysis id"), IssuePageParams),
    security(("bearer" = [])),
    responses((status = 200, body = AnalysisDetail), (status = "4XX", body = Problem)))]
pub async fn get_analysis(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    query: QueryMap,
) -> Result<Json<AnalysisDetail>, ApiError> {
    let id: AnalysisId = parse_id("id", &id)?;
    let page = query.page_request(50, 200)?;
    let filter = issue_filter(&query)?;
    let analysis = served_analysis(&state, &user, id).await?;
    let (issues, pagination) =
        projections::queries::issues(&state.read_pool, id.as_uuid(), &filter, &page).await?;
    Ok(Json(AnalysisDetail {
        success: true,
        analysis: analysis.into(),
        issues: issues.into_iter().map(IssueView::from).collect(),
        pagination: pagination.into(),
    }))
}

/// The caller's analyses, newest first.
#[utoipa::path(get, path = "/api/insight/analyses", tag = "analyses",
    params(AnalysisListParams),
    security(("bearer" = [])),
    responses((status = 200, body = AnalysisList), (status = "4XX", body = Problem)))]
pub async fn list_analyses(
    State(state): State<AppState>,
    user: AuthUser,
    query: QueryMap,
) -> Result<Json<AnalysisList>, ApiError> {
    let page = query.page_request(20, 100)?;
    let filter = AnalysisFilter {
        project_id: query
            .get("projectId")
            .map(|raw| parse_id::<Uuid>("projectId", raw))
            .transpose()?,
        status: query
            .get("status")
            .map(|raw| {
                raw.parse::<AnalysisStatus>()
                    .map_err(|error| ApiError::bad_parameter("status", error))
            })
            .transpose()?,
        retained_since: Some(state.subscriptions.retained_since(user.user_id).await?),
    };
    let (rows, pagination) =
        projections::queries::analyses(&state.read_pool, user.user_id.as_uuid(), &filter, &page)
            .await?;
    Ok(Json(AnalysisList {
        success: true,
        analyses: rows.into_iter().map(AnalysisView::from).collect(),
        pagination: pagination.into(),
    }))
}

/// Cancels a queued or running analysis. An analysis that already finished answers 409 with
/// its status.
#[utoipa::path(post, path = "/api/insight/analysis/{id}/cancel", tag = "analyses",
    params(("id" = Uuid, Path, description = "Analysis id")),
    request_body(content = Option<CancelRequest>, description = "Optional reason"),
    security(("bearer" = [])),
    responses((status = 200, body = SubmittedAnalysis), (status = "4XX", body = Problem)))]
pub async fn cancel_analysis(
    State(state): State<AppState>,
    user: AuthUser,
    CorrelationId(correlation_id): CorrelationId,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<CancelRequest>,
) -> Result<Json<SubmittedAnalysis>, ApiError> {
    let id: AnalysisId = parse_id("id", &id)?;
    let reason = body
        .and_then(|request| request.reason)
        .map(|reason| reason.chars().take(1000).collect::<String>());
    let status = state
        .analyses
        .cancel(user.user_id, id, reason, correlation_id)
        .await?;
    Ok(Json(SubmittedAnalysis {
        success: true,
        analysis_id: id.as_uuid(),
        status: status.as_str().to_ascii_lowercase(),
        polling_url: polling_url(id),
        message: "analysis cancelled".into(),
    }))
}

/// One of the caller's analyses as the API serves it: from the listing, and only within their
/// plan's retention (older ones stay in the log but are no longer served).
pub(crate) async fn served_analysis(
    state: &AppState,
    user: &AuthUser,
    id: AnalysisId,
) -> Result<projections::queries::AnalysisRow, ApiError> {
    let retained_since = state.subscriptions.retained_since(user.user_id).await?;
    projections::queries::analysis(
        &state.read_pool,
        user.user_id.as_uuid(),
        id.as_uuid(),
        Some(retained_since),
    )
    .await?
    .ok_or_else(|| ApiError::not_found("analysis"))
}
