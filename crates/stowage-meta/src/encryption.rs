//! Wrapped data keys at rest, found by key scope so a key rotation can re-wrap
//! them all without touching the data they protect.

use crate::{Meta, MetaError, get};

/// Where wrapped data keys are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrappedKeys {
    /// Stored blob objects (`blob_objects.wrapped_key`).
    Objects,
    /// Manifest bodies (`manifests.body_key`, under their repository's key).
    Manifests,
    /// Upload sessions in progress (`uploads.wrapped_key`).
    Uploads,
}

/// One wrapped data key and the row holding it (an opaque cursor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKeyRow {
    pub row: String,
    pub wrapped: Vec<u8>,
}

impl WrappedKeys {
    /// Rows under a scope after a cursor, and the conditional update of one.
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            WrappedKeys::Objects => (
                "SELECT digest AS row_id, wrapped_key AS wrapped FROM blob_objects \
                 WHERE scope = $1 AND digest > $2 ORDER BY digest LIMIT $3",
                "UPDATE blob_objects SET wrapped_key = $1 WHERE scope = $2 AND digest = $3 AND wrapped_key = $4",
            ),
            WrappedKeys::Manifests => (
                "SELECT m.row_id, m.body_key AS wrapped FROM \
                 (SELECT CAST(repository_id AS TEXT) || ' ' || digest AS row_id, repository_id, body_key \
                  FROM manifests) m JOIN repositories r ON r.id = m.repository_id \
                 WHERE r.key_id = $1 AND m.body_key IS NOT NULL AND m.row_id > $2 ORDER BY m.row_id LIMIT $3",
                "UPDATE manifests SET body_key = $1 WHERE repository_id IN \
                 (SELECT id FROM repositories WHERE key_id = $2) \
                 AND CAST(repository_id AS TEXT) || ' ' || digest = $3 AND body_key = $4",
            ),
            WrappedKeys::Uploads => (
                "SELECT id AS row_id, wrapped_key AS wrapped FROM uploads \
                 WHERE scope = $1 AND wrapped_key IS NOT NULL AND id > $2 ORDER BY id LIMIT $3",
                "UPDATE uploads SET wrapped_key = $1 WHERE scope = $2 AND id = $3 AND wrapped_key = $4",
            ),
        }
    }
}

impl Meta {
    /// Up to `limit` wrapped data keys of `scope` in `place`, after cursor `after` ("" to start).
    pub async fn wrapped_keys(
        &self,
        place: WrappedKeys,
        scope: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<WrappedKeyRow>, MetaError> {
        let rows = sqlx::query(place.sql().0)
            .bind(scope)
            .bind(after)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WrappedKeyRow {
                    row: get(r, "row_id")?,
                    wrapped: get(r, "wrapped")?,
                })
            })
            .collect()
    }

    /// Replaces one wrapped data key if it is still `old` (a concurrent
    /// re-wrap or delete wins); returns whether it did.
    pub async fn replace_wrapped_key(
        &self,
        place: WrappedKeys,
        scope: &str,
        row: &WrappedKeyRow,
        new: &[u8],
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(place.sql().1)
            .bind(new.to_vec())
            .bind(scope)
            .bind(&row.row)
            .bind(row.wrapped.clone())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
