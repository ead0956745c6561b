-- Encryption at rest. Keep in step with ../postgres/0011_encryption.sql.

-- One stored object per (key scope, digest): the same content under two keys
-- is stored twice, under one key once. The object's data key is kept wrapped
-- by its scope's key.
CREATE TABLE blob_objects (
    scope        TEXT NOT NULL,
    digest       TEXT NOT NULL REFERENCES blobs (digest),
    wrapped_key  BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, digest)
);
CREATE INDEX blob_objects_digest ON blob_objects (digest);

-- The data key an upload's staged bytes are sealed with, and its scope.
ALTER TABLE uploads ADD COLUMN scope TEXT;
ALTER TABLE uploads ADD COLUMN wrapped_key BLOB;

-- A manifest body is sealed with its own data key, kept here wrapped by the
-- repository's key (NULL: a body stored before encryption, kept as it was).
ALTER TABLE manifests ADD COLUMN body_key BLOB;
