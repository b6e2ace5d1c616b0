//! Customer webhooks end to end: registration through the API, events through the relay and
//! JetStream, deliveries sent by the dispatcher to a real receiver on loopback, signatures
//! checked independently, and the delivery log, redelivery, replay and rotation through the API.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use infrastructure::webhooks::HostResolver;
use insight::{Application, Roles};
use insight_tests::receiver::{Behaviour, Receiver};
use insight_tests::{spawn_app, spawn_app_configured, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

fn no_workers() -> Roles {
    Roles {
        worker: false,
        ..Roles::default()
    }
}

/// Registers an endpoint; returns its id and secret.
async fn register(app: &TestApp, url: &str, types: Option<Vec<&str>>) -> (Uuid, String) {
    let mut body = json!({"url": url});
    if let Some(types) = types {
        body["eventTypes"] = json!(types);
    }
    let response = app.post_json("/api/insight/webhooks", body).await;
    assert_eq!(response.status(), 201, "endpoint registered");
    let body: Value = response.json().await.unwrap();
    (
        body["webhook"]["id"].as_str().unwrap().parse().unwrap(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

async fn deliveries(app: &TestApp, endpoint: Uuid) -> Vec<Value> {
    let response = app
        .get(&format!("/api/insight/webhooks/{endpoint}/deliveries"))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["deliveries"].as_array().unwrap().clone()
}

/// Waits until the endpoint's deliveries satisfy `done`.
async fn wait_deliveries(
    app: &TestApp,
    endpoint: Uuid,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let list = deliveries(app, endpoint).await;
        if done(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries never got there: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn event_id(app: &TestApp, event_type: &str, aggregate_id: Uuid) -> Uuid {
    sqlx::query_scalar("SELECT event_id FROM events WHERE event_type = $1 AND aggregate_id = $2")
        .bind(event_type)
        .bind(aggregate_id.to_string())
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_standard_webhooks_test_vector_holds() {
    let secret =
        application::webhooks::WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
    assert_eq!(
        secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[tokio::test]
async fn an_event_reaches_a_registered_endpoint_signed_and_logged() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (endpoint, secret) = register(
        &app,
        &receiver.url("hook", Behaviour::Succeed),
        Some(vec!["analysis.requested"]),
    )
    .await;
    let (other, _) = register(
        &app,
        &receiver.url("completed-only", Behaviour::Succeed),
        Some(vec!["analysis.completed"]),
    )
    .await;
    let project = app.create_project("shop").await;
    let analysis = app.submit_analysis(project).await;

    let hits = receiver.wait_for("hook", 1, WAIT).await;
    let hit = &hits[0];
    assert!(hit.signed_with(&secret), "signature verifies: {hit:?}");
    assert_eq!(
        hit.header("webhook-id"),
        event_id(&app, "AnalysisRequested", analysis)
            .await
            .to_string()
    );
    let timestamp: i64 = hit.header("webhook-timestamp").parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    assert_eq!(hit.header("content-type"), "application/json");
    let body = hit.json();
    assert_eq!(body["type"], "analysis.requested");
    assert!(body["timestamp"].is_string());
    assert_eq!(body["data"]["analysisId"], analysis.to_string());
    assert_eq!(body["data"]["projectId"], project.to_string());
    assert_eq!(body["data"]["status"], "QUEUED");
    assert!(hit.body.len() < 2048, "small body: {}", hit.body.len());

    let log = wait_deliveries(&app, endpoint, |list| {
        list.len() == 1 && list[0]["status"] == "succeeded"
    })
    .await;
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["statusCode"], 200);
    assert_eq!(attempts[0]["responseBody"], "thanks");
    assert!(attempts[0]["durationMs"].as_i64().unwrap() >= 0);
    assert_eq!(log[0]["eventType"], "analysis.requested");

    // The project.created event and the requested event were not for the other endpoint.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.hits("completed-only").is_empty());
    assert!(deliveries(&app, other).await.is_empty());

    // Listing shows the endpoints without their secrets; another user sees neither.
    let list: Value = app.get("/api/insight/webhooks").await.json().await.unwrap();
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&secret));
    let (_, stranger) = insight_tests::create_user(&app.app.services, "stranger").await;
    let response = app
        .request_as(
            &stranger,
            Method::GET,
            &format!("/api/insight/webhooks/{endpoint}/deliveries"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = app
        .request_as(
            &stranger,
            Method::DELETE,
            &format!("/api/insight/webhooks/{endpoint}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // Deleted: no more deliveries.
    let response = app
        .request(Method::DELETE, &format!("/api/insight/webhooks/{endpoint}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    app.submit_analysis(project).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.hits("hook").len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn bad_registrations_get_clear_problems_and_write_nothing() {
    let app = spawn_app_configured(no_workers(), |config| {
        config.webhook_allow_http = false;
        config.webhook_allowed_cidrs = vec![];
    })
    .await;
    let project = app.create_project("shop").await;
    let cases = [
        (json!({"url": "http://example.com/hook"}), "https"),
        (json!({"url": "not a url"}), "valid absolute URL"),
        (json!({"url": "ftp://example.com/"}), "https"),
        (json!({"url": "https://user:pw@example.com/"}), "user name"),
        (json!({"url": "https://127.0.0.2/hook"}), "loopback"),
        (
            json!({"url": "https://169.254.169.254/latest/meta-data"}),
            "link-local",
        ),
        (json!({"url": "https://[::ffff:10.0.0.1]/"}), "private"),
        (json!({"url": "https://[::1]/"}), "loopback"),
        (json!({"url": "https://100.64.1.1/"}), "CGNAT"),
        (json!({"url": "https://224.0.0.5/"}), "multicast"),
        (json!({"url": "https://localhost/"}), "localhost"),
        (
            json!({"url": "https://example.com/", "eventTypes": ["analysis.exploded"]}),
            "unknown event types",
        ),
        (
            json!({"url": "https://example.com/", "projectId": Uuid::new_v4()}),
            "no such project",
        ),
        (
            json!({"url": "https://example.com/", "colour": "red"}),
            "unknown field",
        ),
        (json!({"eventTypes": []}), "url"),
    ];
    for (body, expected) in cases {
        let response = app.post_json("/api/insight/webhooks", body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{body}"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(expected),
            "{body}: {problem}"
        );
    }
    assert_eq!(
        count(&app, "SELECT count(*) FROM webhook_endpoints").await,
        0
    );

    // A good one, for one project, is accepted.
    let response = app
        .post_json(
            "/api/insight/webhooks",
            json!({"url": "https://hooks.example.com/insight", "projectId": project,
                   "eventTypes": ["analysis.completed", "analysis.failed"]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["webhook"]["projectId"], project.to_string());
    assert_eq!(body["webhook"]["status"], "active");
    let secret = body["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert!(application::webhooks::WebhookSecret::parse(secret).is_ok());

    let replay = app
        .post_json(
            &format!(
                "/api/insight/webhooks/{}/replay",
                body["webhook"]["id"].as_str().unwrap()
            ),
            json!({"since": "yesterday"}),
        )
        .await;
    assert_eq!(replay.status(), 400);
    let redeliver = app
        .post_json(
            &format!(
                "/api/insight/webhooks/{}/deliveries/{}/redeliver",
                body["webhook"]["id"].as_str().unwrap(),
                Uuid::new_v4()
            ),
            json!({}),
        )
        .await;
    assert_eq!(redeliver.status(), 404);
    app.shutdown().await;
}

/// Maps names to addresses, as a DNS server would (tests have no DNS).
#[derive(Debug)]
struct MapResolver(HashMap<String, Vec<IpAddr>>);

#[async_trait::async_trait]
impl HostResolver for MapResolver {
    async fn resolve(&self, host: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
        self.0.get(host).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, format!("no such host {host}"))
        })
    }
}

#[tokio::test]
async fn names_resolving_to_refused_addresses_are_refused_at_send_time() {
    let receiver = Receiver::start().await;
    let resolver = MapResolver(HashMap::from([
        (
            "internal.example".to_string(),
            vec!["10.1.2.3".parse().unwrap()],
        ),
        (
            "sneaky.example".to_string(),
            vec![
                "93.184.216.34".parse().unwrap(),
                "127.0.0.1".parse().unwrap(),
            ],
        ),
        (
            "receiver.example".to_string(),
            vec!["127.0.0.1".parse().unwrap()],
        ),
    ]));
    let app = spawn_app_configured(no_workers(), |config| {
        config.webhook_resolver = Arc::new(resolver);
        // Loopback is refused here, except for the receiver's name via the resolver check
        // below: nothing is allowed, so only a public address would do.
        config.webhook_allowed_cidrs = vec![];
        config.webhook_retry_schedule = vec![Duration::ZERO];
    })
    .await;
    // IP literals in refused ranges never get registered.
    for url in [
        format!("http://127.0.0.1:{}/hook", receiver.address.port()),
        "http://169.254.169.254/latest/meta-data".to_string(),
        format!("http://[::ffff:127.0.0.1]:{}/hook", receiver.address.port()),
    ] {
        let response = app
            .post_json("/api/insight/webhooks", json!({"url": url}))
            .await;
        assert_eq!(response.status(), 400, "{url}");
    }
    // Names pass registration; their addresses are checked at every delivery.
    let port = receiver.address.port();
    let (private, _) = register(&app, &format!("http://internal.example:{port}/a"), None).await;
    let (mixed, _) = register(&app, &format!("http://sneaky.example:{port}/b"), None).await;
    let (looped, _) = register(&app, &format!("http://receiver.example:{port}/c"), None).await;
    app.create_project("shop").await;

    for (endpoint, address, range) in [
        (private, "10.1.2.3", "private"),
        (mixed, "127.0.0.1", "loopback"),
        (looped, "127.0.0.1", "loopback"),
    ] {
        let log = wait_deliveries(&app, endpoint, |list| {
            list.len() == 1 && list[0]["status"] == "failed"
        })
        .await;
        let error = log[0]["attempts"][0]["error"].as_str().unwrap();
        assert!(error.contains(address) && error.contains(range), "{error}");
        assert!(log[0]["attempts"][0]["statusCode"].is_null());
    }
    assert!(receiver.hits("a").is_empty());
    assert!(receiver.hits("b").is_empty());
    assert!(receiver.hits("c").is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn the_connection_goes_to_the_address_the_resolver_checked() {
    let receiver = Receiver::start().await;
    // `receiver.example` exists only in this resolver: reaching the receiver proves the
    // dispatcher connected to the address it resolved and checked itself.
    let resolver = MapResolver(HashMap::from([(
        "receiver.example".to_string(),
        vec!["127.0.0.1".parse().unwrap()],
    )]));
    let app = spawn_app_configured(no_workers(), |config| {
        config.webhook_resolver = Arc::new(resolver);
    })
    .await;
    let port = receiver.address.port();
    let (_, secret) = register(&app, &format!("http://receiver.example:{port}/named"), None).await;
    app.create_project("shop").await;
    let hits = receiver.wait_for("named", 1, WAIT).await;
    assert!(hits[0].signed_with(&secret));
    assert_eq!(hits[0].header("host"), format!("receiver.example:{port}"));
    app.shutdown().await;
}

#[tokio::test]
async fn failed_attempts_are_retried_with_the_same_id_until_one_succeeds() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (endpoint, secret) = register(
        &app,
        &receiver.url("flaky", Behaviour::FailFirst(2)),
        Some(vec!["project.created"]),
    )
    .await;
    app.create_project("shop").await;
    let hits = receiver.wait_for("flaky", 3, WAIT).await;
    assert!(hits.iter().all(|hit| hit.signed_with(&secret)));
    assert!(hits
        .iter()
        .all(|hit| hit.header("webhook-id") == hits[0].header("webhook-id")));
    assert!(hits.iter().all(|hit| hit.body == hits[0].body));
    let log = wait_deliveries(&app, endpoint, |list| {
        list.len() == 1 && list[0]["status"] == "succeeded"
    })
    .await;
    let codes: Vec<i64> = log[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| attempt["statusCode"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![500, 500, 200]);
    assert_eq!(log[0]["attempts"][0]["responseBody"], "not yet");
    app.shutdown().await;
}

#[tokio::test]
async fn hanging_redirecting_and_failing_receivers_fail_as_the_log_shows() {
    let app = spawn_app_configured(no_workers(), |config| {
        config.webhook_timeout = Duration::from_millis(400);
        config.webhook_retry_schedule = vec![Duration::ZERO, Duration::from_millis(50)];
    })
    .await;
    let receiver = Receiver::start().await;
    let types = Some(vec!["project.created"]);
    let (hang, _) = register(
        &app,
        &receiver.url("hang", Behaviour::Hang(Duration::from_secs(5))),
        types.clone(),
    )
    .await;
    let (redirect, _) = register(
        &app,
        &receiver.url("redirect", Behaviour::Redirect),
        types.clone(),
    )
    .await;
    let (fail, _) = register(&app, &receiver.url("fail", Behaviour::AlwaysFail), types).await;
    let started = Instant::now();
    app.create_project("shop").await;

    let failed = |list: &[Value]| list.len() == 1 && list[0]["status"] == "failed";
    let log = wait_deliveries(&app, hang, failed).await;
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "the schedule has two attempts");
    assert!(attempts[0]["error"].as_str().unwrap().contains("timed out"));
    assert!(attempts[0]["durationMs"].as_i64().unwrap() < 2_000);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not wait for the receiver"
    );

    let log = wait_deliveries(&app, redirect, failed).await;
    let attempt = &log[0]["attempts"][0];
    assert_eq!(attempt["statusCode"], 302);
    assert!(attempt["error"].as_str().unwrap().contains("redirect"));
    assert!(
        receiver.hits("redirected").is_empty(),
        "redirect not followed"
    );

    let log = wait_deliveries(&app, fail, failed).await;
    let body = log[0]["attempts"][0]["responseBody"].as_str().unwrap();
    assert_eq!(body.len(), 1024, "response body cut to its bound");
    app.shutdown().await;
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_tells_its_owner() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (endpoint, _) = register(
        &app,
        &receiver.url("gone", Behaviour::Gone),
        Some(vec!["analysis.requested"]),
    )
    .await;
    let project = app.create_project("shop").await;
    app.submit_analysis(project).await;
    receiver.wait_for("gone", 1, WAIT).await;
    wait_deliveries(&app, endpoint, |list| {
        list.len() == 1 && list[0]["status"] == "failed"
    })
    .await;
    let view: Value = app
        .get(&format!("/api/insight/webhooks/{endpoint}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["webhook"]["status"], "disabled");
    assert!(view["webhook"]["disabledReason"]
        .as_str()
        .unwrap()
        .contains("410"));
    let notified = count(
        &app,
        "SELECT count(*) FROM notifications WHERE kind = 'webhook_endpoint_disabled'",
    )
    .await;
    assert_eq!(notified, 1);
    // Nothing more goes to a disabled endpoint.
    app.submit_analysis(project).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.hits("gone").len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn an_endpoint_failing_for_the_whole_window_is_disabled() {
    let app = spawn_app_configured(no_workers(), |config| {
        config.webhook_disable_after = Duration::from_millis(600);
        config.webhook_retry_schedule = vec![Duration::from_millis(200); 20];
    })
    .await;
    let receiver = Receiver::start().await;
    let (endpoint, _) = register(&app, &receiver.url("down", Behaviour::AlwaysFail), None).await;
    app.create_project("shop").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let view: Value = app
            .get(&format!("/api/insight/webhooks/{endpoint}"))
            .await
            .json()
            .await
            .unwrap();
        if view["webhook"]["status"] == "disabled" {
            assert!(view["webhook"]["disabledReason"]
                .as_str()
                .unwrap()
                .contains("failed since"));
            break;
        }
        assert!(Instant::now() < deadline, "never disabled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hits = receiver.hits("down").len();
    assert!(hits >= 3, "several attempts before disabling: {hits}");
    let (user, subject): (Uuid, String) = sqlx::query_as(
        "SELECT user_id, subject FROM notifications WHERE kind = 'webhook_endpoint_disabled'",
    )
    .fetch_one(&app.app.services.pool)
    .await
    .unwrap();
    assert_eq!(user, app.user_id.as_uuid());
    assert!(subject.contains("disabled"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        receiver.hits("down").len(),
        hits,
        "no attempt after disabling"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let app = spawn_app_configured(no_workers(), |config| {
        config.webhook_retry_schedule = vec![Duration::ZERO, Duration::from_millis(50)];
    })
    .await;
    let receiver = Receiver::start().await;
    let (endpoint, _) = register(
        &app,
        &receiver.url("busy", Behaviour::RetryAfterOnce(2)),
        Some(vec!["project.created"]),
    )
    .await;
    app.create_project("shop").await;
    let hits = receiver.wait_for("busy", 2, WAIT).await;
    let waited = hits[1].at - hits[0].at;
    assert!(waited >= Duration::from_millis(1_900), "waited {waited:?}");
    let log = wait_deliveries(&app, endpoint, |list| {
        list.len() == 1 && list[0]["status"] == "succeeded"
    })
    .await;
    assert_eq!(log[0]["attempts"][0]["statusCode"], 429);
    app.shutdown().await;
}

#[tokio::test]
async fn a_dispatcher_restarted_mid_schedule_loses_no_delivery() {
    let mut app = spawn_app_configured(no_workers(), |config| {
        config.webhook_retry_schedule = vec![Duration::ZERO, Duration::from_millis(1500)];
    })
    .await;
    let receiver = Receiver::start().await;
    let (endpoint, secret) = register(
        &app,
        &receiver.url("restart", Behaviour::FailFirst(1)),
        Some(vec!["project.created"]),
    )
    .await;
    app.create_project("shop").await;
    receiver.wait_for("restart", 1, WAIT).await;
    wait_deliveries(&app, endpoint, |list| {
        list.len() == 1 && list[0]["attempts"].as_array().unwrap().len() == 1
    })
    .await;
    // The dispatcher goes away with the retry due in 1.5 s; nothing is sent while it is gone.
    app.app.stop_dispatcher().await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(receiver.hits("restart").len(), 1);
    // Another dispatcher (its own process in production) picks the schedule up from Postgres.
    let dispatcher = Application::build(
        &app.config,
        Roles {
            api: false,
            projectors: false,
            relay: false,
            worker: false,
            dispatcher: true,
        },
    )
    .await
    .unwrap();
    let hits = receiver.wait_for("restart", 2, WAIT).await;
    assert!(hits[1].signed_with(&secret));
    assert_eq!(hits[0].header("webhook-id"), hits[1].header("webhook-id"));
    wait_deliveries(&app, endpoint, |list| {
        list.len() == 1 && list[0]["status"] == "succeeded"
    })
    .await;
    dispatcher.stop().await.unwrap();
    app.shutdown().await;
}

#[tokio::test]
async fn redelivery_and_replay_send_again_even_what_nats_no_longer_holds() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let (first, _) = register(
        &app,
        &receiver.url("first", Behaviour::Succeed),
        Some(vec!["analysis.requested"]),
    )
    .await;
    let project = app.create_project("shop").await;
    let a = app.submit_analysis(project).await;
    let b = app.submit_analysis(project).await;
    receiver.wait_for("first", 2, WAIT).await;
    let log = wait_deliveries(&app, first, |list| {
        list.len() == 2 && list.iter().all(|d| d["status"] == "succeeded")
    })
    .await;

    // Redeliver one: the same message again, with the same id.
    let delivery = log[0]["id"].as_str().unwrap();
    let response = app
        .post_json(
            &format!("/api/insight/webhooks/{first}/deliveries/{delivery}/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let hits = receiver.wait_for("first", 3, WAIT).await;
    assert_eq!(
        hits[2].header("webhook-id"),
        log[0]["eventId"].as_str().unwrap()
    );
    wait_deliveries(&app, first, |list| {
        list.iter()
            .any(|d| d["attempts"].as_array().unwrap().len() == 2 && d["status"] == "succeeded")
    })
    .await;

    // An endpoint registered afterwards got none of it; NATS forgets everything; a replay
    // still sends both analyses and the project, from the event log.
    let (late, secret) = register(&app, &receiver.url("late", Behaviour::Succeed), None).await;
    let client = async_nats::connect(&app.config.nats_url).await.unwrap();
    let mut stream = async_nats::jetstream::new(client)
        .get_stream(app.stream_name())
        .await
        .unwrap();
    stream.purge().await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.hits("late").is_empty());

    let response = app
        .post_json(
            &format!("/api/insight/webhooks/{late}/replay"),
            json!({"since": before.to_rfc3339()}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scheduled"], 3, "{body}");
    let hits = receiver.wait_for("late", 3, WAIT).await;
    assert!(hits.iter().all(|hit| hit.signed_with(&secret)));
    let mut types: Vec<String> = hits
        .iter()
        .map(|hit| hit.json()["type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "analysis.requested",
            "analysis.requested",
            "project.created"
        ]
    );
    let ids: Vec<String> = hits
        .iter()
        .map(|hit| hit.header("webhook-id").to_string())
        .collect();
    assert!(ids.contains(&event_id(&app, "AnalysisRequested", a).await.to_string()));
    assert!(ids.contains(&event_id(&app, "AnalysisRequested", b).await.to_string()));

    // A replay from now on finds nothing.
    let response = app
        .post_json(
            &format!("/api/insight/webhooks/{late}/replay"),
            json!({"since": chrono::Utc::now().to_rfc3339()}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scheduled"], 0);
    app.shutdown().await;
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_until_the_overlap_ends() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (endpoint, old) = register(
        &app,
        &receiver.url("rotating", Behaviour::Succeed),
        Some(vec!["project.created"]),
    )
    .await;
    app.create_project("one").await;
    let hits = receiver.wait_for("rotating", 1, WAIT).await;
    assert_eq!(hits[0].header("webhook-signature").split(' ').count(), 1);

    let response = app
        .post_json(
            &format!("/api/insight/webhooks/{endpoint}/rotate-secret"),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let new = body["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(body["webhook"]["previousSecretExpiresAt"].is_string());

    app.create_project("two").await;
    let hits = receiver.wait_for("rotating", 2, WAIT).await;
    let rotated = &hits[1];
    assert_eq!(rotated.header("webhook-signature").split(' ').count(), 2);
    assert!(rotated.signed_with(&new));
    assert!(rotated.signed_with(&old));

    // Once the overlap is over, only the new secret signs.
    sqlx::query(
        "UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second' \
          WHERE id = $1",
    )
    .bind(endpoint)
    .execute(&app.app.services.pool)
    .await
    .unwrap();
    app.create_project("three").await;
    let hits = receiver.wait_for("rotating", 3, WAIT).await;
    assert!(hits[2].signed_with(&new));
    assert!(!hits[2].signed_with(&old));
    app.shutdown().await;
}

#[tokio::test]
async fn an_endpoint_for_one_project_hears_only_of_that_project() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let mine = app.create_project("mine").await;
    let other = app.create_project("other").await;
    let response = app
        .post_json(
            "/api/insight/webhooks",
            json!({"url": receiver.url("one-project", Behaviour::Succeed), "projectId": mine}),
        )
        .await;
    assert_eq!(response.status(), 201);
    app.submit_analysis(other).await;
    let wanted = app.submit_analysis(mine).await;
    let hits = receiver.wait_for("one-project", 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let hits_now = receiver.hits("one-project");
    assert_eq!(hits_now.len(), 1, "{hits_now:?}");
    assert_eq!(hits[0].json()["data"]["analysisId"], wanted.to_string());
    app.shutdown().await;
}
