//! Upload sessions: the acknowledged offset and running hash state of each
//! in-progress blob upload, so any node (or a restarted one) takes the next chunk.

use stowage_core::limits::UPLOAD_IDLE_EXPIRY_SECS;
use stowage_core::{Digest, Sha256Hasher};
use uuid::Uuid;

use crate::{Meta, MetaError, get, now_ms};

/// An upload session.
#[derive(Clone)]
pub struct Upload {
    pub id: Uuid,
    pub repository_id: i64,
    /// Bytes acknowledged so far.
    pub offset: u64,
    /// Running SHA-256 of those bytes.
    pub hasher: Sha256Hasher,
    /// Parts (chunks) received so far.
    pub parts: u64,
    /// Size of the last part received through the ECR API (UploadLayerPart).
    pub last_part_size: Option<u64>,
    pub created_at: i64,
}

impl Meta {
    /// Opens a new upload session in the repository.
    pub async fn create_upload(&self, repository_id: i64) -> Result<Upload, MetaError> {
        let id = Uuid::new_v4();
        let now = now_ms();
        let hasher = Sha256Hasher::new();
        sqlx::query(
            "INSERT INTO uploads (id, repository_id, byte_offset, hash_state, parts, created_at, updated_at) \
             VALUES ($1, $2, 0, $3, 0, $4, $4)",
        )
        .bind(id.to_string())
        .bind(repository_id)
        .bind(hasher.save())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(Upload {
            id,
            repository_id,
            offset: 0,
            hasher,
            parts: 0,
            last_part_size: None,
            created_at: now,
        })
    }

    /// The live upload `id` of the repository (`None` if unknown or idle too long).
    pub async fn upload(&self, repository_id: i64, id: Uuid) -> Result<Option<Upload>, MetaError> {
        let row = sqlx::query(
            "SELECT byte_offset, hash_state, parts, last_part_size, created_at FROM uploads \
             WHERE id = $1 AND repository_id = $2 AND updated_at > $3",
        )
        .bind(id.to_string())
        .bind(repository_id)
        .bind(now_ms() - UPLOAD_IDLE_EXPIRY_SECS * 1000)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let state: Vec<u8> = get(&row, "hash_state")?;
        Ok(Some(Upload {
            id,
            repository_id,
            offset: get::<i64>(&row, "byte_offset")? as u64,
            hasher: Sha256Hasher::restore(&state)
                .ok_or_else(|| MetaError::Corrupt(format!("hash state of upload {id}")))?,
            parts: get::<i64>(&row, "parts")? as u64,
            last_part_size: get::<Option<i64>>(&row, "last_part_size")?.map(|s| s as u64),
            created_at: get(&row, "created_at")?,
        }))
    }

    /// Records that the upload now stands at `offset` with `hasher`, if it still
    /// stood at `from_offset` (another request may have moved it meanwhile).
    pub async fn advance_upload(
        &self,
        id: Uuid,
        from_offset: u64,
        offset: u64,
        hasher: &Sha256Hasher,
    ) -> Result<(), MetaError> {
        let done = sqlx::query(
            "UPDATE uploads SET byte_offset = $1, hash_state = $2, parts = parts + 1, updated_at = $3 \
             WHERE id = $4 AND byte_offset = $5",
        )
        .bind(offset as i64)
        .bind(hasher.save())
        .bind(now_ms())
        .bind(id.to_string())
        .bind(from_offset as i64)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(MetaError::UploadConflict)
        }
    }

    /// Records the size of the part just received through the ECR API.
    pub async fn set_last_part_size(&self, id: Uuid, size: u64) -> Result<(), MetaError> {
        sqlx::query("UPDATE uploads SET last_part_size = $1 WHERE id = $2")
            .bind(size as i64)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the session and links the finished blob to its repository, atomically.
    pub async fn complete_upload(&self, upload: &Upload, digest: &Digest) -> Result<(), MetaError> {
        self.blob_guard(digest).await?.complete_upload(upload).await
    }

    /// Cancels an upload session; returns whether it existed.
    pub async fn delete_upload(&self, repository_id: i64, id: Uuid) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM uploads WHERE id = $1 AND repository_id = $2")
            .bind(id.to_string())
            .bind(repository_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// How many upload sessions are open (a gauge for metrics).
    pub async fn open_uploads(&self) -> Result<i64, MetaError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM uploads")
            .fetch_one(&self.pool)
            .await?;
        get(&row, "n")
    }
}
