-- 0004_notify.sql - nothing to do on SQLite. pg/0004_notify.sql adds the
-- triggers that wake the other processes sharing a PostgreSQL queue
-- (issue 15); a SQLite file belongs to one process, whose pool and event
-- streams learn of every change directly. This file keeps the schema
-- versions of both backends numbered alike (a version means the same
-- tables on both). Applied like 0001_init.sql, with
-- `PRAGMA user_version = 4`.
SELECT 1;
