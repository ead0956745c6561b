//! Manifest media types and the parts of a manifest the registry must understand:
//! which blobs and child manifests it references, its subject and artifact type.
//! The bytes themselves are never re-serialised: the digest is of what was sent.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::digest::Digest;

/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest (also used for artifacts).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 1 (legacy; refused on push).
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Signed Docker schema 1 (legacy; refused on push).
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The manifest kinds Stowage stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    DockerManifest,
    DockerManifestList,
    OciManifest,
    OciIndex,
}

impl MediaType {
    /// Every accepted manifest media type.
    pub const ALL: [MediaType; 4] = [
        Self::DockerManifest,
        Self::DockerManifestList,
        Self::OciManifest,
        Self::OciIndex,
    ];

    /// The media type string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DockerManifest => DOCKER_MANIFEST_V2,
            Self::DockerManifestList => DOCKER_MANIFEST_LIST,
            Self::OciManifest => OCI_MANIFEST,
            Self::OciIndex => OCI_INDEX,
        }
    }

    /// Parses a media type string (parameters after `;` ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.split(';').next().unwrap_or("").trim();
        Self::ALL.into_iter().find(|m| m.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether this kind lists child manifests rather than layers.
    pub fn is_index(self) -> bool {
        matches!(self, Self::DockerManifestList | Self::OciIndex)
    }
}

/// A content descriptor inside a manifest.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Descriptor {
    /// A foreign (non-distributable) layer that lives at `urls` and need not be pushed.
    pub fn is_foreign(&self) -> bool {
        !self.urls.is_empty() && (self.media_type.contains("foreign") || self.media_type.contains("nondistributable"))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    // schema 1 marker
    fs_layers: Option<serde_json::Value>,
}

/// A parsed manifest: what it references and describes.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub media_type: MediaType,
    /// Image config (image manifests only).
    pub config: Option<Descriptor>,
    /// Layers (image manifests) — blobs that must exist in the repository.
    pub layers: Vec<Descriptor>,
    /// Child manifests (indexes only).
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub artifact_type: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Why a manifest is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("unsupported manifest media type '{0}'")]
    UnsupportedMediaType(String),
    #[error("schema 1 manifests are not accepted; push a schema 2 or OCI manifest")]
    Schema1,
    #[error("manifest mediaType '{body}' does not match Content-Type '{header}'")]
    MediaTypeMismatch { body: String, header: String },
    #[error("manifest schemaVersion must be 2")]
    SchemaVersion,
    #[error("manifest is missing '{0}'")]
    Missing(&'static str),
}

impl Manifest {
    /// Parses manifest bytes. `content_type` is the media type the client declared
    /// (HTTP `Content-Type` or `imageManifestMediaType`), if any.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Self, ManifestError> {
        let raw: RawManifest = serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        let header = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
            .filter(|c| !c.is_empty() && !is_generic_json(c));
        if raw.fs_layers.is_some()
            || raw.schema_version == Some(1)
            || [&header, &raw.media_type]
                .into_iter()
                .flatten()
                .any(|m| m == DOCKER_SCHEMA1 || m == DOCKER_SCHEMA1_SIGNED)
        {
            return Err(ManifestError::Schema1);
        }
        if let (Some(h), Some(b)) = (&header, &raw.media_type)
            && !h.eq_ignore_ascii_case(b)
        {
            return Err(ManifestError::MediaTypeMismatch {
                body: b.clone(),
                header: h.clone(),
            });
        }
        let declared = raw.media_type.clone().or(header);
        let media_type = match declared {
            Some(m) => MediaType::parse(&m).ok_or(ManifestError::UnsupportedMediaType(m))?,
            // OCI allows omitting mediaType; infer from the shape.
            None if raw.manifests.is_some() => MediaType::OciIndex,
            None if raw.config.is_some() => MediaType::OciManifest,
            None => return Err(ManifestError::UnsupportedMediaType(String::new())),
        };
        if raw.schema_version != Some(2) {
            return Err(ManifestError::SchemaVersion);
        }
        let manifest = if media_type.is_index() {
            Manifest {
                media_type,
                config: None,
                layers: Vec::new(),
                manifests: raw.manifests.ok_or(ManifestError::Missing("manifests"))?,
                subject: raw.subject,
                artifact_type: raw.artifact_type,
                annotations: raw.annotations,
            }
        } else {
            Manifest {
                media_type,
                config: Some(raw.config.ok_or(ManifestError::Missing("config"))?),
                layers: raw.layers.ok_or(ManifestError::Missing("layers"))?,
                manifests: Vec::new(),
                subject: raw.subject,
                artifact_type: raw.artifact_type,
                annotations: raw.annotations,
            }
        };
        Ok(manifest)
    }

    /// Blobs (config + layers) that must exist in the repository, foreign layers excluded.
    pub fn required_blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config.iter().chain(self.layers.iter()).filter(|d| !d.is_foreign())
    }

    /// The artifact type reported by the referrers API: `artifactType`, else the
    /// config's media type (image manifests).
    pub fn effective_artifact_type(&self) -> Option<&str> {
        self.artifact_type
            .as_deref()
            .or(self.config.as_ref().map(|c| c.media_type.as_str()))
    }

    /// The config blob's media type (ECR's `artifactMediaType`).
    pub fn config_media_type(&self) -> Option<&str> {
        self.config.as_ref().map(|c| c.media_type.as_str())
    }

    /// Sum of config and layer sizes (ECR's `imageSizeInBytes`), or of children for an index.
    pub fn total_size(&self) -> u64 {
        self.config
            .iter()
            .chain(&self.layers)
            .chain(&self.manifests)
            .map(|d| d.size)
            .sum()
    }
}

fn is_generic_json(content_type: &str) -> bool {
    matches!(
        content_type,
        "application/json" | "application/octet-stream" | "text/plain"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn image(media_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{D1}","size":10}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{D2}","size":20}}]}}"#
        )
    }

    #[test]
    fn parses_image_manifests() {
        for mt in [OCI_MANIFEST, DOCKER_MANIFEST_V2] {
            let m = Manifest::parse(image(mt).as_bytes(), Some(mt)).unwrap();
            assert_eq!(m.media_type.as_str(), mt);
            let blobs: Vec<String> = m.required_blobs().map(|d| d.digest.to_string()).collect();
            assert_eq!(blobs, [D1, D2]);
            assert_eq!(m.total_size(), 30);
        }
    }

    #[test]
    fn infers_oci_types_without_media_type() {
        let body =
            format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{D1}","size":5}}]}}"#);
        let m = Manifest::parse(body.as_bytes(), None).unwrap();
        assert_eq!(m.media_type, MediaType::OciIndex);
        assert_eq!(m.manifests.len(), 1);
    }

    #[test]
    fn refuses_what_it_must() {
        assert!(matches!(Manifest::parse(b"{", None), Err(ManifestError::Json(_))));
        assert_eq!(
            Manifest::parse(image(OCI_MANIFEST).as_bytes(), Some(DOCKER_MANIFEST_V2)),
            Err(ManifestError::MediaTypeMismatch {
                body: OCI_MANIFEST.into(),
                header: DOCKER_MANIFEST_V2.into()
            })
        );
        assert!(matches!(
            Manifest::parse(image("application/x-nope").as_bytes(), None),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
        assert_eq!(
            Manifest::parse(br#"{"schemaVersion":1,"fsLayers":[]}"#, None),
            Err(ManifestError::Schema1)
        );
        let no_layers = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}"}}"#);
        assert_eq!(
            Manifest::parse(no_layers.as_bytes(), None),
            Err(ManifestError::Missing("config"))
        );
    }

    #[test]
    fn artifact_type_falls_back_to_config() {
        let m = Manifest::parse(image(OCI_MANIFEST).as_bytes(), None).unwrap();
        assert_eq!(
            m.effective_artifact_type(),
            Some("application/vnd.oci.image.config.v1+json")
        );
    }
}
