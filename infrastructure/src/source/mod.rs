//! Getting an analysis's source onto disk for one job.

pub mod git;

pub use git::{GitLimits, GitSourceFetcher};
