//! One HTTP attempt of one delivery, safe against SSRF: the URL is checked again, a host name
//! is resolved here (not by the HTTP client), every address it resolves to is checked, and the
//! connection goes to those checked addresses only (`resolve_to_addrs`), so a DNS answer that
//! changes between check and connect (rebinding) cannot reach a private address. No proxy from
//! the environment, no redirects, a timeout on the whole attempt, a bounded response body.

use std::fmt::Debug;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use application::webhooks::{signature_header, AddressPolicy, UrlHost, WebhookSecret};

/// Turns a host name into addresses. Production asks the system resolver; tests map names to
/// the addresses they need (a name that resolves to 10.1.2.3, say).
#[async_trait]
pub trait HostResolver: Send + Sync + Debug {
    async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (getaddrinfo, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, port))
            .await?
            .map(|address| address.ip())
            .collect())
    }
}

/// What to send.
pub struct Outgoing<'a> {
    pub url: &'a str,
    /// The event id: `webhook-id`.
    pub message_id: &'a str,
    pub body: &'a str,
    pub secrets: Vec<&'a WebhookSecret>,
    /// Internal endpoints (configured by the operator) skip the address policy.
    pub trusted: bool,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    pub status_code: Option<u16>,
    pub duration: Duration,
    pub response_body: Option<String>,
    pub error: Option<String>,
    /// `Retry-After`, when the receiver sent one.
    pub retry_after: Option<Duration>,
}

impl AttemptResult {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && self
                .status_code
                .is_some_and(|code| (200..300).contains(&code))
    }

    fn refused(started: Instant, error: String) -> Self {
        Self {
            status_code: None,
            duration: started.elapsed(),
            response_body: None,
            error: Some(error),
            retry_after: None,
        }
    }
}

pub struct HttpSender {
    pub policy: AddressPolicy,
    pub resolver: std::sync::Arc<dyn HostResolver>,
    pub timeout: Duration,
    pub response_limit: usize,
}

impl HttpSender {
    pub async fn send(&self, outgoing: &Outgoing<'_>, now: DateTime<Utc>) -> AttemptResult {
        let started = Instant::now();
        let policy = if outgoing.trusted {
            AddressPolicy::unrestricted()
        } else {
            self.policy.clone()
        };
        let checked = match policy.check_url(outgoing.url) {
            Ok(checked) => checked,
            Err(refusal) => {
                return AttemptResult::refused(started, format!("refused: the URL {refusal}"))
            }
        };
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .user_agent(concat!("Insight-Webhooks/", env!("CARGO_PKG_VERSION")));
        if let UrlHost::Name(name) = &checked.host {
            let resolved =
                match tokio::time::timeout(self.timeout, self.resolver.resolve(name, checked.port))
                    .await
                {
                    Ok(Ok(addresses)) if !addresses.is_empty() => addresses,
                    Ok(Ok(_)) => {
                        return AttemptResult::refused(
                            started,
                            format!("{name} resolves to no address"),
                        )
                    }
                    Ok(Err(error)) => {
                        return AttemptResult::refused(
                            started,
                            format!("cannot resolve {name}: {error}"),
                        )
                    }
                    Err(_) => {
                        return AttemptResult::refused(
                            started,
                            format!("resolving {name} timed out"),
                        )
                    }
                };
            for address in &resolved {
                if let Err(refusal) = policy.check_address(*address) {
                    return AttemptResult::refused(
                        started,
                        format!("refused: {name} resolves to {address}: the URL {refusal}"),
                    );
                }
            }
            let addresses: Vec<SocketAddr> = resolved
                .into_iter()
                .map(|address| SocketAddr::new(address, checked.port))
                .collect();
            builder = builder.resolve_to_addrs(name, &addresses);
        }
        let client = match builder.build() {
            Ok(client) => client,
            Err(error) => return AttemptResult::refused(started, format!("HTTP client: {error}")),
        };
        let timestamp = now.timestamp();
        let request = client
            .post(checked.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", outgoing.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature_header(
                    &outgoing.secrets,
                    outgoing.message_id,
                    timestamp,
                    outgoing.body.as_bytes(),
                ),
            )
            .body(outgoing.body.to_string());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let message = if error.is_timeout() {
                    format!("timed out after {} ms", self.timeout.as_millis())
                } else {
                    error_chain(&error)
                };
                return AttemptResult::refused(started, message);
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, now));
        let mut body = Vec::new();
        let mut error = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.response_limit.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= self.response_limit {
                        break;
                    }
                }
                Ok(None) => break,
                Err(read_error) => {
                    if read_error.is_timeout() {
                        error = Some(format!(
                            "timed out after {} ms reading the response",
                            self.timeout.as_millis()
                        ));
                    }
                    break;
                }
            }
        }
        if error.is_none() && status.is_redirection() {
            error = Some(format!("redirect ({}) not followed", status.as_u16()));
        }
        AttemptResult {
            status_code: Some(status.as_u16()),
            duration: started.elapsed(),
            response_body: Some(String::from_utf8_lossy(&body).into_owned()),
            error,
            retry_after,
        }
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&Utc) - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 10:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
