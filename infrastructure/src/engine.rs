//! The worker's `DetectorEngine` port, answered by the `detectors` crate.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use application::jobs::{DetectorEngine, EngineFailure, ProgressSender};
use async_trait::async_trait;
use detectors::{CancellationToken, Engine, EngineError, RunOptions};
use domain::{Finding, Severity};

#[derive(Default, Clone)]
pub struct DetectorsEngine {
    engine: Arc<Engine>,
}

fn severity(severity: detectors::Severity) -> Severity {
    match severity {
        detectors::Severity::Critical => Severity::Critical,
        detectors::Severity::High => Severity::High,
        detectors::Severity::Medium => Severity::Medium,
        detectors::Severity::Low => Severity::Low,
        detectors::Severity::Info => Severity::Info,
    }
}

fn finding(found: detectors::Finding) -> Finding {
    Finding {
        severity: severity(found.severity),
        detector: found.detector,
        rule: found.rule_id,
        category: found.category.as_str().to_string(),
        file_path: found.file_path,
        line: found.line.max(1),
        column: Some(found.column),
        end_line: Some(found.end_line),
        end_column: Some(found.end_column),
        message: found.message,
        suggestion: found.suggestion,
        confidence: f64::from(found.confidence).clamp(0.0, 1.0),
        auto_fixable: found.auto_fixable,
        snippet: found.snippet,
        fingerprint: Some(found.fingerprint),
    }
}

#[async_trait]
impl DetectorEngine for DetectorsEngine {
    async fn run(
        &self,
        root: &Path,
        detectors: &[String],
        progress: ProgressSender,
        cancel: Arc<AtomicBool>,
    ) -> Result<Vec<Finding>, EngineFailure> {
        let engine = self.engine.clone();
        let root = root.to_path_buf();
        let detectors = detectors.to_vec();
        let options = RunOptions {
            cancellation: CancellationToken::from_flag(cancel),
            progress: Some(Arc::new(move |done: detectors::Progress| {
                if let Some(percent) = (done.files_done * 100).checked_div(done.files_total) {
                    let percent = percent.min(100) as u8;
                    progress.send_if_modified(|last| {
                        let changed = *last != percent;
                        *last = percent;
                        changed
                    });
                }
            })),
            ..RunOptions::default()
        };
        // The engine is CPU-bound (rayon): keep it off the async workers.
        let report = tokio::task::spawn_blocking(move || engine.run(&root, &detectors, &options))
            .await
            .map_err(|error| {
                EngineFailure::Failed(format!("the detector engine crashed: {error}"))
            })?;
        match report {
            Ok(report) => {
                // What a detector could not do (an outside tool not installed...): the analysis
                // still completes; the note is only logged for now.
                for note in &report.notes {
                    tracing::warn!(detector = %note.detector, note = %note.message, "detector note");
                }
                Ok(report.findings.into_iter().map(finding).collect())
            }
            Err(EngineError::Cancelled { .. }) => Err(EngineFailure::Cancelled),
            Err(error) => Err(EngineFailure::Failed(error.to_string())),
        }
    }
}
