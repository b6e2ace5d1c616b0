//! Uploaded archives: analysed like a repository; hostile ones refused before anything is kept.

use std::time::Duration;

use insight_tests::{spawn_app_configured, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// A .tar.gz built entry by entry, with raw names (so hostile names can be written too).
fn tar_gz(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, kind, data, link) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

async fn spawn() -> TestApp {
    spawn_app_configured(insight::Roles::default(), |config| {
        config.max_upload_bytes = 256 * 1024;
        config.max_source_bytes = 1024 * 1024;
    })
    .await
}

async fn upload(
    app: &TestApp,
    token: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    app.request_as(token, Method::POST, "/api/insight/uploads")
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn uploads_kept(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_uploaded_archive_is_analysed_like_a_repository() {
    let app = spawn().await;
    let archive = tar_gz(&[
        ("src/", tar::EntryType::Directory, b"", None),
        (
            "src/app.js",
            tar::EntryType::Regular,
            b"function f(a, b) {\n  debugger;\n  return a == b;\n}\n",
            None,
        ),
        ("src/same.js", tar::EntryType::Symlink, b"", Some("app.js")),
        // Git must never run in an uploaded tree: a hook here would be a way in.
        (
            ".git/config",
            tar::EntryType::Regular,
            b"[core]\n\tfsmonitor = touch /tmp/pwned\n",
            None,
        ),
    ]);
    let response = upload(&app, &app.token, archive, "application/gzip").await;
    assert_eq!(response.status(), 201);
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(receipt["format"], "tar.gz");
    assert_eq!(receipt["files"], 2);
    let upload_id = receipt["uploadId"].as_str().unwrap().to_string();

    let project = app.create_project("uploaded").await;
    let response = app
        .post_json(
            "/api/insight/analysis",
            json!({"projectId": project, "detectors": ["eslint"], "source": {"uploadId": upload_id}}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["analysisId"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let done = loop {
        let body: Value = app
            .get(&format!("/api/insight/analysis/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if body["analysis"]["status"] == "COMPLETED" {
            break body;
        }
        assert_ne!(body["analysis"]["status"], "FAILED", "{body}");
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rules: Vec<&str> = done["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| issue["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"no-debugger") && rules.contains(&"eqeqeq"),
        "{rules:?}"
    );
    assert!(done["analysis"]["commit"].is_null());
    assert!(!std::path::Path::new("/tmp/pwned").exists());
    app.shutdown().await;
}

#[tokio::test]
async fn hostile_archives_are_refused_and_nothing_is_kept() {
    let app = spawn().await;
    let zeros = vec![0u8; 2 * 1024 * 1024];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "absolute path",
            tar_gz(&[("/etc/cron.d/x", tar::EntryType::Regular, b"x", None)]),
            "absolute",
        ),
        (
            "parent traversal",
            tar_gz(&[("a/../../x", tar::EntryType::Regular, b"x", None)]),
            "..",
        ),
        (
            "link outside",
            tar_gz(&[("l", tar::EntryType::Symlink, b"", Some("../../etc/passwd"))]),
            "outside",
        ),
        (
            "absolute link",
            tar_gz(&[("l", tar::EntryType::Symlink, b"", Some("/etc/shadow"))]),
            "outside",
        ),
        (
            "device",
            tar_gz(&[("d", tar::EntryType::Block, b"", None)]),
            "special",
        ),
        (
            "bomb",
            tar_gz(&[("zeros", tar::EntryType::Regular, &zeros, None)]),
            "expands",
        ),
        (
            "not an archive",
            b"#!/bin/sh\nrm -rf /\n".to_vec(),
            "not a .tar.gz or .zip",
        ),
    ];
    for (label, bytes, says) in cases {
        let response = upload(&app, &app.token, bytes, "application/octet-stream").await;
        assert_eq!(response.status(), 400, "{label}");
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["error"].as_str().unwrap().contains(says),
            "{label}: {problem}"
        );
    }
    assert_eq!(uploads_kept(&app).await, 0);

    let too_big = vec![0x1f; 300 * 1024];
    assert_eq!(
        upload(&app, &app.token, too_big, "application/gzip")
            .await
            .status(),
        413
    );
    let json = upload(&app, &app.token, b"{}".to_vec(), "application/json").await;
    assert_eq!(json.status(), 415);
    assert_eq!(uploads_kept(&app).await, 0);
    app.shutdown().await;
}

#[tokio::test]
async fn someone_elses_upload_cannot_be_analysed() {
    let app = spawn().await;
    let (_, stranger) = insight_tests::create_user(&app.app.services, "stranger").await;
    let archive = tar_gz(&[("a.js", tar::EntryType::Regular, b"let a = 1;\n", None)]);
    let receipt: Value = upload(&app, &stranger, archive, "application/gzip")
        .await
        .json()
        .await
        .unwrap();
    let project = app.create_project("mine").await;
    let before = app.event_count().await;
    for upload_id in [receipt["uploadId"].clone(), json!(uuid::Uuid::new_v4())] {
        let response = app
            .post_json(
                "/api/insight/analysis",
                json!({"projectId": project, "source": {"uploadId": upload_id}}),
            )
            .await;
        assert_eq!(response.status(), 404);
    }
    let both = app
        .post_json(
            "/api/insight/analysis",
            json!({"projectId": project, "source": {"uploadId": receipt["uploadId"], "gitCommit": "abcdef1"}}),
        )
        .await;
    assert_eq!(both.status(), 400);
    assert_eq!(app.event_count().await, before);
    app.shutdown().await;
}
