use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the service allocates many small, short-lived buffers
/// (JSON bodies, rows, messages), where glibc's consolidation showed up at the top of profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use infrastructure::Config;
use insight::{Application, Roles, Services};

/// Insight Cloud: the code-analysis backend.
#[derive(Parser)]
#[command(name = "insight", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the system: API, projectors, relay, worker and webhook dispatcher (creates and
    /// migrates the database first). Each role can run alone to scale out.
    Serve {
        /// Roles to run in this process, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "api,projectors,relay,worker,dispatcher"
        )]
        roles: Vec<Role>,
    },
    /// Runs only the analysis worker (the same as `serve --roles worker`).
    Worker,
    /// Creates the database if needed and applies the migrations.
    Migrate,
    /// Runs the detector engine on a local folder and prints the findings (no server needed).
    Detect {
        /// The folder to analyse.
        path: std::path::PathBuf,
        /// Detectors to run, comma-separated (default: every built one).
        #[arg(long, value_delimiter = ',')]
        detectors: Vec<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: DetectFormat,
        /// A folder of OSV advisory files to match lockfiles against.
        #[arg(long)]
        advisories: Option<std::path::PathBuf>,
        /// Exit with status 1 when a finding is at least this severe (for CI).
        #[arg(long)]
        fail_on: Option<String>,
    },
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Read models.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Benchmarks; each prints its figures beside a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        command: insight::bench::BenchCommand,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Role {
    Api,
    Projectors,
    Relay,
    Worker,
    Dispatcher,
}

#[derive(Clone, Copy, ValueEnum)]
enum DetectFormat {
    Table,
    Json,
    Sarif,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Creates a user and prints `{"userId": "...", "token": "..."}` as one JSON line.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "free")]
        plan: String,
    },
    /// Puts a user on a plan at once (outside Stripe), recorded on their subscription.
    SetPlan {
        #[arg(long)]
        user_id: String,
        #[arg(long)]
        plan: String,
    },
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Rebuilds every read model (or one) from the event log.
    Rebuild {
        /// Only this projector (projects, analyses, analysis_issues).
        #[arg(long)]
        only: Option<String>,
    },
    /// Prints each projector's checkpoint and how many events it is behind.
    Status,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    insight::telemetry::init(config.log_json);
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { roles } => {
            let roles = Roles {
                api: roles.contains(&Role::Api),
                projectors: roles.contains(&Role::Projectors),
                relay: roles.contains(&Role::Relay),
                worker: roles.contains(&Role::Worker),
                dispatcher: roles.contains(&Role::Dispatcher),
            };
            let app = Application::build(&config, roles).await?;
            if let Some(address) = app.address {
                tracing::info!(%address, "listening; API docs at http://{address}/docs");
            }
            app.run_until_signalled().await?;
        }
        Command::Worker => {
            let roles = Roles {
                api: false,
                projectors: false,
                relay: false,
                worker: true,
                dispatcher: false,
            };
            Application::build(&config, roles)
                .await?
                .run_until_signalled()
                .await?;
        }
        Command::Detect {
            path,
            detectors,
            format,
            advisories,
            fail_on,
        } => {
            let fail_on = fail_on
                .map(|raw| raw.parse::<domain::Severity>())
                .transpose()
                .map_err(|error| anyhow::anyhow!("--fail-on: {error}"))?;
            let options = detectors::RunOptions {
                advisories_dir: advisories,
                ..detectors::RunOptions::default()
            };
            let report = detectors::Engine::default().run(&path, &detectors, &options)?;
            let text = match format {
                DetectFormat::Table => detectors::format_table(&report),
                DetectFormat::Json => detectors::format_json(&report),
                DetectFormat::Sarif => detectors::format_sarif(&report),
            };
            println!("{}", text.trim_end());
            if let Some(threshold) = fail_on {
                let worst = report
                    .findings
                    .iter()
                    .filter_map(|finding| {
                        finding.severity.as_str().parse::<domain::Severity>().ok()
                    })
                    .min();
                if worst.is_some_and(|worst| worst <= threshold) {
                    return Err(anyhow::anyhow!(
                        "findings at or above {threshold}; failing as asked by --fail-on"
                    ));
                }
            }
        }
        Command::Migrate => {
            infrastructure::db::prepare(&config.database_url, 2).await?;
            tracing::info!("migrations applied");
        }
        Command::Admin {
            command: AdminCommand::SetPlan { user_id, plan },
        } => {
            let pool = infrastructure::db::prepare(&config.database_url, 4).await?;
            let services = Services::new(pool, &config);
            let user: domain::UserId = user_id
                .parse()
                .map_err(|_| anyhow::anyhow!("--user-id: not a UUID"))?;
            let plan: application::Plan = plan.parse()?;
            let metadata = application::CommandMetadata::new(
                application::Actor::System("admin".into()),
                uuid::Uuid::now_v7(),
            );
            services
                .subscriptions
                .change_plan(user, plan, &metadata)
                .await?;
            let usage = services.subscriptions.usage(user).await?;
            println!(
                "{}",
                serde_json::json!({"userId": user, "plan": usage.plan.as_upper_str()})
            );
        }
        Command::Admin {
            command: AdminCommand::CreateUser { email, plan },
        } => {
            let pool = infrastructure::db::prepare(&config.database_url, 4).await?;
            let services = Services::new(pool, &config);
            let email = application::Email::parse(&email)?;
            let plan: application::Plan = plan.parse()?;
            let (user_id, token) = services.identity.create_user(email, plan).await?;
            #[derive(serde::Serialize)]
            #[serde(rename_all = "camelCase")]
            struct CreatedUser<'a> {
                user_id: domain::UserId,
                token: &'a str,
            }
            let created = CreatedUser {
                user_id,
                token: token.token.expose(),
            };
            println!("{}", serde_json::to_string(&created)?);
        }
        Command::Projections { command } => {
            let pool = infrastructure::db::prepare(&config.database_url, 4).await?;
            match command {
                ProjectionsCommand::Rebuild { only } => {
                    let projectors: Vec<_> = projections::all_projectors()
                        .into_iter()
                        .filter(|p| only.as_deref().is_none_or(|name| p.name() == name))
                        .collect();
                    if projectors.is_empty() {
                        anyhow::bail!("no projector named {}", only.unwrap_or_default());
                    }
                    for projector in projectors {
                        let name = projector.name();
                        let applied =
                            projections::rebuild(&pool, projector, config.projection_batch_size)
                                .await
                                .with_context(|| format!("rebuilding {name}"))?;
                        println!("{name}: rebuilt from {applied} events");
                    }
                }
                ProjectionsCommand::Status => {
                    for projector in projections::all_projectors() {
                        let (position, behind) =
                            projections::runner::status(&pool, projector.as_ref()).await?;
                        println!(
                            "{}: transaction {} position {} ({} events behind)",
                            projector.name(),
                            position.transaction_id,
                            position.global_position,
                            behind
                        );
                    }
                }
            }
        }
        Command::Bench { command } => insight::bench::run(command, config).await?,
    }
    Ok(())
}
