use chrono::{DateTime, Duration, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use uuid::Uuid;

use super::*;

type Given = TestFramework<Subscription>;

fn framework() -> Given {
    TestFramework::with(PlanCatalog::default())
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn now() -> DateTime<Utc> {
    at("2026-11-10T12:00:00Z")
}

fn user() -> UserId {
    UserId::from_uuid(Uuid::from_u128(7))
}

fn analysis(n: u128) -> AnalysisId {
    AnalysisId::from_uuid(Uuid::from_u128(1000 + n))
}

fn november() -> Period {
    Period::calendar_month(now())
}

fn opened(plan: Plan) -> SubscriptionEvent {
    SubscriptionEvent::SubscriptionOpened {
        user_id: user(),
        plan,
        status: SubscriptionStatus::Active,
        period: november(),
        opened_at: now(),
    }
}

fn counted(n: u128, counted_at: DateTime<Utc>, used: u32) -> SubscriptionEvent {
    SubscriptionEvent::AnalysisCounted {
        analysis_id: analysis(n),
        counted_at,
        used_in_period: used,
    }
}

fn count(n: u128, at: DateTime<Utc>) -> SubscriptionCommand {
    SubscriptionCommand::CountAnalysis {
        user: user(),
        analysis_id: analysis(n),
        at,
    }
}

fn origin(id: &str, created: DateTime<Utc>) -> StripeOrigin {
    StripeOrigin {
        event_id: id.to_string(),
        created,
    }
}

fn stripe_state(status: SubscriptionStatus, plan: Plan) -> StripeSubscriptionState {
    StripeSubscriptionState {
        subscription_id: "sub_1".into(),
        customer_id: "cus_1".into(),
        status,
        plan,
        period: Period {
            start: at("2026-11-05T09:00:00Z"),
            end: at("2026-12-05T09:00:00Z"),
        },
    }
}

fn sync(
    id: &str,
    created: DateTime<Utc>,
    status: SubscriptionStatus,
    plan: Plan,
) -> SubscriptionCommand {
    SubscriptionCommand::SyncStripeSubscription {
        user: user(),
        origin: origin(id, created),
        state: stripe_state(status, plan),
        at: now(),
    }
}

/// Free-plan history with `n` analyses counted over the last few days (outside the hour).
fn free_with(n: u32) -> Vec<SubscriptionEvent> {
    let mut events = vec![opened(Plan::Free)];
    for i in 0..n {
        events.push(counted(i as u128, now() - Duration::days(1), i + 1));
    }
    events
}

#[test]
fn the_first_count_opens_a_free_subscription_on_the_calendar_month() {
    framework()
        .given_no_previous_events()
        .when(count(1, now()))
        .then_expect_events(vec![opened(Plan::Free), counted(1, now(), 1)]);
}

#[test]
fn the_period_quota_refuses_the_eleventh_free_analysis() {
    framework()
        .given(free_with(10))
        .when(count(99, now()))
        .then_expect_error(SubscriptionError::LimitReached {
            kind: LimitKind::AnalysesPerPeriod,
            limit: 10,
            used: 10,
            resets_at: Some(at("2026-12-01T00:00:00Z")),
        });
}

#[test]
fn the_quota_resets_when_the_calendar_month_turns() {
    let december = at("2026-12-01T00:00:01Z");
    framework()
        .given(free_with(10))
        .when(count(99, december))
        .then_expect_events(vec![
            SubscriptionEvent::UsagePeriodStarted {
                period: Period::calendar_month(december),
            },
            counted(99, december, 1),
        ]);
}

#[test]
fn the_hourly_window_slides() {
    let mut given = vec![opened(Plan::Free)];
    for i in 0..5u128 {
        given.push(counted(
            i,
            now() - Duration::minutes(50 - i as i64),
            i as u32 + 1,
        ));
    }
    framework()
        .given(given.clone())
        .when(count(9, now()))
        .then_expect_error(SubscriptionError::LimitReached {
            kind: LimitKind::AnalysesPerHour,
            limit: 5,
            used: 5,
            resets_at: Some(now() + Duration::minutes(10)),
        });
    // Eleven minutes later the oldest one has left the window.
    let later = now() + Duration::minutes(11);
    framework()
        .given(given)
        .when(count(9, later))
        .then_expect_events(vec![counted(9, later, 6)]);
}

#[test]
fn unpaid_or_paused_subscriptions_cannot_run_cloud_analyses() {
    for status in [
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::IncompleteExpired,
        SubscriptionStatus::Paused,
    ] {
        let mut state = stripe_state(status, Plan::Pro);
        state.period = november();
        let synced = SubscriptionEvent::StripeSubscriptionSynced {
            stripe_event_id: "evt_1".into(),
            stripe_event_created: now(),
            subscription_id: state.subscription_id,
            customer_id: state.customer_id,
            status,
            plan: Plan::Pro,
            period: november(),
            synced_at: now(),
        };
        framework()
            .given(vec![opened(Plan::Free), synced])
            .when(count(1, now()))
            .then_expect_error(SubscriptionError::CloudAnalysisNotAllowed { status });
    }
}

#[test]
fn a_plan_change_applies_at_once() {
    let upgraded = SubscriptionEvent::PlanChanged {
        from: Plan::Free,
        to: Plan::Pro,
        changed_at: now(),
    };
    let mut given = free_with(10);
    given.push(upgraded);
    framework()
        .given(given)
        .when(count(99, now()))
        .then_expect_events(vec![counted(99, now(), 11)]);
}

#[test]
fn run_slots_are_bounded_and_idempotent() {
    let taken = |n| SubscriptionEvent::RunSlotTaken {
        analysis_id: analysis(n),
        taken_at: now(),
    };
    let take = |n| SubscriptionCommand::TakeRunSlot {
        user: user(),
        analysis_id: analysis(n),
        at: now(),
    };
    framework()
        .given(vec![opened(Plan::Free), taken(1)])
        .when(take(2))
        .then_expect_error(SubscriptionError::LimitReached {
            kind: LimitKind::ConcurrentAnalyses,
            limit: 1,
            used: 1,
            resets_at: None,
        });
    framework()
        .given(vec![opened(Plan::Free), taken(1)])
        .when(take(1))
        .then_expect_events(vec![]);
    framework()
        .given(vec![opened(Plan::Free), taken(1)])
        .when(SubscriptionCommand::FreeRunSlot {
            analysis_id: analysis(1),
            at: now(),
        })
        .then_expect_events(vec![SubscriptionEvent::RunSlotFreed {
            analysis_id: analysis(1),
            freed_at: now(),
        }]);
}

#[test]
fn a_refund_is_given_once_and_only_in_the_period_it_was_counted() {
    let refund = |counted_at| SubscriptionCommand::RefundAnalysis {
        analysis_id: analysis(0),
        counted_at,
        at: now(),
    };
    let refunded = SubscriptionEvent::AnalysisRefunded {
        analysis_id: analysis(0),
        used_in_period: 2,
        refunded_at: now(),
    };
    framework()
        .given(free_with(3))
        .when(refund(now() - Duration::days(1)))
        .then_expect_events(vec![refunded.clone()]);
    let mut given = free_with(3);
    given.push(refunded);
    framework()
        .given(given)
        .when(refund(now() - Duration::days(1)))
        .then_expect_events(vec![]);
    framework()
        .given(free_with(3))
        .when(refund(at("2026-10-30T00:00:00Z")))
        .then_expect_events(vec![]);
}

#[test]
fn projects_are_bounded_by_the_plan() {
    let project = |n: u128| ProjectId::from_uuid(Uuid::from_u128(500 + n));
    let mut given = vec![opened(Plan::Free)];
    for n in 0..3 {
        given.push(SubscriptionEvent::ProjectCounted {
            project_id: project(n),
            counted_at: now(),
        });
    }
    framework()
        .given(given.clone())
        .when(SubscriptionCommand::CountProject {
            user: user(),
            project_id: project(9),
            at: now(),
        })
        .then_expect_error(SubscriptionError::LimitReached {
            kind: LimitKind::Projects,
            limit: 3,
            used: 3,
            resets_at: None,
        });
    given.push(SubscriptionEvent::ProjectFreed {
        project_id: project(0),
        freed_at: now(),
    });
    framework()
        .given(given)
        .when(SubscriptionCommand::CountProject {
            user: user(),
            project_id: project(9),
            at: now(),
        })
        .then_expect_events(vec![SubscriptionEvent::ProjectCounted {
            project_id: project(9),
            counted_at: now(),
        }]);
}

fn synced_event(
    id: &str,
    created: DateTime<Utc>,
    status: SubscriptionStatus,
    plan: Plan,
) -> SubscriptionEvent {
    let state = stripe_state(status, plan);
    SubscriptionEvent::StripeSubscriptionSynced {
        stripe_event_id: id.into(),
        stripe_event_created: created,
        subscription_id: state.subscription_id,
        customer_id: state.customer_id,
        status,
        plan,
        period: state.period,
        synced_at: now(),
    }
}

#[test]
fn a_stripe_subscription_sets_plan_status_and_period() {
    let created = at("2026-11-05T09:00:00Z");
    framework()
        .given(vec![opened(Plan::Free)])
        .when(sync(
            "evt_1",
            created,
            SubscriptionStatus::Active,
            Plan::Pro,
        ))
        .then_expect_events(vec![
            synced_event("evt_1", created, SubscriptionStatus::Active, Plan::Pro),
            SubscriptionEvent::PlanChanged {
                from: Plan::Free,
                to: Plan::Pro,
                changed_at: now(),
            },
        ]);
}

#[test]
fn a_redelivered_stripe_event_changes_nothing() {
    let created = at("2026-11-05T09:00:00Z");
    framework()
        .given(vec![
            opened(Plan::Free),
            synced_event("evt_1", created, SubscriptionStatus::Active, Plan::Pro),
        ])
        .when(sync(
            "evt_1",
            created,
            SubscriptionStatus::Active,
            Plan::Pro,
        ))
        .then_expect_events(vec![]);
}

#[test]
fn an_older_stripe_event_never_moves_the_subscription_backwards() {
    let newer = at("2026-11-06T00:00:00Z");
    let older = at("2026-11-05T00:00:00Z");
    // `updated` (newer) applied first; the late `created` (older) is ignored.
    framework()
        .given(vec![
            opened(Plan::Free),
            synced_event("evt_updated", newer, SubscriptionStatus::PastDue, Plan::Pro),
        ])
        .when(sync(
            "evt_created",
            older,
            SubscriptionStatus::Incomplete,
            Plan::Pro,
        ))
        .then_expect_events(vec![]);
    // Likewise a late payment failure after the subscription was seen active again.
    framework()
        .given(vec![
            opened(Plan::Free),
            synced_event("evt_updated", newer, SubscriptionStatus::Active, Plan::Pro),
        ])
        .when(SubscriptionCommand::RecordPaymentFailed {
            user: user(),
            origin: origin("evt_failed", older),
            invoice_id: "in_1".into(),
            subscription_id: Some("sub_1".into()),
            amount_due: 1900,
            currency: "usd".into(),
            next_attempt_at: None,
            at: now(),
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_failed_payment_makes_an_active_subscription_past_due_and_a_paid_invoice_heals_it() {
    let created = at("2026-11-05T09:00:00Z");
    let failed = SubscriptionEvent::PaymentFailed {
        stripe_event_id: "evt_2".into(),
        stripe_event_created: created + Duration::days(30),
        invoice_id: "in_1".into(),
        amount_due: 1900,
        currency: "usd".into(),
        next_attempt_at: None,
        status: SubscriptionStatus::PastDue,
        failed_at: now(),
    };
    let given = vec![
        opened(Plan::Free),
        synced_event("evt_1", created, SubscriptionStatus::Active, Plan::Pro),
    ];
    framework()
        .given(given.clone())
        .when(SubscriptionCommand::RecordPaymentFailed {
            user: user(),
            origin: origin("evt_2", created + Duration::days(30)),
            invoice_id: "in_1".into(),
            subscription_id: Some("sub_1".into()),
            amount_due: 1900,
            currency: "usd".into(),
            next_attempt_at: None,
            at: now(),
        })
        .then_expect_events(vec![failed.clone()]);
    let mut healed = given;
    healed.push(failed);
    framework()
        .given(healed)
        .when(SubscriptionCommand::RecordInvoicePaid {
            user: user(),
            origin: origin("evt_3", created + Duration::days(31)),
            invoice_id: "in_1".into(),
            subscription_id: Some("sub_1".into()),
            at: now(),
        })
        .then_expect_events(vec![SubscriptionEvent::InvoicePaid {
            stripe_event_id: "evt_3".into(),
            stripe_event_created: created + Duration::days(31),
            invoice_id: "in_1".into(),
            status: SubscriptionStatus::Active,
            paid_at: now(),
        }]);
}

#[test]
fn a_deleted_subscription_puts_the_user_back_on_free() {
    let created = at("2026-11-05T09:00:00Z");
    framework()
        .given(vec![
            opened(Plan::Free),
            synced_event("evt_1", created, SubscriptionStatus::Active, Plan::Pro),
        ])
        .when(SubscriptionCommand::EndStripeSubscription {
            user: user(),
            origin: origin("evt_2", created + Duration::days(3)),
            subscription_id: "sub_1".into(),
            at: now(),
        })
        .then_expect_events(vec![
            SubscriptionEvent::StripeSubscriptionEnded {
                stripe_event_id: "evt_2".into(),
                stripe_event_created: created + Duration::days(3),
                subscription_id: "sub_1".into(),
                ended_at: now(),
            },
            SubscriptionEvent::PlanChanged {
                from: Plan::Pro,
                to: Plan::Free,
                changed_at: now(),
            },
        ]);
    // The deletion of another (older) subscription is not ours to apply.
    framework()
        .given(vec![
            opened(Plan::Free),
            synced_event("evt_1", created, SubscriptionStatus::Active, Plan::Pro),
        ])
        .when(SubscriptionCommand::EndStripeSubscription {
            user: user(),
            origin: origin("evt_2", created + Duration::days(3)),
            subscription_id: "sub_old".into(),
            at: now(),
        })
        .then_expect_events(vec![]);
}

#[test]
fn billing_periods_continue_from_the_stripe_anchor() {
    let created = at("2026-11-05T09:00:00Z");
    let renewal = at("2026-12-06T00:00:00Z");
    framework()
        .given(vec![
            opened(Plan::Free),
            synced_event("evt_1", created, SubscriptionStatus::Active, Plan::Pro),
            counted(1, now(), 1),
        ])
        .when(count(2, renewal))
        .then_expect_events(vec![
            SubscriptionEvent::UsagePeriodStarted {
                period: Period {
                    start: at("2026-12-05T09:00:00Z"),
                    end: at("2027-01-05T09:00:00Z"),
                },
            },
            counted(2, renewal, 1),
        ]);
}

/// ADR 5: cqrs-es may apply the events of one command twice; the state must not change.
#[test]
fn applying_any_history_twice_gives_the_same_state() {
    let created = at("2026-11-05T09:00:00Z");
    let history = vec![
        opened(Plan::Free),
        counted(1, now(), 1),
        counted(2, now(), 2),
        SubscriptionEvent::AnalysisRefunded {
            analysis_id: analysis(1),
            used_in_period: 1,
            refunded_at: now(),
        },
        SubscriptionEvent::RunSlotTaken {
            analysis_id: analysis(2),
            taken_at: now(),
        },
        SubscriptionEvent::ProjectCounted {
            project_id: ProjectId::from_uuid(Uuid::from_u128(3)),
            counted_at: now(),
        },
        synced_event("evt_1", created, SubscriptionStatus::Active, Plan::Pro),
        SubscriptionEvent::PlanChanged {
            from: Plan::Free,
            to: Plan::Pro,
            changed_at: now(),
        },
        SubscriptionEvent::UsagePeriodStarted {
            period: Period::calendar_month(at("2026-12-02T00:00:00Z")),
        },
        counted(3, at("2026-12-02T00:00:00Z"), 1),
        SubscriptionEvent::RunSlotFreed {
            analysis_id: analysis(2),
            freed_at: now(),
        },
    ];
    let mut once = Subscription::default();
    let mut twice = Subscription::default();
    for event in history {
        once.apply(event.clone());
        twice.apply(event.clone());
        twice.apply(event);
    }
    assert_eq!(once, twice);
    assert_eq!(once.used_in_period, 1);
}

#[test]
fn usage_reports_a_fresh_period_once_the_old_one_ended() {
    let mut subscription = Subscription::default();
    for event in free_with(4) {
        subscription.apply(event);
    }
    let catalog = PlanCatalog::default();
    let now_usage = subscription.usage_at(&catalog, now());
    assert_eq!(now_usage.analyses_in_period, 4);
    let next_month = subscription.usage_at(&catalog, at("2026-12-03T00:00:00Z"));
    assert_eq!(next_month.analyses_in_period, 0);
    assert_eq!(next_month.period.end, at("2027-01-01T00:00:00Z"));
}

/// A request that lost a race is decided again with the time it took before the winner's:
/// the winner's later count must still be inside its window.
#[test]
fn a_count_decided_late_still_sees_later_counts_in_the_window() {
    let mut given = vec![opened(Plan::Free)];
    for i in 0..5u128 {
        given.push(counted(
            i,
            now() + Duration::milliseconds(10 + i as i64),
            i as u32 + 1,
        ));
    }
    framework()
        .given(given)
        .when(count(9, now()))
        .then_expect_error(SubscriptionError::LimitReached {
            kind: LimitKind::AnalysesPerHour,
            limit: 5,
            used: 5,
            resets_at: Some(now() + Duration::milliseconds(10) + RATE_WINDOW),
        });
}
