//! The public shape of domain events on NATS (documented in docs/events.md): subjects
//! `<prefix>.events.<aggregate>.<event>.<id>` and a CloudEvents-style JSON body, version 1.

use std::borrow::Cow;

use serde_json::value::RawValue;
use uuid::Uuid;

use crate::catch_up::PublishedEvent;

/// The version of the message body; outside subscribers rely on it.
pub const MESSAGE_VERSION: u32 = 1;

/// `analysis`, `project`, ...: the aggregate type in lower case.
pub fn aggregate_token(aggregate_type: &str) -> String {
    aggregate_type.to_ascii_lowercase()
}

/// The event's public name: `requested`, `completed`, `issues_recorded`, ...
pub fn event_token(aggregate_type: &str, event_type: &str) -> String {
    if event_type == "IssueBatchRecorded" {
        return "issues_recorded".to_string();
    }
    let rest = event_type
        .strip_prefix(aggregate_type)
        .unwrap_or(event_type);
    let mut token = String::with_capacity(rest.len() + 4);
    for (index, c) in rest.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if index > 0 {
                token.push('_');
            }
            token.push(c.to_ascii_lowercase());
        } else {
            token.push(c);
        }
    }
    token
}

/// `analysis.completed`, ...
pub fn public_type(aggregate_type: &str, event_type: &str) -> String {
    format!(
        "{}.{}",
        aggregate_token(aggregate_type),
        event_token(aggregate_type, event_type)
    )
}

pub fn subject(prefix: &str, event: &PublishedEvent) -> String {
    format!(
        "{prefix}.events.{}.{}.{}",
        aggregate_token(&event.aggregate_type),
        event_token(&event.aggregate_type, &event.event_type),
        event.aggregate_id
    )
}

/// The message body (version 1), field by field. `data` is the stored event's fields, copied
/// as they are (events are stored in camelCase for this reason).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    specversion: &'static str,
    version: u32,
    id: Uuid,
    #[serde(rename = "type")]
    event_type: Cow<'static, str>,
    source: Cow<'static, str>,
    subject: &'a str,
    time: &'a chrono::DateTime<chrono::Utc>,
    datacontenttype: &'static str,
    sequence: i64,
    event_version: &'a str,
    correlation_id: Option<Uuid>,
    causation_id: Option<Uuid>,
    actor: Option<&'a str>,
    data: &'a RawValue,
}

/// The message body of one event, as JSON bytes.
pub fn envelope_bytes(event: &PublishedEvent) -> Result<Vec<u8>, serde_json::Error> {
    into_envelope_bytes(event.clone())
}

/// The same, taking the event (its data is moved into the body, not copied).
pub fn into_envelope_bytes(mut event: PublishedEvent) -> Result<Vec<u8>, serde_json::Error> {
    let data = RawValue::from_string(std::mem::take(&mut event.data))?;
    let event = &event;
    let (event_type, source) = match known_names(&event.aggregate_type, &event.event_type) {
        Some((event_type, source)) => (Cow::Borrowed(event_type), Cow::Borrowed(source)),
        None => (
            Cow::Owned(public_type(&event.aggregate_type, &event.event_type)),
            Cow::Owned(format!(
                "/insight/{}",
                aggregate_token(&event.aggregate_type)
            )),
        ),
    };
    let mut body = Vec::with_capacity(data.get().len() + 512);
    serde_json::to_writer(
        &mut body,
        &Envelope {
            specversion: "1.0",
            version: MESSAGE_VERSION,
            id: event.event_id,
            event_type,
            source,
            subject: &event.aggregate_id,
            time: &event.recorded_at,
            datacontenttype: "application/json",
            sequence: event.sequence,
            event_version: &event.event_version,
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            actor: event.actor.as_deref(),
            data: &data,
        },
    )?;
    Ok(body)
}

/// The public type and source of every event the domain has, without formatting them per
/// message (the relay publishes tens of thousands a second).
fn known_names(aggregate_type: &str, event_type: &str) -> Option<(&'static str, &'static str)> {
    const ANALYSIS: &str = "/insight/analysis";
    const PROJECT: &str = "/insight/project";
    Some(match (aggregate_type, event_type) {
        ("Analysis", "AnalysisRequested") => ("analysis.requested", ANALYSIS),
        ("Analysis", "AnalysisStarted") => ("analysis.started", ANALYSIS),
        ("Analysis", "AnalysisSourceFetched") => ("analysis.source_fetched", ANALYSIS),
        ("Analysis", "AnalysisProgressed") => ("analysis.progressed", ANALYSIS),
        ("Analysis", "IssueBatchRecorded") => ("analysis.issues_recorded", ANALYSIS),
        ("Analysis", "AnalysisCompleted") => ("analysis.completed", ANALYSIS),
        ("Analysis", "AnalysisFailed") => ("analysis.failed", ANALYSIS),
        ("Analysis", "AnalysisRescheduled") => ("analysis.rescheduled", ANALYSIS),
        ("Analysis", "AnalysisCancelled") => ("analysis.cancelled", ANALYSIS),
        ("Project", "ProjectCreated") => ("project.created", PROJECT),
        ("Project", "ProjectRenamed") => ("project.renamed", PROJECT),
        ("Project", "ProjectArchived") => ("project.archived", PROJECT),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_known_names_agrees_with_the_rule() {
        for (aggregate, event) in [
            ("Analysis", "AnalysisRequested"),
            ("Analysis", "AnalysisStarted"),
            ("Analysis", "AnalysisSourceFetched"),
            ("Analysis", "AnalysisProgressed"),
            ("Analysis", "IssueBatchRecorded"),
            ("Analysis", "AnalysisCompleted"),
            ("Analysis", "AnalysisFailed"),
            ("Analysis", "AnalysisRescheduled"),
            ("Analysis", "AnalysisCancelled"),
            ("Project", "ProjectCreated"),
            ("Project", "ProjectRenamed"),
            ("Project", "ProjectArchived"),
        ] {
            let (known, source) = known_names(aggregate, event).unwrap();
            assert_eq!(known, public_type(aggregate, event));
            assert_eq!(source, format!("/insight/{}", aggregate_token(aggregate)));
        }
    }

    #[test]
    fn event_names_become_public_tokens() {
        assert_eq!(
            public_type("Analysis", "AnalysisRequested"),
            "analysis.requested"
        );
        assert_eq!(
            public_type("Analysis", "AnalysisSourceFetched"),
            "analysis.source_fetched"
        );
        assert_eq!(
            public_type("Analysis", "IssueBatchRecorded"),
            "analysis.issues_recorded"
        );
        assert_eq!(public_type("Project", "ProjectCreated"), "project.created");
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;
    use application::EventPosition;
    use chrono::Utc;
    use domain::analysis::AnalysisSource;
    use domain::{AnalysisEvent, AnalysisId, ProjectId, UserId};
    use serde_json::Value;

    /// docs/events.md promises these members; this keeps the page and the code together.
    #[test]
    fn a_requested_event_has_the_documented_body() {
        let payload = AnalysisEvent::AnalysisRequested {
            analysis_id: AnalysisId::from_uuid(Uuid::from_u128(1)),
            owner: UserId::from_uuid(Uuid::from_u128(2)),
            project_id: ProjectId::from_uuid(Uuid::from_u128(3)),
            project_name: "shop".into(),
            detectors: vec!["eslint".into()],
            language: None,
            path: None,
            source: AnalysisSource::Git {
                git_remote: "https://example.com/r.git".into(),
                git_branch: "main".into(),
                git_commit: None,
            },
            requested_at: Utc::now(),
        };
        // As stored: `{"AnalysisRequested": {...}}`; the relay publishes the inside.
        let stored = serde_json::to_value(&payload).unwrap();
        let event = PublishedEvent {
            position: EventPosition::default(),
            event_id: Uuid::from_u128(9),
            aggregate_type: "Analysis".into(),
            aggregate_id: Uuid::from_u128(1).to_string(),
            sequence: 1,
            event_type: "AnalysisRequested".into(),
            event_version: "1.0".into(),
            data: stored["AnalysisRequested"].to_string(),
            actor: Some("user:x".into()),
            correlation_id: Some(Uuid::from_u128(5)),
            causation_id: None,
            recorded_at: Utc::now(),
        };
        let body: Value = serde_json::from_slice(&envelope_bytes(&event).unwrap()).unwrap();
        for member in [
            "specversion",
            "version",
            "id",
            "type",
            "source",
            "subject",
            "time",
            "datacontenttype",
            "sequence",
            "eventVersion",
            "correlationId",
            "causationId",
            "actor",
        ] {
            assert!(body.get(member).is_some(), "{member}");
        }
        assert_eq!(body["type"], "analysis.requested");
        assert_eq!(body["version"], 1);
        let data = &body["data"];
        for member in [
            "analysisId",
            "owner",
            "projectId",
            "projectName",
            "detectors",
            "language",
            "path",
            "source",
            "requestedAt",
        ] {
            assert!(data.get(member).is_some(), "data.{member}");
        }
        assert_eq!(data["source"]["kind"], "git");
        assert_eq!(data["source"]["gitBranch"], "main");
        assert_eq!(
            subject("insight", &event),
            format!("insight.events.analysis.requested.{}", Uuid::from_u128(1))
        );
    }
}
