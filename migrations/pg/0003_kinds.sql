-- pg/0003_kinds.sql - every job says its kind (issue 13), on PostgreSQL:
-- ../0003_kinds.sql in PostgreSQL's types. Applied like pg/0001_init.sql.

ALTER TABLE jobs ADD COLUMN kind text NOT NULL DEFAULT 'sweep'
    CHECK (length(kind) BETWEEN 1 AND 15);

UPDATE jobs SET kind = 'study' WHERE id IN (SELECT job_id FROM studies);
