//! `stowage audit`: the audit trail as JSON lines, oldest first, filtered by
//! principal, action, resource (exact or `*`/`?` globs), time range and result.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde_json::json;
use stowage_meta::{AuditEntry, AuditFilter, AuditResult};
use stowage_server::AppState;

/// `stowage audit …`.
#[derive(clap::Args)]
pub struct AuditArgs {
    /// Principal ARN (or `anonymous`); `*` and `?` match as globs.
    #[arg(long)]
    principal: Option<String>,
    /// Action, e.g. `ecr:PutImage` or `ecr:Delete*`.
    #[arg(long)]
    action: Option<String>,
    /// Resource ARN, or a glob such as `arn:aws:ecr:*:repository/team/*`.
    #[arg(long)]
    resource: Option<String>,
    /// Entries at or after this time: RFC 3339 (`2026-01-02T03:04:05Z`) or a duration ago (`1h`).
    #[arg(long, value_parser = parse_time)]
    since: Option<i64>,
    /// Entries before this time: RFC 3339 or a duration ago.
    #[arg(long, value_parser = parse_time)]
    until: Option<i64>,
    /// `allowed` or `denied`.
    #[arg(long)]
    result: Option<AuditResult>,
    /// Print at most this many entries: the newest that match.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
}

/// Prints the matching entries to `out`, one JSON object a line.
pub async fn execute(state: &AppState, args: AuditArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let filter = AuditFilter {
        principal: args.principal,
        action: args.action,
        resource: args.resource,
        since: args.since,
        until: args.until,
        result: args.result,
    };
    let entries = state
        .meta
        .audit_entries(&filter, args.limit)
        .await
        .context("reading the audit trail")?;
    for e in &entries {
        writeln!(out, "{}", entry_json(e))?;
    }
    Ok(())
}

/// An entry as `stowage audit` prints it.
pub fn entry_json(e: &AuditEntry) -> serde_json::Value {
    json!({
        "time": rfc3339_ms(e.at),
        "principal": e.principal_arn,
        "account": e.account_id,
        "action": e.action,
        "operation": e.operation,
        "resource": e.resource_arn,
        "sourceIp": e.source_ip,
        "result": e.result.as_str(),
        "status": e.status,
        "errorCode": e.error_code,
    })
}

fn rfc3339_ms(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// Epoch milliseconds of an RFC 3339 time, or of now minus a duration (`90s`, `2h`, `7days`).
fn parse_time(s: &str) -> Result<i64, String> {
    let at = match humantime::parse_rfc3339_weak(s) {
        Ok(t) => t,
        Err(_) => {
            let ago = humantime::parse_duration(s)
                .map_err(|_| format!("'{s}' is neither an RFC 3339 time nor a duration such as 1h"))?;
            SystemTime::now()
                .checked_sub(ago)
                .ok_or_else(|| format!("'{s}' reaches before 1970"))?
        }
    };
    let ms = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("'{s}' is before 1970"))?;
    Ok(ms.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Ok(1000));
        assert_eq!(parse_time("2026-01-02T03:04:05.250Z"), Ok(1_767_323_045_250));
        let hour_ago = parse_time("1h").unwrap();
        let now = stowage_meta::now_ms();
        assert!((now - 3_600_000 - hour_ago).abs() < 5_000);
        assert!(parse_time("yesterday").is_err());
        assert_eq!(rfc3339_ms(1_767_323_045_250), "2026-01-02T03:04:05.250Z");
    }
}
