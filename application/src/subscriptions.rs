//! Subscription use cases: open one for a new user, report usage, change the plan, and the
//! bookkeeping that keeps usage true (run slots taken and freed, refunds, projects freed).
//! Charging a submission happens together with creating the analysis, in `analyses`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cqrs_es::AggregateError;
use tracing::instrument;

use crate::contention::{self, ContentionBackoff};
use crate::error::{AppError, StoreError};
use crate::metadata::CommandMetadata;
use crate::ports::{AggregateRepository, Clock, EventPosition};
use domain::{
    AnalysisId, LimitKind, Plan, PlanCatalog, ProjectId, Subscription, SubscriptionCommand,
    SubscriptionError, UsageReport, UserId,
};

#[derive(Clone)]
pub struct SubscriptionService {
    subscriptions: Arc<dyn AggregateRepository<Subscription>>,
    catalog: PlanCatalog,
    clock: Arc<dyn Clock>,
    /// Each user's retention days, kept briefly: every analysis page and listing asks, and
    /// loading the subscription for each would double their queries. Retention counts in
    /// days, so a plan change another process made shows within `RETENTION_CACHE_TTL`; this
    /// process's own commands clear the entry at once.
    retention: Arc<Mutex<HashMap<UserId, (Instant, u32)>>>,
}

const RETENTION_CACHE_TTL: Duration = Duration::from_secs(60);
/// Beyond this many users the cache starts over (bounded memory, no eviction bookkeeping).
const RETENTION_CACHE_USERS: usize = 100_000;

/// Whether an analysis may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSlot {
    Taken,
    /// All of the plan's slots are in use: the analysis waits, QUEUED.
    Full {
        limit: u32,
    },
}

impl SubscriptionService {
    pub fn new(
        subscriptions: Arc<dyn AggregateRepository<Subscription>>,
        catalog: PlanCatalog,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            subscriptions,
            catalog,
            clock,
            retention: Arc::default(),
        }
    }

    pub fn catalog(&self) -> &PlanCatalog {
        &self.catalog
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Starts the subscription of a new user on `plan`.
    pub async fn open(
        &self,
        user: UserId,
        plan: Plan,
        metadata: &CommandMetadata,
    ) -> Result<(), AppError> {
        let command = SubscriptionCommand::Open {
            user,
            plan,
            at: self.clock.now(),
        };
        self.execute(user, command, metadata).await.map(drop)
    }

    /// Plan, status, limits and usage, as of now.
    pub async fn usage(&self, user: UserId) -> Result<UsageReport, AppError> {
        let subscription = self.subscriptions.load(&user.to_string()).await?;
        Ok(subscription.usage_at(&self.catalog, self.clock.now()))
    }

    /// The oldest request time `user`'s plan still serves analyses from: the plan's retention
    /// counted back from now. Older analyses stay in the event log (auditors replay it) but
    /// the API no longer lists or shows them; an upgrade to a longer retention shows them again.
    pub async fn retained_since(
        &self,
        user: UserId,
    ) -> Result<chrono::DateTime<chrono::Utc>, AppError> {
        let cached = self
            .retention
            .lock()
            .expect("retention cache")
            .get(&user)
            .filter(|(at, _)| at.elapsed() < RETENTION_CACHE_TTL)
            .map(|(_, days)| *days);
        let days = match cached {
            Some(days) => days,
            None => {
                let days = self.usage(user).await?.limits.retention_days;
                let mut cache = self.retention.lock().expect("retention cache");
                if cache.len() >= RETENTION_CACHE_USERS {
                    cache.clear();
                }
                cache.insert(user, (Instant::now(), days));
                days
            }
        };
        Ok(self.clock.now() - chrono::Duration::days(i64::from(days)))
    }

    /// An operator's plan change (no Stripe): applies at once.
    #[instrument(skip(self, metadata), fields(user.id = %user))]
    pub async fn change_plan(
        &self,
        user: UserId,
        plan: Plan,
        metadata: &CommandMetadata,
    ) -> Result<(), AppError> {
        let command = SubscriptionCommand::ChangePlan {
            user,
            plan,
            at: self.clock.now(),
        };
        self.execute(user, command, metadata).await.map(drop)
    }

    /// Takes a running-at-once slot for `analysis_id` (again, harmlessly, after a redelivery).
    pub async fn take_run_slot(
        &self,
        user: UserId,
        analysis_id: AnalysisId,
        metadata: &CommandMetadata,
    ) -> Result<RunSlot, AppError> {
        let command = SubscriptionCommand::TakeRunSlot {
            user,
            analysis_id,
            at: self.clock.now(),
        };
        match self.execute(user, command, metadata).await {
            Ok(_) => Ok(RunSlot::Taken),
            Err(AppError::LimitReached {
                kind: LimitKind::ConcurrentAnalyses,
                limit,
                ..
            }) => Ok(RunSlot::Full { limit }),
            Err(other) => Err(other),
        }
    }

    pub async fn free_run_slot(
        &self,
        user: UserId,
        analysis_id: AnalysisId,
        metadata: &CommandMetadata,
    ) -> Result<(), AppError> {
        let command = SubscriptionCommand::FreeRunSlot {
            analysis_id,
            at: self.clock.now(),
        };
        self.execute(user, command, metadata).await.map(drop)
    }

    /// Gives back the unit of an analysis that was cancelled before it started.
    pub async fn refund(
        &self,
        user: UserId,
        analysis_id: AnalysisId,
        counted_at: chrono::DateTime<chrono::Utc>,
        metadata: &CommandMetadata,
    ) -> Result<(), AppError> {
        let command = SubscriptionCommand::RefundAnalysis {
            analysis_id,
            counted_at,
            at: self.clock.now(),
        };
        self.execute(user, command, metadata).await.map(drop)
    }

    pub async fn free_project(
        &self,
        user: UserId,
        project_id: ProjectId,
        metadata: &CommandMetadata,
    ) -> Result<(), AppError> {
        let command = SubscriptionCommand::FreeProject {
            project_id,
            at: self.clock.now(),
        };
        self.execute(user, command, metadata).await.map(drop)
    }

    /// Runs `command` on `user`'s subscription, deciding again when a concurrent command got
    /// there first.
    pub async fn execute(
        &self,
        user: UserId,
        command: SubscriptionCommand,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        let executed = self.decide_and_append(user, command, metadata).await;
        // Whatever changed (a plan, say), this process's next look at retention reloads.
        self.retention
            .lock()
            .expect("retention cache")
            .remove(&user);
        executed
    }

    async fn decide_and_append(
        &self,
        user: UserId,
        command: SubscriptionCommand,
        metadata: &CommandMetadata,
    ) -> Result<Option<EventPosition>, AppError> {
        let _turn = contention::turn_on(&user).await;
        let mut backoff = ContentionBackoff::new();
        loop {
            let metadata = metadata.next_command();
            match self
                .subscriptions
                .execute(&user.to_string(), command.clone(), &metadata)
                .await
            {
                Ok(position) => return Ok(position),
                Err(AggregateError::AggregateConflict) if backoff.wait().await => continue,
                Err(error) => return Err(subscription_error(error)),
            }
        }
    }
}

pub(crate) fn subscription_error(error: AggregateError<SubscriptionError>) -> AppError {
    match error {
        AggregateError::UserError(rejection) => rejection.into(),
        AggregateError::AggregateConflict => AppError::ContentionExhausted {
            resource: "subscription",
        },
        other => AppError::Store(StoreError(Box::new(other))),
    }
}

impl From<SubscriptionError> for AppError {
    fn from(error: SubscriptionError) -> Self {
        match error {
            SubscriptionError::CloudAnalysisNotAllowed { status } => {
                AppError::CloudAnalysisNotAllowed { status }
            }
            SubscriptionError::LimitReached {
                kind,
                limit,
                used,
                resets_at,
            } => AppError::LimitReached {
                kind,
                limit,
                used,
                resets_at,
            },
        }
    }
}
