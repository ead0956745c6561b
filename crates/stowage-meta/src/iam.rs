//! IAM storage: users, groups and roles (rows of `principals`), group
//! membership, inline and customer managed policies, attachments, the access
//! keys of a user, and the identity policies that apply to a caller.
//! Names are unique per account and kind ignoring case; the ARN is the key.

use sqlx::any::AnyRow;

use crate::{Meta, MetaError, get, now_ms};

/// What kind of IAM entity a principal is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityKind {
    User,
    Group,
    Role,
}

impl EntityKind {
    /// The `principals.kind` value, also the ARN resource type (`user/…`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }
}

/// A user, group or role as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    pub arn: String,
    pub account_id: String,
    pub kind: EntityKind,
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `AIDA…`, `AGPA…` or `AROA…`; `None` for principals made before IAM.
    pub unique_id: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub tags: Vec<(String, String)>,
    /// A role's trust policy (AssumeRolePolicyDocument), verbatim.
    pub trust_policy: Option<String>,
    pub description: Option<String>,
    /// A role's maximum session duration in seconds.
    pub max_session_duration: Option<i64>,
}

/// A customer managed policy as stored, with how many entities it is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedPolicyRecord {
    pub arn: String,
    pub account_id: String,
    pub name: String,
    pub path: String,
    /// `ANPA…`.
    pub policy_id: String,
    pub description: Option<String>,
    pub document: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub attachment_count: i64,
}

/// A long-term access key of a user, without its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKeyInfo {
    pub id: String,
    pub principal_arn: String,
    /// `Active` or `Inactive`.
    pub status: String,
    pub created_at: i64,
}

/// One identity policy that applies to a caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityPolicy {
    /// An inline policy of the caller (or of one of its groups).
    Inline { name: String, document: String },
    /// An attached managed policy; `document` is `None` for AWS-managed ones
    /// (`arn:aws:iam::aws:policy/…`, resolved by `stowage_policy::managed`).
    Managed { arn: String, document: Option<String> },
}

/// The prefix of AWS-managed policy ARNs.
const AWS_MANAGED_PREFIX: &str = "arn:aws:iam::aws:policy/";

const ENTITY_COLUMNS: &str = "arn, account_id, kind, name, path, unique_id, created_at, tags, trust_policy, \
                              description, max_session_duration";

fn entity_from_row(r: &AnyRow) -> Result<Entity, MetaError> {
    let kind = match get::<String>(r, "kind")?.as_str() {
        "user" => EntityKind::User,
        "group" => EntityKind::Group,
        "role" => EntityKind::Role,
        other => return Err(MetaError::Corrupt(format!("unknown principal kind '{other}'"))),
    };
    let tags: String = get(r, "tags")?;
    let tags: Vec<serde_json::Value> = serde_json::from_str(&tags).map_err(|e| MetaError::Corrupt(e.to_string()))?;
    let tags = tags
        .iter()
        .filter_map(|t| Some((t["Key"].as_str()?.to_string(), t["Value"].as_str()?.to_string())))
        .collect();
    Ok(Entity {
        arn: get(r, "arn")?,
        account_id: get(r, "account_id")?,
        kind,
        name: get(r, "name")?,
        path: get(r, "path")?,
        unique_id: get(r, "unique_id")?,
        created_at: get(r, "created_at")?,
        tags,
        trust_policy: get(r, "trust_policy")?,
        description: get(r, "description")?,
        max_session_duration: get(r, "max_session_duration")?,
    })
}

fn tags_json(tags: &[(String, String)]) -> String {
    serde_json::Value::Array(
        tags.iter()
            .map(|(k, v)| serde_json::json!({ "Key": k, "Value": v }))
            .collect(),
    )
    .to_string()
}

const POLICY_COLUMNS: &str = "m.arn, m.account_id, m.name, m.path, m.policy_id, m.description, m.document, \
                              m.created_at, m.updated_at, \
                              (SELECT COUNT(*) FROM policy_attachments a WHERE a.policy_arn = m.arn) AS attachment_count";

fn policy_from_row(r: &AnyRow) -> Result<ManagedPolicyRecord, MetaError> {
    Ok(ManagedPolicyRecord {
        arn: get(r, "arn")?,
        account_id: get(r, "account_id")?,
        name: get(r, "name")?,
        path: get(r, "path")?,
        policy_id: get(r, "policy_id")?,
        description: get(r, "description")?,
        document: get(r, "document")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
        attachment_count: get(r, "attachment_count")?,
    })
}

/// `arn:aws:sts::<acct>:assumed-role/<role>/<session>` → (account, role name).
fn assumed_role(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:sts::")?;
    let (account, resource) = rest.split_once(':')?;
    let (role, _session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
    Some((account, role))
}

impl Meta {
    /// Creates a user, group or role; `EntityAlreadyExists` when the account has
    /// one of that kind and name (ignoring case).
    pub async fn create_entity(&self, new: &Entity) -> Result<Entity, MetaError> {
        let sql = format!(
            "INSERT INTO principals ({ENTITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT DO NOTHING RETURNING {ENTITY_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&new.arn)
            .bind(&new.account_id)
            .bind(new.kind.as_str())
            .bind(&new.name)
            .bind(&new.path)
            .bind(&new.unique_id)
            .bind(new.created_at)
            .bind(tags_json(&new.tags))
            .bind(&new.trust_policy)
            .bind(&new.description)
            .bind(new.max_session_duration)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => entity_from_row(&r),
            None => Err(MetaError::EntityAlreadyExists(new.name.clone())),
        }
    }

    /// The user, group or role of the account with this name (ignoring case).
    pub async fn entity(&self, account_id: &str, kind: EntityKind, name: &str) -> Result<Option<Entity>, MetaError> {
        let sql = format!(
            "SELECT {ENTITY_COLUMNS} FROM principals WHERE account_id = $1 AND kind = $2 AND lower(name) = lower($3)"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(kind.as_str())
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(entity_from_row).transpose()
    }

    /// The user, group or role with this ARN.
    pub async fn entity_by_arn(&self, arn: &str) -> Result<Option<Entity>, MetaError> {
        let sql = format!("SELECT {ENTITY_COLUMNS} FROM principals WHERE arn = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(entity_from_row).transpose()
    }

    /// The account's entities of a kind whose path starts with `path_prefix`, by name.
    pub async fn list_entities(
        &self,
        account_id: &str,
        kind: EntityKind,
        path_prefix: &str,
    ) -> Result<Vec<Entity>, MetaError> {
        let sql = format!(
            "SELECT {ENTITY_COLUMNS} FROM principals WHERE account_id = $1 AND kind = $2 \
             AND substr(path, 1, length($3)) = $3 ORDER BY lower(name)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(kind.as_str())
            .bind(path_prefix)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entity_from_row).collect()
    }

    /// Deletes a user, group or role as IAM does: `DeleteConflict` while it still
    /// has access keys, policies, group memberships or members; `NoSuchEntity` if absent.
    pub async fn delete_entity(&self, arn: &str, kind: EntityKind) -> Result<(), MetaError> {
        let mut tx = self.write_tx().await?;
        let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).bind(arn.to_string());
        let exists = count("SELECT COUNT(*) FROM principals WHERE arn = $1")
            .fetch_one(&mut *tx)
            .await?;
        if exists == 0 {
            return Err(MetaError::NoSuchEntity(arn.to_string()));
        }
        if kind == EntityKind::User {
            let keys = count("SELECT COUNT(*) FROM access_keys WHERE principal_arn = $1")
                .fetch_one(&mut *tx)
                .await?;
            if keys > 0 {
                return Err(MetaError::DeleteConflict(
                    "Cannot delete entity, must delete access keys first.".into(),
                ));
            }
        }
        let inline = count("SELECT COUNT(*) FROM inline_policies WHERE principal_arn = $1")
            .fetch_one(&mut *tx)
            .await?;
        if inline > 0 {
            return Err(MetaError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        let attached = count("SELECT COUNT(*) FROM policy_attachments WHERE principal_arn = $1")
            .fetch_one(&mut *tx)
            .await?;
        if attached > 0 {
            return Err(MetaError::DeleteConflict(
                "Cannot delete entity, must detach all policies first.".into(),
            ));
        }
        let membership = count("SELECT COUNT(*) FROM group_members WHERE user_arn = $1 OR group_arn = $1")
            .fetch_one(&mut *tx)
            .await?;
        if membership > 0 {
            return Err(MetaError::DeleteConflict(
                "Cannot delete entity, must remove users from group first.".into(),
            ));
        }
        // A role's AssumeRole sessions go with it (their keys reference the role).
        sqlx::query("DELETE FROM access_keys WHERE principal_arn = $1")
            .bind(arn)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM principals WHERE arn = $1")
            .bind(arn)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The long-term access keys of a principal (not AssumeRole sessions or
    /// other temporary keys), oldest first.
    pub async fn list_access_keys(&self, principal_arn: &str) -> Result<Vec<AccessKeyInfo>, MetaError> {
        let rows = sqlx::query(
            "SELECT id, principal_arn, status, created_at FROM access_keys \
             WHERE principal_arn = $1 AND expires_at IS NULL ORDER BY created_at, id",
        )
        .bind(principal_arn)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccessKeyInfo {
                    id: get(r, "id")?,
                    principal_arn: get(r, "principal_arn")?,
                    status: get(r, "status")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .collect()
    }

    /// Deletes a principal's access key; false when it has no such key.
    pub async fn delete_access_key(&self, principal_arn: &str, id: &str) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM access_keys WHERE principal_arn = $1 AND id = $2")
            .bind(principal_arn)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores an AssumeRole session key: it belongs to the role (`role_arn`) and
    /// acts as `session_arn`, limited by `session_policy` when there is one.
    #[expect(clippy::too_many_arguments, reason = "one column each; called from one place")]
    pub async fn insert_session_key(
        &self,
        id: &str,
        role_arn: &str,
        session_arn: &str,
        secret_sealed: &[u8],
        session_token_sealed: &[u8],
        expires_at: i64,
        session_policy: Option<&str>,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO access_keys (id, principal_arn, secret_sealed, session_token_sealed, expires_at, status, \
             created_at, session_arn, session_policy) VALUES ($1, $2, $3, $4, $5, 'Active', $6, $7, $8)",
        )
        .bind(id)
        .bind(role_arn)
        .bind(secret_sealed.to_vec())
        .bind(session_token_sealed.to_vec())
        .bind(expires_at)
        .bind(now_ms())
        .bind(session_arn)
        .bind(session_policy)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session policy passed to AssumeRole for this temporary key, if any.
    pub async fn session_policy(&self, access_key_id: &str) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT session_policy FROM access_keys WHERE id = $1")
            .bind(access_key_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => get(&r, "session_policy")?,
            None => None,
        })
    }

    /// Creates or replaces an inline policy of a user, group or role.
    pub async fn put_inline_policy(&self, principal_arn: &str, name: &str, document: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO inline_policies (principal_arn, name, document) VALUES ($1, $2, $3) \
             ON CONFLICT (principal_arn, name) DO UPDATE SET document = excluded.document",
        )
        .bind(principal_arn)
        .bind(name)
        .bind(document)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An inline policy's document.
    pub async fn inline_policy(&self, principal_arn: &str, name: &str) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT document FROM inline_policies WHERE principal_arn = $1 AND name = $2")
            .bind(principal_arn)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "document")).transpose()
    }

    /// Deletes an inline policy; false when there is none by that name.
    pub async fn delete_inline_policy(&self, principal_arn: &str, name: &str) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM inline_policies WHERE principal_arn = $1 AND name = $2")
            .bind(principal_arn)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The names of a principal's inline policies, sorted.
    pub async fn list_inline_policies(&self, principal_arn: &str) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query("SELECT name FROM inline_policies WHERE principal_arn = $1 ORDER BY name")
            .bind(principal_arn)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| get(r, "name")).collect()
    }

    /// Creates a customer managed policy; `EntityAlreadyExists` on a duplicate name.
    pub async fn create_managed_policy(&self, p: &ManagedPolicyRecord) -> Result<ManagedPolicyRecord, MetaError> {
        let done = sqlx::query(
            "INSERT INTO managed_policies (arn, account_id, name, path, policy_id, description, document, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(&p.arn)
        .bind(&p.account_id)
        .bind(&p.name)
        .bind(&p.path)
        .bind(&p.policy_id)
        .bind(&p.description)
        .bind(&p.document)
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::EntityAlreadyExists(p.name.clone()));
        }
        self.managed_policy(&p.arn)
            .await?
            .ok_or_else(|| MetaError::Corrupt(format!("policy {} vanished", p.arn)))
    }

    /// A customer managed policy by ARN.
    pub async fn managed_policy(&self, arn: &str) -> Result<Option<ManagedPolicyRecord>, MetaError> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM managed_policies m WHERE m.arn = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(policy_from_row).transpose()
    }

    /// The account's customer managed policies whose path starts with `path_prefix`, by name.
    pub async fn list_managed_policies(
        &self,
        account_id: &str,
        path_prefix: &str,
    ) -> Result<Vec<ManagedPolicyRecord>, MetaError> {
        let sql = format!(
            "SELECT {POLICY_COLUMNS} FROM managed_policies m WHERE m.account_id = $1 \
             AND substr(m.path, 1, length($2)) = $2 ORDER BY lower(m.name)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(path_prefix)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(policy_from_row).collect()
    }

    /// How many users, groups and roles have this policy attached (any account).
    pub async fn attachment_count(&self, policy_arn: &str) -> Result<i64, MetaError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM policy_attachments WHERE policy_arn = $1")
                .bind(policy_arn)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Deletes a customer managed policy: `DeleteConflict` while attached,
    /// `NoSuchEntity` if absent.
    pub async fn delete_managed_policy(&self, arn: &str) -> Result<(), MetaError> {
        let mut tx = self.write_tx().await?;
        let attached = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM policy_attachments WHERE policy_arn = $1")
            .bind(arn)
            .fetch_one(&mut *tx)
            .await?;
        if attached > 0 {
            return Err(MetaError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        let done = sqlx::query("DELETE FROM managed_policies WHERE arn = $1")
            .bind(arn)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::NoSuchEntity(arn.to_string()));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Attaches a managed policy to a user, group or role (idempotent).
    pub async fn attach_policy(&self, principal_arn: &str, policy_arn: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO policy_attachments (principal_arn, policy_arn) VALUES ($1, $2) \
             ON CONFLICT (principal_arn, policy_arn) DO NOTHING",
        )
        .bind(principal_arn)
        .bind(policy_arn)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Detaches a managed policy; false when it was not attached.
    pub async fn detach_policy(&self, principal_arn: &str, policy_arn: &str) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM policy_attachments WHERE principal_arn = $1 AND policy_arn = $2")
            .bind(principal_arn)
            .bind(policy_arn)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The ARNs of the managed policies attached to a principal, sorted.
    pub async fn attached_policies(&self, principal_arn: &str) -> Result<Vec<String>, MetaError> {
        let rows =
            sqlx::query("SELECT policy_arn FROM policy_attachments WHERE principal_arn = $1 ORDER BY policy_arn")
                .bind(principal_arn)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| get(r, "policy_arn")).collect()
    }

    /// Adds a user to a group (idempotent).
    pub async fn add_group_member(&self, group_arn: &str, user_arn: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO group_members (group_arn, user_arn) VALUES ($1, $2) \
             ON CONFLICT (group_arn, user_arn) DO NOTHING",
        )
        .bind(group_arn)
        .bind(user_arn)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a user from a group; false when it was not a member.
    pub async fn remove_group_member(&self, group_arn: &str, user_arn: &str) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_arn = $1 AND user_arn = $2")
            .bind(group_arn)
            .bind(user_arn)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The ARNs of the groups a user belongs to, sorted.
    pub async fn groups_of(&self, user_arn: &str) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query("SELECT group_arn FROM group_members WHERE user_arn = $1 ORDER BY group_arn")
            .bind(user_arn)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| get(r, "group_arn")).collect()
    }

    /// Every identity policy of a caller: its inline and attached policies and
    /// those of its groups. For an assumed-role session ARN
    /// (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`), the role's.
    pub async fn identity_policies(&self, principal_arn: &str) -> Result<Vec<IdentityPolicy>, MetaError> {
        let arn = match assumed_role(principal_arn) {
            Some((account, role)) => match self.entity(account, EntityKind::Role, role).await? {
                Some(r) => r.arn,
                None => return Ok(Vec::new()),
            },
            None => principal_arn.to_string(),
        };
        // The principal itself, then its groups.
        let mut owners = vec![arn.clone()];
        let groups = sqlx::query("SELECT group_arn FROM group_members WHERE user_arn = $1 ORDER BY group_arn")
            .bind(&arn)
            .fetch_all(&self.pool)
            .await?;
        for r in &groups {
            owners.push(get(r, "group_arn")?);
        }
        let mut out = Vec::new();
        for owner in &owners {
            let rows = sqlx::query("SELECT name, document FROM inline_policies WHERE principal_arn = $1 ORDER BY name")
                .bind(owner)
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                out.push(IdentityPolicy::Inline {
                    name: get(r, "name")?,
                    document: get(r, "document")?,
                });
            }
            let rows = sqlx::query(
                "SELECT a.policy_arn, m.document FROM policy_attachments a \
                 LEFT JOIN managed_policies m ON m.arn = a.policy_arn \
                 WHERE a.principal_arn = $1 ORDER BY a.policy_arn",
            )
            .bind(owner)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                let arn: String = get(r, "policy_arn")?;
                let document: Option<String> = get(r, "document")?;
                // A customer policy deleted meanwhile has no document: it grants nothing.
                if document.is_none() && !arn.starts_with(AWS_MANAGED_PREFIX) {
                    continue;
                }
                out.push(IdentityPolicy::Managed { arn, document });
            }
        }
        Ok(out)
    }

    /// Sets (or replaces) a user's console password hash.
    pub async fn set_console_password(&self, principal_arn: &str, password_hash: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO console_passwords (principal_arn, password_hash, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (principal_arn) DO UPDATE SET password_hash = excluded.password_hash, \
             updated_at = excluded.updated_at",
        )
        .bind(principal_arn)
        .bind(password_hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A user's console password hash, if one is set.
    pub async fn console_password(&self, principal_arn: &str) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT password_hash FROM console_passwords WHERE principal_arn = $1")
            .bind(principal_arn)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "password_hash")).transpose()
    }
}
