//! `sarif`: findings produced elsewhere (eslint, semgrep, gitleaks, clippy, oxlint, CodeQL...)
//! read from the SARIF 2.1.0 logs (`*.sarif`, `*.sarif.json`) found in the analysed folder and
//! mapped into ours, so their results can be submitted with an analysis.
//!
//! Mapping:
//! - rule id: `tool/ruleId`, the tool named by `tool.driver.name` lowercased
//!   (`semgrep-oss/python.lang...`, `gitleaks/aws-access-token`); the detector is `sarif`.
//! - severity: a `security-severity` score (result or rule properties, as GitHub reads it) wins:
//!   9.0 and over CRITICAL, 7.0 HIGH, 4.0 MEDIUM, above 0 LOW, 0 INFO. Otherwise the level
//!   (result, else the rule's `defaultConfiguration`, else SARIF's default `warning`): error HIGH,
//!   warning MEDIUM, note LOW, none INFO; a `severity` property naming one of ours (as our own
//!   SARIF output writes it) comes before the level. Secret scanners' results without a level
//!   are HIGH.
//! - category: secrets for secret scanners or `secret` tags, security for a security-severity,
//!   `security` or CWE tags, else from tags (performance, complexity, style, correctness), else
//!   correctness for errors and suspicious for the rest.
//! - location: the first physical location; `file://` URIs, `uriBaseId`s and `artifacts[]` index
//!   references are resolved, and absolute paths from another machine are matched to the
//!   analysed folder by their longest existing suffix.
//! - skipped: results of kind `pass`/`notApplicable`, suppressed results (a suppression that is
//!   not `rejected` or `underReview`), and results whose `baselineState` is `absent`.
//!
//! Logs are read as walked files, so the walk's rules apply (a log over the size bound or in a
//! git-ignored folder is not read). A file that is not valid SARIF 2.1.0 gets an `invalid-sarif`
//! finding of its own.

use crate::detector::{Detector, Needs, ProjectFacts, ProjectSink, Rule, TextRange};
use crate::finding::{Category, Severity};
use crate::sarif::decode_uri_path;
use crate::source::LineIndex;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Every imported result starts from this rule; id, severity and category come from the log.
pub const IMPORTED_RESULT: Rule =
    Rule::new("sarif-result", Category::Suspicious, Severity::Medium).confidence(0.8);
pub const INVALID_SARIF: Rule = Rule::new("invalid-sarif", Category::Syntax, Severity::Low)
    .confidence(1.0)
    .suggest("Regenerate the file with a tool that writes SARIF 2.1.0, or remove it.");

/// Tools whose every result is a committed credential.
const SECRET_SCANNERS: &[&str] = &[
    "gitleaks",
    "trufflehog",
    "kingfisher",
    "detect-secrets",
    "secretlint",
    "ggshield",
];

pub struct SarifDetector;

impl Detector for SarifDetector {
    fn name(&self) -> &'static str {
        "sarif"
    }

    fn description(&self) -> &'static str {
        "Findings imported from SARIF 2.1.0 logs (*.sarif, *.sarif.json) in the analysed folder"
    }

    fn needs(&self) -> Needs {
        Needs {
            files: true,
            ..Needs::default()
        }
    }

    fn check_project(&self, project: &ProjectFacts<'_>, out: &mut ProjectSink) {
        for file in project
            .files
            .iter()
            .filter(|file| is_sarif_name(&file.path))
        {
            let Ok(text) = std::fs::read_to_string(project.root.join(&file.path)) else {
                continue;
            };
            import_log(project.root, &file.path, &text, out);
        }
    }
}

/// `*.sarif` or `*.sarif.json`, in any case.
pub fn is_sarif_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    name.ends_with(".sarif") || name.ends_with(".sarif.json")
}

/// Reports every result of the SARIF log `text` (the file `sarif_path` under `root`).
pub fn import_log(root: &Path, sarif_path: &str, text: &str, out: &mut ProjectSink) {
    let lines = LineIndex::new(text);
    let invalid = |out: &mut ProjectSink, line: u32, column: u32, message: String| {
        let range = TextRange {
            line,
            column,
            end_line: line,
            end_column: column,
        };
        out.report_at(
            &INVALID_SARIF,
            sarif_path,
            range,
            lines.line_text(text, line),
            message,
        );
    };
    let log: Value = match serde_json::from_str(text) {
        Ok(log) => log,
        Err(error) => {
            let line = u32::try_from(error.line()).unwrap_or(1).max(1);
            let column = u32::try_from(error.column()).unwrap_or(1).max(1);
            invalid(out, line, column, format!("Not valid JSON: {error}"));
            return;
        }
    };
    let runs = match sarif_runs(&log) {
        Ok(runs) => runs,
        Err(message) => {
            invalid(out, 1, 1, message);
            return;
        }
    };
    let mut files = FileCache::default();
    for run in runs {
        import_run(root, sarif_path, run, &mut files, out);
    }
}

/// Reports every result of a SARIF log an outside tool wrote on its standard output while
/// analysing `root` (`oxlint --format=sarif`, `semgrep --sarif`). Results without a location
/// are placed at `fallback_path`. A log that is not SARIF 2.1.0 is an error, for the caller to
/// note: it is the tool's fault, not the project's.
pub fn import_tool_output(
    root: &Path,
    fallback_path: &str,
    text: &str,
    out: &mut ProjectSink,
) -> Result<(), String> {
    let log: Value =
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?;
    let runs = sarif_runs(&log)?;
    let mut files = FileCache::default();
    for run in runs {
        import_run(root, fallback_path, run, &mut files, out);
    }
    Ok(())
}

/// The runs of a SARIF 2.1.0 log (a log without a version is read as 2.1.0).
fn sarif_runs(log: &Value) -> Result<&[Value], String> {
    let Some(runs) = log.get("runs").and_then(Value::as_array) else {
        return Err("Not a SARIF log: no `runs` array".to_owned());
    };
    match log.get("version").and_then(Value::as_str) {
        Some("2.1.0") | None => Ok(runs),
        Some(other) => Err(format!(
            "SARIF version {other} is not supported (only 2.1.0)"
        )),
    }
}

/// The text of the files results point at, read once each.
#[derive(Default)]
struct FileCache {
    texts: HashMap<String, Option<String>>,
}

impl FileCache {
    fn get(&mut self, root: &Path, path: &str) -> Option<&str> {
        self.texts
            .entry(path.to_owned())
            .or_insert_with(|| std::fs::read_to_string(root.join(path)).ok())
            .as_deref()
    }
}

fn import_run(
    root: &Path,
    sarif_path: &str,
    run: &Value,
    files: &mut FileCache,
    out: &mut ProjectSink,
) {
    let driver = &run["tool"]["driver"];
    let tool = driver["name"].as_str().unwrap_or("unknown");
    let tool_key = tool_slug(tool);
    let extensions: &[Value] = run["tool"]["extensions"]
        .as_array()
        .map_or(&[], Vec::as_slice);
    let Some(results) = run["results"].as_array() else {
        return;
    };
    for result in results {
        if is_skipped(result) {
            continue;
        }
        let rule = rule_for(result, driver, extensions);
        let raw_rule_id = result["ruleId"]
            .as_str()
            .or_else(|| result["rule"]["id"].as_str())
            .or_else(|| rule.and_then(|rule| rule["id"].as_str()))
            .unwrap_or("result");
        let null = Value::Null;
        let rule_value = rule.unwrap_or(&null);

        let score = security_severity(&result["properties"])
            .or_else(|| security_severity(&rule_value["properties"]));
        let level = result["level"]
            .as_str()
            .or_else(|| rule_value["defaultConfiguration"]["level"].as_str());
        let is_secret_scanner = SECRET_SCANNERS.iter().any(|name| tool_key.contains(name));
        let named = named_severity(&result["properties"]["severity"]);
        let severity = match (score, level) {
            (Some(score), _) => severity_from_score(score),
            (None, _) if named.is_some() => named.unwrap_or(Severity::Medium),
            (None, Some(level)) => severity_from_level(level),
            (None, None) if result["kind"].as_str() == Some("informational") => Severity::Info,
            (None, None) if is_secret_scanner => Severity::High,
            (None, None) => severity_from_level("warning"),
        };
        let category = category_of(
            is_secret_scanner,
            score.is_some(),
            &tags(result, rule_value),
            level == Some("error"),
        );
        let message = message_text(&result["message"], rule_value, driver)
            .unwrap_or_else(|| format!("{tool} reported {raw_rule_id}"));
        let (path, range, line_text) = location(root, sarif_path, run, result, files);

        let finding = out.report_at(&IMPORTED_RESULT, &path, range, &line_text, message);
        finding.rule_id = format!("{tool_key}/{raw_rule_id}");
        finding.severity = severity;
        finding.category = category;
        finding.confidence = confidence(result, rule_value);
        finding.suggestion = rule_value["help"]["text"]
            .as_str()
            .or_else(|| result["fixes"][0]["description"]["text"].as_str())
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        finding.auto_fixable = result["fixes"]
            .as_array()
            .is_some_and(|fixes| !fixes.is_empty());
    }
}

/// `Semgrep OSS` → `semgrep-oss`.
fn tool_slug(tool: &str) -> String {
    let slug: String = tool
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() {
        "unknown".to_owned()
    } else {
        slug
    }
}

fn is_skipped(result: &Value) -> bool {
    if matches!(result["kind"].as_str(), Some("pass" | "notApplicable")) {
        return true;
    }
    if result["baselineState"].as_str() == Some("absent") {
        return true;
    }
    result["suppressions"]
        .as_array()
        .is_some_and(|suppressions| {
            suppressions.iter().any(|suppression| {
                // A suppression without a status is accepted.
                !matches!(
                    suppression["status"].as_str(),
                    Some("rejected" | "underReview")
                )
            })
        })
}

/// The rule descriptor a result refers to: by index (in the driver or the extension its
/// `rule.toolComponent` names), else by id in the driver and then every extension.
fn rule_for<'r>(result: &Value, driver: &'r Value, extensions: &'r [Value]) -> Option<&'r Value> {
    let component = result["rule"]["toolComponent"]["index"]
        .as_u64()
        .and_then(|index| extensions.get(usize::try_from(index).ok()?))
        .unwrap_or(driver);
    let index = result["ruleIndex"]
        .as_u64()
        .or_else(|| result["rule"]["index"].as_u64());
    if let Some(index) = index {
        if let Some(rule) = component["rules"].get(usize::try_from(index).ok()?) {
            return Some(rule);
        }
    }
    let id = result["ruleId"]
        .as_str()
        .or_else(|| result["rule"]["id"].as_str())?;
    std::iter::once(component)
        .chain(std::iter::once(driver))
        .chain(extensions.iter())
        .filter_map(|component| component["rules"].as_array())
        .flatten()
        .find(|rule| rule["id"].as_str() == Some(id))
}

/// A `security-severity` property, as a number or a numeric string.
fn security_severity(properties: &Value) -> Option<f64> {
    match &properties["security-severity"] {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// GitHub's reading of a CVSS-like score.
pub fn severity_from_score(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Info
    }
}

/// A severity named in a result's properties (`"HIGH"`, `"moderate"`...), as our own logs and
/// several scanners write it.
fn named_severity(value: &Value) -> Option<Severity> {
    match value.as_str()?.trim().to_ascii_uppercase().as_str() {
        "CRITICAL" => Some(Severity::Critical),
        "HIGH" => Some(Severity::High),
        "MEDIUM" | "MODERATE" => Some(Severity::Medium),
        "LOW" => Some(Severity::Low),
        "INFO" | "INFORMATIONAL" => Some(Severity::Info),
        _ => None,
    }
}

pub fn severity_from_level(level: &str) -> Severity {
    match level {
        "error" => Severity::High,
        "note" => Severity::Low,
        "none" => Severity::Info,
        _ => Severity::Medium,
    }
}

/// The lower-cased tags of the result and its rule.
fn tags(result: &Value, rule: &Value) -> Vec<String> {
    [&result["properties"]["tags"], &rule["properties"]["tags"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_ascii_lowercase)
        .collect()
}

fn category_of(
    secret_scanner: bool,
    has_security_severity: bool,
    tags: &[String],
    is_error: bool,
) -> Category {
    let tagged = |words: &[&str]| {
        tags.iter()
            .any(|tag| words.iter().any(|word| tag == word || tag.contains(word)))
    };
    if secret_scanner || tagged(&["secret"]) {
        Category::Secrets
    } else if has_security_severity || tagged(&["security", "cwe-", "cwe/", "owasp"]) {
        Category::Security
    } else if tagged(&["performance"]) {
        Category::Performance
    } else if tagged(&["complexity"]) {
        Category::Complexity
    } else if tagged(&["style", "maintainability"]) {
        Category::Style
    } else if tagged(&["correctness", "reliability", "bug"]) || is_error {
        Category::Correctness
    } else {
        Category::Suspicious
    }
}

/// `rank` (0–100) or CodeQL's `precision` property, else the default.
fn confidence(result: &Value, rule: &Value) -> f32 {
    if let Some(rank) = result["rank"].as_f64().filter(|rank| *rank >= 0.0) {
        return (rank / 100.0).clamp(0.0, 1.0) as f32;
    }
    match rule["properties"]["precision"].as_str() {
        Some("very-high") => 0.95,
        Some("high") => 0.85,
        Some("medium") => 0.6,
        Some("low") => 0.4,
        _ => IMPORTED_RESULT.confidence,
    }
}

/// The message's text (or markdown), or the message string it names by `id`, with `{N}`
/// placeholders replaced by its arguments.
fn message_text(message: &Value, rule: &Value, driver: &Value) -> Option<String> {
    let template = message["text"]
        .as_str()
        .or_else(|| message["markdown"].as_str())
        .or_else(|| {
            let id = message["id"].as_str()?;
            rule["messageStrings"][id]["text"]
                .as_str()
                .or_else(|| driver["globalMessageStrings"][id]["text"].as_str())
        })
        .or_else(|| rule["shortDescription"]["text"].as_str())?;
    let mut text = template.to_owned();
    if let Some(arguments) = message["arguments"].as_array() {
        for (index, argument) in arguments.iter().enumerate() {
            if let Some(argument) = argument.as_str() {
                text = text.replace(&format!("{{{index}}}"), argument);
            }
        }
    }
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Where a result points: a project-relative path, its range and the text of its first line.
/// A result without a physical location is placed at the top of the SARIF file itself.
fn location(
    root: &Path,
    sarif_path: &str,
    run: &Value,
    result: &Value,
    files: &mut FileCache,
) -> (String, TextRange, String) {
    let physical = &result["locations"][0]["physicalLocation"];
    let artifact = &physical["artifactLocation"];
    let indexed = artifact["index"]
        .as_u64()
        .and_then(|index| run["artifacts"].get(usize::try_from(index).ok()?))
        .map(|artifact| &artifact["location"]);
    let uri = artifact["uri"]
        .as_str()
        .or_else(|| indexed.and_then(|location| location["uri"].as_str()));
    let Some(uri) = uri else {
        let range = TextRange {
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
        };
        return (sarif_path.to_owned(), range, String::new());
    };
    let base_id = artifact["uriBaseId"]
        .as_str()
        .or_else(|| indexed.and_then(|location| location["uriBaseId"].as_str()));
    let path = resolve_path(root, sarif_path, uri, base_id, &run["originalUriBaseIds"]);

    let region = &physical["region"];
    let text = files.get(root, &path);
    let (mut line, mut column) = (
        region["startLine"].as_u64().unwrap_or(1),
        region["startColumn"].as_u64().unwrap_or(1),
    );
    if region["startLine"].is_null() {
        // A region given only as a character offset (allowed by SARIF for text files).
        if let (Some(offset), Some(text)) = (region["charOffset"].as_u64(), text) {
            let lines = LineIndex::new(text);
            let byte = text
                .char_indices()
                .nth(usize::try_from(offset).unwrap_or(usize::MAX))
                .map_or(text.len(), |(byte, _)| byte);
            let (found_line, found_column) = lines.line_column(text, byte);
            line = u64::from(found_line);
            column = u64::from(found_column);
        }
    }
    let line_text = text
        .and_then(|text| {
            text.lines()
                .nth(usize::try_from(line.saturating_sub(1)).ok()?)
                .map(|line| line.trim_end_matches('\r').to_owned())
        })
        .or_else(|| {
            region["snippet"]["text"]
                .as_str()
                .and_then(|snippet| snippet.lines().next())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let end_line = region["endLine"].as_u64().unwrap_or(line).max(line);
    // A missing endColumn means "to the end of the line".
    let end_column = region["endColumn"].as_u64().unwrap_or_else(|| {
        if end_line == line {
            line_text.chars().count() as u64 + 1
        } else {
            1
        }
    });
    let to_u32 = |value: u64| u32::try_from(value).unwrap_or(u32::MAX);
    let range = TextRange {
        line: to_u32(line),
        column: to_u32(column),
        end_line: to_u32(end_line),
        end_column: to_u32(end_column),
    };
    (path, range, line_text)
}

/// Turns a result's URI into a path relative to `root`, `/`-separated.
fn resolve_path(
    root: &Path,
    sarif_path: &str,
    uri: &str,
    base_id: Option<&str>,
    base_ids: &Value,
) -> String {
    let mut uri = uri.to_owned();
    let mut base_id = base_id.map(str::to_owned);
    // uriBaseIds may chain (a base given relative to another); a few steps are plenty.
    for _ in 0..4 {
        let Some(id) = base_id.take() else { break };
        let base = &base_ids[id.as_str()];
        if let Some(base_uri) = base["uri"].as_str() {
            if !is_absolute_uri(&uri) {
                let separator = if base_uri.ends_with('/') { "" } else { "/" };
                uri = format!("{base_uri}{separator}{uri}");
            }
        }
        base_id = base["uriBaseId"].as_str().map(str::to_owned);
    }
    let decoded = decode_uri_path(&uri).replace('\\', "/");
    let path = decoded
        .strip_prefix("file://")
        .map(|rest| {
            // file:///abs or file://host/abs
            if rest.starts_with('/') {
                rest.to_owned()
            } else {
                rest.find('/')
                    .map_or(rest.to_owned(), |slash| rest[slash..].to_owned())
            }
        })
        .unwrap_or(decoded);
    // file:///C:/work/x → C:/work/x
    let path = match path.as_bytes() {
        [b'/', drive, b':', ..] if drive.is_ascii_alphabetic() => path[1..].to_owned(),
        _ => path,
    };
    let is_absolute = path.starts_with('/') || path.as_bytes().get(1) == Some(&b':');
    if is_absolute {
        if let Some(relative) = root
            .to_str()
            .and_then(|root| path.strip_prefix(root.trim_end_matches('/')))
            .and_then(|rest| rest.strip_prefix('/'))
        {
            return normalize(relative);
        }
        // Written on another machine: the longest suffix that names a file here.
        let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        for start in 1..parts.len() {
            let candidate = parts[start..].join("/");
            if root.join(&candidate).is_file() {
                return candidate;
            }
        }
        return normalize(path.trim_start_matches('/'));
    }
    let relative = normalize(&path);
    if root.join(&relative).is_file() {
        return relative;
    }
    // Relative to the log's own folder (a log written inside a sub-project).
    if let Some((folder, _)) = sarif_path.rsplit_once('/') {
        let beside = normalize(&format!("{folder}/{path}"));
        if root.join(&beside).is_file() {
            return beside;
        }
    }
    relative
}

/// A path an outside tool printed (absolute, relative to `root`, or a `file://` URI), relative
/// to `root` with `/` separators.
pub(crate) fn project_path(root: &Path, printed: &str) -> String {
    resolve_path(root, "", printed, None, &Value::Null)
}

fn is_absolute_uri(uri: &str) -> bool {
    uri.starts_with('/') || uri.contains("://")
}

/// Drops `.` segments and resolves `..` segments (never above the start).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sarif_files_are_recognised_by_name() {
        assert!(is_sarif_name("reports/eslint.sarif"));
        assert!(is_sarif_name("semgrep.SARIF.json"));
        assert!(!is_sarif_name("package.json"));
        assert!(!is_sarif_name("sarif/readme.md"));
    }

    #[test]
    fn security_severity_scores_map_like_github() {
        assert_eq!(severity_from_score(9.8), Severity::Critical);
        assert_eq!(severity_from_score(7.0), Severity::High);
        assert_eq!(severity_from_score(5.3), Severity::Medium);
        assert_eq!(severity_from_score(0.1), Severity::Low);
        assert_eq!(severity_from_score(0.0), Severity::Info);
        assert_eq!(
            security_severity(&json!({"security-severity": "8.1"})),
            Some(8.1)
        );
        assert_eq!(
            security_severity(&json!({"security-severity": 4})),
            Some(4.0)
        );
        assert_eq!(security_severity(&json!({"other": 1})), None);
    }

    #[test]
    fn levels_map_to_severities() {
        assert_eq!(severity_from_level("error"), Severity::High);
        assert_eq!(severity_from_level("warning"), Severity::Medium);
        assert_eq!(severity_from_level("note"), Severity::Low);
        assert_eq!(severity_from_level("none"), Severity::Info);
    }

    #[test]
    fn message_strings_are_looked_up_and_filled_in() {
        let rule = json!({"messageStrings": {"default": {"text": "'{0}' is unused in {1}"}}});
        let message = json!({"id": "default", "arguments": ["x", "f"]});
        assert_eq!(
            message_text(&message, &rule, &Value::Null).as_deref(),
            Some("'x' is unused in f")
        );
        assert_eq!(
            message_text(
                &json!({}),
                &json!({"shortDescription": {"text": "d"}}),
                &Value::Null
            )
            .as_deref(),
            Some("d")
        );
    }

    #[test]
    fn suppressed_passing_and_absent_results_are_skipped() {
        assert!(is_skipped(&json!({"kind": "pass"})));
        assert!(is_skipped(&json!({"baselineState": "absent"})));
        assert!(is_skipped(&json!({"suppressions": [{"kind": "inSource"}]})));
        assert!(!is_skipped(
            &json!({"suppressions": [{"kind": "external", "status": "rejected"}]})
        ));
        assert!(!is_skipped(
            &json!({"kind": "fail", "baselineState": "new"})
        ));
    }

    #[test]
    fn uris_resolve_to_project_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/sub")).unwrap();
        std::fs::write(root.join("src/sub/a.js"), "x\n").unwrap();
        std::fs::create_dir_all(root.join("pkg/lib")).unwrap();
        std::fs::write(root.join("pkg/lib/b.rs"), "x\n").unwrap();
        let none = Value::Null;
        assert_eq!(
            resolve_path(root, "r.sarif", "./src/sub/a.js", None, &none),
            "src/sub/a.js"
        );
        assert_eq!(
            resolve_path(
                root,
                "r.sarif",
                "file:///home/runner/work/app/app/src/sub/a.js",
                None,
                &none
            ),
            "src/sub/a.js"
        );
        let inside = format!("file://{}/src/sub/a.js", root.display());
        assert_eq!(
            resolve_path(root, "r.sarif", &inside, None, &none),
            "src/sub/a.js"
        );
        let bases = json!({"SRC": {"uri": "file:///ci/checkout/"}});
        assert_eq!(
            resolve_path(root, "r.sarif", "src/sub/a.js", Some("SRC"), &bases),
            "src/sub/a.js"
        );
        assert_eq!(
            resolve_path(root, "pkg/clippy.sarif", "lib/b.rs", None, &none),
            "pkg/lib/b.rs"
        );
        assert_eq!(
            resolve_path(root, "r.sarif", "src/my%20file.js", None, &none),
            "src/my file.js"
        );
    }
}
