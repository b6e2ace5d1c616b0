//! Uploaded archives in Postgres, and the fetcher that extracts one for a job.

use std::sync::Arc;

use application::jobs::{FetchedSource, SourceError, SourceFetcher};
use application::{AppError, StoreError, UploadReceipt, UploadStore};
use async_trait::async_trait;
use domain::analysis::AnalysisSource;
use domain::UserId;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use super::archive::{unpack, ArchiveLimits};

#[derive(Clone)]
pub struct PgUploadStore {
    pool: PgPool,
    limits: ArchiveLimits,
}

impl PgUploadStore {
    pub fn new(pool: PgPool, limits: ArchiveLimits) -> Self {
        Self { pool, limits }
    }
}

#[async_trait]
impl UploadStore for PgUploadStore {
    async fn store(&self, owner: UserId, bytes: Vec<u8>) -> Result<UploadReceipt, AppError> {
        // Checked in full (every entry, every byte counted) before anything is kept.
        let limits = self.limits;
        let (bytes, checked) = tokio::task::spawn_blocking(move || {
            let checked = unpack(&bytes, None, limits);
            (bytes, checked)
        })
        .await
        .map_err(|error| AppError::Store(StoreError::new(error)))?;
        let (format, stats) =
            checked.map_err(|error| AppError::invalid("file", error.to_string()))?;
        let receipt = UploadReceipt {
            upload_id: Uuid::now_v7(),
            format: format.as_str().to_string(),
            size_bytes: bytes.len() as u64,
            files: stats.files,
            expanded_bytes: stats.bytes,
        };
        sqlx::query(
            "INSERT INTO uploads (id, owner_id, format, size_bytes, files, expanded_bytes, sha256, \
             content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(receipt.upload_id)
        .bind(owner.as_uuid())
        .bind(&receipt.format)
        .bind(receipt.size_bytes as i64)
        .bind(receipt.files as i64)
        .bind(receipt.expanded_bytes as i64)
        .bind(Sha256::digest(&bytes).to_vec())
        .bind(bytes)
        .execute(&self.pool)
        .await
        .map_err(|error| AppError::Store(StoreError::new(error)))?;
        Ok(receipt)
    }

    async fn belongs_to(&self, owner: UserId, upload_id: Uuid) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM uploads WHERE id = $1 AND owner_id = $2)")
            .bind(upload_id)
            .bind(owner.as_uuid())
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::new)
    }

    async fn content(&self, upload_id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT content FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::new)
    }
}

/// Fetches any kind of source: git remotes through git, uploads by extraction. Git never runs
/// inside an uploaded tree (its `.git/config` could name hooks or an fsmonitor).
pub struct AnySourceFetcher {
    pub git: super::GitSourceFetcher,
    pub uploads: Arc<dyn UploadStore>,
    pub limits: ArchiveLimits,
}

#[async_trait]
impl SourceFetcher for AnySourceFetcher {
    async fn fetch(&self, source: &AnalysisSource) -> Result<FetchedSource, SourceError> {
        let upload_id = match source {
            AnalysisSource::Git { .. } => return self.git.fetch(source).await,
            AnalysisSource::Upload { upload_id } => *upload_id,
        };
        let bytes = self
            .uploads
            .content(upload_id)
            .await
            .map_err(|error| SourceError(format!("cannot read upload {upload_id}: {error}")))?
            .ok_or_else(|| SourceError(format!("upload {upload_id} does not exist")))?;
        let dir = tempfile::Builder::new()
            .prefix("insight-upload-")
            .tempdir()
            .map_err(|error| SourceError(format!("cannot make a temporary folder: {error}")))?;
        let root = dir.path().to_path_buf();
        let limits = self.limits;
        tokio::task::spawn_blocking(move || unpack(&bytes, Some(&root), limits))
            .await
            .map_err(|error| SourceError(format!("extraction crashed: {error}")))?
            .map_err(|error| SourceError(format!("cannot extract upload {upload_id}: {error}")))?;
        Ok(FetchedSource {
            root: dir.path().to_path_buf(),
            commit: None,
            guard: Box::new(dir),
        })
    }
}
