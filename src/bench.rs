//! `insight bench ...`: benchmarks that print their figures beside a baseline measured in the
//! same run (absolute times on shared machines are noisy; ratios are not). Results and the
//! commands that produced them are in BENCHMARKS.md.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use domain::{AnalysisId, Finding, Severity};
use hdrhistogram::Histogram;
use infrastructure::db::database_url_for;
use infrastructure::Config;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use crate::{Application, Roles};

use anyhow::Context as _;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Core: POST /analysis throughput beside raw Postgres inserts, issue pages, projection lag.
    Core(CoreArgs),
    /// Pipeline: many analyses of a real repository end to end; relay beside raw JetStream.
    Pipeline(PipelineArgs),
    /// Detectors: parse-and-lint and secret-scanning throughput on npm packages beside oxlint,
    /// ESLint and Kingfisher; recall on planted secrets; findings per 1000 lines.
    Detectors(crate::bench_detectors::DetectorsArgs),
}

#[derive(Args, Clone)]
pub struct PipelineArgs {
    /// Analyses submitted at once.
    #[arg(long, default_value_t = 200)]
    analyses: usize,
    /// Events in the log for the relay measurement.
    #[arg(long, default_value_t = 50_000)]
    relay_events: i64,
    /// Keep the benchmark database afterwards.
    #[arg(long)]
    keep: bool,
}

#[derive(Args, Clone)]
pub struct CoreArgs {
    /// Seconds per concurrency level (each for the API and for raw Postgres).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    clients: Vec<usize>,
    /// Issues in the large analysis used for the issue-page figures.
    #[arg(long, default_value_t = 200_000)]
    issues: u32,
    /// Requests per issue-page measurement.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Keep the benchmark database afterwards.
    #[arg(long)]
    keep: bool,
}

pub async fn run(command: BenchCommand, config: Config) -> anyhow::Result<()> {
    match command {
        BenchCommand::Core(args) => core(args, config).await,
        BenchCommand::Pipeline(args) => pipeline(args, config).await,
        BenchCommand::Detectors(args) => {
            tokio::task::spawn_blocking(move || crate::bench_detectors::run(args)).await?
        }
    }
}

struct Latencies(Histogram<u64>);

impl Latencies {
    fn new() -> Self {
        Self(Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"))
    }

    fn record(&mut self, elapsed: Duration) {
        self.0
            .saturating_record((elapsed.as_micros() as u64).max(1));
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.0.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// Runs `clients` loops of `operation` for `duration`; returns (operations per second, latencies).
async fn load<F, Fut>(
    clients: usize,
    duration: Duration,
    operation: F,
) -> anyhow::Result<(f64, Latencies)>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let operation = Arc::new(operation);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let operation = operation.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let begin = Instant::now();
                operation(client, n).await?;
                latencies.record(begin.elapsed());
                n += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Latencies::new();
    for task in tasks {
        let latencies = task.await??;
        all.0.add(&latencies.0).expect("same bounds");
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((all.0.len() as f64 / elapsed, all))
}

/// Benchmarks submit far more than any plan allows in an hour: the benchmark user's plan is
/// unbounded (the quota is still charged on every submission, which is what is measured).
fn unbounded_enterprise(config: &mut Config) {
    let limits = config.plans.limits_mut(domain::Plan::Enterprise);
    limits.analyses_per_period = None;
    limits.analyses_per_hour = None;
    limits.concurrent_analyses = None;
    limits.projects = None;
}

fn bench_database_url(config: &Config) -> (String, String, String) {
    let name = format!("insight_bench_{}", Uuid::new_v4().simple());
    (
        database_url_for(&config.database_url, &name),
        database_url_for(&config.database_url, "postgres"),
        name,
    )
}

async fn core(args: CoreArgs, config: Config) -> anyhow::Result<()> {
    let (database_url, maintenance_url, database_name) = bench_database_url(&config);
    let mut config = config.with_database_url(&database_url);
    config.bind_addr = "127.0.0.1:0".parse()?;
    unbounded_enterprise(&mut config);
    let max_clients = args.clients.iter().copied().max().unwrap_or(1);
    config.database_max_connections = (max_clients as u32 + 8).max(20);
    eprintln!("bench database: {database_name}");
    // The core: API and projectors. Workers and the relay are measured by `bench pipeline`;
    // here a worker would try to fetch the bench project's (unreachable) remote thousands of
    // times and measure git instead.
    let roles = Roles {
        relay: false,
        worker: false,
        dispatcher: false,
        ..Roles::default()
    };
    let app = Application::build(&config, roles).await?;
    let result = core_on(&args, &config, &app).await;
    app.stop().await?;
    if !args.keep {
        let mut admin = PgConnection::connect(&maintenance_url).await?;
        admin
            .execute(format!("DROP DATABASE IF EXISTS \"{database_name}\" WITH (FORCE)").as_str())
            .await?;
    }
    result
}

async fn core_on(args: &CoreArgs, config: &Config, app: &Application) -> anyhow::Result<()> {
    let base = format!("http://{}", app.address.context("API not bound")?);
    let services = &app.services;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    // One user (with a project of their own) per client, as a multi-tenant service sees its
    // load: one user's submissions serialise on that user's subscription stream (ADR 0006),
    // which the extra "one user" row shows.
    let max_clients = args.clients.iter().copied().max().unwrap_or(1);
    let mut accounts = Vec::with_capacity(max_clients);
    for _ in 0..max_clients {
        accounts.push(bench_account(services, &client, &base).await?);
    }
    let accounts = Arc::new(accounts);
    let (user_id, token, project_id) = accounts[0].clone();

    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_raw_inserts (id uuid PRIMARY KEY, payload jsonb NOT NULL, \
         created_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&services.pool)
    .await?;

    // The rows alone that a submission appends, on a copy of `events` (its generated metadata
    // columns, defaults, checks and indexes; not the log itself, which projectors read).
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_event_rows (LIKE events INCLUDING ALL)")
        .execute(&services.pool)
        .await?;

    println!("== (a) POST /api/insight/analysis vs raw Postgres single-row insert transactions");
    println!("   {} s per level; latencies in ms", args.seconds);
    println!(
        "{:>8} | {:>10} {:>8} {:>8} | {:>10} {:>8} {:>8} | {:>6} | {:>14} | {:>10} | {:>8} {:>7}",
        "clients",
        "api/s",
        "p50",
        "p99",
        "raw/s",
        "p50",
        "p99",
        "ratio",
        "lag p50/p99",
        "healthz/s",
        "rows/s",
        "ceiling"
    );
    let duration = Duration::from_secs(args.seconds);
    let analyses_stats = app
        .projectors
        .iter()
        .find(|handle| handle.name == "analyses")
        .map(|handle| handle.stats.clone())
        .context("analyses projector runs")?;
    for &clients in &args.clients {
        // Raw Postgres: one INSERT per transaction, the same payload size as an event.
        // Configured like the application's pools (no ping before each acquire).
        let raw_pool = PgPoolOptions::new()
            .max_connections(clients as u32)
            .test_before_acquire(false)
            .connect(&config.database_url)
            .await?;
        let pool = raw_pool.clone();
        let (raw_rate, raw_latency) = load(clients, duration, move |_, _| {
            let pool = pool.clone();
            async move {
                sqlx::query("INSERT INTO bench_raw_inserts (id, payload) VALUES ($1, $2)")
                    .bind(Uuid::new_v4())
                    .bind(
                        json!({"projectId": Uuid::new_v4(), "detectors": ["security"],
                        "status": "QUEUED", "source": {"git_branch": "main"}}),
                    )
                    .execute(&pool)
                    .await?;
                Ok(())
            }
        })
        .await?;
        let pool = raw_pool.clone();
        let (rows_rate, _) = load(clients, duration, move |_, _| {
            let pool = pool.clone();
            async move {
                submission_rows(&pool).await?;
                Ok(())
            }
        })
        .await?;
        raw_pool.close().await;

        let one_user = clients == max_clients && clients > 1;
        for shared in [false, true] {
            if shared && !one_user {
                continue;
            }
            analyses_stats.reset();
            let (api_rate, api_latency) =
                submissions(&client, &base, &accounts, clients, shared, duration).await?;
            let (_, lag_p50, lag_p99, _) = analyses_stats.lag_millis();
            if shared {
                println!(
                    "{:>8} | {:>10.0} {:>8.2} {:>8.2} | {:>10} {:>8} {:>8} | {:>6.2} | {:>6.1} / {:>5.1} | one user",
                    clients,
                    api_rate,
                    api_latency.ms(0.50),
                    api_latency.ms(0.99),
                    "",
                    "",
                    "",
                    api_rate / raw_rate,
                    lag_p50,
                    lag_p99,
                );
                continue;
            }
            // For scale: the HTTP hop alone (an unauthenticated GET that touches nothing).
            let http = client.clone();
            let health = format!("{base}/healthz");
            let (floor_rate, _) = load(
                clients,
                Duration::from_secs(1).min(duration),
                move |_, _| {
                    let http = http.clone();
                    let health = health.clone();
                    async move {
                        http.get(&health).send().await?.bytes().await?;
                        Ok(())
                    }
                },
            )
            .await?;
            println!(
            "{:>8} | {:>10.0} {:>8.2} {:>8.2} | {:>10.0} {:>8.2} {:>8.2} | {:>6.2} | {:>6.1} / {:>5.1} | {:>10.0} | {:>8.0} {:>7.2}",
            clients,
            api_rate,
            api_latency.ms(0.50),
            api_latency.ms(0.99),
            raw_rate,
            raw_latency.ms(0.50),
            raw_latency.ms(0.99),
            api_rate / raw_rate,
            lag_p50,
            lag_p99,
            floor_rate,
            rows_rate,
            rows_rate / raw_rate,
        );
        }
    }
    println!("   ratio = api/s ÷ raw/s (target at 32 clients: at least 0.5); each client is a user of its own");
    println!("   one user = the same clients all submitting as one user (they serialise on its subscription)");
    println!("   healthz/s = GET /healthz through the same client: the HTTP hop alone, for scale");
    println!("   rows/s = a submission's two event rows inserted directly into a copy of `events`");
    println!("   ceiling = rows/s ÷ raw/s: the ratio with no HTTP, no application, no read model");
    println!("   (c) lag = event recorded → analyses read model committed, while (a) runs (target p99 < 100 ms)");

    issue_pages(args, app, &client, &base, &token, user_id, &project_id).await
}

/// One INSERT of the two rows a submission appends (fresh stream ids, so no conflicts),
/// returning positions as the event store's append does.
async fn submission_rows(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let metadata = json!({"actor": format!("user:{}", Uuid::now_v7()),
        "command_id": Uuid::now_v7(), "correlation_id": Uuid::now_v7(), "causation_id": null});
    let requested = json!({"AnalysisRequested": {"analysis_id": Uuid::now_v7(),
        "owner": Uuid::now_v7(), "project_id": Uuid::now_v7(), "project_name": "bench",
        "detectors": ["security"], "language": null, "path": null,
        "source": {"Git": {"remote": "https://example.com/bench.git", "branch": "main",
            "commit": null}}, "requested_at": "2026-12-01T07:00:00.000000Z"}});
    let counted = json!({"AnalysisCounted": {"analysis_id": Uuid::now_v7(),
        "counted_at": "2026-12-01T07:00:00.000000Z", "used_in_period": 12}});
    sqlx::query(
        "INSERT INTO bench_event_rows (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata) VALUES \
         ('Analysis', $1, 1, 'AnalysisRequested', '1.0', $3, $5), \
         ('Subscription', $2, 1, 'AnalysisCounted', '1.0', $4, $5) \
         RETURNING transaction_id::text, global_position",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(Uuid::now_v7().to_string())
    .bind(requested)
    .bind(counted)
    .bind(metadata)
    .fetch_all(pool)
    .await?;
    Ok(())
}

/// A user on an unbounded plan, their token and a project of theirs.
async fn bench_account(
    services: &crate::Services,
    client: &reqwest::Client,
    base: &str,
) -> anyhow::Result<(domain::UserId, String, String)> {
    let email = application::Email::parse(&format!("bench-{}@example.com", Uuid::new_v4()))?;
    let (user_id, token) = services
        .identity
        .create_user(email, application::Plan::Enterprise)
        .await?;
    let token = token.token.expose().to_string();
    let project: Value = client
        .post(format!("{base}/api/insight/projects"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench", "gitRemote": "https://example.com/bench.git"}))
        .send()
        .await?
        .json()
        .await?;
    let project_id = project["project"]["id"]
        .as_str()
        .context("project created")?
        .to_string();
    Ok((user_id, token, project_id))
}

/// `POST /api/insight/analysis` by `clients` concurrent clients for `duration`: client `i` as
/// account `i`, or all as the first account when `shared`.
async fn submissions(
    client: &reqwest::Client,
    base: &str,
    accounts: &Arc<Vec<(domain::UserId, String, String)>>,
    clients: usize,
    shared: bool,
    duration: Duration,
) -> anyhow::Result<(f64, Latencies)> {
    let url = format!("{base}/api/insight/analysis");
    let http = client.clone();
    let accounts = accounts.clone();
    load(clients, duration, move |index, _| {
        let http = http.clone();
        let url = url.clone();
        let (_, token, project_id) = accounts[if shared { 0 } else { index }].clone();
        async move {
            let response = http
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"projectId": project_id, "detectors": ["security"]}))
                .send()
                .await?;
            anyhow::ensure!(
                response.status() == 201,
                "POST answered {}",
                response.status()
            );
            Ok(())
        }
    })
    .await
}

async fn issue_pages(
    args: &CoreArgs,
    app: &Application,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    user_id: domain::UserId,
    project_id: &str,
) -> anyhow::Result<()> {
    let services = &app.services;
    println!();
    println!(
        "== (b) issue pages of one analysis holding {} issues (limit 200)",
        args.issues
    );
    let submitted = services
        .analyses
        .submit(
            user_id,
            application::SubmitAnalysis {
                project_id: Some(project_id.parse()?),
                ..Default::default()
            },
            Uuid::now_v7(),
        )
        .await?;
    let id = submitted.analysis_id;
    let metadata = application::CommandMetadata::new(
        application::Actor::Worker("bench".into()),
        Uuid::now_v7(),
    );
    services.analyses.start(id, "bench", &metadata).await?;
    let seeding = Instant::now();
    let batches = args.issues.div_ceil(domain::MAX_FINDINGS_PER_BATCH as u32);
    for batch in 0..batches {
        let findings = (0..domain::MAX_FINDINGS_PER_BATCH as u32)
            .map(|i| batch * domain::MAX_FINDINGS_PER_BATCH as u32 + i)
            .take_while(|n| *n < args.issues)
            .map(synthetic_finding)
            .collect();
        services
            .analyses
            .record_batch(id, batch + 1, findings, &metadata.next_command())
            .await?;
    }
    services
        .analyses
        .complete(id, &metadata.next_command())
        .await?;
    wait_for_issues(app, id, args.issues).await?;
    println!(
        "   seeded {} issues in {} batches through the use cases and projected them in {:.1} s",
        args.issues,
        batches,
        seeding.elapsed().as_secs_f64()
    );
    sqlx::query("ANALYZE rm_analysis_issues")
        .execute(&services.pool)
        .await?;

    let page_url = |query: &str| format!("{base}/api/insight/analysis/{id}?limit=200{query}");
    let get = |url: String| {
        let client = client.clone();
        let token = token.to_string();
        async move {
            let begin = Instant::now();
            let response = client.get(&url).bearer_auth(&token).send().await?;
            anyhow::ensure!(
                response.status() == 200,
                "GET answered {}",
                response.status()
            );
            let body: Value = response.json().await?;
            anyhow::Ok((begin.elapsed(), body))
        }
    };

    // Walk to page 900 (or the last page of a smaller analysis) by cursor, timing every page on
    // the way: cursor pages at all depths.
    let depth = (args.issues.div_ceil(200)).clamp(1, 900);
    let mut walk = Latencies::new();
    let mut cursor: Option<String> = None;
    for _ in 1..depth {
        let url = match &cursor {
            None => page_url(""),
            Some(cursor) => page_url(&format!("&cursor={cursor}")),
        };
        let (elapsed, body) = get(url).await?;
        walk.record(elapsed);
        cursor = body["pagination"]["nextCursor"]
            .as_str()
            .map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    let depth_cursor = cursor.context("the analysis has at least two pages")?;

    let measure = |url: String| {
        let get = &get;
        async move {
            let mut latencies = Latencies::new();
            get(url.clone()).await?; // warm-up
            for _ in 0..args.samples {
                latencies.record(get(url.clone()).await?.0);
            }
            anyhow::Ok(latencies)
        }
    };
    let first_by_number = measure(page_url("&page=1")).await?;
    let deep_by_number = measure(page_url(&format!("&page={depth}"))).await?;
    let deep_by_cursor = measure(page_url(&format!("&cursor={depth_cursor}"))).await?;
    let filtered = measure(page_url("&severity=HIGH&detector=eslint")).await?;
    println!("{:<42} | {:>8} {:>8}", "page", "p50 ms", "p99 ms");
    let rows: [(&str, &Latencies); 5] = [
        ("first page (page=1)", &first_by_number),
        (
            &format!("page {depth} by page number (offset {})", (depth - 1) * 200),
            &deep_by_number,
        ),
        (&format!("page {depth} by cursor"), &deep_by_cursor),
        (
            &format!("every page 1..{} by cursor (walk)", depth - 1),
            &walk,
        ),
        ("first page, severity+detector filters", &filtered),
    ];
    for (label, latencies) in rows {
        println!(
            "{label:<42} | {:>8.2} {:>8.2}",
            latencies.ms(0.50),
            latencies.ms(0.99)
        );
    }
    println!("   target: cursor p99 under 10 ms at any depth");
    Ok(())
}

fn synthetic_finding(n: u32) -> Finding {
    const DETECTORS: [&str; 4] = ["security", "eslint", "complexity", "typescript"];
    const CATEGORIES: [&str; 3] = ["secrets", "bugs", "maintainability"];
    Finding {
        severity: Severity::ALL[(n.wrapping_mul(2_654_435_761) % 5) as usize],
        detector: DETECTORS[(n % 4) as usize].into(),
        rule: format!("rule-{}", n % 40),
        category: CATEGORIES[(n % 3) as usize].into(),
        file_path: format!("src/module{:03}/file{:04}.ts", n % 97, n % 1_009),
        line: n % 2_000 + 1,
        column: Some(n % 80 + 1),
        end_line: None,
        end_column: None,
        message: format!("synthetic finding number {n}"),
        suggestion: Some("a suggestion of typical length for the fix".into()),
        confidence: 0.75,
        auto_fixable: n.is_multiple_of(7),
        snippet: Some("const value = compute(input);".into()),
        fingerprint: Some(format!("{n:016x}")),
    }
}

async fn wait_for_issues(app: &Application, id: AnalysisId, expected: u32) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let projected: i64 =
            sqlx::query_scalar("SELECT count(*) FROM rm_analysis_issues WHERE analysis_id = $1")
                .bind(id.as_uuid())
                .fetch_one(&app.services.pool)
                .await?;
        if projected >= i64::from(expected) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "issues not projected in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn git_in(dir: &std::path::Path, args: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new("git")
        .args([
            "-c",
            "user.email=bench@example.com",
            "-c",
            "user.name=bench",
        ])
        .args(args)
        .current_dir(dir)
        .status()?;
    anyhow::ensure!(status.success(), "git {args:?} failed");
    Ok(())
}

/// A small real repository: a few dozen JS and TS files with the usual problems in them.
fn small_repository() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    git_in(dir.path(), &["init", "-q", "-b", "main"])?;
    for index in 0..40 {
        let folder = dir.path().join(format!("src/feature{}", index % 5));
        std::fs::create_dir_all(&folder)?;
        std::fs::write(
            folder.join(format!("module{index}.ts")),
            format!(
                "import {{ readFileSync }} from 'fs';\n\
                 export async function load{index}(paths: string[], key: string) {{\n\
                 \x20 const out = [];\n\
                 \x20 for (const p of paths) {{\n\
                 \x20   if (p == key) {{ debugger; }}\n\
                 \x20   out.push(await fetch(p));\n\
                 \x20   readFileSync(p);\n\
                 \x20 }}\n\
                 \x20 return eval('out');\n\
                 }}\n"
            ),
        )?;
    }
    git_in(dir.path(), &["add", "."])?;
    git_in(dir.path(), &["commit", "-q", "-m", "bench"])?;
    Ok(dir)
}

async fn pipeline(args: PipelineArgs, config: Config) -> anyhow::Result<()> {
    let (database_url, maintenance_url, database_name) = bench_database_url(&config);
    let mut config = config.with_database_url(&database_url);
    config.bind_addr = "127.0.0.1:0".parse()?;
    unbounded_enterprise(&mut config);
    config.nats_prefix = format!("bench{}", &Uuid::new_v4().simple().to_string()[..8]);
    eprintln!(
        "bench database: {database_name}, subjects {}.>",
        config.nats_prefix
    );
    let app = Application::build(&config, Roles::default()).await?;
    let result = pipeline_on(&args, &config, &app).await;
    app.stop().await?;
    let client = async_nats::connect(&config.nats_url).await?;
    let jetstream = async_nats::jetstream::new(client);
    for prefix in [
        config.nats_prefix.clone(),
        format!("{}r", config.nats_prefix),
        format!("{}raw", config.nats_prefix),
    ] {
        let topology = infrastructure::messaging::Topology::new(prefix);
        let _ = jetstream.delete_stream(topology.stream_name()).await;
    }
    if !args.keep {
        let mut admin = PgConnection::connect(&maintenance_url).await?;
        admin
            .execute(format!("DROP DATABASE IF EXISTS \"{database_name}\" WITH (FORCE)").as_str())
            .await?;
    }
    result
}

async fn pipeline_on(
    args: &PipelineArgs,
    config: &Config,
    app: &Application,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    let base = format!("http://{}", app.address.context("API not bound")?);
    let email = application::Email::parse(&format!("bench-{}@example.com", Uuid::new_v4()))?;
    let (_, token) = app
        .services
        .identity
        .create_user(email, application::Plan::Enterprise)
        .await?;
    let token = token.token.expose().to_string();
    let client = reqwest::Client::new();
    let repo = small_repository()?;
    let project: Value = client
        .post(format!("{base}/api/insight/projects"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench", "gitRemote": repo.path().to_str().context("utf-8 path")?}))
        .send()
        .await?
        .json()
        .await?;
    let project_id = project["project"]["id"].clone();

    // Completions as an outside subscriber sees them.
    let nats = async_nats::connect(&config.nats_url).await?;
    let mut completed = nats
        .subscribe(format!(
            "{}.events.analysis.completed.*",
            config.nats_prefix
        ))
        .await?;

    println!(
        "== (a) {} analyses of a {}-file repository submitted at once",
        args.analyses, 40
    );
    println!(
        "   worker concurrency {} per process, one process",
        config.worker_concurrency
    );
    let started = Instant::now();
    let submissions = futures::stream::iter(0..args.analyses)
        .map(|_| {
            let client = client.clone();
            let token = token.clone();
            let url = format!("{base}/api/insight/analysis");
            let body = json!({"projectId": project_id, "detectors": ["eslint", "security", "performance", "typescript"]});
            async move {
                let response = client.post(&url).bearer_auth(&token).json(&body).send().await?;
                anyhow::ensure!(response.status() == 201, "submit answered {}", response.status());
                let body: Value = response.json().await?;
                anyhow::Ok((body["analysisId"].as_str().unwrap_or_default().to_string(), Instant::now()))
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let mut submitted = std::collections::HashMap::new();
    for submission in submissions {
        let (id, at) = submission?;
        submitted.insert(id, at);
    }
    let submit_seconds = started.elapsed().as_secs_f64();
    let mut latencies = Latencies::new();
    let mut done = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(1800);
    while done.len() < submitted.len() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(remaining, completed.next())
            .await
            .context("not every analysis completed in time")?
            .context("subscription ended")?;
        let body: Value = serde_json::from_slice(&message.payload)?;
        let id = body["subject"].as_str().unwrap_or_default().to_string();
        if let Some(at) = submitted.get(&id) {
            if done.insert(id) {
                latencies.record(at.elapsed());
            }
        }
    }
    let total = started.elapsed().as_secs_f64();
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM rm_analyses WHERE status <> 'COMPLETED'")
            .fetch_one(&app.services.pool)
            .await?;
    println!("   submitted all in {submit_seconds:.2} s; all {} completed in {total:.2} s; not completed: {failed}", done.len());
    println!(
        "   {:.1} analyses/s; submission → COMPLETED (seen on NATS) p50 {:.0} ms, p99 {:.0} ms",
        done.len() as f64 / total,
        latencies.ms(0.50),
        latencies.ms(0.99)
    );

    relay_against_raw(args, config, app).await
}

/// The relay catching up a log of `relay_events` events, beside raw JetStream
/// publish-with-ack of the same bodies with the same window, in the same run.
async fn relay_against_raw(
    args: &PipelineArgs,
    config: &Config,
    app: &Application,
) -> anyhow::Result<()> {
    use infrastructure::messaging::{ensure_stream, Topology};
    use infrastructure::relay::Relay;
    let pool = &app.services.pool;
    let window = 256;
    println!();
    println!("== (b) relay throughput beside raw JetStream publish-with-ack (window {window})");
    // Events of an aggregate type no projector reads, with valid metadata and a body about the
    // size of a worker's progress event plus some.
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload, metadata) \
         SELECT 'BenchLoad', 'bench-' || (n / 100), n % 100 + 1, 'BenchLoadRecorded', '1.0', \
                jsonb_build_object('BenchLoadRecorded', jsonb_build_object('progress', n % 100, 'note', repeat('x', 200), \
                    'at', now())), \
                jsonb_build_object('actor', 'system:bench', 'correlation_id', gen_random_uuid(), \
                    'command_id', gen_random_uuid()) \
           FROM generate_series(1, $1) AS n",
    )
    .bind(args.relay_events)
    .execute(pool)
    .await?;
    let in_log: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;

    let client = async_nats::connect(&config.nats_url).await?;
    let jetstream = async_nats::jetstream::new(client);
    let topology = Topology::new(format!("{}r", config.nats_prefix));
    ensure_stream(&jetstream, &topology).await?;
    let relay = Relay::new(
        pool.clone(),
        config.database_url.clone(),
        jetstream.clone(),
        topology.clone(),
        window,
    );
    let started = Instant::now();
    let mut position = relay.checkpoint().await?;
    let relayed = relay.relay_window(&mut position).await?;
    let relay_seconds = started.elapsed().as_secs_f64();
    let relay_rate = relayed as f64 / relay_seconds;

    // Raw: the same number of messages, bodies of the same size, same headers, same window.
    let raw = Topology::new(format!("{}raw", config.nats_prefix));
    ensure_stream(&jetstream, &raw).await?;
    let body = vec![b'x'; 420];
    let started = Instant::now();
    let mut sent = 0usize;
    // The same sliding window as the relay: at most `window` acks outstanding.
    let mut outstanding = futures::stream::FuturesOrdered::new();
    while sent < relayed {
        if outstanding.len() >= window as usize {
            if let Some(ack) = futures::StreamExt::next(&mut outstanding).await {
                let _: async_nats::jetstream::publish::PublishAck = ack?;
            }
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", Uuid::new_v4().to_string().as_str());
        let ack = jetstream
            .publish_with_headers(
                format!("{}.events.raw.x.{sent}", raw.prefix),
                headers,
                body.clone().into(),
            )
            .await?;
        outstanding.push_back(std::future::IntoFuture::into_future(ack));
        sent += 1;
    }
    while let Some(ack) = futures::StreamExt::next(&mut outstanding).await {
        ack?;
    }
    let raw_rate = sent as f64 / started.elapsed().as_secs_f64();
    println!("   relay: {relayed} events (log holds {in_log}) in {relay_seconds:.2} s = {relay_rate:.0} events/s");
    println!("   raw JetStream publish-with-ack: {sent} messages = {raw_rate:.0} messages/s");
    println!(
        "   ratio relay/raw = {:.2} (target at least 0.5)",
        relay_rate / raw_rate
    );
    Ok(())
}
