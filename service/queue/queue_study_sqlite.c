/*
 * queue_study_sqlite.c - what the SQLite backend does its own way with the
 * study rows (queue_study.h; schema in migrations/0002_studies.sql): a
 * cell becomes done with its row, the study's count and the job's
 * revision, three statements in one BEGIN IMMEDIATE transaction. A
 * study's submit, its reads, readiness, the rows page and the CSV are the
 * SQL both backends share (queue_study_sql.c); claims, leases, tile
 * results, labels, cancel, delete and retention are the queue's own
 * (queue_sqlite.c, queue_sql.c).
 *
 * Owns: the statements in slots STORE_STUDY_OWN_BASE.. of the store's
 * cache, and sqlite_cell_finish (queue_backend_sqlite's cell_finish).
 *
 * Threads: every call runs on the thread that owns the store.
 *
 * Invariants: a cell becomes done once, with its row, while its job is
 * active.
 * Every value reaches SQL through a bound parameter.
 */
#include "store_int.h"

enum { S_CELL_DONE = STORE_STUDY_OWN_BASE, S_STUDY_DONE_INC, S_JOB_BUMP, S__END };
_Static_assert(S__END <= STORE_MAX_STMTS, "grow STORE_MAX_STMTS");

static const char *const sql_text[S__END - STORE_STUDY_OWN_BASE] = {
    [S_CELL_DONE - STORE_STUDY_OWN_BASE] =
        "UPDATE cells SET status = 'done', row_json = ?3, finished_ms = ?4 "
        "WHERE job_id = ?1 AND idx = ?2 AND status = 'pending'",
    [S_STUDY_DONE_INC - STORE_STUDY_OWN_BASE] =
        "UPDATE studies SET cells_done = cells_done + 1 WHERE job_id = ?1",
    [S_JOB_BUMP - STORE_STUDY_OWN_BASE] = "UPDATE jobs SET revision = revision + 1 WHERE id = ?1",
};

/* A statement's slot and text, for the sq_* helpers. */
#define SQL(id) (id), sql_text[(id) - STORE_STUDY_OWN_BASE]

int sqlite_cell_finish(struct store *s, int64_t job_id, int64_t idx, const char *row_json,
                       int64_t now_ms)
{
    enum job_status status;
    int ret, changed = 0;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = sq_job_state(s, job_id, &status, NULL);
    if (ret == QUEUE_OK && status != JOB_QUEUED && status != JOB_RUNNING)
        ret = QUEUE_ECONFLICT;
    if (ret == QUEUE_OK)
        ret = sq_exec(s, SQL(S_CELL_DONE),
                      SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_T(row_json), SQ_I(now_ms)), &changed);
    if (ret == QUEUE_OK && changed)
        ret = sq_exec(s, SQL(S_STUDY_DONE_INC), SQ_ARGS(SQ_I(job_id)), NULL);
    if (ret == QUEUE_OK && changed)
        ret = sq_exec(s, SQL(S_JOB_BUMP), SQ_ARGS(SQ_I(job_id)), NULL);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
    store__rollback(s);
    return ret;
}
