-- pg/0004_notify.sql - wake-ups for the processes that share this queue
-- (issue 15). Triggers notify in the transaction that makes the change, so
-- that it reaches the listeners (service/queue/notify_pg.c) when, and only
-- when, the change commits:
--   trainbound_work   tiles may be claimable: tiles were inserted (a new
--                     job, a study's cells), or a tile went back to pending
--                     (a lease expired, a release, a retry); no payload;
--   trainbound_jobs   payload ID: job ID changed (its revision moved: its
--                     state, progress, cells, result or error) or was
--                     deleted; a claim that only counts a lease (a running
--                     job's tiles_leased) says nothing.
-- Idle workers listen to the first and claim instead of polling; an API
-- server listens to both, and its event streams (SSE) move while the work
-- runs on other machines. Two channels, so that the many workers are not
-- woken by every saved tile. PostgreSQL folds identical notifications of
-- one transaction into one.
-- Applied like pg/0001_init.sql. ../0004_notify.sql is its SQLite twin,
-- which has nothing to do: one process owns a SQLite file.

CREATE FUNCTION tb_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trainbound_work', '');
    RETURN NULL;
END
$$;

CREATE FUNCTION tb_notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('trainbound_jobs', OLD.id::text);
    ELSE
        PERFORM pg_notify('trainbound_jobs', NEW.id::text);
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
    FOR EACH ROW WHEN (NEW.revision IS DISTINCT FROM OLD.revision
                       AND (NEW.tiles_leased IS NOT DISTINCT FROM OLD.tiles_leased
                            OR NEW.status IS DISTINCT FROM OLD.status))
    EXECUTE FUNCTION tb_notify_job();

CREATE TRIGGER jobs_notify_delete AFTER DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION tb_notify_job();
