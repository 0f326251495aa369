-- 0002_studies.sql - studies (issue 4): one job made of many sweeps over a
-- grid of one or two spec parameters. A study is a row of `jobs` (its
-- spec_json is the canonical study) plus a row of `studies` and one row of
-- `cells` per grid cell. Each cell is scheduled as tiles of the same job,
-- like a sweep's, so fairness, leases, heartbeats, restart-resume, cancel
-- and delete work unchanged; a tile of a study names its cell.
--
-- Applied by service/store.c inside one BEGIN IMMEDIATE transaction together
-- with `PRAGMA user_version = 2` (see 0001_init.sql). Sweeps are unchanged:
-- their tiles have cell NULL and they have no studies/cells rows.

-- The cell a tile belongs to (cells.idx of the same job); NULL for a sweep.
-- A study's tile covers points [begin_pt, begin_pt + count) of its cell's
-- grid, and its idx is unique within the job as before.
ALTER TABLE tiles ADD COLUMN cell INTEGER;

-- One per study job. source_json: the submitted study, as received (it
-- re-parses to the same cells, in the same axis order; the canonical study
-- in jobs.spec_json sorts its keys). axes_json: {"combine", "axes":
-- [{"param", "values"}]}, enough to encode a cell's row without parsing the
-- whole study again. csv: the table as CSV, stored with the result.
CREATE TABLE studies (
    job_id        INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    source_json   TEXT    NOT NULL,
    axes_json     TEXT    NOT NULL,
    cells_total   INTEGER NOT NULL CHECK (cells_total > 0),
    cells_done    INTEGER NOT NULL DEFAULT 0,
    cells_reused  INTEGER NOT NULL DEFAULT 0,
    csv           TEXT,
    CHECK (cells_done <= cells_total AND cells_reused <= cells_total)
) STRICT;

-- A cell: the base spec with the cell's values written in.
--   spec_json    the cell's canonical spec (what its tiles compute);
--   spec_hash    SHA-256 (hex) of the canonical spec without its "name":
--                the reuse key, indexed;
--   points       2^levels + 1;
--   tile_first, tiles   its tiles are idx tile_first .. tile_first+tiles-1
--                of the job; tiles = 0 for a duplicate (dup_of set);
--   dup_of       an earlier cell of this study with the same spec: its rows
--                are computed from that cell's labels, nothing is scheduled;
--   reused_from  the job whose stored tiles were copied into this cell
--                (taken from the store, not computed again), or NULL;
--   reused       1 for a duplicate or a copy (the row's "reused");
--   status       pending, or done once row_json (study_row_encode) is stored.
CREATE TABLE cells (
    job_id       INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL CHECK (idx >= 0),
    spec_json    TEXT    NOT NULL,
    spec_hash    TEXT    NOT NULL,
    points       INTEGER NOT NULL CHECK (points > 0),
    tile_first   INTEGER NOT NULL DEFAULT 0,
    tiles        INTEGER NOT NULL DEFAULT 0 CHECK (tiles >= 0),
    dup_of       INTEGER,
    reused_from  INTEGER,
    reused       INTEGER NOT NULL DEFAULT 0 CHECK (reused IN (0, 1)),
    status       TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    row_json     TEXT,
    finished_ms  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx),
    CHECK ((status = 'done') = (row_json IS NOT NULL)),
    CHECK ((dup_of IS NULL) = (tiles > 0))
) STRICT;

-- Reuse: a finished cell with its own labels, by spec hash.
CREATE INDEX cells_reuse ON cells (spec_hash) WHERE status = 'done' AND tiles > 0;
-- Reuse from sweeps: a succeeded job by its canonical spec.
CREATE INDEX jobs_succeeded_spec ON jobs (spec_json) WHERE status = 'succeeded';
