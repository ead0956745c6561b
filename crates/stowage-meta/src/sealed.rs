//! Every value sealed with the server's master key, in one place, so a master
//! key rotation can re-seal them all in one transaction: key-material versions
//! of the key service, access-key secrets and session tokens, and the check
//! setting that proves at start which key the database is sealed with. This
//! crate never sees the keys; the caller's closure opens and re-seals.

use crate::{Meta, MetaError, get};

/// A value sealed with the master key, by where it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealedValue {
    /// `kms_key_versions.wrapped_material`.
    KmsKeyMaterial { key_id: String, version: i64 },
    /// `access_keys.secret_sealed`.
    AccessKeySecret { access_key_id: String },
    /// A server setting kept sealed (hex of the sealed bytes), e.g. the token MAC key.
    Setting { name: String },
    /// `access_keys.session_token_sealed`.
    SessionToken { access_key_id: String },
}

impl std::fmt::Display for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealedValue::KmsKeyMaterial { key_id, version } => {
                write!(f, "material version {version} of KMS key {key_id}")
            }
            SealedValue::AccessKeySecret { access_key_id } => write!(f, "the secret of access key {access_key_id}"),
            SealedValue::Setting { name } => write!(f, "server setting {name}"),
            SealedValue::SessionToken { access_key_id } => {
                write!(f, "the session token of access key {access_key_id}")
            }
        }
    }
}

/// A server setting a rotation replaces, on the condition that it still holds
/// `old`: the rotation's guard against another one running at the same time.
#[derive(Clone, Copy, Debug)]
pub struct SettingSwap<'a> {
    pub name: &'a str,
    pub old: &'a str,
    pub new: &'a str,
}

/// What a master key rotation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    pub kms_key_versions: u64,
    pub access_key_secrets: u64,
    pub session_tokens: u64,
    /// Sealed server settings.
    pub settings: u64,
}

/// Why a master key rotation changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    /// The check setting no longer held the expected value: another rotation won.
    #[error("server setting {0} changed while re-sealing: another master key rotation ran at the same time")]
    CheckChanged(String),
    /// The closure could not open a value (sealed with another key, or damaged).
    #[error("{0} does not open with the current master key")]
    DoesNotOpen(SealedValue),
    #[error(transparent)]
    Meta(#[from] MetaError),
}

impl From<sqlx::Error> for ResealError {
    fn from(e: sqlx::Error) -> Self {
        ResealError::Meta(MetaError::Db(e))
    }
}

impl Meta {
    /// Re-seals every value sealed with the master key, in one transaction:
    /// first swaps `check` (the rotation's lock: on PostgreSQL a concurrent
    /// rotation waits on that row, then finds the value changed), then passes
    /// each sealed value to `reseal`, which returns it sealed with the new key,
    /// or `None` when it does not open. The server settings named in
    /// `sealed_settings` hold hex of sealed bytes. Any failure leaves
    /// everything as it was.
    ///
    /// Rows written by other connections while this runs are not guaranteed to
    /// be seen: every server must be stopped during a rotation.
    pub async fn reseal_master_key_values<F>(
        &self,
        check: SettingSwap<'_>,
        sealed_settings: &[&str],
        mut reseal: F,
    ) -> Result<Resealed, ResealError>
    where
        F: FnMut(&SealedValue, &[u8]) -> Option<Vec<u8>>,
    {
        let mut tx = self.write_tx().await?;
        let swapped = sqlx::query("UPDATE server_settings SET value = $1 WHERE name = $2 AND value = $3")
            .bind(check.new)
            .bind(check.name)
            .bind(check.old)
            .execute(&mut *tx)
            .await?;
        if swapped.rows_affected() != 1 {
            return Err(ResealError::CheckChanged(check.name.to_string()));
        }
        let mut done = Resealed::default();
        let mut reseal = |what: SealedValue, sealed: &[u8]| reseal(&what, sealed).ok_or(ResealError::DoesNotOpen(what));

        let versions =
            sqlx::query("SELECT key_id, version, wrapped_material FROM kms_key_versions ORDER BY key_id, version")
                .fetch_all(&mut *tx)
                .await?;
        for row in &versions {
            let (key_id, version): (String, i64) = (get(row, "key_id")?, get(row, "version")?);
            let material: Vec<u8> = get(row, "wrapped_material")?;
            let what = SealedValue::KmsKeyMaterial {
                key_id: key_id.clone(),
                version,
            };
            let resealed = reseal(what, &material)?;
            sqlx::query("UPDATE kms_key_versions SET wrapped_material = $1 WHERE key_id = $2 AND version = $3")
                .bind(resealed)
                .bind(key_id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            done.kms_key_versions += 1;
        }

        let keys = sqlx::query("SELECT id, secret_sealed, session_token_sealed FROM access_keys ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        for row in &keys {
            let id: String = get(row, "id")?;
            let secret: Vec<u8> = get(row, "secret_sealed")?;
            let token: Option<Vec<u8>> = get(row, "session_token_sealed")?;
            let secret = reseal(
                SealedValue::AccessKeySecret {
                    access_key_id: id.clone(),
                },
                &secret,
            )?;
            let token = match token {
                Some(t) => Some(reseal(
                    SealedValue::SessionToken {
                        access_key_id: id.clone(),
                    },
                    &t,
                )?),
                None => None,
            };
            done.access_key_secrets += 1;
            done.session_tokens += u64::from(token.is_some());
            sqlx::query("UPDATE access_keys SET secret_sealed = $1, session_token_sealed = $2 WHERE id = $3")
                .bind(secret)
                .bind(token)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }

        for name in sealed_settings {
            let row = sqlx::query("SELECT value FROM server_settings WHERE name = $1")
                .bind(*name)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else { continue };
            let what = || SealedValue::Setting { name: name.to_string() };
            let value: String = get(&row, "value")?;
            let sealed = hex::decode(&value).map_err(|_| ResealError::DoesNotOpen(what()))?;
            let resealed = hex::encode(reseal(what(), &sealed)?);
            sqlx::query("UPDATE server_settings SET value = $1 WHERE name = $2")
                .bind(resealed)
                .bind(*name)
                .execute(&mut *tx)
                .await?;
            done.settings += 1;
        }
        tx.commit().await?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewKmsKey;

    use crate::tests::both;

    const ACCT: &str = "123456789012";
    const CHECK: &str = "check";

    /// Test "sealing": a prefix per key generation.
    fn reseal(what: &SealedValue, sealed: &[u8]) -> Option<Vec<u8>> {
        let _ = what;
        sealed.strip_prefix(b"old:").map(|plain| [b"new:", plain].concat())
    }

    async fn fixture(meta: &Meta) {
        meta.ensure_account(ACCT).await.unwrap();
        let key = NewKmsKey {
            key_id: "k".into(),
            account_id: ACCT.into(),
            arn: format!("arn:aws:kms:us-east-1:{ACCT}:key/k"),
            description: String::new(),
            aws_managed: false,
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            origin: "AWS_KMS".into(),
            rotation_enabled: false,
            rotation_period_days: None,
            next_rotation_at: None,
            tags: vec![],
        };
        meta.create_kms_key(&key, b"old:m1").await.unwrap();
        meta.add_kms_key_version("k", b"old:m2", "ON_DEMAND", None)
            .await
            .unwrap();
        let user = format!("arn:aws:iam::{ACCT}:user/u");
        meta.ensure_principal(ACCT, &user, "user", "u").await.unwrap();
        meta.insert_access_key("AKIA1", &user, b"old:s1", None, None)
            .await
            .unwrap();
        meta.insert_access_key("ASIA2", &user, b"old:s2", Some(b"old:t2"), Some(i64::MAX))
            .await
            .unwrap();
        meta.set_setting(CHECK, "c-old").await.unwrap();
        meta.set_setting("sealed_setting", &hex::encode(b"old:x"))
            .await
            .unwrap();
    }

    const SWAP: SettingSwap<'static> = SettingSwap {
        name: CHECK,
        old: "c-old",
        new: "c-new",
    };

    both!(every_sealed_value_is_resealed_with_the_check, |meta: Meta| async move {
        fixture(&meta).await;
        let mut seen = Vec::new();
        let done = meta
            .reseal_master_key_values(SWAP, &["sealed_setting", "never_set"], |what, sealed| {
                seen.push(what.clone());
                reseal(what, sealed)
            })
            .await
            .unwrap();
        assert_eq!(
            done,
            Resealed {
                kms_key_versions: 2,
                access_key_secrets: 2,
                session_tokens: 1,
                settings: 1,
            }
        );
        assert_eq!(seen.len(), 6, "{seen:?}");
        let setting = meta.setting("sealed_setting").await.unwrap().unwrap();
        assert_eq!(hex::decode(setting).unwrap(), b"new:x");
        assert_eq!(meta.setting(CHECK).await.unwrap().as_deref(), Some("c-new"));
        for (v, want) in [(1, b"new:m1"), (2, b"new:m2")] {
            assert_eq!(
                meta.kms_key_version("k", v).await.unwrap().unwrap().wrapped_material,
                want
            );
        }
        let k1 = meta.access_key("AKIA1").await.unwrap().unwrap();
        assert_eq!((k1.secret_sealed, k1.session_token_sealed), (b"new:s1".to_vec(), None));
        let k2 = meta.access_key("ASIA2").await.unwrap().unwrap();
        assert_eq!(
            (k2.secret_sealed, k2.session_token_sealed),
            (b"new:s2".to_vec(), Some(b"new:t2".to_vec()))
        );

        // The check moved on: the same rotation again changes nothing.
        let again = meta.reseal_master_key_values(SWAP, &[], reseal).await;
        assert!(matches!(again, Err(ResealError::CheckChanged(_))), "{again:?}");
        assert_eq!(
            meta.kms_key_version("k", 1).await.unwrap().unwrap().wrapped_material,
            b"new:m1"
        );
    });

    both!(a_value_that_does_not_open_changes_nothing, |meta: Meta| async move {
        fixture(&meta).await;
        meta.reseal_kms_key_version("k", 2, b"damaged").await.unwrap();
        let err = meta.reseal_master_key_values(SWAP, &[], reseal).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "material version 2 of KMS key k does not open with the current master key"
        );
        assert_eq!(meta.setting(CHECK).await.unwrap().as_deref(), Some("c-old"));
        assert_eq!(
            meta.kms_key_version("k", 1).await.unwrap().unwrap().wrapped_material,
            b"old:m1"
        );
        let k1 = meta.access_key("AKIA1").await.unwrap().unwrap();
        assert_eq!(k1.secret_sealed, b"old:s1");
    });
}
