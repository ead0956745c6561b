//! Server-side AWS Signature Version 4 verification for the control plane
//! (ecr-api.md §1.5): parsing the `Authorization` header, building the
//! canonical request and string to sign, deriving the signing key, and
//! [`verify`], which runs the spec's checks in order and maps every failure to
//! the AWS error the real service would return. Pure: no clock, no I/O — the
//! caller passes the current time and looks up secrets through a closure.
//!
//! Canonicalisation follows the non-S3 rules that the AWS SDKs (botocore,
//! `aws-sigv4`) use: the path has its dot segments and empty segments removed
//! and is then URI-encoded again (so `%20` on the wire becomes `%2520`), the
//! query is decoded and re-encoded with only RFC 3986 unreserved characters
//! left bare, and header values are trimmed with inner whitespace collapsed.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// The only signing algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The fixed last element of every credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";

/// How far the request timestamp may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// A received request, as much of it as SigV4 covers.
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The path exactly as received on the wire (still percent-encoded), without the query.
    pub path: &'a str,
    /// The raw query string without the leading `?` (empty when there is none).
    pub query: &'a str,
    /// Every header as received, names lowercase, repeated names allowed. Over
    /// HTTP/2 the caller puts `:authority` here as `host`.
    pub headers: &'a [(String, String)],
    /// The exact body bytes received.
    pub body: &'a [u8],
}

/// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id, the first element of `Credential`.
    pub access_key_id: String,
    /// The scope date, `yyyymmdd`.
    pub date: String,
    /// The scope region, e.g. `us-east-1`.
    pub region: String,
    /// The scope service (signing name), e.g. `ecr`.
    pub service: String,
    /// The scope terminator; [`verify`] requires [`SCOPE_TERMINATOR`].
    pub terminator: String,
    /// The `SignedHeaders` names, in the order given (clients send them lowercase and sorted).
    pub signed_headers: Vec<String>,
    /// The `Signature`: 64 lowercase hex digits.
    pub signature: String,
}

impl Authorization {
    /// The credential scope `date/region/service/terminator`, as it appears in the string to sign.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/{}", self.date, self.region, self.service, self.terminator)
    }
}

/// What the caller knows about an access key: its secret and, for temporary
/// credentials, the session token issued with it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token the request must carry in `X-Amz-Security-Token`, if any.
    pub session_token: Option<String>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The identity a successfully verified request was signed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The access key id from the credential scope.
    pub access_key_id: String,
    /// The region the request was signed for.
    pub region: String,
    /// The service (signing name) the request was signed for.
    pub service: String,
}

/// Why a request failed SigV4 authentication; each variant is one AWS
/// front-end error code (ecr-api.md §1.4), all HTTP 400.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// A malformed `Authorization` header, or no usable date header.
    #[error("{0}")]
    IncompleteSignature(String),
    /// Signature mismatch, clock skew, wrong scope, or a header that must be signed but is not.
    #[error("{0}")]
    InvalidSignature(String),
    /// Unknown access key id, or a session token that does not match the key.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The session token has expired. [`verify`] never returns this (it does not
    /// know expiry times); callers holding session expiry use it after lookup.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
}

impl SigV4Error {
    /// The `__type` value of the JSON error body.
    pub fn aws_code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature(_) => "IncompleteSignatureException",
            Self::InvalidSignature(_) => "InvalidSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::ExpiredToken => "ExpiredTokenException",
        }
    }

    /// The HTTP status: AWS answers every authentication failure with 400.
    pub fn http_status(&self) -> u16 {
        400
    }
}

/// Parses an `Authorization` header value. Components are separated by `,`
/// plus optional spaces and may come in any order; anything else — another
/// scheme, a missing, repeated or unknown component, a credential that is not
/// `AKID/date/region/service/terminator`, an empty signed-header name, a
/// signature that is not 64 lowercase hex digits — is `IncompleteSignature`.
pub fn parse_authorization(header: &str) -> Result<Authorization, SigV4Error> {
    let incomplete = |msg: String| SigV4Error::IncompleteSignature(msg);
    let Some(rest) = header.strip_prefix(ALGORITHM).filter(|rest| rest.starts_with(' ')) else {
        // Not ours: do not echo the value back (it may be a password or bearer token).
        return Err(incomplete(
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.".to_owned(),
        ));
    };

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',') {
        let component = component.trim_matches(' ');
        // AWS tokenises on spaces too, so a stray space inside a value (a
        // pasted key with a trailing blank) gets its "missing equal-sign" message.
        if let Some(token) = component.split(' ').find(|t| !t.contains('=')) {
            return Err(incomplete(format!(
                "'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'."
            )));
        }
        let Some((key, value)) = component.split_once('=').filter(|_| !component.contains(' ')) else {
            return Err(incomplete(format!(
                "Authorization header parameters must be separated by ',': '{header}'."
            )));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(incomplete(format!(
                    "Unexpected parameter '{key}' in Authorization header: '{header}'."
                )));
            }
        };
        if slot.replace(value).is_some() {
            return Err(incomplete(format!(
                "Authorization header has a repeated '{key}' parameter: '{header}'."
            )));
        }
    }

    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        let mut msg = String::new();
        for (name, present) in [
            ("Credential", credential.is_some()),
            ("Signature", signature.is_some()),
            ("SignedHeaders", signed_headers.is_some()),
        ] {
            if !present {
                msg.push_str(&format!("Authorization header requires '{name}' parameter. "));
            }
        }
        msg.push_str(&format!("Authorization={header}"));
        return Err(incomplete(msg));
    };

    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminator] = parts[..] else {
        return Err(incomplete(format!(
            "Credential is malformed; expecting \"<AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\": '{credential}'."
        )));
    };
    if akid.is_empty() {
        return Err(incomplete(format!(
            "Credential is malformed; the access key id is empty: '{credential}'."
        )));
    }

    // An empty list is syntactically fine; the "host must be signed" check rejects it.
    let signed_headers: Vec<String> = if signed_headers.is_empty() {
        Vec::new()
    } else {
        signed_headers.split(';').map(str::to_owned).collect()
    };
    if signed_headers.iter().any(String::is_empty) {
        return Err(incomplete(format!(
            "SignedHeaders contains an empty header name: '{header}'."
        )));
    }

    if signature.len() != 64
        || !signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(incomplete(format!(
            "Signature must be 64 lowercase hexadecimal digits: '{header}'."
        )));
    }

    Ok(Authorization {
        access_key_id: akid.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        terminator: terminator.to_owned(),
        signed_headers,
        signature: signature.to_owned(),
    })
}

/// The canonical request (ecr-api.md §1.5 step 7) for `req` under the signed
/// headers of `auth`, with the payload hash computed from `req.body`.
pub fn canonical_request(req: &SignedRequest<'_>, auth: &Authorization) -> String {
    canonical_request_with_hash(req, &auth.signed_headers, &payload_hash(req.body))
}

/// The string to sign: algorithm, request timestamp (`yyyymmddThhmmssZ`),
/// credential scope and the hex SHA-256 of the canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The signing key `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
/// It depends only on its arguments, so callers may cache it per key and day.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, SCOPE_TERMINATOR.as_bytes())
}

/// The signature: lowercase hex of `HMAC(signing_key, string_to_sign)`.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// Credentials a client signs with.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Signs a request as a client: returns the headers to add (`x-amz-date`,
/// `x-amz-security-token` when the credentials have one, and `authorization`).
/// `req.headers` must already hold `host` and every other header to sign;
/// all of them are signed.
pub fn sign(
    req: &SignedRequest<'_>,
    creds: &Credentials,
    region: &str,
    service: &str,
    now_epoch_secs: i64,
) -> Vec<(String, String)> {
    let amz_date = format_amz_date(now_epoch_secs);
    let mut extra = vec![("x-amz-date".to_string(), amz_date.clone())];
    if let Some(t) = &creds.session_token {
        extra.push(("x-amz-security-token".to_string(), t.clone()));
    }
    let headers: Vec<(String, String)> = req.headers.iter().cloned().chain(extra.iter().cloned()).collect();
    let mut names: Vec<String> = headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let auth = Authorization {
        access_key_id: creds.access_key_id.clone(),
        date: amz_date[..8].to_string(),
        region: region.to_string(),
        service: service.to_string(),
        terminator: SCOPE_TERMINATOR.to_string(),
        signed_headers: names,
        signature: String::new(),
    };
    let full = SignedRequest {
        headers: &headers,
        ..*req
    };
    let canonical = canonical_request(&full, &auth);
    let sts = string_to_sign(&amz_date, &auth.scope(), &canonical);
    let sig = signature(
        &signing_key(&creds.secret_access_key, &auth.date, region, service),
        &sts,
    );
    extra.push((
        "authorization".to_string(),
        format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={sig}",
            creds.access_key_id,
            auth.scope(),
            auth.signed_headers.join(";")
        ),
    ));
    extra
}

/// Verifies a SigV4-signed request, in the order of ecr-api.md §1.5:
///
/// 1. parse `Authorization` (absent → `MissingAuthenticationToken`, several or
///    malformed → `IncompleteSignature`);
/// 2. scope: service must be `expected_service`, region `allowed_region`,
///    terminator `aws4_request` (→ `InvalidSignature`, AWS's wording);
/// 3. timestamp from `x-amz-date`, else `Date` (RFC 1123); none or unparsable →
///    `IncompleteSignature`; its day must be the scope date and it must lie
///    within ±[`MAX_CLOCK_SKEW_SECS`] of `now_epoch_secs` (→ `InvalidSignature`);
/// 4. `host`, the `Date` header when it supplied the timestamp, and every
///    `x-amz-*` header present (so `x-amz-date`, `x-amz-security-token` and the
///    operation selector `x-amz-target`) must be signed (→ `InvalidSignature`,
///    as AWS does for `host`);
/// 5. `lookup_secret` is called once with the access key id; unknown key, or a
///    session token that is missing, unexpected or different → `UnrecognizedClient`;
/// 6. `x-amz-content-sha256`, if present, must equal the body's hash (→ `InvalidSignature`);
/// 7. the signature is recomputed and compared in constant time (→ `InvalidSignature`).
pub fn verify(
    req: &SignedRequest<'_>,
    expected_service: &str,
    allowed_region: &str,
    now_epoch_secs: i64,
    lookup_secret: impl FnOnce(&str) -> Option<Secret>,
) -> Result<Verified, SigV4Error> {
    let invalid = |msg: String| SigV4Error::InvalidSignature(msg);

    // 1. Authorization.
    let header = match header_values(req.headers, "authorization").collect::<Vec<_>>()[..] {
        [] => return Err(SigV4Error::MissingAuthenticationToken),
        [one] => one,
        _ => {
            return Err(SigV4Error::IncompleteSignature(
                "Only one Authorization header may be present.".to_owned(),
            ));
        }
    };
    let auth = parse_authorization(header)?;

    // 2. Credential scope.
    if auth.service != expected_service {
        return Err(invalid(format!(
            "Credential should be scoped to correct service: '{expected_service}'."
        )));
    }
    if auth.region != allowed_region {
        return Err(invalid(format!(
            "Credential should be scoped to a valid region, not '{}'.",
            auth.region
        )));
    }
    if auth.terminator != SCOPE_TERMINATOR {
        return Err(invalid(format!(
            "Credential should be scoped with a valid terminator: '{SCOPE_TERMINATOR}', not '{}'.",
            auth.terminator
        )));
    }

    // 3. Timestamp.
    let (amz_date, signed_at, date_header) = request_timestamp(req.headers, header)?;
    if amz_date[..8] != auth.date {
        return Err(invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            &amz_date[..8]
        )));
    }
    if signed_at < now_epoch_secs.saturating_sub(MAX_CLOCK_SKEW_SECS) {
        return Err(invalid(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
            format_amz_date(now_epoch_secs.saturating_sub(MAX_CLOCK_SKEW_SECS)),
            format_amz_date(now_epoch_secs)
        )));
    }
    if signed_at > now_epoch_secs.saturating_add(MAX_CLOCK_SKEW_SECS) {
        // AWS's wording for a timestamp in the future.
        return Err(invalid(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
            format_amz_date(now_epoch_secs.saturating_add(MAX_CLOCK_SKEW_SECS)),
            format_amz_date(now_epoch_secs)
        )));
    }

    // 4. Headers that must be signed.
    let is_signed = |name: &str| auth.signed_headers.iter().any(|s| s.eq_ignore_ascii_case(name));
    if !is_signed("host") {
        return Err(invalid(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    let must_be_signed = req
        .headers
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| name.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("x-amz-")))
        .chain(date_header.then_some("date"));
    for name in must_be_signed {
        if !is_signed(name) {
            return Err(invalid(format!(
                "'{name}' must be a 'SignedHeader' in the AWS Authorization."
            )));
        }
    }

    // 5. Credentials.
    let secret = lookup_secret(&auth.access_key_id).ok_or(SigV4Error::UnrecognizedClient)?;
    let presented_token = has_header(req.headers, "x-amz-security-token")
        .then(|| canonical_header_value(req.headers, "x-amz-security-token"));
    match (&secret.session_token, &presented_token) {
        (None, None) => {}
        (Some(expected), Some(presented)) if bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) => {}
        _ => return Err(SigV4Error::UnrecognizedClient),
    }

    // 6. Payload hash.
    let payload_hash = payload_hash(req.body);
    if has_header(req.headers, "x-amz-content-sha256")
        && canonical_header_value(req.headers, "x-amz-content-sha256") != payload_hash
    {
        return Err(invalid(
            "The provided 'x-amz-content-sha256' header does not match what was computed.".to_owned(),
        ));
    }

    // 7. Signature.
    let creq = canonical_request_with_hash(req, &auth.signed_headers, &payload_hash);
    let sts = string_to_sign(&amz_date, &auth.scope(), &creq);
    let key = signing_key(&secret.secret_access_key, &auth.date, &auth.region, &auth.service);
    let expected = signature(&key, &sts);
    if !bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        return Err(invalid(SIGNATURE_MISMATCH.to_owned()));
    }

    Ok(Verified {
        access_key_id: auth.access_key_id,
        region: auth.region,
        service: auth.service,
    })
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn canonical_request_with_hash(req: &SignedRequest<'_>, signed_headers: &[String], payload_hash: &str) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        out.push_str(&canonical_header_value(req.headers, name));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// The values of every header named `name` (ASCII case-insensitively), in order.
fn header_values<'h>(headers: &'h [(String, String)], name: &'h str) -> impl Iterator<Item = &'h str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    header_values(headers, name).next().is_some()
}

/// All values of `name`, each trimmed with inner whitespace runs collapsed to
/// one space, joined with `,` (empty when the header is absent).
fn canonical_header_value(headers: &[(String, String)], name: &str) -> String {
    header_values(headers, name)
        .map(|v| v.split_ascii_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(",")
}

/// The canonical URI: dot segments and empty segments removed (RFC 3986 §5.2.4,
/// as the SDKs do for every service but S3), then each segment URI-encoded
/// again, so an already-encoded `%2F` becomes `%252F`.
fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for segment in &segments {
        out.push('/');
        uri_encode_into(&mut out, segment.as_bytes());
    }
    // A trailing slash survives normalisation ("/a/." and "/a/b/.." both end in a directory).
    let trailing_slash =
        path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..") || path == "." || path == "..";
    if segments.is_empty() || trailing_slash {
        out.push('/');
    }
    out
}

/// The canonical query string: each `name=value` pair form-decoded (`+` is a
/// space), re-encoded with only unreserved characters bare, sorted by encoded
/// name then value, and joined with `&`. A pair without `=` has an empty value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (uri_encode(&form_decode(name)), uri_encode(&form_decode(value)))
        })
        .collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes `+` to a space and valid `%XX` escapes to bytes; anything else is kept as is.
fn form_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_val);
                let lo = bytes.get(i + 2).copied().and_then(hex_val);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn uri_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    uri_encode_into(&mut out, bytes);
    out
}

/// Percent-encodes every byte except the RFC 3986 unreserved characters `A-Za-z0-9-_.~`.
fn uri_encode_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// The request time as (`yyyymmddThhmmssZ`, epoch seconds, whether it came from `Date`).
fn request_timestamp(headers: &[(String, String)], authorization: &str) -> Result<(String, i64, bool), SigV4Error> {
    let bad_format = |value: &str| {
        SigV4Error::IncompleteSignature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))
    };
    if has_header(headers, "x-amz-date") {
        let value = canonical_header_value(headers, "x-amz-date");
        let epoch = parse_amz_date(&value).ok_or_else(|| bad_format(&value))?;
        return Ok((value, epoch, false));
    }
    if has_header(headers, "date") {
        let value = canonical_header_value(headers, "date");
        let epoch = parse_http_date(&value).ok_or_else(|| bad_format(&value))?;
        return Ok((format_amz_date(epoch), epoch, true));
    }
    Err(SigV4Error::IncompleteSignature(format!(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={authorization}"
    )))
}

/// Parses `yyyymmddThhmmssZ` into epoch seconds.
fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = s.get(range)?;
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    epoch_from_parts(
        i64::from(num(0..4)?),
        num(4..6)?,
        num(6..8)?,
        num(9..11)?,
        num(11..13)?,
        num(13..15)?,
    )
}

/// Parses an RFC 1123 date, `Sun, 06 Nov 1994 08:49:37 GMT`, into epoch seconds.
fn parse_http_date(s: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let b = s.as_bytes();
    if b.len() != 29 || !s.is_ascii() || &s[3..5] != ", " || &s[25..] != " GMT" {
        return None;
    }
    if !DAYS.contains(&&s[..3]) || b[7] != b' ' || b[11] != b' ' || b[16] != b' ' {
        return None;
    }
    if b[19] != b':' || b[22] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &s[range];
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let month = MONTHS.iter().position(|m| *m == &s[8..11])? as u32 + 1;
    epoch_from_parts(
        i64::from(num(12..16)?),
        month,
        num(5..7)?,
        num(17..19)?,
        num(20..22)?,
        num(23..25)?,
    )
}

fn epoch_from_parts(year: i64, month: u32, day: u32, h: u32, m: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s))
}

/// Formats epoch seconds as `yyyymmddThhmmssZ` (UTC), the `X-Amz-Date` form.
pub fn format_amz_date(epoch: i64) -> String {
    let (days, secs) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}{mo:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil / civil-from-days (proleptic Gregorian, day 0 = 1970-01-01).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use proptest::prelude::*;

    use super::*;

    /// 2026-11-26T23:08:11Z, the time of the spec's captured request.
    const SPEC_NOW: i64 = 1_795_734_491;
    const SPEC_SIGNATURE: &str = "96cf5f11dc8574a788a81c6a5c63cfa9b0e26fdc4fd2d01bab34ddfc5e269d38";
    const SPEC_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261126/us-east-1/ecr/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=96cf5f11dc8574a788a81c6a5c63cfa9b0e26fdc4fd2d01bab34ddfc5e269d38";
    const SPEC_CANONICAL_REQUEST: &str = "POST
/

content-type:application/x-amz-json-1.1
host:127.0.0.1:9999
x-amz-date:20261126T230811Z
x-amz-target:AmazonEC2ContainerRegistry_V20150921.DescribeRepositories

content-type;host;x-amz-date;x-amz-target
44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    /// The captured `aws ecr describe-repositories` request of ecr-api.md §1.2.
    fn spec_headers() -> Vec<(String, String)> {
        headers(&[
            ("host", "127.0.0.1:9999"),
            ("accept-encoding", "identity"),
            (
                "x-amz-target",
                "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
            ),
            ("content-type", "application/x-amz-json-1.1"),
            ("user-agent", "aws-cli/1.46.3 md/Botocore#1.43.62 ua/2.1"),
            ("x-amz-date", "20261126T230811Z"),
            ("authorization", SPEC_AUTHORIZATION),
            ("amz-sdk-invocation-id", "33f93d27-0809-4aa8-a27c-73b3acdeee51"),
            ("amz-sdk-request", "attempt=1"),
            ("content-length", "2"),
        ])
    }

    fn request<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers,
            body,
        }
    }

    fn secret(key: &str) -> Secret {
        Secret {
            secret_access_key: key.to_owned(),
            session_token: None,
        }
    }

    fn verify_spec(hs: &[(String, String)], body: &[u8], now: i64) -> Result<Verified, SigV4Error> {
        verify(&request(hs, body), "ecr", "us-east-1", now, |akid| {
            (akid == "AKIAEXAMPLE").then(|| secret("secret"))
        })
    }

    fn set(hs: &mut Vec<(String, String)>, name: &str, value: &str) {
        hs.retain(|(n, _)| n != name);
        hs.push((name.to_owned(), value.to_owned()));
    }

    fn invalid_message(r: Result<Verified, SigV4Error>) -> String {
        match r {
            Err(SigV4Error::InvalidSignature(m)) => m,
            other => panic!("expected InvalidSignature, got {other:?}"),
        }
    }

    fn incomplete_message(r: Result<impl fmt::Debug, SigV4Error>) -> String {
        match r {
            Err(SigV4Error::IncompleteSignature(m)) => m,
            other => panic!("expected IncompleteSignature, got {other:?}"),
        }
    }

    // ---- The spec's test vector (ecr-api.md §1.5). ----

    #[test]
    fn spec_vector_step_by_step() {
        let hs = spec_headers();
        let auth = parse_authorization(SPEC_AUTHORIZATION).unwrap();
        assert_eq!(
            auth,
            Authorization {
                access_key_id: "AKIAEXAMPLE".into(),
                date: "20261126".into(),
                region: "us-east-1".into(),
                service: "ecr".into(),
                terminator: "aws4_request".into(),
                signed_headers: vec![
                    "content-type".into(),
                    "host".into(),
                    "x-amz-date".into(),
                    "x-amz-target".into()
                ],
                signature: SPEC_SIGNATURE.into(),
            }
        );
        assert_eq!(
            payload_hash(b"{}"),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        let creq = canonical_request(&request(&hs, b"{}"), &auth);
        assert_eq!(creq, SPEC_CANONICAL_REQUEST);
        assert_eq!(
            hex::encode(Sha256::digest(creq.as_bytes())),
            "30e117d87b2e9208b9b4ad00ebf861b7d4cd55a22fcd809889cb5ae801896ce5"
        );
        assert_eq!(auth.scope(), "20261126/us-east-1/ecr/aws4_request");
        let sts = string_to_sign("20261126T230811Z", &auth.scope(), &creq);
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20261126T230811Z\n20261126/us-east-1/ecr/aws4_request\n30e117d87b2e9208b9b4ad00ebf861b7d4cd55a22fcd809889cb5ae801896ce5"
        );
        let key = signing_key("secret", "20261126", "us-east-1", "ecr");
        assert_eq!(signature(&key, &sts), SPEC_SIGNATURE);
    }

    #[test]
    fn spec_vector_verifies() {
        assert_eq!(format_amz_date(SPEC_NOW), "20261126T230811Z");
        let mut looked_up = Vec::new();
        let verified = verify(&request(&spec_headers(), b"{}"), "ecr", "us-east-1", SPEC_NOW, |akid| {
            looked_up.push(akid.to_owned());
            Some(secret("secret"))
        });
        assert_eq!(
            verified,
            Ok(Verified {
                access_key_id: "AKIAEXAMPLE".into(),
                region: "us-east-1".into(),
                service: "ecr".into(),
            })
        );
        assert_eq!(looked_up, ["AKIAEXAMPLE"]);
    }

    #[test]
    fn spec_vector_matches_the_official_signer() {
        let unsigned = headers(&[
            ("content-type", "application/x-amz-json-1.1"),
            ("host", "127.0.0.1:9999"),
            (
                "x-amz-target",
                "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
            ),
        ]);
        let signed = aws_sign(
            "POST",
            "/",
            &unsigned,
            b"{}",
            SPEC_NOW,
            ("AKIAEXAMPLE", "secret", None),
            "us-east-1",
            "ecr",
        );
        let authz = header_values(&signed, "authorization").next().unwrap();
        assert_eq!(authz, SPEC_AUTHORIZATION);
    }

    // ---- Clock skew. ----

    #[test]
    fn skew_within_five_minutes_is_accepted() {
        let hs = spec_headers();
        assert!(verify_spec(&hs, b"{}", SPEC_NOW + 300).is_ok());
        assert!(verify_spec(&hs, b"{}", SPEC_NOW - 300).is_ok());
    }

    #[test]
    fn signature_expired() {
        let msg = invalid_message(verify_spec(&spec_headers(), b"{}", SPEC_NOW + 301));
        assert_eq!(
            msg,
            "Signature expired: 20261126T230811Z is now earlier than 20261126T230812Z (20261126T231312Z - 5 min.)"
        );
    }

    #[test]
    fn signature_not_yet_current() {
        let msg = invalid_message(verify_spec(&spec_headers(), b"{}", SPEC_NOW - 301));
        assert_eq!(
            msg,
            "Signature not yet current: 20261126T230811Z is still later than 20261126T230810Z (20261126T230310Z + 5 min.)"
        );
    }

    // ---- Wrong key, tampering. ----

    #[test]
    fn wrong_secret_is_a_signature_mismatch() {
        let r = verify(&request(&spec_headers(), b"{}"), "ecr", "us-east-1", SPEC_NOW, |_| {
            Some(secret("not-the-secret"))
        });
        assert_eq!(invalid_message(r), SIGNATURE_MISMATCH);
    }

    #[test]
    fn tampered_body_or_header_is_a_signature_mismatch() {
        let hs = spec_headers();
        assert_eq!(invalid_message(verify_spec(&hs, b"{ }", SPEC_NOW)), SIGNATURE_MISMATCH);
        let mut hs2 = hs.clone();
        set(
            &mut hs2,
            "x-amz-target",
            "AmazonEC2ContainerRegistry_V20150921.DeleteRepository",
        );
        assert_eq!(invalid_message(verify_spec(&hs2, b"{}", SPEC_NOW)), SIGNATURE_MISMATCH);
        let mut hs3 = hs.clone();
        set(&mut hs3, "host", "127.0.0.1:9998");
        assert_eq!(invalid_message(verify_spec(&hs3, b"{}", SPEC_NOW)), SIGNATURE_MISMATCH);
        // Unsigned, non-x-amz headers may change freely.
        let mut hs4 = hs.clone();
        set(&mut hs4, "user-agent", "something else");
        set(&mut hs4, "amz-sdk-request", "attempt=2; max=3");
        assert!(verify_spec(&hs4, b"{}", SPEC_NOW).is_ok());
    }

    #[test]
    fn tampered_method_path_or_query_is_a_signature_mismatch() {
        let hs = spec_headers();
        for req in [
            SignedRequest {
                method: "PUT",
                ..request(&hs, b"{}")
            },
            SignedRequest {
                path: "/x",
                ..request(&hs, b"{}")
            },
            SignedRequest {
                query: "a=b",
                ..request(&hs, b"{}")
            },
        ] {
            let r = verify(&req, "ecr", "us-east-1", SPEC_NOW, |_| Some(secret("secret")));
            assert_eq!(invalid_message(r), SIGNATURE_MISMATCH);
        }
    }

    // ---- Scope. ----

    #[test]
    fn wrong_service_region_or_terminator() {
        let hs = spec_headers();
        let r = verify(&request(&hs, b"{}"), "ecr-public", "us-east-1", SPEC_NOW, |_| {
            panic!("no lookup before the scope checks")
        });
        assert_eq!(
            invalid_message(r),
            "Credential should be scoped to correct service: 'ecr-public'."
        );
        let r = verify(&request(&hs, b"{}"), "ecr", "eu-west-1", SPEC_NOW, |_| {
            panic!("no lookup before the scope checks")
        });
        assert_eq!(
            invalid_message(r),
            "Credential should be scoped to a valid region, not 'us-east-1'."
        );
        let mut hs = hs;
        set(
            &mut hs,
            "authorization",
            &SPEC_AUTHORIZATION.replace("/aws4_request", "/aws5_request"),
        );
        assert_eq!(
            invalid_message(verify_spec(&hs, b"{}", SPEC_NOW)),
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
        );
    }

    #[test]
    fn scope_date_must_match_the_request_date() {
        let mut hs = spec_headers();
        set(
            &mut hs,
            "authorization",
            &SPEC_AUTHORIZATION.replace("/20261126/", "/20261125/"),
        );
        assert_eq!(
            invalid_message(verify_spec(&hs, b"{}", SPEC_NOW)),
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261125' != '20261126', from '20261126T230811Z'."
        );
    }

    // ---- Missing and malformed headers. ----

    #[test]
    fn missing_authorization() {
        let mut hs = spec_headers();
        hs.retain(|(n, _)| n != "authorization");
        assert_eq!(
            verify_spec(&hs, b"{}", SPEC_NOW),
            Err(SigV4Error::MissingAuthenticationToken)
        );
    }

    #[test]
    fn two_authorization_headers() {
        let mut hs = spec_headers();
        hs.push(("authorization".into(), SPEC_AUTHORIZATION.into()));
        incomplete_message(verify_spec(&hs, b"{}", SPEC_NOW));
    }

    #[test]
    fn malformed_authorization_headers() {
        let sig = SPEC_SIGNATURE;
        let cred = "Credential=AKIAEXAMPLE/20261126/us-east-1/ecr/aws4_request";
        let cases = [
            "Basic dXNlcjpwYXNz".to_owned(),
            "AWS4-HMAC-SHA256".to_owned(),
            format!("AWS4-HMAC-SHA256X {cred}, SignedHeaders=host, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host"),
            format!("AWS4-HMAC-SHA256 {cred}, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 SignedHeaders=host, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 {cred} SignedHeaders=host, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 {cred}; SignedHeaders=host; Signature={sig}"),
            format!("AWS4-HMAC-SHA256 {cred}, {cred}, SignedHeaders=host, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host, Signature={sig}, Extra=1"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host;;x-amz-date, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host, Signature=abc"),
            format!(
                "AWS4-HMAC-SHA256 {cred}, SignedHeaders=host, Signature={}",
                sig.to_uppercase()
            ),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261126/us-east-1/ecr, SignedHeaders=host, Signature={sig}"
            ),
            format!(
                "AWS4-HMAC-SHA256 Credential=/20261126/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature={sig}"
            ),
            format!(
                "AWS4-HMAC-SHA256 Credential=A/B/20261126/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature={sig}"
            ),
        ];
        for case in &cases {
            let mut hs = spec_headers();
            set(&mut hs, "authorization", case);
            let msg = incomplete_message(verify_spec(&hs, b"{}", SPEC_NOW));
            assert!(!msg.is_empty(), "{case}");
        }
    }

    #[test]
    fn malformed_messages_use_aws_wording() {
        let msg = incomplete_message(parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/ecr/aws4_request",
        ));
        assert_eq!(
            msg,
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/ecr/aws4_request"
        );
        let header =
            "AWS4-HMAC-SHA256 Credential=AKID /20261126/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=0";
        assert_eq!(
            incomplete_message(parse_authorization(header)),
            format!(
                "'/20261126/us-east-1/ecr/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'."
            )
        );
        // Another scheme's credentials are not echoed back.
        let msg = incomplete_message(parse_authorization("Basic dXNlcjpwYXNz"));
        assert!(!msg.contains("dXNlcjpwYXNz"), "{msg}");
    }

    #[test]
    fn separators_allow_optional_spaces_and_any_order() {
        let compact = SPEC_AUTHORIZATION.replace(", ", ",");
        let spaced = SPEC_AUTHORIZATION
            .replace(", ", " ,  ")
            .replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256   ");
        let reordered = format!(
            "AWS4-HMAC-SHA256 Signature={SPEC_SIGNATURE}, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Credential=AKIAEXAMPLE/20261126/us-east-1/ecr/aws4_request"
        );
        let expected = parse_authorization(SPEC_AUTHORIZATION).unwrap();
        for header in [compact, spaced, reordered] {
            assert_eq!(parse_authorization(&header).as_ref(), Ok(&expected), "{header}");
            let mut hs = spec_headers();
            set(&mut hs, "authorization", &header);
            assert!(verify_spec(&hs, b"{}", SPEC_NOW).is_ok(), "{header}");
        }
    }

    #[test]
    fn missing_or_malformed_date() {
        let mut hs = spec_headers();
        hs.retain(|(n, _)| n != "x-amz-date");
        let msg = incomplete_message(verify_spec(&hs, b"{}", SPEC_NOW));
        assert!(
            msg.starts_with("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."),
            "{msg}"
        );
        for bad in [
            "2026-11-26T23:08:11Z",
            "20261126T230811",
            "20261326T230811Z",
            "20261131T230811Z",
            "20261126T240811Z",
            "20261126T23081aZ",
            "+0261126T230811Z",
            "",
        ] {
            let mut hs = spec_headers();
            set(&mut hs, "x-amz-date", bad);
            let msg = incomplete_message(verify_spec(&hs, b"{}", SPEC_NOW));
            assert!(msg.starts_with("Date must be in ISO-8601 'basic format'."), "{msg}");
        }
    }

    #[test]
    fn date_header_fallback() {
        let unsigned = headers(&[
            ("content-type", "application/x-amz-json-1.1"),
            ("host", "127.0.0.1:9999"),
            ("date", "Thu, 26 Nov 2026 23:08:11 GMT"),
        ]);
        let auth = Authorization {
            access_key_id: "AKIAEXAMPLE".into(),
            date: "20261126".into(),
            region: "us-east-1".into(),
            service: "ecr".into(),
            terminator: "aws4_request".into(),
            signed_headers: vec!["content-type".into(), "date".into(), "host".into()],
            signature: String::new(),
        };
        let creq = canonical_request(&request(&unsigned, b"{}"), &auth);
        let sts = string_to_sign("20261126T230811Z", &auth.scope(), &creq);
        let sig = signature(&signing_key("secret", "20261126", "us-east-1", "ecr"), &sts);
        let mut hs = unsigned.clone();
        hs.push((
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/{}, SignedHeaders=content-type;date;host, Signature={sig}",
                auth.scope()
            ),
        ));
        assert!(verify_spec(&hs, b"{}", SPEC_NOW).is_ok());

        // The Date header must be signed when it supplies the timestamp.
        let mut unsigned_date = hs.clone();
        set(
            &mut unsigned_date,
            "authorization",
            &hs[3].1.replace("content-type;date;host", "content-type;host"),
        );
        assert_eq!(
            invalid_message(verify_spec(&unsigned_date, b"{}", SPEC_NOW)),
            "'date' must be a 'SignedHeader' in the AWS Authorization."
        );

        let mut bad = hs.clone();
        set(&mut bad, "date", "Thursday, 26-Nov-26 23:08:11 GMT");
        incomplete_message(verify_spec(&bad, b"{}", SPEC_NOW));
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date("Thu, 26 Nov 2026 23:08:11 GMT"), Some(SPEC_NOW));
        for bad in [
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun 06 Nov 1994 08:49:37 GMT ",
            "Sun, 06 Nox 1994 08:49:37 GMT",
            "Sun, 31 Apr 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08-49-37 GMT",
            "Sun, 06 Nov 1994 08:49:60 GMT",
            "Sun, 06 Nov 1994 08:49:3é GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let creds = Credentials {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: Some("tok".into()),
        };
        let base = vec![
            ("host".to_string(), "127.0.0.1:9999".to_string()),
            (
                "x-amz-target".to_string(),
                "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories".to_string(),
            ),
        ];
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &base,
            body: b"{}",
        };
        let now = 1_795_000_000;
        let mut all = base.clone();
        all.extend(sign(&req, &creds, "us-east-1", "ecr", now));
        let signed = SignedRequest { headers: &all, ..req };
        let secret = Secret {
            secret_access_key: "secret".into(),
            session_token: Some("tok".into()),
        };
        let v = verify(&signed, "ecr", "us-east-1", now, |_| Some(secret)).unwrap();
        assert_eq!(v.access_key_id, "AKIAEXAMPLE");
    }

    #[test]
    fn amz_dates_round_trip() {
        for epoch in [0, 951_782_400, 1_709_208_000, SPEC_NOW, 253_402_300_799] {
            let s = format_amz_date(epoch);
            assert_eq!(parse_amz_date(&s), Some(epoch), "{s}");
        }
        assert_eq!(format_amz_date(0), "19700101T000000Z");
        assert_eq!(format_amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(parse_amz_date("20250229T000000Z"), None);
    }

    #[test]
    fn required_signed_headers() {
        // host missing from SignedHeaders.
        let mut hs = spec_headers();
        set(
            &mut hs,
            "authorization",
            &SPEC_AUTHORIZATION.replace("content-type;host;", "content-type;"),
        );
        assert_eq!(
            invalid_message(verify_spec(&hs, b"{}", SPEC_NOW)),
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        );
        // An empty SignedHeaders parses, then fails the host rule.
        let mut hs = spec_headers();
        set(
            &mut hs,
            "authorization",
            &SPEC_AUTHORIZATION.replace("content-type;host;x-amz-date;x-amz-target", ""),
        );
        assert_eq!(
            invalid_message(verify_spec(&hs, b"{}", SPEC_NOW)),
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        );
        // x-amz-date, x-amz-target and any other x-amz-* header must be signed.
        for (list, missing) in [
            ("content-type;host;x-amz-target", "x-amz-date"),
            ("content-type;host;x-amz-date", "x-amz-target"),
        ] {
            let mut hs = spec_headers();
            set(
                &mut hs,
                "authorization",
                &SPEC_AUTHORIZATION.replace("content-type;host;x-amz-date;x-amz-target", list),
            );
            assert_eq!(
                invalid_message(verify_spec(&hs, b"{}", SPEC_NOW)),
                format!("'{missing}' must be a 'SignedHeader' in the AWS Authorization.")
            );
        }
        let mut hs = spec_headers();
        hs.push(("x-amz-security-token".into(), "tok".into()));
        assert_eq!(
            invalid_message(verify_spec(&hs, b"{}", SPEC_NOW)),
            "'x-amz-security-token' must be a 'SignedHeader' in the AWS Authorization."
        );
    }

    #[test]
    fn content_sha256_must_match_the_body() {
        let sign = |sha: &str, body: &[u8]| {
            let unsigned = headers(&[
                ("content-type", "application/x-amz-json-1.1"),
                ("host", "127.0.0.1:9999"),
                ("x-amz-content-sha256", sha),
            ]);
            aws_sign(
                "POST",
                "/",
                &unsigned,
                body,
                SPEC_NOW,
                ("AKIAEXAMPLE", "secret", None),
                "us-east-1",
                "ecr",
            )
        };
        let good = sign(&payload_hash(b"{}"), b"{}");
        assert!(verify_spec(&good, b"{}", SPEC_NOW).is_ok());
        let message = "The provided 'x-amz-content-sha256' header does not match what was computed.";
        let wrong = sign(&payload_hash(b"[]"), b"{}");
        assert_eq!(invalid_message(verify_spec(&wrong, b"{}", SPEC_NOW)), message);
        let unsigned_payload = sign("UNSIGNED-PAYLOAD", b"{}");
        assert_eq!(
            invalid_message(verify_spec(&unsigned_payload, b"{}", SPEC_NOW)),
            message
        );
    }

    // ---- Credentials and session tokens. ----

    #[test]
    fn unknown_access_key() {
        let r = verify(&request(&spec_headers(), b"{}"), "ecr", "us-east-1", SPEC_NOW, |_| None);
        assert_eq!(r, Err(SigV4Error::UnrecognizedClient));
    }

    #[test]
    fn session_tokens() {
        let unsigned = headers(&[
            ("content-type", "application/x-amz-json-1.1"),
            ("host", "127.0.0.1:9999"),
            ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository"),
        ]);
        let temp = |token: &str| Secret {
            secret_access_key: "tempsecret".into(),
            session_token: Some(token.into()),
        };
        let run = |hs: &[(String, String)], found: Secret| {
            verify(&request(hs, b"{}"), "ecr", "us-east-1", SPEC_NOW, |akid| {
                assert_eq!(akid, "ASIAEXAMPLE");
                Some(found)
            })
        };
        let creds = ("ASIAEXAMPLE", "tempsecret", Some("the-token"));
        let with_token = aws_sign("POST", "/", &unsigned, b"{}", SPEC_NOW, creds, "us-east-1", "ecr");
        assert!(
            header_values(&with_token, "authorization")
                .next()
                .unwrap()
                .contains("x-amz-security-token")
        );
        assert!(run(&with_token, temp("the-token")).is_ok());
        // The token issued with the key differs.
        assert_eq!(
            run(&with_token, temp("another-token")),
            Err(SigV4Error::UnrecognizedClient)
        );
        assert_eq!(
            run(&with_token, temp("the-token-")),
            Err(SigV4Error::UnrecognizedClient)
        );
        // A token sent for a long-term key.
        assert_eq!(
            run(&with_token, secret("tempsecret")),
            Err(SigV4Error::UnrecognizedClient)
        );
        // A temporary key used without its token.
        let creds = ("ASIAEXAMPLE", "tempsecret", None);
        let without = aws_sign("POST", "/", &unsigned, b"{}", SPEC_NOW, creds, "us-east-1", "ecr");
        assert_eq!(run(&without, temp("the-token")), Err(SigV4Error::UnrecognizedClient));
        assert!(run(&without, secret("tempsecret")).is_ok());
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = Secret {
            secret_access_key: "wJalrXUtnFEMI".into(),
            session_token: Some("FwoGZXIvYXdzE".into()),
        };
        let debug = format!("{s:?}");
        assert!(!debug.contains("wJalrXUtnFEMI") && !debug.contains("FwoGZXIvYXdzE"));
    }

    // ---- Error codes and messages. ----

    #[test]
    fn aws_codes_and_messages() {
        let cases = [
            (
                SigV4Error::MissingAuthenticationToken,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ),
            (
                SigV4Error::IncompleteSignature("m".into()),
                "IncompleteSignatureException",
                "m",
            ),
            (
                SigV4Error::InvalidSignature(SIGNATURE_MISMATCH.into()),
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ),
            (
                SigV4Error::UnrecognizedClient,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            (
                SigV4Error::ExpiredToken,
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ),
        ];
        for (err, code, message) in cases {
            assert_eq!(err.aws_code(), code);
            assert_eq!(err.to_string(), message);
            assert_eq!(err.http_status(), 400);
        }
    }

    // ---- Canonicalisation details. ----

    #[test]
    fn canonical_uris() {
        for (path, expected) in [
            ("", "/"),
            ("/", "/"),
            ("/v2/", "/v2/"),
            ("/a/b", "/a/b"),
            ("a/b", "/a/b"),
            ("//a//b//", "/a/b/"),
            ("/a/./b/../c", "/a/c"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/..", "/"),
            ("/../a", "/a"),
            ("/.well-known/x~y_z", "/.well-known/x~y_z"),
            // Already-encoded characters are encoded again (non-S3 rule).
            ("/a%20b", "/a%2520b"),
            ("/a%2Fb", "/a%252Fb"),
            // Characters left bare on the wire are encoded once.
            (
                "/a:b@c!d$e&f'g(h)i*j+k,l;m=n",
                "/a%3Ab%40c%21d%24e%26f%27g%28h%29i%2Aj%2Bk%2Cl%3Bm%3Dn",
            ),
            ("/é", "/%C3%A9"),
        ] {
            assert_eq!(canonical_uri(path), expected, "{path}");
        }
    }

    #[test]
    fn canonical_queries() {
        for (query, expected) in [
            ("", ""),
            ("b=2&a=1&a=0", "a=0&a=1&b=2"),
            ("flag", "flag="),
            ("flag=", "flag="),
            ("&&a=1&", "a=1"),
            ("a+b=c%2fd", "a%20b=c%2Fd"),
            ("k=%zz%4", "k=%25zz%254"),
            ("k=a=b", "k=a%3Db"),
            ("k=%7E%41", "k=~A"),
            ("B=1&a=1&_=1&~=1", "B=1&_=1&a=1&~=1"),
            ("k=é", "k=%C3%A9"),
            ("k=%FF", "k=%FF"),
        ] {
            assert_eq!(canonical_query(query), expected, "{query}");
        }
    }

    #[test]
    fn canonical_header_values() {
        let hs = headers(&[
            ("x-a", "  one   two  "),
            ("x-b", "1"),
            ("x-a", "three\t\tfour"),
            ("X-C", "upper"),
        ]);
        assert_eq!(canonical_header_value(&hs, "x-a"), "one two,three four");
        assert_eq!(canonical_header_value(&hs, "x-c"), "upper");
        assert_eq!(canonical_header_value(&hs, "x-missing"), "");
    }

    // ---- The official signer as an oracle. ----

    /// Signs with `aws-sigv4` and returns `headers` plus the headers it adds
    /// (`authorization`, `x-amz-date`, and `x-amz-security-token` when a token is given).
    #[expect(clippy::too_many_arguments)]
    fn aws_sign(
        method: &str,
        path_and_query: &str,
        headers: &[(String, String)],
        body: &[u8],
        now: i64,
        (akid, secret, token): (&str, &str, Option<&str>),
        region: &str,
        service: &str,
    ) -> Vec<(String, String)> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let identity =
            aws_credential_types::Credentials::new(akid, secret, token.map(str::to_owned), None, "test").into();
        let params: aws_sigv4::http_request::SigningParams<'_> = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(UNIX_EPOCH + Duration::from_secs(now as u64))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            method,
            format!("http://stowage.test{path_and_query}"),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut out = headers.to_vec();
        out.extend(
            instructions
                .headers()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned())),
        );
        out
    }

    /// Percent-encodes `s` for the wire, leaving unreserved characters and `bare` as they are.
    fn wire_encode(s: &str, bare: &[u8]) -> String {
        let mut out = String::new();
        for &b in s.as_bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || bare.contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    fn path_strategy() -> impl Strategy<Value = String> {
        let segment = prop_oneof![
            4 => "[a-zA-Z0-9._~ %:@!$&'()*+,;=é-]{0,6}",
            1 => Just(".".to_owned()),
            1 => Just("..".to_owned()),
            1 => Just(String::new()),
        ];
        (proptest::collection::vec(segment, 0..5), any::<bool>()).prop_map(|(segments, trailing)| {
            let mut path = String::from("/");
            let encoded: Vec<String> = segments.iter().map(|s| wire_encode(s, b":@!$&'()*+,;=")).collect();
            path.push_str(&encoded.join("/"));
            if trailing && !path.ends_with('/') {
                path.push('/');
            }
            path
        })
    }

    fn query_strategy() -> impl Strategy<Value = String> {
        let text = "[a-zA-Z0-9 _.~!*'()@:,/?;$+=&é-]{0,6}";
        let pair = (text, proptest::option::of(text));
        (proptest::collection::vec(pair, 0..5), any::<bool>()).prop_map(|(pairs, plus)| {
            pairs
                .iter()
                .map(|(k, v)| {
                    let enc = |s: &str| {
                        let e = wire_encode(s, b"!*'()@:,/?;$");
                        if plus { e.replace("%20", "+") } else { e }
                    };
                    match v {
                        Some(v) => format!("{}={}", enc(k), enc(v)),
                        None => enc(k),
                    }
                })
                .collect::<Vec<_>>()
                .join("&")
        })
    }

    fn headers_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
        let name = prop_oneof![
            Just("content-type"),
            Just("x-amz-target"),
            Just("x-amz-meta-b"),
            Just("x-custom-a"),
            Just("accept"),
            Just("content-md5"),
        ];
        // Printable ASCII and spaces: aws-sigv4 collapses only spaces, botocore all whitespace.
        proptest::collection::vec((name, " {0,2}([!-~]{1,4} {1,3}){0,3}[!-~]{0,4} {0,2}"), 0..6)
            .prop_map(|hs| hs.into_iter().map(|(n, v)| (n.to_owned(), v)).collect())
    }

    proptest! {
        #[test]
        fn verifies_requests_signed_by_aws_sigv4(
            method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")],
            path in path_strategy(),
            query in query_strategy(),
            mut hs in headers_strategy(),
            body in proptest::collection::vec(any::<u8>(), 0..128),
            token in proptest::option::of("[A-Za-z0-9+/=]{1,40}"),
            skew in -300i64..=300,
        ) {
            hs.push(("host".to_owned(), "127.0.0.1:9999".to_owned()));
            let path_and_query =
                if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
            let creds = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token.as_deref());
            let signed = aws_sign(
                method, &path_and_query, &hs, &body, SPEC_NOW, creds, "eu-west-1", "ecr",
            );
            let found = Secret {
                secret_access_key: creds.1.to_owned(),
                session_token: token.clone(),
            };
            let req = SignedRequest { method, path: &path, query: &query, headers: &signed, body: &body };
            let r = verify(&req, "ecr", "eu-west-1", SPEC_NOW + skew, |_| Some(found.clone()));
            prop_assert!(r.is_ok(), "{:?}\n{}", r, canonical_request(&req, &parse_authorization(
                header_values(&signed, "authorization").next().unwrap()).unwrap()));

            // Any change to the body or query breaks the signature.
            let mut tampered = body.clone();
            tampered.push(b'x');
            let req2 = SignedRequest { body: &tampered, ..req };
            let r = verify(&req2, "ecr", "eu-west-1", SPEC_NOW, |_| Some(found.clone()));
            prop_assert_eq!(r, Err(SigV4Error::InvalidSignature(SIGNATURE_MISMATCH.to_owned())));
            let query2 = format!("{query}&zz=1");
            let req3 = SignedRequest { query: &query2, ..req };
            let r = verify(&req3, "ecr", "eu-west-1", SPEC_NOW, |_| Some(found.clone()));
            prop_assert_eq!(r, Err(SigV4Error::InvalidSignature(SIGNATURE_MISMATCH.to_owned())));
        }

        #[test]
        fn parse_authorization_never_panics(s in ".*") {
            let _ = parse_authorization(&s);
        }

        #[test]
        fn parse_authorization_never_panics_near_valid(
            s in "AWS4-HMAC-SHA256 (Credential|SignedHeaders|Signature|[ ,;=/])[ -~é]{0,120}",
        ) {
            let _ = parse_authorization(&s);
        }

        #[test]
        fn verify_never_panics_on_arbitrary_headers(
            authz in "AWS4-HMAC-SHA256 Credential=[a-z0-9/]{0,40}, SignedHeaders=[a-z;-]{0,20}, Signature=[0-9a-f]{64}",
            amz_date in "[0-9TZ:, a-zA-Z]{0,32}",
            date in "[0-9TZ:, a-zA-Z]{0,32}",
            path in ".*",
            query in ".*",
            now in any::<i64>(),
        ) {
            let hs = headers(&[
                ("host", "h"),
                ("authorization", &authz),
                ("x-amz-date", &amz_date),
                ("date", &date),
            ]);
            let req = SignedRequest { method: "POST", path: &path, query: &query, headers: &hs, body: b"" };
            let _ = verify(&req, "ecr", "us-east-1", now, |_| Some(secret("s")));
            let _ = canonical_uri(&path);
            let _ = canonical_query(&query);
        }

        #[test]
        fn amz_date_round_trips(epoch in 0i64..253_402_300_800) {
            prop_assert_eq!(parse_amz_date(&format_amz_date(epoch)), Some(epoch));
        }
    }
}
