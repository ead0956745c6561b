//! Blobs and their links to repositories: a blob is readable only in a
//! repository that uploaded, mounted or references it.

use stowage_core::Digest;

use crate::{Meta, MetaError, get, now_ms};

/// A blob as seen from one repository: readable there through the object
/// stored under the repository's key scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobLink {
    pub digest: Digest,
    pub size: u64,
    /// The object's data key, wrapped by the scope's key.
    pub wrapped_key: Vec<u8>,
}

/// Links of `repository_id` to `digest` that have an object under `scope`.
const LINKED_OBJECT: &str = "SELECT b.size, o.wrapped_key FROM repository_blobs rb \
     JOIN blobs b ON b.digest = rb.digest \
     JOIN blob_objects o ON o.digest = rb.digest AND o.scope = $3 \
     WHERE rb.repository_id = $1 AND rb.digest = $2";

fn link_from(row: &sqlx::any::AnyRow, digest: &Digest) -> Result<BlobLink, MetaError> {
    Ok(BlobLink {
        digest: *digest,
        size: get::<i64>(row, "size")? as u64,
        wrapped_key: get(row, "wrapped_key")?,
    })
}

impl Meta {
    /// The blob `digest` if it is linked to the repository and stored under
    /// `scope` (the repository's key).
    pub async fn repository_blob(
        &self,
        repository_id: i64,
        digest: &Digest,
        scope: &str,
    ) -> Result<Option<BlobLink>, MetaError> {
        let row = sqlx::query(LINKED_OBJECT)
            .bind(repository_id)
            .bind(digest.to_string())
            .bind(scope)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| link_from(&r, digest)).transpose()
    }

    /// Records a blob stored under the repository's key scope and links it
    /// (idempotent): a shortcut past uploads for tests.
    #[cfg(test)]
    pub(crate) async fn link_blob(&self, repository_id: i64, digest: &Digest, size: u64) -> Result<(), MetaError> {
        let mut tx = self.write_tx().await?;
        crate::gc::lock_shared(&mut tx, self.dialect, std::slice::from_ref(digest)).await?;
        link_in(&mut tx, repository_id, digest, size).await?;
        sqlx::query(
            "INSERT INTO blob_objects (scope, digest, wrapped_key, created_at) \
             SELECT key_id, $2, $3, 0 FROM repositories WHERE id = $1 ON CONFLICT DO NOTHING",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .bind(b"wrapped".to_vec())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Links a blob already linked to `from_repository_id` into `repository_id`
    /// (a cross-repository mount). `None` when the source has no such blob, or
    /// it is not stored under `scope` (the target's key): a repository under
    /// another key gets its own copy by upload.
    pub async fn mount_blob(
        &self,
        repository_id: i64,
        from_repository_id: i64,
        digest: &Digest,
        scope: &str,
    ) -> Result<Option<BlobLink>, MetaError> {
        let mut tx = self.write_tx().await?;
        crate::gc::lock_shared(&mut tx, self.dialect, std::slice::from_ref(digest)).await?;
        let row = sqlx::query(LINKED_OBJECT)
            .bind(from_repository_id)
            .bind(digest.to_string())
            .bind(scope)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let link = link_from(&row, digest)?;
        link_in(&mut tx, repository_id, digest, link.size).await?;
        tx.commit().await?;
        Ok(Some(link))
    }

    /// Removes a blob's link to the repository, refusing while a manifest there
    /// references it. Returns whether a link was removed.
    pub async fn unlink_blob(&self, repository_id: i64, digest: &Digest) -> Result<bool, MetaError> {
        let mut tx = self.write_tx().await?;
        let user = sqlx::query(
            "SELECT manifest_digest FROM manifest_blobs WHERE repository_id = $1 AND blob_digest = $2 LIMIT 1",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = user {
            let m: String = get(&row, "manifest_digest")?;
            return Err(MetaError::BlobReferenced(crate::parse_digest(&m)?));
        }
        crate::gc::queue_blobs(&mut tx, std::slice::from_ref(digest)).await?;
        let done = sqlx::query("DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2")
            .bind(repository_id)
            .bind(digest.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Inserts the blob row (if new) and the repository link (if new) inside `tx`.
pub(crate) async fn link_in(
    tx: &mut crate::Tx,
    repository_id: i64,
    digest: &Digest,
    size: u64,
) -> Result<(), MetaError> {
    let now = now_ms();
    sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING")
        .bind(digest.to_string())
        .bind(size as i64)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (repository_id, digest) DO NOTHING",
    )
    .bind(repository_id)
    .bind(digest.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    // A blob nothing ends up referencing is collected once the grace period passes.
    crate::gc::queue_blobs(tx, std::slice::from_ref(digest)).await?;
    Ok(())
}
