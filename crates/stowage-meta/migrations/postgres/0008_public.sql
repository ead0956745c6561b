-- ECR Public: public repositories are a namespace of their own beside the private
-- ones (the same tables, `public` = 1), so a public and a private repository of one
-- account may share a name; their catalog data is kept verbatim.
-- Keep in step with ../sqlite/0008_public.sql.

ALTER TABLE repositories ADD COLUMN public BIGINT NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN catalog_data TEXT;
ALTER TABLE repositories DROP CONSTRAINT repositories_account_id_name_key;
ALTER TABLE repositories ADD CONSTRAINT repositories_account_id_public_name_key UNIQUE (account_id, public, name);

-- The public registry's catalog data (PutRegistryCatalogData).
CREATE TABLE public_registry_catalog (
    account_id    TEXT PRIMARY KEY REFERENCES accounts (id),
    display_name  TEXT NOT NULL,
    updated_at    BIGINT NOT NULL
);
