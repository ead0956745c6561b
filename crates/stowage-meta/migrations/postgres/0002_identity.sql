-- Identities and access keys, repository resource tags, account settings,
-- image pull times. Keep in step with ../sqlite/0002_identity.sql.

CREATE TABLE principals (
    arn         TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- secret_sealed: the secret access key sealed with the server's master key
-- (SigV4 needs the secret itself, so it cannot be a one-way hash).
-- session_token_sealed: the session token of temporary (ASIA…) keys, sealed likewise.
CREATE TABLE access_keys (
    id                  TEXT PRIMARY KEY,
    principal_arn       TEXT NOT NULL REFERENCES principals (arn) ON DELETE CASCADE,
    secret_sealed       BYTEA NOT NULL,
    session_token_sealed BYTEA,
    expires_at          BIGINT,
    status              TEXT NOT NULL DEFAULT 'Active',
    created_at          BIGINT NOT NULL
);
CREATE INDEX access_keys_principal ON access_keys (principal_arn);

CREATE TABLE repository_tags (
    repository_id  BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    tag_key        TEXT NOT NULL,
    tag_value      TEXT NOT NULL,
    PRIMARY KEY (repository_id, tag_key)
);

CREATE TABLE account_settings (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);

-- Size of the last part received through UploadLayerPart (parts but the last must be >= 5 MiB).
ALTER TABLE uploads ADD COLUMN last_part_size BIGINT;
