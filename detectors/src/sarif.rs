//! A [`Report`] as a SARIF 2.1.0 log, the format code-scanning tools (GitHub, Azure DevOps, IDE
//! viewers) read.
//!
//! One run, tool `insight`. Rule ids are `detector/rule` (`eslint/no-debugger`), so rules of
//! different detectors never collide. Columns count Unicode code points, as our findings do, and
//! the run says so (`columnKind`). Each result carries our fingerprint under
//! `partialFingerprints["insight/v1"]` so viewers can track it across runs.

use crate::engine::Report;
use crate::finding::{Finding, Severity};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The schema URI written into the log's `$schema`.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const SARIF_VERSION: &str = "2.1.0";
/// The key of our fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "insight/v1";

/// The SARIF `level` of a severity: CRITICAL and HIGH are errors, MEDIUM a warning, the rest notes.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The SARIF rule id of a finding: `detector/rule`.
pub fn rule_id(finding: &Finding) -> String {
    format!("{}/{}", finding.detector, finding.rule_id)
}

/// What the log says about one rule, gathered from its findings.
struct RuleSummary<'r> {
    detector: &'r str,
    rule: &'r str,
    category: &'r str,
    /// The most severe level any finding of the rule has.
    severity: Severity,
    suggestion: Option<&'r str>,
}

/// Converts a report to a SARIF 2.1.0 log.
pub fn to_sarif(report: &Report) -> Value {
    let mut rules: BTreeMap<String, RuleSummary<'_>> = BTreeMap::new();
    for finding in &report.findings {
        let summary = rules.entry(rule_id(finding)).or_insert(RuleSummary {
            detector: &finding.detector,
            rule: &finding.rule_id,
            category: finding.category.as_str(),
            severity: finding.severity,
            suggestion: None,
        });
        summary.severity = summary.severity.min(finding.severity);
        if summary.suggestion.is_none() {
            summary.suggestion = finding.suggestion.as_deref();
        }
    }
    let rule_index: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(index, id)| (id.as_str(), index))
        .collect();

    let rule_descriptors: Vec<Value> = rules
        .iter()
        .map(|(id, summary)| {
            let mut descriptor = json!({
                "id": id,
                "name": summary.rule,
                "shortDescription": {
                    "text": format!("{} ({} detector, {})", summary.rule, summary.detector, summary.category),
                },
                "defaultConfiguration": { "level": level(summary.severity) },
                "properties": {
                    "detector": summary.detector,
                    "category": summary.category,
                    "tags": [summary.category],
                },
            });
            if let Some(suggestion) = summary.suggestion {
                descriptor["help"] = json!({ "text": suggestion });
            }
            descriptor
        })
        .collect();

    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|finding| {
            let id = rule_id(finding);
            result(finding, &id, rule_index[id.as_str()])
        })
        .collect();

    let mut invocation = json!({ "executionSuccessful": true });
    if !report.notes.is_empty() {
        // What a detector could not do (an outside tool not installed...): the run still
        // succeeded, so these are warnings of the invocation, not results.
        invocation["toolExecutionNotifications"] = report
            .notes
            .iter()
            .map(|note| {
                json!({
                    "level": "warning",
                    "message": { "text": format!("{}: {}", note.detector, note.message) },
                    "properties": { "detector": note.detector },
                })
            })
            .collect();
    }

    json!({
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {
                "driver": {
                    "name": "insight",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rule_descriptors,
                },
            },
            "invocations": [invocation],
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {
                "detectorsRun": report.detectors_run,
            },
        }],
    })
}

fn result(finding: &Finding, rule_id: &str, rule_index: usize) -> Value {
    let start_line = finding.line.max(1);
    let start_column = finding.column.max(1);
    let end_line = finding.end_line.max(start_line);
    let end_column = if end_line == start_line {
        finding.end_column.max(start_column)
    } else {
        finding.end_column.max(1)
    };
    let mut region = json!({
        "startLine": start_line,
        "startColumn": start_column,
        "endLine": end_line,
        "endColumn": end_column,
    });
    if let Some(snippet) = &finding.snippet {
        region["snippet"] = json!({ "text": snippet });
    }
    let mut properties = Map::new();
    properties.insert("severity".into(), json!(finding.severity.as_str()));
    properties.insert("detector".into(), json!(finding.detector));
    properties.insert("category".into(), json!(finding.category.as_str()));
    properties.insert("confidence".into(), json!(finding.confidence));
    properties.insert("autoFixable".into(), json!(finding.auto_fixable));
    if let Some(suggestion) = &finding.suggestion {
        properties.insert("suggestion".into(), json!(suggestion));
    }
    let mut partial_fingerprints = Map::new();
    if !finding.fingerprint.is_empty() {
        partial_fingerprints.insert(FINGERPRINT_KEY.into(), json!(finding.fingerprint));
    }
    json!({
        "ruleId": rule_id,
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": { "text": finding.message },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {
                    "uri": encode_uri_path(&finding.file_path),
                    "uriBaseId": "%SRCROOT%",
                },
                "region": region,
            },
        }],
        "partialFingerprints": partial_fingerprints,
        "properties": properties,
    })
}

/// Percent-encodes a relative `/`-separated path into a URI reference: unreserved characters
/// and `/` stay, every other byte becomes `%XX`.
pub fn encode_uri_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The inverse of [`encode_uri_path`] for any `%XX` escapes (invalid escapes are kept as is).
pub fn decode_uri_path(uri: &str) -> String {
    let bytes = uri.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
            if let Some(byte) = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                decoded.push(byte);
                index += 3;
                continue;
            }
        }
        decoded.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RunStats;
    use crate::finding::Category;

    fn finding(path: &str, severity: Severity, detector: &str, rule: &str) -> Finding {
        Finding {
            file_path: path.into(),
            line: 3,
            column: 5,
            end_line: 3,
            end_column: 14,
            severity,
            detector: detector.into(),
            rule_id: rule.into(),
            category: Category::Suspicious,
            message: format!("{rule} here"),
            suggestion: Some("Remove it.".into()),
            auto_fixable: true,
            confidence: 0.9,
            snippet: Some("debugger;".into()),
            fingerprint: "0123456789abcdef0123456789abcdef".into(),
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            findings,
            detectors_run: vec!["eslint".into(), "security".into()],
            notes: Vec::new(),
            stats: RunStats::default(),
        }
    }

    #[test]
    fn severities_map_to_sarif_levels() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Low), "note");
        assert_eq!(level(Severity::Info), "note");
    }

    #[test]
    fn a_result_carries_rule_location_fingerprint_and_properties() {
        let log = to_sarif(&report(vec![
            finding("src/my file.js", Severity::High, "eslint", "no-debugger"),
            finding("src/a.js", Severity::Low, "eslint", "no-debugger"),
            finding("src/a.js", Severity::Medium, "security", "no-eval"),
        ]));
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0]["id"], "eslint/no-debugger");
        // The rule's default is its most severe finding.
        assert_eq!(rules[0]["defaultConfiguration"]["level"], "error");
        let result = &run["results"][0];
        assert_eq!(result["ruleId"], "eslint/no-debugger");
        assert_eq!(result["ruleIndex"], 0);
        assert_eq!(result["level"], "error");
        assert_eq!(result["message"]["text"], "no-debugger here");
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "src/my%20file.js");
        assert_eq!(location["region"]["startLine"], 3);
        assert_eq!(location["region"]["endColumn"], 14);
        assert_eq!(location["region"]["snippet"]["text"], "debugger;");
        assert_eq!(
            result["partialFingerprints"][FINGERPRINT_KEY],
            "0123456789abcdef0123456789abcdef"
        );
        assert_eq!(result["properties"]["severity"], "HIGH");
        assert_eq!(result["properties"]["detector"], "eslint");
        assert_eq!(run["results"][2]["ruleIndex"], 1);
        assert_eq!(run["results"][2]["level"], "warning");
        assert_eq!(run["results"][1]["level"], "note");
        assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    }

    #[test]
    fn uri_paths_round_trip_through_percent_encoding() {
        for path in ["src/a b/ç#1.ts", "plain/path.rs", "100%.js"] {
            assert_eq!(decode_uri_path(&encode_uri_path(path)), path);
        }
        assert_eq!(decode_uri_path("bad%zzescape%4"), "bad%zzescape%4");
    }
}
