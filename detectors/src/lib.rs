//! The analysis engine: a directory in, findings out.
//! Owns the `Detector` trait, the registry and every detector: JS/TS ones on the oxc tree
//! (`typescript`, `eslint`, `runtime`, security sinks, `performance`, `complexity`), text scans
//! of every file (secrets, `network`), project-wide ones on collected imports and manifests
//! (`import`, `circular`, `package`, `build`, `isolation`, `sarif`), and Python, Go, Java and
//! Rust ones (and their complexity) on tree-sitter trees. Every name in [`DETECTOR_NAMES`] is a
//! built detector. The outside tools ([`TOOL_NAMES`]: `oxlint`, `eslint-cli`, `tsc`,
//! `semgrep`) run only when an analysis names them, and never need to be installed.
//! Must not import anything about events, HTTP, SQL or NATS (no domain/application/infrastructure).
//!
//! Callers use [`Engine::run`] with detector names (see [`Registry::names`]) and [`RunOptions`]
//! (size bound, cancellation, progress, OSV advisories folder); they get a [`Report`] of
//! [`Finding`]s sorted by file, line and column, each with a stable [`Finding::fingerprint`].
//! [`output`] prints a report as a table, JSON or SARIF 2.1.0 ([`format_table`],
//! [`format_json`], [`format_sarif`]; [`to_sarif`] gives the SARIF log as a JSON value).

pub mod detector;
pub mod detectors;
pub mod engine;
pub mod finding;
pub mod js;
pub mod output;
pub mod registry;
pub mod sarif;
pub mod source;
pub mod walk;

#[cfg(test)]
mod testing;

pub use detector::{
    Detector, DetectorNote, FileFacts, FileSink, ImportRef, Needs, ProjectFacts, ProjectSink, Rule,
    TextRange,
};
pub use engine::{
    CancellationToken, Engine, EngineError, Progress, ProgressCallback, Report, RunOptions,
    RunStats, DEFAULT_MAX_FILE_BYTES,
};
pub use finding::{Category, Finding, Severity};
pub use output::{format_json, format_sarif, format_table};
pub use registry::{Registry, UnknownDetectors, DETECTOR_NAMES, TOOL_NAMES};
pub use sarif::to_sarif;
