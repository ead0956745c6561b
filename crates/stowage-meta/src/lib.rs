//! Stowage metadata in SQL. One query code path serves SQLite (the zero-config
//! default) and PostgreSQL (shared by many nodes) through sqlx's `Any` driver;
//! the dialects differ only in their migration DDL and in how a write
//! transaction starts. Every transaction in Stowage lives in this crate.

mod accounts;
mod audit;
mod blobs;
mod encryption;
mod gc;
mod iam;
mod identity;
mod images;
mod kms;
mod lifecycle;
mod manifests;
mod policies;
mod repositories;
mod scans;
mod sealed;
mod uploads;
mod vulndb;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Transaction};
use stowage_core::Digest;

pub use audit::{AuditEntry, AuditFilter, AuditResult};
pub use blobs::BlobLink;
pub use encryption::{WrappedKeyRow, WrappedKeys};
pub use gc::{BlobGuard, GcGuard, Review, Verdict};
pub use iam::{AccessKeyInfo, Entity, EntityKind, IdentityPolicy, ManagedPolicyRecord};
pub use identity::AccessKey;
pub use images::{ImageRecord, TagStatus};
pub use kms::{KmsAlias, KmsKey, KmsKeyState, KmsKeyVersion, NewKmsKey};
pub use lifecycle::{
    ExpiredImage, Expiring, ExpiryOutcome, ImageRole, LifecycleImage, LifecyclePolicyRecord, PreviewRecord,
};
pub use manifests::{PutManifest, PutManifestOutcome, Referrer, StoredManifest};
pub use repositories::{NewRepository, Repository};
pub use scans::{ClaimedScan, Queued, ScanRecord, ScanRequest, ScanResult, status as scan_status};
pub use sealed::{ResealError, Resealed, SealedValue, SettingSwap};
pub use uploads::Upload;
pub use vulndb::{NewAdvisory, VulnSource};

/// Errors of the metadata store: outcomes a caller must handle, and database failures.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("repository '{0}' does not exist")]
    RepositoryNotFound(String),
    #[error("repository '{0}' already exists")]
    RepositoryAlreadyExists(String),
    #[error("repository '{0}' still contains images")]
    RepositoryNotEmpty(String),
    #[error("too many resource tags")]
    TooManyTags,
    #[error("manifest references blobs unknown to the repository: {0:?}")]
    BlobsMissing(Vec<Digest>),
    #[error("index references manifests unknown to the repository: {0:?}")]
    ManifestsMissing(Vec<Digest>),
    #[error("tag '{0}' is immutable")]
    TagImmutable(String),
    #[error("manifest is referenced by index {0}")]
    ManifestReferenced(Digest),
    #[error("blob is referenced by manifest {0}")]
    BlobReferenced(Digest),
    #[error("upload session unknown or expired")]
    UploadNotFound,
    #[error("upload was changed by another request")]
    UploadConflict,
    /// An IAM user, group, role or policy of that name already exists.
    #[error("entity '{0}' already exists")]
    EntityAlreadyExists(String),
    /// The IAM entity (by ARN) does not exist.
    #[error("entity '{0}' does not exist")]
    NoSuchEntity(String),
    /// An IAM entity cannot be deleted yet; the text is IAM's message.
    #[error("{0}")]
    DeleteConflict(String),
    #[error("stored metadata is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Which SQL engine is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The metadata store: a connection pool and its dialect.
#[derive(Clone, Debug)]
pub struct Meta {
    pool: AnyPool,
    dialect: Dialect,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Meta {
    /// Connects to `url` (`sqlite://PATH` or `postgres://…`) and applies migrations.
    pub async fn connect(url: &str) -> Result<Self, MetaError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            return Err(MetaError::Db(sqlx::Error::Configuration(
                "database URL must start with sqlite: or postgres:".into(),
            )));
        };
        let options = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Sqlite => 8,
                Dialect::Postgres => 32,
            })
            .acquire_timeout(Duration::from_secs(30));
        let options = if dialect == Dialect::Sqlite {
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the single writer; synchronous=FULL
                    // makes every acknowledged commit durable.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;",
                    )
                    .await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let url = if dialect == Dialect::Sqlite && !url.contains('?') {
            format!("{url}?mode=rwc")
        } else {
            url.to_string()
        };
        let pool = options.connect(&url).await?;
        let meta = Meta { pool, dialect };
        match dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS.run(&meta.pool).await?,
            Dialect::Postgres => POSTGRES_MIGRATIONS.run(&meta.pool).await?,
        }
        Ok(meta)
    }

    /// The SQL engine in use.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Checks the database answers (readiness).
    pub async fn ping(&self) -> Result<(), MetaError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction that will write. SQLite takes its write lock up front
    /// so a read-then-write transaction cannot fail to upgrade under concurrency.
    async fn write_tx(&self) -> Result<Transaction<'static, Any>, MetaError> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    /// Starts a read-only transaction: one consistent snapshot that never takes
    /// SQLite's write lock (WAL readers do not block writers).
    async fn read_tx(&self) -> Result<Transaction<'static, Any>, MetaError> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN DEFERRED").await?,
            Dialect::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        })
    }
}

/// A transaction on the pool.
type Tx = Transaction<'static, Any>;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `$from, $from+1, …` placeholders for an `IN (…)` list of `n` values.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn parse_digest(s: &str) -> Result<Digest, MetaError> {
    s.parse()
        .map_err(|_| MetaError::Corrupt(format!("bad digest '{s}' in database")))
}

fn get<T>(row: &AnyRow, col: &str) -> Result<T, MetaError>
where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    use sqlx::Row;
    Ok(row.try_get(col)?)
}

#[cfg(test)]
mod tests;
