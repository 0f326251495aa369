/*
 * queue_study.c - the durable side of studies (queue_study.h),
 * backend-neutral: checks every call's arguments and dispatches through
 * the store's ops table (queue_backend.h); a cell's labels come from the
 * queue's one labels loader (queue_labels). The SQL is in
 * queue_study_sqlite.c.
 *
 * Owns: the frees of queue_study.h and the argument checks of a study
 * submit (every cell's points and tiles; a duplicate names an earlier cell
 * that is not a duplicate itself), and the plan of a submit that every SQL
 * backend runs inside its transaction (queue_sql.h: which cells reuse
 * stored tiles, and the job row's totals).
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
    ret = s->ops->study->enqueue(s, sub, now_ms, out, &again, &n_copied);
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

int queue__study_plan(struct store *s, const struct queue_study_submit *sub,
                      struct queue_cell_plan *plan, struct sq_job_row *r, size_t *n_reused,
                      size_t *n_copied, queue_reuse_fn find)
{
    size_t i;
    int ret;

    for (i = 0; i < sub->n_cells; i++) {
        const struct queue_cell_submit *c = &sub->cells[i];

        if (c->dup_of >= 0) {
            (*n_reused)++;
            continue;
        }
        if (sub->reuse) {
            ret = find(s, c, &plan[i]);
            if (ret != QUEUE_OK)
                return ret;
        }
        if (plan[i].src_job > 0) {
            (*n_reused)++;
            (*n_copied)++;
            r->tiles_done += plan[i].tiles;
            r->points_done += c->points;
        } else {
            plan[i].tiles =
                (int64_t)(c->points / c->tile_points + (c->points % c->tile_points != 0));
        }
        if (r->tile_points == 0)
            r->tile_points = c->tile_points;
        r->tiles += plan[i].tiles;
        r->points += c->points;
        if (r->tiles > QUEUE_MAX_TILES)
            return QUEUE_EINVAL;
    }
    r->running = r->tiles_done == r->tiles; /* nothing to claim: analyse at once */
    return QUEUE_OK;
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

int queue_study_get(struct store *s, int64_t job_id, struct study_info *out)
{
    int ret;

    memset(out, 0, sizeof *out);
    ret = s->ops->study->get(s, job_id, out);
    if (ret != QUEUE_OK)
        study_info_free(out);
    return ret;
}

int queue_is_study(struct store *s, int64_t job_id)
{
    char kind[QUEUE_KIND_MAX];
    int ret = queue_get_kind(s, job_id, kind);

    if (ret == QUEUE_ENOENT)
        return 0;
    return ret != QUEUE_OK ? ret : strcmp(kind, QUEUE_KIND_STUDY) == 0;
}

int queue_cell_get(struct store *s, int64_t job_id, int64_t idx, struct study_cell *out)
{
    int ret;

    memset(out, 0, sizeof *out);
    ret = s->ops->study->cell_get(s, job_id, idx, out);
    if (ret != QUEUE_OK)
        study_cell_free(out);
    return ret;
}

int queue_cell_tiles_left(struct store *s, int64_t job_id, int64_t idx, int64_t *left)
{
    *left = 0;
    return s->ops->study->cell_tiles_left(s, job_id, idx, left);
}

int queue_cells_ready(struct store *s, int64_t job_id, int64_t *idx, int cap, int *n)
{
    *n = 0;
    if (cap <= 0)
        return QUEUE_EINVAL;
    return s->ops->study->cells_ready(s, job_id, idx, cap, n);
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
    return s->ops->study->cell_finish(s, job_id, idx, row_json, now_ms);
}

int queue_cells_page(struct store *s, int64_t job_id, int64_t offset, int limit,
                     struct study_cell *out, int *n)
{
    *n = 0;
    if (limit <= 0 || offset < 0)
        return QUEUE_EINVAL;
    return s->ops->study->cells_page(s, job_id, offset, limit, out, n);
}

int queue_study_put_csv(struct store *s, int64_t job_id, const char *csv)
{
    if (!csv)
        return QUEUE_EINVAL;
    return s->ops->study->put_csv(s, job_id, csv);
}

int queue_study_get_csv(struct store *s, int64_t job_id, char **csv)
{
    *csv = NULL;
    return s->ops->study->get_csv(s, job_id, csv);
}
