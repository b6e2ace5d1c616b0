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
    /// `PROJECTION_POLL_MS`: idle poll interval of catch-up readers (appends in the same
    /// process wake them at once; this is how they see other processes' appends).
    pub projection_poll: Duration,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
    /// `NATS_SUBJECT_PREFIX`: subjects `<prefix>.events.>`, stream `<PREFIX>_EVENTS`.
    pub nats_prefix: String,
    /// `WORKER_CONCURRENCY`: jobs one worker process runs at once.
    pub worker_concurrency: usize,
    /// `WORKER_ACK_WAIT_SECS`: how long a silent worker keeps a job before redelivery.
    pub worker_ack_wait: Duration,
    /// `RETRY_DELAYS`: delays between attempts, e.g. `5s,30s,2m` (three retries, four attempts).
    pub retry_delays: Vec<Duration>,
    /// `GIT_TIMEOUT_SECS`: bound on one fetch and checkout.
    pub git_timeout: Duration,
    /// `MAX_SOURCE_MB`: bound on a checked-out or extracted tree.
    pub max_source_bytes: u64,
    /// `UPLOAD_MAX_MB`: largest archive `POST /api/insight/uploads` accepts.
    pub max_upload_bytes: usize,
    /// `UPLOAD_MAX_FILES`: most files an archive may hold.
    pub max_upload_files: u64,
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
            nats_prefix: string("NATS_SUBJECT_PREFIX", "insight"),
            worker_concurrency: parsed("WORKER_CONCURRENCY", 2)?,
            worker_ack_wait: Duration::from_secs(parsed("WORKER_ACK_WAIT_SECS", 30)?),
            retry_delays: durations("RETRY_DELAYS", "5s,30s,2m")?,
            git_timeout: Duration::from_secs(parsed("GIT_TIMEOUT_SECS", 120)?),
            max_source_bytes: parsed::<u64>("MAX_SOURCE_MB", 512)? * 1024 * 1024,
            max_upload_bytes: parsed::<usize>("UPLOAD_MAX_MB", 50)? * 1024 * 1024,
            max_upload_files: parsed("UPLOAD_MAX_FILES", 100_000)?,
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

/// `500ms`, `5s`, `2m`, `1h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(split) => text.split_at(split),
        None => (text, "s"),
    };
    let value: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(value)),
        "s" => Some(Duration::from_secs(value)),
        "m" => Some(Duration::from_secs(value * 60)),
        "h" => Some(Duration::from_secs(value * 3600)),
        _ => None,
    }
}

fn durations(name: &'static str, default: &str) -> Result<Vec<Duration>, ConfigError> {
    let raw = string(name, default);
    if raw.trim() == "none" {
        return Ok(Vec::new());
    }
    raw.split(',')
        .map(|part| {
            parse_duration(part).ok_or_else(|| ConfigError {
                name,
                message: format!("`{part}` is not a duration like 500ms, 5s, 2m or 1h"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_their_units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("5 days"), None);
    }
}
