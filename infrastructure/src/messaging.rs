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
