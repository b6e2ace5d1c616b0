//! Stripe webhooks: the signature check exactly as Stripe defines it, the event shapes we read,
//! and the use case that turns each Stripe event into a command on the user's `Subscription`.
//!
//! Each Stripe event id is handled once (the event log remembers what was handled; the
//! aggregate ignores an id it already applied, for the race of two concurrent deliveries), and
//! Stripe's own clock (`created`) orders what happened, so a late event never moves a
//! subscription backwards. An event for a customer we cannot place yet (its
//! `customer.subscription.created` arrived before `checkout.session.completed`) is parked and
//! handled when the customer is linked.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use tracing::instrument;

use crate::error::{AppError, StoreError};
use crate::metadata::{Actor, CommandMetadata};
use crate::ports::Clock;
use crate::subscriptions::SubscriptionService;
use domain::{
    Period, Plan, StripeOrigin, StripeSubscriptionState, SubscriptionCommand, SubscriptionStatus,
    UserId,
};

/// Stripe's default tolerance between the signed timestamp and now.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error(
        "the Stripe-Signature timestamp is outside the tolerance of {SIGNATURE_TOLERANCE_SECS} s"
    )]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks `Stripe-Signature` (`t=<unix>,v1=<hex>[,v1=<hex>...]`, other schemes ignored):
/// some `v1` must be the HMAC-SHA256 of `"{t}.{payload}"` under `secret`, compared in
/// constant time, and `t` within the tolerance of `now`.
pub fn verify_signature(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = value.parse::<i64>().ok(),
            "v1" => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    // `verify_slice` compares in constant time; every candidate is checked.
    let matched = signatures.iter().fold(false, |found, candidate| {
        mac.clone().verify_slice(candidate).is_ok() | found
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if (now.timestamp() - timestamp).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// The envelope of every Stripe event.
#[derive(Debug, Clone, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    pub object: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created: i64,
    pub data: StripeEventData,
    #[serde(default)]
    pub livemode: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeEventData {
    pub object: Value,
}

impl StripeEvent {
    /// Parses a verified body; anything that is not a Stripe event is refused.
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        let event: StripeEvent = serde_json::from_slice(body)
            .map_err(|error| AppError::invalid("body", format!("not a Stripe event: {error}")))?;
        if event.object != "event" || !event.id.starts_with("evt_") || event.event_type.is_empty() {
            return Err(AppError::invalid(
                "body",
                "not a Stripe event: expected an object \"event\" with an evt_ id and a type",
            ));
        }
        if !event.data.object.is_object() {
            return Err(AppError::invalid("data.object", "must be an object"));
        }
        Ok(event)
    }

    pub fn created_at(&self) -> Result<DateTime<Utc>, AppError> {
        timestamp(self.created).ok_or_else(|| AppError::invalid("created", "is not a time"))
    }
}

fn timestamp(seconds: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(seconds, 0).single()
}

/// Which plan each Stripe price id buys (configuration: `STRIPE_PRICE_PLANS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceCatalog(pub HashMap<String, Plan>);

impl PriceCatalog {
    pub fn plan_for(&self, price_id: &str) -> Option<Plan> {
        self.0.get(price_id).copied()
    }
}

/// What happened to a delivered Stripe event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeOutcome {
    Applied,
    /// Handled before: nothing changed.
    Duplicate,
    /// A type we do not act on.
    Ignored,
    /// For a customer not linked to a user yet: kept, handled once the link exists.
    Parked,
}

impl StripeOutcome {
    pub const fn as_str(&self) -> &'static str {
        match self {
            StripeOutcome::Applied => "applied",
            StripeOutcome::Duplicate => "duplicate",
            StripeOutcome::Ignored => "ignored",
            StripeOutcome::Parked => "parked",
        }
    }
}

/// Received Stripe events and the customer-to-user links.
#[async_trait]
pub trait StripeEventLog: Send + Sync {
    /// Records the event as received (once); true when it was fully handled before.
    async fn receive(&self, event: &StripeEvent, body: &Value) -> Result<bool, StoreError>;
    async fn finish(&self, event_id: &str, outcome: &StripeOutcome) -> Result<(), StoreError>;
    async fn park(&self, event_id: &str, customer_id: &str) -> Result<(), StoreError>;
    /// Parked events of a customer, oldest (by Stripe's `created`) first, as received.
    async fn parked_for(&self, customer_id: &str) -> Result<Vec<Value>, StoreError>;
    async fn link_customer(&self, customer_id: &str, user: UserId) -> Result<(), StoreError>;
    async fn user_for_customer(&self, customer_id: &str) -> Result<Option<UserId>, StoreError>;
    async fn user_exists(&self, user: UserId) -> Result<bool, StoreError>;
}

#[derive(Clone)]
pub struct StripeService {
    log: Arc<dyn StripeEventLog>,
    subscriptions: SubscriptionService,
    prices: PriceCatalog,
    clock: Arc<dyn Clock>,
}

impl StripeService {
    pub fn new(
        log: Arc<dyn StripeEventLog>,
        subscriptions: SubscriptionService,
        prices: PriceCatalog,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            log,
            subscriptions,
            prices,
            clock,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Handles one verified Stripe event. An error means nothing was applied and Stripe
    /// should deliver it again (after the configuration is fixed, for an unmapped price).
    #[instrument(skip(self, event, body), fields(stripe.event = %event.id, stripe.type = %event.event_type))]
    pub async fn handle(&self, event: StripeEvent, body: Value) -> Result<StripeOutcome, AppError> {
        let created = event.created_at()?;
        if self.log.receive(&event, &body).await? {
            return Ok(StripeOutcome::Duplicate);
        }
        let outcome = self.apply(&event, created).await?;
        self.log.finish(&event.id, &outcome).await?;
        // The customer may have just been linked (checkout, or a subscription naming its
        // user): events that waited for that link are handled now.
        if outcome == StripeOutcome::Applied {
            if let Ok(customer_id) = string_field(&event.data.object, "customer") {
                self.replay_parked(&customer_id).await?;
            }
        }
        if outcome == StripeOutcome::Ignored {
            tracing::info!(stripe.type = %event.event_type, "Stripe event type not handled; acknowledged");
        }
        Ok(outcome)
    }

    async fn apply(
        &self,
        event: &StripeEvent,
        created: DateTime<Utc>,
    ) -> Result<StripeOutcome, AppError> {
        let object = &event.data.object;
        let origin = StripeOrigin {
            event_id: event.id.clone(),
            created,
        };
        let metadata = CommandMetadata::new(Actor::System("stripe".into()), uuid::Uuid::now_v7());
        let at = self.clock.now();
        match event.event_type.as_str() {
            "checkout.session.completed" => {
                let customer_id = string_field(object, "customer")?;
                let Some(user) = self.user_reference(object).await? else {
                    tracing::warn!(stripe.event = %event.id, "checkout session names no user of ours; acknowledged");
                    return Ok(StripeOutcome::Ignored);
                };
                let subscription_id = object["subscription"].as_str().map(str::to_owned);
                self.log.link_customer(&customer_id, user).await?;
                let command = SubscriptionCommand::LinkStripeCustomer {
                    user,
                    origin,
                    customer_id,
                    subscription_id,
                    at,
                };
                self.subscriptions.execute(user, command, &metadata).await?;
                Ok(StripeOutcome::Applied)
            }
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.paused"
            | "customer.subscription.resumed"
            | "customer.subscription.deleted" => {
                let customer_id = string_field(object, "customer")?;
                let subscription_id = string_field(object, "id")?;
                let state = if event.event_type == "customer.subscription.deleted" {
                    None
                } else {
                    Some(self.subscription_state(object, &customer_id, &subscription_id)?)
                };
                let Some(user) = self.user_for(object, &customer_id).await? else {
                    self.log.park(&event.id, &customer_id).await?;
                    return Ok(StripeOutcome::Parked);
                };
                let command = match state {
                    Some(state) => SubscriptionCommand::SyncStripeSubscription {
                        user,
                        origin,
                        state,
                        at,
                    },
                    None => SubscriptionCommand::EndStripeSubscription {
                        user,
                        origin,
                        subscription_id,
                        at,
                    },
                };
                self.subscriptions.execute(user, command, &metadata).await?;
                Ok(StripeOutcome::Applied)
            }
            "invoice.paid" | "invoice.payment_failed" => {
                let customer_id = string_field(object, "customer")?;
                let invoice_id = string_field(object, "id")?;
                let subscription_id = invoice_subscription(object);
                let Some(user) = self.user_for(object, &customer_id).await? else {
                    self.log.park(&event.id, &customer_id).await?;
                    return Ok(StripeOutcome::Parked);
                };
                let command = if event.event_type == "invoice.paid" {
                    SubscriptionCommand::RecordInvoicePaid {
                        user,
                        origin,
                        invoice_id,
                        subscription_id,
                        at,
                    }
                } else {
                    SubscriptionCommand::RecordPaymentFailed {
                        user,
                        origin,
                        invoice_id,
                        subscription_id,
                        amount_due: object["amount_due"].as_i64().unwrap_or_default(),
                        currency: object["currency"].as_str().unwrap_or_default().to_string(),
                        next_attempt_at: object["next_payment_attempt"]
                            .as_i64()
                            .and_then(timestamp),
                        at,
                    }
                };
                self.subscriptions.execute(user, command, &metadata).await?;
                Ok(StripeOutcome::Applied)
            }
            _ => Ok(StripeOutcome::Ignored),
        }
    }

    /// Handles, oldest first, the events parked for a customer that is now linked.
    async fn replay_parked(&self, customer_id: &str) -> Result<(), AppError> {
        for body in self.log.parked_for(customer_id).await? {
            let event: StripeEvent = serde_json::from_value(body.clone())
                .map_err(|error| AppError::Store(StoreError::new(error)))?;
            let created = event.created_at()?;
            let outcome = Box::pin(self.apply(&event, created)).await?;
            self.log.finish(&event.id, &outcome).await?;
        }
        Ok(())
    }

    /// The user a checkout session or subscription names: `client_reference_id` (set when the
    /// checkout was created) or `metadata.userId`.
    async fn user_reference(&self, object: &Value) -> Result<Option<UserId>, AppError> {
        let named = object["client_reference_id"]
            .as_str()
            .or_else(|| object["metadata"]["userId"].as_str())
            .or_else(|| object["metadata"]["user_id"].as_str())
            .and_then(|id| id.parse::<UserId>().ok());
        match named {
            Some(user) if self.log.user_exists(user).await? => Ok(Some(user)),
            _ => Ok(None),
        }
    }

    async fn user_for(
        &self,
        object: &Value,
        customer_id: &str,
    ) -> Result<Option<UserId>, AppError> {
        if let Some(user) = self.log.user_for_customer(customer_id).await? {
            return Ok(Some(user));
        }
        let Some(user) = self.user_reference(object).await? else {
            return Ok(None);
        };
        self.log.link_customer(customer_id, user).await?;
        Ok(Some(user))
    }

    fn subscription_state(
        &self,
        object: &Value,
        customer_id: &str,
        subscription_id: &str,
    ) -> Result<StripeSubscriptionState, AppError> {
        let status_text = string_field(object, "status")?;
        let status = SubscriptionStatus::parse(&status_text).ok_or_else(|| {
            AppError::invalid(
                "data.object.status",
                format!("unknown subscription status {status_text:?}"),
            )
        })?;
        let item = &object["items"]["data"][0];
        let price_id = item["price"]["id"]
            .as_str()
            .or_else(|| object["plan"]["id"].as_str())
            .ok_or_else(|| AppError::invalid("data.object.items", "names no price"))?;
        let plan = self
            .prices
            .plan_for(price_id)
            .ok_or_else(|| AppError::UnmappedPrice {
                price_id: price_id.to_string(),
            })?;
        // API versions before 2025-03-31 keep the period on the subscription, later ones on
        // each item.
        let start = object["current_period_start"]
            .as_i64()
            .or_else(|| item["current_period_start"].as_i64());
        let end = object["current_period_end"]
            .as_i64()
            .or_else(|| item["current_period_end"].as_i64());
        let period = match (start.and_then(timestamp), end.and_then(timestamp)) {
            (Some(start), Some(end)) if start < end => Period { start, end },
            _ => {
                return Err(AppError::invalid(
                    "data.object.current_period_end",
                    "the subscription has no valid current period",
                ))
            }
        };
        Ok(StripeSubscriptionState {
            subscription_id: subscription_id.to_string(),
            customer_id: customer_id.to_string(),
            status,
            plan,
            period,
        })
    }
}

fn string_field(object: &Value, field: &'static str) -> Result<String, AppError> {
    // Expanded objects carry the id inside.
    object[field]
        .as_str()
        .or_else(|| object[field]["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| AppError::invalid("data.object", format!("has no {field}")))
}

/// An invoice's subscription: `subscription` before API version 2025-03-31,
/// `parent.subscription_details.subscription` after.
fn invoice_subscription(invoice: &Value) -> Option<String> {
    invoice["subscription"]
        .as_str()
        .or_else(|| invoice["parent"]["subscription_details"]["subscription"].as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, payload: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(payload);
        hex::encode(mac.finalize().into_bytes())
    }

    const SECRET: &str = "whsec_test_secret";

    fn now() -> DateTime<Utc> {
        timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn a_correct_signature_is_accepted_and_any_v1_may_match() {
        let body = br#"{"id":"evt_1"}"#;
        let t = now().timestamp();
        let good = sign(SECRET, t, body);
        let header = format!("t={t},v1={},v1={good},v0=abc", "00".repeat(32));
        assert_eq!(verify_signature(Some(&header), body, SECRET, now()), Ok(()));
    }

    #[test]
    fn bad_signatures_are_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let t = now().timestamp();
        let good = sign(SECRET, t, body);
        assert_eq!(
            verify_signature(None, body, SECRET, now()),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(Some("garbage"), body, SECRET, now()),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(Some(&format!("t={t}")), body, SECRET, now()),
            Err(SignatureError::Malformed)
        );
        // Another secret, another body, a v0 only.
        let other = sign("whsec_other", t, body);
        assert_eq!(
            verify_signature(Some(&format!("t={t},v1={other}")), body, SECRET, now()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(Some(&format!("t={t},v1={good}")), b"{}", SECRET, now()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(Some(&format!("t={t},v0={good}")), body, SECRET, now()),
            Err(SignatureError::Malformed)
        );
        // The timestamp is signed: changing it breaks the signature.
        assert_eq!(
            verify_signature(Some(&format!("t={},v1={good}", t + 1)), body, SECRET, now()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_timestamps_are_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let old = now().timestamp() - SIGNATURE_TOLERANCE_SECS - 1;
        let header = format!("t={old},v1={}", sign(SECRET, old, body));
        assert_eq!(
            verify_signature(Some(&header), body, SECRET, now()),
            Err(SignatureError::Stale)
        );
        let edge = now().timestamp() - SIGNATURE_TOLERANCE_SECS;
        let header = format!("t={edge},v1={}", sign(SECRET, edge, body));
        assert_eq!(verify_signature(Some(&header), body, SECRET, now()), Ok(()));
    }

    #[test]
    fn only_stripe_events_parse() {
        assert!(StripeEvent::parse(b"[1,2]").is_err());
        assert!(StripeEvent::parse(
            br#"{"id":"evt_1","object":"charge","type":"x","created":1,"data":{"object":{}}}"#
        )
        .is_err());
        assert!(StripeEvent::parse(
            br#"{"id":"ch_1","object":"event","type":"x","created":1,"data":{"object":{}}}"#
        )
        .is_err());
        assert!(StripeEvent::parse(
            br#"{"id":"evt_1","object":"event","type":"x","created":1,"data":{"object":{}}}"#
        )
        .is_ok());
    }
}
