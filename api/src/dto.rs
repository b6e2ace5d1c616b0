//! The JSON shapes of the REST contract (camelCase, as existing clients expect), and their
//! conversions from read-model rows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use projections::queries::{AnalysisRow, IssueRow, Pagination, ProjectRow};

// --- tokens ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// A label to tell tokens apart (default `api`).
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    pub success: bool,
    pub id: Uuid,
    pub name: String,
    /// The token itself: shown once, never stored in clear.
    pub token: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenSummary {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the token.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenList {
    pub success: bool,
    pub tokens: Vec<TokenSummary>,
}

// --- projects --------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateProjectRequest {
    pub name: String,
    /// https/ssh/git/file URL, `git@host:org/repo.git`, or a local path.
    pub git_remote: String,
    /// Defaults to `main`.
    pub git_branch: Option<String>,
    pub git_commit: Option<String>,
    pub language: Option<String>,
    pub framework: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectView {
    pub id: Uuid,
    pub name: String,
    pub git_remote: String,
    pub git_branch: String,
    pub git_commit: Option<String>,
    pub language: Option<String>,
    pub framework: Option<String>,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ProjectRow> for ProjectView {
    fn from(row: ProjectRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            git_remote: row.git_remote,
            git_branch: row.git_branch,
            git_commit: row.git_commit,
            language: row.language,
            framework: row.framework,
            archived: row.archived,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectEnvelope {
    pub success: bool,
    pub project: ProjectView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectList {
    pub success: bool,
    pub projects: Vec<ProjectView>,
    pub pagination: PaginationView,
}

// --- analyses --------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubmitAnalysisRequest {
    pub project_id: Uuid,
    /// Detector names; leave out for the default set. Unknown names are refused with the list
    /// of valid ones.
    pub detectors: Option<Vec<String>>,
    pub language: Option<String>,
    /// A sub-folder of the repository to analyse.
    pub path: Option<String>,
    pub source: Option<SourceRequest>,
}

/// Analyse another commit or branch than the project's own, or an uploaded archive.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceRequest {
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    /// From `POST /api/insight/uploads`; excludes `gitCommit` and `gitBranch`.
    pub upload_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadCreated {
    pub success: bool,
    pub upload_id: Uuid,
    /// `tar.gz` or `zip`.
    pub format: String,
    pub size_bytes: u64,
    pub files: u64,
    pub expanded_bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedAnalysis {
    pub success: bool,
    pub analysis_id: Uuid,
    /// Lower-case, as the original API answered (`queued`).
    pub status: String,
    pub polling_url: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryView {
    pub total_issues: i64,
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub info: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimingView {
    pub requested_at: DateTime<Utc>,
    /// The first start (retries do not move it).
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Milliseconds from the first start to the finish.
    pub duration: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub project_name: String,
    /// QUEUED, RUNNING, COMPLETED, FAILED or CANCELLED.
    pub status: String,
    /// 0 to 100.
    pub progress: i16,
    /// The attempt running or last run (1 for the first).
    pub attempt: i32,
    pub retry_count: i32,
    pub detectors: Vec<String>,
    pub language: Option<String>,
    pub path: Option<String>,
    pub summary: SummaryView,
    pub timing: TimingView,
    pub error: Option<String>,
    pub cancel_reason: Option<String>,
    pub retry_at: Option<DateTime<Utc>>,
    /// The commit analysed, once the worker has fetched the source.
    pub commit: Option<String>,
    /// True when the analysis stopped (cancelled or failed) after some findings were
    /// recorded: the issues listed are the part found before it stopped.
    pub partial: bool,
}

impl From<AnalysisRow> for AnalysisView {
    fn from(row: AnalysisRow) -> Self {
        let partial = matches!(row.status.as_str(), "CANCELLED" | "FAILED") && row.total_issues > 0;
        Self {
            id: row.id,
            project_id: row.project_id,
            project_name: row.project_name,
            status: row.status,
            progress: row.progress,
            attempt: row.attempt,
            retry_count: row.retry_count,
            detectors: row.detectors,
            language: row.language,
            path: row.path,
            summary: SummaryView {
                total_issues: row.total_issues,
                critical: row.critical,
                high: row.high,
                medium: row.medium,
                low: row.low,
                info: row.info,
            },
            timing: TimingView {
                requested_at: row.requested_at,
                started_at: row.started_at,
                finished_at: row.finished_at,
                duration: row.duration_ms,
            },
            error: row.error,
            cancel_reason: row.cancel_reason,
            retry_at: row.retry_at,
            commit: row.git_commit,
            partial,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssueView {
    pub id: Uuid,
    /// CRITICAL, HIGH, MEDIUM, LOW or INFO.
    pub severity: String,
    pub detector: String,
    pub rule: String,
    pub category: String,
    pub file_path: String,
    pub line: i32,
    pub column: Option<i32>,
    pub end_line: Option<i32>,
    pub end_column: Option<i32>,
    pub message: String,
    pub suggestion: Option<String>,
    pub confidence: f64,
    pub auto_fixable: bool,
    pub snippet: Option<String>,
    pub fingerprint: Option<String>,
}

impl From<IssueRow> for IssueView {
    fn from(row: IssueRow) -> Self {
        Self {
            id: row.id,
            severity: row.severity().as_str().to_string(),
            detector: row.detector,
            rule: row.rule,
            category: row.category,
            file_path: row.file_path,
            line: row.line,
            column: row.col,
            end_line: row.end_line,
            end_column: row.end_col,
            message: row.message,
            suggestion: row.suggestion,
            confidence: row.confidence,
            auto_fixable: row.auto_fixable,
            snippet: row.snippet,
            fingerprint: row.fingerprint,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaginationView {
    /// The page number asked for; null when paging by cursor.
    pub page: Option<u32>,
    pub limit: u32,
    pub total: u64,
    pub total_pages: u64,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl From<Pagination> for PaginationView {
    fn from(pagination: Pagination) -> Self {
        Self {
            page: pagination.page,
            limit: pagination.limit,
            total: pagination.total,
            total_pages: pagination.total_pages,
            next_cursor: pagination.next_cursor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisDetail {
    pub success: bool,
    pub analysis: AnalysisView,
    pub issues: Vec<IssueView>,
    pub pagination: PaginationView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisEnvelope {
    pub success: bool,
    pub analysis: AnalysisView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisList {
    pub success: bool,
    pub analyses: Vec<AnalysisView>,
    pub pagination: PaginationView,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelRequest {
    pub reason: Option<String>,
}

// --- health ----------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: String,
    /// Each dependency: `up` or `down`.
    #[schema(value_type = Object)]
    pub checks: serde_json::Map<String, serde_json::Value>,
}
