//! The vulnerability database: advisories by id, the packages each names, and
//! per-source counts and update times. Imports are idempotent: a record whose
//! `modified` and body are unchanged is left alone.

use std::collections::BTreeSet;

use crate::{Meta, MetaError, get, now_ms};

/// An advisory to store.
#[derive(Clone, Debug)]
pub struct NewAdvisory {
    pub id: String,
    /// The ecosystem it was published for (`PyPI`, `Debian`, …).
    pub source: String,
    /// As published (RFC 3339).
    pub modified: String,
    pub modified_ms: i64,
    /// The OSV record as JSON.
    pub body: String,
    /// (ecosystem without release, name as matched) of every package it names.
    pub packages: BTreeSet<(String, String)>,
}

/// A source of advisories and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VulnSource {
    pub name: String,
    pub advisories: i64,
    /// The newest `modified` among its advisories, epoch ms (the last import
    /// that changed it when none carries a time).
    pub updated_at: i64,
    /// When an import last changed it, epoch ms.
    pub imported_at: i64,
}

impl Meta {
    /// Stores a batch of advisories in one transaction; returns the ids that
    /// were new or changed. The touched sources' counts and times are updated.
    pub async fn put_advisories(&self, batch: &[NewAdvisory]) -> Result<Vec<String>, MetaError> {
        let mut tx = self.write_tx().await?;
        let mut changed = Vec::new();
        let mut sources = BTreeSet::new();
        for a in batch {
            let stored: Option<(String, String, String)> =
                sqlx::query("SELECT modified, body, source FROM advisories WHERE id = $1")
                    .bind(&a.id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|row| Ok::<_, MetaError>((get(&row, "modified")?, get(&row, "body")?, get(&row, "source")?)))
                    .transpose()?;
            if let Some((modified, body, source)) = &stored {
                if *modified == a.modified && *body == a.body && *source == a.source {
                    continue;
                }
                sources.insert(source.clone());
            }
            sqlx::query(
                "INSERT INTO advisories (id, source, modified, modified_ms, body) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET source = excluded.source, modified = excluded.modified, \
                 modified_ms = excluded.modified_ms, body = excluded.body",
            )
            .bind(&a.id)
            .bind(&a.source)
            .bind(&a.modified)
            .bind(a.modified_ms)
            .bind(&a.body)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM advisory_packages WHERE advisory_id = $1")
                .bind(&a.id)
                .execute(&mut *tx)
                .await?;
            for (ecosystem, name) in &a.packages {
                sqlx::query("INSERT INTO advisory_packages (ecosystem, name, advisory_id) VALUES ($1, $2, $3)")
                    .bind(ecosystem)
                    .bind(name)
                    .bind(&a.id)
                    .execute(&mut *tx)
                    .await?;
            }
            sources.insert(a.source.clone());
            changed.push(a.id.clone());
        }
        let now = now_ms();
        for source in &sources {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, COALESCE(MAX(modified_ms), 0) AS newest FROM advisories WHERE source = $1",
            )
            .bind(source)
            .fetch_one(&mut *tx)
            .await?;
            let (n, newest): (i64, i64) = (get(&row, "n")?, get(&row, "newest")?);
            // Some sources publish no modification times (Go's records all say
            // 0001-01-01): then the import that changed them dates them.
            let updated = if newest > 0 { newest } else { now };
            sqlx::query(
                "INSERT INTO vuln_sources (name, advisories, updated_at, imported_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET advisories = excluded.advisories, \
                 updated_at = excluded.updated_at, imported_at = excluded.imported_at",
            )
            .bind(source)
            .bind(n)
            .bind(updated)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Every source, by name.
    pub async fn vuln_sources(&self) -> Result<Vec<VulnSource>, MetaError> {
        let rows = sqlx::query("SELECT name, advisories, updated_at, imported_at FROM vuln_sources ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(VulnSource {
                    name: get(row, "name")?,
                    advisories: get(row, "advisories")?,
                    updated_at: get(row, "updated_at")?,
                    imported_at: get(row, "imported_at")?,
                })
            })
            .collect()
    }

    /// The advisories naming any of `packages` ((ecosystem without release,
    /// name as matched) pairs): (ecosystem, name, advisory id, JSON body), a
    /// few queries for any number of packages.
    pub async fn advisories_for_packages(
        &self,
        packages: &[(String, String)],
    ) -> Result<Vec<(String, String, String, String)>, MetaError> {
        let mut out = Vec::new();
        for chunk in packages.chunks(200) {
            let values = (0..chunk.len())
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT p.ecosystem, p.name, a.id, a.body FROM advisory_packages p \
                 JOIN advisories a ON a.id = p.advisory_id WHERE (p.ecosystem, p.name) IN (VALUES {values}) \
                 ORDER BY p.ecosystem, p.name, a.id"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (ecosystem, name) in chunk {
                q = q.bind(ecosystem).bind(name);
            }
            for row in q.fetch_all(&self.pool).await? {
                out.push((
                    get(&row, "ecosystem")?,
                    get(&row, "name")?,
                    get(&row, "id")?,
                    get(&row, "body")?,
                ));
            }
        }
        Ok(out)
    }
}
