//! Given/when/then tests of the analysis lifecycle rules.

use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::ids::{AnalysisId, ProjectId, UserId};
use crate::severity::Severity;
use crate::NoServices;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn framework() -> TestFramework<Analysis> {
    TestFramework::with(NoServices)
}

fn source() -> AnalysisSource {
    AnalysisSource::Git {
        git_remote: "https://example.com/acme/shop.git".into(),
        git_branch: "main".into(),
        git_commit: None,
    }
}

fn request_command() -> AnalysisCommand {
    AnalysisCommand::Request {
        analysis_id: AnalysisId::from_uuid(Uuid::from_u128(7)),
        owner: UserId::from_uuid(Uuid::from_u128(1)),
        project_id: ProjectId::from_uuid(Uuid::from_u128(2)),
        project_name: "shop".into(),
        detectors: vec!["security".into()],
        language: None,
        path: None,
        source: source(),
        at: t(0),
    }
}

fn requested() -> AnalysisEvent {
    AnalysisEvent::AnalysisRequested {
        analysis_id: AnalysisId::from_uuid(Uuid::from_u128(7)),
        owner: UserId::from_uuid(Uuid::from_u128(1)),
        project_id: ProjectId::from_uuid(Uuid::from_u128(2)),
        project_name: "shop".into(),
        detectors: vec!["security".into()],
        language: None,
        path: None,
        source: source(),
        requested_at: t(0),
    }
}

fn started(attempt: u32, at: i64) -> AnalysisEvent {
    AnalysisEvent::AnalysisStarted {
        attempt,
        worker: "w1".into(),
        started_at: t(at),
    }
}

fn finding(severity: Severity, line: u32) -> Finding {
    Finding {
        severity,
        detector: "security".into(),
        rule: "aws-access-key".into(),
        category: "secrets".into(),
        file_path: "src/config.ts".into(),
        line,
        column: Some(1),
        end_line: None,
        end_column: None,
        message: "hard-coded AWS access key".into(),
        suggestion: Some("move it to a secret store".into()),
        confidence: 0.9,
        auto_fixable: false,
        snippet: None,
        fingerprint: None,
    }
}

fn batch(batch: u32, findings: Vec<Finding>) -> AnalysisEvent {
    AnalysisEvent::IssueBatchRecorded {
        batch,
        findings,
        recorded_at: t(5),
    }
}

fn completed_at(summary: Summary, at: i64, duration_ms: i64) -> AnalysisEvent {
    AnalysisEvent::AnalysisCompleted {
        summary,
        finished_at: t(at),
        duration_ms: Some(duration_ms),
    }
}

#[test]
fn a_request_queues_the_analysis() {
    framework()
        .given_no_previous_events()
        .when(request_command())
        .then_expect_events(vec![requested()]);
}

#[test]
fn a_repeated_request_is_a_no_op() {
    framework()
        .given(vec![requested()])
        .when(request_command())
        .then_expect_events(vec![]);
}

#[test]
fn a_request_without_detectors_is_refused() {
    let AnalysisCommand::Request {
        analysis_id,
        owner,
        project_id,
        project_name,
        language,
        path,
        source,
        at,
        ..
    } = request_command()
    else {
        unreachable!()
    };
    framework()
        .given_no_previous_events()
        .when(AnalysisCommand::Request {
            analysis_id,
            owner,
            project_id,
            project_name,
            detectors: vec![],
            language,
            path,
            source,
            at,
        })
        .then_expect_error(AnalysisError::NoDetectors);
}

#[test]
fn starting_a_queued_analysis_makes_it_running_attempt_one() {
    framework()
        .given(vec![requested()])
        .when(AnalysisCommand::Start {
            worker: "w1".into(),
            at: t(1),
        })
        .then_expect_events(vec![started(1, 1)]);
}

#[test]
fn a_restart_while_running_counts_a_new_attempt() {
    framework()
        .given(vec![requested(), started(1, 1)])
        .when(AnalysisCommand::Start {
            worker: "w1".into(),
            at: t(9),
        })
        .then_expect_events(vec![started(2, 9)]);
}

#[test]
fn an_unknown_analysis_cannot_start() {
    framework()
        .given_no_previous_events()
        .when(AnalysisCommand::Start {
            worker: "w1".into(),
            at: t(1),
        })
        .then_expect_error(AnalysisError::NotFound);
}

#[test]
fn progress_is_recorded_while_running() {
    framework()
        .given(vec![requested(), started(1, 1)])
        .when(AnalysisCommand::ReportProgress {
            progress: 40,
            at: t(2),
        })
        .then_expect_events(vec![AnalysisEvent::AnalysisProgressed {
            progress: 40,
            at: t(2),
        }]);
}

#[test]
fn progress_above_100_is_refused() {
    framework()
        .given(vec![requested(), started(1, 1)])
        .when(AnalysisCommand::ReportProgress {
            progress: 101,
            at: t(2),
        })
        .then_expect_error(AnalysisError::InvalidProgress(101));
}

#[test]
fn progress_on_a_queued_analysis_is_refused() {
    framework()
        .given(vec![requested()])
        .when(AnalysisCommand::ReportProgress {
            progress: 10,
            at: t(2),
        })
        .then_expect_error_message("analysis is not running: QUEUED");
}

#[test]
fn a_batch_is_recorded_while_running() {
    let findings = vec![finding(Severity::High, 3)];
    framework()
        .given(vec![requested(), started(1, 1)])
        .when(AnalysisCommand::RecordIssueBatch {
            batch: 1,
            findings: findings.clone(),
            at: t(5),
        })
        .then_expect_events(vec![batch(1, findings)]);
}

#[test]
fn a_batch_number_already_recorded_is_a_no_op() {
    framework()
        .given(vec![
            requested(),
            started(1, 1),
            batch(1, vec![finding(Severity::High, 3)]),
        ])
        .when(AnalysisCommand::RecordIssueBatch {
            batch: 1,
            findings: vec![finding(Severity::Low, 9)],
            at: t(6),
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_batch_over_the_limit_is_refused() {
    framework()
        .given(vec![requested(), started(1, 1)])
        .when(AnalysisCommand::RecordIssueBatch {
            batch: 1,
            findings: vec![finding(Severity::Low, 1); MAX_FINDINGS_PER_BATCH + 1],
            at: t(5),
        })
        .then_expect_error(AnalysisError::BatchTooLarge {
            max: MAX_FINDINGS_PER_BATCH,
            got: MAX_FINDINGS_PER_BATCH + 1,
        });
}

#[test]
fn a_batch_with_an_invalid_finding_is_refused_whole() {
    let mut bad = finding(Severity::Low, 1);
    bad.file_path = "../etc/passwd".into();
    framework()
        .given(vec![requested(), started(1, 1)])
        .when(AnalysisCommand::RecordIssueBatch {
            batch: 1,
            findings: vec![finding(Severity::Low, 1), bad],
            at: t(5),
        })
        .then_expect_error(AnalysisError::InvalidFinding(FindingError::FilePath {
            index: 1,
        }));
}

#[test]
fn the_summary_counts_every_recorded_finding_per_severity() {
    let summary = Summary {
        total_issues: 4,
        critical: 1,
        high: 2,
        medium: 0,
        low: 0,
        info: 1,
    };
    framework()
        .given(vec![
            requested(),
            started(1, 10),
            batch(
                1,
                vec![finding(Severity::Critical, 1), finding(Severity::High, 2)],
            ),
            batch(
                2,
                vec![finding(Severity::High, 3), finding(Severity::Info, 4)],
            ),
        ])
        .when(AnalysisCommand::Complete { at: t(40) })
        .then_expect_events(vec![completed_at(summary, 40, 30_000)]);
}

#[test]
fn duration_runs_from_the_first_start_across_retries() {
    framework()
        .given(vec![
            requested(),
            started(1, 10),
            AnalysisEvent::AnalysisRescheduled {
                failed_attempt: 1,
                error: "clone timed out".into(),
                retry_count: 1,
                retry_at: t(20),
                at: t(15),
            },
            started(2, 20),
        ])
        .when(AnalysisCommand::Complete { at: t(25) })
        .then_expect_events(vec![completed_at(Summary::default(), 25, 15_000)]);
}

#[test]
fn a_failed_attempt_goes_back_to_the_queue_keeping_the_attempt_count() {
    let mut analysis = Analysis::default();
    for event in [
        requested(),
        started(1, 1),
        AnalysisEvent::AnalysisRescheduled {
            failed_attempt: 1,
            error: "boom".into(),
            retry_count: 1,
            retry_at: t(9),
            at: t(3),
        },
    ] {
        cqrs_es::Aggregate::apply(&mut analysis, event);
    }
    assert_eq!(analysis.status, Some(AnalysisStatus::Queued));
    assert_eq!(analysis.attempt, 1);
    assert_eq!(analysis.retry_count, 1);
    framework()
        .given(vec![
            requested(),
            started(1, 1),
            AnalysisEvent::AnalysisRescheduled {
                failed_attempt: 1,
                error: "boom".into(),
                retry_count: 1,
                retry_at: t(9),
                at: t(3),
            },
        ])
        .when(AnalysisCommand::Start {
            worker: "w2".into(),
            at: t(9),
        })
        .then_expect_events(vec![AnalysisEvent::AnalysisStarted {
            attempt: 2,
            worker: "w2".into(),
            started_at: t(9),
        }]);
}

#[test]
fn a_running_analysis_can_fail_with_its_error() {
    framework()
        .given(vec![requested(), started(1, 1)])
        .when(AnalysisCommand::Fail {
            error: "repository not found".into(),
            at: t(4),
        })
        .then_expect_events(vec![AnalysisEvent::AnalysisFailed {
            attempt: 1,
            error: "repository not found".into(),
            finished_at: t(4),
            duration_ms: Some(3_000),
        }]);
}

#[test]
fn a_queued_analysis_can_be_cancelled_without_a_duration() {
    framework()
        .given(vec![requested()])
        .when(AnalysisCommand::Cancel {
            reason: None,
            at: t(2),
        })
        .then_expect_events(vec![AnalysisEvent::AnalysisCancelled {
            reason: None,
            previous_status: AnalysisStatus::Queued,
            finished_at: t(2),
            duration_ms: None,
        }]);
}

#[test]
fn a_finished_analysis_cannot_be_cancelled() {
    framework()
        .given(vec![
            requested(),
            started(1, 1),
            completed_at(Summary::default(), 2, 1_000),
        ])
        .when(AnalysisCommand::Cancel {
            reason: None,
            at: t(3),
        })
        .then_expect_error_message("analysis already finished: COMPLETED");
}

#[test]
fn nothing_leaves_a_terminal_state() {
    let terminal_histories = [
        vec![
            requested(),
            started(1, 1),
            completed_at(Summary::default(), 2, 1_000),
        ],
        vec![
            requested(),
            started(1, 1),
            AnalysisEvent::AnalysisFailed {
                attempt: 1,
                error: "x".into(),
                finished_at: t(2),
                duration_ms: Some(1_000),
            },
        ],
        vec![
            requested(),
            AnalysisEvent::AnalysisCancelled {
                reason: None,
                previous_status: AnalysisStatus::Queued,
                finished_at: t(2),
                duration_ms: None,
            },
        ],
    ];
    for history in terminal_histories {
        let commands = [
            AnalysisCommand::Start {
                worker: "w".into(),
                at: t(5),
            },
            AnalysisCommand::ReportProgress {
                progress: 5,
                at: t(5),
            },
            AnalysisCommand::RecordIssueBatch {
                batch: 9,
                findings: vec![],
                at: t(5),
            },
            AnalysisCommand::Complete { at: t(5) },
            AnalysisCommand::Fail {
                error: "x".into(),
                at: t(5),
            },
            AnalysisCommand::Reschedule {
                error: "x".into(),
                retry_at: t(6),
                at: t(5),
            },
            AnalysisCommand::Cancel {
                reason: None,
                at: t(5),
            },
        ];
        for command in commands {
            let result = framework()
                .given(history.clone())
                .when(command.clone())
                .inspect_result();
            assert!(
                matches!(result, Err(AnalysisError::AlreadyFinished(_))),
                "{command:?} after {history:?} gave {result:?}"
            );
        }
    }
}

#[test]
fn the_fetched_commit_is_recorded_once() {
    let commit = "0123456789abcdef0123456789abcdef01234567".to_string();
    framework()
        .given(vec![requested(), started(1, 1)])
        .when(AnalysisCommand::RecordSource {
            commit: commit.clone(),
            at: t(2),
        })
        .then_expect_events(vec![AnalysisEvent::AnalysisSourceFetched {
            commit: commit.clone(),
            at: t(2),
        }]);
    framework()
        .given(vec![
            requested(),
            started(1, 1),
            AnalysisEvent::AnalysisSourceFetched {
                commit: commit.clone(),
                at: t(2),
            },
        ])
        .when(AnalysisCommand::RecordSource { commit, at: t(3) })
        .then_expect_events(vec![]);
}

#[test]
fn a_commit_that_is_not_hex_is_refused() {
    framework()
        .given(vec![requested(), started(1, 1)])
        .when(AnalysisCommand::RecordSource {
            commit: "main".into(),
            at: t(2),
        })
        .then_expect_error(AnalysisError::InvalidCommit("main".into()));
}

/// The event store may apply an event twice (cqrs-es 0.5 does when it takes a snapshot): the
/// state must come out the same.
#[test]
fn applying_any_event_twice_changes_nothing_more() {
    let history = vec![
        requested(),
        started(1, 1),
        AnalysisEvent::AnalysisSourceFetched {
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            at: t(2),
        },
        AnalysisEvent::AnalysisProgressed {
            progress: 10,
            at: t(3),
        },
        batch(
            1,
            vec![finding(Severity::High, 1), finding(Severity::Low, 2)],
        ),
        AnalysisEvent::AnalysisRescheduled {
            failed_attempt: 1,
            error: "x".into(),
            retry_count: 1,
            retry_at: t(9),
            at: t(4),
        },
        started(2, 10),
        completed_at(Summary::default(), 20, 19_000),
    ];
    let mut once = Analysis::default();
    let mut twice = Analysis::default();
    for event in history {
        cqrs_es::Aggregate::apply(&mut once, event.clone());
        cqrs_es::Aggregate::apply(&mut twice, event.clone());
        cqrs_es::Aggregate::apply(&mut twice, event);
    }
    assert_eq!(once, twice);
    assert_eq!(once.summary.total_issues, 2);
}
