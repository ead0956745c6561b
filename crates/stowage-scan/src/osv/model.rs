//! The OSV record (<https://ossf.github.io/osv-schema/>) as Rust types, and
//! [`parse`] from JSON or YAML bytes.
//!
//! Fields the schema defines are typed; anything else is ignored on input.
//! `ecosystem_specific` and `database_specific` stay as JSON values, since
//! their content is up to each database. Timestamps stay as the RFC 3339
//! strings the record carries.

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One OSV vulnerability record.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Advisory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    pub id: String,
    /// When the record was last changed (RFC 3339); required by the schema.
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Set when the record has been withdrawn: it must then not be matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

impl Advisory {
    /// Whether the record has been withdrawn.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }
}

/// A `severity[]` entry: a scoring method and its score string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SeverityScore {
    #[serde(rename = "type")]
    pub kind: ScoreType,
    /// For the CVSS types, the vector string (`CVSS:3.1/AV:N/...`).
    pub score: String,
}

/// `severity[].type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScoreType {
    CvssV2,
    CvssV3,
    CvssV4,
    /// Ubuntu's priority (`negligible` … `critical`).
    Ubuntu,
    /// A type this version of the schema does not define, kept as written.
    Other(String),
}

impl ScoreType {
    pub fn as_str(&self) -> &str {
        match self {
            ScoreType::CvssV2 => "CVSS_V2",
            ScoreType::CvssV3 => "CVSS_V3",
            ScoreType::CvssV4 => "CVSS_V4",
            ScoreType::Ubuntu => "Ubuntu",
            ScoreType::Other(s) => s,
        }
    }
}

impl From<String> for ScoreType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "CVSS_V2" => ScoreType::CvssV2,
            "CVSS_V3" => ScoreType::CvssV3,
            "CVSS_V4" => ScoreType::CvssV4,
            "Ubuntu" => ScoreType::Ubuntu,
            _ => ScoreType::Other(s),
        }
    }
}

impl<'de> Deserialize<'de> for ScoreType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ScoreType::from)
    }
}

impl Serialize for ScoreType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One `affected[]` entry: a package and the versions of it that are affected.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Affected {
    /// Absent only for records that name a repository, not a package (GIT ranges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Affected versions, listed one by one.
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// `affected[].package`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Package {
    /// `PyPI`, `crates.io`, `Go`, `Debian:12`, `Alpine:v3.20`, …
    pub ecosystem: String,
    /// The name within the ecosystem; for Linux distributions, the source package.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// `affected[].ranges[]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeType,
    /// The repository, for GIT ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// `affected[].ranges[].type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RangeType {
    /// SemVer 2.0 versions.
    Semver,
    /// The ecosystem's own versions.
    Ecosystem,
    /// Git commits: needs the repository's history, so never evaluated here.
    Git,
    /// A type the schema does not define, kept as written; never evaluated.
    Other(String),
}

impl RangeType {
    pub fn as_str(&self) -> &str {
        match self {
            RangeType::Semver => "SEMVER",
            RangeType::Ecosystem => "ECOSYSTEM",
            RangeType::Git => "GIT",
            RangeType::Other(s) => s,
        }
    }

    /// Whether ranges of this type are evaluated by comparing versions.
    pub fn is_version_range(&self) -> bool {
        matches!(self, RangeType::Semver | RangeType::Ecosystem)
    }
}

impl<'de> Deserialize<'de> for RangeType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "SEMVER" => RangeType::Semver,
            "ECOSYSTEM" => RangeType::Ecosystem,
            "GIT" => RangeType::Git,
            _ => RangeType::Other(s),
        })
    }
}

impl Serialize for RangeType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One `events[]` entry. The schema allows exactly one key per event object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(try_from = "RawEvent", into = "RawEvent")]
pub enum Event {
    /// The first affected version; `"0"` means "before every version".
    Introduced(String),
    /// The first version that is no longer affected.
    Fixed(String),
    /// The last known affected version (inclusive).
    LastAffected(String),
    /// An upper bound: versions at or above every limit are outside the range.
    /// `"*"` means no bound.
    Limit(String),
}

impl Event {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

#[derive(Deserialize, Serialize)]
struct RawEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<String>,
}

impl TryFrom<RawEvent> for Event {
    type Error = String;

    fn try_from(raw: RawEvent) -> Result<Self, String> {
        match raw {
            RawEvent {
                introduced: Some(v),
                fixed: None,
                last_affected: None,
                limit: None,
            } => Ok(Event::Introduced(v)),
            RawEvent {
                introduced: None,
                fixed: Some(v),
                last_affected: None,
                limit: None,
            } => Ok(Event::Fixed(v)),
            RawEvent {
                introduced: None,
                fixed: None,
                last_affected: Some(v),
                limit: None,
            } => Ok(Event::LastAffected(v)),
            RawEvent {
                introduced: None,
                fixed: None,
                last_affected: None,
                limit: Some(v),
            } => Ok(Event::Limit(v)),
            _ => Err("an event must have exactly one of `introduced`, `fixed`, `last_affected`, `limit`".to_string()),
        }
    }
}

impl From<Event> for RawEvent {
    fn from(e: Event) -> Self {
        let mut raw = RawEvent {
            introduced: None,
            fixed: None,
            last_affected: None,
            limit: None,
        };
        match e {
            Event::Introduced(v) => raw.introduced = Some(v),
            Event::Fixed(v) => raw.fixed = Some(v),
            Event::LastAffected(v) => raw.last_affected = Some(v),
            Event::Limit(v) => raw.limit = Some(v),
        }
        raw
    }
}

/// A `references[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Reference {
    /// `ADVISORY`, `ARTICLE`, `FIX`, `PACKAGE`, `REPORT`, `WEB`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

/// A missing field and an explicit `null` both read as the default (empty list).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The serialization an advisory is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    /// The format a file name's extension says: `.json`, or `.yaml` / `.yml`
    /// (any case); `None` for anything else.
    pub fn from_path(path: impl AsRef<Path>) -> Option<Format> {
        let ext = path.as_ref().extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("json") {
            Some(Format::Json)
        } else if ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml") {
            Some(Format::Yaml)
        } else {
            None
        }
    }
}

/// Why bytes did not parse as an OSV record.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not an OSV record in JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not an OSV record in YAML: {0}")]
    Yaml(#[from] serde_saphyr::Error),
}

/// Parses one OSV record. Fields outside the schema are ignored.
pub fn parse(bytes: &[u8], format: Format) -> Result<Advisory, ParseError> {
    Ok(match format {
        Format::Json => serde_json::from_slice(bytes)?,
        Format::Yaml => {
            // OSV records have no use for aliases: cap their replay well below
            // the library's default so an "exponential laughs" record is cheap to refuse.
            let options = serde_saphyr::options! {
                alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: 100_000 },
            };
            serde_saphyr::from_slice_with_options(bytes, options)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_json_and_unknown_fields() {
        let a = parse(
            br#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","new_field":{"a":[1]},
                "affected":[{"package":{"ecosystem":"npm","name":"left-pad","x":1},
                "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}"#,
            Format::Json,
        )
        .unwrap();
        assert_eq!(a.id, "X-1");
        assert!(a.aliases.is_empty() && a.withdrawn.is_none());
        let r = &a.affected[0].ranges[0];
        assert_eq!(r.kind, RangeType::Semver);
        assert_eq!(
            r.events,
            vec![Event::Introduced("0".into()), Event::Fixed("1.0.1".into())]
        );
    }

    #[test]
    fn nulls_read_as_empty() {
        let a = parse(
            br#"{"id":"X-2","modified":"2024-01-01T00:00:00Z","aliases":null,"affected":[{"versions":null,"ranges":null}]}"#,
            Format::Json,
        )
        .unwrap();
        assert!(a.aliases.is_empty());
        assert!(a.affected[0].versions.is_empty() && a.affected[0].ranges.is_empty());
        assert!(a.affected[0].package.is_none());
    }

    #[test]
    fn yaml_plain_scalars_stay_strings() {
        // Unquoted `1.10` must not become the float 1.1, nor `0.8` a number.
        let y = b"id: PYSEC-0\nmodified: 2024-01-01T00:00:00Z\naffected:\n- package: {ecosystem: PyPI, name: x}\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 0\n    - fixed: 1.10\n  versions:\n  - 0.8\n  - 1.0\n  - 1.9\n";
        let a = parse(y, Format::Yaml).unwrap();
        assert_eq!(a.modified, "2024-01-01T00:00:00Z");
        let aff = &a.affected[0];
        assert_eq!(aff.ranges[0].events[1], Event::Fixed("1.10".into()));
        assert_eq!(aff.ranges[0].events[0], Event::Introduced("0".into()));
        assert_eq!(aff.versions, ["0.8", "1.0", "1.9"]);
    }

    #[test]
    fn unknown_types_are_kept() {
        let a = parse(
            br#"{"id":"X-3","modified":"m","severity":[{"type":"SOMETHING","score":"9"}],
                "affected":[{"ranges":[{"type":"NEWTYPE","events":[{"introduced":"a"}]}]}]}"#,
            Format::Json,
        )
        .unwrap();
        assert_eq!(a.severity[0].kind, ScoreType::Other("SOMETHING".into()));
        assert_eq!(a.affected[0].ranges[0].kind, RangeType::Other("NEWTYPE".into()));
    }

    #[test]
    fn clear_errors() {
        let e = parse(br#"{"modified":"m"}"#, Format::Json).unwrap_err().to_string();
        assert!(e.contains("missing field `id`"), "{e}");
        let e = parse(
            br#"{"id":"X","modified":"m","affected":[{"ranges":[{"type":"SEMVER","events":[{"introduced":"1","fixed":"2"}]}]}]}"#,
            Format::Json,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("exactly one of"), "{e}");
        let e = parse(b"id: [unclosed\n", Format::Yaml).unwrap_err().to_string();
        assert!(e.starts_with("not an OSV record in YAML"), "{e}");
        let e = parse(b"\xff\xfe", Format::Yaml).unwrap_err().to_string();
        assert!(e.starts_with("not an OSV record in YAML"), "{e}");
    }

    #[test]
    fn json_round_trip() {
        let text = br#"{"id":"X-4","modified":"m","withdrawn":"w","aliases":["CVE-1"],
            "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[
              {"introduced":"0"},{"last_affected":"1.2.3"},{"limit":"*"}]}],"versions":["1.0.0"],
              "ecosystem_specific":{"imports":[{"path":"m"}]}}],
            "references":[{"type":"WEB","url":"https://example.org"}]}"#;
        let a = parse(text, Format::Json).unwrap();
        let again = parse(&serde_json::to_vec(&a).unwrap(), Format::Json).unwrap();
        assert_eq!(a, again);
    }

    #[test]
    fn format_from_path() {
        assert_eq!(Format::from_path("a/b.JSON"), Some(Format::Json));
        assert_eq!(Format::from_path("a/b.yml"), Some(Format::Yaml));
        assert_eq!(Format::from_path("a/b.yaml"), Some(Format::Yaml));
        assert_eq!(Format::from_path("a/b.txt"), None);
        assert_eq!(Format::from_path("a/json"), None);
    }
}
