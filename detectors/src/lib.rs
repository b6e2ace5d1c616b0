//! The analysis engine: a directory in, findings out.
//! Owns the `Detector` trait, the registry and every detector.
//! Must not import anything about events, HTTP, SQL or NATS (no domain/application/infrastructure).
//!
//! Callers use [`Engine::run`] with detector names (see [`Registry::names`]) and [`RunOptions`]
//! (size bound, cancellation, progress); they get a [`Report`] of [`Finding`]s sorted by file,
//! line and column, each with a stable [`Finding::fingerprint`].

pub mod detector;
pub mod detectors;
pub mod engine;
pub mod finding;
pub mod js;
pub mod registry;
pub mod source;
pub mod walk;

#[cfg(test)]
mod testing;

pub use detector::{Detector, FileSink, Needs, ProjectFacts, ProjectSink, Rule};
pub use engine::{
    CancellationToken, Engine, EngineError, Progress, ProgressCallback, Report, RunOptions,
    RunStats, UnavailableDetector, DEFAULT_MAX_FILE_BYTES,
};
pub use finding::{Category, Finding, Severity};
pub use registry::{PendingDetector, Registry, UnknownDetectors, DETECTOR_NAMES};
