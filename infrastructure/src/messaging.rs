//! NATS connections. The relay and the workers (job pipeline) build on this.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("cannot connect to NATS at {url}: {source}")]
pub struct NatsConnectError {
    pub url: String,
    #[source]
    pub source: async_nats::ConnectError,
}

/// Connects with retries in the background: start-up does not fail when NATS is briefly down,
/// and readiness reports the connection state instead.
pub async fn connect(url: &str) -> Result<async_nats::Client, NatsConnectError> {
    async_nats::ConnectOptions::new()
        .name("insight")
        .connection_timeout(Duration::from_secs(5))
        .retry_on_initial_connect()
        .connect(url)
        .await
        .map_err(|source| NatsConnectError {
            url: url.to_string(),
            source,
        })
}

/// True when the client holds a live connection and the server answers a round trip.
pub async fn is_ready(client: &async_nats::Client) -> bool {
    matches!(
        client.connection_state(),
        async_nats::connection::State::Connected
    ) && tokio::time::timeout(Duration::from_secs(2), client.flush())
        .await
        .is_ok_and(|flushed| flushed.is_ok())
}

/// Names derived from the subject prefix (`insight` in production; tests use their own, so
/// they run side by side on one NATS server).
#[derive(Debug, Clone)]
pub struct Topology {
    pub prefix: String,
}

impl Topology {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// `INSIGHT_EVENTS` for the prefix `insight`.
    pub fn stream_name(&self) -> String {
        format!(
            "{}_EVENTS",
            self.prefix.to_ascii_uppercase().replace(['.', '-'], "_")
        )
    }

    pub fn events_subjects(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    pub fn analysis_requested_filter(&self) -> String {
        format!("{}.events.analysis.requested.*", self.prefix)
    }

    pub fn cancel_subject(&self, analysis_id: &str) -> String {
        format!("{}.control.analysis.{analysis_id}.cancel", self.prefix)
    }

    pub fn cancel_wildcard(&self) -> String {
        format!("{}.control.analysis.*.cancel", self.prefix)
    }

    pub fn workers_consumer(&self) -> String {
        format!("{}-analysis-workers", self.prefix.replace('.', "-"))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot set up the JetStream stream {stream}: {message}")]
pub struct StreamSetupError {
    pub stream: String,
    pub message: String,
}

/// Creates or updates the events stream: file storage, a duplicate window longer than any
/// restart (10 min) so `Nats-Msg-Id` removes what a relay publishes twice.
pub async fn ensure_stream(
    jetstream: &async_nats::jetstream::Context,
    topology: &Topology,
) -> Result<async_nats::jetstream::stream::Stream, StreamSetupError> {
    use async_nats::jetstream::stream;
    let config = stream::Config {
        name: topology.stream_name(),
        subjects: vec![topology.events_subjects()],
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(600),
        ..Default::default()
    };
    jetstream
        .create_or_update_stream(config)
        .await
        .map_err(|error| StreamSetupError {
            stream: topology.stream_name(),
            message: error.to_string(),
        })?;
    jetstream
        .get_stream(topology.stream_name())
        .await
        .map_err(|error| StreamSetupError {
            stream: topology.stream_name(),
            message: error.to_string(),
        })
}

/// Tells workers, over core NATS, that an analysis was cancelled (no history needed: the
/// cancellation itself is an event; this only makes a running job stop sooner).
#[derive(Clone)]
pub struct NatsCancelSignal {
    pub client: async_nats::Client,
    pub topology: Topology,
}

#[async_trait::async_trait]
impl application::CancelSignal for NatsCancelSignal {
    async fn cancelled(&self, analysis_id: domain::AnalysisId) {
        let subject = self.topology.cancel_subject(&analysis_id.to_string());
        if let Err(error) = self.client.publish(subject, "".into()).await {
            tracing::warn!(%error, analysis.id = %analysis_id, "cancel signal not sent; the job stops at its next check");
        }
    }
}
