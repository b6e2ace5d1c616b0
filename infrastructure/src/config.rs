//! Configuration from the environment, with defaults that work on a developer machine
//! (Postgres and NATS on loopback). Every variable is listed in the README.

use std::env;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: created at start-up if the database does not exist.
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`
    pub database_max_connections: u32,
    /// `NATS_URL`
    pub nats_url: String,
    /// `BIND_ADDR`
    pub bind_addr: SocketAddr,
    /// `READ_YOUR_WRITES_TIMEOUT_MS`: how long a write waits for its read model.
    pub read_your_writes_timeout: Duration,
    /// `PROJECTION_BATCH_SIZE`: events per projector transaction.
    pub projection_batch_size: i64,
    /// `PROJECTION_POLL_MS`: idle poll interval of catch-up readers (notifications wake them
    /// sooner).
    pub projection_poll: Duration,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
}

impl Config {
    /// Loopback needs no TLS (sqlx would otherwise negotiate it: `sslmode=prefer`).
    pub const DEFAULT_DATABASE_URL: &'static str =
        "postgres://postgres@127.0.0.1:5432/insight?sslmode=disable";
    pub const DEFAULT_NATS_URL: &'static str = "nats://127.0.0.1:4222";

    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            database_url: string("DATABASE_URL", Self::DEFAULT_DATABASE_URL),
            database_max_connections: parsed("DATABASE_MAX_CONNECTIONS", 20)?,
            nats_url: string("NATS_URL", Self::DEFAULT_NATS_URL),
            bind_addr: parsed("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            read_your_writes_timeout: Duration::from_millis(parsed(
                "READ_YOUR_WRITES_TIMEOUT_MS",
                2_000,
            )?),
            projection_batch_size: parsed("PROJECTION_BATCH_SIZE", 500)?,
            projection_poll: Duration::from_millis(parsed("PROJECTION_POLL_MS", 50)?),
            log_json: string("LOG_FORMAT", "text").eq_ignore_ascii_case("json"),
        })
    }

    /// The same settings against another database (tests and benchmarks use one each).
    pub fn with_database_url(mut self, database_url: impl Into<String>) -> Self {
        self.database_url = database_url.into();
        self
    }
}

fn string(name: &'static str, default: &str) -> String {
    env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn parsed<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match env::var(name) {
        Ok(raw) if !raw.trim().is_empty() => {
            raw.trim().parse().map_err(|error: T::Err| ConfigError {
                name,
                message: format!("cannot parse `{raw}`: {error}"),
            })
        }
        _ => Ok(default),
    }
}
