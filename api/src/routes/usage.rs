//! `GET /api/insight/usage`: the caller's plan, status, limits and what is left.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem, UPGRADE_URL};
use crate::extract::AuthUser;
use crate::state::AppState;
use domain::{Limit, UsageReport};

/// Each limit; `null` is unlimited.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageLimits {
    pub analyses_per_period: Option<u32>,
    pub analyses_per_hour: Option<u32>,
    pub concurrent_analyses: Option<u32>,
    pub projects: Option<u32>,
    pub retention_days: u32,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageCounts {
    pub analyses_per_period: u32,
    pub analyses_per_hour: u32,
    pub concurrent_analyses: u32,
    pub projects: u32,
}

/// What is left of each limit; `null` is unlimited.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageRemaining {
    pub analyses_per_period: Option<u32>,
    pub analyses_per_hour: Option<u32>,
    pub concurrent_analyses: Option<u32>,
    pub projects: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsagePeriod {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageResponse {
    pub success: bool,
    /// `FREE`, `PRO` or `ENTERPRISE`.
    pub plan: String,
    /// Stripe's subscription status (`active` for a plan without Stripe).
    pub status: String,
    pub can_run_cloud_analysis: bool,
    pub limits: UsageLimits,
    pub used: UsageCounts,
    pub remaining: UsageRemaining,
    pub period: UsagePeriod,
    /// When the period quota starts again.
    pub resets_at: String,
    /// When the hourly window frees its next slot, if it holds any.
    pub hourly_resets_at: Option<String>,
    pub upgrade_url: String,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn left(limit: Limit, used: u32) -> Option<u32> {
    limit.map(|limit| limit.saturating_sub(used))
}

impl From<UsageReport> for UsageResponse {
    fn from(report: UsageReport) -> Self {
        let limits = report.limits;
        Self {
            success: true,
            plan: report.plan.as_upper_str().to_string(),
            status: report.status.as_str().to_string(),
            can_run_cloud_analysis: report.status.can_run_cloud_analysis(),
            remaining: UsageRemaining {
                analyses_per_period: left(limits.analyses_per_period, report.analyses_in_period),
                analyses_per_hour: left(limits.analyses_per_hour, report.analyses_last_hour),
                concurrent_analyses: left(limits.concurrent_analyses, report.running),
                projects: left(limits.projects, report.projects),
            },
            used: UsageCounts {
                analyses_per_period: report.analyses_in_period,
                analyses_per_hour: report.analyses_last_hour,
                concurrent_analyses: report.running,
                projects: report.projects,
            },
            limits: UsageLimits {
                analyses_per_period: limits.analyses_per_period,
                analyses_per_hour: limits.analyses_per_hour,
                concurrent_analyses: limits.concurrent_analyses,
                projects: limits.projects,
                retention_days: limits.retention_days,
            },
            period: UsagePeriod {
                start: time(report.period.start),
                end: time(report.period.end),
            },
            resets_at: time(report.period.end),
            hourly_resets_at: report.hour_window_frees_at.map(time),
            upgrade_url: UPGRADE_URL.to_string(),
        }
    }
}

/// The caller's plan, subscription status, limits, usage and what is left, as of now.
#[utoipa::path(get, path = "/api/insight/usage", tag = "usage",
    security(("bearer" = [])),
    responses((status = 200, body = UsageResponse), (status = "4XX", body = Problem)))]
pub async fn get_usage(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<UsageResponse>, ApiError> {
    let report = state.subscriptions.usage(user.user_id).await?;
    Ok(Json(report.into()))
}
