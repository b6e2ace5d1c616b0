//! SARIF both ways: our reports as SARIF 2.1.0 (validated against the official schema, vendored
//! in tests/fixtures), and the `sarif` detector importing logs shaped like those of eslint,
//! semgrep, gitleaks, clippy and oxlint.

use detectors::{format_sarif, to_sarif, Category, Engine, Finding, Report, RunOptions, Severity};
use serde_json::Value;
use std::fs;
use std::path::Path;

fn write(root: &Path, relative: &str, content: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn run(root: &Path, detectors: &[&str]) -> Report {
    let names: Vec<String> = detectors.iter().map(|name| (*name).to_owned()).collect();
    Engine::default()
        .run(root, &names, &RunOptions::default())
        .unwrap()
}

fn schema_errors(log: &Value) -> Vec<String> {
    let mut schema: Value = serde_json::from_str(&fixture("sarif-schema-2.1.0.json")).unwrap();
    // The `language` patterns (of `run` and `toolComponent`) have a stray `]`: a literal in
    // ECMAScript regexes, an error for the meta-schema's `regex` format check. Escaping it keeps
    // its meaning.
    for owner in ["run", "toolComponent"] {
        let pattern = &mut schema["definitions"][owner]["properties"]["language"]["pattern"];
        assert_eq!(pattern, "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$");
        *pattern = Value::from("^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$");
    }
    let validator = jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the vendored schema compiles");
    validator
        .iter_errors(log)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect()
}

fn validate_against_schema(log: &Value) {
    let errors = schema_errors(log);
    assert!(errors.is_empty(), "SARIF schema violations: {errors:#?}");
}

#[test]
fn the_schema_check_rejects_broken_logs() {
    let dir = project_with_problems();
    let mut log = to_sarif(&run(dir.path(), &["eslint"]));
    log["runs"][0]["results"][0]["level"] = Value::from("fatal");
    log["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    log["runs"][0]["tool"]["driver"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let errors = schema_errors(&log);
    assert!(errors.len() >= 3, "{errors:#?}");
}

/// A folder with findings from several detectors, including a path that needs URI escaping.
fn project_with_problems() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "src/app.js",
        "var a = 1;\nif (a == 2) { debugger; }\neval(location.hash);\n",
    );
    write(root, "src/with space/b#1.ts", "debugger;\n");
    dir
}

fn findings<'r>(report: &'r Report, rule: &str) -> Vec<&'r Finding> {
    report
        .findings
        .iter()
        .filter(|finding| finding.rule_id == rule)
        .collect()
}

#[test]
fn sarif_output_of_a_real_run_validates_against_the_official_schema() {
    let dir = project_with_problems();
    let report = run(dir.path(), &["eslint", "security", "runtime"]);
    assert!(report.findings.len() >= 4, "{:#?}", report.findings);
    let log = to_sarif(&report);
    validate_against_schema(&log);
    // The text the CLI prints is the same document.
    let printed: Value = serde_json::from_str(&format_sarif(&report)).unwrap();
    assert_eq!(printed, log);
}

#[test]
fn an_empty_report_is_valid_sarif_too() {
    let dir = tempfile::tempdir().unwrap();
    let log = to_sarif(&run(dir.path(), &["eslint"]));
    validate_against_schema(&log);
    assert_eq!(log["runs"][0]["results"], Value::Array(vec![]));
}

#[test]
fn sarif_output_has_the_required_structure() {
    let dir = project_with_problems();
    let report = run(dir.path(), &["eslint", "security"]);
    let log = to_sarif(&report);
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().starts_with("https://"));
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "insight");
    let rules = driver["rules"].as_array().unwrap();
    let rule_ids: Vec<&str> = rules
        .iter()
        .map(|rule| rule["id"].as_str().unwrap())
        .collect();
    let mut unique = rule_ids.clone();
    unique.dedup();
    assert_eq!(unique, rule_ids, "rule ids are sorted and unique");
    for rule in rules {
        assert!(rule["shortDescription"]["text"].is_string());
        assert!(["error", "warning", "note"]
            .contains(&rule["defaultConfiguration"]["level"].as_str().unwrap()));
    }
    let results = runs[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), report.findings.len());
    for (result, finding) in results.iter().zip(&report.findings) {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(
            result["ruleId"],
            format!("{}/{}", finding.detector, finding.rule_id)
        );
        let expected_level = match finding.severity {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        };
        assert_eq!(result["level"], expected_level);
        assert_eq!(result["message"]["text"], finding.message.as_str());
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], finding.line);
        assert_eq!(region["startColumn"], finding.column);
        assert_eq!(region["endLine"], finding.end_line);
        assert_eq!(region["endColumn"], finding.end_column);
        assert_eq!(
            result["partialFingerprints"]["insight/v1"],
            finding.fingerprint.as_str()
        );
        assert_eq!(result["properties"]["severity"], finding.severity.as_str());
        assert_eq!(result["properties"]["category"], finding.category.as_str());
        assert!(result["properties"]["confidence"].is_number());
    }
    let uris: Vec<&str> = results
        .iter()
        .map(|result| {
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(uris.contains(&"src/with%20space/b%231.ts"), "{uris:?}");
}

/// The sources the fixture logs point at, with the flagged code on the flagged lines.
fn project_with_logs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "src/index.js",
        "const unused = 1;\nfunction f() {\n  debugger;\n  debugger; // eslint-disable-line\n}\n",
    );
    write(
        root,
        "app/views.py",
        "import subprocess\nfrom os import *\ndef run(cmd):\n    # run it\n    subprocess.call(cmd, shell=True)\n",
    );
    write(
        root,
        "config/settings.py",
        "DEBUG = False\nAWS_ACCESS_KEY_ID = \"placeholder-for-a-key\"\n",
    );
    write(
        root,
        "src/lib.rs",
        "pub fn first(v: &[u8]) -> u8 {\n    let x = v.first();\n    *x.iter().next().unwrap()\n}\npub fn f(x: u8) -> bool {\n    x <= 0\n}\n",
    );
    write(
        root,
        "web/app.ts",
        "export function g(x: number) {\n  debugger;\n  if (x > 5 && x > 10) { return 1; }\n}\n",
    );
    for name in [
        "eslint.sarif",
        "semgrep.sarif",
        "gitleaks.sarif",
        "clippy.sarif",
        "oxlint.sarif.json",
    ] {
        write(
            root,
            &format!("reports/{name}"),
            &fixture(&format!("sarif/{name}")),
        );
    }
    dir
}

#[test]
fn eslint_results_are_imported_with_their_locations_and_suppressions_honoured() {
    let dir = project_with_logs();
    let report = run(dir.path(), &["sarif"]);
    let unused = findings(&report, "eslint/no-unused-vars");
    assert_eq!(unused.len(), 1);
    let unused = unused[0];
    assert_eq!(unused.detector, "sarif");
    assert_eq!(unused.file_path, "src/index.js");
    assert_eq!((unused.line, unused.column, unused.end_column), (1, 7, 13));
    assert_eq!(unused.severity, Severity::Medium);
    assert_eq!(
        unused.message,
        "'unused' is assigned a value but never used."
    );
    assert_eq!(unused.snippet.as_deref(), Some("const unused = 1;"));
    // The second debugger is suppressed in source: only one remains, found through artifacts[0].
    let debuggers = findings(&report, "eslint/no-debugger");
    assert_eq!(debuggers.len(), 1);
    assert_eq!(debuggers[0].line, 3);
    assert_eq!(debuggers[0].severity, Severity::High);
    assert_eq!(debuggers[0].category, Category::Correctness);
    assert_eq!(debuggers[0].fingerprint.len(), 32);
}

#[test]
fn semgrep_security_severity_and_precision_decide_severity_and_confidence() {
    let dir = project_with_logs();
    let report = run(dir.path(), &["sarif"]);
    let shell = findings(
        &report,
        "semgrep-oss/python.lang.security.audit.subprocess-shell-true.subprocess-shell-true",
    );
    assert_eq!(shell.len(), 1);
    let shell = shell[0];
    assert_eq!(shell.file_path, "app/views.py");
    assert_eq!((shell.line, shell.column), (5, 5));
    assert_eq!(shell.severity, Severity::High);
    assert_eq!(shell.category, Category::Security);
    assert!((shell.confidence - 0.95).abs() < 1e-6);
    assert_eq!(
        shell.suggestion.as_deref(),
        Some("Use 'shell=False' and pass the arguments as a list.")
    );
    let star = findings(
        &report,
        "semgrep-oss/python.lang.maintainability.star-import",
    );
    assert_eq!(star[0].severity, Severity::Low);
    assert_eq!(star[0].category, Category::Style);
}

#[test]
fn gitleaks_results_are_high_severity_secrets_with_redacted_snippets() {
    let dir = project_with_logs();
    let report = run(dir.path(), &["sarif"]);
    let leaks = findings(&report, "gitleaks/aws-access-token");
    assert_eq!(leaks.len(), 1);
    assert_eq!(leaks[0].file_path, "config/settings.py");
    assert_eq!(leaks[0].line, 2);
    assert_eq!(leaks[0].severity, Severity::High);
    assert_eq!(leaks[0].category, Category::Secrets);
}

#[test]
fn clippy_and_oxlint_results_keep_their_levels_tags_and_fixes() {
    let dir = project_with_logs();
    let report = run(dir.path(), &["sarif"]);
    let unwrap = findings(&report, "clippy/clippy::unwrap_used");
    assert_eq!(unwrap.len(), 1);
    assert_eq!(
        (unwrap[0].file_path.as_str(), unwrap[0].line),
        ("src/lib.rs", 3)
    );
    assert_eq!(unwrap[0].severity, Severity::Medium);
    assert_eq!(unwrap[0].category, Category::Suspicious);
    let absurd = findings(&report, "clippy/clippy::absurd_extreme_comparisons");
    assert_eq!(absurd[0].severity, Severity::High);
    assert_eq!(absurd[0].category, Category::Correctness);

    let debugger = findings(&report, "oxlint/eslint(no-debugger)");
    assert_eq!(debugger.len(), 1, "the `pass` result is not a finding");
    assert!(debugger[0].auto_fixable);
    assert_eq!(debugger[0].category, Category::Correctness);
    assert_eq!(debugger[0].severity, Severity::Medium);
    // No level on the result: the rule's default configuration decides.
    let comparison = findings(&report, "oxlint/oxc(const-comparisons)");
    assert_eq!(comparison[0].severity, Severity::High);
    assert_eq!(comparison[0].file_path, "web/app.ts");
}

#[test]
fn a_folder_without_logs_gives_no_findings() {
    let dir = project_with_logs();
    fs::remove_dir_all(dir.path().join("reports")).unwrap();
    write(dir.path(), "reports/notes.json", "{\"runs\": 1}\n");
    assert!(run(dir.path(), &["sarif"]).findings.is_empty());
}

#[test]
fn files_that_are_not_sarif_2_1_0_are_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broken.sarif", "{\n  \"runs\": [\n    {,\n");
    write(
        dir.path(),
        "old.sarif",
        "{\"version\": \"1.0.0\", \"runs\": []}\n",
    );
    write(dir.path(), "other.sarif.json", "{\"results\": []}\n");
    let report = run(dir.path(), &["sarif"]);
    let invalid: Vec<(&str, u32)> = report
        .findings
        .iter()
        .map(|finding| {
            assert_eq!(finding.rule_id, "invalid-sarif");
            (finding.file_path.as_str(), finding.line)
        })
        .collect();
    assert_eq!(
        invalid,
        vec![
            ("broken.sarif", 3),
            ("old.sarif", 1),
            ("other.sarif.json", 1)
        ]
    );
}

#[test]
fn our_own_sarif_output_imports_back_into_the_same_findings() {
    let dir = project_with_problems();
    let original = run(dir.path(), &["eslint"]);
    assert!(!original.findings.is_empty());
    write(dir.path(), "insight.sarif", &format_sarif(&original));
    let imported = run(dir.path(), &["sarif"]);
    assert_eq!(imported.findings.len(), original.findings.len());
    for (back, first) in imported.findings.iter().zip(&original.findings) {
        assert_eq!(back.file_path, first.file_path);
        assert_eq!(
            (back.line, back.column, back.end_line, back.end_column),
            (first.line, first.column, first.end_line, first.end_column)
        );
        assert_eq!(
            back.rule_id,
            format!("insight/{}/{}", first.detector, first.rule_id)
        );
        assert_eq!(back.message, first.message);
        assert_eq!(back.severity, first.severity);
        assert_eq!(back.category, first.category);
    }
}
