//! Runs the real `insight` binary as a user would. It is a test of the root package (declared
//! in the root Cargo.toml) because only there does Cargo build the binary for the test and say
//! where it is (`CARGO_BIN_EXE_insight`); the black-box API tests live in `tests/tests/`.

use std::process::Command;

use sqlx::{Connection, PgConnection};

fn database_url() -> (String, String) {
    let configured = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        "postgres://postgres@127.0.0.1:5432/insight?sslmode=disable".to_string()
    });
    let name = format!(
        "insight_test_{}_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        uuid::Uuid::new_v4().simple()
    );
    (
        infrastructure::db::database_url_for(&configured, &name),
        infrastructure::db::database_url_for(&configured, "postgres"),
    )
}

fn database_name(url: &str) -> &str {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

fn insight(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_insight"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .expect("insight runs")
}

#[tokio::test]
async fn create_user_creates_the_database_and_prints_exactly_one_json_line() {
    let (url, maintenance) = database_url();
    let output = insight(
        &url,
        &[
            "admin",
            "create-user",
            "--email",
            "cli@example.com",
            "--plan",
            "pro",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {stdout}");
    let created: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2);
    assert!(created["userId"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .is_ok());
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("ins_") && token.len() >= 4 + 43);

    let mut conn = PgConnection::connect(&url).await.unwrap();
    let plan: String = sqlx::query_scalar("SELECT plan FROM users WHERE email = 'cli@example.com'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(plan, "pro");

    // The same address twice is refused, with a message and a failing exit code.
    let again = insight(
        &url,
        &["admin", "create-user", "--email", "CLI@example.com"],
    );
    assert!(!again.status.success());
    assert!(again.stdout.is_empty());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let bad_plan = insight(
        &url,
        &[
            "admin",
            "create-user",
            "--email",
            "x@example.com",
            "--plan",
            "gold",
        ],
    );
    assert!(!bad_plan.status.success());
    drop(conn);
    let mut admin = PgConnection::connect(&maintenance).await.unwrap();
    let name = database_name(&url);
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let (url, maintenance) = database_url();
    for _ in 0..2 {
        let output = insight(&url, &["migrate"]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut admin = PgConnection::connect(&maintenance).await.unwrap();
    let name = database_name(&url);
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

fn detect(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_insight"))
        .arg("detect")
        .args(args)
        .output()
        .expect("insight runs")
}

fn problem_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.js"),
        "function f(a, b) {\n  debugger;\n  if (a == b) return eval('1');\n}\n",
    )
    .unwrap();
    dir
}

#[test]
fn detect_prints_findings_as_a_table_json_or_sarif() {
    let dir = problem_folder();
    let path = dir.path().to_str().unwrap();

    let table = detect(&[path]);
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("app.js:2:3") && text.contains("no-debugger"),
        "{text}"
    );

    let json = detect(&[path, "--format", "json", "--detectors", "eslint"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["ruleId"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"no-debugger") && rules.contains(&"eqeqeq"),
        "{rules:?}"
    );
    assert!(
        rules.iter().all(|rule| !rule.starts_with("security")),
        "only eslint ran"
    );

    let sarif = detect(&[path, "--format", "sarif"]);
    let log: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert!(!log["runs"][0]["results"].as_array().unwrap().is_empty());
}

#[test]
fn detect_refuses_unknown_detectors_and_fails_on_a_threshold_when_asked() {
    let dir = problem_folder();
    let path = dir.path().to_str().unwrap();
    let unknown = detect(&[path, "--detectors", "telepathy"]);
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("telepathy") && stderr.contains("eslint"),
        "{stderr}"
    );

    assert!(!detect(&[path, "--fail-on", "high"]).status.success());
    assert!(detect(&[path, "--fail-on", "critical"]).status.success());
    let clean = tempfile::tempdir().unwrap();
    std::fs::write(clean.path().join("ok.js"), "export const answer = 42;\n").unwrap();
    assert!(
        detect(&[clean.path().to_str().unwrap(), "--fail-on", "info"])
            .status
            .success()
    );
}
