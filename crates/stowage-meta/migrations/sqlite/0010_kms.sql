-- The built-in key service (AWS KMS): keys, their key-material versions and
-- aliases; and the key each repository's data keys are wrapped under.
-- Keep in step with ../postgres/0010_kms.sql.

-- key_id: a UUID, or 'registry' for the hidden key of AES256 repositories
-- (account_id '' and never listed). key_state: Enabled | Disabled |
-- PendingDeletion | Destroyed (deleted after its waiting period: the row stays
-- so the registry can say why data under it is gone; its material does not).
-- key_manager: CUSTOMER | AWS. Times are epoch milliseconds. current_version:
-- the newest key-material version, which new data keys are wrapped under.
-- tags: a JSON array of {"TagKey","TagValue"}.
CREATE TABLE kms_keys (
    key_id                TEXT PRIMARY KEY,
    account_id            TEXT NOT NULL,
    arn                   TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    key_state             TEXT NOT NULL,
    key_manager           TEXT NOT NULL,
    key_usage             TEXT NOT NULL DEFAULT 'ENCRYPT_DECRYPT',
    key_spec              TEXT NOT NULL DEFAULT 'SYMMETRIC_DEFAULT',
    origin                TEXT NOT NULL DEFAULT 'AWS_KMS',
    created_at            BIGINT NOT NULL,
    deletion_date         BIGINT,
    rotation_enabled      BIGINT NOT NULL DEFAULT 0,
    rotation_period_days  BIGINT,
    next_rotation_at      BIGINT,
    current_version       BIGINT NOT NULL DEFAULT 1,
    tags                  TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX kms_keys_account ON kms_keys (account_id, key_id);
CREATE INDEX kms_keys_deletion ON kms_keys (key_state, deletion_date);

-- One row per key-material version: 32 random bytes sealed by the server's
-- master key (never in clear). rotation_type: NULL for the first version,
-- AUTOMATIC or ON_DEMAND for the versions rotations made.
CREATE TABLE kms_key_versions (
    key_id            TEXT NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
    version           BIGINT NOT NULL,
    wrapped_material  BLOB NOT NULL,
    created_at        BIGINT NOT NULL,
    rotation_type     TEXT,
    PRIMARY KEY (key_id, version)
);

-- alias_name includes its 'alias/' prefix.
CREATE TABLE kms_aliases (
    account_id  TEXT NOT NULL,
    alias_name  TEXT NOT NULL,
    key_id      TEXT NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, alias_name)
);
CREATE INDEX kms_aliases_key ON kms_aliases (key_id);

-- The key a repository's data keys are wrapped under ('registry' for AES256).
ALTER TABLE repositories ADD COLUMN key_id TEXT NOT NULL DEFAULT 'registry';
