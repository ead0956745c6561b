-- Registry core: accounts, repositories, blobs, uploads, manifests, tags.
-- Times are epoch milliseconds. Keep in step with ../postgres/0001_registry.sql.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

CREATE TABLE server_settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

CREATE TABLE repositories (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id              TEXT NOT NULL REFERENCES accounts (id),
    name                    TEXT NOT NULL,
    created_at              BIGINT NOT NULL,
    tag_mutability          TEXT NOT NULL DEFAULT 'MUTABLE',
    tag_mutability_filters  TEXT NOT NULL DEFAULT '[]',
    scan_on_push            BIGINT NOT NULL DEFAULT 0,
    encryption_type         TEXT NOT NULL DEFAULT 'AES256',
    kms_key                 TEXT,
    UNIQUE (account_id, name)
);

CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE repository_blobs (
    repository_id  BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT NOT NULL REFERENCES blobs (digest),
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs (digest);

CREATE TABLE uploads (
    id             TEXT PRIMARY KEY,
    repository_id  BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    byte_offset    BIGINT NOT NULL,
    hash_state     BLOB NOT NULL,
    parts          BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE manifests (
    repository_id      BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest             TEXT NOT NULL,
    media_type         TEXT NOT NULL,
    artifact_type      TEXT,
    config_media_type  TEXT,
    subject_digest     TEXT,
    annotations        TEXT,
    body               BLOB NOT NULL,
    size               BIGINT NOT NULL,
    image_size         BIGINT NOT NULL,
    pushed_at          BIGINT NOT NULL,
    last_pulled_at     BIGINT,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests (repository_id, subject_digest);

CREATE TABLE manifest_blobs (
    repository_id    BIGINT NOT NULL,
    manifest_digest  TEXT NOT NULL,
    blob_digest      TEXT NOT NULL,
    PRIMARY KEY (repository_id, manifest_digest, blob_digest),
    FOREIGN KEY (repository_id, manifest_digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_blobs_blob ON manifest_blobs (blob_digest);

CREATE TABLE manifest_children (
    repository_id  BIGINT NOT NULL,
    parent_digest  TEXT NOT NULL,
    child_digest   TEXT NOT NULL,
    PRIMARY KEY (repository_id, parent_digest, child_digest),
    FOREIGN KEY (repository_id, parent_digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_children_child ON manifest_children (repository_id, child_digest);

CREATE TABLE tags (
    repository_id  BIGINT NOT NULL,
    name           TEXT NOT NULL,
    digest         TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX tags_digest ON tags (repository_id, digest);
