//! The black-box test harness: every test gets its own Postgres database (and, for NATS, its
//! own subject prefix), a running `Application` on a free port, and a user with a token.
//! Tests talk to the real Postgres and NATS of the machine; nothing is mocked.
//!
//! Must not be used by production code; it may import every crate of the workspace.

pub mod receiver;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use infrastructure::db::database_url_for;
use infrastructure::Config;
use insight::{Application, Roles, Services};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

/// Test databases older than this are dropped by later runs (a crashed test leaves its own).
const STALE_AFTER: Duration = Duration::from_secs(3600);
const PREFIX: &str = "insight_test_";

pub struct TestApp {
    pub app: Application,
    pub base_url: String,
    pub database_url: String,
    pub database_name: String,
    pub config: Config,
    pub client: Client,
    pub token: String,
    pub user_id: domain::UserId,
    /// Events in the log once the app and its user existed (opening the user's subscription
    /// writes one): `event_count` counts from here.
    baseline_events: i64,
}

fn configured_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| Config::DEFAULT_DATABASE_URL.into())
}

fn maintenance_url() -> String {
    database_url_for(&configured_url(), "postgres")
}

/// A fresh database name, and a URL for it on the configured server.
pub async fn fresh_database() -> (String, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let name = format!("{PREFIX}{now}_{}", Uuid::new_v4().simple());
    drop_stale_databases(now).await;
    let url = database_url_for(&configured_url(), &name);
    (name, url)
}

async fn drop_stale_databases(now: u64) {
    let Ok(mut conn) = PgConnection::connect(&maintenance_url()).await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'insight_test_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    for name in names {
        let created = name
            .trim_start_matches(PREFIX)
            .split('_')
            .next()
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > STALE_AFTER.as_secs()) {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await;
        }
    }
}

pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::from_env()
        .expect("test configuration")
        .with_database_url(database_url);
    config.bind_addr = "127.0.0.1:0".parse().unwrap();
    config.read_your_writes_timeout = Duration::from_secs(5);
    config.database_max_connections = 10;
    // Own subjects and stream per test, so tests share the NATS server without meeting.
    config.nats_prefix = format!("t{}", &Uuid::new_v4().simple().to_string()[..12]);
    config.retry_delays = vec![Duration::from_millis(50); 3];
    config.worker_ack_wait = Duration::from_secs(5);
    config.projection_poll = Duration::from_millis(20);
    // Webhook receivers in tests listen on loopback over plain http; retries come quickly.
    config.webhook_allow_http = true;
    config.webhook_allowed_cidrs = vec!["127.0.0.1/32".parse().unwrap()];
    config.webhook_retry_schedule = vec![
        Duration::ZERO,
        Duration::from_millis(100),
        Duration::from_millis(100),
    ];
    config.webhook_timeout = Duration::from_secs(3);
    config.webhook_poll = Duration::from_millis(50);
    config
}

/// Starts the system without workers (tests drive the worker side through the use cases) on
/// a new database, and creates a user with a token.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Roles {
        worker: false,
        ..Roles::default()
    })
    .await
}

/// Everything, workers included.
pub async fn spawn_full_app() -> TestApp {
    spawn_app_with(Roles::default()).await
}

pub async fn spawn_app_with(roles: Roles) -> TestApp {
    spawn_app_configured(roles, |_| {}).await
}

/// Like `spawn_app_with`, after `adjust` has changed the configuration.
pub async fn spawn_app_configured(roles: Roles, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let (database_name, database_url) = fresh_database().await;
    let mut config = test_config(&database_url);
    adjust(&mut config);
    let app = Application::build(&config, roles)
        .await
        .expect("application starts");
    let base_url = app
        .address
        .map(|address| format!("http://{address}"))
        .unwrap_or_default();
    let (user_id, token) = create_user(&app.services, "owner").await;
    let baseline_events = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.services.pool)
        .await
        .expect("events counted");
    TestApp {
        app,
        base_url,
        database_url,
        database_name,
        config,
        client: Client::new(),
        token,
        user_id,
        baseline_events,
    }
}

/// A new user (unique e-mail) and their first token, on ENTERPRISE: tests of other rules
/// submit more than the smaller plans allow. Plan tests use `create_user_on`.
pub async fn create_user(services: &Services, label: &str) -> (domain::UserId, String) {
    create_user_on(services, label, application::Plan::Enterprise).await
}

pub async fn create_user_on(
    services: &Services,
    label: &str,
    plan: application::Plan,
) -> (domain::UserId, String) {
    let email = application::Email::parse(&format!("{label}-{}@example.com", Uuid::new_v4()))
        .expect("valid e-mail");
    let (user_id, token) = services
        .identity
        .create_user(email, plan)
        .await
        .expect("user created");
    (user_id, token.token.expose().to_string())
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// A request with this app's user's token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(&self.token, method, path)
    }

    pub fn request_as(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a project through the API and returns its id.
    pub async fn create_project(&self, name: &str) -> Uuid {
        let response = self
            .post_json(
                "/api/insight/projects",
                serde_json::json!({"name": name, "gitRemote": "https://example.com/acme/shop.git"}),
            )
            .await;
        assert_eq!(response.status(), 201, "project created");
        let body: Value = response.json().await.unwrap();
        body["project"]["id"].as_str().unwrap().parse().unwrap()
    }

    /// Submits an analysis through the API and returns its id.
    pub async fn submit_analysis(&self, project_id: Uuid) -> Uuid {
        let response = self
            .post_json(
                "/api/insight/analysis",
                serde_json::json!({"projectId": project_id, "detectors": ["security"]}),
            )
            .await;
        assert_eq!(response.status(), 201, "analysis submitted");
        let body: Value = response.json().await.unwrap();
        body["analysisId"].as_str().unwrap().parse().unwrap()
    }

    /// A second API process on this app's database: nothing shared but Postgres.
    pub async fn another_api_process(&self) -> Application {
        Application::build(
            &self.config,
            Roles {
                api: true,
                projectors: false,
                relay: false,
                worker: false,
                dispatcher: false,
            },
        )
        .await
        .expect("second API process")
    }

    pub async fn connection(&self) -> PgConnection {
        PgConnection::connect(&self.database_url).await.unwrap()
    }

    /// Events written since the app and its user were set up.
    pub async fn event_count(&self) -> i64 {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.app.services.pool)
            .await
            .unwrap();
        total - self.baseline_events
    }

    /// Events of one type in the log.
    pub async fn events_of_type(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&self.app.services.pool)
            .await
            .unwrap()
    }

    /// Waits until every projector has applied every committed event.
    pub async fn wait_for_projections(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let mut behind = 0;
            for projector in projections::all_projectors() {
                let (_, count) =
                    projections::runner::status(&self.app.services.pool, projector.as_ref())
                        .await
                        .unwrap();
                behind += count;
            }
            if behind == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "projections did not catch up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn stream_name(&self) -> String {
        infrastructure::messaging::Topology::new(self.config.nats_prefix.clone()).stream_name()
    }

    /// Stops the application, deletes its stream and drops its database.
    pub async fn shutdown(self) {
        let stream = self.stream_name();
        self.app.stop().await.expect("clean stop");
        if let Ok(client) = async_nats::connect(&self.config.nats_url).await {
            let _ = async_nats::jetstream::new(client)
                .delete_stream(stream)
                .await;
        }
        if let Ok(mut conn) = PgConnection::connect(&maintenance_url()).await {
            let _ = conn
                .execute(
                    format!(
                        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                        self.database_name
                    )
                    .as_str(),
                )
                .await;
        }
    }
}

/// Worker-side metadata for tests that drive a lifecycle without NATS.
pub fn worker_metadata() -> application::CommandMetadata {
    application::CommandMetadata::new(
        application::Actor::Worker("test-worker".into()),
        Uuid::now_v7(),
    )
}
