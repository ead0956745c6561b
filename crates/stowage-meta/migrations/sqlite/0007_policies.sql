-- Repository policies and registry policies (resource policies, stored verbatim).
-- Keep in step with ../postgres/0007_policies.sql.

CREATE TABLE repository_policies (
    repository_id  BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    policy_text    TEXT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE registry_policies (
    account_id   TEXT PRIMARY KEY REFERENCES accounts (id),
    policy_text  TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);
