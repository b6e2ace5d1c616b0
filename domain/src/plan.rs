//! Plans and what each one allows. The limits are configuration (they arrive as the
//! `Subscription`'s services), so a changed limit applies at once to every subscription.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Months, TimeZone, Utc};
use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Plan {
    #[default]
    Free,
    Pro,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Pro, Plan::Enterprise];

    pub const fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    /// The name clients see: `FREE`, `PRO`, `ENTERPRISE`.
    pub const fn as_upper_str(self) -> &'static str {
        match self {
            Plan::Free => "FREE",
            Plan::Pro => "PRO",
            Plan::Enterprise => "ENTERPRISE",
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan {0:?}: expected one of free, pro, enterprise")]
pub struct UnknownPlan(pub String);

impl FromStr for Plan {
    type Err = UnknownPlan;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "free" => Ok(Plan::Free),
            "pro" => Ok(Plan::Pro),
            "enterprise" => Ok(Plan::Enterprise),
            _ => Err(UnknownPlan(s.to_string())),
        }
    }
}

/// A count limit; `None` is unlimited.
pub type Limit = Option<u32>;

/// What one plan allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    pub analyses_per_period: Limit,
    /// In any sliding window of one hour.
    pub analyses_per_hour: Limit,
    /// Analyses running at once; more wait QUEUED.
    pub concurrent_analyses: Limit,
    pub projects: Limit,
    pub retention_days: u32,
}

/// The limits of every plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCatalog {
    pub free: PlanLimits,
    pub pro: PlanLimits,
    pub enterprise: PlanLimits,
}

impl Default for PlanCatalog {
    /// The published plans.
    fn default() -> Self {
        Self {
            free: PlanLimits {
                analyses_per_period: Some(10),
                analyses_per_hour: Some(5),
                concurrent_analyses: Some(1),
                projects: Some(3),
                retention_days: 30,
            },
            pro: PlanLimits {
                analyses_per_period: Some(1_000),
                analyses_per_hour: Some(100),
                concurrent_analyses: Some(3),
                projects: Some(50),
                retention_days: 90,
            },
            enterprise: PlanLimits {
                analyses_per_period: None,
                analyses_per_hour: Some(1_000),
                concurrent_analyses: Some(10),
                projects: None,
                retention_days: 365,
            },
        }
    }
}

impl PlanCatalog {
    pub fn limits(&self, plan: Plan) -> &PlanLimits {
        match plan {
            Plan::Free => &self.free,
            Plan::Pro => &self.pro,
            Plan::Enterprise => &self.enterprise,
        }
    }

    pub fn limits_mut(&mut self, plan: Plan) -> &mut PlanLimits {
        match plan {
            Plan::Free => &mut self.free,
            Plan::Pro => &mut self.pro,
            Plan::Enterprise => &mut self.enterprise,
        }
    }
}

/// A usage period: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Period {
    /// The calendar month (UTC) that holds `at`: the period of a subscription without Stripe.
    pub fn calendar_month(at: DateTime<Utc>) -> Self {
        let start = Utc
            .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
            .single()
            .expect("the first of a month at midnight UTC exists");
        Self {
            start,
            end: start + Months::new(1),
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    /// The period that holds `at`, continuing this one's rhythm: billing periods are whole
    /// months from their anchor, so a renewal Stripe has not reported yet is predicted the
    /// same way Stripe computes it. A period that is not a whole number of months (a trial,
    /// say) continues as calendar months.
    pub fn rolled_to(&self, at: DateTime<Utc>) -> Self {
        if self.contains(at) {
            return *self;
        }
        if at < self.start {
            return Self::calendar_month(at);
        }
        let Some(months) = whole_months(self.start, self.end) else {
            return Self::calendar_month(at);
        };
        let mut start = self.end;
        let mut steps = 0u32;
        loop {
            steps += 1;
            let next = self.start + Months::new(months * (steps + 1));
            if at < next {
                return Self { start, end: next };
            }
            start = next;
            if steps > 12 * 1000 {
                return Self::calendar_month(at);
            }
        }
    }
}

/// The number of months from `start` to `end` when that is whole (same day and time).
fn whole_months(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<u32> {
    (1..=12).find(|&months| start + Months::new(months) == end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn calendar_month_is_utc_month() {
        let period = Period::calendar_month(at("2026-02-17T23:59:00Z"));
        assert_eq!(period.start, at("2026-02-01T00:00:00Z"));
        assert_eq!(period.end, at("2026-03-01T00:00:00Z"));
        assert!(period.contains(at("2026-02-28T23:59:59Z")));
        assert!(!period.contains(at("2026-03-01T00:00:00Z")));
    }

    #[test]
    fn billing_periods_roll_by_whole_months_from_their_anchor() {
        let period = Period {
            start: at("2026-01-15T10:00:00Z"),
            end: at("2026-02-15T10:00:00Z"),
        };
        assert_eq!(period.rolled_to(at("2026-02-01T00:00:00Z")), period);
        let next = period.rolled_to(at("2026-02-15T10:00:00Z"));
        assert_eq!(next.start, at("2026-02-15T10:00:00Z"));
        assert_eq!(next.end, at("2026-03-15T10:00:00Z"));
        let later = period.rolled_to(at("2026-05-20T00:00:00Z"));
        assert_eq!(later.start, at("2026-05-15T10:00:00Z"));
        assert_eq!(later.end, at("2026-06-15T10:00:00Z"));
    }

    #[test]
    fn odd_periods_continue_as_calendar_months() {
        let trial = Period {
            start: at("2026-01-01T00:00:00Z"),
            end: at("2026-01-15T00:00:00Z"),
        };
        assert_eq!(
            trial.rolled_to(at("2026-01-20T00:00:00Z")),
            Period::calendar_month(at("2026-01-20T00:00:00Z"))
        );
    }

    #[test]
    fn plans_parse_in_any_case() {
        assert_eq!("PRO".parse::<Plan>().unwrap(), Plan::Pro);
        assert_eq!(" enterprise ".parse::<Plan>().unwrap(), Plan::Enterprise);
        assert!("gold".parse::<Plan>().is_err());
    }
}
