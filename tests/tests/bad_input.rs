//! Whatever a client sends, it gets a clear 4xx problem document and nothing is written.

use insight_tests::spawn_app;
use reqwest::Method;
use serde_json::{json, Value};

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn malformed_or_unknown_or_mistyped_bodies_are_400_and_write_nothing() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let before = app.event_count().await;
    let cases: Vec<(&str, String)> = vec![
        ("/api/insight/projects", "{\"name\": ".into()),
        ("/api/insight/projects", "[]".into()),
        (
            "/api/insight/projects",
            json!({"name": "x", "gitRemote": "https://e.com/r.git", "owner": "me"}).to_string(),
        ),
        (
            "/api/insight/projects",
            json!({"name": 5, "gitRemote": "https://e.com/r.git"}).to_string(),
        ),
        (
            "/api/insight/projects",
            json!({"name": "  ", "gitRemote": "https://e.com/r.git"}).to_string(),
        ),
        (
            "/api/insight/projects",
            json!({"name": "x", "gitRemote": "--upload-pack=evil"}).to_string(),
        ),
        (
            "/api/insight/projects",
            json!({"name": "x", "gitRemote": "https://e.com/r.git", "gitBranch": "a..b"})
                .to_string(),
        ),
        (
            "/api/insight/projects",
            json!({"name": "x", "gitRemote": "https://e.com/r.git", "gitCommit": "xyz"})
                .to_string(),
        ),
        (
            "/api/insight/analysis",
            json!({"projectId": "nope"}).to_string(),
        ),
        ("/api/insight/analysis", json!({}).to_string()),
        (
            "/api/insight/analysis",
            json!({"projectId": project_id, "extra": 1}).to_string(),
        ),
        (
            "/api/insight/analysis",
            json!({"projectId": project_id, "path": "../../etc"}).to_string(),
        ),
        (
            "/api/insight/analysis",
            json!({"projectId": project_id, "detectors": []}).to_string(),
        ),
        (
            "/api/insight/analysis",
            json!({"projectId": project_id, "source": {"gitCommit": "not-hex"}}).to_string(),
        ),
    ];
    for (path, body) in cases {
        let response = app
            .request(Method::POST, path)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let (status, problem) = problem(response).await;
        assert_eq!(status, 400, "{path} {body}: {problem}");
        assert!(problem["error"].as_str().is_some_and(|e| !e.is_empty()));
        assert_eq!(problem["status"], 400);
    }
    assert_eq!(
        app.event_count().await,
        before,
        "rejected requests wrote events"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/api/insight/projects")
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, 415);
    assert_eq!(body["code"], "UNSUPPORTED_MEDIA_TYPE");
    app.shutdown().await;
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413() {
    let app = spawn_app().await;
    let name = "x".repeat(1024 * 1024 + 10);
    let response = app
        .post_json(
            "/api/insight/projects",
            json!({"name": name, "gitRemote": "https://e.com/r.git"}),
        )
        .await;
    let (status, body) = problem(response).await;
    assert_eq!(status, 413);
    assert_eq!(body["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(app.event_count().await, 0);
    app.shutdown().await;
}

#[tokio::test]
async fn bad_paging_parameters_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let analysis_id = app.submit_analysis(project_id).await;
    let paths = [
        ("/api/insight/analyses?limit=0", "limit"),
        ("/api/insight/analyses?limit=-1", "limit"),
        ("/api/insight/analyses?limit=abc", "limit"),
        ("/api/insight/analyses?limit=100000", "limit"),
        ("/api/insight/analyses?limit=101", "limit"),
        ("/api/insight/analyses?page=0", "page"),
        ("/api/insight/analyses?cursor=%25%25notbase64", "cursor"),
        ("/api/insight/analyses?cursor=eyJ9", "cursor"),
        ("/api/insight/analyses?status=DONE", "status"),
        ("/api/insight/analyses?projectId=123", "projectId"),
        ("/api/insight/projects?limit=0", "limit"),
        ("/api/insight/projects/not-a-uuid", "id"),
        ("/api/insight/analysis/not-a-uuid", "id"),
        (
            &format!("/api/insight/analysis/{analysis_id}?limit=201") as &str,
            "limit",
        ),
        (
            &format!("/api/insight/analysis/{analysis_id}?severity=SEVERE"),
            "severity",
        ),
        (
            &format!("/api/insight/analysis/{analysis_id}?cursor=abc"),
            "cursor",
        ),
        (
            &format!("/api/insight/analysis/{analysis_id}?cursor=abc&page=2"),
            "cursor",
        ),
    ]
    .map(|(path, parameter)| (path.to_string(), parameter));
    for (path, parameter) in paths {
        let (status, body) = problem(app.get(&path).await).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with(parameter),
            "{path}: {body}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_cursor_from_one_listing_is_refused_by_another() {
    let app = spawn_app().await;
    for name in ["a", "b", "c"] {
        app.create_project(name).await;
    }
    let page: Value = app
        .get("/api/insight/projects?limit=1")
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["pagination"]["nextCursor"].as_str().unwrap();
    let (status, body) = problem(
        app.get(&format!("/api/insight/analyses?cursor={cursor}"))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["parameter"], "cursor");
    app.shutdown().await;
}

#[tokio::test]
async fn filter_text_is_data_not_sql() {
    let app = spawn_app().await;
    let project_id = app.create_project("shop").await;
    let analysis_id = app.submit_analysis(project_id).await;
    for filter in [
        "detector=x'%20OR%20'1'='1",
        "category=%27%3B%20DROP%20TABLE%20events%3B%20--",
        "filePath=%25",
        "filePath=_",
    ] {
        let response = app
            .get(&format!("/api/insight/analysis/{analysis_id}?{filter}"))
            .await;
        assert_eq!(response.status(), 200, "{filter}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["pagination"]["total"], 0, "{filter}");
    }
    assert!(app.event_count().await > 0);
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_with_problems() {
    let app = spawn_app().await;
    let (status, _) = problem(app.get("/api/insight/nothing-here").await).await;
    assert_eq!(status, 404);
    let response = app
        .request(Method::PUT, "/api/insight/analyses")
        .send()
        .await
        .unwrap();
    let (status, _) = problem(response).await;
    assert_eq!(status, 405);
    app.shutdown().await;
}
