-- Image scanning: layer indexes by digest (shared by every image that has the
-- layer), one scan per image with its inventory and findings, and the packages
-- each scanned image holds (so an advisory import finds the images to
-- re-match). Keep in step with the other engine's 0014_scans.sql.

-- body: the stowage-scan LayerIndex as JSON; format: its LayerIndex::FORMAT
-- (an index of another format is made again).
CREATE TABLE layer_indexes (
    digest      TEXT PRIMARY KEY,
    format      BIGINT NOT NULL,
    body        TEXT NOT NULL,
    indexed_at  BIGINT NOT NULL
);

-- One scan per image. scan_type: BASIC | ENHANCED; status: IN_PROGRESS |
-- COMPLETE | FAILED | UNSUPPORTED_IMAGE. requested_at: the last scan asked for
-- (scan on push or StartImageScan; the once-per-24-hours limit). A scan is due
-- when IN_PROGRESS, or COMPLETE with rematch set, and its lease (holder,
-- lease_until) has run out. inventory: the image's packages (JSON); findings:
-- the findings with their observation times (JSON); counts: by severity (JSON).
CREATE TABLE image_scans (
    repository_id      BIGINT NOT NULL,
    digest             TEXT NOT NULL,
    scan_type          TEXT NOT NULL,
    status             TEXT NOT NULL,
    description        TEXT,
    requested_at       BIGINT NOT NULL,
    completed_at       BIGINT,
    source_updated_at  BIGINT,
    inventory          TEXT,
    findings           TEXT,
    counts             TEXT,
    rematch            BIGINT NOT NULL DEFAULT 0,
    attempts           BIGINT NOT NULL DEFAULT 0,
    holder             TEXT,
    lease_until        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (repository_id, digest),
    FOREIGN KEY (repository_id, digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX image_scans_due ON image_scans (status, rematch, lease_until);

-- The packages of a scanned image as advisories name them (ecosystem without
-- release, name as matched): what an import joins with advisory_packages.
CREATE TABLE image_packages (
    repository_id  BIGINT NOT NULL,
    digest         TEXT NOT NULL,
    ecosystem      TEXT NOT NULL,
    name           TEXT NOT NULL,
    PRIMARY KEY (repository_id, digest, ecosystem, name),
    FOREIGN KEY (repository_id, digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX image_packages_by_name ON image_packages (ecosystem, name);
