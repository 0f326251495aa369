-- pg/0002_studies.sql - studies (issue 4) on PostgreSQL: ../0002_studies.sql
-- in PostgreSQL's types (see there for what every column means). Applied
-- like pg/0001_init.sql.

ALTER TABLE tiles ADD COLUMN cell bigint;

CREATE TABLE studies (
    job_id        bigint  PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    source_json   text    NOT NULL,
    axes_json     text    NOT NULL,
    cells_total   bigint  NOT NULL CHECK (cells_total > 0),
    cells_done    bigint  NOT NULL DEFAULT 0,
    cells_reused  bigint  NOT NULL DEFAULT 0,
    csv           text,
    CHECK (cells_done <= cells_total AND cells_reused <= cells_total)
);

CREATE TABLE cells (
    job_id       bigint  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx          bigint  NOT NULL CHECK (idx >= 0),
    spec_json    text    NOT NULL,
    spec_hash    text    NOT NULL,
    points       bigint  NOT NULL CHECK (points > 0),
    tile_first   bigint  NOT NULL DEFAULT 0,
    tiles        bigint  NOT NULL DEFAULT 0 CHECK (tiles >= 0),
    dup_of       bigint,
    reused_from  bigint,
    reused       bigint  NOT NULL DEFAULT 0 CHECK (reused IN (0, 1)),
    status       text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    row_json     text,
    finished_ms  bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx),
    CHECK ((status = 'done') = (row_json IS NOT NULL)),
    CHECK ((dup_of IS NULL) = (tiles > 0))
);

CREATE INDEX cells_reuse ON cells (spec_hash) WHERE status = 'done' AND tiles > 0;
-- A btree over whole specs: specs are small (the API caps a body), far
-- below PostgreSQL's ~2.7 kB index-row limit only if they stay so; hash
-- them instead, which is all the equality lookup needs.
CREATE INDEX jobs_succeeded_spec ON jobs USING hash (spec_json) WHERE status = 'succeeded';
