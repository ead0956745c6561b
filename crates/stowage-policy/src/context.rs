//! The request context: condition keys (spec §5.5) with one or many string values.
//! Key names are case-insensitive, as in IAM (`aws:SourceIp` = `AWS:sourceip`); a
//! key with an empty list of values counts as absent.

use std::collections::BTreeMap;

use crate::principal::{Principal, PrincipalKind};

/// Condition keys the server populates (spec §5.5), spelled as AWS documents them.
pub mod keys {
    pub const PRINCIPAL_ACCOUNT: &str = "aws:PrincipalAccount";
    pub const PRINCIPAL_ARN: &str = "aws:PrincipalArn";
    pub const PRINCIPAL_TYPE: &str = "aws:PrincipalType";
    /// Prefix of `aws:PrincipalTag/<tag-key>`.
    pub const PRINCIPAL_TAG_PREFIX: &str = "aws:PrincipalTag/";
    pub const USERID: &str = "aws:userid";
    pub const USERNAME: &str = "aws:username";
    pub const SOURCE_IP: &str = "aws:SourceIp";
    pub const SECURE_TRANSPORT: &str = "aws:SecureTransport";
    pub const CURRENT_TIME: &str = "aws:CurrentTime";
    pub const EPOCH_TIME: &str = "aws:EpochTime";
    pub const REQUESTED_REGION: &str = "aws:RequestedRegion";
    pub const SOURCE_ACCOUNT: &str = "aws:SourceAccount";
    pub const SOURCE_ARN: &str = "aws:SourceArn";
    pub const MULTI_FACTOR_AUTH_PRESENT: &str = "aws:MultiFactorAuthPresent";
    pub const TOKEN_ISSUE_TIME: &str = "aws:TokenIssueTime";
    pub const CALLED_VIA: &str = "aws:CalledVia";
    /// Multi-valued: the tag keys of the request (CreateRepository, TagResource, UntagResource).
    pub const TAG_KEYS: &str = "aws:TagKeys";
    /// Prefix of `aws:RequestTag/<tag-key>`.
    pub const REQUEST_TAG_PREFIX: &str = "aws:RequestTag/";
    /// Prefix of `aws:ResourceTag/<tag-key>`.
    pub const RESOURCE_TAG_PREFIX: &str = "aws:ResourceTag/";
    /// Prefix of `ecr:ResourceTag/<tag-key>` (same values as `aws:ResourceTag/`).
    pub const ECR_RESOURCE_TAG_PREFIX: &str = "ecr:ResourceTag/";
}

/// Condition keys of one request, each with one or more values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Lower-cased key → values.
    entries: BTreeMap<String, Vec<String>>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a single-valued key, replacing any previous values.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.entries.insert(key.to_lowercase(), vec![value.into()]);
        self
    }

    /// Sets a multi-valued key (such as `aws:TagKeys`); no values means absent.
    pub fn set_many<I, S>(&mut self, key: &str, values: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        self.entries.insert(key.to_lowercase(), values);
        self
    }

    /// Builder form of [`Context::set`].
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Builder form of [`Context::set_many`].
    pub fn with_many<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.set_many(key, values);
        self
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) {
        self.entries.remove(&key.to_lowercase());
    }

    /// The key's values; `None` when it is absent or has no values.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entries
            .get(&key.to_lowercase())
            .map(Vec::as_slice)
            .filter(|values| !values.is_empty())
    }

    /// Adds the keys that describe the principal: `aws:PrincipalArn`,
    /// `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:username` (IAM users) and
    /// `aws:PrincipalTag/<key>`; for a role session `aws:PrincipalArn` is the role's ARN. Anonymous callers get only `aws:PrincipalType`.
    pub fn with_principal(mut self, principal: &Principal) -> Self {
        self.set(keys::PRINCIPAL_TYPE, principal.principal_type());
        if matches!(principal.kind, PrincipalKind::Anonymous | PrincipalKind::Service) {
            return self;
        }
        // For a role session AWS reports the role's ARN, not the session's.
        let arn = match &principal.kind {
            PrincipalKind::AssumedRole { role_arn } => role_arn,
            _ => &principal.arn,
        };
        self.set(keys::PRINCIPAL_ARN, arn.clone());
        self.set(keys::PRINCIPAL_ACCOUNT, principal.account.clone());
        if let Some(name) = principal.username() {
            self.set(keys::USERNAME, name);
        }
        for (k, v) in &principal.tags {
            self.set(&format!("{}{k}", keys::PRINCIPAL_TAG_PREFIX), v.clone());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_empty_means_absent() {
        let ctx = Context::new()
            .with("AWS:SourceIp", "10.0.0.1")
            .with_many(keys::TAG_KEYS, Vec::<String>::new());
        assert_eq!(ctx.get("aws:sourceip"), Some(&["10.0.0.1".to_owned()][..]));
        assert_eq!(ctx.get(keys::TAG_KEYS), None);
        assert_eq!(ctx.get("aws:username"), None);
    }

    #[test]
    fn principal_keys() {
        let alice = Principal::from_arn("arn:aws:iam::111122223333:user/dev/alice")
            .unwrap()
            .with_tag("team", "a");
        let ctx = Context::new().with_principal(&alice);
        let one = |k: &str| ctx.get(k).map(|v| v[0].clone());
        assert_eq!(one(keys::PRINCIPAL_ARN).as_deref(), Some(alice.arn.as_str()));
        assert_eq!(one(keys::PRINCIPAL_ACCOUNT).as_deref(), Some("111122223333"));
        assert_eq!(one(keys::PRINCIPAL_TYPE).as_deref(), Some("User"));
        assert_eq!(one(keys::USERNAME).as_deref(), Some("alice"));
        assert_eq!(one("aws:PrincipalTag/TEAM").as_deref(), Some("a"));

        let session = Principal::from_arn("arn:aws:sts::111122223333:assumed-role/R/s").unwrap();
        let ctx = Context::new().with_principal(&session);
        assert_eq!(
            ctx.get(keys::PRINCIPAL_ARN).map(|v| v[0].as_str()),
            Some("arn:aws:iam::111122223333:role/R")
        );
        assert_eq!(ctx.get(keys::USERNAME), None);

        let ctx = Context::new().with_principal(&Principal::anonymous());
        assert_eq!(ctx.get(keys::PRINCIPAL_TYPE).map(|v| v[0].as_str()), Some("Anonymous"));
        assert_eq!(ctx.get(keys::PRINCIPAL_ACCOUNT), None);
    }
}
