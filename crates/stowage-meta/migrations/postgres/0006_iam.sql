-- IAM: users, groups and roles (in principals), group membership, inline and
-- customer managed policies, attachments, and AssumeRole sessions on access keys.
-- Keep in step with ../sqlite/0006_iam.sql.

-- path: the IAM path ('/' or '/a/b/'); unique_id: AIDA…/AGPA…/AROA… (NULL for
-- principals made before IAM, derived from the ARN when read); tags: a JSON array
-- of {"Key","Value"}; trust_policy: a role's AssumeRolePolicyDocument, verbatim.
ALTER TABLE principals ADD COLUMN path TEXT NOT NULL DEFAULT '/';
ALTER TABLE principals ADD COLUMN unique_id TEXT;
ALTER TABLE principals ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE principals ADD COLUMN trust_policy TEXT;
ALTER TABLE principals ADD COLUMN description TEXT;
ALTER TABLE principals ADD COLUMN max_session_duration BIGINT;
-- IAM names are unique per account and kind, ignoring case and path.
CREATE UNIQUE INDEX principals_name ON principals (account_id, kind, lower(name));

-- An AssumeRole session's key: principal_arn is the role, session_arn the
-- assumed-role ARN it acts as, session_policy the optional session policy.
ALTER TABLE access_keys ADD COLUMN session_arn TEXT;
ALTER TABLE access_keys ADD COLUMN session_policy TEXT;

CREATE TABLE group_members (
    group_arn  TEXT NOT NULL REFERENCES principals (arn) ON DELETE CASCADE,
    user_arn   TEXT NOT NULL REFERENCES principals (arn) ON DELETE CASCADE,
    PRIMARY KEY (group_arn, user_arn)
);
CREATE INDEX group_members_user ON group_members (user_arn);

-- Inline policies of users, groups and roles, verbatim.
CREATE TABLE inline_policies (
    principal_arn  TEXT NOT NULL REFERENCES principals (arn) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    document       TEXT NOT NULL,
    PRIMARY KEY (principal_arn, name)
);

-- Customer managed policies (one version each, v1).
CREATE TABLE managed_policies (
    arn          TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    name         TEXT NOT NULL,
    path         TEXT NOT NULL,
    policy_id    TEXT NOT NULL,
    description  TEXT,
    document     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX managed_policies_name ON managed_policies (account_id, lower(name));

-- Managed policies attached to users, groups and roles. policy_arn is either a
-- customer managed policy or an AWS-managed one (arn:aws:iam::aws:policy/…).
CREATE TABLE policy_attachments (
    principal_arn  TEXT NOT NULL REFERENCES principals (arn) ON DELETE CASCADE,
    policy_arn     TEXT NOT NULL,
    PRIMARY KEY (principal_arn, policy_arn)
);
CREATE INDEX policy_attachments_policy ON policy_attachments (policy_arn);

-- Before IAM every user could do everything in its account: keep it so.
INSERT INTO policy_attachments (principal_arn, policy_arn)
SELECT arn, 'arn:aws:iam::aws:policy/AdministratorAccess' FROM principals WHERE kind = 'user';
