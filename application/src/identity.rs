//! Users and API tokens. A token is 256 random bits shown once; only its SHA-256 is stored.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::TryRngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{AppError, StoreError};
use crate::metadata::{Actor, CommandMetadata};
use crate::ports::{Clock, IdentityStore};
use crate::subscriptions::SubscriptionService;
use domain::UserId;

const TOKEN_PREFIX: &str = "ins_";
const TOKEN_BYTES: usize = 32;

/// An e-mail address, trimmed; compared case-insensitively by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let email = raw.trim();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(email.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                    && !domain.ends_with('.') && !domain.contains('@'));
        if !valid {
            return Err(AppError::invalid("email", "not a valid e-mail address"));
        }
        Ok(Self(email.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub use domain::Plan;

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Email,
    pub plan: Plan,
    pub created_at: DateTime<Utc>,
}

/// The caller of a request, as established from its bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatedUser {
    pub user_id: UserId,
    pub token_id: Uuid,
}

/// A token in clear: only ever returned once, to whoever created it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl PlainToken {
    fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random source failed");
        Self(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn from_header(raw: &str) -> Self {
        Self(raw.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// Enough to tell tokens apart in a listing, too little to guess the rest.
    fn display_prefix(&self) -> String {
        self.0.chars().take(TOKEN_PREFIX.len() + 6).collect()
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(<redacted>)")
    }
}

/// SHA-256 of a token. A fast hash is enough: the token has 256 bits of entropy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: Uuid,
    pub user_id: UserId,
    pub name: String,
    pub hash: TokenHash,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub id: Uuid,
    pub name: String,
    pub token: PlainToken,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid or revoked token")]
    Invalid,
}

#[derive(Clone)]
pub struct IdentityService {
    store: Arc<dyn IdentityStore>,
    clock: Arc<dyn Clock>,
    subscriptions: Option<SubscriptionService>,
}

impl IdentityService {
    pub fn new(store: Arc<dyn IdentityStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            subscriptions: None,
        }
    }

    /// Opens each new user's subscription on the plan they were created with.
    pub fn with_subscriptions(mut self, subscriptions: SubscriptionService) -> Self {
        self.subscriptions = Some(subscriptions);
        self
    }

    /// Registers a user and issues their first token.
    pub async fn create_user(
        &self,
        email: Email,
        plan: Plan,
    ) -> Result<(UserId, IssuedToken), AppError> {
        let user = NewUser {
            id: UserId::from_uuid(Uuid::now_v7()),
            email,
            plan,
            created_at: self.clock.now(),
        };
        self.store.create_user(&user).await?;
        if let Some(subscriptions) = &self.subscriptions {
            // A crash before this line leaves a user whose subscription opens on FREE at
            // first use; an operator's `admin set-plan` corrects the plan.
            let metadata = CommandMetadata::new(Actor::System("admin".into()), Uuid::now_v7());
            subscriptions.open(user.id, plan, &metadata).await?;
        }
        let token = self.issue_token(user.id, "default").await?;
        Ok((user.id, token))
    }

    pub async fn issue_token(&self, user_id: UserId, name: &str) -> Result<IssuedToken, AppError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::invalid("name", "must be 1 to 100 characters"));
        }
        let token = PlainToken::generate();
        let record = NewApiToken {
            id: Uuid::now_v7(),
            user_id,
            name: name.to_string(),
            hash: token.hash(),
            prefix: token.display_prefix(),
            created_at: self.clock.now(),
        };
        self.store.insert_token(&record).await?;
        Ok(IssuedToken {
            id: record.id,
            name: record.name,
            token,
            created_at: record.created_at,
        })
    }

    /// `header` is the raw `Authorization` value, if any.
    pub async fn authenticate(
        &self,
        header: Option<&str>,
    ) -> Result<Result<AuthenticatedUser, AuthFailure>, StoreError> {
        let Some(header) = header else {
            return Ok(Err(AuthFailure::Missing));
        };
        let Some((scheme, token)) = header.trim().split_once(' ') else {
            return Ok(Err(AuthFailure::Invalid));
        };
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Ok(Err(AuthFailure::Invalid));
        }
        let found = self
            .store
            .find_by_token(&PlainToken::from_header(token).hash())
            .await?;
        Ok(found.ok_or(AuthFailure::Invalid))
    }

    pub async fn revoke_token(&self, user_id: UserId, token_id: Uuid) -> Result<(), AppError> {
        if self
            .store
            .revoke_token(user_id, token_id, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(AppError::NotFound { resource: "token" })
        }
    }

    pub async fn list_tokens(&self, user_id: UserId) -> Result<Vec<TokenInfo>, AppError> {
        Ok(self.store.list_tokens(user_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_random_bits_and_hash_stably() {
        let a = PlainToken::generate();
        let b = PlainToken::generate();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("ins_"));
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.expose()[4..]).unwrap().len(), 32);
        assert_eq!(a.hash(), PlainToken::from_header(a.expose()).hash());
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(&a.expose()[4..]));
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert!(Email::parse(" dev@example.com ").is_ok());
        for bad in [
            "",
            "dev",
            "dev@",
            "@example.com",
            "a b@example.com",
            "dev@example",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
