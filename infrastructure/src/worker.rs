//! Analysis workers: a durable JetStream pull consumer of `analysis.requested`, several jobs at
//! once, each kept alive with progress acks while it runs. The job's outcome decides the ack:
//! done (or nothing to do) → ack; retry → NAK with the policy's delay (chosen here: a plain NAK
//! ignores the consumer's backoff); an infrastructure failure → NAK soon, without counting an
//! attempt. A crash means no ack: JetStream delivers the job again after `ack_wait`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use application::jobs::{AnalysisJobs, JobOutcome};
use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::{self, AckKind};
use domain::AnalysisId;
use futures::StreamExt;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::messaging::Topology;

type CancelFlags = Arc<Mutex<HashMap<AnalysisId, Arc<AtomicBool>>>>;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub ack_wait: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 2,
            ack_wait: Duration::from_secs(30),
        }
    }
}

pub struct Worker {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    topology: Topology,
    jobs: AnalysisJobs,
    settings: WorkerSettings,
}

pub struct WorkerHandle {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

#[derive(Debug, thiserror::Error)]
#[error("worker setup failed: {0}")]
pub struct WorkerError(String);

impl Worker {
    pub fn new(
        client: async_nats::Client,
        jetstream: jetstream::Context,
        topology: Topology,
        jobs: AnalysisJobs,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            client,
            jetstream,
            topology,
            jobs,
            settings,
        }
    }

    async fn consumer(&self) -> Result<jetstream::consumer::Consumer<pull::Config>, WorkerError> {
        let stream = crate::messaging::ensure_stream(&self.jetstream, &self.topology)
            .await
            .map_err(|error| WorkerError(error.to_string()))?;
        let name = self.topology.workers_consumer();
        stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: self.topology.analysis_requested_filter(),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: self.settings.ack_wait,
                    // Attempts are counted by the analysis itself; JetStream never gives up.
                    max_deliver: -1,
                    max_ack_pending: 1_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(|error| WorkerError(error.to_string()))
    }

    pub fn spawn(self) -> WorkerHandle {
        let (shutdown, stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(500);
            loop {
                if *stopped.borrow() {
                    return;
                }
                match self.run(stopped.clone()).await {
                    Ok(()) => return,
                    Err(error) => {
                        tracing::warn!(%error, "worker stopped; restarting");
                        let mut stopped = stopped.clone();
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = stopped.changed() => return,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
        WorkerHandle { shutdown, task }
    }

    async fn run(&self, mut stopped: watch::Receiver<bool>) -> Result<(), WorkerError> {
        let consumer = self.consumer().await?;
        let flags: CancelFlags = Arc::default();
        let mut cancels = self
            .client
            .subscribe(self.topology.cancel_wildcard())
            .await
            .map_err(|error| WorkerError(error.to_string()))?;
        let cancel_flags = flags.clone();
        let cancel_listener = tokio::spawn(async move {
            while let Some(message) = cancels.next().await {
                // <prefix>.control.analysis.<id>.cancel
                let mut tokens = message.subject.as_str().rsplit('.');
                let _ = tokens.next();
                if let Some(id) = tokens.next().and_then(|id| id.parse::<AnalysisId>().ok()) {
                    if let Some(flag) = cancel_flags.lock().expect("cancel flags").get(&id) {
                        flag.store(true, Ordering::Relaxed);
                    }
                }
            }
        });
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(self.settings.concurrency)
            .messages()
            .await
            .map_err(|error| WorkerError(error.to_string()))?;
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut running = tokio::task::JoinSet::new();
        let result = loop {
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("semaphore open"),
                _ = stopped.changed() => break Ok(()),
            };
            let message = tokio::select! {
                message = messages.next() => message,
                _ = stopped.changed() => break Ok(()),
            };
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(error)) => {
                    tracing::warn!(%error, "receiving a job failed");
                    continue;
                }
                None => break Err(WorkerError("the job stream ended".into())),
            };
            let jobs = self.jobs.clone();
            let flags = flags.clone();
            let ack_wait = self.settings.ack_wait;
            running.spawn(async move {
                handle(message, jobs, flags, ack_wait).await;
                drop(permit);
            });
            while running.try_join_next().is_some() {}
        };
        // Let running jobs finish their current step; unacked ones are delivered again.
        running.abort_all();
        while running.join_next().await.is_some() {}
        cancel_listener.abort();
        result
    }
}

/// How long a job over its owner's running-at-once limit waits before it asks again.
const SLOT_RECHECK: Duration = Duration::from_secs(1);

async fn handle(
    message: jetstream::Message,
    jobs: AnalysisJobs,
    flags: CancelFlags,
    ack_wait: Duration,
) {
    let subject = message.subject.as_str().to_string();
    let Some(analysis_id) = subject
        .rsplit('.')
        .next()
        .and_then(|id| id.parse::<AnalysisId>().ok())
    else {
        tracing::warn!(subject, "a job message without an analysis id; dropped");
        let _ = message.ack_with(AckKind::Term).await;
        return;
    };
    let causation_id = serde_json::from_slice::<serde_json::Value>(&message.payload)
        .ok()
        .and_then(|body| body["id"].as_str().and_then(|id| id.parse::<Uuid>().ok()))
        .unwrap_or_else(Uuid::now_v7);
    let cancel = Arc::new(AtomicBool::new(false));
    flags
        .lock()
        .expect("cancel flags")
        .insert(analysis_id, cancel.clone());

    // Keep the message ours while the job runs.
    let keep_alive = {
        let message = message.clone();
        tokio::spawn(async move {
            let every = (ack_wait / 3).max(Duration::from_millis(100));
            loop {
                tokio::time::sleep(every).await;
                if message.ack_with(AckKind::Progress).await.is_err() {
                    return;
                }
            }
        })
    };
    let outcome = jobs.run(analysis_id, cancel, causation_id).await;
    keep_alive.abort();
    flags.lock().expect("cancel flags").remove(&analysis_id);

    let ack = match &outcome {
        Ok(JobOutcome::RetryAfter { delay, error }) => {
            tracing::info!(analysis.id = %analysis_id, %error, delay_ms = delay.as_millis() as u64, "attempt failed; retrying later");
            AckKind::Nak(Some(*delay))
        }
        Ok(JobOutcome::WaitingForSlot { limit }) => {
            // The owner's analyses use every slot of the plan; look again shortly. Jitter
            // keeps a user's waiting jobs from all asking at the same moment.
            let delay = SLOT_RECHECK + Duration::from_millis(rand::random_range(0..1000));
            tracing::debug!(analysis.id = %analysis_id, limit, "waiting for a run slot");
            AckKind::Nak(Some(delay))
        }
        Ok(JobOutcome::Failed { error }) => {
            tracing::warn!(analysis.id = %analysis_id, %error, "analysis failed");
            AckKind::Ack
        }
        Ok(_) => AckKind::Ack,
        Err(error) => {
            // Postgres unreachable or similar: not the job's fault, try again soon.
            tracing::error!(analysis.id = %analysis_id, %error, "job could not run; redelivering");
            AckKind::Nak(Some(Duration::from_secs(2)))
        }
    };
    if let Err(error) = message.ack_with(ack).await {
        tracing::warn!(analysis.id = %analysis_id, %error, "ack failed; the job will be delivered again");
    }
}
