//! The built-in key service (AWS KMS JSON protocol) through the AWS CLI and boto3.
//!
//! Each test starts its own server (on SQLite and on PostgreSQL) and runs the
//! CLI v1 from the venv `scripts/test` installs with a credentials file of its
//! own per call (so a test can act as several users), a throwaway `HOME` and
//! no other `AWS_*` variable; boto3 runs `py/kms.py`. What a user would notice:
//! keys and aliases round-trip, key states stop and restore encryption, a
//! key deleted after its waiting period takes its data with it, `kms:*`
//! actions go through IAM policies, and ECR repositories name their keys.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::aws_cli::{Cli, Keys};
use crate::support::*;

/// A string member of a JSON value by pointer.
pub(crate) fn at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

fn decode(v: &Value, pointer: &str) -> Vec<u8> {
    STANDARD.decode(at(v, pointer)).expect("base64 blob")
}

/// `aws kms create-key`: its KeyMetadata.
pub(crate) async fn create_key(aws: &Cli, admin: &Keys, description: &str) -> Value {
    aws.ok(admin, &["kms", "create-key", "--description", description])
        .await["KeyMetadata"]
        .clone()
}

/// Encrypts `plaintext` under `key` with the CLI; returns the ciphertext bytes.
async fn encrypt(aws: &Cli, keys: &Keys, key: &str, plaintext: &[u8], context: Option<&str>) -> Vec<u8> {
    let file = aws.file(&format!("plain-{}", uuid::Uuid::new_v4()), plaintext);
    let mut args = vec!["kms", "encrypt", "--key-id", key, "--plaintext", &file];
    if let Some(c) = context {
        args.extend(["--encryption-context", c]);
    }
    decode(&aws.ok(keys, &args).await, "/CiphertextBlob")
}

/// The args of `aws kms decrypt` of `ciphertext` (written to a file).
fn decrypt_args(aws: &Cli, ciphertext: &[u8], context: Option<&str>) -> Vec<String> {
    let file = aws.file(&format!("blob-{}", uuid::Uuid::new_v4()), ciphertext);
    let mut args: Vec<String> = ["kms", "decrypt", "--ciphertext-blob", &file]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(c) = context {
        args.extend(["--encryption-context".to_string(), c.to_string()]);
    }
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Makes a key pending deletion due now, as if its waiting period had passed
/// (the shortest the API allows is 7 days).
pub(crate) async fn expire_waiting_period(s: &TestServer, key_id: &str) {
    let url = match &s.db {
        Db::Sqlite => format!("sqlite://{}", s.data_dir.join("stowage.db").display()),
        Db::Postgres(url) => url.clone(),
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url)
        .await
        .expect("connecting to the server's database");
    let done = sqlx::query("UPDATE kms_keys SET deletion_date = 1 WHERE key_id = $1 AND key_state = 'PendingDeletion'")
        .bind(key_id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1, "key {key_id} is not pending deletion");
    pool.close().await;
}

both_dbs!(
    async fn keys_and_aliases_round_trip(s: TestServer) {
        let aws = Cli::new(&s);
        let admin = Keys::admin(&s);
        let v = aws
            .ok(
                &admin,
                &[
                    "kms",
                    "create-key",
                    "--description",
                    "app-key",
                    "--tags",
                    "TagKey=team,TagValue=a",
                ],
            )
            .await;
        let meta = &v["KeyMetadata"];
        let (id, arn) = (at(meta, "/KeyId").to_string(), at(meta, "/Arn").to_string());
        let account = at(meta, "/AWSAccountId").to_string();
        assert_eq!(arn, format!("arn:aws:kms:us-east-1:{account}:key/{id}"));
        for (field, want) in [
            ("/KeyState", "Enabled"),
            ("/KeyManager", "CUSTOMER"),
            ("/KeyUsage", "ENCRYPT_DECRYPT"),
            ("/KeySpec", "SYMMETRIC_DEFAULT"),
            ("/CustomerMasterKeySpec", "SYMMETRIC_DEFAULT"),
            ("/Origin", "AWS_KMS"),
            ("/Description", "app-key"),
        ] {
            assert_eq!(at(meta, field), want, "{field} in {meta}");
        }
        assert_eq!(meta["Enabled"], json!(true));
        assert_eq!(meta["MultiRegion"], json!(false));
        assert_eq!(meta["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
        assert!(meta["CreationDate"].as_f64().unwrap() > 1.7e9, "{meta}");
        assert!(meta.get("DeletionDate").is_none(), "{meta}");

        let tags = aws.ok(&admin, &["kms", "list-resource-tags", "--key-id", &id]).await;
        assert_eq!(tags["Tags"], json!([{"TagKey": "team", "TagValue": "a"}]));

        aws.ok(
            &admin,
            &[
                "kms",
                "create-alias",
                "--alias-name",
                "alias/app",
                "--target-key-id",
                &arn,
            ],
        )
        .await;
        let alias_arn = format!("arn:aws:kms:us-east-1:{account}:alias/app");
        for reference in [id.as_str(), &arn, "alias/app", &alias_arn] {
            let d = aws.ok(&admin, &["kms", "describe-key", "--key-id", reference]).await;
            assert_eq!(at(&d, "/KeyMetadata/KeyId"), id, "describe-key {reference}");
        }

        // Two more keys: list-keys pages through all three, one per call.
        let others = [
            create_key(&aws, &admin, "second").await,
            create_key(&aws, &admin, "third").await,
        ];
        let listed = aws.ok(&admin, &["kms", "list-keys", "--page-size", "1"]).await;
        let mut ids: Vec<&str> = listed["Keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| at(k, "/KeyId"))
            .collect();
        ids.sort();
        let mut want = vec![id.as_str(), at(&others[0], "/KeyId"), at(&others[1], "/KeyId")];
        want.sort();
        assert_eq!(ids, want, "{listed}");
        let first = aws.ok(&admin, &["kms", "list-keys", "--max-items", "2"]).await;
        assert_eq!(first["Keys"].as_array().unwrap().len(), 2);
        let token = at(&first, "/NextToken").to_string();
        let rest = aws.ok(&admin, &["kms", "list-keys", "--starting-token", &token]).await;
        assert_eq!(rest["Keys"].as_array().unwrap().len(), 1, "{rest}");

        let aliases = aws.ok(&admin, &["kms", "list-aliases"]).await;
        assert_eq!(
            aliases["Aliases"],
            json!([{
                "AliasName": "alias/app",
                "AliasArn": alias_arn,
                "TargetKeyId": id,
                "CreationDate": aliases["Aliases"][0]["CreationDate"],
                "LastUpdatedDate": aliases["Aliases"][0]["LastUpdatedDate"],
            }])
        );
        let by_key = aws
            .ok(&admin, &["kms", "list-aliases", "--key-id", at(&others[0], "/KeyId")])
            .await;
        assert_eq!(by_key["Aliases"], json!([]));

        let e = aws
            .fails(
                &admin,
                &[
                    "kms",
                    "create-alias",
                    "--alias-name",
                    "alias/app",
                    "--target-key-id",
                    &id,
                ],
                "AlreadyExistsException",
            )
            .await;
        assert_eq!(e.operation, "CreateAlias");
        assert!(e.message.contains(&alias_arn), "{e:?}");
        for bad in ["alias/aws/mine", "app", "alias/has space"] {
            aws.fails(
                &admin,
                &["kms", "create-alias", "--alias-name", bad, "--target-key-id", &id],
                "InvalidAliasNameException",
            )
            .await;
        }
        aws.fails(
            &admin,
            &[
                "kms",
                "create-alias",
                "--alias-name",
                "alias/x",
                "--target-key-id",
                "alias/app",
            ],
            "NotFoundException",
        )
        .await;

        aws.ok(&admin, &["kms", "delete-alias", "--alias-name", "alias/app"])
            .await;
        aws.fails(
            &admin,
            &["kms", "delete-alias", "--alias-name", "alias/app"],
            "NotFoundException",
        )
        .await;
        aws.fails(
            &admin,
            &["kms", "describe-key", "--key-id", "alias/app"],
            "NotFoundException",
        )
        .await;
        let e = aws
            .fails(
                &admin,
                &[
                    "kms",
                    "describe-key",
                    "--key-id",
                    "1234abcd-12ab-34cd-56ef-1234567890ab",
                ],
                "NotFoundException",
            )
            .await;
        assert_eq!(
            e.message,
            format!("Key 'arn:aws:kms:us-east-1:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab' does not exist")
        );
        aws.fails(
            &admin,
            &["kms", "get-key-policy", "--key-id", &id, "--policy-name", "default"],
            "UnsupportedOperationException",
        )
        .await;
    }
);

both_dbs!(
    async fn encrypt_and_decrypt_bind_the_encryption_context(s: TestServer) {
        let aws = Cli::new(&s);
        let admin = Keys::admin(&s);
        let key = create_key(&aws, &admin, "crypto").await;
        let id = at(&key, "/KeyId").to_string();
        let other = create_key(&aws, &admin, "other").await;
        let plaintext = bytes(7, 3000);
        let context = "purpose=test,tenant=a";

        let ciphertext = encrypt(&aws, &admin, &id, &plaintext, Some(context)).await;
        assert!(ciphertext.len() > plaintext.len());
        let out = aws
            .ok(&admin, &strs(&decrypt_args(&aws, &ciphertext, Some(context))))
            .await;
        assert_eq!(decode(&out, "/Plaintext"), plaintext);
        assert_eq!(at(&out, "/KeyId"), at(&key, "/Arn"));
        assert_eq!(at(&out, "/EncryptionAlgorithm"), "SYMMETRIC_DEFAULT");
        // The context's order does not matter.
        let out = aws
            .ok(
                &admin,
                &strs(&decrypt_args(&aws, &ciphertext, Some("tenant=a,purpose=test"))),
            )
            .await;
        assert_eq!(decode(&out, "/Plaintext"), plaintext);

        for wrong in [Some("purpose=test,tenant=b"), Some("purpose=test"), None] {
            let e = aws
                .fails(
                    &admin,
                    &strs(&decrypt_args(&aws, &ciphertext, wrong)),
                    "InvalidCiphertextException",
                )
                .await;
            assert_eq!(e.operation, "Decrypt");
        }
        let mut tampered = ciphertext.clone();
        *tampered.last_mut().unwrap() ^= 1;
        aws.fails(
            &admin,
            &strs(&decrypt_args(&aws, &tampered, Some(context))),
            "InvalidCiphertextException",
        )
        .await;
        aws.fails(
            &admin,
            &strs(&decrypt_args(&aws, b"not a ciphertext", None)),
            "InvalidCiphertextException",
        )
        .await;
        let mut with_other = decrypt_args(&aws, &ciphertext, Some(context));
        with_other.extend(["--key-id".to_string(), at(&other, "/KeyId").to_string()]);
        aws.fails(&admin, &strs(&with_other), "IncorrectKeyException").await;

        let dk = aws
            .ok(
                &admin,
                &["kms", "generate-data-key", "--key-id", &id, "--key-spec", "AES_256"],
            )
            .await;
        let data_key = decode(&dk, "/Plaintext");
        assert_eq!(data_key.len(), 32);
        let out = aws
            .ok(
                &admin,
                &strs(&decrypt_args(&aws, &decode(&dk, "/CiphertextBlob"), None)),
            )
            .await;
        assert_eq!(decode(&out, "/Plaintext"), data_key);
        let dk = aws
            .ok(
                &admin,
                &["kms", "generate-data-key", "--key-id", &id, "--number-of-bytes", "16"],
            )
            .await;
        assert_eq!(decode(&dk, "/Plaintext").len(), 16);
        aws.fails(
            &admin,
            &["kms", "generate-data-key", "--key-id", &id],
            "ValidationException",
        )
        .await;
    }
);

both_dbs!(
    async fn disabling_rotating_and_deleting_keys(s: TestServer) {
        let aws = Cli::new(&s);
        let admin = Keys::admin(&s);
        let key = create_key(&aws, &admin, "states").await;
        let (id, arn) = (at(&key, "/KeyId").to_string(), at(&key, "/Arn").to_string());
        let before = encrypt(&aws, &admin, &id, b"made before", None).await;

        aws.ok(&admin, &["kms", "disable-key", "--key-id", &id]).await;
        let d = aws.ok(&admin, &["kms", "describe-key", "--key-id", &id]).await;
        assert_eq!(
            (at(&d, "/KeyMetadata/KeyState"), &d["KeyMetadata"]["Enabled"]),
            ("Disabled", &json!(false))
        );
        let e = aws
            .fails(
                &admin,
                &["kms", "encrypt", "--key-id", &id, "--plaintext", "x"],
                "DisabledException",
            )
            .await;
        assert_eq!(e.message, format!("{arn} is disabled."));
        aws.fails(&admin, &strs(&decrypt_args(&aws, &before, None)), "DisabledException")
            .await;
        aws.ok(&admin, &["kms", "enable-key", "--key-id", &arn]).await;
        encrypt(&aws, &admin, &id, b"x", None).await;

        // Rotation: a new material version; what was encrypted before still decrypts.
        let status = aws
            .ok(&admin, &["kms", "get-key-rotation-status", "--key-id", &id])
            .await;
        assert_eq!(status["KeyRotationEnabled"], json!(false));
        aws.ok(&admin, &["kms", "enable-key-rotation", "--key-id", &id]).await;
        let status = aws
            .ok(&admin, &["kms", "get-key-rotation-status", "--key-id", &id])
            .await;
        assert_eq!(
            (&status["KeyRotationEnabled"], &status["RotationPeriodInDays"]),
            (&json!(true), &json!(365))
        );
        assert!(status["NextRotationDate"].as_f64().is_some(), "{status}");
        let rotated = aws.ok(&admin, &["kms", "rotate-key-on-demand", "--key-id", &id]).await;
        assert_eq!(at(&rotated, "/KeyId"), id);
        let rotations = aws.ok(&admin, &["kms", "list-key-rotations", "--key-id", &id]).await;
        let list = rotations["Rotations"].as_array().unwrap();
        assert_eq!(list.len(), 1, "{rotations}");
        assert_eq!(
            (at(&list[0], "/KeyId"), at(&list[0], "/RotationType")),
            (id.as_str(), "ON_DEMAND")
        );
        let out = aws.ok(&admin, &strs(&decrypt_args(&aws, &before, None))).await;
        assert_eq!(decode(&out, "/Plaintext"), b"made before");
        let after = encrypt(&aws, &admin, &id, b"made after", None).await;
        let out = aws.ok(&admin, &strs(&decrypt_args(&aws, &after, None))).await;
        assert_eq!(decode(&out, "/Plaintext"), b"made after");
        aws.ok(&admin, &["kms", "disable-key-rotation", "--key-id", &id]).await;

        // Deletion: 7-30 days; pending keys refuse use, cancelling leaves the key disabled.
        aws.fails(
            &admin,
            &[
                "kms",
                "schedule-key-deletion",
                "--key-id",
                &id,
                "--pending-window-in-days",
                "3",
            ],
            "ValidationException",
        )
        .await;
        let scheduled = aws
            .ok(
                &admin,
                &[
                    "kms",
                    "schedule-key-deletion",
                    "--key-id",
                    &id,
                    "--pending-window-in-days",
                    "7",
                ],
            )
            .await;
        assert_eq!(
            (at(&scheduled, "/KeyId"), at(&scheduled, "/KeyState")),
            (arn.as_str(), "PendingDeletion")
        );
        assert_eq!(scheduled["PendingWindowInDays"], json!(7));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let in_days = (scheduled["DeletionDate"].as_f64().unwrap() - now) / 86_400.0;
        assert!((6.9..7.1).contains(&in_days), "deletion in {in_days} days");
        let d = aws.ok(&admin, &["kms", "describe-key", "--key-id", &id]).await;
        assert_eq!(at(&d, "/KeyMetadata/KeyState"), "PendingDeletion");
        assert!(d["KeyMetadata"]["DeletionDate"].as_f64().is_some(), "{d}");
        let e = aws
            .fails(
                &admin,
                &["kms", "encrypt", "--key-id", &id, "--plaintext", "x"],
                "KMSInvalidStateException",
            )
            .await;
        assert_eq!(e.message, format!("{arn} is pending deletion."));
        aws.fails(
            &admin,
            &["kms", "enable-key", "--key-id", &id],
            "KMSInvalidStateException",
        )
        .await;
        aws.fails(
            &admin,
            &["kms", "schedule-key-deletion", "--key-id", &id],
            "KMSInvalidStateException",
        )
        .await;
        let cancelled = aws.ok(&admin, &["kms", "cancel-key-deletion", "--key-id", &id]).await;
        assert_eq!(at(&cancelled, "/KeyId"), arn);
        let d = aws.ok(&admin, &["kms", "describe-key", "--key-id", &id]).await;
        assert_eq!(at(&d, "/KeyMetadata/KeyState"), "Disabled");
        assert!(d["KeyMetadata"].get("DeletionDate").is_none(), "{d}");
        aws.fails(
            &admin,
            &["kms", "cancel-key-deletion", "--key-id", &id],
            "KMSInvalidStateException",
        )
        .await;
        aws.ok(&admin, &["kms", "enable-key", "--key-id", &id]).await;

        // Once the waiting period has passed the key is gone, and with it its data.
        aws.ok(
            &admin,
            &[
                "kms",
                "create-alias",
                "--alias-name",
                "alias/doomed",
                "--target-key-id",
                &id,
            ],
        )
        .await;
        aws.ok(&admin, &["kms", "schedule-key-deletion", "--key-id", &id]).await;
        expire_waiting_period(&s, &id).await;
        let e = aws
            .fails(&admin, &["kms", "describe-key", "--key-id", &id], "NotFoundException")
            .await;
        assert!(e.message.contains("cannot be recovered"), "{e:?}");
        let e = aws
            .fails(&admin, &strs(&decrypt_args(&aws, &after, None)), "NotFoundException")
            .await;
        assert!(
            e.message.contains(&arn) && e.message.contains("cannot be recovered"),
            "{e:?}"
        );
        let keys = aws.ok(&admin, &["kms", "list-keys"]).await;
        assert_eq!(keys["Keys"], json!([]), "a destroyed key is not listed");
        let aliases = aws.ok(&admin, &["kms", "list-aliases"]).await;
        assert_eq!(aliases["Aliases"], json!([]), "its aliases went with it");
        let (status, body) = s
            .ecr(
                "CreateRepository",
                json!({"repositoryName": "shredded", "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": id}}),
            )
            .await;
        assert_eq!(
            (status, &body["__type"], &body["kmsError"]),
            (400, &json!("KmsException"), &json!("NotFoundException")),
            "{body}"
        );
    }
);

both_dbs!(
    async fn kms_actions_follow_iam_policies(s: TestServer) {
        let aws = Cli::new(&s);
        let admin = Keys::admin(&s);
        let allowed = create_key(&aws, &admin, "allowed").await;
        let other = create_key(&aws, &admin, "other").await;

        // A read-only ECR user may not use the key service at all.
        aws.ok(&admin, &["iam", "create-user", "--user-name", "reader"]).await;
        aws.ok(
            &admin,
            &[
                "iam",
                "attach-user-policy",
                "--user-name",
                "reader",
                "--policy-arn",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
            ],
        )
        .await;
        let reader = Keys::created(
            &aws.ok(&admin, &["iam", "create-access-key", "--user-name", "reader"])
                .await,
        );
        let e = aws
            .fails(&reader, &["kms", "create-key"], "AccessDeniedException")
            .await;
        assert!(
            e.message.contains(
                ":user/reader is not authorized to perform: kms:CreateKey on resource: arn:aws:kms:us-east-1:"
            ),
            "{e:?}"
        );
        aws.fails(&reader, &["kms", "list-keys"], "AccessDeniedException").await;
        let e = aws
            .fails(
                &reader,
                &["kms", "describe-key", "--key-id", at(&allowed, "/KeyId")],
                "AccessDeniedException",
            )
            .await;
        assert!(e.message.contains(at(&allowed, "/Arn")), "{e:?}");
        // Not even whether a key exists.
        aws.fails(
            &reader,
            &["kms", "describe-key", "--key-id", "alias/none"],
            "AccessDeniedException",
        )
        .await;

        // An inline policy naming one key's ARN: that key, those actions, nothing else.
        let policy = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
            "Resource": at(&allowed, "/Arn"),
        }]})
        .to_string();
        aws.ok(
            &admin,
            &[
                "iam",
                "put-user-policy",
                "--user-name",
                "reader",
                "--policy-name",
                "kms",
                "--policy-document",
                &policy,
            ],
        )
        .await;
        // Policies are cached for up to a second.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let ciphertext = encrypt(&aws, &reader, at(&allowed, "/KeyId"), b"allowed", None).await;
        let out = aws.ok(&reader, &strs(&decrypt_args(&aws, &ciphertext, None))).await;
        assert_eq!(decode(&out, "/Plaintext"), b"allowed");
        aws.fails(
            &reader,
            &["kms", "encrypt", "--key-id", at(&other, "/KeyId"), "--plaintext", "x"],
            "AccessDeniedException",
        )
        .await;
        aws.fails(
            &reader,
            &["kms", "disable-key", "--key-id", at(&allowed, "/KeyId")],
            "AccessDeniedException",
        )
        .await;
        aws.fails(&reader, &["kms", "create-key"], "AccessDeniedException")
            .await;
    }
);

both_dbs!(
    async fn ecr_repositories_name_their_keys(s: TestServer) {
        let aws = Cli::new(&s);
        let admin = Keys::admin(&s);
        let key = create_key(&aws, &admin, "repos").await;
        let (id, arn) = (at(&key, "/KeyId").to_string(), at(&key, "/Arn").to_string());
        aws.ok(
            &admin,
            &[
                "kms",
                "create-alias",
                "--alias-name",
                "alias/repos",
                "--target-key-id",
                &id,
            ],
        )
        .await;
        let alias_arn = arn.replace(&format!("key/{id}"), "alias/repos");

        for (name, kms_key) in [
            ("by-alias", "alias/repos"),
            ("by-id", id.as_str()),
            ("by-arn", &arn),
            ("by-alias-arn", &alias_arn),
        ] {
            let config = format!("encryptionType=KMS,kmsKey={kms_key}");
            let v = aws
                .ok(
                    &admin,
                    &[
                        "ecr",
                        "create-repository",
                        "--repository-name",
                        name,
                        "--encryption-configuration",
                        &config,
                    ],
                )
                .await;
            assert_eq!(
                v["repository"]["encryptionConfiguration"],
                json!({"encryptionType": "KMS", "kmsKey": kms_key}),
                "{name}"
            );
        }
        let v = aws
            .ok(
                &admin,
                &[
                    "ecr",
                    "create-repository",
                    "--repository-name",
                    "dsse",
                    "--encryption-configuration",
                    "encryptionType=KMS_DSSE,kmsKey=alias/repos",
                ],
            )
            .await;
        assert_eq!(at(&v, "/repository/encryptionConfiguration/encryptionType"), "KMS_DSSE");
        let d = aws
            .ok(&admin, &["ecr", "describe-repositories", "--repository-names", "by-id"])
            .await;
        assert_eq!(at(&d, "/repositories/0/encryptionConfiguration/kmsKey"), id);

        // Without kmsKey: the account's AWS-managed alias/aws/ecr key, made now.
        let aliases = aws.ok(&admin, &["kms", "list-aliases"]).await;
        assert!(!aliases.to_string().contains("alias/aws/ecr"), "{aliases}");
        let v = aws
            .ok(
                &admin,
                &[
                    "ecr",
                    "create-repository",
                    "--repository-name",
                    "default-key",
                    "--encryption-configuration",
                    "encryptionType=KMS",
                ],
            )
            .await;
        let managed_arn = at(&v, "/repository/encryptionConfiguration/kmsKey").to_string();
        assert!(
            managed_arn.starts_with("arn:aws:kms:us-east-1:") && managed_arn.contains(":key/"),
            "{v}"
        );
        let aliases = aws.ok(&admin, &["kms", "list-aliases"]).await;
        let ecr_alias = aliases["Aliases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["AliasName"] == "alias/aws/ecr")
            .unwrap_or_else(|| panic!("no alias/aws/ecr in {aliases}"));
        assert!(managed_arn.ends_with(at(ecr_alias, "/TargetKeyId")), "{aliases}");
        let v = aws
            .ok(
                &admin,
                &[
                    "ecr",
                    "create-repository",
                    "--repository-name",
                    "default-again",
                    "--encryption-configuration",
                    "encryptionType=KMS",
                ],
            )
            .await;
        assert_eq!(
            at(&v, "/repository/encryptionConfiguration/kmsKey"),
            managed_arn,
            "one alias/aws/ecr key"
        );
        let d = aws
            .ok(&admin, &["kms", "describe-key", "--key-id", "alias/aws/ecr"])
            .await;
        assert_eq!(at(&d, "/KeyMetadata/KeyManager"), "AWS");
        let status = aws
            .ok(&admin, &["kms", "get-key-rotation-status", "--key-id", &managed_arn])
            .await;
        assert_eq!(status["KeyRotationEnabled"], json!(true));
        // It is the service's: users may not disable, delete or alias it.
        aws.fails(
            &admin,
            &["kms", "disable-key", "--key-id", &managed_arn],
            "UnsupportedOperationException",
        )
        .await;
        aws.fails(
            &admin,
            &["kms", "schedule-key-deletion", "--key-id", &managed_arn],
            "UnsupportedOperationException",
        )
        .await;
        aws.fails(
            &admin,
            &[
                "kms",
                "create-alias",
                "--alias-name",
                "alias/mine",
                "--target-key-id",
                &managed_arn,
            ],
            "UnsupportedOperationException",
        )
        .await;
        aws.fails(
            &admin,
            &["kms", "delete-alias", "--alias-name", "alias/aws/ecr"],
            "UnsupportedOperationException",
        )
        .await;

        // Keys that cannot be used: KmsException, with KMS's error as kmsError.
        let e = aws
            .fails(
                &admin,
                &[
                    "ecr",
                    "create-repository",
                    "--repository-name",
                    "nokey",
                    "--encryption-configuration",
                    "encryptionType=KMS,kmsKey=alias/none",
                ],
                "KmsException",
            )
            .await;
        assert_eq!(e.operation, "CreateRepository");
        let create = |name: &str, kms_key: &str| json!({"repositoryName": name, "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": kms_key}});
        let (status, body) = s.ecr("CreateRepository", create("nokey", "alias/none")).await;
        assert_eq!(
            (status, &body["__type"], &body["kmsError"]),
            (400, &json!("KmsException"), &json!("NotFoundException")),
            "{body}"
        );
        aws.ok(&admin, &["kms", "disable-key", "--key-id", &id]).await;
        let (_, body) = s.ecr("CreateRepository", create("disabled", "alias/repos")).await;
        assert_eq!(
            (&body["__type"], &body["kmsError"]),
            (&json!("KmsException"), &json!("DisabledException")),
            "{body}"
        );
        assert_eq!(body["message"], json!(format!("{arn} is disabled.")));
        aws.ok(&admin, &["kms", "enable-key", "--key-id", &id]).await;
        aws.ok(&admin, &["kms", "schedule-key-deletion", "--key-id", &id]).await;
        let (_, body) = s.ecr("CreateRepository", create("pending", &id)).await;
        assert_eq!(body["kmsError"], json!("KMSInvalidStateException"), "{body}");
        let (_, body) = s
            .ecr(
                "CreateRepository",
                create("elsewhere", "arn:aws:kms:us-east-1:999999999999:key/x"),
            )
            .await;
        assert_eq!(body["kmsError"], json!("NotFoundException"), "{body}");
        aws.fails(
            &admin,
            &[
                "ecr",
                "create-repository",
                "--repository-name",
                "aes",
                "--encryption-configuration",
                "encryptionType=AES256,kmsKey=alias/repos",
            ],
            "InvalidParameterException",
        )
        .await;
        let d = aws
            .fails(
                &admin,
                &["ecr", "describe-repositories", "--repository-names", "nokey"],
                "RepositoryNotFoundException",
            )
            .await;
        assert_eq!(d.operation, "DescribeRepositories");
    }
);

both_dbs!(
    async fn boto3_kms_client(s: TestServer) {
        crate::ecr_boto3::run_script(&s, "kms.py", &[], 9).await;
    }
);
