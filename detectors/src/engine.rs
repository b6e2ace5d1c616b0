//! Running detectors over a folder: walk, analyse files in parallel, check the project, then
//! sort and fingerprint the findings.

use crate::detector::{
    Detector, DetectorNote, FileFacts, FileSink, LocatedFinding, Needs, ProjectFacts, ProjectSink,
};
use crate::detectors::imports::collect_imports;
use crate::detectors::security::secrets::redact_line;
use crate::finding::{fingerprint_of_normalized, normalize_whitespace, Finding};
use crate::js;
use crate::registry::{Registry, UnknownDetectors};
use crate::source::{Language, LineIndex, SourceFile};
use crate::walk::{self, classify_content, SkipReason, WalkedFile};
use oxc_allocator::Allocator;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Default bound on the size of one analysed file: larger files are almost always generated.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Snippets longer than this many characters are cut (minified lines would flood a report).
const MAX_SNIPPET_CHARS: usize = 200;

/// Lets a caller stop a run: cancelling is checked before each file.
#[derive(Debug, Clone, Default)]
pub struct CancellationToken(Arc<AtomicBool>);

impl CancellationToken {
    pub fn new() -> CancellationToken {
        CancellationToken::default()
    }

    /// Wraps a flag the caller already owns.
    pub fn from_flag(flag: Arc<AtomicBool>) -> CancellationToken {
        CancellationToken(flag)
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How far a run is. Reported once before the first file and after every file, from worker
/// threads, so the callback must be cheap (throttle before sending anything over a network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub files_done: usize,
    pub files_total: usize,
}

pub type ProgressCallback = Arc<dyn Fn(Progress) + Send + Sync>;

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Files larger than this are skipped (counted in [`RunStats::files_too_large`]).
    pub max_file_bytes: u64,
    /// Folder names pruned wherever they appear.
    pub skipped_dirs: Vec<String>,
    pub cancellation: CancellationToken,
    pub progress: Option<ProgressCallback>,
    /// Worker threads; `None` uses rayon's global pool (one thread per core).
    pub threads: Option<usize>,
    /// A folder of OSV advisories (`*.json`, searched recursively) that the `package` detector
    /// matches lockfile versions against; `None` turns vulnerability matching off.
    pub advisories_dir: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            skipped_dirs: walk::DEFAULT_SKIPPED_DIRS
                .iter()
                .map(|dir| (*dir).to_owned())
                .collect(),
            cancellation: CancellationToken::default(),
            progress: None,
            threads: None,
            advisories_dir: None,
        }
    }
}

/// Counts of what a run looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStats {
    pub files_analyzed: usize,
    pub bytes_analyzed: u64,
    pub lines_analyzed: usize,
    pub files_too_large: usize,
    pub files_binary: usize,
    pub files_minified: usize,
    pub files_generated: usize,
    pub files_unreadable: usize,
    pub duration_ms: u64,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Sorted by path, line, column, end, detector, rule and message.
    pub findings: Vec<Finding>,
    /// The detectors that ran.
    pub detectors_run: Vec<String>,
    /// What detectors could not do (an outside tool not installed, timed out or failed), in
    /// detector order; empty on a complete run.
    pub notes: Vec<DetectorNote>,
    pub stats: RunStats,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    UnknownDetectors(#[from] UnknownDetectors),
    #[error("cannot analyse {path}: not a readable folder")]
    NotAFolder { path: PathBuf },
    #[error("analysis cancelled after {files_done} of {files_total} files")]
    Cancelled {
        files_done: usize,
        files_total: usize,
    },
    #[error("cannot start {threads} analysis threads")]
    ThreadPool {
        threads: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}

/// Runs detectors from a [`Registry`] over folders.
#[derive(Clone, Default)]
pub struct Engine {
    registry: Registry,
}

enum FileOutcome {
    Analyzed {
        findings: Vec<LocatedFinding>,
        facts: Option<FileFacts>,
        bytes: u64,
        lines: usize,
    },
    Skipped(SkipReason),
    Cancelled,
}

impl Engine {
    pub fn new(registry: Registry) -> Engine {
        Engine { registry }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Runs the named detectors (every built one when `detectors` is empty) over `root`.
    pub fn run(
        &self,
        root: &Path,
        detectors: &[String],
        options: &RunOptions,
    ) -> Result<Report, EngineError> {
        let selected = self.registry.resolve(detectors)?;
        if !root.is_dir() {
            return Err(EngineError::NotAFolder {
                path: root.to_path_buf(),
            });
        }
        match options.threads {
            Some(threads) => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .map_err(|source| EngineError::ThreadPool { threads, source })?;
                pool.install(|| run_selected(root, &selected, options))
            }
            None => run_selected(root, &selected, options),
        }
    }
}

fn run_selected(
    root: &Path,
    selected: &[Arc<dyn Detector>],
    options: &RunOptions,
) -> Result<Report, EngineError> {
    let started = Instant::now();
    let needs = selected.iter().fold(Needs::default(), |all, detector| {
        let needs = detector.needs();
        Needs {
            js_syntax_tree: all.js_syntax_tree || needs.js_syntax_tree,
            imports: all.imports || needs.imports,
            files: all.files || needs.files,
            js_syntax_errors: all.js_syntax_errors || needs.js_syntax_errors,
        }
    });

    let walked = walk::walk(root, &options.skipped_dirs, options.max_file_bytes);
    let files_total = walked.files.len();
    let files_done = AtomicUsize::new(0);
    if let Some(progress) = &options.progress {
        progress(Progress {
            files_done: 0,
            files_total,
        });
    }

    let outcomes: Vec<FileOutcome> = walked
        .files
        .par_iter()
        .map(|file| {
            if options.cancellation.is_cancelled() {
                return FileOutcome::Cancelled;
            }
            let outcome = analyze_file(file, selected, needs);
            let done = files_done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(progress) = &options.progress {
                progress(Progress {
                    files_done: done,
                    files_total,
                });
            }
            outcome
        })
        .collect();
    if options.cancellation.is_cancelled() {
        return Err(EngineError::Cancelled {
            files_done: files_done.load(Ordering::Relaxed),
            files_total,
        });
    }

    let mut stats = RunStats {
        files_too_large: walked.too_large,
        files_binary: walked.binary,
        files_minified: walked.minified,
        files_generated: walked.generated,
        files_unreadable: walked.unreadable,
        ..RunStats::default()
    };
    // Sized once: tens of thousands of findings (`no-var` on ES5 output) grown by doubling cost
    // a copy and fresh pages at every step.
    let file_findings: usize = outcomes
        .iter()
        .map(|outcome| match outcome {
            FileOutcome::Analyzed { findings, .. } => findings.len(),
            _ => 0,
        })
        .sum();
    let mut located = Vec::with_capacity(file_findings);
    let mut facts = Vec::new();
    for outcome in outcomes {
        match outcome {
            FileOutcome::Analyzed {
                findings,
                facts: file_facts,
                bytes,
                lines,
            } => {
                stats.files_analyzed += 1;
                stats.bytes_analyzed += bytes;
                stats.lines_analyzed += lines;
                located.extend(findings);
                facts.extend(file_facts);
            }
            FileOutcome::Skipped(reason) => match reason {
                SkipReason::TooLarge => stats.files_too_large += 1,
                SkipReason::Binary => stats.files_binary += 1,
                SkipReason::Minified => stats.files_minified += 1,
                SkipReason::Generated => stats.files_generated += 1,
                SkipReason::Unreadable => stats.files_unreadable += 1,
            },
            FileOutcome::Cancelled => {}
        }
    }

    // `walked.files` is sorted and `collect` keeps order, so facts are sorted by path.
    let project = ProjectFacts {
        root,
        files: &facts,
        advisories_dir: options.advisories_dir.as_deref(),
    };
    let project_results: Vec<(Vec<LocatedFinding>, Vec<DetectorNote>)> = selected
        .par_iter()
        .map(|detector| {
            let mut sink = ProjectSink::new(detector.name());
            detector.check_project(&project, &mut sink);
            sink.into_parts()
        })
        .collect();
    let mut notes = Vec::new();
    for (findings, detector_notes) in project_results {
        located.extend(findings);
        notes.extend(detector_notes);
    }

    stats.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(Report {
        findings: finalize(located),
        detectors_run: selected
            .iter()
            .map(|detector| detector.name().to_owned())
            .collect(),
        notes,
        stats,
    })
}

fn analyze_file(file: &WalkedFile, selected: &[Arc<dyn Detector>], needs: Needs) -> FileOutcome {
    let Ok(bytes) = std::fs::read(&file.absolute) else {
        return FileOutcome::Skipped(SkipReason::Unreadable);
    };
    let text = match classify_content(&file.relative, &bytes) {
        Ok(text) => text,
        Err(reason) => return FileOutcome::Skipped(reason),
    };
    let lines = LineIndex::new(text);
    let language = Language::from_path(Path::new(&file.relative));
    let source = SourceFile {
        path: &file.relative,
        text,
        language,
        lines: &lines,
    };

    let wants_tree = language.is_js_family() && (needs.js_syntax_tree || needs.imports);
    if !wants_tree {
        return check_file(file, selected, needs, &source, None);
    }
    // One arena per worker thread, emptied and reused for every file: a fresh arena per file
    // cost a page fault and a page clear for every chunk (about a tenth of the time in
    // `perf` on the npm corpus of `insight bench detectors`).
    ARENA.with(|arena| {
        let mut allocator = arena.borrow_mut();
        allocator.reset();
        let parsed = js::parse(&allocator, &file.relative, text, needs.js_syntax_errors);
        check_file(file, selected, needs, &source, parsed.as_ref())
    })
}

thread_local! {
    static ARENA: std::cell::RefCell<Allocator> = std::cell::RefCell::new(Allocator::default());
}

/// Runs the selected detectors on one read (and, for JS/TS, parsed) file.
fn check_file(
    file: &WalkedFile,
    selected: &[Arc<dyn Detector>],
    needs: Needs,
    source: &SourceFile<'_>,
    parsed: Option<&js::ParsedJs<'_>>,
) -> FileOutcome {
    let lines = source.lines;

    let mut findings = Vec::new();
    for detector in selected {
        let mut sink = FileSink::new(detector.name(), source);
        let tree = parsed.filter(|_| detector.needs().js_syntax_tree);
        detector.check_file(source, tree, &mut sink);
        findings.extend(sink.into_findings());
    }
    let facts = if needs.project_files() {
        Some(FileFacts {
            path: file.relative.clone(),
            imports: parsed
                .filter(|_| needs.imports)
                .map(|parsed| collect_imports(parsed, lines))
                .unwrap_or_default(),
        })
    } else {
        None
    };
    FileOutcome::Analyzed {
        findings,
        facts,
        bytes: source.text.len() as u64,
        lines: lines.line_count(),
    }
}

/// Sorts findings, numbers repeats of the same rule on identical lines, and fills in the
/// fingerprints and redacted snippets.
fn finalize(mut located: Vec<LocatedFinding>) -> Vec<Finding> {
    located.sort_by(|a, b| {
        let (a, b) = (&a.finding, &b.finding);
        a.file_path
            .cmp(&b.file_path)
            .then(a.line.cmp(&b.line))
            .then(a.column.cmp(&b.column))
            .then(a.end_line.cmp(&b.end_line))
            .then(a.end_column.cmp(&b.end_column))
            .then(a.detector.cmp(&b.detector))
            .then(a.rule_id.cmp(&b.rule_id))
            .then(a.message.cmp(&b.message))
    });
    // Each line is normalised once, and repeats are counted on borrowed keys: a report of tens
    // of thousands of findings (`no-var` on ES5 output) used to clone four strings per finding.
    let normalized: Vec<String> = located
        .iter()
        .map(|located| normalize_whitespace(&located.line_text))
        .collect();
    let mut occurrences: FxHashMap<(&str, &str, &str, &str), usize> = FxHashMap::default();
    let fingerprints: Vec<String> = located
        .iter()
        .zip(&normalized)
        .map(|(located, line)| {
            let finding = &located.finding;
            let occurrence = occurrences
                .entry((
                    finding.detector.as_str(),
                    finding.rule_id.as_str(),
                    finding.file_path.as_str(),
                    line.as_str(),
                ))
                .or_insert(0);
            let fingerprint = fingerprint_of_normalized(
                &finding.detector,
                &finding.rule_id,
                &finding.file_path,
                line,
                *occurrence,
            );
            *occurrence += 1;
            fingerprint
        })
        .collect();
    drop(occurrences);
    located
        .into_iter()
        .zip(fingerprints)
        .map(
            |(
                LocatedFinding {
                    mut finding,
                    line_text,
                },
                fingerprint,
            )| {
                finding.fingerprint = fingerprint;
                finding.snippet = snippet(&line_text);
                finding
            },
        )
        .collect()
}

fn snippet(line_text: &str) -> Option<String> {
    let redacted = redact_line(line_text.trim());
    if redacted.is_empty() {
        return None;
    }
    if redacted.chars().count() > MAX_SNIPPET_CHARS {
        let mut cut: String = redacted.chars().take(MAX_SNIPPET_CHARS).collect();
        cut.push('…');
        return Some(cut);
    }
    Some(redacted)
}
