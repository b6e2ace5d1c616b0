//! The [`Detector`] trait, the [`Rule`] metadata every finding starts from, and the sinks that
//! turn byte positions into located findings.

use crate::finding::{Category, Finding, Severity};
use crate::js::ParsedJs;
use crate::source::{LineIndex, SourceFile};
use std::path::Path;

/// The fixed facts about one rule; a finding starts from these and may adjust them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub id: &'static str,
    pub category: Category,
    pub severity: Severity,
    pub confidence: f32,
    pub auto_fixable: bool,
    pub suggestion: Option<&'static str>,
}

impl Rule {
    pub const fn new(id: &'static str, category: Category, severity: Severity) -> Rule {
        Rule {
            id,
            category,
            severity,
            confidence: 0.9,
            auto_fixable: false,
            suggestion: None,
        }
    }

    pub const fn confidence(mut self, confidence: f32) -> Rule {
        self.confidence = confidence;
        self
    }

    pub const fn fixable(mut self) -> Rule {
        self.auto_fixable = true;
        self
    }

    pub const fn suggest(mut self, suggestion: &'static str) -> Rule {
        self.suggestion = Some(suggestion);
        self
    }
}

/// What the engine must prepare before calling a detector on a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Parse JS/TS files with oxc and pass the tree to [`Detector::check_file`].
    pub js_syntax_tree: bool,
    /// Collect each JS/TS file's imports for [`Detector::check_project`] (implies `files`).
    pub imports: bool,
    /// List every analysed file in [`ProjectFacts::files`], for detectors that look at the
    /// project as a whole (manifests, lockfiles, SARIF reports).
    pub files: bool,
    /// Run oxc's additional syntax checks (misplaced `await`, duplicate labels, strict-mode
    /// rules, ...) into [`ParsedJs::errors`]. They cost a tenth of semantic analysis, and only
    /// the detector reporting those errors reads them.
    pub js_syntax_errors: bool,
}

impl Needs {
    /// Whether the engine must keep per-file facts for [`Detector::check_project`].
    pub fn project_files(self) -> bool {
        self.imports || self.files
    }
}

/// A source of findings. Detectors are stateless and shared across threads: one instance checks
/// every file of a run, in parallel.
pub trait Detector: Send + Sync {
    /// The registry name clients select it by (`"security"`, `"eslint"`, ...).
    fn name(&self) -> &'static str;

    /// One line for listings and `--help`.
    fn description(&self) -> &'static str;

    fn needs(&self) -> Needs {
        Needs::default()
    }

    /// Whether an analysis that names no detectors runs this one. Outside tools answer `false`:
    /// they run only when named.
    fn runs_by_default(&self) -> bool {
        true
    }

    /// Checks one file. `js` is set for JS/TS files when [`Needs::js_syntax_tree`] asks for it.
    fn check_file(
        &self,
        _file: &SourceFile<'_>,
        _js: Option<&ParsedJs<'_>>,
        _out: &mut FileSink<'_>,
    ) {
    }

    /// Checks the whole project once every file has been seen (import resolution, cycles).
    fn check_project(&self, _project: &ProjectFacts<'_>, _out: &mut ProjectSink) {}
}

/// A finding with the text of its first line, kept until fingerprints and snippets are computed.
#[derive(Debug, Clone)]
pub(crate) struct LocatedFinding {
    pub finding: Finding,
    pub line_text: String,
}

fn finding_from_rule(detector: &'static str, path: &str, rule: &Rule, message: String) -> Finding {
    Finding {
        file_path: path.to_owned(),
        line: 1,
        column: 1,
        end_line: 1,
        end_column: 1,
        severity: rule.severity,
        detector: detector.to_owned(),
        rule_id: rule.id.to_owned(),
        category: rule.category,
        message,
        suggestion: rule.suggestion.map(str::to_owned),
        auto_fixable: rule.auto_fixable,
        confidence: rule.confidence,
        snippet: None,
        fingerprint: String::new(),
    }
}

/// Collects the findings of one detector on one file.
pub struct FileSink<'f> {
    detector: &'static str,
    path: &'f str,
    text: &'f str,
    lines: &'f LineIndex,
    findings: Vec<LocatedFinding>,
}

impl<'f> FileSink<'f> {
    pub(crate) fn new(detector: &'static str, file: &SourceFile<'f>) -> FileSink<'f> {
        FileSink {
            detector,
            path: file.path,
            text: file.text,
            lines: file.lines,
            findings: Vec::new(),
        }
    }

    /// Reports `rule` on the bytes `start..end` of the file; returns the finding so the caller
    /// can adjust severity, confidence or suggestion.
    pub fn report(
        &mut self,
        rule: &Rule,
        start: usize,
        end: usize,
        message: impl Into<String>,
    ) -> &mut Finding {
        let mut finding = finding_from_rule(self.detector, self.path, rule, message.into());
        let (line, column) = self.lines.line_column(self.text, start);
        let (end_line, end_column) = self.lines.line_column(self.text, end.max(start));
        finding.line = line;
        finding.column = column;
        finding.end_line = end_line;
        finding.end_column = end_column;
        let line_text = self.lines.line_text(self.text, line).to_owned();
        self.findings.push(LocatedFinding { finding, line_text });
        &mut self.findings.last_mut().expect("just pushed").finding
    }

    pub fn len(&self) -> usize {
        self.findings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    pub(crate) fn into_findings(self) -> Vec<LocatedFinding> {
        self.findings
    }

    /// The findings reported so far (for tests and detectors that post-process their own).
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().map(|located| &located.finding)
    }
}

/// An import, `export ... from`, `require()` or `import()` of a JS/TS file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRef {
    /// The module specifier exactly as written (`"./util"`, `"react"`).
    pub specifier: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    /// The source line of the import, for fingerprints and snippets.
    pub line_text: String,
    /// Erased at compile time (`import type`, `export type`): no runtime dependency.
    pub type_only: bool,
    /// `import()`: loaded lazily, so it cannot take part in an initialisation cycle.
    pub dynamic: bool,
}

/// What the engine learnt about one file, for project-wide checks.
#[derive(Debug, Clone)]
pub struct FileFacts {
    pub path: String,
    pub imports: Vec<ImportRef>,
}

/// The whole project, for [`Detector::check_project`]: every walked file and the root folder
/// (to check whether an import's target exists even when the walk skipped it).
pub struct ProjectFacts<'p> {
    pub root: &'p Path,
    /// Sorted by path; filled only when some selected detector's [`Needs`] asks for files.
    pub files: &'p [FileFacts],
    /// Where OSV advisories are read from ([`crate::RunOptions::advisories_dir`]).
    pub advisories_dir: Option<&'p Path>,
}

/// A 1-based range of lines and columns, `end_column` just past the last character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRange {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

impl TextRange {
    /// The range of the bytes `start..end` of `text`.
    pub fn of_bytes(text: &str, lines: &LineIndex, start: usize, end: usize) -> TextRange {
        let (line, column) = lines.line_column(text, start);
        let (end_line, end_column) = lines.line_column(text, end.max(start));
        TextRange {
            line,
            column,
            end_line,
            end_column,
        }
    }
}

/// Collects the project-wide findings of one detector, and its notes about the run.
pub struct ProjectSink {
    detector: &'static str,
    findings: Vec<LocatedFinding>,
    notes: Vec<DetectorNote>,
}

/// Something a detector could not do on this run (an outside tool that is not installed, timed
/// out or failed), shown with the report so an empty result is never mistaken for a clean one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DetectorNote {
    pub detector: String,
    pub message: String,
}

impl ProjectSink {
    pub(crate) fn new(detector: &'static str) -> ProjectSink {
        ProjectSink {
            detector,
            findings: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a note to the report (`"skipped: oxlint is not installed"`); the run goes on.
    pub fn note(&mut self, message: impl Into<String>) {
        self.notes.push(DetectorNote {
            detector: self.detector.to_owned(),
            message: message.into(),
        });
    }

    /// The notes added so far (for tests).
    pub fn notes(&self) -> &[DetectorNote] {
        &self.notes
    }

    /// The findings reported so far (for tests).
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().map(|located| &located.finding)
    }

    /// The last finding reported, to extend (a message continued on the next output line).
    pub fn last_finding_mut(&mut self) -> Option<&mut Finding> {
        self.findings.last_mut().map(|located| &mut located.finding)
    }

    /// Reports `rule` at an import of `path`.
    pub fn report_at_import(
        &mut self,
        rule: &Rule,
        path: &str,
        import: &ImportRef,
        message: impl Into<String>,
    ) -> &mut Finding {
        let mut finding = finding_from_rule(self.detector, path, rule, message.into());
        finding.line = import.line;
        finding.column = import.column;
        finding.end_line = import.end_line;
        finding.end_column = import.end_column;
        self.findings.push(LocatedFinding {
            finding,
            line_text: import.line_text.clone(),
        });
        &mut self.findings.last_mut().expect("just pushed").finding
    }

    /// Reports `rule` at `range` of any file of the project; `line_text` is the text of the
    /// range's first line (for the fingerprint and the snippet).
    pub fn report_at(
        &mut self,
        rule: &Rule,
        path: &str,
        range: TextRange,
        line_text: &str,
        message: impl Into<String>,
    ) -> &mut Finding {
        let mut finding = finding_from_rule(self.detector, path, rule, message.into());
        finding.line = range.line.max(1);
        finding.column = range.column.max(1);
        finding.end_line = range.end_line.max(finding.line);
        finding.end_column = if finding.end_line == finding.line {
            range.end_column.max(finding.column)
        } else {
            range.end_column.max(1)
        };
        self.findings.push(LocatedFinding {
            finding,
            line_text: line_text.to_owned(),
        });
        &mut self.findings.last_mut().expect("just pushed").finding
    }

    /// Reports `rule` on the bytes `start..end` of `text`, the content of the file `path`.
    #[allow(clippy::too_many_arguments)]
    pub fn report_in_text(
        &mut self,
        rule: &Rule,
        path: &str,
        text: &str,
        lines: &LineIndex,
        start: usize,
        end: usize,
        message: impl Into<String>,
    ) -> &mut Finding {
        let range = TextRange::of_bytes(text, lines, start, end);
        let line_text = lines.line_text(text, range.line);
        self.report_at(rule, path, range, line_text, message)
    }

    pub(crate) fn into_parts(self) -> (Vec<LocatedFinding>, Vec<DetectorNote>) {
        (self.findings, self.notes)
    }
}

impl std::fmt::Debug for dyn Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("name", &self.name())
            .finish()
    }
}
