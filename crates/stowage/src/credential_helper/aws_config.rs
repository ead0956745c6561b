//! The parts of the standard AWS credential chain the helper needs: static
//! keys from the environment, else from the shared credentials file (or the
//! config file) for the selected profile, and the region. Everything reads
//! the environment through a lookup function so tests can fake it.
//!
//! Not supported: `credential_process`, `role_arn`/`source_profile`, SSO and
//! instance metadata; a profile that only has those is reported as such.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, bail};

/// The region used when nothing names one, as the AWS CLI does for ECR.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Static AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// For temporary (`ASIA…`) keys.
    pub session_token: Option<String>,
    /// Where they came from, for messages: `environment` or `<file> [profile]`.
    pub source: String,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("source", &self.source)
            .finish()
    }
}

/// An INI file as AWS reads it: section name → lowercase key → value.
pub type Ini = BTreeMap<String, BTreeMap<String, String>>;

/// Parses the AWS shared config/credentials file format: `[section]` headers
/// (a trailing `#`/`;` comment allowed), `key = value` (or `key: value`)
/// properties with keys lowercased, whole-line `#`/`;` comments, and indented
/// continuation lines (the nested `s3 =` style), which are skipped so a nested
/// `region` never counts as the profile's. Lines before the first section and
/// lines it cannot read are ignored; a repeated key keeps its last value.
pub fn parse_ini(text: &str) -> Ini {
    let mut ini = Ini::new();
    let mut section: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            continue; // a continuation of the previous property
        }
        if let Some(rest) = line.strip_prefix('[') {
            section = rest.split_once(']').map(|(name, _)| name.trim().to_owned());
            if let Some(name) = &section {
                ini.entry(name.clone()).or_default();
            }
            continue;
        }
        let Some(name) = &section else { continue };
        let Some(at) = line.find(['=', ':']) else { continue };
        let (key, value) = (line[..at].trim(), line[at + 1..].trim());
        if key.is_empty() {
            continue;
        }
        ini.entry(name.clone())
            .or_default()
            .insert(key.to_ascii_lowercase(), value.to_owned());
    }
    ini
}

/// Reads an environment variable, treating an empty value as unset.
fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// The profile in use: `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`.
pub fn profile_name(env: &dyn Fn(&str) -> Option<String>) -> String {
    var(env, "AWS_PROFILE")
        .or_else(|| var(env, "AWS_DEFAULT_PROFILE"))
        .map(|p| p.trim().to_owned())
        .unwrap_or_else(|| "default".to_owned())
}

/// Expands a leading `~` to `$HOME`, as the AWS tools do for these paths.
fn expand_home(env: &dyn Fn(&str) -> Option<String>, path: &str) -> PathBuf {
    match (path.strip_prefix('~'), var(env, "HOME")) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => PathBuf::from(format!("{home}{rest}")),
        _ => PathBuf::from(path),
    }
}

/// A file from `override_var`, else `~/.aws/<default_name>`; `None` when neither is known.
fn aws_file(env: &dyn Fn(&str) -> Option<String>, override_var: &str, default_name: &str) -> Option<PathBuf> {
    match var(env, override_var) {
        Some(path) => Some(expand_home(env, path.trim())),
        None => var(env, "HOME").map(|home| PathBuf::from(home).join(".aws").join(default_name)),
    }
}

/// The shared credentials file: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
pub fn credentials_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    aws_file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

/// The config file: `AWS_CONFIG_FILE`, else `~/.aws/config`.
pub fn config_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    aws_file(env, "AWS_CONFIG_FILE", "config")
}

/// Reads and parses a file; a missing file is `None`, an unreadable one an error.
fn read_ini(path: &std::path::Path) -> anyhow::Result<Option<Ini>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(parse_ini(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The config file's section for a profile: `[default]` (or `[profile default]`)
/// for `default`, `[profile NAME]` (or, leniently, `[NAME]`) otherwise.
pub fn config_section<'a>(ini: &'a Ini, profile: &str) -> Option<&'a BTreeMap<String, String>> {
    let prefixed = ini.iter().find(|(name, _)| {
        name.strip_prefix("profile")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .is_some_and(|rest| rest.trim() == profile)
    });
    let bare = ini.get(profile);
    if profile == "default" {
        bare.or(prefixed.map(|(_, s)| s))
    } else {
        prefixed.map(|(_, s)| s).or(bare)
    }
}

/// Static keys in a section, if it has both of them.
fn keys_in(section: &BTreeMap<String, String>, source: String) -> Option<AwsCredentials> {
    let get = |k: &str| section.get(k).filter(|v| !v.is_empty()).cloned();
    Some(AwsCredentials {
        access_key_id: get("aws_access_key_id")?,
        secret_access_key: get("aws_secret_access_key")?,
        session_token: get("aws_session_token"),
        source,
    })
}

/// Credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`).
/// Only one of the two keys set is an error, as in the AWS SDKs.
pub fn credentials_from_env(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Option<AwsCredentials>> {
    match (var(env, "AWS_ACCESS_KEY_ID"), var(env, "AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Some(AwsCredentials {
            access_key_id: access_key_id.trim().to_owned(),
            secret_access_key: secret_access_key.trim().to_owned(),
            session_token: var(env, "AWS_SESSION_TOKEN").map(|t| t.trim().to_owned()),
            source: "environment".to_owned(),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => bail!("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
        (None, Some(_)) => bail!("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"),
    }
}

/// The credential chain: the environment, then the profile's section of the
/// shared credentials file, then its section of the config file. `Ok(None)`
/// when none of them has keys.
pub fn load_credentials(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Option<AwsCredentials>> {
    if let Some(creds) = credentials_from_env(env)? {
        return Ok(Some(creds));
    }
    let profile = profile_name(env);
    let mut profile_seen = false;
    if let Some(path) = credentials_file(env)
        && let Some(ini) = read_ini(&path)?
        && let Some(section) = ini.get(&profile)
    {
        profile_seen = true;
        if let Some(creds) = keys_in(section, format!("{} [{profile}]", path.display())) {
            return Ok(Some(creds));
        }
    }
    if let Some(path) = config_file(env)
        && let Some(ini) = read_ini(&path)?
        && let Some(section) = config_section(&ini, &profile)
    {
        profile_seen = true;
        if let Some(creds) = keys_in(section, format!("{} [{profile}]", path.display())) {
            return Ok(Some(creds));
        }
        let unsupported: Vec<&str> = ["credential_process", "role_arn", "sso_session", "sso_start_url"]
            .into_iter()
            .filter(|k| section.contains_key(*k))
            .collect();
        if !unsupported.is_empty() {
            bail!(
                "profile '{profile}' uses {}, which docker-credential-stowage does not support; \
                 give it aws_access_key_id/aws_secret_access_key or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
                unsupported.join(", ")
            );
        }
    }
    if !profile_seen && profile != "default" {
        bail!("the AWS profile '{profile}' (from AWS_PROFILE) was not found in the credentials or config file");
    }
    Ok(None)
}

/// The region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` in
/// the config file, else [`DEFAULT_REGION`].
pub fn load_region(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    if let Some(region) = var(env, "AWS_REGION").or_else(|| var(env, "AWS_DEFAULT_REGION")) {
        return Ok(region.trim().to_owned());
    }
    if let Some(path) = config_file(env)
        && let Some(ini) = read_ini(&path)?
        && let Some(region) = config_section(&ini, &profile_name(env))
            .and_then(|s| s.get("region"))
            .filter(|r| !r.is_empty())
    {
        return Ok(region.clone());
    }
    Ok(DEFAULT_REGION.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn parses_the_aws_ini_dialect() {
        let ini = parse_ini(
            "stray = before any section\n\
             # comment\n\
             ; another\n\
             [default]\n\
             aws_access_key_id = AKIA1\n\
             AWS_Secret_Access_Key=s3cr=et/+x\n\
             \n\
             [profile dev] # trailing comment\n\
             region: eu-west-1\n\
             s3 =\n  region = nested-should-not-win\n\tmax_concurrent_requests = 10\n\
             output = json\n\
             [ spaced ]\n\
             empty =\n\
             region = a\n\
             region = b\n\
             [broken\n\
             key = value\n",
        );
        assert_eq!(ini["default"]["aws_access_key_id"], "AKIA1");
        assert_eq!(ini["default"]["aws_secret_access_key"], "s3cr=et/+x");
        assert_eq!(ini["profile dev"]["region"], "eu-west-1");
        assert_eq!(ini["profile dev"]["s3"], "");
        assert_eq!(ini["profile dev"]["output"], "json");
        assert_eq!(ini["spaced"]["empty"], "");
        assert_eq!(ini["spaced"]["region"], "b");
        assert_eq!(ini.len(), 3, "{ini:?}");
    }

    #[test]
    fn config_sections_by_profile() {
        let ini = parse_ini("[default]\nregion=d\n[profile dev]\nregion=p\n[dev]\nregion=bare\n[other]\nregion=o\n");
        assert_eq!(config_section(&ini, "default").unwrap()["region"], "d");
        assert_eq!(config_section(&ini, "dev").unwrap()["region"], "p");
        assert_eq!(config_section(&ini, "other").unwrap()["region"], "o");
        assert!(config_section(&ini, "missing").is_none());
        let ini = parse_ini("[profile default]\nregion=pd\n");
        assert_eq!(config_section(&ini, "default").unwrap()["region"], "pd");
    }

    #[test]
    fn environment_credentials_come_first() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credentials");
        std::fs::write(
            &file,
            "[default]\naws_access_key_id=FILE\naws_secret_access_key=filesecret\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_SESSION_TOKEN", "tok"),
            ("AWS_SHARED_CREDENTIALS_FILE", file),
        ]);
        let c = load_credentials(&env).unwrap().unwrap();
        assert_eq!(
            (
                c.access_key_id.as_str(),
                c.secret_access_key.as_str(),
                c.session_token.as_deref()
            ),
            ("ENVKEY", "envsecret", Some("tok"))
        );
        assert_eq!(c.source, "environment");

        // Empty values count as unset.
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("AWS_SHARED_CREDENTIALS_FILE", file),
        ]);
        assert_eq!(load_credentials(&env).unwrap().unwrap().access_key_id, "FILE");

        let half = env_of(&[("AWS_ACCESS_KEY_ID", "ENVKEY"), ("AWS_SHARED_CREDENTIALS_FILE", file)]);
        let err = load_credentials(&half).unwrap_err().to_string();
        assert!(err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    }

    #[test]
    fn shared_credentials_file_with_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("creds");
        std::fs::write(
            &file,
            "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = defsecret\n\
             [work]\naws_access_key_id = ASIAWORK\naws_secret_access_key = worksecret\naws_session_token = worktoken\n\
             [half]\naws_access_key_id = AKIAHALF\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let c = load_credentials(&env_of(&[("AWS_SHARED_CREDENTIALS_FILE", path)]))
            .unwrap()
            .unwrap();
        assert_eq!(c.access_key_id, "AKIADEFAULT");
        assert_eq!(c.session_token, None);
        assert_eq!(c.source, format!("{path} [default]"));

        let c = load_credentials(&env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", path),
            ("AWS_PROFILE", "work"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                c.access_key_id.as_str(),
                c.secret_access_key.as_str(),
                c.session_token.as_deref()
            ),
            ("ASIAWORK", "worksecret", Some("worktoken"))
        );
        // AWS_DEFAULT_PROFILE is the legacy spelling; AWS_PROFILE wins over it.
        let c = load_credentials(&env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", path),
            ("AWS_DEFAULT_PROFILE", "work"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.access_key_id, "ASIAWORK");
        let c = load_credentials(&env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", path),
            ("AWS_PROFILE", "default"),
            ("AWS_DEFAULT_PROFILE", "work"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.access_key_id, "AKIADEFAULT");

        // A profile with only half a key pair has no credentials.
        let none = load_credentials(&env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", path),
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
            ("AWS_PROFILE", "half"),
        ]))
        .unwrap();
        assert_eq!(none, None);

        // A named profile that exists nowhere is an error; a missing default is just "none".
        let err = load_credentials(&env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", path),
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
            ("AWS_PROFILE", "nosuch"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("'nosuch'"), "{err}");
        let none = load_credentials(&env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds"),
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ]))
        .unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn home_directory_defaults_and_config_file_keys() {
        let home = tempfile::tempdir().unwrap();
        let aws = home.path().join(".aws");
        std::fs::create_dir(&aws).unwrap();
        std::fs::write(
            aws.join("config"),
            "[default]\nregion = ap-south-1\n\
             [profile cfgkeys]\naws_access_key_id = AKIACFG\naws_secret_access_key = cfgsecret\nregion = eu-north-1\n\
             [profile proc]\ncredential_process = /bin/get-creds\n",
        )
        .unwrap();
        let home_str = home.path().to_str().unwrap();
        let env = env_of(&[("HOME", home_str)]);
        assert_eq!(credentials_file(&env).unwrap(), aws.join("credentials"));
        assert_eq!(config_file(&env).unwrap(), aws.join("config"));
        assert_eq!(load_credentials(&env).unwrap(), None);
        assert_eq!(load_region(&env).unwrap(), "ap-south-1");

        // Keys in the config file count when the credentials file has none.
        let env = env_of(&[("HOME", home_str), ("AWS_PROFILE", "cfgkeys")]);
        let c = load_credentials(&env).unwrap().unwrap();
        assert_eq!(c.access_key_id, "AKIACFG");
        assert_eq!(load_region(&env).unwrap(), "eu-north-1");

        let env = env_of(&[("HOME", home_str), ("AWS_PROFILE", "proc")]);
        let err = load_credentials(&env).unwrap_err().to_string();
        assert!(err.contains("credential_process"), "{err}");

        // `~` in an override path means $HOME.
        std::fs::write(
            home.path().join("mycreds"),
            "[default]\naws_access_key_id=T\naws_secret_access_key=S\n",
        )
        .unwrap();
        let env = env_of(&[("HOME", home_str), ("AWS_SHARED_CREDENTIALS_FILE", "~/mycreds")]);
        assert_eq!(load_credentials(&env).unwrap().unwrap().access_key_id, "T");

        // No HOME and no overrides: nothing to read.
        let env = env_of(&[]);
        assert_eq!(credentials_file(&env), None);
        assert_eq!(load_credentials(&env).unwrap(), None);
        assert_eq!(load_region(&env).unwrap(), DEFAULT_REGION);
    }

    #[test]
    fn region_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            "[default]\nregion = from-default\n[profile p]\nregion = from-profile\n",
        )
        .unwrap();
        let config = config.to_str().unwrap();
        let region = |pairs: &[(&str, &str)]| {
            let mut all = vec![("AWS_CONFIG_FILE", config)];
            all.extend_from_slice(pairs);
            load_region(&env_of(&all)).unwrap()
        };
        assert_eq!(region(&[("AWS_REGION", "r1"), ("AWS_DEFAULT_REGION", "r2")]), "r1");
        assert_eq!(region(&[("AWS_DEFAULT_REGION", "r2")]), "r2");
        assert_eq!(region(&[("AWS_REGION", "")]), "from-default");
        assert_eq!(region(&[("AWS_PROFILE", "p")]), "from-profile");
        // A profile without its own section gets no region from [default].
        assert_eq!(region(&[("AWS_PROFILE", "elsewhere")]), DEFAULT_REGION);
        assert_eq!(
            load_region(&env_of(&[("AWS_CONFIG_FILE", "/nonexistent/config")])).unwrap(),
            DEFAULT_REGION
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = AwsCredentials {
            access_key_id: "AKIA".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("token-value".into()),
            source: "environment".into(),
        };
        let s = format!("{c:?}");
        assert!(!s.contains("very-secret") && !s.contains("token-value"), "{s}");
    }
}
