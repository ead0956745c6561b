//! `nextToken`/`maxResults` pagination (spec §1.1): opaque tokens, default page
//! 100, `maxResults` 1–1000, no `nextToken` member on the last page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::EcrError;

/// A requested page: where it starts and how long it is.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Page {
    /// Reads `nextToken` and `maxResults`.
    pub fn from_input(next_token: Option<&str>, max_results: Option<i64>) -> Result<Page, EcrError> {
        let limit = match max_results {
            None => 100,
            Some(n) if (1..=1000).contains(&n) => n as usize,
            Some(n) => {
                return Err(EcrError::invalid_parameter(format!(
                    "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 1000' (got {n})"
                )));
            }
        };
        let offset = match next_token {
            None => 0,
            Some(t) => decode(t).ok_or_else(|| EcrError::invalid_parameter("Invalid parameter at 'nextToken'"))?,
        };
        Ok(Page { offset, limit })
    }

    /// Sets `nextToken` on `out` when more items follow the `got` returned.
    pub fn finish(self, out: &mut Value, got: usize, more: bool) {
        if more {
            out["nextToken"] = Value::String(encode(self.offset + got));
        }
    }
}

fn encode(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn decode(token: &str) -> Option<usize> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    raw.strip_prefix("o:")?.parse().ok()
}
