-- The audit trail: mutating requests and denials. Keep in step with
-- ../postgres/0009_audit.sql.

-- One row per recorded request. principal_arn is 'anonymous' without
-- credentials; account_id owns the resource; status is the HTTP status and
-- error_code the wire error (NULL on success). Never a secret.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             BIGINT NOT NULL,
    principal_arn  TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    action         TEXT NOT NULL,
    operation      TEXT NOT NULL,
    resource_arn   TEXT NOT NULL,
    source_ip      TEXT,
    result         TEXT NOT NULL,
    status         BIGINT NOT NULL,
    error_code     TEXT
);
-- `stowage audit` reads newest first, by time alone or within one filter.
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_principal ON audit_log (principal_arn, at);
CREATE INDEX audit_log_action ON audit_log (action, at);
CREATE INDEX audit_log_resource ON audit_log (resource_arn, at);
CREATE INDEX audit_log_result ON audit_log (result, at);
