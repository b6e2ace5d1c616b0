//! The Stripe webhook through the real API and Postgres, with events shaped like Stripe's
//! (tests/fixtures/stripe), signed as Stripe signs them; notifications e-mailed to a real SMTP
//! listener on loopback.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use application::Plan;
use hmac::{Hmac, Mac};
use insight::Roles;
use insight_tests::{create_user_on, spawn_app_configured, TestApp};
use mailin_embedded::response::{INTERNAL_ERROR, OK};
use mailin_embedded::{Handler, Response, Server, SslConfig};
use reqwest::Method;
use serde_json::Value;
use sha2::Sha256;

const SECRET: &str = "whsec_test_4eC39HqLyjWDarjtT1zdp7dc";
const PRO_PRICE: &str = "price_1QproMonthly";
const SUBSCRIPTION: &str = "sub_1QsubA1b2c3d4";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/stripe/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sign_at(body: &str, timestamp: i64, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

struct Stripe<'a> {
    app: &'a TestApp,
    user: domain::UserId,
    token: String,
    customer: String,
}

struct SubscriptionEvent<'a> {
    id: &'a str,
    event_type: &'a str,
    created: i64,
    status: &'a str,
    price: &'a str,
    metadata: &'a str,
}

impl Stripe<'_> {
    fn checkout(&self) -> String {
        fixture("checkout.session.completed.json")
            .replace("{{USER_ID}}", &self.user.to_string())
            .replace("{{CUSTOMER}}", &self.customer)
            .replace("{{SUBSCRIPTION}}", SUBSCRIPTION)
    }

    fn subscription(&self, event: SubscriptionEvent) -> String {
        let start = now() - 86_400;
        fixture("customer.subscription.json")
            .replace("{{EVENT_ID}}", event.id)
            .replace("{{TYPE}}", event.event_type)
            .replace("{{CREATED}}", &event.created.to_string())
            .replace("{{STATUS}}", event.status)
            .replace("{{PRICE}}", event.price)
            .replace("{{METADATA}}", event.metadata)
            .replace("{{PERIOD_START}}", &start.to_string())
            .replace("{{PERIOD_END}}", &(start + 30 * 86_400).to_string())
            .replace("{{SUBSCRIPTION}}", SUBSCRIPTION)
            .replace("{{CUSTOMER}}", &self.customer)
    }

    fn invoice(&self, id: &str, event_type: &str, created: i64) -> String {
        fixture("invoice.json")
            .replace("{{EVENT_ID}}", id)
            .replace("{{TYPE}}", event_type)
            .replace("{{CREATED}}", &created.to_string())
            .replace("{{SUBSCRIPTION}}", SUBSCRIPTION)
            .replace("{{CUSTOMER}}", &self.customer)
    }

    async fn deliver(&self, body: &str) -> reqwest::Response {
        self.deliver_signed(body, &sign_at(body, now(), SECRET))
            .await
    }

    async fn deliver_signed(&self, body: &str, signature: &str) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/api/webhooks/stripe"))
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn usage(&self) -> Value {
        self.app
            .request_as(&self.token, Method::GET, "/api/insight/usage")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

async fn stripe_app(adjust: impl FnOnce(&mut infrastructure::Config)) -> TestApp {
    spawn_app_configured(
        Roles {
            worker: false,
            ..Roles::default()
        },
        |config| {
            config.stripe_webhook_secret = Some(SECRET.into());
            config.stripe_prices.insert(PRO_PRICE.into(), Plan::Pro);
            adjust(config);
        },
    )
    .await
}

async fn free_user(app: &TestApp) -> Stripe<'_> {
    let (user, token) = create_user_on(&app.app.services, "stripe", Plan::Free).await;
    Stripe {
        app,
        user,
        token,
        customer: format!("cus_{}", &uuid::Uuid::new_v4().simple().to_string()[..14]),
    }
}

async fn event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap()
}

async fn stripe_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM stripe_events")
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap()
}

fn active(id: &str, created: i64) -> SubscriptionEvent<'_> {
    SubscriptionEvent {
        id,
        event_type: "customer.subscription.created",
        created,
        status: "active",
        price: PRO_PRICE,
        metadata: "{}",
    }
}

#[tokio::test]
async fn checkout_then_subscription_puts_the_user_on_pro_and_a_redelivery_changes_nothing() {
    let app = stripe_app(|_| {}).await;
    let stripe = free_user(&app).await;
    let checkout = stripe.deliver(&stripe.checkout()).await;
    assert_eq!(checkout.status(), 200);
    assert_eq!(
        checkout.json::<Value>().await.unwrap()["outcome"],
        "applied"
    );
    let created = stripe.subscription(active("evt_created_1", now() - 10));
    let response = stripe.deliver(&created).await;
    assert_eq!(response.status(), 200);
    let usage = stripe.usage().await;
    assert_eq!(usage["plan"], "PRO");
    assert_eq!(usage["status"], "active");
    assert_eq!(usage["limits"]["analysesPerPeriod"], 1000);

    let before = event_count(&app).await;
    let again = stripe.deliver(&created).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["outcome"], "duplicate");
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn bad_signatures_are_refused_before_anything_happens() {
    let app = stripe_app(|_| {}).await;
    let stripe = free_user(&app).await;
    let body = stripe.checkout();
    let before = event_count(&app).await;
    let unsigned = app
        .client
        .post(app.url("/api/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 400);
    let problem: Value = unsigned.json().await.unwrap();
    assert_eq!(problem["code"], "INVALID_SIGNATURE");
    for signature in [
        sign_at(&body, now(), "whsec_someone_else"),
        sign_at(&format!("{body} "), now(), SECRET),
        sign_at(&body, now() - 301, SECRET),
        sign_at(&body, now(), SECRET).replace("v1=", "v0="),
        "t=abc,v1=zz".to_string(),
    ] {
        let response = stripe.deliver_signed(&body, &signature).await;
        assert_eq!(response.status(), 400, "{signature}");
    }
    // A correct signature over something that is not a Stripe event.
    let not_an_event = r#"{"hello":"world"}"#;
    let response = stripe.deliver(not_an_event).await;
    assert_eq!(response.status(), 400);
    assert_eq!(event_count(&app).await, before);
    assert_eq!(stripe_rows(&app).await, 0);
    assert_eq!(stripe.usage().await["plan"], "FREE");
}

#[tokio::test]
async fn a_replayed_delivery_with_a_fresh_signature_is_still_handled_once() {
    let app = stripe_app(|_| {}).await;
    let stripe = free_user(&app).await;
    stripe.deliver(&stripe.checkout()).await;
    let body = stripe.invoice("evt_failed_1", "invoice.payment_failed", now());
    stripe
        .deliver(&stripe.subscription(active("evt_c", now() - 60)))
        .await;
    assert_eq!(stripe.deliver(&body).await.status(), 200);
    let before = event_count(&app).await;
    let replay = stripe.deliver(&body).await;
    assert_eq!(
        replay.json::<Value>().await.unwrap()["outcome"],
        "duplicate"
    );
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn events_out_of_order_never_move_the_subscription_backwards() {
    let app = stripe_app(|_| {}).await;
    let stripe = free_user(&app).await;
    stripe.deliver(&stripe.checkout()).await;
    let t = now() - 100;
    // `updated` (past_due, later) arrives before `created` (active, earlier).
    let updated = stripe.subscription(SubscriptionEvent {
        id: "evt_updated",
        event_type: "customer.subscription.updated",
        created: t + 50,
        status: "past_due",
        price: PRO_PRICE,
        metadata: "{}",
    });
    assert_eq!(stripe.deliver(&updated).await.status(), 200);
    assert_eq!(
        stripe
            .deliver(&stripe.subscription(active("evt_created", t)))
            .await
            .status(),
        200
    );
    let usage = stripe.usage().await;
    assert_eq!(usage["status"], "past_due");
    assert_eq!(usage["plan"], "PRO");
    // A deletion then a late `updated` from before it: the user stays on FREE.
    let deleted = stripe.subscription(SubscriptionEvent {
        id: "evt_deleted",
        event_type: "customer.subscription.deleted",
        created: t + 80,
        status: "canceled",
        price: PRO_PRICE,
        metadata: "{}",
    });
    assert_eq!(stripe.deliver(&deleted).await.status(), 200);
    let late = stripe.subscription(SubscriptionEvent {
        id: "evt_late_update",
        event_type: "customer.subscription.updated",
        created: t + 60,
        status: "active",
        price: PRO_PRICE,
        metadata: "{}",
    });
    assert_eq!(stripe.deliver(&late).await.status(), 200);
    let usage = stripe.usage().await;
    assert_eq!(usage["plan"], "FREE");
    assert_eq!(usage["status"], "canceled");
}

#[tokio::test]
async fn a_subscription_before_its_checkout_waits_for_the_link() {
    let app = stripe_app(|_| {}).await;
    let stripe = free_user(&app).await;
    let early = stripe
        .deliver(&stripe.subscription(active("evt_early", now() - 30)))
        .await;
    assert_eq!(early.json::<Value>().await.unwrap()["outcome"], "parked");
    assert_eq!(stripe.usage().await["plan"], "FREE");
    stripe.deliver(&stripe.checkout()).await;
    assert_eq!(stripe.usage().await["plan"], "PRO");
}

#[tokio::test]
async fn a_price_that_maps_to_no_plan_is_refused_and_changes_nothing() {
    let app = stripe_app(|_| {}).await;
    let stripe = free_user(&app).await;
    stripe.deliver(&stripe.checkout()).await;
    let before = event_count(&app).await;
    let unknown = stripe.subscription(SubscriptionEvent {
        price: "price_unknown",
        ..active("evt_unknown_price", now())
    });
    let response = stripe.deliver(&unknown).await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "UNMAPPED_PRICE");
    assert_eq!(problem["priceId"], "price_unknown");
    assert_eq!(event_count(&app).await, before);
    assert_eq!(stripe.usage().await["plan"], "FREE");
}

#[tokio::test]
async fn an_unknown_event_type_is_acknowledged() {
    let app = stripe_app(|_| {}).await;
    let stripe = free_user(&app).await;
    let body = r#"{"id":"evt_1Qcharge","object":"event","api_version":"2024-06-20","created":1767225600,"data":{"object":{"id":"ch_1","object":"charge","amount":1900}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"charge.succeeded"}"#;
    let before = event_count(&app).await;
    let response = stripe.deliver(body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["outcome"],
        "ignored"
    );
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn an_unpaid_subscription_cannot_submit_analyses() {
    let app = stripe_app(|_| {}).await;
    let stripe = free_user(&app).await;
    stripe.deliver(&stripe.checkout()).await;
    let unpaid = stripe.subscription(SubscriptionEvent {
        status: "unpaid",
        ..active("evt_unpaid", now())
    });
    stripe.deliver(&unpaid).await;
    let project = app
        .request_as(&stripe.token, Method::POST, "/api/insight/projects")
        .json(&serde_json::json!({"name": "p", "gitRemote": "https://example.com/a/b.git"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["project"]["id"]
        .clone();
    let response = app
        .request_as(&stripe.token, Method::POST, "/api/insight/analysis")
        .json(&serde_json::json!({"projectId": project, "detectors": ["security"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["upgradeUrl"], "/pricing");
    assert_eq!(problem["code"], "CLOUD_ANALYSIS_NOT_ALLOWED");
    assert_eq!(stripe.usage().await["canRunCloudAnalysis"], false);
}

/// An SMTP listener on loopback that keeps what it receives, and can refuse mail for a while.
#[derive(Clone)]
struct Mailbox {
    received: Arc<Mutex<Vec<String>>>,
    current: Arc<Mutex<Vec<u8>>>,
    refuse: Arc<Mutex<u32>>,
}

impl Handler for Mailbox {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.lock().unwrap().extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let message = String::from_utf8_lossy(&std::mem::take(&mut *self.current.lock().unwrap()))
            .to_string();
        let mut refuse = self.refuse.lock().unwrap();
        if *refuse > 0 {
            *refuse -= 1;
            return INTERNAL_ERROR;
        }
        self.received.lock().unwrap().push(message);
        OK
    }
}

fn smtp_listener(refuse_first: u32) -> (String, Mailbox) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mailbox = Mailbox {
        received: Arc::default(),
        current: Arc::default(),
        refuse: Arc::new(Mutex::new(refuse_first)),
    };
    let mut server = Server::new(mailbox.clone());
    server
        .with_name("mail.test")
        .with_ssl(SslConfig::None)
        .unwrap()
        .with_num_threads(4)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (format!("smtp://{address}"), mailbox)
}

async fn wait_for_mail(app: &TestApp, mailbox: &Mailbox, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let received = mailbox.received.lock().unwrap().clone();
        if received.len() >= count {
            return received;
        }
        if tokio::time::Instant::now() >= deadline {
            let rows: Vec<(String, String, i32, Option<String>)> = sqlx::query_as(
                "SELECT kind, email_status, attempts, last_error FROM notifications",
            )
            .fetch_all(&app.app.services.pool)
            .await
            .unwrap();
            panic!("mail not received; notifications: {rows:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_failed_payment_and_an_ended_subscription_are_mailed_even_through_a_failing_server() {
    // The mail server refuses the first two attempts (and then stops answering on that
    // connection, as this one does after a 451): nothing is lost, it is sent later.
    let (smtp_url, mailbox) = smtp_listener(2);
    let app = stripe_app(|config| {
        config.smtp_url = Some(smtp_url);
        config.smtp_retry_base = Duration::from_millis(100);
        config.smtp_timeout = Duration::from_millis(1_000);
    })
    .await;
    let stripe = free_user(&app).await;
    stripe.deliver(&stripe.checkout()).await;
    stripe
        .deliver(&stripe.subscription(active("evt_c", now() - 60)))
        .await;
    let failed = stripe
        .deliver(&stripe.invoice("evt_failed", "invoice.payment_failed", now() - 30))
        .await;
    assert_eq!(failed.status(), 200);
    assert_eq!(stripe.usage().await["status"], "past_due");
    let deleted = stripe.subscription(SubscriptionEvent {
        id: "evt_deleted",
        event_type: "customer.subscription.deleted",
        created: now(),
        status: "canceled",
        price: PRO_PRICE,
        metadata: "{}",
    });
    stripe.deliver(&deleted).await;
    let mail = wait_for_mail(&app, &mailbox, 2).await;
    assert!(mail
        .iter()
        .any(|m| m.contains("Subject: Your Insight Cloud payment failed")));
    assert!(mail
        .iter()
        .any(|m| m.contains("Subject: Your Insight Cloud subscription has ended")));
    assert!(mail.iter().any(|m| m.contains("19.00 USD")));
    // The server has the mail a moment before the sender records it as sent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows: Vec<(String, String, i32)> = sqlx::query_as(
            "SELECT kind, email_status, attempts FROM notifications ORDER BY created_at",
        )
        .fetch_all(&app.app.services.pool)
        .await
        .unwrap();
        if rows.iter().all(|(_, status, _)| status == "sent")
            || tokio::time::Instant::now() >= deadline
        {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().all(|(_, status, _)| status == "sent"),
        "{rows:?}"
    );
    let attempts: i32 = rows.iter().map(|(_, _, attempts)| attempts).sum();
    assert_eq!(attempts, 4, "two refusals, then one success each: {rows:?}");
    // A redelivery of the failure mails nothing more.
    stripe
        .deliver(&stripe.invoice("evt_failed", "invoice.payment_failed", now() - 30))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mailbox.received.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn without_a_mail_server_notifications_are_recorded() {
    let app = stripe_app(|config| config.smtp_url = None).await;
    let stripe = free_user(&app).await;
    stripe.deliver(&stripe.checkout()).await;
    stripe
        .deliver(&stripe.subscription(active("evt_c", now() - 60)))
        .await;
    stripe
        .deliver(&stripe.invoice("evt_failed", "invoice.payment_failed", now()))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM notifications WHERE kind = 'payment_failed' AND email_status = 'pending'",
        )
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap();
        if pending == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "notification not recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
