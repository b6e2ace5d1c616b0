//! The `Subscription` aggregate, one per user: the plan, its Stripe state, and the usage that
//! the plan bounds (analyses in the period and in the last hour, analyses running at once,
//! projects). Every decision that a limit allows or refuses is made here, against the state
//! the event store loaded, so concurrent requests in any number of processes cannot overrun a
//! limit: the append of the second decision conflicts with the first and is decided again.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::ids::{AnalysisId, ProjectId, UserId};
use crate::plan::{Limit, Period, Plan, PlanCatalog, PlanLimits};

/// The width of the sliding window of the hourly rate limit.
pub const RATE_WINDOW: Duration = Duration::hours(1);

/// Stripe's subscription statuses, as Stripe spells them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Trialing,
    #[default]
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Incomplete,
    IncompleteExpired,
    Paused,
}

impl SubscriptionStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::IncompleteExpired => "incomplete_expired",
            SubscriptionStatus::Paused => "paused",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
    }

    /// `canRunCloudAnalysis`: false while Stripe has given up on payment or paused.
    pub const fn can_run_cloud_analysis(self) -> bool {
        !matches!(
            self,
            SubscriptionStatus::Unpaid
                | SubscriptionStatus::IncompleteExpired
                | SubscriptionStatus::Paused
        )
    }

    /// A subscription in this status no longer pays for a plan: the user is back on FREE.
    pub const fn has_ended(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }
}

/// What Stripe says about one subscription, as of one Stripe event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StripeSubscriptionState {
    pub subscription_id: String,
    pub customer_id: String,
    pub status: SubscriptionStatus,
    pub plan: Plan,
    pub period: Period,
}

/// Where a Stripe-driven command came from: the Stripe event, for idempotency and ordering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StripeOrigin {
    pub event_id: String,
    /// The Stripe event's `created`: Stripe's own order of what happened.
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SubscriptionCommand {
    /// Starts the subscription of a new user (FREE unless an operator says otherwise).
    Open {
        user: UserId,
        plan: Plan,
        at: DateTime<Utc>,
    },
    /// Counts one submitted analysis against the period quota and the hourly rate.
    CountAnalysis {
        user: UserId,
        analysis_id: AnalysisId,
        at: DateTime<Utc>,
    },
    /// Gives back the unit of an analysis cancelled before it started.
    RefundAnalysis {
        analysis_id: AnalysisId,
        counted_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// Takes one of the plan's running-at-once slots for an analysis about to start.
    TakeRunSlot {
        user: UserId,
        analysis_id: AnalysisId,
        at: DateTime<Utc>,
    },
    FreeRunSlot {
        analysis_id: AnalysisId,
        at: DateTime<Utc>,
    },
    CountProject {
        user: UserId,
        project_id: ProjectId,
        at: DateTime<Utc>,
    },
    FreeProject {
        project_id: ProjectId,
        at: DateTime<Utc>,
    },
    /// An operator sets the plan (no Stripe involved).
    ChangePlan {
        user: UserId,
        plan: Plan,
        at: DateTime<Utc>,
    },
    /// Checkout completed: this Stripe customer (and subscription) pays for this user.
    LinkStripeCustomer {
        user: UserId,
        origin: StripeOrigin,
        customer_id: String,
        subscription_id: Option<String>,
        at: DateTime<Utc>,
    },
    /// `customer.subscription.created|updated|paused|resumed`.
    SyncStripeSubscription {
        user: UserId,
        origin: StripeOrigin,
        state: StripeSubscriptionState,
        at: DateTime<Utc>,
    },
    /// `customer.subscription.deleted`.
    EndStripeSubscription {
        user: UserId,
        origin: StripeOrigin,
        subscription_id: String,
        at: DateTime<Utc>,
    },
    /// `invoice.paid`.
    RecordInvoicePaid {
        user: UserId,
        origin: StripeOrigin,
        invoice_id: String,
        subscription_id: Option<String>,
        at: DateTime<Utc>,
    },
    /// `invoice.payment_failed`.
    RecordPaymentFailed {
        user: UserId,
        origin: StripeOrigin,
        invoice_id: String,
        subscription_id: Option<String>,
        amount_due: i64,
        currency: String,
        next_attempt_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
}

/// Stored with camelCase field names, as published (docs/events.md). Every `apply` is
/// idempotent (ADR 5): events carry the resulting values, not increments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase")]
pub enum SubscriptionEvent {
    SubscriptionOpened {
        user_id: UserId,
        plan: Plan,
        status: SubscriptionStatus,
        period: Period,
        opened_at: DateTime<Utc>,
    },
    UsagePeriodStarted {
        period: Period,
    },
    AnalysisCounted {
        analysis_id: AnalysisId,
        counted_at: DateTime<Utc>,
        used_in_period: u32,
    },
    AnalysisRefunded {
        analysis_id: AnalysisId,
        used_in_period: u32,
        refunded_at: DateTime<Utc>,
    },
    RunSlotTaken {
        analysis_id: AnalysisId,
        taken_at: DateTime<Utc>,
    },
    RunSlotFreed {
        analysis_id: AnalysisId,
        freed_at: DateTime<Utc>,
    },
    ProjectCounted {
        project_id: ProjectId,
        counted_at: DateTime<Utc>,
    },
    ProjectFreed {
        project_id: ProjectId,
        freed_at: DateTime<Utc>,
    },
    PlanChanged {
        from: Plan,
        to: Plan,
        changed_at: DateTime<Utc>,
    },
    StripeCustomerLinked {
        stripe_event_id: String,
        customer_id: String,
        subscription_id: Option<String>,
        linked_at: DateTime<Utc>,
    },
    StripeSubscriptionSynced {
        stripe_event_id: String,
        stripe_event_created: DateTime<Utc>,
        subscription_id: String,
        customer_id: String,
        status: SubscriptionStatus,
        plan: Plan,
        period: Period,
        synced_at: DateTime<Utc>,
    },
    StripeSubscriptionEnded {
        stripe_event_id: String,
        stripe_event_created: DateTime<Utc>,
        subscription_id: String,
        ended_at: DateTime<Utc>,
    },
    InvoicePaid {
        stripe_event_id: String,
        stripe_event_created: DateTime<Utc>,
        invoice_id: String,
        status: SubscriptionStatus,
        paid_at: DateTime<Utc>,
    },
    PaymentFailed {
        stripe_event_id: String,
        stripe_event_created: DateTime<Utc>,
        invoice_id: String,
        amount_due: i64,
        currency: String,
        next_attempt_at: Option<DateTime<Utc>>,
        status: SubscriptionStatus,
        failed_at: DateTime<Utc>,
    },
}

impl DomainEvent for SubscriptionEvent {
    fn event_type(&self) -> String {
        match self {
            SubscriptionEvent::SubscriptionOpened { .. } => "SubscriptionOpened",
            SubscriptionEvent::UsagePeriodStarted { .. } => "UsagePeriodStarted",
            SubscriptionEvent::AnalysisCounted { .. } => "AnalysisCounted",
            SubscriptionEvent::AnalysisRefunded { .. } => "AnalysisRefunded",
            SubscriptionEvent::RunSlotTaken { .. } => "RunSlotTaken",
            SubscriptionEvent::RunSlotFreed { .. } => "RunSlotFreed",
            SubscriptionEvent::ProjectCounted { .. } => "ProjectCounted",
            SubscriptionEvent::ProjectFreed { .. } => "ProjectFreed",
            SubscriptionEvent::PlanChanged { .. } => "PlanChanged",
            SubscriptionEvent::StripeCustomerLinked { .. } => "StripeCustomerLinked",
            SubscriptionEvent::StripeSubscriptionSynced { .. } => "StripeSubscriptionSynced",
            SubscriptionEvent::StripeSubscriptionEnded { .. } => "StripeSubscriptionEnded",
            SubscriptionEvent::InvoicePaid { .. } => "InvoicePaid",
            SubscriptionEvent::PaymentFailed { .. } => "PaymentFailed",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LimitKind {
    AnalysesPerPeriod,
    AnalysesPerHour,
    ConcurrentAnalyses,
    Projects,
}

impl LimitKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            LimitKind::AnalysesPerPeriod => "analysesPerPeriod",
            LimitKind::AnalysesPerHour => "analysesPerHour",
            LimitKind::ConcurrentAnalyses => "concurrentAnalyses",
            LimitKind::Projects => "projects",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    #[error("the subscription is {}: cloud analyses are not available", status.as_str())]
    CloudAnalysisNotAllowed { status: SubscriptionStatus },
    #[error("{} limit reached: {used} of {limit}", kind.as_str())]
    LimitReached {
        kind: LimitKind,
        limit: u32,
        used: u32,
        /// When a unit frees up by itself (None: only by freeing one, e.g. archiving a project).
        resets_at: Option<DateTime<Utc>>,
    },
}

/// The state of one user's subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub user: Option<UserId>,
    pub plan: Plan,
    pub status: SubscriptionStatus,
    pub period: Option<Period>,
    pub used_in_period: u32,
    /// Analyses refunded in this period: a refund is given once.
    pub refunded: BTreeSet<AnalysisId>,
    /// Analyses counted in the last hour (as of the latest count), for the sliding window.
    pub recent: Vec<(AnalysisId, DateTime<Utc>)>,
    pub running: BTreeSet<AnalysisId>,
    pub projects: BTreeSet<ProjectId>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    /// The `created` of the newest Stripe event applied: older ones never move us backwards.
    pub stripe_state_at: Option<DateTime<Utc>>,
    /// Stripe event ids already handled.
    pub stripe_events: BTreeSet<String>,
}

/// Usage against limits, as of a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    pub plan: Plan,
    pub status: SubscriptionStatus,
    pub limits: PlanLimits,
    pub period: Period,
    pub analyses_in_period: u32,
    pub analyses_last_hour: u32,
    /// When the oldest analysis of the last hour leaves the window.
    pub hour_window_frees_at: Option<DateTime<Utc>>,
    pub running: u32,
    pub projects: u32,
}

impl Subscription {
    pub fn is_open(&self) -> bool {
        self.user.is_some()
    }

    /// The period that holds `at`: billing periods continue from Stripe's anchor while a paid
    /// subscription is linked; otherwise calendar months (UTC).
    pub fn period_at(&self, at: DateTime<Utc>) -> Period {
        match (&self.period, &self.stripe_subscription_id) {
            (Some(period), _) if period.contains(at) => *period,
            (Some(period), Some(_)) if !self.status.has_ended() => period.rolled_to(at),
            _ => Period::calendar_month(at),
        }
    }

    /// Usage as of `at` (a period that ended counts as a fresh one).
    pub fn usage_at(&self, catalog: &PlanCatalog, at: DateTime<Utc>) -> UsageReport {
        let period = self.period_at(at);
        let analyses_in_period = if Some(period) == self.period {
            self.used_in_period
        } else {
            0
        };
        let in_window: Vec<DateTime<Utc>> = self.window_at(at).collect();
        UsageReport {
            plan: self.plan,
            status: self.status,
            limits: *catalog.limits(self.plan),
            period,
            analyses_in_period,
            analyses_last_hour: in_window.len() as u32,
            hour_window_frees_at: in_window.iter().min().map(|oldest| *oldest + RATE_WINDOW),
            running: self.running.len() as u32,
            projects: self.projects.len() as u32,
        }
    }

    fn window_at(&self, at: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let window_start = at - RATE_WINDOW;
        self.recent
            .iter()
            .map(|(_, counted_at)| *counted_at)
            // No upper bound: a request decided again after a later one was counted must
            // still see it (its own `at` was taken before it lost the race).
            .filter(move |counted_at| *counted_at > window_start)
    }

    /// Opens the subscription on FREE if it is not open yet (users from before subscriptions
    /// existed), and starts a new usage period when `at` is past the current one.
    async fn prepare(&mut self, user: UserId, at: DateTime<Utc>, sink: &EventSink<Self>) {
        if !self.is_open() {
            let event = SubscriptionEvent::SubscriptionOpened {
                user_id: user,
                plan: Plan::Free,
                status: SubscriptionStatus::Active,
                period: Period::calendar_month(at),
                opened_at: at,
            };
            sink.write(event, self).await;
        }
        let period = self.period_at(at);
        if self.period != Some(period) {
            sink.write(SubscriptionEvent::UsagePeriodStarted { period }, self)
                .await;
        }
    }

    /// Is this Stripe event new, and not older than what was applied?
    fn accepts(&self, origin: &StripeOrigin) -> bool {
        !self.stripe_events.contains(&origin.event_id)
            && self
                .stripe_state_at
                .is_none_or(|applied| origin.created >= applied)
    }

    /// Does this subscription id name the subscription we follow (or none is followed yet)?
    fn follows(&self, subscription_id: Option<&str>) -> bool {
        match (&self.stripe_subscription_id, subscription_id) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        }
    }
}

fn check(
    kind: LimitKind,
    limit: Limit,
    used: u32,
    resets_at: Option<DateTime<Utc>>,
) -> Result<(), SubscriptionError> {
    match limit {
        Some(limit) if used >= limit => Err(SubscriptionError::LimitReached {
            kind,
            limit,
            used,
            resets_at,
        }),
        _ => Ok(()),
    }
}

impl Aggregate for Subscription {
    const TYPE: &'static str = "Subscription";
    type Command = SubscriptionCommand;
    type Event = SubscriptionEvent;
    type Error = SubscriptionError;
    /// The limits of every plan: configuration, so a changed limit applies at once.
    type Services = PlanCatalog;

    async fn handle(
        &mut self,
        command: SubscriptionCommand,
        catalog: &PlanCatalog,
        sink: &EventSink<Self>,
    ) -> Result<(), SubscriptionError> {
        match command {
            SubscriptionCommand::Open { user, plan, at } => {
                if !self.is_open() {
                    let event = SubscriptionEvent::SubscriptionOpened {
                        user_id: user,
                        plan,
                        status: SubscriptionStatus::Active,
                        period: Period::calendar_month(at),
                        opened_at: at,
                    };
                    sink.write(event, self).await;
                }
            }
            SubscriptionCommand::CountAnalysis {
                user,
                analysis_id,
                at,
            } => {
                // Decide on a copy: a refusal must write nothing, not even the opening.
                let mut next = self.clone();
                let probe = EventSink::default();
                next.prepare(user, at, &probe).await;
                if !next.status.can_run_cloud_analysis() {
                    return Err(SubscriptionError::CloudAnalysisNotAllowed {
                        status: next.status,
                    });
                }
                let usage = next.usage_at(catalog, at);
                check(
                    LimitKind::AnalysesPerPeriod,
                    usage.limits.analyses_per_period,
                    usage.analyses_in_period,
                    Some(usage.period.end),
                )?;
                check(
                    LimitKind::AnalysesPerHour,
                    usage.limits.analyses_per_hour,
                    usage.analyses_last_hour,
                    usage.hour_window_frees_at,
                )?;
                self.prepare(user, at, sink).await;
                let event = SubscriptionEvent::AnalysisCounted {
                    analysis_id,
                    counted_at: at,
                    used_in_period: self.used_in_period + 1,
                };
                sink.write(event, self).await;
            }
            SubscriptionCommand::RefundAnalysis {
                analysis_id,
                counted_at,
                at,
            } => {
                let refundable = self
                    .period
                    .is_some_and(|period| period.contains(counted_at))
                    && !self.refunded.contains(&analysis_id)
                    && self.used_in_period > 0;
                if refundable {
                    let event = SubscriptionEvent::AnalysisRefunded {
                        analysis_id,
                        used_in_period: self.used_in_period - 1,
                        refunded_at: at,
                    };
                    sink.write(event, self).await;
                }
            }
            SubscriptionCommand::TakeRunSlot {
                user,
                analysis_id,
                at,
            } => {
                if self.running.contains(&analysis_id) {
                    return Ok(());
                }
                let limit = catalog.limits(self.plan).concurrent_analyses;
                check(
                    LimitKind::ConcurrentAnalyses,
                    limit,
                    self.running.len() as u32,
                    None,
                )?;
                self.prepare(user, at, sink).await;
                let event = SubscriptionEvent::RunSlotTaken {
                    analysis_id,
                    taken_at: at,
                };
                sink.write(event, self).await;
            }
            SubscriptionCommand::FreeRunSlot { analysis_id, at } => {
                if self.running.contains(&analysis_id) {
                    let event = SubscriptionEvent::RunSlotFreed {
                        analysis_id,
                        freed_at: at,
                    };
                    sink.write(event, self).await;
                }
            }
            SubscriptionCommand::CountProject {
                user,
                project_id,
                at,
            } => {
                if self.projects.contains(&project_id) {
                    return Ok(());
                }
                let limit = catalog.limits(self.plan).projects;
                check(LimitKind::Projects, limit, self.projects.len() as u32, None)?;
                self.prepare(user, at, sink).await;
                let event = SubscriptionEvent::ProjectCounted {
                    project_id,
                    counted_at: at,
                };
                sink.write(event, self).await;
            }
            SubscriptionCommand::FreeProject { project_id, at } => {
                if self.projects.contains(&project_id) {
                    let event = SubscriptionEvent::ProjectFreed {
                        project_id,
                        freed_at: at,
                    };
                    sink.write(event, self).await;
                }
            }
            SubscriptionCommand::ChangePlan { user, plan, at } => {
                self.prepare(user, at, sink).await;
                if self.plan != plan {
                    let event = SubscriptionEvent::PlanChanged {
                        from: self.plan,
                        to: plan,
                        changed_at: at,
                    };
                    sink.write(event, self).await;
                }
            }
            SubscriptionCommand::LinkStripeCustomer {
                user,
                origin,
                customer_id,
                subscription_id,
                at,
            } => {
                // Linking is not state Stripe can reorder: only the id must be new.
                if self.stripe_events.contains(&origin.event_id) {
                    return Ok(());
                }
                self.prepare(user, at, sink).await;
                let event = SubscriptionEvent::StripeCustomerLinked {
                    stripe_event_id: origin.event_id,
                    customer_id,
                    subscription_id,
                    linked_at: at,
                };
                sink.write(event, self).await;
            }
            SubscriptionCommand::SyncStripeSubscription {
                user,
                origin,
                state,
                at,
            } => {
                // An old subscription that ended says nothing about the one we follow now.
                let stale_other =
                    !self.follows(Some(&state.subscription_id)) && state.status.has_ended();
                if !self.accepts(&origin) || stale_other {
                    return Ok(());
                }
                self.prepare(user, at, sink).await;
                let plan = if state.status.has_ended() {
                    Plan::Free
                } else {
                    state.plan
                };
                let from = self.plan;
                let event = SubscriptionEvent::StripeSubscriptionSynced {
                    stripe_event_id: origin.event_id,
                    stripe_event_created: origin.created,
                    subscription_id: state.subscription_id,
                    customer_id: state.customer_id,
                    status: state.status,
                    plan,
                    period: state.period,
                    synced_at: at,
                };
                sink.write(event, self).await;
                if from != plan {
                    let event = SubscriptionEvent::PlanChanged {
                        from,
                        to: plan,
                        changed_at: at,
                    };
                    sink.write(event, self).await;
                }
            }
            SubscriptionCommand::EndStripeSubscription {
                user,
                origin,
                subscription_id,
                at,
            } => {
                if !self.accepts(&origin) || !self.follows(Some(&subscription_id)) {
                    return Ok(());
                }
                self.prepare(user, at, sink).await;
                let from = self.plan;
                let event = SubscriptionEvent::StripeSubscriptionEnded {
                    stripe_event_id: origin.event_id,
                    stripe_event_created: origin.created,
                    subscription_id,
                    ended_at: at,
                };
                sink.write(event, self).await;
                if from != Plan::Free {
                    let event = SubscriptionEvent::PlanChanged {
                        from,
                        to: Plan::Free,
                        changed_at: at,
                    };
                    sink.write(event, self).await;
                }
            }
            SubscriptionCommand::RecordInvoicePaid {
                user,
                origin,
                invoice_id,
                subscription_id,
                at,
            } => {
                if !self.accepts(&origin) || !self.follows(subscription_id.as_deref()) {
                    return Ok(());
                }
                self.prepare(user, at, sink).await;
                let status = match self.status {
                    SubscriptionStatus::PastDue
                    | SubscriptionStatus::Unpaid
                    | SubscriptionStatus::Incomplete => SubscriptionStatus::Active,
                    other => other,
                };
                let event = SubscriptionEvent::InvoicePaid {
                    stripe_event_id: origin.event_id,
                    stripe_event_created: origin.created,
                    invoice_id,
                    status,
                    paid_at: at,
                };
                sink.write(event, self).await;
            }
            SubscriptionCommand::RecordPaymentFailed {
                user,
                origin,
                invoice_id,
                subscription_id,
                amount_due,
                currency,
                next_attempt_at,
                at,
            } => {
                if !self.accepts(&origin) || !self.follows(subscription_id.as_deref()) {
                    return Ok(());
                }
                self.prepare(user, at, sink).await;
                let status = match self.status {
                    SubscriptionStatus::Active | SubscriptionStatus::Trialing => {
                        SubscriptionStatus::PastDue
                    }
                    other => other,
                };
                let event = SubscriptionEvent::PaymentFailed {
                    stripe_event_id: origin.event_id,
                    stripe_event_created: origin.created,
                    invoice_id,
                    amount_due,
                    currency,
                    next_attempt_at,
                    status,
                    failed_at: at,
                };
                sink.write(event, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: SubscriptionEvent) {
        match event {
            SubscriptionEvent::SubscriptionOpened {
                user_id,
                plan,
                status,
                period,
                opened_at: _,
            } => {
                self.user = Some(user_id);
                self.plan = plan;
                self.status = status;
                self.period = Some(period);
            }
            SubscriptionEvent::UsagePeriodStarted { period } => {
                // Applying the same period twice must not reset the count twice (ADR 5).
                if self.period != Some(period) {
                    self.period = Some(period);
                    self.used_in_period = 0;
                    self.refunded.clear();
                }
            }
            SubscriptionEvent::AnalysisCounted {
                analysis_id,
                counted_at,
                used_in_period,
            } => {
                self.used_in_period = used_in_period;
                let window_start = counted_at - RATE_WINDOW;
                self.recent.retain(|(_, at)| *at > window_start);
                if !self.recent.iter().any(|(id, _)| *id == analysis_id) {
                    self.recent.push((analysis_id, counted_at));
                }
            }
            SubscriptionEvent::AnalysisRefunded {
                analysis_id,
                used_in_period,
                ..
            } => {
                self.used_in_period = used_in_period;
                self.refunded.insert(analysis_id);
            }
            SubscriptionEvent::RunSlotTaken { analysis_id, .. } => {
                self.running.insert(analysis_id);
            }
            SubscriptionEvent::RunSlotFreed { analysis_id, .. } => {
                self.running.remove(&analysis_id);
            }
            SubscriptionEvent::ProjectCounted { project_id, .. } => {
                self.projects.insert(project_id);
            }
            SubscriptionEvent::ProjectFreed { project_id, .. } => {
                self.projects.remove(&project_id);
            }
            SubscriptionEvent::PlanChanged { to, .. } => self.plan = to,
            SubscriptionEvent::StripeCustomerLinked {
                stripe_event_id,
                customer_id,
                subscription_id,
                ..
            } => {
                self.stripe_events.insert(stripe_event_id);
                self.stripe_customer_id = Some(customer_id);
                if subscription_id.is_some() {
                    self.stripe_subscription_id = subscription_id;
                }
            }
            SubscriptionEvent::StripeSubscriptionSynced {
                stripe_event_id,
                stripe_event_created,
                subscription_id,
                customer_id,
                status,
                plan,
                period,
                ..
            } => {
                self.stripe_events.insert(stripe_event_id);
                self.stripe_state_at = Some(stripe_event_created);
                self.stripe_subscription_id = Some(subscription_id);
                self.stripe_customer_id = Some(customer_id);
                self.status = status;
                self.plan = plan;
                if self.period != Some(period) {
                    self.period = Some(period);
                    self.used_in_period = 0;
                    self.refunded.clear();
                }
            }
            SubscriptionEvent::StripeSubscriptionEnded {
                stripe_event_id,
                stripe_event_created,
                ..
            } => {
                self.stripe_events.insert(stripe_event_id);
                self.stripe_state_at = Some(stripe_event_created);
                self.status = SubscriptionStatus::Canceled;
                self.plan = Plan::Free;
            }
            SubscriptionEvent::InvoicePaid {
                stripe_event_id,
                stripe_event_created,
                status,
                ..
            }
            | SubscriptionEvent::PaymentFailed {
                stripe_event_id,
                stripe_event_created,
                status,
                ..
            } => {
                self.stripe_events.insert(stripe_event_id);
                self.stripe_state_at = Some(stripe_event_created);
                self.status = status;
            }
        }
    }
}

#[cfg(test)]
mod tests;
