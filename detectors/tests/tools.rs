//! Outside tools (`oxlint`, `eslint-cli`, `tsc`, `semgrep`) end to end: fake executables that
//! print fixed output test the mapping, the notes and the timeout deterministically; the real
//! oxlint and ESLint that `scripts/bench-corpus.sh` installs under `target/bench-tools` are used
//! when present.
#![cfg(unix)]

use detectors::detectors::tools::{Tool, ToolDetector, ToolSettings};
use detectors::{Category, Engine, Registry, Report, RunOptions, Severity};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Writing an executable while another test thread forks can make `exec` fail with "text file
/// busy"; every test that writes or runs executables holds this lock.
static PROCESSES: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    PROCESSES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write(root: &Path, relative: &str, content: &str) -> PathBuf {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    path
}

/// A shell script that prints `stdout` and exits with `code`.
fn fake_tool(folder: &Path, name: &str, stdout: &str, code: i32) -> PathBuf {
    let script = format!("#!/bin/sh\ncat <<'INSIGHT_EOF'\n{stdout}\nINSIGHT_EOF\nexit {code}\n");
    executable(folder, name, &script)
}

fn executable(folder: &Path, name: &str, script: &str) -> PathBuf {
    let path = write(folder, name, script);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn settings(executable: Option<PathBuf>, search_path: Vec<PathBuf>) -> ToolSettings {
    ToolSettings {
        executable,
        search_path,
        project_bin: false,
        timeout: Duration::from_secs(30),
        semgrep_config: None,
    }
}

fn run_tool(root: &Path, tool: Tool, settings: ToolSettings) -> Report {
    let registry = Registry::with_detectors(vec![Arc::new(ToolDetector::new(tool, settings))]);
    Engine::new(registry)
        .run(root, &[tool.name().to_owned()], &RunOptions::default())
        .expect("a tool never fails the analysis")
}

fn notes(report: &Report) -> Vec<String> {
    report
        .notes
        .iter()
        .map(|note| format!("{}: {}", note.detector, note.message))
        .collect()
}

const OXLINT_SARIF: &str = r#"{
  "version": "2.1.0",
  "runs": [{
    "tool": {"driver": {"name": "oxlint", "rules": [{"id": "eslint(no-debugger)"}]}},
    "results": [{
      "ruleId": "eslint(no-debugger)",
      "ruleIndex": 0,
      "level": "warning",
      "message": {"text": "`debugger` statement is not allowed"},
      "locations": [{"physicalLocation": {
        "artifactLocation": {"uri": "src/a.js"},
        "region": {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 10}
      }}]
    }]
  }]
}"#;

#[test]
fn oxlint_sarif_becomes_findings_of_the_oxlint_detector() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    write(project.path(), "src/a.js", "let a = 1;\ndebugger;\n");
    fake_tool(tools.path(), "oxlint", OXLINT_SARIF, 1);

    // Found on the search path, as on PATH.
    let report = run_tool(
        project.path(),
        Tool::Oxlint,
        settings(None, vec![tools.path().to_path_buf()]),
    );

    assert_eq!(notes(&report), Vec::<String>::new());
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let finding = &report.findings[0];
    assert_eq!(finding.detector, "oxlint");
    assert_eq!(finding.rule_id, "oxlint/eslint(no-debugger)");
    assert_eq!(finding.file_path, "src/a.js");
    assert_eq!(
        (finding.line, finding.column, finding.end_column),
        (2, 1, 10)
    );
    assert_eq!(finding.severity, Severity::Medium);
    assert_eq!(finding.snippet.as_deref(), Some("debugger;"));
    assert!(!finding.fingerprint.is_empty());
}

#[test]
fn eslint_json_with_absolute_paths_becomes_relative_findings() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    write(project.path(), "lib/b.js", "if (a == b) {}\nconst = ;\n");
    // ESLint prints absolute paths; the script takes them from its working folder, so this
    // also shows the tool runs in the analysed folder.
    let script = r#"#!/bin/sh
printf '[{"filePath":"%s/lib/b.js","messages":[' "$(pwd -P)"
printf '{"ruleId":"eqeqeq","severity":2,"message":"Expected === and instead saw ==.","line":1,"column":7,"endLine":1,"endColumn":9,"fix":{"range":[6,8],"text":"==="}},'
printf '{"ruleId":null,"fatal":true,"severity":2,"message":"Parsing error: Unexpected token =","line":2,"column":7},'
printf '{"ruleId":null,"severity":1,"message":"File ignored because of a matching ignore pattern."}'
printf ']}]'
exit 1
"#;
    let eslint = executable(tools.path(), "eslint", script);

    let report = run_tool(
        project.path(),
        Tool::EslintCli,
        settings(Some(eslint), vec![]),
    );

    assert_eq!(notes(&report), Vec::<String>::new());
    let found: Vec<(&str, &str, u32, Severity, Category, bool)> = report
        .findings
        .iter()
        .map(|finding| {
            (
                finding.detector.as_str(),
                finding.rule_id.as_str(),
                finding.line,
                finding.severity,
                finding.category,
                finding.auto_fixable,
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "eslint-cli",
                "eslint/eqeqeq",
                1,
                Severity::High,
                Category::Correctness,
                true
            ),
            (
                "eslint-cli",
                "eslint/parse-error",
                2,
                Severity::High,
                Category::Syntax,
                false
            ),
        ]
    );
    assert!(report.findings.iter().all(|f| f.file_path == "lib/b.js"));
}

#[test]
fn tsc_lines_become_findings_and_unlocated_errors_become_notes() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    write(project.path(), "tsconfig.json", "{}\n");
    write(
        project.path(),
        "src/a.ts",
        "const n: number = 1;\nconst s: number = 'x';\n",
    );
    let output = "src/a.ts(2,7): error TS2322: Type 'string' is not assignable to type 'number'.\n  \
                  The expected type comes from here.\n\
                  error TS5096: Option 'allowImportingTsExtensions' can only be used when either 'noEmit' or 'emitDeclarationOnly' is set.\n\
                  src/a.ts(1,7): message TS6133: 'n' is declared but its value is never read.";
    let tsc = fake_tool(tools.path(), "tsc", output, 2);

    let report = run_tool(project.path(), Tool::Tsc, settings(Some(tsc), vec![]));

    let found: Vec<(&str, u32, u32, Severity)> = report
        .findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.line, f.column, f.severity))
        .collect();
    assert_eq!(
        found,
        vec![
            ("tsc/TS6133", 1, 7, Severity::Low),
            ("tsc/TS2322", 2, 7, Severity::High),
        ]
    );
    assert_eq!(
        report.findings[1].message,
        "Type 'string' is not assignable to type 'number'.\nThe expected type comes from here."
    );
    assert_eq!(report.findings[1].detector, "tsc");
    assert_eq!(
        report.findings[1].snippet.as_deref(),
        Some("const s: number = 'x';")
    );
    assert_eq!(notes(&report).len(), 1);
    assert!(notes(&report)[0].starts_with("tsc: tsc: error TS5096: Option"));
}

#[test]
fn tsc_without_a_tsconfig_is_skipped_with_a_note() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    write(project.path(), "a.ts", "export {};\n");
    let tsc = fake_tool(tools.path(), "tsc", "a.ts(1,1): error TS1: never read", 2);

    let report = run_tool(project.path(), Tool::Tsc, settings(Some(tsc), vec![]));

    assert!(report.findings.is_empty());
    assert_eq!(
        notes(&report),
        vec!["tsc: skipped: no tsconfig.json at the root of the project"]
    );
}

#[test]
fn a_tool_that_is_not_installed_gives_a_note_and_no_findings() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    write(project.path(), "a.js", "debugger;\n");

    let report = run_tool(
        project.path(),
        Tool::Oxlint,
        settings(None, vec![empty.path().to_path_buf()]),
    );

    assert!(report.findings.is_empty());
    assert_eq!(report.detectors_run, vec!["oxlint"]);
    assert_eq!(
        notes(&report),
        vec![
            "oxlint: skipped: oxlint is not installed (not on PATH; set INSIGHT_OXLINT to its path)"
        ]
    );
    assert!(
        detectors::format_table(&report).contains("note: oxlint: skipped: oxlint is not installed")
    );
}

#[test]
fn a_configured_path_that_is_not_an_executable_is_reported() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    let not_executable = write(project.path(), "semgrep", "#!/bin/sh\n");

    let report = run_tool(
        project.path(),
        Tool::Semgrep,
        settings(Some(not_executable.clone()), vec![]),
    );

    assert!(report.findings.is_empty());
    assert_eq!(
        notes(&report),
        vec![format!(
            "semgrep: skipped: INSIGHT_SEMGREP names {}, which is not an executable file",
            not_executable.display()
        )]
    );
}

#[test]
fn semgrep_needs_local_rules_and_reads_them_from_the_project() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    write(project.path(), "app.py", "eval(x)\n");
    // Prints its arguments as a SARIF message, so the test sees what it was given.
    let script = r#"#!/bin/sh
printf '{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"Semgrep OSS"}},"results":[{"ruleId":"no-eval","level":"error","message":{"text":"%s"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"app.py"},"region":{"startLine":1,"startColumn":1}}}]}]}]}' "$*"
"#;
    let semgrep = executable(tools.path(), "semgrep", script);

    let without_rules = run_tool(
        project.path(),
        Tool::Semgrep,
        settings(Some(semgrep.clone()), vec![]),
    );
    assert!(without_rules.findings.is_empty());
    assert!(
        notes(&without_rules)[0].starts_with("semgrep: skipped: no local semgrep rules"),
        "{:?}",
        notes(&without_rules)
    );

    write(project.path(), ".semgrep.yml", "rules: []\n");
    let report = run_tool(
        project.path(),
        Tool::Semgrep,
        settings(Some(semgrep), vec![]),
    );
    assert_eq!(notes(&report), Vec::<String>::new());
    assert_eq!(report.findings.len(), 1);
    let finding = &report.findings[0];
    assert_eq!(
        (
            finding.detector.as_str(),
            finding.rule_id.as_str(),
            finding.file_path.as_str()
        ),
        ("semgrep", "semgrep-oss/no-eval", "app.py")
    );
    assert!(
        finding
            .message
            .starts_with("scan --sarif --metrics=off --disable-version-check"),
        "{}",
        finding.message
    );
    assert!(
        finding.message.contains("/.semgrep.yml ."),
        "{}",
        finding.message
    );
}

#[test]
fn output_that_cannot_be_read_is_a_failure_note() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    write(project.path(), "a.js", "x;\n");
    let script = "#!/bin/sh\necho 'Oops! Something went wrong: no eslint.config.js' >&2\nexit 2\n";
    let eslint = executable(tools.path(), "eslint", script);

    let report = run_tool(
        project.path(),
        Tool::EslintCli,
        settings(Some(eslint), vec![]),
    );

    assert!(report.findings.is_empty());
    assert_eq!(
        notes(&report),
        vec!["eslint-cli: failed: eslint exited with exit status: 2: Oops! Something went wrong: no eslint.config.js"]
    );
}

#[test]
fn a_tool_that_runs_too_long_is_killed_with_what_it_started() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let pid_file = tools.path().join("grandchild.pid");
    // Starts a grandchild that would outlive a plain kill of the script, then waits.
    let script = format!(
        "#!/bin/sh\nsleep 60 &\necho $! > '{}'\nwait\n",
        pid_file.display()
    );
    let oxlint = executable(tools.path(), "oxlint", &script);
    let mut settings = settings(Some(oxlint), vec![]);
    settings.timeout = Duration::from_millis(300);

    let started = Instant::now();
    let report = run_tool(project.path(), Tool::Oxlint, settings);

    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(report.findings.is_empty());
    let notes = notes(&report);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].starts_with("oxlint: stopped:")
            && notes[0].ends_with("ran longer than 0.3 s; no findings"),
        "{notes:?}"
    );
    let grandchild = fs::read_to_string(&pid_file).unwrap();
    let alive = Path::new("/proc").join(grandchild.trim());
    // Killed processes are reaped by init; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive_and_not_zombie(&alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive_and_not_zombie(&alive),
        "the grandchild {grandchild} still runs"
    );
}

fn alive_and_not_zombie(proc_dir: &Path) -> bool {
    fs::read_to_string(proc_dir.join("stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn the_projects_own_node_modules_bin_is_used_only_when_allowed() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    write(project.path(), "src/a.js", "let a = 1;\ndebugger;\n");
    fake_tool(
        &project.path().join("node_modules/.bin"),
        "oxlint",
        OXLINT_SARIF,
        0,
    );

    let refused = run_tool(
        project.path(),
        Tool::Oxlint,
        settings(None, vec![empty.path().to_path_buf()]),
    );
    assert!(refused.findings.is_empty());
    assert!(
        notes(&refused)[0].ends_with("run only with INSIGHT_PROJECT_TOOLS=1"),
        "{:?}",
        notes(&refused)
    );

    let mut allowed = settings(None, vec![empty.path().to_path_buf()]);
    allowed.project_bin = true;
    let report = run_tool(project.path(), Tool::Oxlint, allowed);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].file_path, "src/a.js");
}

#[test]
fn an_analysis_that_names_no_detectors_runs_no_outside_tool() {
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "a.js", "debugger;\n");
    let report = Engine::default()
        .run(project.path(), &[], &RunOptions::default())
        .unwrap();
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    for name in detectors::TOOL_NAMES {
        assert!(
            !report.detectors_run.iter().any(|run| run == name),
            "{name}"
        );
    }
}

/// The oxlint and ESLint `scripts/bench-corpus.sh` installs, if it was run.
fn bench_tool(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/bench-tools/node_modules/.bin")
        .join(name);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: {} not found; run scripts/bench-corpus.sh to install it",
            path.display()
        );
        None
    }
}

#[test]
fn the_real_oxlint_finds_a_debugger_statement() {
    let Some(oxlint) = bench_tool("oxlint") else {
        return;
    };
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    write(
        project.path(),
        "src/a.js",
        "export const a = 1;\ndebugger;\n",
    );

    let report = run_tool(project.path(), Tool::Oxlint, settings(Some(oxlint), vec![]));

    assert_eq!(notes(&report), Vec::<String>::new());
    let debugger = report
        .findings
        .iter()
        .find(|finding| finding.rule_id == "oxlint/eslint(no-debugger)")
        .unwrap_or_else(|| panic!("{:?}", report.findings));
    assert_eq!(
        (debugger.file_path.as_str(), debugger.line),
        ("src/a.js", 2)
    );
    assert_eq!(debugger.detector, "oxlint");
}

#[test]
fn the_real_eslint_runs_with_the_projects_configuration() {
    let Some(eslint) = bench_tool("eslint") else {
        return;
    };
    let _serial = serial();
    let project = tempfile::tempdir().unwrap();
    write(
        project.path(),
        "eslint.config.mjs",
        "export default [{ rules: { 'no-debugger': 'error', eqeqeq: 'warn' } }];\n",
    );
    write(
        project.path(),
        "src/a.js",
        "if (a == 1) {\n  debugger;\n}\n",
    );

    let report = run_tool(
        project.path(),
        Tool::EslintCli,
        settings(Some(eslint), vec![]),
    );

    assert_eq!(notes(&report), Vec::<String>::new());
    let found: Vec<(&str, &str, u32, Severity)> = report
        .findings
        .iter()
        .map(|f| (f.file_path.as_str(), f.rule_id.as_str(), f.line, f.severity))
        .collect();
    assert_eq!(
        found,
        vec![
            ("src/a.js", "eslint/eqeqeq", 1, Severity::Medium),
            ("src/a.js", "eslint/no-debugger", 2, Severity::High),
        ]
    );
}
