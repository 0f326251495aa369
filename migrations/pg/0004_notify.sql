-- pg/0004_notify.sql - wake-ups for the processes that share this queue
-- (issue 15). Triggers send a notification on channel 'trainbound' in the
-- transaction that makes the change, so that it reaches the listeners
-- (service/queue/notify_pg.c) when, and only when, the change commits:
--   'work'    tiles may be claimable: tiles were inserted (a new job, a
--             study's cells), or a tile went back to pending (a lease
--             expired, a release, a retry);
--   'job:ID'  job ID changed (its revision moved: a claim, a saved tile,
--             its state, its result) or was deleted.
-- Idle workers claim on 'work' instead of polling; event streams (SSE) on
-- an API server move on 'job:ID' while the work runs on other machines.
-- PostgreSQL folds identical notifications of one transaction into one.
-- Applied like pg/0001_init.sql. ../0004_notify.sql is its SQLite twin,
-- which has nothing to do: one process owns a SQLite file.

CREATE FUNCTION tb_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trainbound', 'work');
    RETURN NULL;
END
$$;

CREATE FUNCTION tb_notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('trainbound', 'job:' || OLD.id);
    ELSE
        PERFORM pg_notify('trainbound', 'job:' || NEW.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tiles_notify_insert AFTER INSERT ON tiles
    FOR EACH STATEMENT EXECUTE FUNCTION tb_notify_work();

CREATE TRIGGER tiles_notify_pending AFTER UPDATE OF state ON tiles
    FOR EACH ROW WHEN (NEW.state = 'pending' AND OLD.state <> 'pending')
    EXECUTE FUNCTION tb_notify_work();

CREATE TRIGGER jobs_notify_change AFTER UPDATE ON jobs
    FOR EACH ROW WHEN (NEW.revision IS DISTINCT FROM OLD.revision)
    EXECUTE FUNCTION tb_notify_job();

CREATE TRIGGER jobs_notify_delete AFTER DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION tb_notify_job();
