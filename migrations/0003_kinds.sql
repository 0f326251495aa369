-- 0003_kinds.sql - every job says its kind (issue 13): one queue for jobs
-- of any kind, so that a caller reads the kind from the row instead of
-- asking whether a studies row exists or parsing the spec for "vary".
--
-- Applied by service/store_sqlite.c inside one BEGIN IMMEDIATE transaction
-- together with `PRAGMA user_version = 3` (see 0001_init.sql). Upgrades in
-- place: no table is rebuilt, every existing job keeps its id, rows and
-- results, and gets its kind from what it already has.

-- The kind's name: 'sweep' (one spec, tiles without a cell), 'study' (a
-- studies row and cells, 0002), later others ('nn_map'). The list is not
-- closed by a CHECK on purpose: SQLite cannot change a column's CHECK
-- without rebuilding the table, and a new kind should need no migration
-- of `jobs` (it adds its own tables, as 0002 did). The code validates the
-- name (queue.h: 1..15 characters of [a-z0-9_]).
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'sweep'
    CHECK (length(kind) BETWEEN 1 AND 15);

-- Backfill: the jobs that have a studies row are studies.
UPDATE jobs SET kind = 'study' WHERE id IN (SELECT job_id FROM studies);
