-- Lifecycle policies and their previews. Keep in step with ../sqlite/0005_lifecycle.sql.

-- One policy per repository, its text kept verbatim (GetLifecyclePolicy echoes it).
CREATE TABLE lifecycle_policies (
    repository_id      BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    policy_text        TEXT NOT NULL,
    updated_at         BIGINT NOT NULL,
    last_evaluated_at  BIGINT
);

-- The latest preview of a repository, evaluated when it starts. It counts as
-- in progress until a GetLifecyclePolicyPreview has seen it (seen_at).
CREATE TABLE lifecycle_previews (
    repository_id      BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    policy_text        TEXT NOT NULL,
    reclaimable_bytes  BIGINT NOT NULL,
    started_at         BIGINT NOT NULL,
    seen_at            BIGINT
);

-- The images a preview expires, oldest first; tags as a JSON array.
CREATE TABLE lifecycle_preview_results (
    repository_id  BIGINT NOT NULL REFERENCES lifecycle_previews (repository_id) ON DELETE CASCADE,
    position       BIGINT NOT NULL,
    digest         TEXT NOT NULL,
    tags           TEXT NOT NULL,
    tagged         BIGINT NOT NULL,
    pushed_at      BIGINT NOT NULL,
    rule_priority  BIGINT NOT NULL,
    PRIMARY KEY (repository_id, position)
);
