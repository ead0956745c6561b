//! The AWS query protocol's request side: a form-encoded body of
//! `Action=…&Version=…&Name=value`, with lists flattened as
//! `Tags.member.1.Key=…&Tags.member.1.Value=…`, and AWS's messages for missing
//! or malformed parameters.

use std::collections::BTreeMap;

/// The parameters of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    values: BTreeMap<String, String>,
}

/// A missing or malformed parameter; `Display` is AWS's `ValidationError` message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

impl Params {
    /// Parses a form-encoded body (later duplicates win, as in AWS).
    pub fn parse(body: &[u8]) -> Params {
        Params {
            values: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The form-encoded body that parses back to these parameters.
    pub fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.values)
            .finish()
    }

    /// Every parameter, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A parameter, `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A parameter the operation requires (an error when absent).
    pub fn required(&self, name: &str) -> Result<&str, ParamError> {
        self.get(name).ok_or_else(|| {
            ParamError(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ParamError> {
        self.get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    ParamError(format!(
                        "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must be a number",
                        lower_first(name)
                    ))
                })
            })
            .transpose()
    }

    /// A boolean parameter (`true`/`false`).
    pub fn bool(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The structures of a flattened list, in index order: for `Tags`, the maps
    /// of `Tags.member.<n>.<Field>` by `n`.
    pub fn members(&self, list: &str) -> Vec<BTreeMap<String, String>> {
        let prefix = format!("{list}.member.");
        let mut by_index: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.values {
            let Some(rest) = k.strip_prefix(&prefix) else { continue };
            let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
            let Ok(index) = index.parse::<u32>() else { continue };
            by_index.entry(index).or_default().insert(field.to_string(), v.clone());
        }
        by_index.into_values().collect()
    }

    /// `Tags.member.N.Key` / `.Value` pairs.
    pub fn tags(&self, list: &str) -> Vec<(String, String)> {
        self.members(list)
            .into_iter()
            .filter_map(|m| Some((m.get("Key")?.clone(), m.get("Value").cloned().unwrap_or_default())))
            .collect()
    }
}

/// `UserName` → `userName`, as AWS names members in validation messages.
fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_the_captured_create_user() {
        let p = Params::parse(
            b"Action=CreateUser&Version=2010-05-08&UserName=x&Tags.member.1.Key=team&Tags.member.1.Value=a",
        );
        assert_eq!(p.get("Action"), Some("CreateUser"));
        assert_eq!(p.required("UserName").unwrap(), "x");
        assert_eq!(p.tags("Tags"), vec![("team".to_string(), "a".to_string())]);
        let err = p.required("PolicyArn").unwrap_err();
        assert!(err.to_string().contains("'policyArn'"), "{err}");
    }

    #[test]
    fn decodes_and_orders_members() {
        let p = Params::parse(
            b"PolicyDocument=%7B%22a%22%3A%22%2A%22%7D&Tags.member.10.Key=k10&Tags.member.2.Key=k2&Tags.member.2.Value=v%20w&Tags.member.10.Value=",
        );
        assert_eq!(p.get("PolicyDocument"), Some(r#"{"a":"*"}"#));
        assert_eq!(
            p.tags("Tags"),
            vec![
                ("k2".to_string(), "v w".to_string()),
                ("k10".to_string(), String::new())
            ]
        );
        assert_eq!(p.int("DurationSeconds").unwrap(), None);
        assert!(Params::parse(b"DurationSeconds=x").int("DurationSeconds").is_err());
    }

    #[test]
    fn later_duplicates_win_and_odd_members_are_skipped() {
        let p = Params::parse(b"A=1&A=2&Tags.member.x.Key=k&Tags.member.3=v&Tags.member.4.Value=only&B");
        assert_eq!(p.get("A"), Some("2"));
        assert_eq!(p.get("B"), Some(""));
        assert_eq!(p.members("Tags").len(), 2);
        assert_eq!(p.tags("Tags"), Vec::<(String, String)>::new());
        assert!(Params::parse(b"X=TRUE").bool("X"));
        assert!(!Params::parse(b"X=1").bool("X"));
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let p = Params::parse(&body);
            let _ = (p.get("Action"), p.required("UserName"), p.int("MaxItems"), p.bool("X"));
            let _ = p.tags("Tags");
            prop_assert_eq!(Params::parse(p.encode().as_bytes()), p);
        }

        #[test]
        fn encoded_tags_round_trip(tags in proptest::collection::vec((".*", ".*"), 0..15)) {
            // Written out of order, as a client may: members are ordered by index, not position.
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", "TagUser");
            for (i, (k, v)) in tags.iter().enumerate().rev() {
                form.append_pair(&format!("Tags.member.{}.Value", i + 1), v);
                form.append_pair(&format!("Tags.member.{}.Key", i + 1), k);
            }
            let p = Params::parse(form.finish().as_bytes());
            prop_assert_eq!(p.get("Action"), Some("TagUser"));
            prop_assert_eq!(p.tags("Tags"), tags);
        }
    }
}
