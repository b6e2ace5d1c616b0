//! A worker process killed with SIGKILL in the middle of a job: the job is delivered again,
//! completes, and no finding is recorded twice. A test of the root package (declared in the
//! root Cargo.toml) because it runs the real `insight worker` binary (`CARGO_BIN_EXE_insight`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use infrastructure::Config;
use insight::{Application, Roles};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.email=dev@example.com", "-c", "user.name=Dev"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// Enough files that recording the findings takes many batches.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    for index in 0..600 {
        let folder = dir.path().join(format!("src/m{}", index % 20));
        std::fs::create_dir_all(&folder).unwrap();
        let mut body = String::new();
        for function in 0..20 {
            body.push_str(&format!(
                "export function f{function}(a, b) {{\n  if (a == b) {{ debugger; }}\n  return a;\n}}\n"
            ));
        }
        std::fs::write(folder.join(format!("file{index}.js")), body).unwrap();
    }
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "many findings"]);
    dir
}

struct WorkerProcess(Child);

impl WorkerProcess {
    fn start(config: &Config) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_insight"))
            .arg("worker")
            .env("DATABASE_URL", &config.database_url)
            .env("NATS_URL", &config.nats_url)
            .env("NATS_SUBJECT_PREFIX", &config.nats_prefix)
            .env("WORKER_ACK_WAIT_SECS", "2")
            .env("RETRY_DELAYS", "100ms,100ms,100ms")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the worker starts");
        Self(child)
    }

    fn kill_9(&mut self) {
        // Child::kill sends SIGKILL on Unix: no chance to ack, nack or clean up.
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn analysis(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Value {
    client
        .get(format!("{base}/api/insight/analysis/{id}?limit=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_worker_killed_mid_job_loses_nothing_and_duplicates_nothing() {
    let mut config = Config::from_env().unwrap();
    let name = format!(
        "insight_test_{}_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        Uuid::new_v4().simple()
    );
    let maintenance = infrastructure::db::database_url_for(&config.database_url, "postgres");
    config.database_url = infrastructure::db::database_url_for(&config.database_url, &name);
    config.bind_addr = "127.0.0.1:0".parse().unwrap();
    config.nats_prefix = format!("t{}", &Uuid::new_v4().simple().to_string()[..12]);
    config.worker_ack_wait = Duration::from_secs(2);
    config.database_max_connections = 10;
    let app = Application::build(
        &config,
        Roles {
            worker: false,
            ..Roles::default()
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", app.address.unwrap());
    let email =
        application::Email::parse(&format!("crash-{}@example.com", Uuid::new_v4())).unwrap();
    let (_, token) = app
        .services
        .identity
        .create_user(email, application::Plan::Enterprise)
        .await
        .unwrap();
    let token = token.token.expose().to_string();
    let client = reqwest::Client::new();
    let repo = repository();
    let project: Value = client
        .post(format!("{base}/api/insight/projects"))
        .bearer_auth(&token)
        .json(&json!({"name": "big", "gitRemote": repo.path().to_str().unwrap()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut first = WorkerProcess::start(&config);
    let submitted: Value = client
        .post(format!("{base}/api/insight/analysis"))
        .bearer_auth(&token)
        .json(&json!({"projectId": project["project"]["id"], "detectors": ["eslint"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = submitted["analysisId"].as_str().unwrap().to_string();

    // Kill it once it has recorded some findings but not all.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let body = analysis(&client, &base, &token, &id).await;
        let recorded = body["analysis"]["summary"]["totalIssues"]
            .as_i64()
            .unwrap_or(0);
        assert_ne!(
            body["analysis"]["status"], "COMPLETED",
            "finished before it could be killed"
        );
        if recorded > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no findings recorded: {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill_9();

    // Another worker gets the job after the ack wait and finishes it.
    let _second = WorkerProcess::start(&config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let done = loop {
        let body = analysis(&client, &base, &token, &id).await;
        if body["analysis"]["status"] == "COMPLETED" {
            break body;
        }
        assert_ne!(body["analysis"]["status"], "FAILED", "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "not completed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        done["analysis"]["attempt"], 2,
        "the second delivery is the second attempt"
    );
    // What one uninterrupted run of the same detectors finds.
    let expected = detectors::Engine::default()
        .run(
            repo.path(),
            &["eslint".to_string()],
            &detectors::RunOptions::default(),
        )
        .unwrap()
        .findings
        .len() as i64;
    assert!(
        expected >= 600 * 20 * 2,
        "every `==` and `debugger` is found"
    );
    assert_eq!(done["analysis"]["summary"]["totalIssues"], expected);
    let mut conn = PgConnection::connect(&config.database_url).await.unwrap();
    let (rows, distinct): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT (file_path, line, col, rule)) FROM rm_analysis_issues",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows, expected);
    assert_eq!(distinct, rows, "no finding recorded twice");

    drop(conn);
    app.stop().await.unwrap();
    if let Ok(client) = async_nats::connect(&config.nats_url).await {
        let topology = infrastructure::messaging::Topology::new(config.nats_prefix.clone());
        let _ = async_nats::jetstream::new(client)
            .delete_stream(topology.stream_name())
            .await;
    }
    let mut admin = PgConnection::connect(&maintenance).await.unwrap();
    let _ = admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await;
}
