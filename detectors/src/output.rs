//! A [`Report`] as text for people and tools: a table for terminals, JSON (the report itself,
//! camelCase like the REST API) and SARIF 2.1.0 (see [`crate::sarif`]).

use crate::engine::Report;
use crate::finding::Severity;
use crate::sarif::to_sarif;
use std::fmt::Write as _;

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// One line per finding (`SEVERITY  path:line:col  detector/rule  message`), aligned, then one
/// summary line per severity, a total, and one `note:` line per detector note.
pub fn format_table(report: &Report) -> String {
    let rows: Vec<(&str, String, String, &str)> = report
        .findings
        .iter()
        .map(|finding| {
            (
                finding.severity.as_str(),
                format!("{}:{}:{}", finding.file_path, finding.line, finding.column),
                format!("{}/{}", finding.detector, finding.rule_id),
                // A message is one line in a table, whatever its source wrote.
                finding.message.lines().next().unwrap_or(""),
            )
        })
        .collect();
    let location_width = rows.iter().map(|row| row.1.chars().count()).max();
    let rule_width = rows.iter().map(|row| row.2.chars().count()).max();

    let mut out = String::new();
    for (severity, location, rule, message) in &rows {
        let _ = writeln!(
            out,
            "{severity:<8}  {location:<lw$}  {rule:<rw$}  {message}",
            lw = location_width.unwrap_or(0),
            rw = rule_width.unwrap_or(0),
        );
    }
    if !rows.is_empty() {
        out.push('\n');
    }
    for severity in SEVERITIES {
        let count = report
            .findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .count();
        let _ = writeln!(out, "{:<8}  {count}", severity.as_str());
    }
    let total = report.findings.len();
    let _ = writeln!(
        out,
        "{total} finding{} in {} file{} ({} analysed)",
        if total == 1 { "" } else { "s" },
        distinct_files(report),
        if distinct_files(report) == 1 { "" } else { "s" },
        report.stats.files_analyzed,
    );
    for note in &report.notes {
        let _ = writeln!(out, "note: {}: {}", note.detector, note.message);
    }
    out
}

fn distinct_files(report: &Report) -> usize {
    let mut paths: Vec<&str> = report
        .findings
        .iter()
        .map(|finding| finding.file_path.as_str())
        .collect();
    paths.dedup();
    // Findings are sorted by path, so `dedup` leaves each path once.
    paths.len()
}

/// The report as pretty-printed JSON (`findings`, `detectorsRun`,
/// `stats`), ending with a newline.
pub fn format_json(report: &Report) -> String {
    let mut json = serde_json::to_string_pretty(report).expect("a report always serializes");
    json.push('\n');
    json
}

/// The report as a pretty-printed SARIF 2.1.0 log, ending with a newline.
pub fn format_sarif(report: &Report) -> String {
    let mut json = serde_json::to_string_pretty(&to_sarif(report)).expect("JSON values serialize");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RunStats;
    use crate::finding::{Category, Finding};

    fn finding(path: &str, line: u32, severity: Severity, rule: &str, message: &str) -> Finding {
        Finding {
            file_path: path.into(),
            line,
            column: 2,
            end_line: line,
            end_column: 9,
            severity,
            detector: "eslint".into(),
            rule_id: rule.into(),
            category: Category::Suspicious,
            message: message.into(),
            suggestion: None,
            auto_fixable: false,
            confidence: 1.0,
            snippet: None,
            fingerprint: "abc".into(),
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            findings,
            detectors_run: vec!["eslint".into()],
            notes: Vec::new(),
            stats: RunStats {
                files_analyzed: 4,
                ..RunStats::default()
            },
        }
    }

    #[test]
    fn the_table_has_one_aligned_line_per_finding_and_a_summary_per_severity() {
        let table = format_table(&report(vec![
            finding(
                "a.js",
                1,
                Severity::High,
                "no-debugger",
                "Unexpected debugger",
            ),
            finding(
                "src/long/b.js",
                120,
                Severity::Low,
                "no-var",
                "Unexpected var\nsecond line",
            ),
        ]));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "HIGH      a.js:1:2             eslint/no-debugger  Unexpected debugger"
        );
        assert_eq!(
            lines[1],
            "LOW       src/long/b.js:120:2  eslint/no-var       Unexpected var"
        );
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], "CRITICAL  0");
        assert_eq!(lines[4], "HIGH      1");
        assert_eq!(lines[6], "LOW       1");
        assert_eq!(lines[7], "INFO      0");
        assert_eq!(lines[8], "2 findings in 2 files (4 analysed)");
    }

    #[test]
    fn an_empty_report_prints_only_the_summary() {
        let table = format_table(&report(vec![]));
        assert!(table.starts_with("CRITICAL  0\n"));
        assert!(table.ends_with("0 findings in 0 files (4 analysed)\n"));
    }

    #[test]
    fn detector_notes_follow_the_summary_in_every_format() {
        let mut report = report(vec![]);
        report.notes.push(crate::DetectorNote {
            detector: "oxlint".into(),
            message: "skipped: oxlint is not installed".into(),
        });
        assert!(format_table(&report)
            .ends_with("(4 analysed)\nnote: oxlint: skipped: oxlint is not installed\n"));
        let json: serde_json::Value = serde_json::from_str(&format_json(&report)).unwrap();
        assert_eq!(json["notes"][0]["detector"], "oxlint");
        let sarif: serde_json::Value = serde_json::from_str(&format_sarif(&report)).unwrap();
        assert_eq!(
            sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"],
            "oxlint: skipped: oxlint is not installed"
        );
    }

    #[test]
    fn json_and_sarif_are_parseable_documents() {
        let report = report(vec![finding("a.js", 1, Severity::Medium, "eqeqeq", "m")]);
        let json: serde_json::Value = serde_json::from_str(&format_json(&report)).unwrap();
        assert_eq!(json["findings"][0]["ruleId"], "eqeqeq");
        assert_eq!(json["stats"]["filesAnalyzed"], 4);
        let sarif: serde_json::Value = serde_json::from_str(&format_sarif(&report)).unwrap();
        assert_eq!(sarif["runs"][0]["results"][0]["level"], "warning");
    }
}
