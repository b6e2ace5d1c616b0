//! Read models and the projectors that fill them: catch-up readers that write their rows and
//! their checkpoint in one transaction (exactly once), in the log's catch-up order. Also the
//! queries the API serves from those tables, and `rebuild`, which replays them from the log.
//!
//! Depends on `domain` (to read events) and `infrastructure` (the catch-up reader). It must not
//! import `api`, and it never writes events.

pub mod analyses;
pub mod issues;
pub mod projects;
pub mod queries;
pub mod runner;

pub use runner::{
    rebuild, ProjectionError, ProjectionStats, Projector, ProjectorHandle, ProjectorRunner,
};

use std::sync::Arc;

/// Every projector of the system, in the order they are started and rebuilt.
pub fn all_projectors() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(projects::ProjectsProjector),
        Arc::new(analyses::AnalysesProjector),
        Arc::new(issues::AnalysisIssuesProjector),
    ]
}
