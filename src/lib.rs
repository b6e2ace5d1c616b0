//! The `insight` binary's library half: wires the adapters of `infrastructure` into the use
//! cases of `application`, starts projectors and the HTTP server. `main.rs` only parses the
//! command line; tests and benchmarks build the same `Application` in-process.

pub mod bench;
pub mod bench_detectors;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use api::{AppState, ReadinessProbe};
use application::internal_webhook::InternalWebhooks;
use application::jobs::{AnalysisJobs, RetryPolicy};
use application::stripe::{PriceCatalog, StripeService};
use application::webhooks::{AddressPolicy, WebhookSecret, WebhookService};
use application::{AnalysisService, IdentityService, ProjectService, SubscriptionService};
use domain::{Analysis, NoServices, Project, Subscription};
use infrastructure::engine::DetectorsEngine;
use infrastructure::joint_append::PgJointAppend;
use infrastructure::mailer::{Mailer, MailerHandle};
use infrastructure::messaging::{NatsCancelSignal, Topology};
use infrastructure::relay::{Relay, RelayHandle};
use infrastructure::source::archive::ArchiveLimits;
use infrastructure::source::uploads::{AnySourceFetcher, PgUploadStore};
use infrastructure::source::{GitLimits, GitSourceFetcher};
use infrastructure::stripe_log::PgStripeEventLog;
use infrastructure::subscription_policy::{PolicyHandle, SubscriptionPolicy};
use infrastructure::webhooks::{
    Dispatcher, DispatcherHandle, DispatcherSettings, InternalEndpoint, PgReceivedMessages,
    PgWebhookStore,
};
use infrastructure::worker::{Worker, WorkerHandle, WorkerSettings};
use infrastructure::PgNotificationOutbox;
use infrastructure::{
    CheckpointBarrier, Config, EventNotifier, PgAggregateRepository, PgIdentityStore, SystemClock,
};
use projections::{ProjectorHandle, ProjectorRunner};
use sqlx::PgPool;
use std::num::NonZeroUsize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Snapshot an analysis every this many commands: long analyses (hundreds of batches) then
/// load from a snapshot plus a few events.
const ANALYSIS_SNAPSHOT_EVERY: usize = 50;

/// A subscription gains events with every analysis (counted, slot taken, slot freed): loads
/// start from a snapshot refreshed this often.
const SUBSCRIPTION_SNAPSHOT_EVERY: usize = 30;

/// Subscriptions kept in memory between submissions (every submission charges one): the
/// most recently charged users' streams, a few kilobytes each.
const RESIDENT_SUBSCRIPTIONS: NonZeroUsize = NonZeroUsize::new(10_000).expect("non-zero");

/// Projects kept in memory for submissions (each one reads its project; the append then
/// requires that the project has not changed since): the most recently used, under a
/// kilobyte each.
const RESIDENT_PROJECTS: NonZeroUsize = NonZeroUsize::new(10_000).expect("non-zero");

/// How often an open live-progress stream looks for new events of its analysis (one indexed
/// query by primary key).
const SSE_POLL: Duration = Duration::from_millis(250);

/// Bytes of a receiver's response body kept in the delivery log.
const WEBHOOK_RESPONSE_LIMIT: usize = 1024;

/// Which parts of the system this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub api: bool,
    pub projectors: bool,
    pub relay: bool,
    pub worker: bool,
    /// The webhook dispatcher: events from JetStream to customers' endpoints.
    pub dispatcher: bool,
}

impl Default for Roles {
    fn default() -> Self {
        Self {
            api: true,
            projectors: true,
            relay: true,
            worker: true,
            dispatcher: true,
        }
    }
}

/// The use cases, wired to Postgres: what the API, the CLI and tests call.
#[derive(Clone)]
pub struct Services {
    pub pool: PgPool,
    pub identity: IdentityService,
    pub projects: ProjectService,
    pub analyses: AnalysisService,
    pub subscriptions: SubscriptionService,
    pub stripe: StripeService,
    pub projects_repository: Arc<PgAggregateRepository<Project>>,
    pub outbox: Arc<PgNotificationOutbox>,
    pub barrier: CheckpointBarrier,
    /// Wakes this process's projectors when its commands append events.
    pub notifier: EventNotifier,
    pub uploads: Arc<PgUploadStore>,
    pub archive_limits: ArchiveLimits,
    pub webhooks: WebhookService,
    /// None without `INTERNAL_WEBHOOK_SECRET`.
    pub internal_webhook: Option<InternalWebhooks>,
}

impl Services {
    /// `config` must have been checked by `webhook_secrets` (start-up does).
    pub fn new(pool: PgPool, config: &Config) -> Self {
        let clock = Arc::new(SystemClock);
        let barrier = CheckpointBarrier::spawn(pool.clone(), config.read_your_writes_timeout);
        let notifier = EventNotifier::new();
        let projects = Arc::new(
            PgAggregateRepository::<Project>::new(pool.clone(), NoServices, None)
                .with_notifier(notifier.clone())
                .keep_in_memory(RESIDENT_PROJECTS),
        );
        let analyses = Arc::new(
            PgAggregateRepository::<Analysis>::new(
                pool.clone(),
                NoServices,
                Some(ANALYSIS_SNAPSHOT_EVERY),
            )
            .with_notifier(notifier.clone()),
        );
        let archive_limits = ArchiveLimits {
            max_files: config.max_upload_files,
            max_bytes: config.max_source_bytes,
        };
        let uploads = Arc::new(PgUploadStore::new(pool.clone(), archive_limits));
        let subscription_repository = Arc::new(
            PgAggregateRepository::<Subscription>::new(
                pool.clone(),
                config.plans,
                Some(SUBSCRIPTION_SNAPSHOT_EVERY),
            )
            .with_notifier(notifier.clone())
            .keep_in_memory(RESIDENT_SUBSCRIPTIONS),
        );
        let subscriptions =
            SubscriptionService::new(subscription_repository.clone(), config.plans, clock.clone());
        let stripe = StripeService::new(
            Arc::new(PgStripeEventLog::new(pool.clone())),
            subscriptions.clone(),
            PriceCatalog(config.stripe_prices.clone()),
            clock.clone(),
        );
        let projects_service =
            ProjectService::new(projects.clone(), Arc::new(barrier.clone()), clock.clone())
                .with_quota(Arc::new(PgJointAppend::new(
                    pool.clone(),
                    subscription_repository.clone(),
                    projects.clone(),
                )));
        let webhooks = WebhookService::new(
            Arc::new(PgWebhookStore::new(pool.clone())),
            projects_service.clone(),
            webhook_policy(config),
            clock.clone(),
            config.webhook_secret_overlap,
        );
        let analyses_service = AnalysisService::new(
            analyses.clone(),
            projects.clone(),
            Arc::new(infrastructure::detector_catalog::RegistryDetectorCatalog::default()),
            Arc::new(barrier.clone()),
            clock.clone(),
        )
        .with_uploads(uploads.clone())
        .with_quota(Arc::new(PgJointAppend::new(
            pool.clone(),
            subscription_repository,
            analyses,
        )));
        let internal_webhook = config
            .internal_webhook_secret
            .as_deref()
            .and_then(|secret| WebhookSecret::parse(secret).ok())
            .map(|secret| {
                InternalWebhooks::new(
                    secret,
                    Arc::new(PgReceivedMessages::new(pool.clone())),
                    analyses_service.clone(),
                    projects_service.clone(),
                    clock.clone(),
                )
            });
        Self {
            identity: IdentityService::new(
                Arc::new(PgIdentityStore::new(pool.clone())),
                clock.clone(),
            )
            .with_subscriptions(subscriptions.clone()),
            projects: projects_service,
            analyses: analyses_service,
            subscriptions,
            stripe,
            projects_repository: projects,
            outbox: Arc::new(PgNotificationOutbox::new(pool.clone())),
            barrier,
            notifier,
            uploads,
            archive_limits,
            webhooks,
            internal_webhook,
            pool,
        }
    }
}

fn webhook_policy(config: &Config) -> AddressPolicy {
    AddressPolicy {
        allow_http: config.webhook_allow_http,
        allowed: config.webhook_allowed_cidrs.clone(),
    }
}

/// The internal webhook's secret, parsed; an `INTERNAL_WEBHOOK_URL` needs one.
fn internal_secret(config: &Config) -> Result<Option<WebhookSecret>, StartError> {
    let secret = config
        .internal_webhook_secret
        .as_deref()
        .map(WebhookSecret::parse)
        .transpose()
        .map_err(|error| StartError::Config(format!("INTERNAL_WEBHOOK_SECRET: {error}")))?;
    if config.internal_webhook_url.is_some() && secret.is_none() {
        return Err(StartError::Config(
            "INTERNAL_WEBHOOK_URL needs INTERNAL_WEBHOOK_SECRET to sign with".into(),
        ));
    }
    Ok(secret)
}

struct PostgresProbe(PgPool);

#[async_trait::async_trait]
impl ReadinessProbe for PostgresProbe {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn is_ready(&self) -> bool {
        let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&self.0);
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(2), ping).await,
            Ok(Ok(1))
        )
    }
}

struct NatsProbe(async_nats::Client);

#[async_trait::async_trait]
impl ReadinessProbe for NatsProbe {
    fn name(&self) -> &'static str {
        "nats"
    }

    async fn is_ready(&self) -> bool {
        infrastructure::messaging::is_ready(&self.0).await
    }
}

/// A running system: HTTP server, projectors, relay and worker, as the roles ask.
pub struct Application {
    pub services: Services,
    pub address: Option<SocketAddr>,
    pub projectors: Vec<ProjectorHandle>,
    relay: Option<RelayHandle>,
    worker: Option<WorkerHandle>,
    policy: Option<PolicyHandle>,
    mailer: Option<MailerHandle>,
    dispatcher: Option<DispatcherHandle>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    shutdown: watch::Sender<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] infrastructure::db::DbError),
    #[error(transparent)]
    Nats(#[from] infrastructure::messaging::NatsConnectError),
    #[error(transparent)]
    Stream(#[from] infrastructure::messaging::StreamSetupError),
    #[error(transparent)]
    Mailer(#[from] infrastructure::mailer::MailerError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl Application {
    /// Creates and migrates the database, connects to NATS, starts the projectors and binds the
    /// HTTP listener (port 0 picks a free port; see `address`).
    pub async fn build(config: &Config, roles: Roles) -> Result<Self, StartError> {
        let internal_secret = internal_secret(config)?;
        let pool =
            infrastructure::db::prepare(&config.database_url, config.database_max_connections)
                .await?;
        let mut services = Services::new(pool.clone(), config);
        let topology = Topology::new(config.nats_prefix.clone());
        let nats = if roles.api || roles.relay || roles.worker || roles.dispatcher {
            Some(infrastructure::messaging::connect(&config.nats_url).await?)
        } else {
            None
        };
        if let Some(client) = &nats {
            services.analyses =
                services
                    .analyses
                    .clone()
                    .with_cancel_signal(Arc::new(NatsCancelSignal {
                        client: client.clone(),
                        topology: topology.clone(),
                    }));
        }

        let mut projectors = Vec::new();
        if roles.projectors {
            let notifier = services.notifier.clone();
            let all = projections::all_projectors();
            let projector_pool = infrastructure::db::connect_for_projectors(
                &config.database_url,
                all.len() as u32 + 1,
            )
            .await?;
            for projector in all {
                let runner = ProjectorRunner::new(
                    projector_pool.clone(),
                    projector,
                    config.projection_batch_size,
                )
                .with_barrier(services.barrier.clone());
                projectors.push(runner.spawn(notifier.clone(), config.projection_poll));
            }
        }

        // The subscription policy and the mailer are catch-up work like the projectors.
        let mut policy = None;
        let mut mailer = None;
        if roles.projectors {
            policy = Some(
                SubscriptionPolicy::new(
                    pool.clone(),
                    services.subscriptions.clone(),
                    services.analyses.clone(),
                    services.projects_repository.clone(),
                    services.outbox.clone(),
                )
                .spawn(services.notifier.clone(), config.projection_poll),
            );
            if let Some(smtp_url) = &config.smtp_url {
                let sender = Mailer::new(pool.clone(), smtp_url, &config.smtp_from)?
                    .with_retry_base(config.smtp_retry_base)
                    .with_send_timeout(config.smtp_timeout);
                mailer = Some(sender.spawn(Duration::from_secs(1)));
            }
        }

        let relay = match (&nats, roles.relay) {
            (Some(client), true) => {
                let jetstream = async_nats::jetstream::new(client.clone());
                let relay = Relay::new(
                    pool.clone(),
                    config.database_url.clone(),
                    jetstream,
                    topology.clone(),
                    256,
                );
                Some(relay.spawn(services.notifier.clone(), config.projection_poll))
            }
            _ => None,
        };
        let worker = match (&nats, roles.worker) {
            (Some(client), true) => {
                let jobs = AnalysisJobs::new(
                    services.analyses.clone(),
                    Arc::new(AnySourceFetcher {
                        git: GitSourceFetcher::new(GitLimits {
                            timeout: config.git_timeout,
                            max_bytes: config.max_source_bytes,
                        }),
                        uploads: services.uploads.clone(),
                        limits: services.archive_limits,
                    }),
                    Arc::new(DetectorsEngine::default()),
                    RetryPolicy {
                        delays: config.retry_delays.clone(),
                    },
                    worker_name(),
                )
                .with_run_slots(services.subscriptions.clone());
                let worker = Worker::new(
                    client.clone(),
                    async_nats::jetstream::new(client.clone()),
                    topology.clone(),
                    jobs,
                    WorkerSettings {
                        concurrency: config.worker_concurrency,
                        ack_wait: config.worker_ack_wait,
                    },
                );
                Some(worker.spawn())
            }
            _ => None,
        };

        let dispatcher = match (&nats, roles.dispatcher) {
            (Some(client), true) => {
                let settings = DispatcherSettings {
                    schedule: config.webhook_retry_schedule.clone(),
                    timeout: config.webhook_timeout,
                    disable_after: config.webhook_disable_after,
                    concurrency: config.webhook_concurrency,
                    poll: config.webhook_poll,
                    policy: webhook_policy(config),
                    resolver: config.webhook_resolver.clone(),
                    internal: match (&config.internal_webhook_url, internal_secret) {
                        (Some(url), Some(secret)) => Some(InternalEndpoint {
                            url: url.clone(),
                            secret,
                        }),
                        _ => None,
                    },
                    response_limit: WEBHOOK_RESPONSE_LIMIT,
                };
                Some(
                    Dispatcher::new(
                        pool.clone(),
                        async_nats::jetstream::new(client.clone()),
                        topology.clone(),
                        settings,
                        services.outbox.clone(),
                    )
                    .spawn(),
                )
            }
            _ => None,
        };

        let (shutdown, mut stopped) = watch::channel(false);
        let mut address = None;
        let mut server = None;
        if let (true, Some(nats)) = (roles.api, nats) {
            let state = AppState {
                identity: services.identity.clone(),
                projects: services.projects.clone(),
                analyses: services.analyses.clone(),
                subscriptions: services.subscriptions.clone(),
                stripe: config
                    .stripe_webhook_secret
                    .clone()
                    .map(|secret| api::StripeWebhook {
                        service: services.stripe.clone(),
                        secret,
                    }),
                read_pool: pool.clone(),
                uploads: services.uploads.clone(),
                max_upload_bytes: config.max_upload_bytes,
                webhooks: services.webhooks.clone(),
                internal_webhook: services.internal_webhook.clone(),
                stream_poll: SSE_POLL,
                probes: Arc::new(vec![
                    Arc::new(PostgresProbe(pool.clone())),
                    Arc::new(NatsProbe(nats)),
                ]),
            };
            let listener = TcpListener::bind(config.bind_addr)
                .await
                .map_err(|source| StartError::Bind {
                    address: config.bind_addr,
                    source,
                })?;
            address = listener.local_addr().ok();
            let app = api::app(state);
            server = Some(tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await
            }));
        }
        Ok(Self {
            services,
            address,
            projectors,
            relay,
            worker,
            policy,
            mailer,
            dispatcher,
            server,
            shutdown,
        })
    }

    /// Serves until Ctrl-C or SIGTERM, then drains requests and stops the projectors.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        telemetry::shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }

    /// Stops only the webhook dispatcher (as if its process died): tests start another.
    pub async fn stop_dispatcher(&mut self) {
        if let Some(dispatcher) = self.dispatcher.take() {
            dispatcher.stop().await;
        }
    }

    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server {
            server.await.map_err(std::io::Error::other)??;
        }
        if let Some(worker) = self.worker {
            worker.stop().await;
        }
        if let Some(dispatcher) = self.dispatcher {
            dispatcher.stop().await;
        }
        if let Some(relay) = self.relay {
            relay.stop().await;
        }
        if let Some(policy) = self.policy {
            policy.stop().await;
        }
        if let Some(mailer) = self.mailer {
            mailer.stop().await;
        }
        for projector in self.projectors {
            projector.stop().await;
        }
        Ok(())
    }
}

/// `hostname:pid`, recorded on the events a worker writes.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "worker".to_string());
    format!("{host}:{}", std::process::id())
}
