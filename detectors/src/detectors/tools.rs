//! Outside tools, run only when an analysis names them: `oxlint`, `eslint-cli` (the project's
//! own ESLint setup; `eslint` stays the name of our built-in rules), `tsc` and `semgrep`.
//!
//! Each is never required. The executable is, in order: the path in its environment variable
//! (`INSIGHT_OXLINT`, `INSIGHT_ESLINT`, `INSIGHT_TSC`, `INSIGHT_SEMGREP`), the analysed
//! project's `node_modules/.bin` (Node tools only, and only when `INSIGHT_PROJECT_TOOLS=1`: the
//! analysed repository is untrusted, so running its binaries is opt-in), then `PATH`. It runs
//! in the analysed folder, without a shell, with stdin closed, a timeout
//! (`INSIGHT_TOOL_TIMEOUT_SECS`, default 300) that kills its whole process group, and the
//! flags and variables that keep it offline (update checks and metrics off; semgrep only with
//! local rules, never the registry). That is not a sandbox: ESLint runs the project's
//! `eslint.config.js`, so select `eslint-cli` only on code you would run.
//!
//! Output read:
//! - `oxlint --format=sarif` and `semgrep scan --sarif` through the `sarif` detector's mapping
//!   (rule ids `oxlint/eslint(no-debugger)`, `semgrep-oss/<rule>`);
//! - `eslint --format json`: rule ids `eslint/<rule>`, `eslint/parse-error` for fatal messages;
//! - `tsc --noEmit --pretty false` (needs a `tsconfig.json` at the root): the lines
//!   `file(line,col): error TS2322: message`, rule ids `tsc/TS2322`.
//!
//! Findings carry the tool's name as their detector and project-relative paths. When the tool
//! is not installed, lacks what it needs, times out or fails, there are no findings and the
//! report gets a note ([`crate::DetectorNote`]) saying so; the analysis goes on.

use crate::detector::{Detector, ProjectFacts, ProjectSink, Rule, TextRange};
use crate::detectors::sarif::{import_tool_output, project_path, severity_from_level};
use crate::finding::{Category, Severity};
use crate::source::LineIndex;
use serde_json::Value;
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The names outside tools are selected by; never part of a default selection.
pub const TOOL_NAMES: &[&str] = &["oxlint", "eslint-cli", "tsc", "semgrep"];

/// How long a tool may run when `INSIGHT_TOOL_TIMEOUT_SECS` does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Every result starts from this rule; id, severity and category come from the tool.
pub const TOOL_RESULT: Rule =
    Rule::new("tool-result", Category::Correctness, Severity::Medium).confidence(0.9);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Oxlint,
    EslintCli,
    Tsc,
    Semgrep,
}

impl Tool {
    pub const ALL: [Tool; 4] = [Tool::Oxlint, Tool::EslintCli, Tool::Tsc, Tool::Semgrep];

    /// The detector name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Oxlint => "oxlint",
            Tool::EslintCli => "eslint-cli",
            Tool::Tsc => "tsc",
            Tool::Semgrep => "semgrep",
        }
    }

    /// The executable's file name.
    pub fn executable(self) -> &'static str {
        match self {
            Tool::Oxlint => "oxlint",
            Tool::EslintCli => "eslint",
            Tool::Tsc => "tsc",
            Tool::Semgrep => "semgrep",
        }
    }

    /// The variable that may name the executable.
    pub fn env_var(self) -> &'static str {
        match self {
            Tool::Oxlint => "INSIGHT_OXLINT",
            Tool::EslintCli => "INSIGHT_ESLINT",
            Tool::Tsc => "INSIGHT_TSC",
            Tool::Semgrep => "INSIGHT_SEMGREP",
        }
    }

    fn is_node_tool(self) -> bool {
        !matches!(self, Tool::Semgrep)
    }

    fn description(self) -> &'static str {
        match self {
            Tool::Oxlint => "oxlint's findings (its SARIF), when installed and selected",
            Tool::EslintCli => {
                "ESLint with the project's own configuration (its JSON), when installed and selected"
            }
            Tool::Tsc => "TypeScript compiler errors (tsc --noEmit), when installed and selected",
            Tool::Semgrep => {
                "semgrep with the project's local rules (its SARIF), when installed and selected"
            }
        }
    }
}

/// Where a tool comes from and how long it may run.
#[derive(Debug, Clone)]
pub struct ToolSettings {
    /// An executable to run instead of looking one up.
    pub executable: Option<PathBuf>,
    /// Folders searched for the executable, in order (`PATH`).
    pub search_path: Vec<PathBuf>,
    /// Whether the analysed project's own `node_modules/.bin` may provide the executable.
    pub project_bin: bool,
    pub timeout: Duration,
    /// semgrep's rules (a file or folder); else the project's `.semgrep.yml`, `.semgrep.yaml`
    /// or `.semgrep/`.
    pub semgrep_config: Option<PathBuf>,
}

impl ToolSettings {
    /// The settings the environment gives (see the module documentation).
    pub fn from_env(tool: Tool) -> ToolSettings {
        let non_empty = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        ToolSettings {
            executable: non_empty(tool.env_var()).map(PathBuf::from),
            search_path: std::env::var_os("PATH")
                .map(|path| std::env::split_paths(&path).collect())
                .unwrap_or_default(),
            project_bin: non_empty("INSIGHT_PROJECT_TOOLS").is_some_and(|value| value == "1"),
            timeout: non_empty("INSIGHT_TOOL_TIMEOUT_SECS")
                .and_then(|value| value.to_str()?.trim().parse().ok())
                .map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            semgrep_config: non_empty("INSIGHT_SEMGREP_CONFIG").map(PathBuf::from),
        }
    }
}

/// One outside tool as a detector.
pub struct ToolDetector {
    tool: Tool,
    settings: ToolSettings,
}

impl ToolDetector {
    pub fn new(tool: Tool, settings: ToolSettings) -> ToolDetector {
        ToolDetector { tool, settings }
    }

    pub fn from_env(tool: Tool) -> ToolDetector {
        ToolDetector::new(tool, ToolSettings::from_env(tool))
    }

    /// The executable to run, or why there is none.
    fn locate(&self, root: &Path) -> Result<PathBuf, String> {
        let name = self.tool.executable();
        if let Some(configured) = &self.settings.executable {
            return if is_executable(configured) {
                Ok(configured.clone())
            } else {
                Err(format!(
                    "{} names {}, which is not an executable file",
                    self.tool.env_var(),
                    configured.display()
                ))
            };
        }
        let project_bin = root.join("node_modules/.bin").join(name);
        if self.tool.is_node_tool() && self.settings.project_bin && is_executable(&project_bin) {
            return Ok(project_bin);
        }
        if let Some(found) = self
            .settings
            .search_path
            .iter()
            .map(|folder| folder.join(name))
            .find(|candidate| is_executable(candidate))
        {
            return Ok(found);
        }
        let mut reason = format!(
            "{name} is not installed (not on PATH; set {} to its path)",
            self.tool.env_var()
        );
        if self.tool.is_node_tool() && !self.settings.project_bin && is_executable(&project_bin) {
            reason.push_str(
                "; the project has its own in node_modules/.bin, run only with INSIGHT_PROJECT_TOOLS=1",
            );
        }
        Err(reason)
    }

    /// The arguments for a run in `root`, or why the tool cannot run there.
    fn arguments(&self, root: &Path) -> Result<Vec<OsString>, String> {
        let arguments: Vec<OsString> = match self.tool {
            Tool::Oxlint => vec!["--format=sarif".into(), ".".into()],
            Tool::EslintCli => vec!["--format".into(), "json".into(), ".".into()],
            Tool::Tsc => {
                if !root.join("tsconfig.json").is_file() {
                    return Err("no tsconfig.json at the root of the project".to_owned());
                }
                vec![
                    "--noEmit".into(),
                    "--pretty".into(),
                    "false".into(),
                    "-p".into(),
                    "tsconfig.json".into(),
                ]
            }
            Tool::Semgrep => {
                let config = self.settings.semgrep_config.clone().or_else(|| {
                    [".semgrep.yml", ".semgrep.yaml", ".semgrep"]
                        .iter()
                        .map(|name| root.join(name))
                        .find(|path| path.exists())
                });
                let Some(config) = config else {
                    return Err("no local semgrep rules (.semgrep.yml, .semgrep.yaml or \
                                .semgrep/, or INSIGHT_SEMGREP_CONFIG); registry rules would \
                                need the network"
                        .to_owned());
                };
                vec![
                    "scan".into(),
                    "--sarif".into(),
                    "--metrics=off".into(),
                    "--disable-version-check".into(),
                    "--quiet".into(),
                    "--config".into(),
                    config.into_os_string(),
                    ".".into(),
                ]
            }
        };
        Ok(arguments)
    }

    /// Maps the tool's output into findings, or says why it cannot be read.
    fn read_output(
        &self,
        root: &Path,
        output: &ToolOutput,
        out: &mut ProjectSink,
    ) -> Result<(), String> {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let failure = || {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr
                .lines()
                .chain(stdout.lines())
                .map(str::trim)
                .find(|line| !line.is_empty())
                .unwrap_or("no output");
            format!(
                "{} exited with {}: {first}",
                self.tool.executable(),
                output.status
            )
        };
        match self.tool {
            Tool::Oxlint | Tool::Semgrep => {
                if stdout.trim().is_empty() {
                    return Err(failure());
                }
                import_tool_output(root, ".", &stdout, out)
                    .map_err(|error| format!("{} (output: {error})", failure()))
            }
            Tool::EslintCli => {
                let results: Value = serde_json::from_str(&stdout).map_err(|_| failure())?;
                let results = results.as_array().ok_or_else(failure)?;
                read_eslint(root, results, out);
                Ok(())
            }
            Tool::Tsc => {
                let read = read_tsc(root, &stdout, out);
                for problem in read.unlocated {
                    out.note(problem);
                }
                if read.located == 0 && !output.status.success() && read.unlocated_count == 0 {
                    return Err(failure());
                }
                Ok(())
            }
        }
    }
}

impl Detector for ToolDetector {
    fn name(&self) -> &'static str {
        self.tool.name()
    }

    fn description(&self) -> &'static str {
        self.tool.description()
    }

    fn runs_by_default(&self) -> bool {
        false
    }

    fn check_project(&self, project: &ProjectFacts<'_>, out: &mut ProjectSink) {
        // Tools print absolute paths through symbolic links resolved.
        let root = project
            .root
            .canonicalize()
            .unwrap_or_else(|_| project.root.to_path_buf());
        let executable = match self.locate(&root) {
            Ok(executable) => executable,
            Err(reason) => return out.note(format!("skipped: {reason}")),
        };
        let arguments = match self.arguments(&root) {
            Ok(arguments) => arguments,
            Err(reason) => return out.note(format!("skipped: {reason}")),
        };
        let output = match run(&executable, &arguments, &root, self.settings.timeout) {
            Ok(output) => output,
            Err(RunError::TimedOut) => {
                return out.note(format!(
                    "stopped: {} ran longer than {} s; no findings",
                    executable.display(),
                    self.settings.timeout.as_secs_f64()
                ))
            }
            Err(RunError::Io(error)) => {
                return out.note(format!(
                    "failed: cannot run {}: {error}",
                    executable.display()
                ))
            }
        };
        if let Err(reason) = self.read_output(&root, &output, out) {
            out.note(format!("failed: {reason}"));
        }
    }
}

fn is_executable(path: &Path) -> bool {
    let Ok(metadata) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        metadata.is_file()
    }
}

/// What a finished tool printed.
#[derive(Debug)]
pub struct ToolOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

#[derive(Debug)]
pub enum RunError {
    TimedOut,
    Io(std::io::Error),
}

/// Runs `executable` in `folder` without a shell, stdin closed, and kills it (with every
/// process it started) once `timeout` has passed.
pub fn run(
    executable: &Path,
    arguments: &[OsString],
    folder: &Path,
    timeout: Duration,
) -> Result<ToolOutput, RunError> {
    let mut command = Command::new(executable);
    command
        .args(arguments)
        .current_dir(folder)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Offline and plain: no update checks, no metrics, no colours in the text we parse.
        .env("NO_UPDATE_NOTIFIER", "1")
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0")
        .env("SEMGREP_SEND_METRICS", "off")
        .env("SEMGREP_ENABLE_VERSION_CHECK", "0");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so a timeout can stop whatever it started too.
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(RunError::Io)?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let mut pause = Duration::from_millis(2);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(RunError::Io)? {
            break status;
        }
        if started.elapsed() >= timeout {
            #[cfg(unix)]
            {
                let _ = rustix::process::kill_process_group(
                    rustix::process::Pid::from_child(&child),
                    rustix::process::Signal::KILL,
                );
            }
            let _ = child.kill();
            let _ = child.wait();
            // The readers end when the last process holding the pipes is gone; not waited for.
            return Err(RunError::TimedOut);
        }
        std::thread::sleep(pause.min(timeout.saturating_sub(started.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(50));
    };
    Ok(ToolOutput {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Reads a pipe to its end on its own thread, so a tool that fills one pipe never blocks.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// The text of the files findings point at, read once each, for fingerprints and snippets.
#[derive(Default)]
struct Lines {
    files: HashMap<String, Option<String>>,
}

impl Lines {
    fn line(&mut self, root: &Path, path: &str, line: u32) -> String {
        let text = self
            .files
            .entry(path.to_owned())
            .or_insert_with(|| std::fs::read_to_string(root.join(path)).ok());
        text.as_deref()
            .map(|text| LineIndex::new(text).line_text(text, line).to_owned())
            .unwrap_or_default()
    }
}

fn range(line: u64, column: u64, end_line: Option<u64>, end_column: Option<u64>) -> TextRange {
    let number = |value: u64| u32::try_from(value).unwrap_or(u32::MAX).max(1);
    let (line, column) = (number(line), number(column));
    TextRange {
        line,
        column,
        end_line: end_line.map_or(line, number),
        end_column: end_column.map_or(column, number),
    }
}

/// ESLint's JSON formatter: one entry per file with its messages.
fn read_eslint(root: &Path, results: &[Value], out: &mut ProjectSink) {
    let mut lines = Lines::default();
    for file in results {
        let Some(file_path) = file["filePath"].as_str() else {
            continue;
        };
        let path = project_path(root, file_path);
        for message in file["messages"].as_array().map_or(&[][..], Vec::as_slice) {
            let fatal = message["fatal"].as_bool() == Some(true);
            // Without a rule and not fatal: ESLint's own notices ("File ignored ...").
            let rule = match message["ruleId"].as_str() {
                Some(rule) => rule,
                None if fatal => "parse-error",
                None => continue,
            };
            let is_error = message["severity"].as_u64() == Some(2);
            let range = range(
                message["line"].as_u64().unwrap_or(1),
                message["column"].as_u64().unwrap_or(1),
                message["endLine"].as_u64(),
                message["endColumn"].as_u64(),
            );
            let line_text = lines.line(root, &path, range.line);
            let text = message["message"]
                .as_str()
                .unwrap_or(rule)
                .trim()
                .to_owned();
            let finding = out.report_at(&TOOL_RESULT, &path, range, &line_text, text);
            finding.rule_id = format!("eslint/{rule}");
            finding.severity = severity_from_level(if is_error { "error" } else { "warning" });
            finding.category = if fatal {
                Category::Syntax
            } else if is_error {
                Category::Correctness
            } else {
                Category::Suspicious
            };
            finding.auto_fixable = message["fix"].is_object();
        }
    }
}

struct TscRead {
    located: usize,
    unlocated_count: usize,
    unlocated: Vec<String>,
}

/// `tsc --pretty false`: `file(line,col): error TS2322: message`, continuation lines indented.
/// Diagnostics without a file (`error TS18003: No inputs were found ...`) are notes.
fn read_tsc(root: &Path, stdout: &str, out: &mut ProjectSink) -> TscRead {
    let mut lines = Lines::default();
    let mut read = TscRead {
        located: 0,
        unlocated_count: 0,
        unlocated: Vec::new(),
    };
    let mut continues_finding = false;
    for line in stdout.lines() {
        if line.starts_with([' ', '\t']) && !line.trim().is_empty() {
            if continues_finding {
                if let Some(finding) = out.last_finding_mut() {
                    finding.message.push('\n');
                    finding.message.push_str(line.trim());
                }
            } else if let Some(last) = read.unlocated.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
            continue;
        }
        continues_finding = false;
        if let Some(diagnostic) = TscDiagnostic::parse(line) {
            let path = project_path(root, diagnostic.file);
            let range = range(diagnostic.line, diagnostic.column, None, None);
            let line_text = lines.line(root, &path, range.line);
            let finding = out.report_at(
                &TOOL_RESULT,
                &path,
                range,
                &line_text,
                diagnostic.message.trim(),
            );
            finding.rule_id = format!("tsc/{}", diagnostic.code);
            finding.severity = severity_from_level(diagnostic.level);
            read.located += 1;
            continues_finding = true;
        } else if let Some(rest) = line.strip_prefix("error TS") {
            read.unlocated_count += 1;
            read.unlocated.push(format!("tsc: error TS{}", rest.trim()));
        }
    }
    read
}

/// One located line of tsc's plain output.
#[derive(Debug, PartialEq)]
struct TscDiagnostic<'l> {
    file: &'l str,
    line: u64,
    column: u64,
    /// `error`, `warning` or `message`, as SARIF levels read them (`message` is a note).
    level: &'static str,
    code: &'l str,
    message: &'l str,
}

impl<'l> TscDiagnostic<'l> {
    fn parse(line: &'l str) -> Option<TscDiagnostic<'l>> {
        // `src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.`
        let (location, rest) = line.split_once("): ")?;
        let (file, position) = location.rsplit_once('(')?;
        let (line_number, column) = position.split_once(',')?;
        let (kind, rest) = rest.split_once(' ')?;
        let level = match kind {
            "error" => "error",
            "warning" => "warning",
            "message" => "note",
            _ => return None,
        };
        let (code, message) = rest.split_once(": ")?;
        if !code.starts_with("TS") || file.is_empty() {
            return None;
        }
        Some(TscDiagnostic {
            file,
            line: line_number.trim().parse().ok()?,
            column: column.trim().parse().ok()?,
            level,
            code,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tsc_line_is_read_into_its_parts() {
        assert_eq!(
            TscDiagnostic::parse(
                "src/a b(1).ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'."
            ),
            Some(TscDiagnostic {
                file: "src/a b(1).ts",
                line: 3,
                column: 7,
                level: "error",
                code: "TS2322",
                message: "Type 'string' is not assignable to type 'number'.",
            })
        );
        assert_eq!(
            TscDiagnostic::parse("error TS18003: No inputs were found"),
            None
        );
        assert_eq!(TscDiagnostic::parse("Found 2 errors in 1 file."), None);
    }

    #[test]
    fn tool_names_are_the_detector_names() {
        let names: Vec<&str> = Tool::ALL.iter().map(|tool| tool.name()).collect();
        assert_eq!(names, TOOL_NAMES);
    }
}
