/*
 * queue_study_pg.c - what the PostgreSQL backend does its own way with the
 * study rows (queue_study.h, issue 15; schema in
 * migrations/pg/0002_studies.sql): a cell becomes done with its row, the
 * study's count and the job's revision in one statement, under the job's
 * row lock. A study's submit, its reads, readiness, the rows page and the
 * CSV are the SQL both backends share (queue_study_sql.c); claims, leases,
 * tile results, labels, cancel, delete and retention are the queue's own
 * (queue_pg.c, queue_sql.c).
 *
 * Owns: the statements STORE_STUDY_OWN_BASE.. of the connection below
 * store_pg.c's top six, and pg_cell_finish (queue_backend_pg's
 * cell_finish).
 *
 * Threads: every call runs on the thread that owns the store.
 *
 * Invariants: a cell becomes done once, with its row, while its job is
 * active; the job row is locked before the cell's.
 * Every value reaches SQL through a bound parameter.
 */
#include "store_pg.h"

enum { C_CELL_DONE = STORE_STUDY_OWN_BASE, C__END };
_Static_assert(C__END <= STORE_MAX_STMTS - 6, "grow STORE_MAX_STMTS");

/* The cell's row, the study's count and the job's revision at once. */
static const char sql_cell_done[] =
    "WITH c AS (UPDATE cells SET status = 'done', row_json = $3, "
    "finished_ms = $4 WHERE job_id = $1 AND idx = $2 AND status = 'pending' "
    "RETURNING job_id), "
    "st AS (UPDATE studies SET cells_done = cells_done + 1 "
    "WHERE job_id IN (SELECT job_id FROM c)) "
    "UPDATE jobs SET revision = revision + 1 WHERE id IN (SELECT job_id FROM c)";

struct cell_done {
    int64_t job_id, idx, now_ms;
    const char *row_json; /* borrowed */
};

static int cell_finish_tx(struct store *s, void *ctx)
{
    const struct cell_done *d = ctx;
    enum job_status st;
    int ret = pq_lock_job(s, d->job_id, &st); /* the job before its cells */

    if (ret == QUEUE_OK && st != JOB_QUEUED && st != JOB_RUNNING)
        ret = QUEUE_ECONFLICT;
    if (ret == QUEUE_OK)
        ret = pq_exec(s, C_CELL_DONE, sql_cell_done,
                      SQ_ARGS(SQ_I(d->job_id), SQ_I(d->idx), SQ_T(d->row_json), SQ_I(d->now_ms)),
                      NULL);
    return ret;
}

int pg_cell_finish(struct store *s, int64_t job_id, int64_t idx, const char *row_json,
                   int64_t now_ms)
{
    struct cell_done d = {job_id, idx, now_ms, row_json};

    return pq_tx(s, cell_finish_tx, &d);
}
