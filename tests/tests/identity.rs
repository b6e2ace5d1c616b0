//! Users and tokens over REST: bearer authentication and its failures.

use insight_tests::spawn_app;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_request_without_a_token_is_401_missing_token() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/insight/analyses"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "MISSING_TOKEN");
    assert!(body["error"].as_str().unwrap().contains("token"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_or_scheme_is_401_invalid_token() {
    let app = spawn_app().await;
    for header in [
        "Bearer ins_not-a-real-token",
        "Basic dXNlcjpwYXNz",
        "Bearer",
    ] {
        let response = app
            .client
            .get(app.url("/api/insight/analyses"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "INVALID_TOKEN", "{header}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_user_creates_a_second_token_uses_it_and_revokes_it() {
    let app = spawn_app().await;
    let response = app
        .post_json("/api/insight/tokens", json!({"name": "ci"}))
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let second = created["token"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(second.starts_with("ins_"));

    let listed = app
        .request_as(&second, Method::GET, "/api/insight/tokens")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(
        !listed.to_string().contains(&second[8..]),
        "a listing never shows a secret"
    );

    let revoked = app
        .request(Method::DELETE, &format!("/api/insight/tokens/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let after = app
        .request_as(&second, Method::GET, "/api/insight/tokens")
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    let body: Value = after.json().await.unwrap();
    assert_eq!(body["code"], "INVALID_TOKEN");

    // The first token still works; revoking twice is a 404.
    let again = app
        .request(Method::DELETE, &format!("/api/insight/tokens/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    app.shutdown().await;
}

#[tokio::test]
async fn nobody_revokes_another_users_token() {
    let app = spawn_app().await;
    let (_, other) = insight_tests::create_user(&app.app.services, "other").await;
    let response = app
        .request_as(&other, Method::POST, "/api/insight/tokens")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let response = app
        .request(Method::DELETE, &format!("/api/insight/tokens/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let still_valid = app
        .request_as(&other, Method::GET, "/api/insight/tokens")
        .send()
        .await
        .unwrap();
    assert_eq!(still_valid.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_all(&app.app.services.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].len(), 32);
    let dump: String = sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM api_tokens t")
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap();
    assert!(!dump.contains(&app.token[4..]));
    app.shutdown().await;
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["postgres"], "up");
    assert_eq!(body["checks"]["nats"], "up");
    app.shutdown().await;
}

#[tokio::test]
async fn a_token_revoked_in_one_process_stops_working_in_another() {
    let app = spawn_app().await;
    // A second process's view: its own services and token cache on the same database.
    let other_pool = infrastructure::db::connect(&app.database_url, 4)
        .await
        .unwrap();
    let other = insight::Services::new(other_pool, &app.config);
    let header = format!("Bearer {}", app.token);
    let before = other.identity.authenticate(Some(&header)).await.unwrap();
    assert!(before.is_ok(), "cached as valid in the other process");

    let me: Value = app.get("/api/insight/tokens").await.json().await.unwrap();
    let id = me["tokens"][0]["id"].as_str().unwrap().to_string();
    let revoked = app
        .request(Method::DELETE, &format!("/api/insight/tokens/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = other.identity.authenticate(Some(&header)).await.unwrap();
        if now == Err(application::AuthFailure::Invalid) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other process still accepts a revoked token"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.shutdown().await;
}

#[tokio::test]
async fn readiness_is_503_naming_nats_when_nats_does_not_answer() {
    // Port 9 (discard) has nothing listening on loopback: NATS is "down" for this process.
    let roles = insight::Roles {
        worker: false,
        relay: false,
        ..insight::Roles::default()
    };
    let app = insight_tests::spawn_app_configured(roles, |config| {
        config.nats_url = "nats://127.0.0.1:9".into();
    })
    .await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["content-type"], "application/problem+json");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["nats"], "down");
    assert_eq!(body["checks"]["postgres"], "up");
    // Liveness does not depend on dependencies.
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_and_its_browsable_ui_are_served() {
    let app = spawn_app().await;
    let document: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["paths"]["/api/insight/analysis"]["post"].is_object());
    let docs = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    app.shutdown().await;
}
