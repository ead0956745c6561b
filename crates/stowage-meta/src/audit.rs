//! The audit trail: mutating requests and denials, written in batches (one
//! transaction each) and read back newest first through a filter.

use crate::{Meta, MetaError, get};

/// One recorded request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Epoch milliseconds when the request finished.
    pub at: i64,
    /// The caller's ARN, or `anonymous`.
    pub principal_arn: String,
    /// The account that owns the resource.
    pub account_id: String,
    /// The IAM action, e.g. `ecr:PutImage`.
    pub action: String,
    /// The endpoint or operation served, e.g. `PutManifest`.
    pub operation: String,
    pub resource_arn: String,
    /// The peer address the request came from.
    pub source_ip: Option<String>,
    pub result: AuditResult,
    /// The HTTP status of the response.
    pub status: u16,
    /// The wire error code (`DENIED`, `AccessDeniedException`, …); `None` on success.
    pub error_code: Option<String>,
}

/// Whether the request got past authentication and authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditResult {
    Allowed,
    Denied,
}

impl AuditResult {
    /// `allowed` or `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditResult::Allowed => "allowed",
            AuditResult::Denied => "denied",
        }
    }
}

impl std::str::FromStr for AuditResult {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "allowed" => Ok(AuditResult::Allowed),
            "denied" => Ok(AuditResult::Denied),
            other => Err(format!("unknown audit result '{other}' (allowed or denied)")),
        }
    }
}

/// Which entries to read. Principal, action and resource match exactly, or as
/// globs when they contain `*` (any run of characters) or `?` (one character).
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub principal: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    /// Entries at or after this epoch millisecond.
    pub since: Option<i64>,
    /// Entries before this epoch millisecond.
    pub until: Option<i64>,
    pub result: Option<AuditResult>,
}

/// Rows a multi-row insert carries (10 binds each, under every engine's limit).
const INSERT_CHUNK: usize = 200;
/// Rows read per query while globs are checked here.
const READ_PAGE: i64 = 1000;

const COLUMNS: &str =
    "at, principal_arn, account_id, action, operation, resource_arn, source_ip, result, status, error_code";

impl Meta {
    /// Appends entries in one transaction.
    pub async fn insert_audit(&self, entries: &[AuditEntry]) -> Result<(), MetaError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        for chunk in entries.chunks(INSERT_CHUNK) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", crate::placeholders(i * 10 + 1, 10)))
                .collect();
            let sql = format!("INSERT INTO audit_log ({COLUMNS}) VALUES {}", rows.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(e.at)
                    .bind(e.principal_arn.clone())
                    .bind(e.account_id.clone())
                    .bind(e.action.clone())
                    .bind(e.operation.clone())
                    .bind(e.resource_arn.clone())
                    .bind(e.source_ip.clone())
                    .bind(e.result.as_str())
                    .bind(i64::from(e.status))
                    .bind(e.error_code.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` entries that match `filter`, returned oldest first.
    pub async fn audit_entries(&self, filter: &AuditFilter, limit: usize) -> Result<Vec<AuditEntry>, MetaError> {
        let mut found = Vec::new();
        // Where the previous page ended: (at, id), read newest first.
        let mut before: Option<(i64, i64)> = None;
        while found.len() < limit {
            let mut clauses = Vec::new();
            let mut binds: Vec<Bind> = Vec::new();
            let mut globs = Vec::new();
            for (column, pattern) in [
                ("principal_arn", &filter.principal),
                ("action", &filter.action),
                ("resource_arn", &filter.resource),
            ] {
                let Some(p) = pattern else { continue };
                if is_glob(p) {
                    // LIKE narrows the rows (case-insensitively on SQLite); the
                    // glob itself is checked below, the same on both engines.
                    clauses.push(format!("{column} LIKE ${} ESCAPE '\\'", binds.len() + 1));
                    binds.push(Bind::Text(like_pattern(p)));
                    globs.push((column, p.as_str()));
                } else {
                    clauses.push(format!("{column} = ${}", binds.len() + 1));
                    binds.push(Bind::Text(p.clone()));
                }
            }
            if let Some(since) = filter.since {
                clauses.push(format!("at >= ${}", binds.len() + 1));
                binds.push(Bind::Int(since));
            }
            if let Some(until) = filter.until {
                clauses.push(format!("at < ${}", binds.len() + 1));
                binds.push(Bind::Int(until));
            }
            if let Some(result) = filter.result {
                clauses.push(format!("result = ${}", binds.len() + 1));
                binds.push(Bind::Text(result.as_str().to_string()));
            }
            if let Some((at, id)) = before {
                let n = binds.len();
                clauses.push(format!("(at < ${} OR (at = ${} AND id < ${}))", n + 1, n + 2, n + 3));
                binds.extend([Bind::Int(at), Bind::Int(at), Bind::Int(id)]);
            }
            let wanted = if globs.is_empty() {
                (limit - found.len()) as i64
            } else {
                READ_PAGE
            };
            let sql = format!(
                "SELECT id, {COLUMNS} FROM audit_log {} ORDER BY at DESC, id DESC LIMIT {wanted}",
                if clauses.is_empty() {
                    String::new()
                } else {
                    format!("WHERE {}", clauses.join(" AND "))
                }
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for b in binds {
                q = match b {
                    Bind::Text(s) => q.bind(s),
                    Bind::Int(i) => q.bind(i),
                };
            }
            let rows = q.fetch_all(&self.pool).await?;
            let page_len = rows.len() as i64;
            for r in rows {
                let id: i64 = get(&r, "id")?;
                let entry = entry(&r)?;
                before = Some((entry.at, id));
                let text = |column: &str| match column {
                    "principal_arn" => &entry.principal_arn,
                    "action" => &entry.action,
                    _ => &entry.resource_arn,
                };
                if globs.iter().all(|(column, p)| glob_match(p, text(column))) && found.len() < limit {
                    found.push(entry);
                }
            }
            if page_len < wanted {
                break;
            }
        }
        found.reverse();
        Ok(found)
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

fn entry(r: &sqlx::any::AnyRow) -> Result<AuditEntry, MetaError> {
    let result: String = get(r, "result")?;
    Ok(AuditEntry {
        at: get(r, "at")?,
        principal_arn: get(r, "principal_arn")?,
        account_id: get(r, "account_id")?,
        action: get(r, "action")?,
        operation: get(r, "operation")?,
        resource_arn: get(r, "resource_arn")?,
        source_ip: get(r, "source_ip")?,
        result: result.parse().map_err(MetaError::Corrupt)?,
        status: u16::try_from(get::<i64>(r, "status")?)
            .map_err(|_| MetaError::Corrupt("audit status out of range".into()))?,
        error_code: get(r, "error_code")?,
    })
}

fn is_glob(p: &str) -> bool {
    p.contains(['*', '?'])
}

/// A glob as a LIKE pattern (`*` → `%`, `?` → `_`, LIKE's own characters escaped).
fn like_pattern(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() + 4);
    for c in glob.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether `text` matches `glob` (`*` any run, `?` one character), case-sensitively.
fn glob_match(glob: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(
            "arn:aws:ecr:*:repository/app",
            "arn:aws:ecr:us-east-1:1:repository/app"
        ));
        assert!(glob_match("ecr:Put*", "ecr:PutImage"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("ecr:put*", "ecr:PutImage"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("*/app", "team/app2"));
        assert_eq!(like_pattern("a_b%*?\\"), "a\\_b\\%%_\\\\");
    }
}
