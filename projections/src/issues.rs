//! `rm_analysis_issues` (one row per finding, indexed for the issue page's order and filters)
//! and `rm_analysis_issue_facets` (counts per severity, detector and category, so a page's
//! total needs no count over a large analysis).

use std::collections::HashMap;

use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::{Analysis, AnalysisEvent};
use infrastructure::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::runner::{aggregate_uuid, ProjectionError, Projector};

pub struct AnalysisIssuesProjector;

/// Issue ids are derived, not random, so a rebuild gives every issue the same id again.
pub fn issue_id(analysis_id: Uuid, batch: u32, index: usize) -> Uuid {
    Uuid::new_v5(&analysis_id, format!("issue:{batch}:{index}").as_bytes())
}

#[async_trait]
impl Projector for AnalysisIssuesProjector {
    fn name(&self) -> &'static str {
        "analysis_issues"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_analysis_issues", "rm_analysis_issue_facets"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        &["IssueBatchRecorded"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type != <Analysis as Aggregate>::TYPE
            || event.event_type != "IssueBatchRecorded"
        {
            return Ok(());
        }
        let analysis_id = aggregate_uuid(event)?;
        let AnalysisEvent::IssueBatchRecorded {
            batch, findings, ..
        } = event
            .decode()
            .map_err(|error| ProjectionError::decode(event, error))?
        else {
            return Ok(());
        };
        if findings.is_empty() {
            return Ok(());
        }

        let count = findings.len();
        let mut ids = Vec::with_capacity(count);
        let mut indexes = Vec::with_capacity(count);
        let mut ranks = Vec::with_capacity(count);
        let mut detectors = Vec::with_capacity(count);
        let mut rules = Vec::with_capacity(count);
        let mut categories = Vec::with_capacity(count);
        let mut paths = Vec::with_capacity(count);
        let mut lines = Vec::with_capacity(count);
        let mut columns = Vec::with_capacity(count);
        let mut end_lines = Vec::with_capacity(count);
        let mut end_columns = Vec::with_capacity(count);
        let mut messages = Vec::with_capacity(count);
        let mut suggestions = Vec::with_capacity(count);
        let mut confidences = Vec::with_capacity(count);
        let mut fixables = Vec::with_capacity(count);
        let mut snippets = Vec::with_capacity(count);
        let mut fingerprints = Vec::with_capacity(count);
        let mut facets: HashMap<(i16, String, String), i64> = HashMap::new();
        for (index, finding) in findings.into_iter().enumerate() {
            let rank = finding.severity.rank();
            *facets
                .entry((rank, finding.detector.clone(), finding.category.clone()))
                .or_default() += 1;
            ids.push(issue_id(analysis_id, batch, index));
            indexes.push(index as i32);
            ranks.push(rank);
            detectors.push(finding.detector);
            rules.push(finding.rule);
            categories.push(finding.category);
            paths.push(finding.file_path);
            lines.push(to_i32(finding.line));
            columns.push(finding.column.map(to_i32));
            end_lines.push(finding.end_line.map(to_i32));
            end_columns.push(finding.end_column.map(to_i32));
            messages.push(finding.message);
            suggestions.push(finding.suggestion);
            confidences.push(finding.confidence);
            fixables.push(finding.auto_fixable);
            snippets.push(finding.snippet);
            fingerprints.push(finding.fingerprint);
        }

        // One statement per batch: arrays unnested server-side.
        sqlx::query(
            "INSERT INTO rm_analysis_issues (analysis_id, batch, idx, id, severity_rank, \
                 detector, rule, category, file_path, line, col, end_line, end_col, message, \
                 suggestion, confidence, auto_fixable, snippet, fingerprint) \
             SELECT $1, $2, * FROM UNNEST($3::int[], $4::uuid[], $5::smallint[], $6::text[], \
                 $7::text[], $8::text[], $9::text[], $10::int[], $11::int[], $12::int[], \
                 $13::int[], $14::text[], $15::text[], $16::float8[], $17::bool[], \
                 $18::text[], $19::text[])",
        )
        .bind(analysis_id)
        .bind(batch as i32)
        .bind(indexes)
        .bind(ids)
        .bind(ranks)
        .bind(detectors)
        .bind(rules)
        .bind(categories)
        .bind(paths)
        .bind(lines)
        .bind(columns)
        .bind(end_lines)
        .bind(end_columns)
        .bind(messages)
        .bind(suggestions)
        .bind(confidences)
        .bind(fixables)
        .bind(snippets)
        .bind(fingerprints)
        .execute(&mut *conn)
        .await?;

        let mut facet_ranks = Vec::with_capacity(facets.len());
        let mut facet_detectors = Vec::with_capacity(facets.len());
        let mut facet_categories = Vec::with_capacity(facets.len());
        let mut facet_counts = Vec::with_capacity(facets.len());
        for ((rank, detector, category), issues) in facets {
            facet_ranks.push(rank);
            facet_detectors.push(detector);
            facet_categories.push(category);
            facet_counts.push(issues);
        }
        sqlx::query(
            "INSERT INTO rm_analysis_issue_facets (analysis_id, severity_rank, detector, \
                 category, issues) \
             SELECT $1, * FROM UNNEST($2::smallint[], $3::text[], $4::text[], $5::bigint[]) \
             ON CONFLICT (analysis_id, severity_rank, detector, category) \
             DO UPDATE SET issues = rm_analysis_issue_facets.issues + EXCLUDED.issues",
        )
        .bind(analysis_id)
        .bind(facet_ranks)
        .bind(facet_detectors)
        .bind(facet_categories)
        .bind(facet_counts)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Lines and columns beyond i32 do not occur in source files; clamp rather than fail a batch.
fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
