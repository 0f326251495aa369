/*
 * queue_sql.h - what the SQL backends share that is not SQL (included by
 * the SQLite backend's store_int.h and the PostgreSQL backend's
 * store_pg.h, and by the neutral queue.c / queue_study.c that implement
 * it): the bound-argument form of a statement's values, the statement
 * slots, a new jobs row, the numbering of embedded migrations, and the
 * plan of a study submit (which cells reuse stored tiles, and the job row's
 * totals).
 *
 * Threads: like a `struct store`, whoever owns the store owns these calls;
 * the plan is pure.
 */
#ifndef TB_QUEUE_SQL_H
#define TB_QUEUE_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "queue_study.h"

/* Slots of a backend's statement cache (STORE_MAX_STMTS in all): the
 * queue's statements below STORE_STUDY_STMT_BASE, the study rows' from it
 * up. */
#define STORE_STUDY_STMT_BASE 64

/*
 * Bound arguments: a statement's ?1, ?2, ... ($1, $2, ... on PostgreSQL)
 * in order, written SQ_ARGS(SQ_I(job_id), SQ_T(name), ...). SQ_I: an
 * integer (converted to int64_t; a 64-bit integer on PostgreSQL); SQ_T:
 * text, NULL binds SQL NULL; SQ_B: a blob (ptr, bytes); SQ_OPT: an integer,
 * or SQL NULL (of an integer column) when it is negative (a cell -1). Text
 * and blobs are bound without a copy: they must outlive the statement.
 */
struct sq_arg {
    int type; /* SQ_INT, SQ_TEXT, SQ_BLOB, SQ_NULL (an integer's NULL) */
    int64_t i;
    const void *p;
    size_t len;
};
enum { SQ_NULL, SQ_INT, SQ_TEXT, SQ_BLOB };
/* clang-format off */
#define SQ_I(v) {SQ_INT, (int64_t)(v), NULL, 0}
#define SQ_T(v) {SQ_TEXT, 0, (v), 0}
#define SQ_B(v, n) {SQ_BLOB, 0, (v), (n)}
#define SQ_OPT(v) {(v) >= 0 ? SQ_INT : SQ_NULL, (int64_t)(v), NULL, 0}
/* clang-format on */
#define SQ_ARGS(...)                                                                               \
    (const struct sq_arg[]){__VA_ARGS__},                                                          \
        sizeof((const struct sq_arg[]){__VA_ARGS__}) / sizeof(struct sq_arg)
#define SQ_NOARGS NULL, 0

/* A row reader's "enough rows, no error" (0 goes on, a QUEUE_E* code
 * stops with it). */
#define SQ_STOP 1

/* A new jobs row. */
struct sq_job_row {
    const char *kind, *name, *spec_json;
    const char *idem_key, *request_hash; /* request_hash is stored only with a key */
    int running;                         /* 1: starts running (nothing to claim) */
    uint64_t points, points_done, tile_points;
    int64_t tiles, tiles_done;
};

/* The N of "migrations/NNNN_name.sql" (any folder), or -1 when the name
 * has no number. */
int queue__migration_number(const char *name);
/* 0 when names[0..n) are numbered 1..n in order, else QUEUE_ESCHEMA (a
 * gap or a bad name: a broken build). files is an embed_file array. */
struct embed_file;
int queue__migrations_check(const struct embed_file *files, size_t n);

/* ---- the plan of a study submit (queue_study.c) ----------------------- */

/* Where a cell's tiles come from. */
struct queue_cell_plan {
    int64_t src_job; /* 0: new tiles */
    int64_t src_first, tiles;
};

/* A backend's lookup of stored labels for cell c: sets p->src_job (0 when
 * none), p->src_first and p->tiles; 0 or a QUEUE_E* code. */
typedef int (*queue_reuse_fn)(struct store *s, const struct queue_cell_submit *c,
                              struct queue_cell_plan *p);

/* Plans every cell of sub into plan[0..n_cells) (zeroed by the caller):
 * with sub->reuse, asks find for stored labels of each cell that is not a
 * duplicate; sums up the job row r (tiles, points, what is done already,
 * running when nothing is left to claim) and counts the reused and the
 * copied cells. QUEUE_EINVAL past QUEUE_MAX_TILES. */
int queue__study_plan(struct store *s, const struct queue_study_submit *sub,
                      struct queue_cell_plan *plan, struct sq_job_row *r, size_t *n_reused,
                      size_t *n_copied, queue_reuse_fn find);

#endif /* TB_QUEUE_SQL_H */
