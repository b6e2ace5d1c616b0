//! The `Analysis` aggregate: one run of detectors over a project's source, from request to a
//! terminal state (COMPLETED, FAILED or CANCELLED).

mod aggregate;
mod commands;
mod events;
mod finding;
#[cfg(test)]
mod tests;

pub use aggregate::{Analysis, AnalysisError, AnalysisStatus};
pub use commands::AnalysisCommand;
pub use events::{AnalysisEvent, AnalysisSource};
pub use finding::{Finding, FindingError, Summary, MAX_FINDINGS_PER_BATCH};
