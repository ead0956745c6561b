-- The vulnerability database: OSV advisories imported with `stowage vulndb
-- import`, by source (the ecosystem they were published for: PyPI, Debian, …).
-- Keep in step with the other engine's 0013_vulndb.sql.

-- updated_at: the newest `modified` among the source's advisories (epoch ms),
-- what scans report as vulnerabilitySourceUpdatedAt; imported_at: the last
-- import that changed it.
CREATE TABLE vuln_sources (
    name        TEXT COLLATE "C" PRIMARY KEY,
    advisories  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    imported_at BIGINT NOT NULL
);

-- One OSV record. modified: as published (RFC 3339); modified_ms: the same in
-- epoch ms; body: the record as JSON.
CREATE TABLE advisories (
    id          TEXT COLLATE "C" PRIMARY KEY,
    source      TEXT NOT NULL,
    modified    TEXT NOT NULL,
    modified_ms BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX advisories_by_source ON advisories (source);

-- The packages an advisory names, as matched: the ecosystem without its
-- release (`Debian`, `PyPI`) and the name as compared (PyPI's normalized).
CREATE TABLE advisory_packages (
    ecosystem   TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    advisory_id TEXT COLLATE "C" NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    PRIMARY KEY (ecosystem, name, advisory_id)
);
