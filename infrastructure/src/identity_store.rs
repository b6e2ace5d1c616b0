use application::identity::NewApiToken;
use application::{
    AppError, AuthenticatedUser, IdentityStore, NewUser, StoreError, TokenHash, TokenInfo,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::UserId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

/// How long a token look-up is trusted without asking Postgres again. Revocations evict at
/// once (in this process directly, in others through `insight_token_revoked`); this bound only
/// matters if a notification is lost, and the cache is cleared whenever the listener reconnects.
const TOKEN_CACHE_TTL: Duration = Duration::from_secs(30);
const TOKEN_CACHE_MAX_ENTRIES: usize = 10_000;
const REVOKED_CHANNEL: &str = "insight_token_revoked";

type TokenEntries = Mutex<HashMap<[u8; 32], (AuthenticatedUser, Instant)>>;
type TokenCache = Arc<TokenEntries>;

/// Users and tokens in Postgres, with an in-process cache of token look-ups (every request
/// authenticates; most requests come from a few tokens).
#[derive(Clone)]
pub struct PgIdentityStore {
    pool: PgPool,
    cache: TokenCache,
    /// The cache is used only while the revocation listener is subscribed: a revocation sent
    /// while nobody listens would otherwise go unseen until the TTL.
    listening: Arc<AtomicBool>,
    /// Counts revocations seen, so a look-up that raced with one does not cache its answer.
    revocations: Arc<AtomicU64>,
    /// Dropped with the last clone of the store: the revocation listener then ends.
    _alive: Arc<watch::Sender<()>>,
}

impl PgIdentityStore {
    /// Starts the revocation listener of this process's cache.
    pub fn new(pool: PgPool) -> Self {
        let cache: TokenCache = Arc::default();
        let listening = Arc::new(AtomicBool::new(false));
        let listener_cache = Arc::downgrade(&cache);
        let listener_flag = listening.clone();
        let revocations = Arc::new(AtomicU64::new(0));
        let listener_revocations = revocations.clone();
        let listener_pool = pool.clone();
        let (alive, mut store_dropped) = watch::channel(());
        tokio::spawn(async move {
            loop {
                if listener_cache.strong_count() == 0 {
                    return;
                }
                let outcome = tokio::select! {
                    outcome = follow_revocations(
                        &listener_pool,
                        &listener_cache,
                        &listener_flag,
                        &listener_revocations,
                    ) => outcome,
                    // Err once the store is gone: stop rather than report a broken connection.
                    Err(_) = store_dropped.changed() => return,
                };
                listener_flag.store(false, Ordering::SeqCst);
                if let Err(error) = outcome {
                    tracing::warn!(%error, "token revocation listener failed; reconnecting");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Self {
            pool,
            cache,
            listening,
            revocations,
            _alive: Arc::new(alive),
        }
    }

    fn evict_token(cache: &TokenCache, token_id: Uuid) {
        cache
            .lock()
            .expect("token cache lock")
            .retain(|_, (user, _)| user.token_id != token_id);
    }
}

async fn follow_revocations(
    pool: &PgPool,
    cache: &std::sync::Weak<TokenEntries>,
    listening: &AtomicBool,
    revocations: &AtomicU64,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(REVOKED_CHANNEL).await?;
    // Subscribed: from here on no revocation is missed. Whatever was cached before may have
    // missed one, so start empty.
    if let Some(cache) = cache.upgrade() {
        cache.lock().expect("token cache lock").clear();
    }
    listening.store(true, Ordering::SeqCst);
    loop {
        let Some(notification) = listener.try_recv().await? else {
            // The connection dropped (notifications may have been lost): stop trusting the
            // cache until subscribed again.
            listening.store(false, Ordering::SeqCst);
            return Ok(());
        };
        revocations.fetch_add(1, Ordering::SeqCst);
        let Some(cache) = cache.upgrade() else {
            return Ok(());
        };
        match notification.payload().parse() {
            Ok(token_id) => PgIdentityStore::evict_token(&cache, token_id),
            Err(_) => cache.lock().expect("token cache lock").clear(),
        }
    }
}

#[async_trait]
impl IdentityStore for PgIdentityStore {
    async fn create_user(&self, user: &NewUser) -> Result<(), AppError> {
        let result =
            sqlx::query("INSERT INTO users (id, email, plan, created_at) VALUES ($1, $2, $3, $4)")
                .bind(user.id.as_uuid())
                .bind(user.email.as_str())
                .bind(user.plan.as_str())
                .bind(user.created_at)
                .execute(&self.pool)
                .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.constraint() == Some("users_email_key") => {
                Err(AppError::Conflict(
                    "a user with this e-mail address already exists".into(),
                ))
            }
            Err(error) => Err(StoreError::new(error).into()),
        }
    }

    async fn insert_token(&self, token: &NewApiToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, token_prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.id)
        .bind(token.user_id.as_uuid())
        .bind(&token.name)
        .bind(&token.hash.0[..])
        .bind(&token.prefix)
        .bind(token.created_at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(())
    }

    async fn find_by_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AuthenticatedUser>, StoreError> {
        let revocations_before = self.revocations.load(Ordering::SeqCst);
        let trusted = self.listening.load(Ordering::SeqCst);
        if let Some((user, cached_at)) = trusted
            .then(|| {
                self.cache
                    .lock()
                    .expect("token cache lock")
                    .get(&hash.0)
                    .copied()
            })
            .flatten()
        {
            if cached_at.elapsed() < TOKEN_CACHE_TTL {
                return Ok(Some(user));
            }
        }
        let row: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT id, user_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::new)?;
        let user = row.map(|(token_id, user_id)| AuthenticatedUser {
            user_id: UserId::from_uuid(user_id),
            token_id,
        });
        // Only hits are cached: a wrong token always costs a look-up, and a new token works
        // at once.
        let unchanged = self.revocations.load(Ordering::SeqCst) == revocations_before;
        if let (Some(user), true) = (user, trusted && unchanged) {
            let mut cache = self.cache.lock().expect("token cache lock");
            if cache.len() >= TOKEN_CACHE_MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(hash.0, (user, Instant::now()));
        }
        Ok(user)
    }

    async fn revoke_token(
        &self,
        user: UserId,
        token_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // The notification reaches every process's cache when the revocation commits.
        let revoked: Option<Uuid> = sqlx::query_scalar(
            "WITH revoked AS (UPDATE api_tokens SET revoked_at = $3 \
                 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id) \
             SELECT id FROM revoked, pg_notify($4, id::text)",
        )
        .bind(token_id)
        .bind(user.as_uuid())
        .bind(at)
        .bind(REVOKED_CHANNEL)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Self::evict_token(&self.cache, token_id);
        Ok(revoked.is_some())
    }

    async fn list_tokens(&self, user: UserId) -> Result<Vec<TokenInfo>, StoreError> {
        let rows: Vec<(Uuid, String, String, DateTime<Utc>, Option<DateTime<Utc>>)> =
            sqlx::query_as(
                "SELECT id, name, token_prefix, created_at, revoked_at FROM api_tokens \
                 WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
            )
            .bind(user.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::new)?;
        Ok(rows
            .into_iter()
            .map(|(id, name, prefix, created_at, revoked_at)| TokenInfo {
                id,
                name,
                prefix,
                created_at,
                revoked_at,
            })
            .collect())
    }
}
