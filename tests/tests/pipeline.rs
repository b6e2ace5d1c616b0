//! The job pipeline end to end: REST → event store → relay → JetStream → worker (real git,
//! real detectors) → events → read models, plus what an outside subscriber sees.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use insight_tests::{spawn_full_app, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.email=dev@example.com", "-c", "user.name=Dev"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A real repository with real problems in it: a debugger statement, loose equality and an
/// eval, in two commits.
fn repository() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("src/app.js"),
        "function check(a, b) {\n  debugger;\n  if (a == b) { return eval('1 + 1'); }\n  return 0;\n}\nmodule.exports = { check };\n",
    )
    .unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    let first = git(dir.path(), &["rev-parse", "HEAD"]);
    std::fs::write(dir.path().join("src/util.js"), "var unused = 1;\n").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "second"]);
    (dir, first)
}

async fn create_project(app: &TestApp, remote: &str) -> Uuid {
    let response = app
        .post_json(
            "/api/insight/projects",
            json!({"name": "repo", "gitRemote": remote, "gitBranch": "main"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["project"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn submit(app: &TestApp, body: Value) -> Uuid {
    let response = app.post_json("/api/insight/analysis", body).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["analysisId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn wait_until_finished(app: &TestApp, id: Uuid) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let body: Value = app
            .get(&format!("/api/insight/analysis/{id}?limit=200"))
            .await
            .json()
            .await
            .unwrap();
        let status = body["analysis"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if ["COMPLETED", "FAILED", "CANCELLED"].contains(&status.as_str()) {
            app.wait_for_projections().await;
            return app
                .get(&format!("/api/insight/analysis/{id}?limit=200"))
                .await
                .json()
                .await
                .unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_analysis_runs_through_the_workers_to_completion_with_real_findings() {
    let app = spawn_full_app().await;
    let (repo, first_commit) = repository();
    let head = git(repo.path(), &["rev-parse", "HEAD"]);
    let project = create_project(&app, repo.path().to_str().unwrap()).await;

    // Subscribe the way an outside consumer would: core NATS on the public subjects.
    let client = async_nats::connect(&app.config.nats_url).await.unwrap();
    let mut events = client
        .subscribe(format!("{}.events.analysis.>", app.config.nats_prefix))
        .await
        .unwrap();

    let id = submit(
        &app,
        json!({"projectId": project, "detectors": ["eslint", "security"]}),
    )
    .await;
    let done = wait_until_finished(&app, id).await;
    assert_eq!(done["analysis"]["status"], "COMPLETED", "{done}");
    assert_eq!(
        done["analysis"]["commit"],
        head.as_str(),
        "the branch head was resolved"
    );
    assert_eq!(done["analysis"]["attempt"], 1);
    let rules: Vec<&str> = done["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| issue["rule"].as_str().unwrap())
        .collect();
    for rule in ["no-debugger", "eqeqeq", "no-eval"] {
        assert!(rules.contains(&rule), "{rule} in {rules:?}");
    }
    assert!(done["issues"]
        .as_array()
        .unwrap()
        .iter()
        .all(|issue| issue["fingerprint"].is_string()));
    assert!(done["analysis"]["summary"]["totalIssues"].as_i64().unwrap() >= 3);

    // Every event of the lifecycle reached the subscriber, in order.
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(&"analysis.completed".to_string()) {
        let message = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("events keep coming")
            .unwrap();
        let body: Value = serde_json::from_slice(&message.payload).unwrap();
        if body["subject"] == id.to_string() {
            assert_eq!(body["version"], 1);
            assert!(message.subject.as_str().ends_with(&id.to_string()));
            seen.push(body["type"].as_str().unwrap().to_string());
        }
    }
    let expected_order = [
        "analysis.requested",
        "analysis.started",
        "analysis.source_fetched",
        "analysis.issues_recorded",
        "analysis.completed",
    ];
    let filtered: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|kind| *kind != "analysis.progressed")
        .collect();
    assert_eq!(filtered, expected_order);

    // A pinned commit is analysed as asked.
    let pinned = submit(
        &app,
        json!({"projectId": project, "detectors": ["eslint"], "source": {"gitCommit": first_commit}}),
    )
    .await;
    let done = wait_until_finished(&app, pinned).await;
    assert_eq!(done["analysis"]["status"], "COMPLETED");
    assert_eq!(done["analysis"]["commit"], first_commit.as_str());
    assert!(
        done["issues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|issue| issue["filePath"] != "src/util.js"),
        "util.js is not in the first commit"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_repository_that_does_not_exist_fails_after_every_retry() {
    let app = spawn_full_app().await;
    let missing = std::env::temp_dir().join(format!("no-such-repo-{}", Uuid::new_v4()));
    let project = create_project(&app, missing.to_str().unwrap()).await;
    let id = submit(&app, json!({"projectId": project, "detectors": ["eslint"]})).await;
    let done = wait_until_finished(&app, id).await;
    let analysis = &done["analysis"];
    assert_eq!(analysis["status"], "FAILED", "{done}");
    assert_eq!(analysis["attempt"], 4, "1 attempt and 3 retries");
    assert_eq!(analysis["retryCount"], 3);
    assert!(
        analysis["error"].as_str().unwrap().contains("fetch"),
        "{analysis}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_commit_that_does_not_exist_fails_with_a_clear_error() {
    let app = spawn_full_app().await;
    let (repo, _) = repository();
    let project = create_project(&app, repo.path().to_str().unwrap()).await;
    let id = submit(
        &app,
        json!({"projectId": project, "source": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}}),
    )
    .await;
    let done = wait_until_finished(&app, id).await;
    assert_eq!(done["analysis"]["status"], "FAILED", "{done}");
    assert!(done["analysis"]["error"]
        .as_str()
        .unwrap()
        .contains("0123456789abcdef0123456789abcdef01234567"));
    app.shutdown().await;
}

/// A repository big enough that its analysis runs for a while.
fn large_repository(files: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    for index in 0..files {
        let folder = dir.path().join(format!("src/m{}", index % 50));
        std::fs::create_dir_all(&folder).unwrap();
        let mut body = String::new();
        for function in 0..20 {
            body.push_str(&format!(
                "export function f{function}(a, b) {{\n  if (a == b) {{ debugger; }}\n  var unused{function} = a + b;\n  return a;\n}}\n"
            ));
        }
        std::fs::write(folder.join(format!("file{index}.js")), body).unwrap();
    }
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "many files"]);
    dir
}

#[tokio::test]
async fn cancelling_a_running_analysis_stops_its_job_within_two_seconds() {
    let app = spawn_full_app().await;
    let repo = large_repository(3000);
    let project = create_project(&app, repo.path().to_str().unwrap()).await;
    let id = submit(
        &app,
        json!({"projectId": project, "detectors": ["eslint", "complexity"]}),
    )
    .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = app
            .get(&format!("/api/insight/analysis/{id}"))
            .await
            .json()
            .await
            .unwrap();
        // Running, with the source fetched: the detectors are at work.
        match body["analysis"]["status"].as_str().unwrap() {
            "RUNNING" if body["analysis"]["commit"].is_string() => break,
            "QUEUED" | "RUNNING" => {}
            other => panic!("the job finished before it could be cancelled: {other}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancelled_at = tokio::time::Instant::now();
    let response = app
        .request(
            reqwest::Method::POST,
            &format!("/api/insight/analysis/{id}/cancel"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The job is over when the worker has acknowledged its message.
    let client = async_nats::connect(&app.config.nats_url).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let topology = infrastructure::messaging::Topology::new(app.config.nats_prefix.clone());
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = jetstream
        .get_consumer_from_stream(topology.workers_consumer(), topology.stream_name())
        .await
        .unwrap();
    loop {
        let info = consumer.info().await.unwrap();
        if info.num_ack_pending == 0 && info.num_pending == 0 {
            break;
        }
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(2),
            "the job still runs {:?} after the cancel",
            cancelled_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.wait_for_projections().await;
    let body: Value = app
        .get(&format!("/api/insight/analysis/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["analysis"]["status"], "CANCELLED");
    let completed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_id = $1 AND event_type = 'AnalysisCompleted'",
    )
    .bind(id.to_string())
    .fetch_one(&app.app.services.pool)
    .await
    .unwrap();
    assert_eq!(completed, 0);
    app.shutdown().await;
}

/// A NATS server of this test's own, so it can be stopped without disturbing other tests.
struct PrivateNats {
    port: u16,
    store: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl PrivateNats {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut nats = Self {
            port,
            store: tempfile::tempdir().unwrap(),
            child: None,
        };
        nats.restart();
        nats
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .expect("nats-server is installed (scripts/services.sh installs it)");
        let child = Command::new(binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not open its port"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn submissions_are_accepted_while_nats_is_down_and_run_once_it_is_back() {
    let mut nats = PrivateNats::start();
    let url = nats.url();
    let app = insight_tests::spawn_app_configured(insight::Roles::default(), |config| {
        config.nats_url = url;
    })
    .await;
    let (repo, _) = repository();
    let project = create_project(&app, repo.path().to_str().unwrap()).await;
    let before = submit(&app, json!({"projectId": project, "detectors": ["eslint"]})).await;
    assert_eq!(
        wait_until_finished(&app, before).await["analysis"]["status"],
        "COMPLETED"
    );

    nats.stop();
    let mut during = Vec::new();
    for _ in 0..3 {
        during.push(submit(&app, json!({"projectId": project, "detectors": ["eslint"]})).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in &during {
        let body: Value = app
            .get(&format!("/api/insight/analysis/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            body["analysis"]["status"], "QUEUED",
            "nothing can run without NATS"
        );
    }

    nats.restart();
    for id in during {
        let done = wait_until_finished(&app, id).await;
        assert_eq!(done["analysis"]["status"], "COMPLETED", "{done}");
        assert_eq!(done["analysis"]["attempt"], 1);
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_relay_that_dies_between_publish_and_checkpoint_loses_nothing_and_duplicates_nothing() {
    // No relay or worker of the application's own: this test plays the relay.
    let app = insight_tests::spawn_app_with(insight::Roles {
        relay: false,
        worker: false,
        ..insight::Roles::default()
    })
    .await;
    let project = create_project(&app, "https://example.com/acme/shop.git").await;
    for _ in 0..5 {
        submit(&app, json!({"projectId": project, "detectors": ["eslint"]})).await;
    }
    // Every event of the log goes to the stream, the user's own (subscription opened) too.
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap();
    let events = events as u64;

    let client = async_nats::connect(&app.config.nats_url).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let topology = infrastructure::messaging::Topology::new(app.config.nats_prefix.clone());
    let mut stream = infrastructure::messaging::ensure_stream(&jetstream, &topology)
        .await
        .unwrap();
    let relay = || {
        infrastructure::relay::Relay::new(
            app.app.services.pool.clone(),
            app.database_url.clone(),
            jetstream.clone(),
            topology.clone(),
            1, // one ack outstanding, batches of four
        )
    };
    // The first relay publishes a window and dies before its checkpoint.
    let (_, published) = relay()
        .publish_after(application::EventPosition::default())
        .await
        .unwrap()
        .expect("events to publish");
    assert_eq!(published, 4);
    assert!(events > 4, "the successor has more to publish");
    assert_eq!(stream.info().await.unwrap().state.messages, 4);

    // Its successors start from the old checkpoint, republish that window, and go on; of two
    // started at once, one is active and the other stands by.
    let handles = [
        relay().spawn(app.app.services.notifier.clone(), Duration::from_millis(20)),
        relay().spawn(app.app.services.notifier.clone(), Duration::from_millis(20)),
    ];
    let checkpoint = infrastructure::relay::Relay::checkpoint_name(&topology);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let behind: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events e, checkpoints c WHERE c.name = $1 \
             AND (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position)",
        )
        .bind(&checkpoint)
        .fetch_one(&app.app.services.pool)
        .await
        .unwrap_or(1);
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM checkpoints WHERE name = $1)")
                .bind(&checkpoint)
                .fetch_one(&app.app.services.pool)
                .await
                .unwrap();
        if exists && behind == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "relay did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for handle in handles {
        handle.stop().await;
    }
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        events,
        "every event exactly once in the stream"
    );
    app.shutdown().await;
}
