//! What a detector reports: [`Finding`], its [`Severity`] and [`Category`], and the stable
//! [`Finding::fingerprint`] that lets later analyses recognise the same problem.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// How bad a finding is, most severe first (the derived order sorts `Critical` first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    /// The wire spelling (`"CRITICAL"`, ...), as clients and the REST API use it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Info => "INFO",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of problem a finding is about; used by clients to filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// The file does not parse, or breaks a rule the language enforces.
    Syntax,
    /// Code that is almost certainly a bug.
    Correctness,
    /// Code that is legal but suspicious or needlessly confusing.
    Suspicious,
    /// Style and modernisation (for example `var` instead of `let`).
    Style,
    /// Credentials and keys committed to the source.
    Secrets,
    /// Injection, unsafe sinks, disabled verification, weak cryptography.
    Security,
    /// Functions that are hard to understand or test.
    Complexity,
    /// Patterns that waste time or memory.
    Performance,
    /// Module structure: unresolved imports and import cycles.
    Imports,
    /// Manifests and lockfiles: unpinned, undeclared or duplicated dependencies, missing locks.
    Dependencies,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Syntax => "syntax",
            Category::Correctness => "correctness",
            Category::Suspicious => "suspicious",
            Category::Style => "style",
            Category::Secrets => "secrets",
            Category::Security => "security",
            Category::Complexity => "complexity",
            Category::Performance => "performance",
            Category::Imports => "imports",
            Category::Dependencies => "dependencies",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in one place of one file.
///
/// Lines and columns are 1-based; columns count Unicode scalar values from the start of the line.
/// `end_line`/`end_column` point just past the last character of the flagged range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Path relative to the analysed folder, with `/` separators on every platform.
    pub file_path: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub severity: Severity,
    /// The registry name of the detector that reported this (`"security"`, `"eslint"`, ...).
    pub detector: String,
    /// The rule inside the detector (`"no-debugger"`, `"aws-access-key-id"`, ...).
    pub rule_id: String,
    pub category: Category,
    pub message: String,
    pub suggestion: Option<String>,
    pub auto_fixable: bool,
    /// How sure the detector is that this is a real problem, in `0.0..=1.0`.
    pub confidence: f32,
    /// The flagged source line, trimmed and shortened, with any secret on it redacted.
    pub snippet: Option<String>,
    /// Stable identity across analyses; see [`fingerprint`].
    pub fingerprint: String,
}

/// Hex length of a fingerprint: 128 bits of SHA-256 are plenty to tell findings apart.
const FINGERPRINT_HEX_LEN: usize = 32;

/// The identity of a finding that survives unrelated edits: it hashes the detector and rule, the
/// file path, the flagged line with whitespace collapsed, and how many earlier findings of the
/// same rule sit on an identical line of the same file. Line numbers are deliberately left out,
/// so inserting lines above a finding does not change it.
pub fn fingerprint(
    detector: &str,
    rule_id: &str,
    file_path: &str,
    line_text: &str,
    occurrence: usize,
) -> String {
    fingerprint_of_normalized(
        detector,
        rule_id,
        file_path,
        &normalize_whitespace(line_text),
        occurrence,
    )
}

/// [`fingerprint`] of a line already passed through [`normalize_whitespace`].
pub(crate) fn fingerprint_of_normalized(
    detector: &str,
    rule_id: &str,
    file_path: &str,
    normalized_line: &str,
    occurrence: usize,
) -> String {
    let mut hasher = Sha256::new();
    for part in [detector, rule_id, file_path, normalized_line] {
        hasher.update(part.as_bytes());
        // A separator that cannot occur in any part keeps ("ab","c") apart from ("a","bc").
        hasher.update([0u8]);
    }
    hasher.update(occurrence.to_string().as_bytes());
    let digest = hasher.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(FINGERPRINT_HEX_LEN);
    for byte in digest.iter().take(FINGERPRINT_HEX_LEN / 2) {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

/// Collapses every run of whitespace into one space and trims both ends, so re-indenting a line
/// keeps its findings' fingerprints.
pub fn normalize_whitespace(text: &str) -> String {
    let mut normalized = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !normalized.is_empty() {
            normalized.push(' ');
        }
        normalized.push_str(word);
    }
    normalized
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_serialize_in_upper_case() {
        assert_eq!(
            serde_json::to_string(&Severity::Critical).unwrap(),
            "\"CRITICAL\""
        );
        assert_eq!(serde_json::to_string(&Severity::Info).unwrap(), "\"INFO\"");
        assert!(Severity::Critical < Severity::Low);
    }

    #[test]
    fn findings_serialize_in_camel_case() {
        let finding = Finding {
            file_path: "src/a.ts".into(),
            line: 1,
            column: 2,
            end_line: 1,
            end_column: 3,
            severity: Severity::High,
            detector: "eslint".into(),
            rule_id: "no-debugger".into(),
            category: Category::Suspicious,
            message: "m".into(),
            suggestion: None,
            auto_fixable: true,
            confidence: 1.0,
            snippet: Some("debugger;".into()),
            fingerprint: "f".into(),
        };
        let json = serde_json::to_value(&finding).unwrap();
        assert_eq!(json["filePath"], "src/a.ts");
        assert_eq!(json["autoFixable"], true);
        assert_eq!(json["ruleId"], "no-debugger");
        assert_eq!(json["severity"], "HIGH");
    }

    #[test]
    fn fingerprints_are_the_first_128_bits_of_sha256_in_lower_case_hex() {
        // The stored identity of every existing finding: the format must never change.
        let mut hasher = Sha256::new();
        hasher.update(b"eslint\0no-var\0src/a.js\0var a = 1;\0");
        hasher.update(b"3");
        let expected: String = hasher.finalize()[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(
            fingerprint("eslint", "no-var", "src/a.js", "  var a =\t1;  ", 3),
            expected
        );
        assert_eq!(normalize_whitespace("  a \t b\n c "), "a b c");
        assert_eq!(normalize_whitespace(" \t "), "");
    }

    #[test]
    fn fingerprint_ignores_indentation_but_not_content_or_occurrence() {
        let base = fingerprint("eslint", "no-debugger", "a.js", "  debugger;", 0);
        assert_eq!(
            base,
            fingerprint("eslint", "no-debugger", "a.js", "debugger;   ", 0)
        );
        assert_eq!(base.len(), FINGERPRINT_HEX_LEN);
        assert_ne!(
            base,
            fingerprint("eslint", "no-debugger", "a.js", "debugger; x", 0)
        );
        assert_ne!(
            base,
            fingerprint("eslint", "no-debugger", "a.js", "debugger;", 1)
        );
        assert_ne!(
            base,
            fingerprint("eslint", "no-debugger", "b.js", "debugger;", 0)
        );
    }
}
