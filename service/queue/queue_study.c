/*
 * queue_study.c - the durable side of studies (queue_study.h),
 * backend-neutral: checks the arguments of a submit and dispatches it to
 * the SQL every backend runs alike (queue_study_sql.c), a cell's finish
 * (each backend its own way) through the store's ops table
 * (queue_backend.h); a cell's labels come from the queue's one labels
 * loader (queue_labels). The reads of study rows, the rows page and the
 * CSV of queue_study.h are queue_study_sql.c's own.
 *
 * Owns: the frees of queue_study.h and the argument checks of a study
 * submit (every cell's points and tiles; a duplicate names an earlier cell
 * that is not a duplicate itself).
 *
 * Threads: every call runs on the thread that owns the store (the loop
 * thread for submits and reads, a pool thread for the analysis calls).
 */
#include "queue_study.h"

#include <stdlib.h>
#include <string.h>

#include "queue_backend.h"
#include "queue_sql.h"

/* ---- submit ------------------------------------------------------------- */

/* 1 when cell i of sub can be submitted. */
static int cell_valid(const struct queue_study_submit *sub, size_t i)
{
    const struct queue_cell_submit *c = &sub->cells[i];

    return c->spec_json && c->reuse_key && c->points > 0 && c->points <= (uint64_t)INT64_MAX &&
           c->tile_points > 0 && c->tile_points % 64 == 0 &&
           c->tile_points <= (uint64_t)INT64_MAX && c->dup_of < (int64_t)i &&
           (c->dup_of < 0 || sub->cells[c->dup_of].dup_of < 0);
}

int queue_enqueue_study(struct store *s, const struct queue_study_submit *sub, int64_t now_ms,
                        struct job *out, int *replayed, size_t *copied)
{
    size_t i, n_copied = 0;
    int ret, again = 0;

    if (out)
        memset(out, 0, sizeof *out);
    if (replayed)
        *replayed = 0;
    if (copied)
        *copied = 0;
    if (!s || !sub || !sub->spec_json || !sub->source_json || !sub->axes_json ||
        sub->n_cells == 0 || !sub->cells || sub->n_cells > (size_t)INT32_MAX)
        return QUEUE_EINVAL;
    for (i = 0; i < sub->n_cells; i++)
        if (!cell_valid(sub, i))
            return QUEUE_EINVAL;
    ret = sq_study_enqueue(s, sub, now_ms, out, &again, &n_copied);
    if (ret != QUEUE_OK) {
        if (out)
            job_free(out);
        return ret;
    }
    if (replayed)
        *replayed = again;
    if (copied)
        *copied = n_copied;
    return ret;
}

/* ---- reads -------------------------------------------------------------- */

void study_info_free(struct study_info *i)
{
    if (i)
        queue__free_fields(i, sizeof *i, (char *const[]){i->source_json, i->axes_json}, 2);
}

void study_cell_free(struct study_cell *c)
{
    if (c)
        queue__free_fields(c, sizeof *c, (char *const[]){c->spec_json, c->row_json}, 2);
}

int queue_is_study(struct store *s, int64_t job_id)
{
    char kind[QUEUE_KIND_MAX];
    int ret = queue_get_kind(s, job_id, kind);

    if (ret == QUEUE_ENOENT)
        return 0;
    return ret != QUEUE_OK ? ret : strcmp(kind, QUEUE_KIND_STUDY) == 0;
}

int queue_cell_labels(struct store *s, int64_t job_id, int64_t idx, uint64_t *bits)
{
    if (idx < 0)
        return QUEUE_ENOENT;
    return queue_labels(s, job_id, idx, 0, 0, bits);
}

/* ---- writes ------------------------------------------------------------- */

int queue_cell_finish(struct store *s, int64_t job_id, int64_t idx, const char *row_json,
                      int64_t now_ms)
{
    if (!row_json)
        return QUEUE_EINVAL;
    return s->ops->cell_finish(s, job_id, idx, row_json, now_ms);
}

