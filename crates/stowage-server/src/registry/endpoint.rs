//! `/v2/…` requests parsed into the registry operation they name. Repository
//! names contain `/`, so the path is read from its end.

use http::Method;
use stowage_core::{Digest, RepositoryName};

use crate::auth::Action;
use crate::registry::error::OciError;

/// A registry API operation with its validated path parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Endpoint {
    /// `GET /v2/`
    Base,
    /// `GET /v2/_catalog`
    Catalog,
    /// `GET /v2/<name>/tags/list`
    ListTags { name: RepositoryName },
    /// `GET|HEAD /v2/<name>/manifests/<ref>`
    GetManifest {
        name: RepositoryName,
        reference: String,
        head: bool,
    },
    /// `PUT /v2/<name>/manifests/<ref>`
    PutManifest { name: RepositoryName, reference: String },
    /// `DELETE /v2/<name>/manifests/<ref>`
    DeleteManifest { name: RepositoryName, reference: String },
    /// `GET|HEAD /v2/<name>/blobs/<digest>`
    GetBlob {
        name: RepositoryName,
        digest: String,
        head: bool,
    },
    /// `DELETE /v2/<name>/blobs/<digest>`
    DeleteBlob { name: RepositoryName, digest: String },
    /// `POST /v2/<name>/blobs/uploads/`
    StartUpload { name: RepositoryName },
    /// `GET /v2/<name>/blobs/uploads/<id>`
    GetUpload { name: RepositoryName, id: String },
    /// `PATCH /v2/<name>/blobs/uploads/<id>`
    PatchUpload { name: RepositoryName, id: String },
    /// `PUT /v2/<name>/blobs/uploads/<id>?digest=`
    PutUpload { name: RepositoryName, id: String },
    /// `DELETE /v2/<name>/blobs/uploads/<id>`
    CancelUpload { name: RepositoryName, id: String },
    /// `GET /v2/<name>/referrers/<digest>`
    GetReferrers { name: RepositoryName, digest: Digest },
}

enum Route {
    Base,
    Catalog,
    Tags,
    Manifest(String),
    Blob(String),
    Uploads,
    Upload(String),
    Referrers(String),
}

impl Endpoint {
    /// Parses the path after `/v2/` and the method.
    pub fn parse(method: &Method, rest: &str) -> Result<Self, OciError> {
        let (name, route) = split(rest).ok_or_else(OciError::not_found_route)?;
        let name = match name {
            None => None,
            Some(n) => Some(
                n.parse::<RepositoryName>()
                    .map_err(|e| OciError::name_invalid(&e.to_string()))?,
            ),
        };
        let name = || name.clone().expect("routes with a name have one");
        let head = method == Method::HEAD;
        let unsupported = || Err(OciError::method_not_allowed(method));
        Ok(match (route, method.clone()) {
            (Route::Base, Method::GET | Method::HEAD) => Endpoint::Base,
            (Route::Catalog, Method::GET) => Endpoint::Catalog,
            (Route::Tags, Method::GET) => Endpoint::ListTags { name: name() },
            (Route::Manifest(r), Method::GET | Method::HEAD) => Endpoint::GetManifest {
                name: name(),
                reference: r,
                head,
            },
            (Route::Manifest(r), Method::PUT) => Endpoint::PutManifest {
                name: name(),
                reference: r,
            },
            (Route::Manifest(r), Method::DELETE) => Endpoint::DeleteManifest {
                name: name(),
                reference: r,
            },
            (Route::Blob(d), Method::GET | Method::HEAD) => Endpoint::GetBlob {
                name: name(),
                digest: d,
                head,
            },
            (Route::Blob(d), Method::DELETE) => Endpoint::DeleteBlob {
                name: name(),
                digest: d,
            },
            (Route::Uploads, Method::POST) => Endpoint::StartUpload { name: name() },
            (Route::Upload(id), Method::GET) => Endpoint::GetUpload { name: name(), id },
            (Route::Upload(id), Method::PATCH) => Endpoint::PatchUpload { name: name(), id },
            (Route::Upload(id), Method::PUT) => Endpoint::PutUpload { name: name(), id },
            (Route::Upload(id), Method::DELETE) => Endpoint::CancelUpload { name: name(), id },
            (Route::Referrers(d), Method::GET) => {
                let digest = d
                    .parse()
                    .map_err(|e: stowage_core::DigestError| OciError::digest_invalid(&e.to_string()))?;
                Endpoint::GetReferrers { name: name(), digest }
            }
            _ => return unsupported(),
        })
    }

    /// The operation's name in logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::Base => "GetBase",
            Endpoint::Catalog => "GetCatalog",
            Endpoint::ListTags { .. } => "ListTags",
            Endpoint::GetManifest { head: true, .. } => "HeadManifest",
            Endpoint::GetManifest { .. } => "GetManifest",
            Endpoint::PutManifest { .. } => "PutManifest",
            Endpoint::DeleteManifest { .. } => "DeleteManifest",
            Endpoint::GetBlob { head: true, .. } => "HeadBlob",
            Endpoint::GetBlob { .. } => "GetBlob",
            Endpoint::DeleteBlob { .. } => "DeleteBlob",
            Endpoint::StartUpload { .. } => "StartUpload",
            Endpoint::GetUpload { .. } => "GetUpload",
            Endpoint::PatchUpload { .. } => "PatchUpload",
            Endpoint::PutUpload { .. } => "PutUpload",
            Endpoint::CancelUpload { .. } => "CancelUpload",
            Endpoint::GetReferrers { .. } => "GetReferrers",
        }
    }

    /// The ECR action this operation is authorized as (spec §3.2).
    pub fn action(&self) -> Action {
        match self {
            Endpoint::Base => Action::GetAuthorizationToken,
            Endpoint::Catalog => Action::DescribeRepositories,
            Endpoint::ListTags { .. } => Action::ListImages,
            Endpoint::GetManifest { .. } => Action::BatchGetImage,
            Endpoint::PutManifest { .. } => Action::PutImage,
            Endpoint::DeleteManifest { .. } | Endpoint::DeleteBlob { .. } => Action::BatchDeleteImage,
            Endpoint::GetBlob { head: true, .. } => Action::BatchCheckLayerAvailability,
            Endpoint::GetBlob { .. } => Action::GetDownloadUrlForLayer,
            Endpoint::StartUpload { .. } => Action::InitiateLayerUpload,
            Endpoint::GetUpload { .. } | Endpoint::PatchUpload { .. } | Endpoint::CancelUpload { .. } => {
                Action::UploadLayerPart
            }
            Endpoint::PutUpload { .. } => Action::CompleteLayerUpload,
            Endpoint::GetReferrers { .. } => Action::ListImageReferrers,
        }
    }

    /// The repository the operation is about, if any.
    pub fn repository(&self) -> Option<&RepositoryName> {
        match self {
            Endpoint::Base | Endpoint::Catalog => None,
            Endpoint::ListTags { name }
            | Endpoint::GetManifest { name, .. }
            | Endpoint::PutManifest { name, .. }
            | Endpoint::DeleteManifest { name, .. }
            | Endpoint::GetBlob { name, .. }
            | Endpoint::DeleteBlob { name, .. }
            | Endpoint::StartUpload { name }
            | Endpoint::GetUpload { name, .. }
            | Endpoint::PatchUpload { name, .. }
            | Endpoint::PutUpload { name, .. }
            | Endpoint::CancelUpload { name, .. }
            | Endpoint::GetReferrers { name, .. } => Some(name),
        }
    }
}

/// Splits `rest` into the repository name (unvalidated) and the route.
fn split(rest: &str) -> Option<(Option<&str>, Route)> {
    if rest.is_empty() {
        return Some((None, Route::Base));
    }
    if rest == "_catalog" {
        return Some((None, Route::Catalog));
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some((Some(name), Route::Tags));
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some((Some(name), Route::Uploads));
    }
    let (head, last) = rest.rsplit_once('/')?;
    let (name, kind) = head.rsplit_once('/')?;
    let last = last.to_string();
    let route = match kind {
        "manifests" => Route::Manifest(last),
        "blobs" => Route::Blob(last),
        "referrers" => Route::Referrers(last),
        "uploads" => {
            let name = name.strip_suffix("/blobs")?;
            return Some((Some(name), Route::Upload(last)));
        }
        _ => return None,
    };
    Some((Some(name), route))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(m: Method, p: &str) -> Endpoint {
        Endpoint::parse(&m, p).unwrap()
    }

    #[test]
    fn names_with_slashes_and_keywords() {
        let e = parse(Method::GET, "team/manifests/app/manifests/latest");
        assert_eq!(e.repository().unwrap().as_str(), "team/manifests/app");
        assert!(matches!(e, Endpoint::GetManifest { reference, .. } if reference == "latest"));
        let e = parse(Method::PATCH, "a/b/blobs/uploads/1234");
        assert!(matches!(e, Endpoint::PatchUpload { ref id, .. } if id == "1234"));
        assert_eq!(e.repository().unwrap().as_str(), "a/b");
        assert!(matches!(
            parse(Method::POST, "ab/blobs/uploads/"),
            Endpoint::StartUpload { .. }
        ));
        assert!(matches!(parse(Method::GET, "ab/tags/list"), Endpoint::ListTags { .. }));
        assert_eq!(parse(Method::GET, ""), Endpoint::Base);
        assert_eq!(parse(Method::GET, "_catalog"), Endpoint::Catalog);
    }

    #[test]
    fn bad_names_and_methods() {
        let err = Endpoint::parse(&Method::GET, "../etc/manifests/latest").unwrap_err();
        assert_eq!(err.code.code(), "NAME_INVALID");
        let err = Endpoint::parse(&Method::GET, "Upper/manifests/latest").unwrap_err();
        assert_eq!(err.code.code(), "NAME_INVALID");
        let err = Endpoint::parse(&Method::POST, "ab/manifests/latest").unwrap_err();
        assert_eq!(err.code.code(), "UNSUPPORTED");
        assert_eq!(Endpoint::parse(&Method::GET, "ab/nothing/x").unwrap_err().status, 404);
    }

    #[test]
    fn actions_follow_the_contract() {
        let n: RepositoryName = "ab".parse().unwrap();
        assert_eq!(
            Endpoint::GetBlob {
                name: n.clone(),
                digest: String::new(),
                head: true
            }
            .action(),
            Action::BatchCheckLayerAvailability
        );
        assert_eq!(Endpoint::StartUpload { name: n }.action(), Action::InitiateLayerUpload);
    }
}
