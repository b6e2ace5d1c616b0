//! The subscription policy: a catch-up reader of the event log that keeps usage true whoever
//! ended an analysis or a project (a worker, a cancel request, the internal webhook, ...):
//! - an analysis that finished, failed, was cancelled or went back to the queue frees its
//!   running-at-once slot;
//! - an analysis cancelled before it ever started gets its unit of the period quota back
//!   (ADR 0006; the hourly rate keeps it: the request was made);
//! - an archived project no longer counts against the project limit;
//! - a failed payment and a subscription that ended become notifications to the user
//!   (recorded in the outbox; the mailer e-mails them).
//!
//! Commands are idempotent, so reading an event twice (a crash before the checkpoint moved,
//! two processes running the policy) changes nothing; the checkpoint moves compare-and-set.

use std::time::Duration;

use application::metadata::{Actor, CommandMetadata};
use application::notifications::{Notification, NotificationKind, NotificationOutbox};
use application::{
    AggregateRepository, AnalysisService, AppError, EventPosition, SubscriptionService,
};
use domain::{AnalysisId, Project, ProjectId, SubscriptionEvent, UserId};
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catch_up::{
    advance_checkpoint, ensure_checkpoint, load_checkpoint, CatchUpError, CatchUpReader,
    EventNotifier, StoredEvent,
};

/// The name of its checkpoint.
pub const CHECKPOINT: &str = "subscription_policy";

const EVENT_TYPES: &[&str] = &[
    "AnalysisCompleted",
    "AnalysisFailed",
    "AnalysisCancelled",
    "AnalysisRescheduled",
    "ProjectArchived",
    "PaymentFailed",
    "StripeSubscriptionEnded",
];

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    CatchUp(#[from] CatchUpError),
    #[error("database error in the subscription policy: {0}")]
    Database(#[from] sqlx::Error),
    #[error("a command of the subscription policy failed: {0}")]
    Command(#[from] AppError),
}

pub struct SubscriptionPolicy {
    pool: PgPool,
    subscriptions: SubscriptionService,
    analyses: AnalysisService,
    projects: Arc<dyn AggregateRepository<Project>>,
    outbox: Arc<dyn NotificationOutbox>,
    reader: CatchUpReader,
}

pub struct PolicyHandle {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl PolicyHandle {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

impl SubscriptionPolicy {
    pub fn new(
        pool: PgPool,
        subscriptions: SubscriptionService,
        analyses: AnalysisService,
        projects: Arc<dyn AggregateRepository<Project>>,
        outbox: Arc<dyn NotificationOutbox>,
    ) -> Self {
        Self {
            pool,
            subscriptions,
            analyses,
            projects,
            outbox,
            reader: CatchUpReader::new(200),
        }
    }

    pub fn spawn(self, notifier: EventNotifier, poll: Duration) -> PolicyHandle {
        let (shutdown, mut stopped) = watch::channel(false);
        let mut waiter = notifier.subscribe(EVENT_TYPES);
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(200);
            loop {
                if *stopped.borrow() {
                    return;
                }
                match self.run_once().await {
                    Ok(true) => {
                        backoff = Duration::from_millis(200);
                        continue;
                    }
                    Ok(false) => {
                        backoff = Duration::from_millis(200);
                        tokio::select! {
                            _ = waiter.wait(poll) => {}
                            _ = stopped.changed() => return,
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "subscription policy failed; retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = stopped.changed() => return,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
        PolicyHandle { shutdown, task }
    }

    /// Reacts to the next batch; true when it found events (there may be more).
    pub async fn run_once(&self) -> Result<bool, PolicyError> {
        let mut conn = self.pool.acquire().await?;
        ensure_checkpoint(&mut conn, CHECKPOINT).await?;
        let from = load_checkpoint(&mut conn, CHECKPOINT).await?;
        let batch = self.reader.read_after(&mut conn, from, EVENT_TYPES).await?;
        drop(conn);
        let found = !batch.events.is_empty();
        for event in &batch.events {
            self.react(event).await?;
        }
        if batch.scanned_to > from {
            let mut conn = self.pool.acquire().await?;
            // Another process may have moved it first: then it did the same work.
            advance_checkpoint(&mut conn, CHECKPOINT, from, batch.scanned_to, None).await?;
        }
        Ok(found)
    }

    async fn react(&self, event: &StoredEvent) -> Result<(), PolicyError> {
        let metadata = CommandMetadata::new(
            Actor::System("subscription-policy".into()),
            correlation_of(event),
        )
        .caused_by(event.event_id);
        if event.aggregate_type == "Subscription" {
            return self.notify(event).await;
        }
        if event.event_type == "ProjectArchived" {
            let Ok(project_id) = event.aggregate_id.parse::<ProjectId>() else {
                return Ok(());
            };
            let project = self
                .projects
                .load(&event.aggregate_id)
                .await
                .map_err(AppError::from)?;
            if let Some(owner) = project.owner {
                self.subscriptions
                    .free_project(owner, project_id, &metadata)
                    .await?;
            }
            return Ok(());
        }
        let Ok(analysis_id) = event.aggregate_id.parse::<AnalysisId>() else {
            return Ok(());
        };
        let analysis = self.analyses.load(analysis_id).await?;
        let Some(owner) = analysis.owner else {
            return Ok(());
        };
        self.subscriptions
            .free_run_slot(owner, analysis_id, &metadata)
            .await?;
        if event.event_type == "AnalysisCancelled" && analysis.first_started_at.is_none() {
            if let Some(requested_at) = analysis.requested_at {
                self.subscriptions
                    .refund(owner, analysis_id, requested_at, &metadata.next_command())
                    .await?;
            }
        }
        Ok(())
    }
}

impl SubscriptionPolicy {
    /// Records the notification an event of the subscription calls for; its id comes from
    /// the event, so reading the event again records nothing new.
    async fn notify(&self, event: &StoredEvent) -> Result<(), PolicyError> {
        let Ok(user) = event.aggregate_id.parse::<UserId>() else {
            return Ok(());
        };
        let notification = match event.decode::<SubscriptionEvent>() {
            Ok(SubscriptionEvent::PaymentFailed {
                invoice_id,
                amount_due,
                currency,
                next_attempt_at,
                ..
            }) => {
                let retry = match next_attempt_at {
                    Some(at) => format!(
                        "Stripe will try again on {}.",
                        at.format("%Y-%m-%d %H:%M UTC")
                    ),
                    None => "Stripe will not try again on its own.".to_string(),
                };
                Notification {
                    id: Notification::id_for(
                        NotificationKind::PaymentFailed,
                        &event.event_id.to_string(),
                    ),
                    user,
                    kind: NotificationKind::PaymentFailed,
                    subject: "Your Insight Cloud payment failed".into(),
                    body: format!(
                        "The payment of invoice {invoice_id} ({} {}) failed. {retry}\n\n\
                         Please update your payment method to keep your plan: /billing",
                        format_amount(amount_due),
                        currency.to_uppercase(),
                    ),
                    created_at: event.recorded_at,
                }
            }
            Ok(SubscriptionEvent::StripeSubscriptionEnded { .. }) => Notification {
                id: Notification::id_for(
                    NotificationKind::SubscriptionEnded,
                    &event.event_id.to_string(),
                ),
                user,
                kind: NotificationKind::SubscriptionEnded,
                subject: "Your Insight Cloud subscription has ended".into(),
                body: "Your subscription has ended and your account is back on the FREE plan. \
                       Your projects and analyses are kept within the FREE plan's retention. \
                       You can subscribe again at any time: /pricing"
                    .into(),
                created_at: event.recorded_at,
            },
            Ok(_) => return Ok(()),
            Err(error) => {
                tracing::error!(event.id = %event.event_id, %error, "undecodable subscription event");
                return Ok(());
            }
        };
        self.outbox
            .record(&notification)
            .await
            .map_err(AppError::from)?;
        Ok(())
    }
}

/// `1900` cents as `19.00`.
fn format_amount(minor_units: i64) -> String {
    format!("{}.{:02}", minor_units / 100, (minor_units % 100).abs())
}

/// The flow the event belongs to, so the policy's commands join it for auditors.
fn correlation_of(event: &StoredEvent) -> uuid::Uuid {
    event.metadata["correlation_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or(event.event_id)
}

/// How far the policy has read: for tests and `projections status`-like tools.
pub async fn position(pool: &PgPool) -> Result<EventPosition, PolicyError> {
    let mut conn = pool.acquire().await?;
    Ok(load_checkpoint(&mut conn, CHECKPOINT).await?)
}
