//! Notifications to users (a failed payment, a subscription that ended, a webhook endpoint that
//! was disabled): recorded first, in Postgres, and sent by e-mail afterwards by a sender that
//! retries, so a failing mail server loses none.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreError;
use domain::UserId;

/// What a notification is about; stored as its `as_str` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    PaymentFailed,
    SubscriptionEnded,
    WebhookEndpointDisabled,
}

impl NotificationKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            NotificationKind::PaymentFailed => "payment_failed",
            NotificationKind::SubscriptionEnded => "subscription_ended",
            NotificationKind::WebhookEndpointDisabled => "webhook_endpoint_disabled",
        }
    }
}

/// One message to one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Derived from what caused it (an event id, say), so recording it twice records it once.
    pub id: Uuid,
    pub user: UserId,
    pub kind: NotificationKind,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Fixed namespace of notification ids derived from their cause.
const NOTIFICATION_NAMESPACE: Uuid = Uuid::from_u128(0x3b0d_8c51_77e2_4f0a_9a64_1d2e_5c7b_90f3);

impl Notification {
    /// The id of the notification of `kind` that `cause` (an event id, an endpoint id and a
    /// date, ...) gives rise to: the same cause always gives the same id.
    pub fn id_for(kind: NotificationKind, cause: &str) -> Uuid {
        Uuid::new_v5(
            &NOTIFICATION_NAMESPACE,
            format!("{}:{cause}", kind.as_str()).as_bytes(),
        )
    }
}

/// Where notifications are recorded. Sending is the outbox sender's job, not the caller's.
#[async_trait]
pub trait NotificationOutbox: Send + Sync {
    /// Records `notification` unless one with its id exists already (then nothing changes).
    async fn record(&self, notification: &Notification) -> Result<(), StoreError>;
}
