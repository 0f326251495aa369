/*
 * retention.c - the pruning timer of retention.h.
 *
 * Owns: struct retention and its uv_timer_t (freed in the close callback).
 * Threads: loop thread only.
 */
#include "retention.h"

#include <jansson.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "queue.h"
#include "xalloc.h"

struct retention {
    uv_timer_t timer;
    struct store *store;  /* borrowed: the loop's connection */
    int64_t succeeded_ms; /* TTLs in ms; 0 = keep */
    int64_t failed_ms;
};

int retention_run(struct retention *r)
{
    int64_t now = clock_now_ms();
    int64_t s_before = r->succeeded_ms > 0 ? now - r->succeeded_ms : 0;
    int64_t f_before = r->failed_ms > 0 ? now - r->failed_ms : 0;
    int total = 0, deleted = 0, batches = 0, rc = QUEUE_OK;

    /* A cutoff at or below 0 means "keep" to queue_prune: a TTL longer
     * than the epoch simply prunes nothing yet. */
    if (s_before <= 0 && f_before <= 0)
        return 0;
    do {
        rc = queue_prune(r->store, s_before > 0 ? s_before : 0, f_before > 0 ? f_before : 0,
                         RETENTION_BATCH, &deleted);
        if (rc != QUEUE_OK)
            break;
        total += deleted;
    } while (deleted == RETENTION_BATCH && ++batches < RETENTION_MAX_BATCHES);
    if (rc != QUEUE_OK) {
        log_event(LOG_WARN, "prune_error", "s:s, s:i", "error", queue_strerror(rc), "deleted",
                  total);
        return rc;
    }
    if (total > 0)
        log_event(LOG_INFO, "pruned", "s:i, s:I, s:I", "jobs", total, "succeeded_ttl_s",
                  (json_int_t)(r->succeeded_ms / 1000), "failed_ttl_s",
                  (json_int_t)(r->failed_ms / 1000));
    return total;
}

static void on_tick(uv_timer_t *t)
{
    retention_run(t->data);
}

int retention_start(uv_loop_t *loop, struct store *store, int64_t succeeded_s, int64_t failed_s,
                    struct retention **out)
{
    struct retention *r;
    int64_t smallest, tick_ms;
    int rc;

    *out = NULL;
    if (succeeded_s <= 0 && failed_s <= 0)
        return 0;
    smallest = succeeded_s <= 0         ? failed_s
               : failed_s <= 0          ? succeeded_s
               : succeeded_s < failed_s ? succeeded_s
                                        : failed_s;
    tick_ms = smallest * 1000 / 2;
    if (tick_ms < 1000)
        tick_ms = 1000;
    if (tick_ms > 60000)
        tick_ms = 60000;
    r = xcalloc(1, sizeof *r);
    r->store = store;
    r->succeeded_ms = succeeded_s * 1000;
    r->failed_ms = failed_s * 1000;
    rc = uv_timer_init(loop, &r->timer);
    if (rc != 0) {
        free(r);
        return rc;
    }
    r->timer.data = r;
    uv_timer_start(&r->timer, on_tick, (uint64_t)tick_ms, (uint64_t)tick_ms);
    log_event(LOG_INFO, "retention", "s:I, s:I, s:I", "succeeded_ttl_s", (json_int_t)succeeded_s,
              "failed_ttl_s", (json_int_t)failed_s, "tick_ms", (json_int_t)tick_ms);
    *out = r;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void retention_close(struct retention *r)
{
    if (!r)
        return;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_closed);
}
