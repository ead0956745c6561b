-- no-transaction
-- ECR Public: public repositories are a namespace of their own beside the private
-- ones (the same tables, `public` = 1), so a public and a private repository of one
-- account may share a name; their catalog data is kept verbatim. SQLite cannot drop
-- the UNIQUE (account_id, name) of 0001, so the table is rebuilt, with foreign keys
-- off (settable only outside a transaction, hence no-transaction) so dropping the old
-- table cascades nothing; the tables that reference it keep doing so by name.
-- Keep in step with ../postgres/0008_public.sql.

PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE repositories_0008 (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id              TEXT NOT NULL REFERENCES accounts (id),
    name                    TEXT NOT NULL,
    created_at              BIGINT NOT NULL,
    tag_mutability          TEXT NOT NULL DEFAULT 'MUTABLE',
    tag_mutability_filters  TEXT NOT NULL DEFAULT '[]',
    scan_on_push            BIGINT NOT NULL DEFAULT 0,
    encryption_type         TEXT NOT NULL DEFAULT 'AES256',
    kms_key                 TEXT,
    public                  BIGINT NOT NULL DEFAULT 0,
    catalog_data            TEXT,
    UNIQUE (account_id, public, name)
);
INSERT INTO repositories_0008 (id, account_id, name, created_at, tag_mutability,
                               tag_mutability_filters, scan_on_push, encryption_type, kms_key)
    SELECT id, account_id, name, created_at, tag_mutability,
           tag_mutability_filters, scan_on_push, encryption_type, kms_key
    FROM repositories;
-- Keep AUTOINCREMENT's high-water mark: ids of deleted repositories are never reused.
DELETE FROM sqlite_sequence WHERE name = 'repositories_0008';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'repositories_0008', seq FROM sqlite_sequence WHERE name = 'repositories';
DROP TABLE repositories;
ALTER TABLE repositories_0008 RENAME TO repositories;

-- The public registry's catalog data (PutRegistryCatalogData).
CREATE TABLE public_registry_catalog (
    account_id    TEXT PRIMARY KEY REFERENCES accounts (id),
    display_name  TEXT NOT NULL,
    updated_at    BIGINT NOT NULL
);

COMMIT;
PRAGMA foreign_keys = ON;
