//! Cryptographic operations: Encrypt, Decrypt, GenerateDataKey (blobs are base64 on the wire).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{KmsCtx, error, kms_error};
use crate::ecr::{EcrError, parse};
use crate::services::kms as svc;

const ALGORITHM: &str = "SYMMETRIC_DEFAULT";

fn blob(field: &str, text: &str) -> Result<Vec<u8>, EcrError> {
    STANDARD
        .decode(text)
        .map_err(|_| EcrError::new("SerializationException", format!("{field} is not valid base64")))
}

fn algorithm(requested: Option<&str>) -> Result<(), EcrError> {
    match requested {
        None | Some(ALGORITHM) => Ok(()),
        Some(other) => Err(EcrError::new(
            "InvalidKeyUsageException",
            format!("{other} is not valid for this key: its only encryption algorithm is {ALGORITHM}"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptRequest {
    key_id: String,
    plaintext: String,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
    encryption_algorithm: Option<String>,
}

/// `Encrypt`: at most 4096 bytes under an enabled key, bound to the encryption context.
pub async fn encrypt(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: EncryptRequest = parse(input)?;
    algorithm(req.encryption_algorithm.as_deref())?;
    let plaintext = zeroize::Zeroizing::new(blob("Plaintext", &req.plaintext)?);
    let key = ctx.key(&req.key_id, true).await?;
    let ciphertext = svc::encrypt(&ctx.state, &key, &plaintext, &req.encryption_context)
        .await
        .map_err(kms_error)?;
    Ok(json!({
        "CiphertextBlob": STANDARD.encode(ciphertext),
        "KeyId": key.arn,
        "EncryptionAlgorithm": ALGORITHM,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptRequest {
    ciphertext_blob: String,
    key_id: Option<String>,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
    encryption_algorithm: Option<String>,
}

/// `Decrypt`: the blob names its key; `KeyId`, when given, must be that key.
pub async fn decrypt(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: DecryptRequest = parse(input)?;
    algorithm(req.encryption_algorithm.as_deref())?;
    let ciphertext = blob("CiphertextBlob", &req.ciphertext_blob)?;
    let key = match &req.key_id {
        Some(reference) => ctx.key(reference, true).await?,
        None => {
            let key_id = svc::ciphertext_key_id(&ciphertext).map_err(kms_error)?;
            ctx.key(key_id, false).await?
        }
    };
    let plaintext = zeroize::Zeroizing::new(
        svc::decrypt(&ctx.state, &key, &ciphertext, &req.encryption_context)
            .await
            .map_err(kms_error)?,
    );
    Ok(json!({
        "KeyId": key.arn,
        "Plaintext": STANDARD.encode(&*plaintext),
        "EncryptionAlgorithm": ALGORITHM,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKeyRequest {
    key_id: String,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
}

/// `GenerateDataKey` (and `…WithoutPlaintext`): `KeySpec` AES_256 / AES_128 or 1–1024 `NumberOfBytes`.
pub async fn generate_data_key(ctx: &KmsCtx, input: Value, with_plaintext: bool) -> Result<Value, EcrError> {
    let req: GenerateDataKeyRequest = parse(input)?;
    let bytes = match (req.key_spec.as_deref(), req.number_of_bytes) {
        (Some(_), Some(_)) => {
            return Err(error::validation(
                "Please specify either number of bytes or key spec, not both",
            ));
        }
        (None, None) => return Err(error::validation("Please specify either number of bytes or key spec")),
        (Some("AES_256"), None) => 32,
        (Some("AES_128"), None) => 16,
        (Some(other), None) => {
            return Err(error::validation(format!(
                "1 validation error detected: Value '{other}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
            )));
        }
        (None, Some(n)) if (1..=1024).contains(&n) => n as usize,
        (None, Some(n)) => {
            return Err(error::validation(format!(
                "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
            )));
        }
    };
    let key = ctx.key(&req.key_id, true).await?;
    let (plaintext, ciphertext) = svc::generate_data_key(&ctx.state, &key, bytes, &req.encryption_context)
        .await
        .map_err(kms_error)?;
    let plaintext = zeroize::Zeroizing::new(plaintext);
    let mut out = json!({
        "CiphertextBlob": STANDARD.encode(ciphertext),
        "KeyId": key.arn,
    });
    if with_plaintext {
        out["Plaintext"] = STANDARD.encode(&*plaintext).into();
    }
    Ok(out)
}
