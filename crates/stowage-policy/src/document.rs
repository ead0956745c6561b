//! The policy document (spec §5.2): the parsed model, parsing with IAM's
//! validation and messages, and serialization back to JSON.
//!
//! Parsing normalizes what IAM normalizes: a 12-digit account id in a principal
//! becomes `arn:aws:iam::<id>:root`, single strings become one-element lists, and
//! conditions are kept in a canonical order (operator, then key). Serializing and
//! parsing again gives an equal [`Policy`].

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::condition::{Condition, Operator};
use crate::error::PolicyError;
use crate::principal::{iam_arn, is_account_id};

/// Which grammar a document follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to an identity (user, group, role) or passed as a session policy:
    /// `Principal` forbidden, `Resource` required.
    Identity,
    /// Attached to a resource (repository policy, registry policy): `Principal` or
    /// `NotPrincipal` required, `Resource` optional (absent = the resource itself).
    Resource,
}

/// The policy language version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `2012-10-17`, the current language.
    V2012,
    /// `2008-10-17`, the original language (no policy variables).
    V2008,
}

/// A parsed, validated policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub kind: PolicyKind,
    /// `None` when the document omits `Version` (IAM then reads it as 2008-10-17).
    pub version: Option<Version>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// One statement of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Principal` (`Is`) or `NotPrincipal` (`Not`); `None` in identity policies.
    pub principal: Option<Clause<PrincipalEntry>>,
    /// `Action` (`Is`) or `NotAction` (`Not`), as written (`ecr:Get*`, `*`).
    pub action: Clause<String>,
    /// `Resource` (`Is`) or `NotResource` (`Not`); `None` only in resource policies.
    pub resource: Option<Clause<String>>,
    /// All must hold (AND); see [`crate::condition`].
    pub conditions: Vec<Condition>,
}

/// `Allow` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// An element and its `Not…` twin: `Is` lists what the statement covers, `Not`
/// what it covers everything except.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clause<T> {
    Is(Vec<T>),
    Not(Vec<T>),
}

/// One principal named by a `Principal`/`NotPrincipal` element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalEntry {
    /// `"Principal": "*"`: everyone, anonymous callers and services included.
    Everyone,
    /// `{"AWS": "*"}`: every AWS identity, anonymous callers included, not services.
    AnyAws,
    /// `{"AWS": "<id>"}` or `{"AWS": "arn:aws:iam::<id>:root"}`: the account (id kept).
    Account(String),
    /// `{"AWS": "<user, role, assumed-role or federated-user ARN>"}`.
    Arn(String),
    /// `{"Service": "ecr.amazonaws.com"}`.
    Service(String),
    /// `{"Federated": …}`: accepted, never matches a Stowage caller.
    Federated(String),
    /// `{"CanonicalUser": …}`: accepted, never matches a Stowage caller.
    CanonicalUser(String),
}

const POLICY_MEMBERS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_MEMBERS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];
/// Principal map keys, in the order they are read and written.
const PRINCIPAL_KINDS: &[&str] = &["AWS", "Service", "Federated", "CanonicalUser"];

impl Policy {
    /// Parses and validates a policy document of the given kind.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PolicyError::syntax(format!("not JSON: {e}")))?;
        Self::from_value(&value, kind)
    }

    /// Parses an identity (or session) policy.
    pub fn parse_identity(text: &str) -> Result<Self, PolicyError> {
        Self::parse(text, PolicyKind::Identity)
    }

    /// Parses a resource policy (repository or registry policy).
    pub fn parse_resource(text: &str) -> Result<Self, PolicyError> {
        Self::parse(text, PolicyKind::Resource)
    }

    /// Validates an already-decoded JSON document.
    pub fn from_value(value: &Value, kind: PolicyKind) -> Result<Self, PolicyError> {
        let obj = value
            .as_object()
            .ok_or_else(|| PolicyError::syntax("the policy is not a JSON object"))?;
        reject_unknown(obj, POLICY_MEMBERS, "policy")?;
        let version = match obj.get("Version") {
            None => None,
            Some(Value::String(v)) if v == "2012-10-17" => Some(Version::V2012),
            Some(Value::String(v)) if v == "2008-10-17" => Some(Version::V2008),
            Some(Value::String(v)) => {
                return Err(PolicyError::UnsupportedVersion { version: v.clone() });
            }
            Some(_) => return Err(PolicyError::syntax("Version is not a string")),
        };
        let id = optional_string(obj, "Id")?;
        let statements = match obj.get("Statement") {
            None => return Err(PolicyError::syntax("no Statement")),
            Some(single @ Value::Object(_)) => vec![single],
            Some(Value::Array(list)) if !list.is_empty() => list.iter().collect(),
            Some(Value::Array(_)) => return Err(PolicyError::syntax("Statement is empty")),
            Some(_) => return Err(PolicyError::syntax("Statement is not an object or a list")),
        };
        let statements = statements
            .into_iter()
            .map(|s| Statement::from_value(s, kind))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
        sids.retain(|s| !s.is_empty());
        sids.sort_unstable();
        if let Some(dup) = sids.windows(2).find(|w| w[0] == w[1]) {
            return Err(PolicyError::DuplicateSid { sid: dup[0].to_owned() });
        }
        Ok(Self {
            kind,
            version,
            id,
            statements,
        })
    }

    /// The document as a JSON value (see [`Policy`]'s `Serialize` for the text).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl std::fmt::Display for Policy {
    /// Compact JSON, members in AWS's order (`Version`, `Id`, `Statement`; in a
    /// statement `Sid`, `Effect`, principal, action, resource, `Condition`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Policy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(version) = self.version {
            let v = match version {
                Version::V2012 => "2012-10-17",
                Version::V2008 => "2008-10-17",
            };
            map.serialize_entry("Version", v)?;
        }
        if let Some(id) = &self.id {
            map.serialize_entry("Id", id)?;
        }
        map.serialize_entry("Statement", &self.statements)?;
        map.end()
    }
}

impl Serialize for Statement {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(sid) = &self.sid {
            map.serialize_entry("Sid", sid)?;
        }
        let effect = match self.effect {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        };
        map.serialize_entry("Effect", effect)?;
        if let Some(principal) = &self.principal {
            let (name, entries) = named(principal, "Principal", "NotPrincipal");
            map.serialize_entry(name, &principal_value(entries))?;
        }
        let (name, actions) = named(&self.action, "Action", "NotAction");
        map.serialize_entry(name, &one_or_many(actions))?;
        if let Some(resource) = &self.resource {
            let (name, resources) = named(resource, "Resource", "NotResource");
            map.serialize_entry(name, &one_or_many(resources))?;
        }
        if !self.conditions.is_empty() {
            let mut operators = Map::new();
            for c in &self.conditions {
                let keys = operators
                    .entry(c.operator.name())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(keys) = keys {
                    keys.insert(c.key.clone(), one_or_many(&c.values));
                }
            }
            map.serialize_entry("Condition", &operators)?;
        }
        map.end()
    }
}

impl Statement {
    fn from_value(value: &Value, kind: PolicyKind) -> Result<Self, PolicyError> {
        let obj = value
            .as_object()
            .ok_or_else(|| PolicyError::syntax("a statement is not a JSON object"))?;
        reject_unknown(obj, STATEMENT_MEMBERS, "statement")?;
        let sid = optional_string(obj, "Sid")?;
        if let Some(sid) = &sid
            && kind == PolicyKind::Identity
            && !sid.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(PolicyError::InvalidSid { sid: sid.clone() });
        }
        let effect = match obj.get("Effect") {
            None => return Err(PolicyError::MissingEffect),
            Some(Value::String(e)) if e == "Allow" => Effect::Allow,
            Some(Value::String(e)) if e == "Deny" => Effect::Deny,
            Some(other) => return Err(PolicyError::syntax(format!("bad Effect {other}"))),
        };
        let principal = match (kind, either(obj, "Principal", "NotPrincipal")?) {
            (PolicyKind::Identity, None) => None,
            (PolicyKind::Identity, Some(_)) => return Err(PolicyError::PrincipalNotAllowed),
            (PolicyKind::Resource, None) => return Err(PolicyError::MissingPrincipal),
            (PolicyKind::Resource, Some((not, v))) => Some(clause(not, parse_principal(v)?)),
        };
        let action = match either(obj, "Action", "NotAction")? {
            None => return Err(PolicyError::MissingActions),
            Some((not, v)) => {
                let actions = string_list(v, "Action")?;
                if actions.is_empty() {
                    return Err(PolicyError::MissingActions);
                }
                actions.iter().try_for_each(|a| validate_action(a))?;
                clause(not, actions)
            }
        };
        let resource = match either(obj, "Resource", "NotResource")? {
            None if kind == PolicyKind::Identity => return Err(PolicyError::MissingResources),
            None => None,
            Some((not, v)) => {
                let resources = string_list(v, "Resource")?;
                if resources.is_empty() {
                    return Err(PolicyError::MissingResources);
                }
                resources.iter().try_for_each(|r| validate_resource(r))?;
                Some(clause(not, resources))
            }
        };
        let conditions = match obj.get("Condition") {
            None => Vec::new(),
            Some(v) => parse_conditions(v)?,
        };
        Ok(Self {
            sid,
            effect,
            principal,
            action,
            resource,
            conditions,
        })
    }
}

fn reject_unknown(obj: &Map<String, Value>, known: &[&str], what: &str) -> Result<(), PolicyError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(PolicyError::syntax(format!("unknown {what} member {k:?}"))),
        None => Ok(()),
    }
}

fn optional_string(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, PolicyError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PolicyError::syntax(format!("{name} is not a string"))),
    }
}

/// The element `name` or its negation `not_name` (true in the result), not both.
fn either<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    not_name: &str,
) -> Result<Option<(bool, &'a Value)>, PolicyError> {
    match (obj.get(name), obj.get(not_name)) {
        (Some(_), Some(_)) => Err(PolicyError::syntax(format!("both {name} and {not_name}"))),
        (Some(v), None) => Ok(Some((false, v))),
        (None, Some(v)) => Ok(Some((true, v))),
        (None, None) => Ok(None),
    }
}

fn clause<T>(not: bool, items: Vec<T>) -> Clause<T> {
    if not { Clause::Not(items) } else { Clause::Is(items) }
}

fn named<'a, T>(clause: &'a Clause<T>, name: &'static str, not_name: &'static str) -> (&'static str, &'a [T]) {
    match clause {
        Clause::Is(items) => (name, items),
        Clause::Not(items) => (not_name, items),
    }
}

/// A string, or a list of strings.
fn string_list(value: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(PolicyError::syntax(format!("{what} holds a non-string"))),
            })
            .collect(),
        _ => Err(PolicyError::syntax(format!("{what} is not a string or a list"))),
    }
}

fn one_or_many(items: &[String]) -> Value {
    match items {
        [one] => one.clone().into(),
        many => Value::Array(many.iter().cloned().map(Value::String).collect()),
    }
}

/// `*`, or `vendor:pattern` with exactly one colon.
fn validate_action(action: &str) -> Result<(), PolicyError> {
    if action == "*" {
        return Ok(());
    }
    let Some((vendor, name)) = action.split_once(':') else {
        return Err(PolicyError::MissingVendor {
            value: action.to_owned(),
        });
    };
    if name.contains(':') {
        return Err(PolicyError::TooManyColons {
            value: action.to_owned(),
        });
    }
    let vendor_ok = !vendor.is_empty() && vendor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !vendor_ok || name.is_empty() {
        return Err(PolicyError::syntax(format!("bad action {action:?}")));
    }
    Ok(())
}

/// `*`, or `arn:<partition>:<service>:…` (wildcards allowed; a short pattern such
/// as `arn:aws:ecr:*` is a glob over whole ARNs).
fn validate_resource(resource: &str) -> Result<(), PolicyError> {
    let mut parts = resource.splitn(4, ':');
    let arn = parts.next() == Some("arn")
        && parts.next().is_some_and(|p| !p.is_empty())
        && parts.next().is_some_and(|s| !s.is_empty())
        && parts.next().is_some();
    if resource == "*" || arn {
        Ok(())
    } else {
        Err(PolicyError::InvalidResource {
            resource: resource.to_owned(),
        })
    }
}

fn parse_principal(value: &Value) -> Result<Vec<PrincipalEntry>, PolicyError> {
    let map = match value {
        Value::String(s) if s == "*" => return Ok(vec![PrincipalEntry::Everyone]),
        Value::String(s) => {
            return Err(PolicyError::InvalidPrincipal {
                kind: String::new(),
                value: s.clone(),
            });
        }
        Value::Object(map) if !map.is_empty() => map,
        _ => return Err(PolicyError::syntax("Principal is not \"*\" or an object")),
    };
    if let Some(k) = map.keys().find(|k| !PRINCIPAL_KINDS.contains(&k.as_str())) {
        return Err(PolicyError::InvalidPrincipal {
            kind: k.clone(),
            value: map[k].as_str().map_or_else(|| map[k].to_string(), str::to_owned),
        });
    }
    let mut entries = Vec::new();
    for kind in PRINCIPAL_KINDS {
        let Some(v) = map.get(*kind) else { continue };
        let values = string_list(v, "Principal")?;
        if values.is_empty() {
            return Err(PolicyError::InvalidPrincipal {
                kind: (*kind).to_owned(),
                value: String::new(),
            });
        }
        for value in values {
            entries.push(
                principal_entry(kind, &value).ok_or_else(|| PolicyError::InvalidPrincipal {
                    kind: (*kind).to_owned(),
                    value: value.clone(),
                })?,
            );
        }
    }
    Ok(entries)
}

fn principal_entry(kind: &str, value: &str) -> Option<PrincipalEntry> {
    let plain = !value.is_empty() && !value.contains('*') && !value.chars().any(char::is_whitespace);
    match kind {
        "AWS" if value == "*" => Some(PrincipalEntry::AnyAws),
        "AWS" if is_account_id(value) => Some(PrincipalEntry::Account(value.to_owned())),
        "AWS" if !plain => None,
        "AWS" => aws_principal_arn(value),
        "Service" if plain => Some(PrincipalEntry::Service(value.to_owned())),
        "Federated" if plain => Some(PrincipalEntry::Federated(value.to_owned())),
        "CanonicalUser" if plain => Some(PrincipalEntry::CanonicalUser(value.to_owned())),
        _ => None,
    }
}

/// An account root, user, role, role-session or federated-user ARN.
fn aws_principal_arn(value: &str) -> Option<PrincipalEntry> {
    let named = |resource: &str, prefix: &str| {
        resource
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'))
    };
    if let Some((resource, account)) = iam_arn(value, "iam") {
        if resource == "root" {
            return Some(PrincipalEntry::Account(account.to_owned()));
        }
        return (named(resource, "user/") || named(resource, "role/")).then(|| PrincipalEntry::Arn(value.to_owned()));
    }
    let (resource, _) = iam_arn(value, "sts")?;
    let session = resource
        .strip_prefix("assumed-role/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(role, session)| !role.is_empty() && !session.is_empty());
    (session || named(resource, "federated-user/")).then(|| PrincipalEntry::Arn(value.to_owned()))
}

fn principal_value(entries: &[PrincipalEntry]) -> Value {
    if let [PrincipalEntry::Everyone] = entries {
        return "*".into();
    }
    let mut map = Map::new();
    for kind in PRINCIPAL_KINDS {
        let values: Vec<String> = entries
            .iter()
            .filter_map(|e| match (e, *kind) {
                (PrincipalEntry::AnyAws, "AWS") => Some("*".to_owned()),
                (PrincipalEntry::Account(id), "AWS") => Some(format!("arn:aws:iam::{id}:root")),
                (PrincipalEntry::Arn(arn), "AWS") => Some(arn.clone()),
                (PrincipalEntry::Service(s), "Service")
                | (PrincipalEntry::Federated(s), "Federated")
                | (PrincipalEntry::CanonicalUser(s), "CanonicalUser") => Some(s.clone()),
                _ => None,
            })
            .collect();
        if !values.is_empty() {
            map.insert((*kind).to_owned(), one_or_many(&values));
        }
    }
    Value::Object(map)
}

/// `{Operator: {Key: value-or-list}}`; values are strings, numbers or booleans.
fn parse_conditions(value: &Value) -> Result<Vec<Condition>, PolicyError> {
    let operators = value
        .as_object()
        .ok_or_else(|| PolicyError::syntax("Condition is not an object"))?;
    let mut conditions = Vec::new();
    for (name, block) in operators {
        let operator = Operator::parse(name)
            .ok_or_else(|| PolicyError::UnsupportedConditionOperator { operator: name.clone() })?;
        let keys = block
            .as_object()
            .ok_or_else(|| PolicyError::syntax(format!("{name} is not an object")))?;
        for (key, values) in keys {
            let values = match values {
                Value::Array(items) => items.iter().map(condition_value).collect::<Result<_, _>>()?,
                single => vec![condition_value(single)?],
            };
            conditions.push(Condition::new(operator, key, values)?);
        }
    }
    conditions.sort_by(|a, b| (a.operator.name(), &a.key).cmp(&(b.operator.name(), &b.key)));
    Ok(conditions)
}

fn condition_value(value: &Value) -> Result<String, PolicyError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(PolicyError::syntax(
            "a condition value is not a string, number or boolean",
        )),
    }
}
