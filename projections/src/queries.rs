//! Reads of the read models, for the API. Every query is scoped to the owner, so a user never
//! sees another's rows. Filter text is always bound as data, never spliced into SQL.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::{AnalysisStatus, Severity};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("cursor is malformed or belongs to another listing")]
    InvalidCursor,
    #[error("read model query failed: {0}")]
    Database(#[from] sqlx::Error),
}

/// How a client pages: by page number (offset) or by an opaque cursor (keyset, any depth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    Number { page: u32, limit: u32 },
    Cursor { cursor: String, limit: u32 },
}

impl PageRequest {
    fn limit(&self) -> u32 {
        match self {
            PageRequest::Number { limit, .. } | PageRequest::Cursor { limit, .. } => *limit,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pagination {
    /// None when the page was addressed by cursor.
    pub page: Option<u32>,
    pub limit: u32,
    pub total: u64,
    pub total_pages: u64,
    pub next_cursor: Option<String>,
}

impl Pagination {
    fn new(request: &PageRequest, total: u64, next_cursor: Option<String>) -> Self {
        let limit = request.limit();
        Self {
            page: match request {
                PageRequest::Number { page, .. } => Some(*page),
                PageRequest::Cursor { .. } => None,
            },
            limit,
            total,
            total_pages: total.div_ceil(u64::from(limit.max(1))),
            next_cursor,
        }
    }
}

fn encode_cursor<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("cursor serialises"))
}

fn decode_cursor<T: for<'de> Deserialize<'de>>(cursor: &str) -> Result<T, QueryError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| QueryError::InvalidCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| QueryError::InvalidCursor)
}

fn offset(page: u32, limit: u32) -> i64 {
    i64::from(page.saturating_sub(1)) * i64::from(limit)
}

// --- projects --------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: Uuid,
    pub owner_id: Uuid,
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

const PROJECT_COLUMNS: &str = "id, owner_id, name, git_remote, git_branch, git_commit, language, \
                               framework, archived, created_at, updated_at";

/// Keyset position in "newest first" listings.
#[derive(Debug, Serialize, Deserialize)]
struct NewestCursor {
    k: String,
    t: DateTime<Utc>,
    id: Uuid,
}

pub async fn project(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
) -> Result<Option<ProjectRow>, QueryError> {
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM rm_projects WHERE id = $1 AND owner_id = $2");
    Ok(sqlx::query_as(&sql)
        .bind(id)
        .bind(owner)
        .fetch_optional(pool)
        .await?)
}

pub async fn projects(
    pool: &PgPool,
    owner: Uuid,
    page: &PageRequest,
) -> Result<(Vec<ProjectRow>, Pagination), QueryError> {
    let limit = page.limit();
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "SELECT {PROJECT_COLUMNS} FROM rm_projects WHERE owner_id = "
    ));
    query.push_bind(owner);
    push_newest_page(&mut query, "created_at", "projects", page)?;
    let mut rows: Vec<ProjectRow> = query.build_query_as().fetch_all(pool).await?;
    let next = next_newest_cursor(&mut rows, limit, "projects", |row| (row.created_at, row.id));
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_projects WHERE owner_id = $1")
        .bind(owner)
        .fetch_one(pool)
        .await?;
    Ok((rows, Pagination::new(page, total as u64, next)))
}

fn push_newest_page(
    query: &mut QueryBuilder<'_, Postgres>,
    time_column: &'static str,
    kind: &str,
    page: &PageRequest,
) -> Result<(), QueryError> {
    match page {
        PageRequest::Cursor { cursor, limit } => {
            let position: NewestCursor = decode_cursor(cursor)?;
            if position.k != kind {
                return Err(QueryError::InvalidCursor);
            }
            query.push(format!(" AND ({time_column}, id) < ("));
            query.push_bind(position.t);
            query.push(", ");
            query.push_bind(position.id);
            query.push(format!(") ORDER BY {time_column} DESC, id DESC LIMIT "));
            query.push_bind(i64::from(*limit) + 1);
        }
        PageRequest::Number { page, limit } => {
            query.push(format!(" ORDER BY {time_column} DESC, id DESC LIMIT "));
            query.push_bind(i64::from(*limit) + 1);
            query.push(" OFFSET ");
            query.push_bind(offset(*page, *limit));
        }
    }
    Ok(())
}

/// Drops the look-ahead row and, when there was one, returns the cursor after the last row.
fn next_newest_cursor<R>(
    rows: &mut Vec<R>,
    limit: u32,
    kind: &str,
    key: impl Fn(&R) -> (DateTime<Utc>, Uuid),
) -> Option<String> {
    if rows.len() <= limit as usize {
        return None;
    }
    rows.truncate(limit as usize);
    rows.last().map(|row| {
        let (t, id) = key(row);
        encode_cursor(&NewestCursor {
            k: kind.to_string(),
            t,
            id,
        })
    })
}

// --- analyses --------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AnalysisRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub project_id: Uuid,
    pub project_name: String,
    pub status: String,
    pub progress: i16,
    pub attempt: i32,
    pub retry_count: i32,
    pub detectors: Vec<String>,
    pub language: Option<String>,
    pub path: Option<String>,
    pub source: serde_json::Value,
    pub total_issues: i64,
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub info: i64,
    pub requested_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub cancel_reason: Option<String>,
    pub retry_at: Option<DateTime<Utc>>,
    pub git_commit: Option<String>,
    pub updated_at: DateTime<Utc>,
}

const ANALYSIS_COLUMNS: &str = "id, owner_id, project_id, project_name, status, progress, \
    attempt, retry_count, detectors, language, path, source, total_issues, critical, high, \
    medium, low, info, requested_at, started_at, finished_at, duration_ms, error, \
    cancel_reason, retry_at, git_commit, updated_at";

#[derive(Debug, Clone, Default)]
pub struct AnalysisFilter {
    pub project_id: Option<Uuid>,
    pub status: Option<AnalysisStatus>,
    /// Only analyses requested at or after this time (the owner's plan retention).
    pub retained_since: Option<DateTime<Utc>>,
}

/// One analysis of `owner`'s, if it was requested at or after `retained_since` (the owner's
/// plan retention; older ones stay in the event log but are no longer served).
pub async fn analysis(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
    retained_since: Option<DateTime<Utc>>,
) -> Result<Option<AnalysisRow>, QueryError> {
    let sql = format!(
        "SELECT {ANALYSIS_COLUMNS} FROM rm_analyses WHERE id = $1 AND owner_id = $2 \
         AND ($3::timestamptz IS NULL OR requested_at >= $3)"
    );
    Ok(sqlx::query_as(&sql)
        .bind(id)
        .bind(owner)
        .bind(retained_since)
        .fetch_optional(pool)
        .await?)
}

pub async fn analyses(
    pool: &PgPool,
    owner: Uuid,
    filter: &AnalysisFilter,
    page: &PageRequest,
) -> Result<(Vec<AnalysisRow>, Pagination), QueryError> {
    let push_filters = |query: &mut QueryBuilder<'_, Postgres>| {
        query.push_bind(owner);
        if let Some(project_id) = filter.project_id {
            query.push(" AND project_id = ");
            query.push_bind(project_id);
        }
        if let Some(status) = filter.status {
            query.push(" AND status = ");
            query.push_bind(status.as_str());
        }
        if let Some(since) = filter.retained_since {
            query.push(" AND requested_at >= ");
            query.push_bind(since);
        }
    };
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "SELECT {ANALYSIS_COLUMNS} FROM rm_analyses WHERE owner_id = "
    ));
    push_filters(&mut query);
    push_newest_page(&mut query, "requested_at", "analyses", page)?;
    let mut rows: Vec<AnalysisRow> = query.build_query_as().fetch_all(pool).await?;
    let next = next_newest_cursor(&mut rows, page.limit(), "analyses", |row| {
        (row.requested_at, row.id)
    });
    let mut count =
        QueryBuilder::<Postgres>::new("SELECT count(*) FROM rm_analyses WHERE owner_id = ");
    push_filters(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    Ok((rows, Pagination::new(page, total as u64, next)))
}

// --- issues ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IssueRow {
    pub id: Uuid,
    pub batch: i32,
    pub idx: i32,
    pub severity_rank: i16,
    pub detector: String,
    pub rule: String,
    pub category: String,
    pub file_path: String,
    pub line: i32,
    pub col: Option<i32>,
    pub end_line: Option<i32>,
    pub end_col: Option<i32>,
    pub message: String,
    pub suggestion: Option<String>,
    pub confidence: f64,
    pub auto_fixable: bool,
    pub snippet: Option<String>,
    pub fingerprint: Option<String>,
}

impl IssueRow {
    pub fn severity(&self) -> Severity {
        Severity::from_rank(self.severity_rank).unwrap_or(Severity::Info)
    }
}

const ISSUE_COLUMNS: &str = "id, batch, idx, severity_rank, detector, rule, category, file_path, \
    line, col, end_line, end_col, message, suggestion, confidence, auto_fixable, snippet, \
    fingerprint";

#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    pub severities: Vec<Severity>,
    pub detector: Option<String>,
    pub category: Option<String>,
    /// Issues whose path starts with this text.
    pub file_path_prefix: Option<String>,
}

/// Keyset position in the issue order (severity, path, line, batch, index).
#[derive(Debug, Serialize, Deserialize)]
struct IssueCursor {
    k: String,
    r: i16,
    p: String,
    l: i32,
    b: i32,
    i: i32,
}

/// One page of an analysis's issues, CRITICAL first, then by path and line. The caller has
/// checked that the analysis belongs to the user.
pub async fn issues(
    pool: &PgPool,
    analysis_id: Uuid,
    filter: &IssueFilter,
    page: &PageRequest,
) -> Result<(Vec<IssueRow>, Pagination), QueryError> {
    let limit = page.limit();
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "SELECT {ISSUE_COLUMNS} FROM rm_analysis_issues WHERE analysis_id = "
    ));
    query.push_bind(analysis_id);
    push_issue_filters(&mut query, filter);
    match page {
        PageRequest::Cursor { cursor, .. } => {
            let position: IssueCursor = decode_cursor(cursor)?;
            if position.k != "issues" {
                return Err(QueryError::InvalidCursor);
            }
            query.push(" AND (severity_rank, file_path, line, batch, idx) > (");
            let mut tuple = query.separated(", ");
            tuple.push_bind(position.r);
            tuple.push_bind(position.p);
            tuple.push_bind(position.l);
            tuple.push_bind(position.b);
            tuple.push_bind(position.i);
            query.push(")");
            query.push(" ORDER BY severity_rank, file_path, line, batch, idx LIMIT ");
            query.push_bind(i64::from(limit) + 1);
        }
        PageRequest::Number { page, limit } => {
            query.push(" ORDER BY severity_rank, file_path, line, batch, idx LIMIT ");
            query.push_bind(i64::from(*limit) + 1);
            query.push(" OFFSET ");
            query.push_bind(offset(*page, *limit));
        }
    }
    let mut rows: Vec<IssueRow> = query.build_query_as().fetch_all(pool).await?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|row| {
            encode_cursor(&IssueCursor {
                k: "issues".into(),
                r: row.severity_rank,
                p: row.file_path.clone(),
                l: row.line,
                b: row.batch,
                i: row.idx,
            })
        })
    } else {
        None
    };
    let total = issue_total(pool, analysis_id, filter).await?;
    Ok((rows, Pagination::new(page, total, next)))
}

fn push_issue_filters(query: &mut QueryBuilder<'_, Postgres>, filter: &IssueFilter) {
    if let [only] = filter.severities[..] {
        // Equality (not ANY) lets the planner walk an index in page order.
        query.push(" AND severity_rank = ");
        query.push_bind(only.rank());
    } else if !filter.severities.is_empty() {
        query.push(" AND severity_rank = ANY(");
        query.push_bind(
            filter
                .severities
                .iter()
                .map(|severity| severity.rank())
                .collect::<Vec<_>>(),
        );
        query.push(")");
    }
    if let Some(detector) = &filter.detector {
        query.push(" AND detector = ");
        query.push_bind(detector.clone());
    }
    if let Some(category) = &filter.category {
        query.push(" AND category = ");
        query.push_bind(category.clone());
    }
    if let Some(prefix) = &filter.file_path_prefix {
        // LIKE with the wildcards of the user's text escaped: a prefix match the C-collated
        // index can serve.
        query.push(" AND file_path LIKE ");
        query.push_bind(format!("{}%", escape_like(prefix)));
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The facet table answers totals without touching the issues; a path filter needs a count.
async fn issue_total(
    pool: &PgPool,
    analysis_id: Uuid,
    filter: &IssueFilter,
) -> Result<u64, QueryError> {
    let mut query = if filter.file_path_prefix.is_some() {
        QueryBuilder::<Postgres>::new(
            "SELECT count(*)::bigint FROM rm_analysis_issues WHERE analysis_id = ",
        )
    } else {
        QueryBuilder::<Postgres>::new(
            "SELECT COALESCE(sum(issues), 0)::bigint FROM rm_analysis_issue_facets WHERE analysis_id = ",
        )
    };
    query.push_bind(analysis_id);
    push_issue_filters(&mut query, filter);
    let total: i64 = query.build_query_scalar().fetch_one(pool).await?;
    Ok(total.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_user_text_are_escaped() {
        assert_eq!(escape_like("src/100%_x\\"), "src/100\\%\\_x\\\\");
    }

    #[test]
    fn a_cursor_of_one_listing_is_refused_by_another() {
        let cursor = encode_cursor(&NewestCursor {
            k: "projects".into(),
            t: Utc::now(),
            id: Uuid::nil(),
        });
        assert!(decode_cursor::<IssueCursor>(&cursor).is_err());
        assert!(decode_cursor::<NewestCursor>("%%%").is_err());
        assert!(decode_cursor::<NewestCursor>(&URL_SAFE_NO_PAD.encode(b"{}")).is_err());
    }

    #[test]
    fn total_pages_round_up() {
        let request = PageRequest::Number { page: 1, limit: 50 };
        assert_eq!(Pagination::new(&request, 101, None).total_pages, 3);
        assert_eq!(Pagination::new(&request, 0, None).total_pages, 0);
    }
}

/// One event of an analysis's stream, for live progress: its sequence (the SSE id), its stored
/// type and its fields (findings left out: only their count travels).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisStreamEvent {
    pub sequence: i64,
    pub event_type: String,
    pub data: serde_json::Value,
}

/// The events of one analysis after `after_sequence`, oldest first, straight from the log (the
/// stream of one aggregate is committed in sequence order, so nothing appears behind it).
pub async fn analysis_events_after(
    pool: &PgPool,
    analysis_id: Uuid,
    after_sequence: i64,
    limit: i64,
) -> Result<Vec<AnalysisStreamEvent>, QueryError> {
    let rows: Vec<(i64, String, serde_json::Value)> = sqlx::query_as(
        "SELECT sequence, event_type, \
                CASE WHEN event_type = 'IssueBatchRecorded' \
                     THEN jsonb_build_object('batch', payload -> event_type -> 'batch', \
                          'count', jsonb_array_length(payload -> event_type -> 'findings')) \
                     ELSE payload -> event_type END \
           FROM events WHERE aggregate_type = 'Analysis' AND aggregate_id = $1 AND sequence > $2 \
          ORDER BY sequence LIMIT $3",
    )
    .bind(analysis_id.to_string())
    .bind(after_sequence)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(sequence, event_type, data)| AnalysisStreamEvent {
            sequence,
            event_type,
            data,
        })
        .collect())
}
