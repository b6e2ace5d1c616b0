use serde::{Deserialize, Serialize};

use crate::severity::Severity;

/// Workers send findings in batches; a batch is one event, so this keeps events (and the
/// stream) small. DESIGN: "findings travel in batches (hundreds per event)".
pub const MAX_FINDINGS_PER_BATCH: usize = 500;

const MAX_TEXT_CHARS: usize = 8 * 1024;
const MAX_PATH_CHARS: usize = 1024;
const MAX_NAME_CHARS: usize = 128;

/// One problem a detector found in one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub severity: Severity,
    pub detector: String,
    pub rule: String,
    pub category: String,
    /// Relative to the analysed root, `/`-separated.
    pub file_path: String,
    /// 1-based.
    pub line: u32,
    #[serde(default)]
    pub column: Option<u32>,
    #[serde(default)]
    pub end_line: Option<u32>,
    #[serde(default)]
    pub end_column: Option<u32>,
    pub message: String,
    #[serde(default)]
    pub suggestion: Option<String>,
    /// 0 (a guess) to 1 (certain).
    pub confidence: f64,
    #[serde(default)]
    pub auto_fixable: bool,
    #[serde(default)]
    pub snippet: Option<String>,
    /// Stable across analyses when unrelated lines move (detector engine's definition).
    #[serde(default)]
    pub fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindingError {
    #[error("finding {index}: confidence must be between 0 and 1")]
    Confidence { index: usize },
    #[error("finding {index}: line must be 1 or more")]
    Line { index: usize },
    #[error("finding {index}: filePath must be a non-empty relative path without `..`")]
    FilePath { index: usize },
    #[error("finding {index}: `{field}` must be 1 to {max} characters")]
    Text {
        index: usize,
        field: &'static str,
        max: usize,
    },
}

impl Finding {
    /// Checks one finding; `index` is its place in the batch, for the error message.
    pub fn validate(&self, index: usize) -> Result<(), FindingError> {
        if !(0.0..=1.0).contains(&self.confidence) || self.confidence.is_nan() {
            return Err(FindingError::Confidence { index });
        }
        if self.line == 0 {
            return Err(FindingError::Line { index });
        }
        let path = &self.file_path;
        if path.is_empty()
            || path.chars().count() > MAX_PATH_CHARS
            || path.starts_with('/')
            || path.contains('\\')
            || path.split('/').any(|part| part == "..")
            || path.contains('\0')
        {
            return Err(FindingError::FilePath { index });
        }
        let required = [
            ("detector", &self.detector, MAX_NAME_CHARS),
            ("rule", &self.rule, MAX_NAME_CHARS),
            ("category", &self.category, MAX_NAME_CHARS),
            ("message", &self.message, MAX_TEXT_CHARS),
        ];
        for (field, value, max) in required {
            if value.is_empty() || value.chars().count() > max {
                return Err(FindingError::Text { index, field, max });
            }
        }
        let optional = [
            ("suggestion", &self.suggestion),
            ("snippet", &self.snippet),
            ("fingerprint", &self.fingerprint),
        ];
        for (field, value) in optional {
            if value
                .as_ref()
                .is_some_and(|v| v.chars().count() > MAX_TEXT_CHARS)
            {
                return Err(FindingError::Text {
                    index,
                    field,
                    max: MAX_TEXT_CHARS,
                });
            }
        }
        Ok(())
    }
}

/// Counts of recorded findings per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub total_issues: u64,
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub info: u64,
}

impl Summary {
    pub fn add(&mut self, severity: Severity) {
        self.total_issues += 1;
        match severity {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Info => self.info += 1,
        }
    }

    pub fn count(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }
}
