-- pg/0001_init.sql - the job queue on PostgreSQL (issue 15): jobs, their
-- tiles, the log of every tile lease (attempt), and results. The same
-- tables, columns, checks and indexes as ../0001_init.sql, in PostgreSQL's
-- types, so that both backends keep the same semantics (queue_backend.h).
--
-- Applied by service/queue/store_pg.c inside one transaction together with
-- `UPDATE tb_schema SET version = 1`, under pg_advisory_lock, so several
-- processes starting at once apply it once. It must not contain
-- BEGIN/COMMIT. The numbers follow the SQLite migrations one for one: a
-- schema version means the same tables on both backends. Never edit a
-- migration that has shipped: add the next number instead.
--
-- Conventions: times are milliseconds since the Unix epoch (bigint), 0 when
-- not yet; grid points and counts are non-negative bigints.

-- A job. GENERATED ALWAYS AS IDENTITY: ids come from a sequence and are
-- never reused after a delete or a prune (SQLite's AUTOINCREMENT).
CREATE TABLE jobs (
    id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status        text    NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    name          text,
    spec_json     text    NOT NULL,
    points_total  bigint  NOT NULL CHECK (points_total > 0),
    points_done   bigint  NOT NULL DEFAULT 0,
    tile_points   bigint  NOT NULL CHECK (tile_points > 0 AND tile_points % 64 = 0),
    tiles_total   bigint  NOT NULL CHECK (tiles_total > 0),
    tiles_done    bigint  NOT NULL DEFAULT 0,
    tiles_leased  bigint  NOT NULL DEFAULT 0,
    created_ms    bigint  NOT NULL,
    started_ms    bigint  NOT NULL DEFAULT 0,
    finished_ms   bigint  NOT NULL DEFAULT 0,
    revision      bigint  NOT NULL DEFAULT 1,
    error         text,
    summary_json  text,
    idem_key      text,
    request_hash  text,
    CHECK (points_done <= points_total AND tiles_done <= tiles_total)
);

CREATE INDEX jobs_status_id ON jobs (status, id);
CREATE INDEX jobs_status_finished ON jobs (status, finished_ms);
CREATE INDEX jobs_claim ON jobs (tiles_leased, id) WHERE status IN ('queued', 'running');
CREATE UNIQUE INDEX jobs_idem_key ON jobs (idem_key) WHERE idem_key IS NOT NULL;

-- A tile: points [begin_pt, begin_pt + count) of the job's grid; labels
-- as in ../0001_init.sql (64-bit little-endian words).
CREATE TABLE tiles (
    job_id       bigint  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx          bigint  NOT NULL CHECK (idx >= 0),
    begin_pt     bigint  NOT NULL CHECK (begin_pt >= 0),
    count        bigint  NOT NULL CHECK (count > 0),
    state        text    NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'leased', 'done')),
    attempt      bigint  NOT NULL DEFAULT 0,
    lease_until  bigint  NOT NULL DEFAULT 0,
    labels       bytea,
    divergent    bigint,
    lane_steps   bigint,
    finished_ms  bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx),
    CHECK ((state = 'done') = (labels IS NOT NULL))
);

CREATE INDEX tiles_pending ON tiles (job_id, idx) WHERE state = 'pending';
CREATE INDEX tiles_leased ON tiles (lease_until) WHERE state = 'leased';

CREATE TABLE tile_attempts (
    job_id      bigint  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         bigint  NOT NULL,
    attempt     bigint  NOT NULL CHECK (attempt >= 1),
    leased_ms   bigint  NOT NULL,
    ended_ms    bigint  NOT NULL DEFAULT 0,
    outcome     text    NOT NULL DEFAULT 'leased'
                CHECK (outcome IN ('leased', 'done', 'expired', 'abandoned')),
    PRIMARY KEY (job_id, idx, attempt)
);

CREATE TABLE results (
    job_id       bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    result_json  text   NOT NULL
);
