-- 0001_init.sql - the job queue: jobs, their tiles, the log of every tile
-- lease (attempt), and results.
--
-- Applied by service/store.c inside one BEGIN IMMEDIATE transaction together
-- with `PRAGMA user_version = 1`, so it must not contain BEGIN/COMMIT or any
-- statement that cannot run inside a transaction (journal_mode, vacuum).
-- Never edit a migration that has shipped: add 0002_*.sql instead.
--
-- Conventions: every table is STRICT. Times are milliseconds since the Unix
-- epoch, 0 when not yet. Grid points and counts are non-negative and fit in
-- INTEGER (at most 2^32 + 1 points per job).

-- A sweep job. status is one of the five states of the lifecycle;
-- `revision` bumps on every change of the row (the API's weak ETag);
-- `tiles_leased` counts leases granted so far and orders the fair claim.
-- AUTOINCREMENT: an id is never reused after a delete or a prune, so a
-- stale Location or cursor can never point at somebody else's job.
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    status        TEXT    NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    name          TEXT,
    spec_json     TEXT    NOT NULL,
    points_total  INTEGER NOT NULL CHECK (points_total > 0),
    points_done   INTEGER NOT NULL DEFAULT 0,
    tile_points   INTEGER NOT NULL CHECK (tile_points > 0 AND tile_points % 64 = 0),
    tiles_total   INTEGER NOT NULL CHECK (tiles_total > 0),
    tiles_done    INTEGER NOT NULL DEFAULT 0,
    tiles_leased  INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL,
    started_ms    INTEGER NOT NULL DEFAULT 0,
    finished_ms   INTEGER NOT NULL DEFAULT 0,
    revision      INTEGER NOT NULL DEFAULT 1,
    error         TEXT,
    summary_json  TEXT,
    idem_key      TEXT,
    request_hash  TEXT,
    CHECK (points_done <= points_total AND tiles_done <= tiles_total)
) STRICT;

-- Listing newest first with a status filter, and the per-state counts.
CREATE INDEX jobs_status_id ON jobs (status, id);
-- Retention: finished jobs by age.
CREATE INDEX jobs_status_finished ON jobs (status, finished_ms);
-- The fair claim: runnable jobs in (tiles leased so far, id) order.
CREATE INDEX jobs_claim ON jobs (tiles_leased, id) WHERE status IN ('queued', 'running');
-- An Idempotency-Key names at most one job.
CREATE UNIQUE INDEX jobs_idem_key ON jobs (idem_key) WHERE idem_key IS NOT NULL;

-- A tile: points [begin_pt, begin_pt + count) of the job's grid.
-- state: pending (claimable), leased (a worker holds attempt `attempt`
-- until lease_until), done (labels saved by attempt `attempt`).
-- labels: tb_label_words(count) 64-bit words, little-endian, bit i = point
-- begin_pt + i, 1 = divergent.
CREATE TABLE tiles (
    job_id       INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL CHECK (idx >= 0),
    begin_pt     INTEGER NOT NULL CHECK (begin_pt >= 0),
    count        INTEGER NOT NULL CHECK (count > 0),
    state        TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'leased', 'done')),
    attempt      INTEGER NOT NULL DEFAULT 0,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    labels       BLOB,
    divergent    INTEGER,
    lane_steps   INTEGER,
    finished_ms  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx),
    CHECK ((state = 'done') = (labels IS NOT NULL))
) STRICT;

-- The claim path: a job's lowest pending tile.
CREATE INDEX tiles_pending ON tiles (job_id, idx) WHERE state = 'pending';
-- The requeue path: leases by expiry.
CREATE INDEX tiles_leased ON tiles (lease_until) WHERE state = 'leased';

-- One row per lease ever granted, keyed by (job, tile, attempt). outcome:
-- leased (still held), done (its labels were saved), expired (requeued by
-- queue_requeue_expired, e.g. the worker died), abandoned (the job was
-- canceled or failed while it was held). A tile's labels come from exactly
-- one `done` attempt; after a crash, the tiles finished before it keep a
-- single attempt, which is how tests prove that no finished tile was
-- computed again.
CREATE TABLE tile_attempts (
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    leased_ms   INTEGER NOT NULL,
    ended_ms    INTEGER NOT NULL DEFAULT 0,
    outcome     TEXT    NOT NULL DEFAULT 'leased'
                CHECK (outcome IN ('leased', 'done', 'expired', 'abandoned')),
    PRIMARY KEY (job_id, idx, attempt)
) STRICT;

-- The result document of a succeeded job, kept out of `jobs` so listing
-- stays cheap.
CREATE TABLE results (
    job_id       INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    result_json  TEXT NOT NULL
) STRICT;
