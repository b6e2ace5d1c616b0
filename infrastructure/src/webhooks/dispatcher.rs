//! The webhook dispatcher, a role of its own. Two loops:
//!
//! - the recorder, a durable JetStream pull consumer of every domain event, writes one
//!   delivery per (event, matching endpoint) into Postgres and only then acks (a repeat is a
//!   no-op: `UNIQUE (endpoint_id, event_id)`);
//! - the sender claims due deliveries with a lease, sends them (Standard Webhooks), records
//!   each attempt, and schedules the next one from the retry schedule (with jitter, and never
//!   sooner than a `Retry-After`). The schedule lives in Postgres: a restart loses nothing, and
//!   a dispatcher that dies mid-attempt leaves the delivery to another once the lease ends.
//!
//! An endpoint that answers 410, or that has failed without a success for `disable_after`
//! (five days), is disabled and its owner notified.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, AckKind};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use rand::Rng;
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use uuid::Uuid;

use application::notifications::{Notification, NotificationKind, NotificationOutbox};
use application::webhooks::{message_body, AddressPolicy, WebhookSecret, WEBHOOK_EVENT_TYPES};
use domain::{ProjectId, UserId};

use super::http::{AttemptResult, HostResolver, HttpSender, Outgoing};
use super::store::OWNER_COLUMNS;
use crate::messaging::Topology;

/// The internal endpoint's fixed id (one per deployment).
pub const INTERNAL_ENDPOINT_ID: Uuid = Uuid::from_u128(0x1d7e_5a90_c0de_4b1e_9f00_0000_0000_0001);

/// The event types the internal endpoint receives.
pub const INTERNAL_EVENT_TYPES: &[&str] = &["analysis.completed", "analysis.failed"];

/// `INTERNAL_WEBHOOK_URL` and the secret its deliveries are signed with.
#[derive(Debug, Clone)]
pub struct InternalEndpoint {
    pub url: String,
    pub secret: WebhookSecret,
}

#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    /// Delay before each attempt: the first is usually 0 (immediately).
    pub schedule: Vec<Duration>,
    pub timeout: Duration,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: Duration,
    /// Deliveries sent at once.
    pub concurrency: usize,
    /// Idle poll of the sender (new deliveries of this process wake it at once).
    pub poll: Duration,
    pub policy: AddressPolicy,
    pub resolver: Arc<dyn HostResolver>,
    pub internal: Option<InternalEndpoint>,
    /// Bytes of a response body kept in the delivery log.
    pub response_limit: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatcherError {
    #[error("database error in the webhook dispatcher: {0}")]
    Database(#[from] sqlx::Error),
    #[error("JetStream: {0}")]
    Nats(String),
}

pub struct Dispatcher {
    pool: PgPool,
    jetstream: jetstream::Context,
    topology: Topology,
    settings: DispatcherSettings,
    outbox: Arc<dyn NotificationOutbox>,
    sender: Arc<HttpSender>,
    wake: Arc<Notify>,
}

pub struct DispatcherHandle {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl DispatcherHandle {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The public envelope the relay publishes (see `public_events`), as far as webhooks need it.
#[derive(Debug, Deserialize)]
struct Envelope {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: String,
    subject: String,
    time: DateTime<Utc>,
    #[serde(default)]
    data: Value,
}

/// A delivery claimed for an attempt.
#[derive(sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    body: String,
    attempts: i32,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_expires_at: Option<DateTime<Utc>>,
    internal: bool,
}

impl Dispatcher {
    pub fn new(
        pool: PgPool,
        jetstream: jetstream::Context,
        topology: Topology,
        settings: DispatcherSettings,
        outbox: Arc<dyn NotificationOutbox>,
    ) -> Self {
        let sender = Arc::new(HttpSender {
            policy: settings.policy.clone(),
            resolver: settings.resolver.clone(),
            timeout: settings.timeout,
            response_limit: settings.response_limit,
        });
        Self {
            pool,
            jetstream,
            topology,
            settings,
            outbox,
            sender,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn consumer_name(topology: &Topology) -> String {
        format!("{}-webhook-dispatcher", topology.prefix.replace('.', "-"))
    }

    pub fn spawn(self) -> DispatcherHandle {
        let (shutdown, stopped) = watch::channel(false);
        let this = Arc::new(self);
        let recorder = {
            let this = this.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let mut backoff = Duration::from_millis(200);
                loop {
                    if *stopped.borrow() {
                        return;
                    }
                    if let Err(error) = this.record_events(stopped.clone()).await {
                        tracing::warn!(%error, "webhook recorder stopped; restarting");
                    } else {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stopped.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            })
        };
        let sender = {
            let this = this.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                if let Err(error) = this.sync_internal_endpoint().await {
                    tracing::warn!(%error, "internal webhook endpoint not configured");
                }
                loop {
                    let sent = tokio::select! {
                        sent = this.send_due() => sent,
                        _ = stopped.changed() => return,
                    };
                    let sent = sent.unwrap_or_else(|error| {
                        tracing::warn!(%error, "webhook sender failed; retrying");
                        0
                    });
                    if sent > 0 {
                        continue;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(this.settings.poll) => {}
                        _ = this.wake.notified() => {}
                        _ = stopped.changed() => return,
                    }
                }
            })
        };
        DispatcherHandle {
            shutdown,
            tasks: vec![recorder, sender],
        }
    }

    /// Creates, updates or retires the internal endpoint to match the configuration.
    async fn sync_internal_endpoint(&self) -> Result<(), sqlx::Error> {
        match &self.settings.internal {
            Some(internal) => {
                let types: Vec<String> =
                    INTERNAL_EVENT_TYPES.iter().map(|t| t.to_string()).collect();
                sqlx::query(
                    "INSERT INTO webhook_endpoints (id, owner_id, url, event_types, secret, internal) \
                     VALUES ($1, NULL, $2, $3, $4, true) \
                     ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, \
                         event_types = EXCLUDED.event_types, deleted_at = NULL, disabled_at = NULL",
                )
                .bind(INTERNAL_ENDPOINT_ID)
                .bind(&internal.url)
                .bind(&types)
                .bind(internal.secret.expose())
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE webhook_endpoints SET deleted_at = now() \
                      WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(INTERNAL_ENDPOINT_ID)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    async fn record_events(
        &self,
        mut stopped: watch::Receiver<bool>,
    ) -> Result<(), DispatcherError> {
        let stream = crate::messaging::ensure_stream(&self.jetstream, &self.topology)
            .await
            .map_err(|error| DispatcherError::Nats(error.to_string()))?;
        let name = Self::consumer_name(&self.topology);
        let consumer = stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: self.topology.events_subjects(),
                    ack_policy: AckPolicy::Explicit,
                    deliver_policy: DeliverPolicy::All,
                    ack_wait: Duration::from_secs(30),
                    max_deliver: -1,
                    max_ack_pending: 1_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(|error| DispatcherError::Nats(error.to_string()))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|error| DispatcherError::Nats(error.to_string()))?;
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                _ = stopped.changed() => return Ok(()),
            };
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(error)) => {
                    tracing::warn!(%error, "receiving an event failed");
                    continue;
                }
                None => return Err(DispatcherError::Nats("the event stream ended".into())),
            };
            let ack = match serde_json::from_slice::<Envelope>(&message.payload) {
                // Not an event we can read: it never will be.
                Err(error) => {
                    tracing::warn!(%error, subject = %message.subject, "unreadable event skipped");
                    AckKind::Term
                }
                Ok(envelope) => match self.record(&envelope).await {
                    Ok(recorded) => {
                        if recorded > 0 {
                            self.wake.notify_one();
                        }
                        AckKind::Ack
                    }
                    Err(error) => {
                        tracing::warn!(%error, event.id = %envelope.id, "recording deliveries failed; redelivered soon");
                        AckKind::Nak(Some(Duration::from_secs(1)))
                    }
                },
            };
            if let Err(error) = message.ack_with(ack).await {
                tracing::warn!(%error, "ack failed; the event comes again (recording is idempotent)");
            }
        }
    }

    /// Records the deliveries of one event; returns how many are new.
    async fn record(&self, envelope: &Envelope) -> Result<u64, sqlx::Error> {
        if !WEBHOOK_EVENT_TYPES.contains(&envelope.event_type.as_str()) {
            return Ok(0);
        }
        let Some((aggregate_type, _)) = super::stored_event_type(&envelope.event_type) else {
            return Ok(0);
        };
        let (owner, project): (Option<String>, Option<String>) = sqlx::query_as(&format!(
            "SELECT {OWNER_COLUMNS} FROM events f \
              WHERE f.aggregate_type = $1 AND f.aggregate_id = $2 AND f.sequence = 1"
        ))
        .bind(aggregate_type)
        .bind(&envelope.subject)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or((None, None));
        let owner_id = owner.and_then(|id| id.parse::<Uuid>().ok());
        let project_id = project.and_then(|id| id.parse::<Uuid>().ok());
        let body = message_body(
            &envelope.event_type,
            envelope.time,
            &envelope.subject,
            owner_id.map(UserId::from_uuid),
            project_id.map(ProjectId::from_uuid),
            &envelope.data,
        );
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body) \
             SELECT gen_random_uuid(), e.id, $1, $2, $3 FROM webhook_endpoints e \
              WHERE e.deleted_at IS NULL AND e.disabled_at IS NULL \
                AND (e.internal OR e.owner_id = $4) \
                AND (cardinality(e.event_types) = 0 OR $2 = ANY(e.event_types)) \
                AND (e.project_id IS NULL OR e.project_id = $5) \
                AND e.created_at <= $6 \
             ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        )
        .bind(envelope.id)
        .bind(&envelope.event_type)
        .bind(&body)
        .bind(owner_id)
        .bind(project_id)
        .bind(envelope.time)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected())
    }

    /// Claims the due deliveries (up to the concurrency) and sends them; returns how many.
    pub async fn send_due(&self) -> Result<usize, sqlx::Error> {
        // A lease longer than an attempt: a dispatcher that dies mid-attempt leaves the
        // delivery to another when it ends. No transaction is held while a receiver answers.
        let lease = self.settings.timeout + Duration::from_secs(30);
        let claimed: Vec<Claimed> = sqlx::query_as(
            "WITH due AS ( \
                SELECT d.id FROM webhook_deliveries d \
                  JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 WHERE d.status = 'pending' AND d.next_attempt_at <= now() \
                   AND e.deleted_at IS NULL AND e.disabled_at IS NULL \
                 ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED) \
             UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2) \
               FROM due, webhook_endpoints e \
              WHERE d.id = due.id AND e.id = d.endpoint_id \
             RETURNING d.id, d.endpoint_id, d.event_id, d.body, d.attempts, e.url, e.secret, \
                       e.previous_secret, e.previous_secret_expires_at, e.internal",
        )
        .bind(self.settings.concurrency.max(1) as i64)
        .bind(lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let count = claimed.len();
        let results = futures::future::join_all(
            claimed
                .into_iter()
                .map(|delivery| async move { self.attempt(delivery).await }),
        )
        .await;
        for result in results {
            result?;
        }
        Ok(count)
    }

    async fn attempt(&self, delivery: Claimed) -> Result<(), sqlx::Error> {
        let now = Utc::now();
        let current = WebhookSecret::parse(&delivery.secret);
        let previous = delivery
            .previous_secret
            .as_deref()
            .filter(|_| {
                delivery
                    .previous_secret_expires_at
                    .is_some_and(|until| until > now)
            })
            .and_then(|secret| WebhookSecret::parse(secret).ok());
        let result = match &current {
            Ok(current) => {
                let mut secrets = vec![current];
                secrets.extend(previous.as_ref());
                let message_id = delivery.event_id.to_string();
                self.sender
                    .send(
                        &Outgoing {
                            url: &delivery.url,
                            message_id: &message_id,
                            body: &delivery.body,
                            secrets,
                            trusted: delivery.internal,
                        },
                        now,
                    )
                    .await
            }
            Err(error) => AttemptResult {
                status_code: None,
                duration: Duration::ZERO,
                response_body: None,
                error: Some(format!("the endpoint's secret is unusable: {error}")),
                retry_after: None,
            },
        };
        self.record_attempt(&delivery, now, &result).await
    }

    async fn record_attempt(
        &self,
        delivery: &Claimed,
        at: DateTime<Utc>,
        result: &AttemptResult,
    ) -> Result<(), sqlx::Error> {
        let attempt = delivery.attempts + 1;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_attempts \
                 (delivery_id, attempt, attempted_at, status_code, duration_ms, response_body, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(delivery.id)
        .bind(attempt)
        .bind(at)
        .bind(result.status_code.map(i32::from))
        .bind(result.duration.as_millis() as i64)
        .bind(&result.response_body)
        .bind(&result.error)
        .execute(&mut *tx)
        .await?;
        let mut disable: Option<String> = None;
        if result.succeeded() {
            sqlx::query(
                "UPDATE webhook_deliveries SET status = 'succeeded', attempts = $2, \
                        last_attempt_at = $3 WHERE id = $1",
            )
            .bind(delivery.id)
            .bind(attempt)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1")
                .bind(delivery.endpoint_id)
                .execute(&mut *tx)
                .await?;
        } else {
            let next = self.next_delay(attempt, result.retry_after);
            let gone = result.status_code == Some(410);
            let status = if gone || next.is_none() {
                "failed"
            } else {
                "pending"
            };
            let next_at = at
                + chrono::Duration::from_std(next.unwrap_or_default())
                    .unwrap_or(chrono::Duration::days(1));
            sqlx::query(
                "UPDATE webhook_deliveries SET status = $2, attempts = $3, last_attempt_at = $4, \
                        next_attempt_at = $5 WHERE id = $1",
            )
            .bind(delivery.id)
            .bind(status)
            .bind(attempt)
            .bind(at)
            .bind(next_at)
            .execute(&mut *tx)
            .await?;
            let failing_since: DateTime<Utc> = sqlx::query_scalar(
                "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2) \
                  WHERE id = $1 RETURNING failing_since",
            )
            .bind(delivery.endpoint_id)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            if !delivery.internal {
                if gone {
                    disable = Some("the endpoint answered 410 Gone".into());
                } else if (at - failing_since).to_std().unwrap_or_default()
                    >= self.settings.disable_after
                {
                    disable = Some(format!(
                        "every delivery failed since {}",
                        failing_since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ));
                }
            }
        }
        let mut disabled_owner = None;
        if let Some(reason) = &disable {
            disabled_owner = sqlx::query_scalar::<_, Option<Uuid>>(
                "UPDATE webhook_endpoints SET disabled_at = $2, disabled_reason = $3 \
                  WHERE id = $1 AND disabled_at IS NULL RETURNING owner_id",
            )
            .bind(delivery.endpoint_id)
            .bind(at)
            .bind(reason)
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
        }
        tx.commit().await?;
        match (&disable, disabled_owner) {
            (Some(reason), Some(owner)) => {
                tracing::warn!(webhook.endpoint = %delivery.endpoint_id, %reason, "webhook endpoint disabled");
                let notification = Notification {
                    id: Notification::id_for(
                        NotificationKind::WebhookEndpointDisabled,
                        &format!("{}:{}", delivery.endpoint_id, at.timestamp_micros()),
                    ),
                    user: UserId::from_uuid(owner),
                    kind: NotificationKind::WebhookEndpointDisabled,
                    subject: "A webhook endpoint of yours was disabled".into(),
                    body: format!(
                        "Insight Cloud stopped sending events to {} because {reason}.\n\
                         Fix the receiver, then register the endpoint again; \
                         POST /api/insight/webhooks/{{id}}/replay resends what it missed.",
                        delivery.url
                    ),
                    created_at: at,
                };
                if let Err(error) = self.outbox.record(&notification).await {
                    tracing::warn!(%error, "notifying the owner of a disabled endpoint failed");
                }
            }
            _ => {
                if result.succeeded() {
                    tracing::debug!(webhook.delivery = %delivery.id, attempt, "webhook delivered");
                } else {
                    tracing::info!(webhook.delivery = %delivery.id, attempt,
                        status = ?result.status_code, error = ?result.error, "webhook attempt failed");
                }
            }
        }
        Ok(())
    }

    /// The delay before the attempt after `attempts` failed ones (None: the schedule is
    /// exhausted): the schedule's delay with ±10 % jitter, and never less than `Retry-After`.
    fn next_delay(&self, attempts: i32, retry_after: Option<Duration>) -> Option<Duration> {
        let base = *self.settings.schedule.get(attempts.max(0) as usize)?;
        let jittered = if base.is_zero() {
            base
        } else {
            base.mul_f64(rand::rng().random_range(0.9..=1.1))
        };
        Some(match retry_after {
            Some(wait) => jittered.max(wait.min(Duration::from_secs(24 * 3600))),
            None => jittered,
        })
    }
}
