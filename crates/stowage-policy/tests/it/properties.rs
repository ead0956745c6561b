//! Property tests: the parser never panics, valid policies survive
//! serialize-then-parse unchanged, wildcards agree with a regex oracle, the
//! evaluator is total and an explicit deny always wins, and date order is kept.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use stowage_policy::values::parse_date;
use stowage_policy::{
    Context, Decision, Policy, PolicyKind, PolicySet, PolicyType, Principal, Request, evaluate, matching::glob,
};

/// Tokens that steer random JSON towards policy-shaped documents.
const TOKENS: &[&str] = &[
    "Version",
    "2012-10-17",
    "2008-10-17",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Allow",
    "Deny",
    "Principal",
    "NotPrincipal",
    "AWS",
    "Service",
    "*",
    "111111111111",
    "arn:aws:iam::111111111111:root",
    "arn:aws:iam::111111111111:user/a",
    "Action",
    "NotAction",
    "ecr:*",
    "ecr:PutImage",
    "Resource",
    "NotResource",
    "arn:aws:ecr:us-east-1:111111111111:repository/a",
    "Condition",
    "StringEquals",
    "ForAllValues:StringLike",
    "NumericLessThanIfExists",
    "Null",
    "DateLessThan",
    "IpAddress",
    "Bool",
    "aws:SourceIp",
    "aws:TagKeys",
    "10.0.0.0/8",
    "true",
    "2024-01-01T00:00:00Z",
    "",
    "é",
    ":",
    "arn:",
];

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(TOKENS).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

fn json_ish() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        token().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((token(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn one_or_many(items: Vec<String>) -> Value {
    if items.len() == 1 {
        json!(items[0])
    } else {
        json!(items)
    }
}

const ACTIONS: &[&str] = &[
    "*",
    "ecr:*",
    "ecr:PutImage",
    "ecr:Get*",
    "ecr:?atchGetImage",
    "iam:CreateUser",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:ecr:us-east-1:111111111111:repository/a",
    "arn:aws:ecr:*:*:repository/team-a/*",
    "arn:aws:ecr:*",
];
const PRINCIPALS: &[&str] = &[
    "*",
    "111111111111",
    "arn:aws:iam::222222222222:root",
    "arn:aws:iam::111111111111:user/a",
    "arn:aws:iam::111111111111:role/R",
    "arn:aws:sts::111111111111:assumed-role/R/s",
];
/// (operator, key, values) that validate.
const CONDITIONS: &[(&str, &str, &[&str])] = &[
    ("StringEquals", "aws:username", &["a", "b"]),
    ("StringNotLike", "ecr:ResourceTag/team", &["x*"]),
    ("ForAllValues:StringEquals", "aws:TagKeys", &["team"]),
    ("ForAnyValue:StringLikeIfExists", "aws:TagKeys", &["env*", "x"]),
    ("NumericLessThan", "ecr:n", &["10"]),
    ("DateGreaterThanIfExists", "aws:CurrentTime", &["2024-01-01T00:00:00Z"]),
    ("Bool", "aws:SecureTransport", &["true"]),
    ("IpAddress", "aws:SourceIp", &["10.0.0.0/8", "2001:db8::/32"]),
    ("NotIpAddress", "aws:SourceIp", &["192.0.2.0/24"]),
    ("ArnLike", "aws:PrincipalArn", &["arn:aws:iam::*:role/*"]),
    ("Null", "aws:TokenIssueTime", &["false"]),
];

fn subset(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(pool, 1..=pool.len().min(3)).prop_map(|v| v.into_iter().map(str::to_owned).collect())
}

fn statement(kind: PolicyKind) -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        any::<bool>(),
        subset(ACTIONS),
        any::<bool>(),
        prop::option::of(subset(RESOURCES)),
        any::<bool>(),
        prop::option::of(subset(PRINCIPALS)),
        proptest::sample::subsequence(CONDITIONS, 0..3),
    )
        .prop_map(
            move |(allow, not_action, actions, not_resource, resources, not_principal, principals, conditions)| {
                let mut st = Map::new();
                st.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
                st.insert(
                    if not_action { "NotAction" } else { "Action" }.into(),
                    one_or_many(actions),
                );
                let resources = match (kind, resources) {
                    (PolicyKind::Identity, None) => Some(vec!["*".to_owned()]),
                    (_, r) => r,
                };
                if let Some(r) = resources {
                    st.insert(
                        if not_resource { "NotResource" } else { "Resource" }.into(),
                        one_or_many(r),
                    );
                }
                if kind == PolicyKind::Resource {
                    let principal = match principals {
                        None => json!("*"),
                        Some(p) => json!({ "AWS": one_or_many(p) }),
                    };
                    st.insert(
                        if not_principal { "NotPrincipal" } else { "Principal" }.into(),
                        principal,
                    );
                }
                if !conditions.is_empty() {
                    let mut ops = Map::new();
                    for (op, key, values) in conditions {
                        let block = ops.entry(op.to_owned()).or_insert_with(|| json!({}));
                        block[key] = json!(values);
                    }
                    st.insert("Condition".into(), Value::Object(ops));
                }
                Value::Object(st)
            },
        )
}

fn policy(kind: PolicyKind) -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(statement(kind), 1..4),
        any::<bool>(),
        prop::option::of("[A-Za-z0-9]{1,8}"),
    )
        .prop_map(|(statements, v2008, id)| {
            let mut doc = Map::new();
            doc.insert("Version".into(), json!(if v2008 { "2008-10-17" } else { "2012-10-17" }));
            if let Some(id) = id {
                doc.insert("Id".into(), json!(id));
            }
            doc.insert("Statement".into(), Value::Array(statements));
            Value::Object(doc)
        })
}

fn kind() -> impl Strategy<Value = PolicyKind> {
    prop_oneof![Just(PolicyKind::Identity), Just(PolicyKind::Resource)]
}

fn regex_for(pattern: &str) -> regex::Regex {
    let body: String = pattern
        .chars()
        .map(|c| match c {
            '*' => ".*".to_owned(),
            '?' => ".".to_owned(),
            c => regex::escape(&c.to_string()),
        })
        .collect();
    regex::Regex::new(&format!("(?s)^{body}$")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parser_never_panics_on_text(text in "\\PC{0,200}", kind in kind()) {
        let _ = Policy::parse(&text, kind);
    }

    #[test]
    fn parser_never_panics_on_json_ish_values(value in json_ish(), kind in kind()) {
        let _ = Policy::from_value(&value, kind);
        let _ = Policy::parse(&value.to_string(), kind);
        // Wrapped as a statement too, so statement-level validation is exercised.
        let doc = json!({"Version": "2012-10-17", "Statement": value});
        if let Ok(p) = Policy::from_value(&doc, kind) {
            prop_assert_eq!(Policy::parse(&p.to_string(), kind).unwrap(), p);
        }
    }

    #[test]
    fn valid_policies_round_trip((kind, doc) in kind().prop_flat_map(|k| (Just(k), policy(k)))) {
        let parsed = Policy::from_value(&doc, kind);
        prop_assert!(parsed.is_ok(), "{doc}: {parsed:?}");
        let parsed = parsed.unwrap();
        prop_assert_eq!(Policy::parse(&parsed.to_string(), kind).unwrap(), parsed.clone());
        prop_assert_eq!(Policy::from_value(&parsed.to_value(), kind).unwrap(), parsed);
    }

    #[test]
    fn glob_agrees_with_regex(pattern in "[ab*?/:]{0,8}", value in "[ab/:]{0,10}") {
        prop_assert_eq!(glob(&pattern, &value), regex_for(&pattern).is_match(&value));
    }

    #[test]
    fn evaluation_is_total_and_explicit_deny_wins(
        identity in policy(PolicyKind::Identity),
        resource in policy(PolicyKind::Resource),
        action in proptest::sample::select(&["ecr:PutImage", "ecr:BatchGetImage", "iam:CreateUser", "ecr:GetAuthorizationToken"][..]),
        repo in proptest::sample::select(&["a", "team-a/x", "b"][..]),
        caller in proptest::sample::select(&[
            "arn:aws:iam::111111111111:user/a",
            "arn:aws:iam::222222222222:user/b",
            "arn:aws:sts::111111111111:assumed-role/R/s",
            "arn:aws:iam::111111111111:root",
        ][..]),
        ip in proptest::sample::select(&["10.1.1.1", "192.0.2.9", "2001:db8::5"][..]),
    ) {
        let identity = Policy::from_value(&identity, PolicyKind::Identity).unwrap();
        let resource = Policy::from_value(&resource, PolicyKind::Resource).unwrap();
        let principal = Principal::from_arn(caller).unwrap();
        let ctx = Context::new()
            .with_principal(&principal)
            .with("aws:SourceIp", ip)
            .with("aws:SecureTransport", "true")
            .with_many("aws:TagKeys", ["team", "env"]);
        let arn = format!("arn:aws:ecr:us-east-1:111111111111:repository/{repo}");
        let req = Request {
            principal: &principal,
            action,
            resource: &arn,
            resource_account: "111111111111",
            context: &ctx,
        };
        let plain = PolicySet { identity: &[&identity], resource: Some(&resource), ..Default::default() };
        let decision = evaluate(&req, &plain);
        // Denials always have a message; allows never do.
        let message = stowage_policy::denial_message(caller, action, &arn, &decision);
        prop_assert_eq!(message.is_none(), decision.is_allow());

        let deny_all = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#,
            PolicyKind::Identity,
        ).unwrap();
        let with_deny = PolicySet { identity: &[&identity, &deny_all], resource: Some(&resource), ..Default::default() };
        prop_assert_eq!(evaluate(&req, &with_deny), Decision::ExplicitDeny { policy: PolicyType::Identity });
        // Removing every policy never turns a denial into an allow, except for the root.
        if !decision.is_allow() && !caller.ends_with(":root") {
            prop_assert!(!evaluate(&req, &PolicySet::default()).is_allow());
        }
    }

    #[test]
    fn dates_keep_their_order(
        a in (1970i64..2100, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60, 0u32..60),
        b in (1970i64..2100, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60, 0u32..60),
    ) {
        let text = |(y, mo, d, h, mi, s): (i64, u32, u32, u32, u32, u32)| {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
        };
        let (pa, pb) = (parse_date(&text(a)).unwrap(), parse_date(&text(b)).unwrap());
        prop_assert_eq!(pa.cmp(&pb), a.cmp(&b));
        // Epoch seconds read back as the same instant.
        let epoch = (pa / 1_000_000_000).to_string();
        prop_assert_eq!(parse_date(&epoch), Some(pa));
    }
}
