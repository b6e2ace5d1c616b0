//! Getting an analysis's source onto disk for one job.

pub mod archive;
pub mod git;
pub mod uploads;

pub use git::{GitLimits, GitSourceFetcher};
