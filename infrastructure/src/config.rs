//! Configuration from the environment, with defaults that work on a developer machine
//! (Postgres and NATS on loopback). Every variable is listed in the README.

use std::collections::HashMap;
use std::env;
use std::net::SocketAddr;
use std::time::Duration;

use domain::{Plan, PlanCatalog, PlanLimits};

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
    /// `PLAN_FREE`, `PLAN_PRO`, `PLAN_ENTERPRISE`: limits that differ from the published
    /// plans, e.g. `PLAN_PRO=period:2000,hour:200,running:5,projects:100,retention:180`
    /// (`unlimited` for no bound; unnamed limits keep their default).
    pub plans: PlanCatalog,
    /// `STRIPE_WEBHOOK_SECRET`: the endpoint's signing secret (`whsec_...`). Unset: the Stripe
    /// webhook refuses every delivery.
    pub stripe_webhook_secret: Option<String>,
    /// `STRIPE_PRICE_PLANS`: which plan each Stripe price buys, `price_a=pro,price_b=enterprise`.
    pub stripe_prices: HashMap<String, Plan>,
    /// `SMTP_URL`: where notifications are e-mailed, e.g. `smtp://127.0.0.1:2525` or
    /// `smtps://user:pass@smtp.example.com`. Unset: notifications are only recorded.
    pub smtp_url: Option<String>,
    /// `SMTP_FROM`: the sender address of notification e-mails.
    pub smtp_from: String,
    /// `SMTP_RETRY_BASE_MS`: the first delay after a failed send, doubling up to an hour.
    pub smtp_retry_base: Duration,
    /// `SMTP_TIMEOUT_MS`: the bound on one whole SMTP conversation (at most 60 s).
    pub smtp_timeout: Duration,
    /// `WEBHOOK_ALLOW_HTTP`: `true` accepts http:// endpoint URLs (development and tests only).
    pub webhook_allow_http: bool,
    /// `WEBHOOK_ALLOWED_CIDRS`: ranges webhooks may reach although they are private, loopback,
    /// ... (comma-separated, e.g. `127.0.0.1/32,10.8.0.0/16`). Empty in production.
    pub webhook_allowed_cidrs: Vec<ipnet::IpNet>,
    /// `WEBHOOK_RETRY_SCHEDULE`: the delay before each attempt, the first usually `0s`.
    pub webhook_retry_schedule: Vec<Duration>,
    /// `WEBHOOK_TIMEOUT_MS`: bound on one attempt (connect, send, response).
    pub webhook_timeout: Duration,
    /// `WEBHOOK_DISABLE_AFTER`: an endpoint failing without a success this long is disabled.
    pub webhook_disable_after: Duration,
    /// `WEBHOOK_SECRET_OVERLAP`: how long the old secret keeps signing after a rotation.
    pub webhook_secret_overlap: Duration,
    /// `WEBHOOK_CONCURRENCY`: deliveries one dispatcher sends at once.
    pub webhook_concurrency: usize,
    /// `WEBHOOK_POLL_MS`: how often an idle dispatcher looks for due retries.
    pub webhook_poll: Duration,
    /// `INTERNAL_WEBHOOK_SECRET`: `whsec_...`; signs what trusted services send to
    /// `POST /api/webhooks/insight-internal` and what the dispatcher sends to
    /// `INTERNAL_WEBHOOK_URL`. Unset: the internal webhook answers 503.
    pub internal_webhook_secret: Option<String>,
    /// `INTERNAL_WEBHOOK_URL`: where `analysis.completed` and `analysis.failed` are also sent.
    pub internal_webhook_url: Option<String>,
    /// Resolves webhook host names (not from the environment: the system resolver; tests put
    /// their own here).
    pub webhook_resolver: std::sync::Arc<dyn crate::webhooks::HostResolver>,
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
            plans: plans()?,
            stripe_webhook_secret: optional("STRIPE_WEBHOOK_SECRET"),
            stripe_prices: price_plans()?,
            smtp_url: optional("SMTP_URL"),
            smtp_from: string(
                "SMTP_FROM",
                "Insight Cloud <notifications@insight.localhost>",
            ),
            smtp_retry_base: Duration::from_millis(parsed("SMTP_RETRY_BASE_MS", 5_000)?),
            smtp_timeout: Duration::from_millis(parsed("SMTP_TIMEOUT_MS", 30_000)?),
            webhook_allow_http: parsed("WEBHOOK_ALLOW_HTTP", false)?,
            webhook_allowed_cidrs: cidrs("WEBHOOK_ALLOWED_CIDRS")?,
            webhook_retry_schedule: durations(
                "WEBHOOK_RETRY_SCHEDULE",
                "0s,5s,5m,30m,2h,5h,10h,10h",
            )?,
            webhook_timeout: Duration::from_millis(parsed("WEBHOOK_TIMEOUT_MS", 15_000)?),
            webhook_disable_after: duration("WEBHOOK_DISABLE_AFTER", "5d")?,
            webhook_secret_overlap: duration("WEBHOOK_SECRET_OVERLAP", "24h")?,
            webhook_concurrency: parsed("WEBHOOK_CONCURRENCY", 8)?,
            webhook_poll: Duration::from_millis(parsed("WEBHOOK_POLL_MS", 1_000)?),
            internal_webhook_secret: optional("INTERNAL_WEBHOOK_SECRET"),
            internal_webhook_url: optional("INTERNAL_WEBHOOK_URL"),
            webhook_resolver: std::sync::Arc::new(crate::webhooks::SystemResolver),
        })
    }

    /// The same settings against another database (tests and benchmarks use one each).
    pub fn with_database_url(mut self, database_url: impl Into<String>) -> Self {
        self.database_url = database_url.into();
        self
    }
}

fn optional(name: &'static str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.trim().is_empty())
}

fn plans() -> Result<PlanCatalog, ConfigError> {
    let mut catalog = PlanCatalog::default();
    for (name, plan) in [
        ("PLAN_FREE", Plan::Free),
        ("PLAN_PRO", Plan::Pro),
        ("PLAN_ENTERPRISE", Plan::Enterprise),
    ] {
        if let Some(spec) = optional(name) {
            parse_plan_limits(&spec, catalog.limits_mut(plan))
                .map_err(|message| ConfigError { name, message })?;
        }
    }
    Ok(catalog)
}

/// Applies `period:10,hour:5,running:1,projects:3,retention:30` to `limits`.
pub fn parse_plan_limits(spec: &str, limits: &mut PlanLimits) -> Result<(), String> {
    for part in spec
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let (key, value) = part
            .split_once(':')
            .ok_or_else(|| format!("`{part}` is not key:value"))?;
        let value = value.trim();
        let limit = if value.eq_ignore_ascii_case("unlimited") {
            None
        } else {
            Some(
                value
                    .parse::<u32>()
                    .map_err(|_| format!("`{value}` is not a count or `unlimited`"))?,
            )
        };
        match key.trim() {
            "period" => limits.analyses_per_period = limit,
            "hour" => limits.analyses_per_hour = limit,
            "running" => limits.concurrent_analyses = limit,
            "projects" => limits.projects = limit,
            "retention" => {
                limits.retention_days =
                    limit.ok_or_else(|| "retention must be a number of days".to_string())?
            }
            other => {
                return Err(format!(
                    "unknown limit `{other}`: expected period, hour, running, projects or retention"
                ))
            }
        }
    }
    Ok(())
}

fn price_plans() -> Result<HashMap<String, Plan>, ConfigError> {
    const NAME: &str = "STRIPE_PRICE_PLANS";
    let mut prices = HashMap::new();
    for part in optional(NAME).unwrap_or_default().split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (price, plan) = part.split_once('=').ok_or_else(|| ConfigError {
            name: NAME,
            message: format!("`{part}` is not price_id=plan"),
        })?;
        let plan = plan.parse::<Plan>().map_err(|error| ConfigError {
            name: NAME,
            message: error.to_string(),
        })?;
        prices.insert(price.trim().to_string(), plan);
    }
    Ok(prices)
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

/// `500ms`, `5s`, `2m`, `1h`, `5d` (a bare number is seconds).
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
        "d" => Some(Duration::from_secs(value * 86_400)),
        _ => None,
    }
}

fn duration(name: &'static str, default: &str) -> Result<Duration, ConfigError> {
    let raw = string(name, default);
    parse_duration(&raw).ok_or_else(|| ConfigError {
        name,
        message: format!("`{raw}` is not a duration like 500ms, 5s, 2m, 1h or 5d"),
    })
}

fn cidrs(name: &'static str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    optional(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            // A bare address is a range of one.
            part.parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError {
                    name,
                    message: format!("`{part}` is not a CIDR range like 127.0.0.1/32"),
                })
        })
        .collect()
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
        assert_eq!(parse_duration("5d"), Some(Duration::from_secs(5 * 86_400)));
    }

    #[test]
    fn allowed_cidrs_take_ranges_and_bare_addresses() {
        std::env::set_var(
            "WEBHOOK_ALLOWED_CIDRS_TEST",
            "127.0.0.1/32, 10.8.0.0/16,::1",
        );
        let nets = cidrs("WEBHOOK_ALLOWED_CIDRS_TEST").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[2].contains(&"::1".parse::<std::net::IpAddr>().unwrap()));
        std::env::set_var("WEBHOOK_ALLOWED_CIDRS_TEST", "10.0.0.0/33");
        assert!(cidrs("WEBHOOK_ALLOWED_CIDRS_TEST").is_err());
        std::env::remove_var("WEBHOOK_ALLOWED_CIDRS_TEST");
    }

    #[test]
    fn plan_limits_override_only_what_they_name() {
        let mut limits = *PlanCatalog::default().limits(Plan::Pro);
        parse_plan_limits("period:unlimited, running:5", &mut limits).unwrap();
        assert_eq!(limits.analyses_per_period, None);
        assert_eq!(limits.concurrent_analyses, Some(5));
        assert_eq!(limits.analyses_per_hour, Some(100));
        assert!(parse_plan_limits("speed:9", &mut limits).is_err());
        assert!(parse_plan_limits("hour:many", &mut limits).is_err());
    }
}
