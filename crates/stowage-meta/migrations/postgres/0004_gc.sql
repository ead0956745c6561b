-- Online garbage collection and background-worker leases.
-- Keep in step with ../sqlite/0004_gc.sql.

-- Blobs that may have lost their last reference, reviewed once
-- queued_at + grace has passed. Rows are cheap to add and idempotent.
CREATE TABLE gc_reviews (
    digest     TEXT PRIMARY KEY,
    queued_at  BIGINT NOT NULL
);
CREATE INDEX gc_reviews_queued ON gc_reviews (queued_at);

-- Every blob known before online GC existed gets one review.
INSERT INTO gc_reviews (digest, queued_at) SELECT digest, created_at FROM blobs;

-- One holder at a time per background job (lifecycle runs, GC passes),
-- across all nodes sharing the database.
CREATE TABLE worker_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Stale links are found by age.
CREATE INDEX repository_blobs_created ON repository_blobs (created_at);
CREATE INDEX uploads_updated ON uploads (updated_at);
