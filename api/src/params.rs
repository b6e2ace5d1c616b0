//! Query parameters arrive as text and are parsed here, so every mistake is a 400 that names
//! the parameter (`limit=abc`, `limit=0`, a malformed cursor, ...) instead of a generic error.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;
use utoipa::IntoParams;

use crate::error::ApiError;
use projections::queries::PageRequest;

/// The raw query string as a map (last value wins); only known names are ever read.
pub struct QueryMap(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_parameter("query", "unreadable query string"))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map_err(|error| ApiError::bad_parameter("query", error))?;
        Ok(Self(pairs.into_iter().collect()))
    }
}

impl QueryMap {
    /// A parameter's trimmed value; absent and empty are the same.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    pub fn page_request(
        &self,
        default_limit: u32,
        max_limit: u32,
    ) -> Result<PageRequest, ApiError> {
        let limit = match self.get("limit") {
            None => default_limit,
            Some(raw) => parse_bounded("limit", raw, 1, max_limit)?,
        };
        match (self.get("cursor"), self.get("page")) {
            (Some(_), Some(_)) => Err(ApiError::bad_parameter(
                "cursor",
                "use either `cursor` or `page`, not both",
            )),
            (Some(cursor), None) => {
                if cursor.len() > 4096 {
                    return Err(ApiError::bad_parameter("cursor", "is too long"));
                }
                Ok(PageRequest::Cursor {
                    cursor: cursor.to_string(),
                    limit,
                })
            }
            (None, page) => {
                let page = match page {
                    None => 1,
                    Some(raw) => parse_bounded("page", raw, 1, 1_000_000)?,
                };
                Ok(PageRequest::Number { page, limit })
            }
        }
    }

    /// A free-text filter, bounded in length.
    pub fn text(&self, name: &'static str, max_chars: usize) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) if value.chars().count() > max_chars => Err(ApiError::bad_parameter(
                name,
                format!("must be at most {max_chars} characters"),
            )),
            Some(value) => Ok(Some(value.to_string())),
        }
    }
}

fn parse_bounded(name: &str, raw: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    let value: i64 = raw
        .parse()
        .map_err(|_| ApiError::bad_parameter(name, format!("`{raw}` is not a whole number")))?;
    if value < i64::from(min) || value > i64::from(max) {
        return Err(ApiError::bad_parameter(
            name,
            format!("must be between {min} and {max}, got {value}"),
        ));
    }
    Ok(value as u32)
}

/// Documentation of the issue-page parameters of `GET /api/insight/analysis/{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IssuePageParams {
    /// Issues per page: 1 to 200, default 50.
    limit: Option<u32>,
    /// Page number from 1 (offset paging).
    page: Option<u32>,
    /// Opaque cursor from `pagination.nextCursor` (keyset paging, fast at any depth).
    cursor: Option<String>,
    /// One severity or a comma-separated list (CRITICAL, HIGH, MEDIUM, LOW, INFO).
    severity: Option<String>,
    /// Detector name, exact.
    detector: Option<String>,
    /// Category, exact.
    category: Option<String>,
    /// Prefix of the file path.
    #[param(rename = "filePath")]
    file_path: Option<String>,
}

/// Documentation of the listing parameters of `GET /api/insight/analyses`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AnalysisListParams {
    /// Analyses per page: 1 to 100, default 20.
    limit: Option<u32>,
    page: Option<u32>,
    cursor: Option<String>,
    #[param(rename = "projectId")]
    project_id: Option<uuid::Uuid>,
    /// QUEUED, RUNNING, COMPLETED, FAILED or CANCELLED.
    status: Option<String>,
}

/// Documentation of the listing parameters of `GET /api/insight/projects`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ProjectListParams {
    /// Projects per page: 1 to 100, default 20.
    limit: Option<u32>,
    page: Option<u32>,
    cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> QueryMap {
        QueryMap(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn limits_outside_the_range_or_not_numbers_are_refused_by_name() {
        for bad in ["0", "-1", "abc", "100000", "1.5"] {
            let error = query(&[("limit", bad)]).page_request(50, 200).unwrap_err();
            assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
            assert!(error.to_problem().detail.starts_with("limit:"), "{bad}");
        }
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        assert_eq!(
            query(&[]).page_request(50, 200).unwrap(),
            PageRequest::Number { page: 1, limit: 50 }
        );
    }
}
