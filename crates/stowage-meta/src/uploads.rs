//! Upload sessions: the acknowledged offset and running hash state of each
//! in-progress blob upload, so any node (or a restarted one) takes the next chunk.

use uuid::Uuid;

use crate::{Meta, MetaError, get, now_ms};

/// An upload session.
#[derive(Clone)]
pub struct Upload {
    pub id: Uuid,
    pub repository_id: i64,
    /// Bytes acknowledged so far.
    pub offset: u64,
    /// Running SHA-256 state of those bytes, as stored: sealed by the caller,
    /// since a hash state holds up to a block of the content in clear.
    pub hash_state: Vec<u8>,
    /// Parts (chunks) received so far.
    pub parts: u64,
    /// Size of the last part received through the ECR API (UploadLayerPart).
    pub last_part_size: Option<u64>,
    pub created_at: i64,
    /// Key scope the staged bytes belong to (the repository's key).
    pub scope: String,
    /// The data key the staged bytes are sealed with, wrapped by the scope's key.
    pub wrapped_key: Vec<u8>,
    /// The blob store's record of where the staged bytes lie (opaque here).
    pub pieces: String,
}

impl Meta {
    /// Opens upload session `id` in the repository, its bytes to be sealed with
    /// the data key `wrapped_key` of key scope `scope`, starting from `hash_state`.
    pub async fn create_upload(
        &self,
        id: Uuid,
        repository_id: i64,
        scope: &str,
        wrapped_key: &[u8],
        hash_state: &[u8],
    ) -> Result<Upload, MetaError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO uploads (id, repository_id, byte_offset, hash_state, parts, created_at, updated_at, \
             scope, wrapped_key) VALUES ($1, $2, 0, $3, 0, $4, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(repository_id)
        .bind(hash_state.to_vec())
        .bind(now)
        .bind(scope)
        .bind(wrapped_key.to_vec())
        .execute(&self.pool)
        .await?;
        Ok(Upload {
            id,
            repository_id,
            offset: 0,
            hash_state: hash_state.to_vec(),
            parts: 0,
            last_part_size: None,
            created_at: now,
            scope: scope.to_string(),
            wrapped_key: wrapped_key.to_vec(),
            pieces: String::new(),
        })
    }

    /// The live upload `id` of the repository: `None` if unknown, or idle
    /// since before `idle_cutoff_ms` (the server's upload TTL ago).
    pub async fn upload(&self, repository_id: i64, id: Uuid, idle_cutoff_ms: i64) -> Result<Option<Upload>, MetaError> {
        let row = sqlx::query(
            "SELECT byte_offset, hash_state, parts, last_part_size, created_at, scope, wrapped_key, pieces FROM uploads \
             WHERE id = $1 AND repository_id = $2 AND updated_at > $3",
        )
        .bind(id.to_string())
        .bind(repository_id)
        .bind(idle_cutoff_ms)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let state: Vec<u8> = get(&row, "hash_state")?;
        Ok(Some(Upload {
            id,
            repository_id,
            offset: get::<i64>(&row, "byte_offset")? as u64,
            hash_state: state,
            parts: get::<i64>(&row, "parts")? as u64,
            last_part_size: get::<Option<i64>>(&row, "last_part_size")?.map(|s| s as u64),
            created_at: get(&row, "created_at")?,
            // Sessions opened before encryption at rest have no key: they cannot continue.
            scope: get::<Option<String>>(&row, "scope")?
                .ok_or_else(|| MetaError::Corrupt(format!("upload {id} has no data key")))?,
            wrapped_key: get::<Option<Vec<u8>>>(&row, "wrapped_key")?.unwrap_or_default(),
            pieces: get(&row, "pieces")?,
        }))
    }

    /// Records that the upload now stands at `offset` with `hash_state` and its
    /// bytes in `pieces`, if it still stood at `from_offset` (another request,
    /// maybe on another node, may have moved it meanwhile: its record wins).
    pub async fn advance_upload(
        &self,
        id: Uuid,
        from_offset: u64,
        offset: u64,
        hash_state: &[u8],
        pieces: &str,
    ) -> Result<(), MetaError> {
        let done = sqlx::query(
            "UPDATE uploads SET byte_offset = $1, hash_state = $2, parts = parts + 1, updated_at = $3, pieces = $6 \
             WHERE id = $4 AND byte_offset = $5",
        )
        .bind(offset as i64)
        .bind(hash_state.to_vec())
        .bind(now_ms())
        .bind(id.to_string())
        .bind(from_offset as i64)
        .bind(pieces)
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
