use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Declared most severe first, so the derived `Ord` sorts CRITICAL first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Info => "INFO",
        }
    }

    /// 0 for CRITICAL up to 4 for INFO: the sort key read models store.
    pub const fn rank(self) -> i16 {
        self as i16
    }

    pub fn from_rank(rank: i16) -> Option<Self> {
        Self::ALL.get(usize::try_from(rank).ok()?).copied()
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{0}`: expected one of CRITICAL, HIGH, MEDIUM, LOW, INFO")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    /// Case-insensitive, because clients send `critical` as often as `CRITICAL`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|severity| severity.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_sort_most_severe_first_and_round_trip_their_rank() {
        let mut shuffled = vec![
            Severity::Info,
            Severity::Critical,
            Severity::Low,
            Severity::High,
        ];
        shuffled.sort();
        assert_eq!(
            shuffled,
            vec![
                Severity::Critical,
                Severity::High,
                Severity::Low,
                Severity::Info
            ]
        );
        for severity in Severity::ALL {
            assert_eq!(Severity::from_rank(severity.rank()), Some(severity));
        }
        assert_eq!(Severity::from_rank(5), None);
    }

    #[test]
    fn parsing_ignores_case_and_rejects_unknown_names() {
        assert_eq!("critical".parse::<Severity>(), Ok(Severity::Critical));
        assert!("severe".parse::<Severity>().is_err());
    }
}
