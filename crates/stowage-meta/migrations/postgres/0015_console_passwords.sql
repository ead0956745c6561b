-- Console passwords (`stowage iam set-console-password USER`): an Argon2id PHC
-- string per IAM user; deleted with the user. Keep in step with the other
-- engine's 0015_console_passwords.sql.
CREATE TABLE console_passwords (
    principal_arn  TEXT PRIMARY KEY REFERENCES principals (arn) ON DELETE CASCADE,
    password_hash  TEXT NOT NULL,
    updated_at     BIGINT NOT NULL
);
