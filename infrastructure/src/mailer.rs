//! The notification sender: e-mails pending notifications over SMTP, oldest first. A row is
//! claimed with a lease (several senders never mail one notification twice at once; a sender
//! that dies mid-send leaves it to another once the lease ends) and marked sent only after the server accepted it; a failure records the error and
//! schedules the next attempt with a growing delay, so a mail server that is down loses
//! nothing: the notification waits in Postgres.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("SMTP_URL is not usable: {0}")]
    Url(String),
    #[error("SMTP_FROM is not an address: {0}")]
    From(String),
    #[error("database error in the mailer: {0}")]
    Database(#[from] sqlx::Error),
}

/// How long a claimed notification is left to its sender before another may take it (a
/// sender that died mid-send): well over the whole-send timeout.
const CLAIM_LEASE: Duration = Duration::from_secs(120);

/// Default bound on one whole SMTP conversation. lettre's own timeout covers the connection
/// and single socket operations, but a server that stops answering mid-conversation (seen:
/// after refusing a message with 451, a server ignored the following RSET/QUIT) would hold the
/// sender forever without this outer bound.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Delay before the next attempt after `attempts` failures: `base` doubling, at most an hour.
fn retry_delay(base: Duration, attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    base.saturating_mul(1 << exponent.min(10))
        .min(Duration::from_secs(3600))
}

pub struct Mailer {
    pool: PgPool,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    retry_base: Duration,
    send_timeout: Duration,
}

pub struct MailerHandle {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MailerHandle {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

struct Pending {
    id: Uuid,
    email: String,
    subject: String,
    body: String,
    attempts: i32,
}

impl Mailer {
    pub fn new(pool: PgPool, smtp_url: &str, from: &str) -> Result<Self, MailerError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|error| MailerError::Url(error.to_string()))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|error| MailerError::From(error.to_string()))?;
        Ok(Self {
            pool,
            transport,
            from,
            retry_base: Duration::from_secs(5),
            send_timeout: SEND_TIMEOUT,
        })
    }

    /// The first retry delay (doubling after each failure); tests shorten it.
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    /// The bound on one whole SMTP conversation (at most `CLAIM_LEASE`); tests shorten it.
    /// A conversation cut off after the server accepted the message sends it again later:
    /// delivery is at least once, and the stable Message-ID lets mail clients fold repeats.
    pub fn with_send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout.min(CLAIM_LEASE / 2);
        self
    }

    pub fn spawn(self, poll: Duration) -> MailerHandle {
        let (shutdown, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let sent = match self.send_due().await {
                    Ok(sent) => sent,
                    Err(error) => {
                        tracing::warn!(%error, "notification sender failed; retrying");
                        0
                    }
                };
                if sent > 0 {
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        MailerHandle { shutdown, task }
    }

    /// Sends the notifications that are due; returns how many were attempted.
    pub async fn send_due(&self) -> Result<usize, MailerError> {
        let mut attempted = 0;
        // Claimed by a lease in one short statement, not by a lock held while the mail server
        // answers: an open transaction would hold back every catch-up reader of the cluster
        // (their horizon is the oldest running transaction).
        while let Some((id, email, subject, body, attempts)) =
            sqlx::query_as::<_, (Uuid, String, String, String, i32)>(
                "UPDATE notifications n SET next_attempt_at = now() + make_interval(secs => $1) \
               FROM users u \
              WHERE u.id = n.user_id AND n.id = ( \
                    SELECT id FROM notifications \
                     WHERE email_status = 'pending' AND next_attempt_at <= now() \
                     ORDER BY next_attempt_at, created_at \
                     LIMIT 1 FOR UPDATE SKIP LOCKED) \
            RETURNING n.id, u.email, n.subject, n.body, n.attempts",
            )
            .bind(CLAIM_LEASE.as_secs_f64())
            .fetch_optional(&self.pool)
            .await?
        {
            let pending = Pending {
                id,
                email,
                subject,
                body,
                attempts,
            };
            attempted += 1;
            match self.send(&pending).await {
                Ok(()) => {
                    sqlx::query(
                        "UPDATE notifications SET email_status = 'sent', sent_at = now(), \
                             attempts = attempts + 1, last_error = NULL WHERE id = $1",
                    )
                    .bind(pending.id)
                    .execute(&self.pool)
                    .await?;
                    tracing::info!(notification.id = %pending.id, "notification e-mailed");
                }
                Err(error) => {
                    let delay = retry_delay(self.retry_base, pending.attempts + 1);
                    tracing::warn!(notification.id = %pending.id, %error, retry_in_ms = delay.as_millis() as u64, "notification e-mail failed");
                    sqlx::query(
                        "UPDATE notifications SET attempts = attempts + 1, last_error = $2, \
                             next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
                    )
                    .bind(pending.id)
                    .bind(error.chars().take(1000).collect::<String>())
                    .bind(delay.as_secs_f64())
                    .execute(&self.pool)
                    .await?;
                }
            }
        }
        Ok(attempted)
    }

    async fn send(&self, pending: &Pending) -> Result<(), String> {
        let to = pending
            .email
            .parse::<Mailbox>()
            .map_err(|error| format!("recipient {}: {error}", pending.email))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&pending.subject)
            .message_id(Some(format!("<{}@insight.notifications>", pending.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(pending.body.clone())
            .map_err(|error| error.to_string())?;
        match tokio::time::timeout(self.send_timeout, self.transport.send(message)).await {
            Ok(sent) => sent.map(drop).map_err(|error| error.to_string()),
            Err(_) => Err(format!(
                "the mail server did not finish within {} ms",
                self.send_timeout.as_millis()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_an_hour() {
        let base = Duration::from_secs(5);
        assert_eq!(retry_delay(base, 1), Duration::from_secs(5));
        assert_eq!(retry_delay(base, 2), Duration::from_secs(10));
        assert_eq!(retry_delay(base, 4), Duration::from_secs(40));
        assert_eq!(retry_delay(base, 50), Duration::from_secs(3600));
    }
}
