//! Customer webhooks: endpoints a user registers (a URL, the event types wanted, optionally one
//! project), their signing secrets, the Standard Webhooks 1.0 signature, the address policy that
//! keeps deliveries away from private networks (SSRF), and the use cases behind
//! `/api/insight/webhooks`. Sending is the dispatcher's job (`infrastructure::webhooks`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use rand::RngCore;
use serde_json::{Map, Value};
use sha2::Sha256;
use tracing::instrument;
use uuid::Uuid;

use crate::error::{AppError, StoreError};
use crate::ports::Clock;
use crate::projects::ProjectService;
use domain::{ProjectId, UserId};

/// The event types an endpoint may ask for; an endpoint that names none receives all of them.
/// Findings (`analysis.issues_recorded`) and progress stay out: webhook bodies are kept small.
pub const WEBHOOK_EVENT_TYPES: &[&str] = &[
    "analysis.requested",
    "analysis.started",
    "analysis.completed",
    "analysis.failed",
    "analysis.cancelled",
    "project.created",
    "project.renamed",
    "project.archived",
];

/// Standard Webhooks' default tolerance between a signed timestamp and now.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Longest URL accepted.
const MAX_URL_CHARS: usize = 2048;

/// Most endpoints one user may hold.
pub const MAX_ENDPOINTS_PER_USER: usize = 20;

// --- secrets and signatures --------------------------------------------------------------------

/// A signing secret, `whsec_` + base64 of 24 to 64 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret is `whsec_` followed by base64 of 24 to 64 bytes")]
pub struct SecretFormatError;

impl WebhookSecret {
    pub const PREFIX: &'static str = "whsec_";

    /// A new secret of 32 random bytes.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self {
            text: format!("{}{}", Self::PREFIX, BASE64.encode(&key)),
            key,
        }
    }

    pub fn parse(text: &str) -> Result<Self, SecretFormatError> {
        let encoded = text.strip_prefix(Self::PREFIX).ok_or(SecretFormatError)?;
        let key = BASE64.decode(encoded).map_err(|_| SecretFormatError)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretFormatError);
        }
        Ok(Self {
            text: text.to_string(),
            key,
        })
    }

    /// The secret as shown to its owner (`whsec_...`).
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", BASE64.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

/// The `webhook-signature` header: one `v1,...` per secret, space-separated (during a rotation
/// both the new and the old secret sign).
pub fn signature_header(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the webhook-id, webhook-timestamp or webhook-signature header is missing")]
    MissingHeader,
    #[error("webhook-timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than {SIGNATURE_TOLERANCE_SECS} s away from now")]
    Stale,
    #[error("no v1 signature in webhook-signature matches")]
    Mismatch,
}

/// Checks a Standard Webhooks message: some `v1,` signature in `signatures` must be the
/// HMAC of `"{id}.{timestamp}.{body}"` under `secret` (compared in constant time), and the
/// timestamp within the tolerance of `now`.
pub fn verify(
    secret: &WebhookSecret,
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let (Some(id), Some(timestamp), Some(signatures)) = (id, timestamp, signatures) else {
        return Err(VerifyError::MissingHeader);
    };
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.key).expect("HMAC takes any key");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let matched = signatures
        .split(' ')
        .filter_map(|part| part.strip_prefix("v1,"))
        .filter_map(|encoded| BASE64.decode(encoded).ok())
        .fold(false, |found, candidate| {
            mac.clone().verify_slice(&candidate).is_ok() | found
        });
    if !matched {
        return Err(VerifyError::Mismatch);
    }
    if (now.timestamp() - timestamp).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(VerifyError::Stale);
    }
    Ok(())
}

// --- where deliveries may go -------------------------------------------------------------------

/// Which URLs and addresses webhooks may reach. Production: https only, no private, loopback,
/// link-local, CGNAT, multicast or reserved address; `allowed` opens chosen ranges (tests, an
/// on-premises deployment).
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    pub allow_http: bool,
    pub allowed: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("is not a valid absolute URL")]
    Invalid,
    #[error("must be at most {MAX_URL_CHARS} characters")]
    TooLong,
    #[error("must use https")]
    NotHttps,
    #[error("must use https or http")]
    BadScheme,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("has no host")]
    NoHost,
    #[error("points to {address}, a {range} address, which webhooks may not reach")]
    Refused {
        address: IpAddr,
        range: &'static str,
    },
    #[error("points to localhost, which webhooks may not reach")]
    Localhost,
}

/// The host part of a checked URL: an address (already checked) or a name to resolve and check
/// at every delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlHost {
    Address(IpAddr),
    Name(String),
}

/// A URL that passed the policy.
#[derive(Debug, Clone)]
pub struct CheckedUrl {
    pub url: url::Url,
    pub host: UrlHost,
    pub port: u16,
}

impl AddressPolicy {
    /// Every scheme of the two and every address: for endpoints the operator configured
    /// (`INTERNAL_WEBHOOK_URL`), never for a customer's.
    pub fn unrestricted() -> Self {
        Self {
            allow_http: true,
            allowed: vec![
                IpNet::V4(ipnet::Ipv4Net::default()),
                IpNet::V6(ipnet::Ipv6Net::default()),
            ],
        }
    }

    /// Parses and checks a webhook URL: scheme, no credentials, and an IP literal (IPv4, IPv6,
    /// IPv4-mapped) or `localhost` outside the refused ranges.
    pub fn check_url(&self, text: &str) -> Result<CheckedUrl, UrlRefusal> {
        if text.chars().count() > MAX_URL_CHARS {
            return Err(UrlRefusal::TooLong);
        }
        let url = url::Url::parse(text.trim()).map_err(|_| UrlRefusal::Invalid)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err(UrlRefusal::NotHttps),
            _ if self.allow_http => return Err(UrlRefusal::BadScheme),
            _ => return Err(UrlRefusal::NotHttps),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Credentials);
        }
        let host = match url.host() {
            None => return Err(UrlRefusal::NoHost),
            Some(url::Host::Ipv4(address)) => UrlHost::Address(IpAddr::V4(address)),
            Some(url::Host::Ipv6(address)) => UrlHost::Address(IpAddr::V6(address)),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name.is_empty() {
                    return Err(UrlRefusal::NoHost);
                }
                UrlHost::Name(name)
            }
        };
        match &host {
            UrlHost::Address(address) => self.check_address(*address)?,
            UrlHost::Name(name) if name == "localhost" || name.ends_with(".localhost") => {
                let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
                if self.check_address(loopback).is_err() {
                    return Err(UrlRefusal::Localhost);
                }
            }
            UrlHost::Name(_) => {}
        }
        let port = url.port_or_known_default().ok_or(UrlRefusal::Invalid)?;
        Ok(CheckedUrl { url, host, port })
    }

    /// Refuses an address in a refused range unless an allowed range holds it. IPv4-mapped
    /// (and IPv4-compatible, NAT64) IPv6 addresses are judged as the IPv4 address inside.
    pub fn check_address(&self, address: IpAddr) -> Result<(), UrlRefusal> {
        let address = canonical(address);
        if self.allowed.iter().any(|net| net.contains(&address)) {
            return Ok(());
        }
        match refused_range(address) {
            Some(range) => Err(UrlRefusal::Refused { address, range }),
            None => Ok(()),
        }
    }
}

/// An IPv6 address that carries an IPv4 address (mapped `::ffff:a.b.c.d`, compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) becomes that IPv4 address.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let segments = v6.segments();
            let embedded = Ipv4Addr::new(
                (segments[6] >> 8) as u8,
                segments[6] as u8,
                (segments[7] >> 8) as u8,
                segments[7] as u8,
            );
            // ::a.b.c.d (deprecated IPv4-compatible), but not :: and ::1 themselves.
            if segments[..6] == [0; 6] && u32::from(embedded) > 1 {
                return IpAddr::V4(embedded);
            }
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return IpAddr::V4(embedded);
            }
            address
        }
        v4 => v4,
    }
}

/// The name of the refused range `address` falls in, if any.
pub fn refused_range(address: IpAddr) -> Option<&'static str> {
    match canonical(address) {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(address: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[(&str, &str)] = &[
        ("0.0.0.0/8", "reserved (this network)"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "CGNAT (shared)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved (IETF protocol)"),
        ("192.0.2.0/24", "reserved (documentation)"),
        ("192.88.99.0/24", "reserved (6to4 relay)"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved (benchmarking)"),
        ("198.51.100.0/24", "reserved (documentation)"),
        ("203.0.113.0/24", "reserved (documentation)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    ];
    RANGES.iter().find_map(|(net, name)| {
        net.parse::<ipnet::Ipv4Net>()
            .expect("valid range")
            .contains(&address)
            .then_some(*name)
    })
}

fn refused_v6(address: Ipv6Addr) -> Option<&'static str> {
    const RANGES: &[(&str, &str)] = &[
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("100::/64", "reserved (discard)"),
        ("2001:db8::/32", "reserved (documentation)"),
        ("2001::/32", "reserved (Teredo)"),
        ("2002::/16", "reserved (6to4)"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "reserved (site-local)"),
        ("ff00::/8", "multicast"),
    ];
    RANGES.iter().find_map(|(net, name)| {
        net.parse::<ipnet::Ipv6Net>()
            .expect("valid range")
            .contains(&address)
            .then_some(*name)
    })
}

// --- the message ------------------------------------------------------------------------------

/// The body of a webhook, `{type, timestamp, data}`, from an event's public type, time and
/// data (the stored event's fields). Findings never travel: `data` is small.
pub fn message_body(
    event_type: &str,
    time: DateTime<Utc>,
    aggregate_id: &str,
    owner: Option<UserId>,
    project_id: Option<ProjectId>,
    data: &Value,
) -> String {
    let mut small = Map::new();
    let id_key = if event_type.starts_with("project.") {
        "projectId"
    } else {
        "analysisId"
    };
    small.insert(id_key.to_string(), Value::String(aggregate_id.to_string()));
    if let Some(project_id) = project_id {
        small.insert("projectId".into(), Value::String(project_id.to_string()));
    }
    if let Some(owner) = owner {
        small.insert("owner".into(), Value::String(owner.to_string()));
    }
    if let Value::Object(fields) = data {
        for (key, value) in fields {
            if key == "findings" {
                continue;
            }
            small.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    if let Some(status) = match event_type {
        "analysis.requested" => Some("QUEUED"),
        "analysis.started" => Some("RUNNING"),
        "analysis.completed" => Some("COMPLETED"),
        "analysis.failed" => Some("FAILED"),
        "analysis.cancelled" => Some("CANCELLED"),
        _ => None,
    } {
        small.insert("status".into(), Value::String(status.into()));
    }
    serde_json::json!({
        "type": event_type,
        "timestamp": time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": small,
    })
    .to_string()
}

// --- endpoints and deliveries -------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub owner: Option<UserId>,
    pub url: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    pub project_id: Option<ProjectId>,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// While set and in the future, the previous secret signs too.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

pub struct NewEndpoint {
    pub id: Uuid,
    pub owner: UserId,
    pub url: String,
    pub event_types: Vec<String>,
    pub project_id: Option<ProjectId>,
    pub secret: WebhookSecret,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub duration_ms: i64,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed` (every attempt of the schedule failed).
    pub status: String,
    pub attempts: Vec<DeliveryAttempt>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Where endpoints and deliveries are kept.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_endpoint(&self, endpoint: &NewEndpoint) -> Result<(), StoreError>;
    /// The owner's endpoints that are not deleted, oldest first.
    async fn endpoints_of(&self, owner: UserId) -> Result<Vec<WebhookEndpoint>, StoreError>;
    async fn endpoint(
        &self,
        owner: UserId,
        id: Uuid,
    ) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// False when there was no such endpoint.
    async fn delete_endpoint(&self, owner: UserId, id: Uuid) -> Result<bool, StoreError>;
    /// Makes `secret` current; the current one keeps signing until `previous_until`.
    async fn rotate_secret(
        &self,
        id: Uuid,
        secret: &WebhookSecret,
        previous_until: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The newest deliveries first, each with its attempts.
    async fn deliveries(&self, endpoint: Uuid, limit: i64) -> Result<Vec<Delivery>, StoreError>;
    /// Schedules one more attempt of a delivery now; false when there is no such delivery.
    async fn redeliver(&self, endpoint: Uuid, delivery: Uuid) -> Result<bool, StoreError>;
    /// Schedules, from the event log, every event of the endpoint's choice recorded at or after
    /// `since`; returns how many deliveries were scheduled.
    async fn replay(
        &self,
        endpoint: &WebhookEndpoint,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// An endpoint to register, as the client sent it.
#[derive(Debug, Clone)]
pub struct RegisterEndpoint {
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub project_id: Option<ProjectId>,
}

/// A registered endpoint and its secret (shown this once).
#[derive(Debug, Clone)]
pub struct RegisteredEndpoint {
    pub endpoint: WebhookEndpoint,
    pub secret: WebhookSecret,
}

#[derive(Clone)]
pub struct WebhookService {
    store: Arc<dyn WebhookStore>,
    projects: ProjectService,
    policy: AddressPolicy,
    clock: Arc<dyn Clock>,
    /// How long the previous secret keeps signing after a rotation.
    rotation_overlap: chrono::Duration,
}

impl WebhookService {
    pub fn new(
        store: Arc<dyn WebhookStore>,
        projects: ProjectService,
        policy: AddressPolicy,
        clock: Arc<dyn Clock>,
        rotation_overlap: std::time::Duration,
    ) -> Self {
        Self {
            store,
            projects,
            policy,
            clock,
            rotation_overlap: chrono::Duration::from_std(rotation_overlap)
                .unwrap_or(chrono::Duration::days(1)),
        }
    }

    #[instrument(skip(self, input), fields(user.id = %user))]
    pub async fn register(
        &self,
        user: UserId,
        input: RegisterEndpoint,
    ) -> Result<RegisteredEndpoint, AppError> {
        let checked = self
            .policy
            .check_url(&input.url)
            .map_err(|refusal| AppError::invalid("url", refusal.to_string()))?;
        let mut event_types = input.event_types.unwrap_or_default();
        event_types.sort();
        event_types.dedup();
        let unknown: Vec<&str> = event_types
            .iter()
            .map(String::as_str)
            .filter(|name| !WEBHOOK_EVENT_TYPES.contains(name))
            .collect();
        if !unknown.is_empty() {
            return Err(AppError::invalid(
                "eventTypes",
                format!(
                    "unknown event types: {}; valid types are: {}",
                    unknown.join(", "),
                    WEBHOOK_EVENT_TYPES.join(", ")
                ),
            ));
        }
        if let Some(project_id) = input.project_id {
            if let Err(AppError::NotFound { .. }) = self.projects.owned(user, project_id).await {
                return Err(AppError::invalid("projectId", "no such project"));
            }
        }
        if self.store.endpoints_of(user).await?.len() >= MAX_ENDPOINTS_PER_USER {
            return Err(AppError::Rejected(format!(
                "at most {MAX_ENDPOINTS_PER_USER} webhook endpoints per user"
            )));
        }
        let secret = WebhookSecret::generate();
        let endpoint = NewEndpoint {
            id: Uuid::now_v7(),
            owner: user,
            url: checked.url.to_string(),
            event_types,
            project_id: input.project_id,
            secret: secret.clone(),
            created_at: self.clock.now(),
        };
        self.store.insert_endpoint(&endpoint).await?;
        Ok(RegisteredEndpoint {
            endpoint: WebhookEndpoint {
                id: endpoint.id,
                owner: Some(user),
                url: endpoint.url,
                event_types: endpoint.event_types,
                project_id: endpoint.project_id,
                created_at: endpoint.created_at,
                disabled_at: None,
                disabled_reason: None,
                previous_secret_expires_at: None,
            },
            secret,
        })
    }

    pub async fn list(&self, user: UserId) -> Result<Vec<WebhookEndpoint>, AppError> {
        Ok(self.store.endpoints_of(user).await?)
    }

    pub async fn get(&self, user: UserId, id: Uuid) -> Result<WebhookEndpoint, AppError> {
        self.store
            .endpoint(user, id)
            .await?
            .ok_or(AppError::NotFound {
                resource: "webhook endpoint",
            })
    }

    pub async fn delete(&self, user: UserId, id: Uuid) -> Result<(), AppError> {
        if self.store.delete_endpoint(user, id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound {
                resource: "webhook endpoint",
            })
        }
    }

    /// A new secret (shown once); the old one keeps signing for the overlap.
    pub async fn rotate_secret(
        &self,
        user: UserId,
        id: Uuid,
    ) -> Result<RegisteredEndpoint, AppError> {
        let mut endpoint = self.get(user, id).await?;
        let secret = WebhookSecret::generate();
        let until = self.clock.now() + self.rotation_overlap;
        self.store.rotate_secret(id, &secret, until).await?;
        endpoint.previous_secret_expires_at = Some(until);
        Ok(RegisteredEndpoint { endpoint, secret })
    }

    pub async fn deliveries(
        &self,
        user: UserId,
        id: Uuid,
        limit: i64,
    ) -> Result<Vec<Delivery>, AppError> {
        self.get(user, id).await?;
        Ok(self.store.deliveries(id, limit.clamp(1, 200)).await?)
    }

    pub async fn redeliver(&self, user: UserId, id: Uuid, delivery: Uuid) -> Result<(), AppError> {
        self.get(user, id).await?;
        if self.store.redeliver(id, delivery).await? {
            Ok(())
        } else {
            Err(AppError::NotFound {
                resource: "delivery",
            })
        }
    }

    pub async fn replay(
        &self,
        user: UserId,
        id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<u64, AppError> {
        let endpoint = self.get(user, id).await?;
        if since > self.clock.now() {
            return Err(AppError::invalid("since", "must not be in the future"));
        }
        Ok(self.store.replay(&endpoint, since).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_test_vector_signs_as_published() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn verification_accepts_any_matching_signature_and_refuses_stale_ones() {
        let old = WebhookSecret::generate();
        let new = WebhookSecret::generate();
        let now = Utc::now();
        let header = signature_header(&[&new, &old], "msg_1", now.timestamp(), b"{}");
        assert_eq!(header.split(' ').count(), 2);
        for secret in [&old, &new] {
            let ts = now.timestamp().to_string();
            verify(secret, Some("msg_1"), Some(&ts), Some(&header), b"{}", now).unwrap();
        }
        let stranger = WebhookSecret::generate();
        let ts = now.timestamp().to_string();
        assert_eq!(
            verify(
                &stranger,
                Some("msg_1"),
                Some(&ts),
                Some(&header),
                b"{}",
                now
            ),
            Err(VerifyError::Mismatch)
        );
        let late = now + chrono::Duration::seconds(301);
        assert_eq!(
            verify(&new, Some("msg_1"), Some(&ts), Some(&header), b"{}", late),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn generated_secrets_parse_back() {
        let secret = WebhookSecret::generate();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(secret.expose()).unwrap(), secret);
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
        assert!(WebhookSecret::parse("nope").is_err());
    }

    fn refused(policy: &AddressPolicy, url: &str) -> bool {
        matches!(
            policy.check_url(url),
            Err(UrlRefusal::Refused { .. } | UrlRefusal::Localhost)
        )
    }

    #[test]
    fn private_and_special_addresses_are_refused_in_every_form() {
        let policy = AddressPolicy::default();
        for url in [
            "https://127.0.0.1/hook",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://224.0.0.1/",
            "https://240.0.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[ff02::1]/",
            "https://localhost/",
            "https://api.localhost/",
            "https://localhost./",
            // Decimal, hexadecimal and short IPv4 forms are addresses too (WHATWG URL rules).
            "https://2130706433/",
            "https://0x7f.0.0.1/",
            "https://127.1/",
            "https://[::127.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
        ] {
            assert!(refused(&policy, url), "{url}");
        }
        for url in [
            "https://93.184.216.34/",
            "https://[2606:4700::1111]/",
            "https://example.com/x",
        ] {
            assert!(policy.check_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn http_is_refused_unless_allowed_and_allowed_ranges_open_addresses() {
        let strict = AddressPolicy::default();
        assert_eq!(
            strict.check_url("http://example.com/").unwrap_err(),
            UrlRefusal::NotHttps
        );
        assert_eq!(
            strict
                .check_url("https://user:pw@example.com/")
                .unwrap_err(),
            UrlRefusal::Credentials
        );
        let open = AddressPolicy {
            allow_http: true,
            allowed: vec!["127.0.0.1/32".parse().unwrap()],
        };
        assert!(open.check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(open
            .check_url("http://[::ffff:127.0.0.1]:8080/hook")
            .is_ok());
        assert!(refused(&open, "http://127.0.0.2/"));
        assert_eq!(
            open.check_url("ftp://example.com/").unwrap_err(),
            UrlRefusal::BadScheme
        );
    }
}
