/*
 * queue.c - the job queue of queue.h, backend-neutral: checks every call's
 * arguments, does what does not depend on the database, and dispatches
 * the rest: what every SQL backend runs with the same SQL to queue_sql.c
 * (submits, the tile scan), what each runs its own way through the
 * store's ops table (queue_backend.h: claims, saving a tile, expiry,
 * release, completion, cancel, delete). queue_heartbeat and the reads
 * and retention of queue.h (queue_get ... queue_tile_attempts) are
 * queue_sql.c's own.
 *
 * Owns: the status and outcome names, the frees of queue.h, the stored
 * form of labels (queue__labels_encode/decode), the one labels loader
 * (queue_labels: a range of a job's or of a cell's points, assembled from
 * the tiles sq_scan_tiles() gives, tiles straddling the range's ends
 * included), kind names, and the reason text of a tile that lost too many
 * leases; for the SQL backends (queue_sql.h), the numbering of embedded
 * migrations.
 *
 * Threads: every call runs on the thread that owns the store. No state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "queue_backend.h"
#include "queue_sql.h"
#include "tb.h"

/* ---- names -------------------------------------------------------------- */

static const char *const status_names[] = {"queued", "running", "succeeded", "failed", "canceled"};

const char *job_status_name(enum job_status st)
{
    if ((unsigned)st >= sizeof status_names / sizeof status_names[0])
        return "unknown";
    return status_names[st];
}

int job_status_parse(const char *name, enum job_status *out)
{
    size_t i;

    for (i = 0; name && i < sizeof status_names / sizeof status_names[0]; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (enum job_status)i;
            return QUEUE_OK;
        }
    }
    return QUEUE_ENOENT;
}

/* 1 when name is a kind name: 1..QUEUE_KIND_MAX-1 of [a-z0-9_]. */
static int kind_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    return n > 0 && n < QUEUE_KIND_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

int queue__kind_copy(char kind[QUEUE_KIND_MAX], const char *name)
{
    if (!kind_valid(name))
        return QUEUE_EIO;
    memcpy(kind, name, strlen(name) + 1);
    return QUEUE_OK;
}

int queue__migration_number(const char *name)
{
    const char *p = strrchr(name, '/');
    int v = 0, digits = 0;

    p = p ? p + 1 : name;
    for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
        v = v * 10 + (*p - '0');
    return digits > 0 && *p == '_' ? v : -1;
}

int queue__migrations_check(const struct embed_file *files, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (queue__migration_number(files[i].name) != (int)i + 1)
            return QUEUE_ESCHEMA;
    return QUEUE_OK;
}

void queue__lost_reason(char *buf, size_t cap, int64_t idx, int lost)
{
    snprintf(buf, cap, "tile %lld failed %d attempts (worker lost)", (long long)idx, lost);
}

/* ---- rows --------------------------------------------------------------- */

void queue__free_fields(void *row, size_t size, char *const *strings, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(strings[i]);
    memset(row, 0, size);
}

void job_free(struct job *j)
{
    if (j)
        queue__free_fields(j, sizeof *j,
                           (char *const[]){j->name, j->spec_json, j->error, j->summary_json}, 4);
}

void tile_claim_free(struct tile_claim *c)
{
    if (c)
        queue__free_fields(c, sizeof *c, (char *const[]){c->spec_json}, 1);
}

/* ---- enqueue ------------------------------------------------------------ */

int queue_enqueue_kind(struct store *s, const char *kind, const struct queue_submit *sub,
                       int64_t now_ms, struct job *out, int *replayed)
{
    int64_t tiles;
    int ret;

    if (out)
        memset(out, 0, sizeof *out);
    if (replayed)
        *replayed = 0;
    if (!s || !sub || !sub->spec_json || sub->points == 0 || sub->points > (uint64_t)INT64_MAX ||
        sub->tile_points == 0 || sub->tile_points % 64 != 0 ||
        sub->tile_points > (uint64_t)INT64_MAX || !kind_valid(kind))
        return QUEUE_EINVAL;
    tiles = (int64_t)(sub->points / sub->tile_points + (sub->points % sub->tile_points != 0));
    if (tiles > QUEUE_MAX_TILES)
        return QUEUE_EINVAL;
    ret = sq_enqueue(s, sub, kind, tiles, now_ms, out, replayed);
    if (ret != QUEUE_OK) {
        if (out)
            job_free(out);
        if (replayed)
            *replayed = 0;
    }
    return ret;
}

int queue_enqueue(struct store *s, const struct queue_submit *sub, int64_t now_ms, struct job *out,
                  int *replayed)
{
    return queue_enqueue_kind(s, QUEUE_KIND_SWEEP, sub, now_ms, out, replayed);
}

/* ---- claim, tiles -------------------------------------------------------- */

int queue_claim(struct store *s, int64_t now_ms, int64_t lease_ms, struct tile_claim *out)
{
    int ret;

    memset(out, 0, sizeof *out);
    ret = s->ops->claim(s, now_ms, lease_ms, out);
    if (ret != QUEUE_OK)
        tile_claim_free(out);
    return ret;
}

int queue__labels_encode(const uint64_t *labels, uint64_t count, unsigned char **out, size_t *len)
{
    uint64_t words = tb_label_words(count), i, w;
    unsigned char *b;
    int k;

    *out = NULL;
    *len = (size_t)(words * 8);
    b = malloc(*len ? *len : 1);
    if (!b)
        return QUEUE_ENOMEM;
    for (i = 0; i < words; i++) {
        w = labels[i];
        if (i == words - 1 && count % 64 != 0)
            w &= ((uint64_t)1 << (count % 64)) - 1;
        for (k = 0; k < 8; k++)
            b[i * 8 + (uint64_t)k] = (unsigned char)(w >> (8 * k));
    }
    *out = b;
    return QUEUE_OK;
}

void queue__labels_decode(const unsigned char *b, uint64_t words, uint64_t *out)
{
    uint64_t i, w;
    int k;

    for (i = 0; i < words; i++) {
        w = 0;
        for (k = 7; k >= 0; k--)
            w = (w << 8) | b[i * 8 + (uint64_t)k];
        out[i] = w;
    }
}

int queue_finish_tile(struct store *s, int64_t job_id, int64_t idx, int attempt,
                      const uint64_t *labels, uint64_t count, uint64_t divergent,
                      uint64_t lane_steps, int64_t now_ms, int *job_complete)
{
    unsigned char *blob = NULL;
    size_t len = 0;
    int ret, complete = 0;

    if (job_complete)
        *job_complete = 0;
    if (!labels || count == 0)
        return QUEUE_EINVAL;
    ret = queue__labels_encode(labels, count, &blob, &len);
    if (ret == QUEUE_OK)
        ret = s->ops->finish_tile(s, job_id, idx, attempt, blob, len, count, divergent, lane_steps,
                                  now_ms, &complete);
    free(blob);
    if (ret == QUEUE_OK && job_complete)
        *job_complete = complete;
    return ret;
}

int queue_requeue_expired(struct store *s, int64_t now_ms, int max_attempts, int *requeued)
{
    int ret, n = 0;

    if (requeued)
        *requeued = 0;
    ret = s->ops->requeue_expired(s, now_ms, max_attempts, &n);
    if (ret == QUEUE_OK && requeued)
        *requeued = n;
    return ret;
}

int queue_release(struct store *s, int64_t job_id, int64_t idx, int attempt, int64_t now_ms)
{
    return s->ops->release(s, job_id, idx, attempt, now_ms);
}

/* ---- labels ------------------------------------------------------------- */

/* One labels load in progress (queue_labels). */
struct labels_load {
    int64_t cell;         /* < 0: a job's points */
    uint64_t first, n;    /* the range; n = 0 with first = 0: all, set at the first row */
    uint64_t *bits;       /* the caller's, tb_label_words(n) words */
    int started;          /* the first row has set the range up */
    uint64_t points;      /* the job's or cell's points */
    uint64_t covered;     /* points of the range that saved tiles gave */
    uint64_t *buf, *part; /* a decoded tile, and a piece of it; cap words each */
    uint64_t cap;
};

/* Copies the part of a decoded tile [begin, begin + count) that falls in
 * [first, first + n) into bits (bit 0 = point first); the points copied. */
static uint64_t put_overlap(uint64_t *bits, uint64_t first, uint64_t n, const uint64_t *tile,
                            uint64_t begin, uint64_t count, uint64_t *scratch)
{
    uint64_t lo = begin > first ? begin : first;
    uint64_t hi = begin + count < first + n ? begin + count : first + n;

    if (lo >= hi)
        return 0;
    if (lo == begin) {
        tb_labels_put(bits, lo - first, tile, hi - lo);
        return hi - lo;
    }
    tb_labels_get(scratch, tile, lo - begin, hi - lo);
    tb_labels_put(bits, lo - first, scratch, hi - lo);
    return hi - lo;
}

static int labels_row(void *ctx, const struct queue_tile_row *r)
{
    struct labels_load *L = ctx;
    uint64_t words, *grown;

    if (!L->started) {
        L->points = r->points;
        if (L->n == 0 && L->first == 0)
            L->n = r->points;
        if (L->first > r->points || L->n > r->points - L->first)
            return QUEUE_EINVAL;
        memset(L->bits, 0, (size_t)(tb_label_words(L->n) * sizeof *L->bits));
        L->started = 1;
    }
    if (!r->has_tile)
        return QUEUE_OK; /* a job without tiles */
    if (!r->done)
        return QUEUE_OK; /* reads as 0; for a cell, the coverage check below says EIO */
    words = tb_label_words(r->count);
    if (r->count == 0 || r->begin > L->points || r->count > L->points - r->begin || !r->labels ||
        (uint64_t)r->len != words * 8)
        return QUEUE_EIO; /* a tile that does not fit: a corrupt store */
    if (r->begin + r->count <= L->first || r->begin >= L->first + L->n)
        return QUEUE_OK; /* outside the range */
    if (words > L->cap) {
        grown = realloc(L->buf, (size_t)(words * sizeof *grown));
        if (!grown)
            return QUEUE_ENOMEM;
        L->buf = grown;
        grown = realloc(L->part, (size_t)(words * sizeof *grown));
        if (!grown)
            return QUEUE_ENOMEM;
        L->part = grown;
        L->cap = words;
    }
    queue__labels_decode(r->labels, words, L->buf);
    L->covered += put_overlap(L->bits, L->first, L->n, L->buf, r->begin, r->count, L->part);
    return QUEUE_OK;
}

int queue_labels(struct store *s, int64_t job_id, int64_t cell, uint64_t first, uint64_t n,
                 uint64_t *bits)
{
    struct labels_load L;
    int ret;

    memset(&L, 0, sizeof L);
    L.cell = cell < 0 ? -1 : cell;
    L.first = first;
    L.n = n;
    L.bits = bits;
    ret = sq_scan_tiles(s, job_id, L.cell, labels_row, &L);
    if (ret == QUEUE_OK && !L.started)
        ret = QUEUE_ENOENT;
    if (ret == QUEUE_OK && L.cell >= 0 && L.covered != L.n)
        ret = QUEUE_EIO; /* a cell's saved tiles must cover the range */
    free(L.buf);
    free(L.part);
    return ret;
}

int queue_load_labels(struct store *s, int64_t job_id, uint64_t *bits)
{
    return queue_labels(s, job_id, -1, 0, 0, bits);
}

int queue_load_range(struct store *s, int64_t job_id, uint64_t first, uint64_t n, uint64_t *bits)
{
    return queue_labels(s, job_id, -1, first, n, bits);
}

/* ---- the lifecycle ------------------------------------------------------ */

int queue_complete(struct store *s, int64_t job_id, const char *result_json,
                   const char *summary_json, int64_t now_ms)
{
    if (!result_json)
        return QUEUE_EINVAL;
    return s->ops->complete(s, job_id, result_json, summary_json, now_ms);
}

/* Fails or cancels an active job; out may be NULL. */
static int stop_job(struct store *s, int64_t job_id, enum job_status to, const char *reason,
                    int64_t now_ms, struct job *out)
{
    int ret;

    if (out)
        memset(out, 0, sizeof *out);
    ret = s->ops->stop(s, job_id, to, reason, now_ms, out);
    if (ret != QUEUE_OK && out)
        job_free(out);
    return ret;
}

int queue_fail(struct store *s, int64_t job_id, const char *reason, int64_t now_ms)
{
    return stop_job(s, job_id, JOB_FAILED, reason, now_ms, NULL);
}

int queue_cancel(struct store *s, int64_t job_id, int64_t now_ms, struct job *out)
{
    return stop_job(s, job_id, JOB_CANCELED, NULL, now_ms, out);
}

int queue_delete(struct store *s, int64_t job_id)
{
    return s->ops->remove(s, job_id);
}
