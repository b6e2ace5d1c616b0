use std::sync::Arc;

use application::internal_webhook::InternalWebhooks;
use application::stripe::StripeService;
use application::webhooks::WebhookService;
use application::{
    AnalysisService, IdentityService, ProjectService, SubscriptionService, UploadStore,
};
use sqlx::PgPool;

/// What a NATS (or other dependency) readiness check needs to answer.
#[async_trait::async_trait]
pub trait ReadinessProbe: Send + Sync {
    /// A short name for the readiness report (`postgres`, `nats`).
    fn name(&self) -> &'static str;
    async fn is_ready(&self) -> bool;
}

/// Shared by every handler. Writes go through the services; reads go straight to the read
/// models (`projections::queries`) over `read_pool`.
#[derive(Clone)]
pub struct AppState {
    pub identity: IdentityService,
    pub projects: ProjectService,
    pub analyses: AnalysisService,
    pub subscriptions: SubscriptionService,
    /// None when no `STRIPE_WEBHOOK_SECRET` is configured: the webhook then answers 503.
    pub stripe: Option<StripeWebhook>,
    pub read_pool: PgPool,
    pub uploads: Arc<dyn UploadStore>,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: usize,
    pub probes: Arc<Vec<Arc<dyn ReadinessProbe>>>,
    pub webhooks: WebhookService,
    /// None when no `INTERNAL_WEBHOOK_SECRET` is configured: the internal webhook answers 503.
    pub internal_webhook: Option<InternalWebhooks>,
    /// How often a live progress stream looks for new events.
    pub stream_poll: std::time::Duration,
}

/// The Stripe webhook's use case and the secret its deliveries are signed with.
#[derive(Clone)]
pub struct StripeWebhook {
    pub service: StripeService,
    pub secret: String,
}
