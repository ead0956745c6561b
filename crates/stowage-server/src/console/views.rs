//! The console's pages as askama templates (`templates/console/*.html`,
//! compiled into the binary; every `{{ }}` is HTML-escaped) and the small
//! formatting helpers they share.

use askama::Template;

/// What the page header shows for a signed-in user.
#[derive(Clone, Debug)]
pub struct Layout {
    pub user: String,
    pub account: String,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
pub struct SignInPage {
    pub layout: Option<Layout>,
    pub error: Option<String>,
    pub next: String,
}

#[derive(Template)]
#[template(path = "console/error.html")]
pub struct ErrorPage {
    pub layout: Option<Layout>,
    pub title: String,
    pub message: String,
}

/// A repository in the list.
pub struct RepoRow {
    pub name: String,
    pub href: String,
    pub uri: String,
    pub images: u64,
    pub size: String,
    pub created: String,
    pub mutability: String,
    pub scan_on_push: &'static str,
    pub encryption: String,
}

/// The create-repository form, as sent (re-shown after an error).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mutability: String,
    #[serde(default)]
    pub exclusions: String,
    #[serde(default)]
    pub scan_on_push: Option<String>,
    #[serde(default)]
    pub encryption: String,
    #[serde(default)]
    pub kms_key: String,
    /// Resource tags as `key=value, key=value`.
    #[serde(default)]
    pub tags: String,
}

impl super::PostedForm for CreateForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The form as the template shows it.
pub struct CreateFormView {
    pub name: String,
    pub mutability: String,
    pub exclusions: String,
    pub scan_on_push: bool,
    pub encryption: String,
    pub kms_key: String,
    pub tags: String,
}

impl From<&CreateForm> for CreateFormView {
    fn from(f: &CreateForm) -> Self {
        CreateFormView {
            name: f.name.clone(),
            mutability: if f.mutability.is_empty() {
                "MUTABLE".into()
            } else {
                f.mutability.clone()
            },
            exclusions: f.exclusions.clone(),
            scan_on_push: f.scan_on_push.is_some(),
            encryption: if f.encryption.is_empty() {
                "AES256".into()
            } else {
                f.encryption.clone()
            },
            kms_key: f.kms_key.clone(),
            tags: f.tags.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/repositories.html")]
pub struct RepositoriesPage {
    pub layout: Option<Layout>,
    pub csrf: String,
    pub q: String,
    pub total: usize,
    pub rows: Vec<RepoRow>,
    pub page: usize,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    pub can_create: bool,
    pub create_error: Option<String>,
    pub form: CreateFormView,
    pub mutabilities: &'static [&'static str],
    pub encryptions: &'static [&'static str],
}

/// A link among alternatives (sort orders, severities).
pub struct Choice {
    pub label: String,
    pub href: String,
    pub current: bool,
}

/// An image in a repository's list.
pub struct ImageRow {
    pub tags: String,
    pub short_digest: String,
    pub href: String,
    pub size: String,
    pub pushed: String,
    pub last_pulled: String,
    pub scan_status: String,
    /// (severity, count), most severe first, zero counts left out.
    pub counts: Vec<(String, u64)>,
}

#[derive(Template)]
#[template(path = "console/repository.html")]
pub struct RepositoryPage {
    pub layout: Option<Layout>,
    pub name: String,
    pub short_name: String,
    pub uri: String,
    pub login_command: String,
    pub sorts: Vec<Choice>,
    pub images: Vec<ImageRow>,
    pub page: usize,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    pub can_delete: bool,
    pub delete_href: String,
    pub lifecycle_href: String,
    pub permissions_href: String,
}

#[derive(Template)]
#[template(path = "console/delete_repository.html")]
pub struct DeleteRepositoryPage {
    pub layout: Option<Layout>,
    pub csrf: String,
    pub name: String,
    pub images: u64,
    pub size: String,
    pub error: Option<String>,
}

/// A layer of an image.
pub struct LayerRow {
    pub digest: String,
    pub media_type: String,
    pub size: String,
}

/// A manifest an image links to (an index's platforms, referrers).
pub struct LinkedRow {
    pub platform: String,
    pub digest: String,
    pub href: String,
    pub size: String,
}

/// A finding in an image's table.
pub struct FindingRow {
    pub name: String,
    /// An http(s) link, else `#`: advisory data never becomes a script URL.
    pub uri: String,
    pub severity: String,
    pub package: String,
    pub version: String,
    pub fixed_in: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "console/image.html")]
pub struct ImagePage {
    pub layout: Option<Layout>,
    pub repository: String,
    pub repository_href: String,
    pub digest: String,
    pub short_digest: String,
    pub tags: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub size: String,
    pub pushed: String,
    pub scan_status: String,
    pub layers: Vec<LayerRow>,
    pub platforms: Vec<LinkedRow>,
    pub referrers: Vec<LinkedRow>,
    pub severity: String,
    pub severities: Vec<Choice>,
    pub findings: Vec<FindingRow>,
    pub manifest: String,
}

/// Bytes as the console shows them (`1.5 MB`, decimal units like ECR's console).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Epoch milliseconds as `2026-11-27 10:15 UTC`.
pub fn time(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    format!(
        "{} UTC",
        s.replace('T', " ").trim_end_matches('Z').get(..16).unwrap_or(&s)
    )
}

/// A URL for a link: http(s) only, else `#`.
pub fn safe_url(url: &str) -> String {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        url.trim().to_string()
    } else {
        "#".into()
    }
}

/// A query string value, percent-encoded.
pub fn q(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The first 12 hex digits of a digest (`sha256:abcdef012345`).
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", hex.get(..12).unwrap_or(hex)),
        None => digest.to_string(),
    }
}

/// A lifecycle preview's outcome.
pub struct PreviewView {
    pub count: u64,
    pub bytes: String,
    pub images: Vec<PreviewImage>,
}

/// An image a preview would expire.
pub struct PreviewImage {
    pub tags: String,
    pub digest: String,
    pub pushed: String,
    pub rule: u64,
}

#[derive(Template)]
#[template(path = "console/lifecycle.html")]
pub struct LifecyclePage {
    pub layout: Option<Layout>,
    pub csrf: String,
    pub name: String,
    pub repository_href: String,
    pub rules: Vec<String>,
    pub saved: bool,
    pub text: String,
    pub message: Option<String>,
    pub error: Option<String>,
    pub preview: Option<PreviewView>,
    pub can_save: bool,
    pub next_priority: u64,
}

/// Whether a principal may pull and push.
pub struct AccessRow {
    pub name: String,
    pub kind: &'static str,
    pub pull: &'static str,
    pub push: &'static str,
}

#[derive(Template)]
#[template(path = "console/permissions.html")]
pub struct PermissionsPage {
    pub layout: Option<Layout>,
    pub csrf: String,
    pub name: String,
    pub repository_href: String,
    pub access: Vec<AccessRow>,
    pub policy: String,
    pub message: Option<String>,
    pub error: Option<String>,
    pub can_edit: bool,
}

/// A bar of the storage chart.
pub struct Bar {
    pub label: String,
    pub value: String,
    pub y: u64,
    pub width: u64,
}

/// The registry scanning configuration as the form shows it.
pub struct ScanningView {
    pub scan_type: String,
    /// The rules as pretty JSON.
    pub rules: String,
}

#[derive(Template)]
#[template(path = "console/settings.html")]
pub struct SettingsPage {
    pub layout: Option<Layout>,
    pub csrf: String,
    pub message: Option<String>,
    pub error: Option<String>,
    pub chart_width: u64,
    pub chart_height: u64,
    pub label_width: u64,
    pub bars: Vec<Bar>,
    pub scanning: Option<ScanningView>,
    pub can_edit_scanning: bool,
    pub account_settings: Vec<(String, String)>,
    pub can_edit_account: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A string that breaks out of text, attributes and URLs if not escaped.
    const EVIL: &str = "x\"'><script>alert(1)</script>&amp;<img src=x onerror=alert(2)>";

    fn layout() -> Option<Layout> {
        Some(Layout {
            user: EVIL.into(),
            account: EVIL.into(),
            csrf: EVIL.into(),
        })
    }

    /// Every user-controlled string came out escaped: no tag or attribute
    /// the page did not write itself.
    fn assert_escaped(html: &str) {
        assert!(!html.contains("<script>alert"), "unescaped script: {html}");
        assert!(!html.contains("<img src=x"), "unescaped tag: {html}");
        assert!(!html.contains("\"'>"), "attribute break-out: {html}");
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{html}");
    }

    fn choice() -> Choice {
        Choice {
            label: EVIL.into(),
            href: EVIL.into(),
            current: true,
        }
    }

    #[test]
    fn sign_in_and_error_pages_escape() {
        assert_escaped(
            &SignInPage {
                layout: None,
                error: Some(EVIL.into()),
                next: EVIL.into(),
            }
            .render()
            .unwrap(),
        );
        assert_escaped(
            &ErrorPage {
                layout: layout(),
                title: EVIL.into(),
                message: EVIL.into(),
            }
            .render()
            .unwrap(),
        );
    }

    #[test]
    fn repository_list_escapes_names_uris_and_form_values() {
        let form = CreateForm {
            name: EVIL.into(),
            mutability: EVIL.into(),
            exclusions: EVIL.into(),
            encryption: EVIL.into(),
            kms_key: EVIL.into(),
            tags: EVIL.into(),
            ..Default::default()
        };
        let page = RepositoriesPage {
            layout: layout(),
            csrf: EVIL.into(),
            q: EVIL.into(),
            total: 1,
            rows: vec![RepoRow {
                name: EVIL.into(),
                href: EVIL.into(),
                uri: EVIL.into(),
                images: 1,
                size: EVIL.into(),
                created: EVIL.into(),
                mutability: EVIL.into(),
                scan_on_push: "yes",
                encryption: EVIL.into(),
            }],
            page: 1,
            prev_href: Some(EVIL.into()),
            next_href: Some(EVIL.into()),
            can_create: true,
            create_error: Some(EVIL.into()),
            form: (&form).into(),
            mutabilities: &["MUTABLE"],
            encryptions: &["AES256"],
        };
        assert_escaped(&page.render().unwrap());
    }

    #[test]
    fn repository_and_delete_pages_escape_tags_and_names() {
        let page = RepositoryPage {
            layout: layout(),
            name: EVIL.into(),
            short_name: EVIL.into(),
            uri: EVIL.into(),
            login_command: EVIL.into(),
            sorts: vec![choice()],
            images: vec![ImageRow {
                tags: EVIL.into(),
                short_digest: EVIL.into(),
                href: EVIL.into(),
                size: EVIL.into(),
                pushed: EVIL.into(),
                last_pulled: EVIL.into(),
                scan_status: EVIL.into(),
                counts: vec![(EVIL.into(), 1)],
            }],
            page: 1,
            prev_href: Some(EVIL.into()),
            next_href: None,
            can_delete: true,
            delete_href: EVIL.into(),
            lifecycle_href: EVIL.into(),
            permissions_href: EVIL.into(),
        };
        assert_escaped(&page.render().unwrap());
        let delete = DeleteRepositoryPage {
            layout: layout(),
            csrf: EVIL.into(),
            name: EVIL.into(),
            images: 3,
            size: EVIL.into(),
            error: Some(EVIL.into()),
        };
        assert_escaped(&delete.render().unwrap());
    }

    #[test]
    fn image_page_escapes_findings_and_the_manifest() {
        let linked = || LinkedRow {
            platform: EVIL.into(),
            digest: EVIL.into(),
            href: EVIL.into(),
            size: EVIL.into(),
        };
        let page = ImagePage {
            layout: layout(),
            repository: EVIL.into(),
            repository_href: EVIL.into(),
            digest: EVIL.into(),
            short_digest: EVIL.into(),
            tags: EVIL.into(),
            media_type: EVIL.into(),
            artifact_type: Some(EVIL.into()),
            size: EVIL.into(),
            pushed: EVIL.into(),
            scan_status: EVIL.into(),
            layers: vec![LayerRow {
                digest: EVIL.into(),
                media_type: EVIL.into(),
                size: EVIL.into(),
            }],
            platforms: vec![linked()],
            referrers: vec![linked()],
            severity: EVIL.into(),
            severities: vec![choice()],
            findings: vec![FindingRow {
                name: EVIL.into(),
                uri: safe_url("javascript:alert(3)"),
                severity: EVIL.into(),
                package: EVIL.into(),
                version: EVIL.into(),
                fixed_in: EVIL.into(),
                description: EVIL.into(),
            }],
            manifest: EVIL.into(),
        };
        let html = page.render().unwrap();
        assert_escaped(&html);
        assert!(!html.contains("javascript:"), "advisory links are http(s) only");
    }

    #[test]
    fn policy_lifecycle_and_settings_pages_escape_policy_text() {
        let lifecycle = LifecyclePage {
            layout: layout(),
            csrf: EVIL.into(),
            name: EVIL.into(),
            repository_href: EVIL.into(),
            rules: vec![EVIL.into()],
            saved: false,
            text: format!("{EVIL}</textarea>{EVIL}"),
            message: Some(EVIL.into()),
            error: Some(EVIL.into()),
            preview: Some(PreviewView {
                count: 1,
                bytes: EVIL.into(),
                images: vec![PreviewImage {
                    tags: EVIL.into(),
                    digest: EVIL.into(),
                    pushed: EVIL.into(),
                    rule: 1,
                }],
            }),
            can_save: true,
            next_priority: 2,
        };
        let html = lifecycle.render().unwrap();
        assert_escaped(&html);
        assert_eq!(
            html.matches("</textarea>").count(),
            1,
            "policy text cannot close its textarea"
        );
        let permissions = PermissionsPage {
            layout: layout(),
            csrf: EVIL.into(),
            name: EVIL.into(),
            repository_href: EVIL.into(),
            access: vec![AccessRow {
                name: EVIL.into(),
                kind: "user",
                pull: "yes",
                push: "no",
            }],
            policy: format!("{EVIL}</textarea>"),
            message: None,
            error: Some(EVIL.into()),
            can_edit: true,
        };
        let html = permissions.render().unwrap();
        assert_escaped(&html);
        assert_eq!(html.matches("</textarea>").count(), 1);
        let settings = SettingsPage {
            layout: layout(),
            csrf: EVIL.into(),
            message: Some(EVIL.into()),
            error: Some(EVIL.into()),
            chart_width: 10,
            chart_height: 10,
            label_width: 5,
            bars: vec![Bar {
                label: EVIL.into(),
                value: EVIL.into(),
                y: 0,
                width: 1,
            }],
            scanning: Some(ScanningView {
                scan_type: EVIL.into(),
                rules: format!("{EVIL}</textarea>"),
            }),
            can_edit_scanning: true,
            account_settings: vec![(EVIL.into(), EVIL.into())],
            can_edit_account: true,
        };
        let html = settings.render().unwrap();
        assert_escaped(&html);
        assert_eq!(html.matches("</textarea>").count(), 1);
    }

    #[test]
    fn helpers_format_and_sanitize() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
        assert_eq!(safe_url("https://osv.dev/x"), "https://osv.dev/x");
        assert_eq!(safe_url(" JavaScript:alert(1)"), "#");
        assert_eq!(safe_url("data:text/html,x"), "#");
        assert_eq!(q("team/app one&two"), "team%2Fapp+one%26two");
        assert_eq!(short_digest("sha256:0123456789abcdef"), "sha256:0123456789ab");
    }
}
