//! IAM and STS on the query protocol, driven by the real AWS CLI: users,
//! access keys, inline and managed policies, groups, roles, AssumeRole with
//! its temporary credentials, `stowage account create`, and IAM's errors.

use std::time::Duration;

use serde_json::{Value, json};

use crate::aws_cli::{Cli, Keys};
use crate::support::*;

fn allow(actions: &[&str]) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}).to_string()
}

fn names(v: &Value, list: &str, member: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {v}"))
        .iter()
        .map(|m| m[member].as_str().unwrap().to_string())
        .collect()
}

/// `stowage audit --result denied` once it holds at least `n` entries (it is written in the background).
async fn denied_entries(s: &TestServer, n: usize) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let out = s.admin(&["audit", "--result", "denied"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let entries: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        if entries.len() >= n || started.elapsed() > Duration::from_secs(20) {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn users_keys_policies_and_groups_with_the_aws_cli() {
    let s = TestServer::start().await;
    let aws = Cli::new(&s);
    let admin = Keys::admin(&s);

    let v = aws
        .ok(
            &admin,
            &[
                "iam",
                "create-user",
                "--user-name",
                "alice",
                "--tags",
                "Key=team,Value=a",
            ],
        )
        .await;
    let alice_arn = v["User"]["Arn"].as_str().unwrap().to_string();
    assert!(
        alice_arn.starts_with("arn:aws:iam::") && alice_arn.ends_with(":user/alice"),
        "{v}"
    );
    assert!(v["User"]["UserId"].as_str().unwrap().starts_with("AIDA"), "{v}");
    assert_eq!(v["User"]["Tags"], json!([{"Key": "team", "Value": "a"}]));
    let e = aws
        .fails(
            &admin,
            &["iam", "create-user", "--user-name", "ALICE"],
            "EntityAlreadyExists",
        )
        .await;
    assert_eq!(e.message, "User with name ALICE already exists.");
    let e = aws
        .fails(&admin, &["iam", "get-user", "--user-name", "nobody"], "NoSuchEntity")
        .await;
    assert_eq!(
        (e.operation.as_str(), e.message.as_str()),
        ("GetUser", "The user with name nobody cannot be found.")
    );

    // A new user's key works, but the user may do nothing in IAM yet.
    let alice = Keys::created(
        &aws.ok(&admin, &["iam", "create-access-key", "--user-name", "alice"])
            .await,
    );
    assert!(alice.id.starts_with("AKIA"));
    let me = aws.ok(&alice, &["sts", "get-caller-identity"]).await;
    assert_eq!(me["Arn"], json!(alice_arn));
    let e = aws.fails(&alice, &["iam", "list-users"], "AccessDenied").await;
    assert_eq!(
        e.message,
        format!(
            "User: {alice_arn} is not authorized to perform: iam:ListUsers on resource: * because no identity-based policy allows the iam:ListUsers action"
        )
    );
    aws.fails(
        &alice,
        &["iam", "create-user", "--user-name", "mallory"],
        "AccessDenied",
    )
    .await;
    // Both denials reach the audit trail with IAM's error code.
    let denied = denied_entries(&s, 2).await;
    let seen: Vec<_> = denied
        .iter()
        .map(|e| (e["action"].as_str(), e["errorCode"].as_str(), e["status"].as_u64()))
        .collect();
    assert_eq!(
        seen,
        [
            (Some("iam:ListUsers"), Some("AccessDenied"), Some(403)),
            (Some("iam:CreateUser"), Some("AccessDenied"), Some(403)),
        ],
        "{denied:?}"
    );
    assert_eq!(denied[1]["principal"], json!(alice_arn));
    assert_eq!(denied[1]["operation"], "CreateUser");

    // Inline policies: validated with IAM's messages, read back as documents.
    let no_resource = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*"}]}"#;
    let e = aws
        .fails(
            &admin,
            &[
                "iam",
                "put-user-policy",
                "--user-name",
                "alice",
                "--policy-name",
                "read",
                "--policy-document",
                no_resource,
            ],
            "MalformedPolicyDocument",
        )
        .await;
    assert_eq!(e.message, "Policy statement must contain resources.");
    let read = allow(&["iam:Get*", "iam:List*"]);
    aws.ok(
        &admin,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "read",
            "--policy-document",
            &read,
        ],
    )
    .await;
    let v = aws
        .ok(
            &admin,
            &[
                "iam",
                "get-user-policy",
                "--user-name",
                "alice",
                "--policy-name",
                "read",
            ],
        )
        .await;
    assert_eq!(v["PolicyDocument"], serde_json::from_str::<Value>(&read).unwrap());
    let v = aws
        .ok(&admin, &["iam", "list-user-policies", "--user-name", "alice"])
        .await;
    assert_eq!(v["PolicyNames"], json!(["read"]));
    let v = aws.ok(&alice, &["iam", "list-users"]).await;
    assert_eq!(names(&v, "Users", "UserName"), ["admin", "alice"]);
    let v = aws.ok(&alice, &["iam", "get-user"]).await;
    assert_eq!(v["User"]["Arn"], json!(alice_arn), "no UserName: the caller");
    let v = aws.ok(&alice, &["iam", "list-access-keys"]).await;
    assert_eq!(names(&v, "AccessKeyMetadata", "AccessKeyId"), [alice.id.as_str()]);

    // Customer managed policies: attach grants, detach takes it back.
    let v = aws
        .ok(
            &admin,
            &[
                "iam",
                "create-policy",
                "--policy-name",
                "groups",
                "--policy-document",
                &allow(&["iam:CreateGroup"]),
            ],
        )
        .await;
    let policy_arn = v["Policy"]["Arn"].as_str().unwrap().to_string();
    assert!(policy_arn.ends_with(":policy/groups"), "{v}");
    aws.fails(
        &admin,
        &[
            "iam",
            "create-policy",
            "--policy-name",
            "groups",
            "--policy-document",
            &read,
        ],
        "EntityAlreadyExists",
    )
    .await;
    aws.ok(
        &admin,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &policy_arn,
        ],
    )
    .await;
    let v = aws
        .ok(&alice, &["iam", "list-attached-user-policies", "--user-name", "alice"])
        .await;
    assert_eq!(names(&v, "AttachedPolicies", "PolicyArn"), [policy_arn.as_str()]);
    let v = aws
        .ok(&alice, &["iam", "get-policy", "--policy-arn", &policy_arn])
        .await;
    assert_eq!(v["Policy"]["AttachmentCount"], json!(1));
    aws.ok(&alice, &["iam", "create-group", "--group-name", "g1"]).await;
    aws.fails(
        &admin,
        &["iam", "delete-policy", "--policy-arn", &policy_arn],
        "DeleteConflict",
    )
    .await;
    aws.ok(
        &admin,
        &[
            "iam",
            "detach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &policy_arn,
        ],
    )
    .await;
    aws.fails(&alice, &["iam", "create-group", "--group-name", "g2"], "AccessDenied")
        .await;
    aws.ok(&admin, &["iam", "delete-policy", "--policy-arn", &policy_arn])
        .await;
    let v = aws.ok(&alice, &["iam", "list-policies", "--scope", "AWS"]).await;
    let aws_managed = names(&v, "Policies", "PolicyName");
    for name in [
        "AdministratorAccess",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEC2ContainerRegistryPowerUser",
    ] {
        assert!(aws_managed.iter().any(|n| n == name), "{name} in {aws_managed:?}");
    }

    // A group's policy applies to its members.
    aws.fails(&alice, &["iam", "delete-group", "--group-name", "g1"], "AccessDenied")
        .await;
    aws.ok(&admin, &["iam", "create-group", "--group-name", "devs"]).await;
    aws.ok(
        &admin,
        &[
            "iam",
            "add-user-to-group",
            "--group-name",
            "devs",
            "--user-name",
            "alice",
        ],
    )
    .await;
    aws.ok(
        &admin,
        &[
            "iam",
            "put-group-policy",
            "--group-name",
            "devs",
            "--policy-name",
            "tidy",
            "--policy-document",
            &allow(&["iam:DeleteGroup"]),
        ],
    )
    .await;
    aws.ok(&alice, &["iam", "delete-group", "--group-name", "g1"]).await;
    aws.fails(
        &admin,
        &["iam", "delete-group", "--group-name", "devs"],
        "DeleteConflict",
    )
    .await;

    // Deleting: conflicts while keys remain; a deleted key stops working.
    let e = aws
        .fails(
            &admin,
            &["iam", "delete-user", "--user-name", "alice"],
            "DeleteConflict",
        )
        .await;
    assert_eq!(e.message, "Cannot delete entity, must delete access keys first.");
    aws.ok(
        &admin,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "alice",
            "--access-key-id",
            &alice.id,
        ],
    )
    .await;
    aws.fails(&alice, &["sts", "get-caller-identity"], "InvalidClientTokenId")
        .await;
    aws.fails(
        &admin,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "alice",
            "--access-key-id",
            &alice.id,
        ],
        "NoSuchEntity",
    )
    .await;
}

#[tokio::test]
async fn roles_assume_role_and_temporary_credentials_with_the_aws_cli() {
    let s = TestServer::start().await;
    let aws = Cli::new(&s);
    let admin = Keys::admin(&s);
    let account = aws.ok(&admin, &["sts", "get-caller-identity"]).await["Account"]
        .as_str()
        .unwrap()
        .to_string();
    for user in ["bob", "carol"] {
        aws.ok(&admin, &["iam", "create-user", "--user-name", user]).await;
    }
    let bob = Keys::created(
        &aws.ok(&admin, &["iam", "create-access-key", "--user-name", "bob"])
            .await,
    );
    let carol = Keys::created(
        &aws.ok(&admin, &["iam", "create-access-key", "--user-name", "carol"])
            .await,
    );

    // The trust policy is a resource policy: it must name a principal.
    let e = aws
        .fails(
            &admin,
            &[
                "iam",
                "create-role",
                "--role-name",
                "builder",
                "--assume-role-policy-document",
                &allow(&["sts:AssumeRole"]),
            ],
            "MalformedPolicyDocument",
        )
        .await;
    assert_eq!(e.message, "Missing required field Principal");
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:user/bob")},
        "Action": "sts:AssumeRole"
    }]})
    .to_string();
    let v = aws
        .ok(
            &admin,
            &[
                "iam",
                "create-role",
                "--role-name",
                "builder",
                "--assume-role-policy-document",
                &trust,
            ],
        )
        .await;
    let role_arn = v["Role"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(role_arn, format!("arn:aws:iam::{account}:role/builder"));
    assert_eq!(
        v["Role"]["AssumeRolePolicyDocument"],
        serde_json::from_str::<Value>(&trust).unwrap()
    );
    let role_id = v["Role"]["RoleId"].as_str().unwrap().to_string();
    assert!(role_id.starts_with("AROA"));
    aws.ok(
        &admin,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "builder",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        ],
    )
    .await;
    aws.ok(
        &admin,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "builder",
            "--policy-name",
            "self",
            "--policy-document",
            &allow(&["iam:GetRole"]),
        ],
    )
    .await;
    assert_eq!(
        aws.ok(&admin, &["iam", "get-role", "--role-name", "builder"]).await["Role"]["RoleId"],
        json!(role_id)
    );

    // Bob, named by the trust policy, needs no identity permission in the role's account.
    let v = aws
        .ok(
            &bob,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                &role_arn,
                "--role-session-name",
                "ci-1",
                "--duration-seconds",
                "900",
            ],
        )
        .await;
    let session_arn = format!("arn:aws:sts::{account}:assumed-role/builder/ci-1");
    assert_eq!(v["AssumedRoleUser"]["Arn"], json!(session_arn));
    assert_eq!(v["AssumedRoleUser"]["AssumedRoleId"], json!(format!("{role_id}:ci-1")));
    let expiration = v["Credentials"]["Expiration"].as_str().unwrap();
    assert!(expiration.ends_with('Z') && expiration.contains('T'), "{expiration}");
    let temp = Keys::assumed(&v);
    assert!(temp.id.starts_with("ASIA"));

    // The temporary credentials act as the session, with the role's policies.
    let me = aws.ok(&temp, &["sts", "get-caller-identity"]).await;
    assert_eq!(me["Arn"], json!(session_arn));
    assert_eq!(me["UserId"], json!(format!("{role_id}:ci-1")));
    aws.ok(&temp, &["iam", "get-role", "--role-name", "builder"]).await;
    let e = aws.fails(&temp, &["iam", "list-users"], "AccessDenied").await;
    assert!(
        e.message.starts_with(&format!("User: {session_arn} is not authorized")),
        "{e:?}"
    );
    let password = aws.ok(&temp, &["ecr", "get-login-password"]).await;
    let password = password.as_str().expect("a password").to_string();
    let status = authenticated_client(&password)
        .get(s.url("/v2/"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let mut bad = temp.clone();
    bad.token = Some("not-the-token".into());
    aws.fails(&bad, &["sts", "get-caller-identity"], "InvalidClientTokenId")
        .await;

    // Carol is not trusted; a role that does not exist is refused the same way.
    let e = aws
        .fails(
            &carol,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                &role_arn,
                "--role-session-name",
                "x1",
            ],
            "AccessDenied",
        )
        .await;
    assert!(e.message.contains("sts:AssumeRole"), "{e:?}");
    aws.fails(
        &bob,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &format!("arn:aws:iam::{account}:role/none"),
            "--role-session-name",
            "x1",
        ],
        "AccessDenied",
    )
    .await;
    let e = aws
        .fails(
            &bob,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                &role_arn,
                "--role-session-name",
                "x1",
                "--duration-seconds",
                "7200",
            ],
            "ValidationError",
        )
        .await;
    assert!(e.message.contains("MaxSessionDuration"), "{e:?}");
    aws.fails(
        &admin,
        &["iam", "delete-role", "--role-name", "builder"],
        "DeleteConflict",
    )
    .await;

    // Expiry: a session key past its end is refused (AssumeRole's shortest is
    // 15 minutes; `stowage admin create-access-key --session-seconds` issues
    // the same kind of key with any lifetime).
    let out = s.admin(&["admin", "create-access-key", "--user", "bob", "--session-seconds", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let short = Keys {
        id: v["AccessKeyId"].as_str().unwrap().into(),
        secret: v["SecretAccessKey"].as_str().unwrap().into(),
        token: v["SessionToken"].as_str().map(str::to_string),
    };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let e = aws.fails(&short, &["sts", "get-caller-identity"], "ExpiredToken").await;
    assert_eq!(e.message, "The security token included in the request is expired");
}

#[tokio::test]
async fn account_create_prints_an_administrator_of_a_new_account() {
    let s = TestServer::start().await;
    let aws = Cli::new(&s);
    let out = s.admin(&["account", "create", "--id", "210987654321"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("[210987654321]\n"), "{text}");
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim_start_matches([' ', '=']).trim().to_string())
            .unwrap_or_else(|| panic!("{k} in {text}"))
    };
    let other = Keys {
        id: field("aws_access_key_id"),
        secret: field("aws_secret_access_key"),
        token: None,
    };
    let me = aws.ok(&other, &["sts", "get-caller-identity"]).await;
    assert_eq!(me["Account"], json!("210987654321"));
    assert_eq!(me["Arn"], json!("arn:aws:iam::210987654321:user/admin"));
    // Its administrator manages its own account's users, not the first account's.
    aws.ok(&other, &["iam", "create-user", "--user-name", "team-b"]).await;
    let v = aws.ok(&other, &["iam", "list-users"]).await;
    assert_eq!(names(&v, "Users", "UserName"), ["admin", "team-b"]);
    let v = aws.ok(&Keys::admin(&s), &["iam", "list-users"]).await;
    assert_eq!(names(&v, "Users", "UserName"), ["admin"]);
    let again = s.admin(&["account", "create", "--id", "210987654321"]);
    assert!(!again.status.success(), "creating the same account twice fails");
}
