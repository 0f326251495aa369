/*
 * pool.c - dispatcher, tile tasks and analysis tasks (pool.h).
 *
 * Owns: struct pool (loop thread), every struct tile_task and struct
 * analysis_task (created and freed on the loop thread; between
 * uv_queue_work() and its after-work callback a task's worker fields
 * belong to the pool thread running it), and the worker connections
 * (one per pool thread, opened by that thread, registered under a mutex
 * and closed by the loop thread in pool_close() when no task runs).
 *
 * Cross-thread data: a task's `cancel` flag and `last_beat_ms` are atomics;
 * everything else a worker writes is read by the loop only in the
 * after-work callback, which libuv orders after the work callback.
 */
#include "pool.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "kind.h"
#include "log.h"
#include "xalloc.h"

#define MAINT_INTERVAL_MS 1000 /* maintenance tick */
#define REQUEUE_EVERY_TICKS 5  /* requeue expired leases every 5 s */
#define RECOVER_EVERY_TICKS 15 /* look for unanalysed finished jobs */
#define BEAT_SPACING_MS 1000   /* worker heartbeats at most this often */
#define MAX_WORKER_STORES 1024
#define RECONNECT_MIN_MS 200     /* first retry after a lost connection, doubling */
#define RECONNECT_MAX_MS 5000    /* to at most this */
#define RECONNECT_POLL_MS 100    /* a finished tile waiting for its database */
#define RECONNECT_GRACE_MS 60000 /* past the lease: a finished tile waits that long, then drops */

/* Backoff of one connection's reconnects (its owner thread's). */
struct revive {
    int attempt;     /* failed tries since the connection was lost */
    int64_t next_ms; /* monotonic time of the next try */
};

struct tile_task {
    uv_work_t req;
    struct pool *pool;
    struct tile_claim claim;      /* owned */
    atomic_int cancel;            /* raised by the loop or by a stale lease */
    _Atomic int64_t last_beat_ms; /* monotonic time of the last renewal */
    int started;                  /* the work callback began (loop reads after) */
    /* Written by the worker, read in the after-work callback: */
    struct store *wstore; /* the worker's connection, worker-only */
    int64_t next_beat_ms; /* worker-only */
    int rc_core;          /* TB_* of the sweep; 1 when not run */
    int rc_queue;         /* QUEUE_* of the store calls */
    int parse_failed;
    int complete; /* this was the job's last tile */
    int unit_complete; /* the last tile of a unit (a study cell) that needs a step */
    int stale;         /* lease lost (heartbeat or finish) */
    struct revive revive; /* of wstore, worker-only */
    uint64_t divergent, lane_steps;
    double seconds;
    struct tile_task *prev, *next; /* the pool's running list (loop thread) */
};

struct analysis_task {
    uv_work_t req;
    struct pool *pool;
    int64_t job_id;
    /* Written by the worker: */
    int rc;         /* QUEUE_* or CODEC_* failure, 0 on success */
    int failed_job; /* the job was marked failed */
    char reason[256];
    double dimension, se, seconds;
    int fractal;
    const struct job_kind *kind; /* the job's kind, once known */
    int finished;   /* the step completed the job */
    int cells;      /* units (cell rows) stored by the step */
    int again;      /* asked again while in flight (loop thread): run once more */
    struct analysis_task *next; /* the pool's list (loop thread) */
};

struct pool {
    uv_loop_t *loop;
    struct store *store; /* the loop's connection (borrowed) */
    struct pool_config cfg;
    char *db_path; /* owned copy */
    uv_timer_t maint, kick, drain_timer;
    int handles_open;
    uint64_t ticks;
    int in_flight;           /* tiles + analyses */
    struct tile_task *tiles; /* running tile tasks */
    struct analysis_task *analyses;
    int draining, closing, drain_forced;
    void (*drain_done)(void *);
    void *drain_user;
    struct revive revive; /* of the loop's store */
    int notified;         /* wake-ups arrive (pool_notified): no claim polling */
    int claim_retry;      /* the last claim failed: the tick tries again */
    /* Worker connections, registered by the pool threads. */
    uv_key_t key;
    uv_mutex_t stores_mu;
    struct store *stores[MAX_WORKER_STORES];
    int n_stores;
};

static void dispatch(struct pool *p);
static void start_analysis(struct pool *p, int64_t job_id);

/* Tells the pool's owner that a job changed (pool_config.on_change). */
static void changed(struct pool *p, int64_t job_id, uint64_t points)
{
    if (p->cfg.on_change)
        p->cfg.on_change(p->cfg.on_change_user, job_id, points);
}



/* ---- worker connections ------------------------------------------------- */

/*
 * A server backend's connection lost (PostgreSQL stopped, the link cut):
 * 1 when s is connected (again), 0 while it is not. Tries store_reconnect()
 * when r's backoff allows (200 ms doubling to 5 s) and logs each try as
 * "db_reconnect". conn names the connection in the log ("loop" or
 * "worker"). On the thread that owns s.
 */
static int revive(struct store *s, struct revive *r, const char *conn)
{
    int64_t now = clock_mono_ms(), wait;
    int rc;

    if (store_connected(s)) {
        r->attempt = 0;
        return 1;
    }
    if (now < r->next_ms)
        return 0;
    r->attempt++;
    rc = store_reconnect(s);
    log_event(rc == QUEUE_OK ? LOG_INFO : LOG_WARN, "db_reconnect", "s:s, s:i, s:b, s:s*", "conn",
              conn, "attempt", r->attempt, "ok", rc == QUEUE_OK, "error",
              rc == QUEUE_OK ? NULL : store_errmsg(s));
    if (rc == QUEUE_OK) {
        r->attempt = 0;
        return 1;
    }
    wait = (int64_t)RECONNECT_MIN_MS << (r->attempt < 6 ? r->attempt - 1 : 5);
    r->next_ms = now + (wait < RECONNECT_MAX_MS ? wait : RECONNECT_MAX_MS);
    return 0;
}

/*
 * The calling pool thread's connection, opened on first use, with
 * synchronous = NORMAL whatever --synchronous says: in WAL mode a power
 * cut can then lose only the last commits since an fsync, and a worker
 * writes nothing that cannot be redone (a lost tile result leaves the
 * tile leased, and it is computed again; a lost analysis is redone by the
 * recovery tick). Job acceptance goes through the loop thread's
 * connection, which keeps --synchronous (FULL by default), and its fsync
 * covers every earlier frame of the WAL. A FULL worker commit cost about
 * 1 ms per tile on the development VM, a quarter of a fast tile's time.
 */
static int worker_store(struct pool *p, struct store **out)
{
    struct store *s = uv_key_get(&p->key);
    int rc;

    if (s) {
        *out = s;
        return QUEUE_OK;
    }
    rc = store_open(p->db_path, 0, p->cfg.busy_timeout_ms, 1, &s);
    if (rc != QUEUE_OK)
        return rc;
    uv_mutex_lock(&p->stores_mu);
    if (p->n_stores >= MAX_WORKER_STORES) {
        uv_mutex_unlock(&p->stores_mu);
        store_close(s);
        return QUEUE_ENOMEM;
    }
    p->stores[p->n_stores++] = s;
    uv_mutex_unlock(&p->stores_mu);
    uv_key_set(&p->key, s);
    *out = s;
    return QUEUE_OK;
}

/* ---- tile tasks --------------------------------------------------------- */

/* Progress callback (pool thread): renews the lease about once a second. */
static void tile_progress(void *user, uint64_t done_in_tile)
{
    struct tile_task *t = user;
    int64_t now = clock_mono_ms();
    int rc;

    (void)done_in_tile;
    if (now < t->next_beat_ms)
        return;
    t->next_beat_ms = now + BEAT_SPACING_MS;
    rc = queue_heartbeat(t->wstore, t->claim.job_id, t->claim.idx, t->claim.attempt,
                         clock_now_ms() + t->pool->cfg.lease_ms);
    if (rc == QUEUE_OK) {
        atomic_store(&t->last_beat_ms, now);
    } else if (rc == QUEUE_ESTALE || rc == QUEUE_ENOENT) {
        t->stale = 1;
        atomic_store(&t->cancel, 1);
    } else if (!store_connected(t->wstore) && revive(t->wstore, &t->revive, "worker")) {
        /* The database is back: renew at once (the lease may be short). */
        t->next_beat_ms = 0;
    }
    /* Other errors (busy, or the database still away): retried at the next
     * spacing while the tile computes on. */
}

/* Saves a computed tile (pool thread). With the database away it waits,
 * reconnecting with backoff, up to a lease plus a minute (or a cancel):
 * the save then lands if the lease is still this attempt's, and answers
 * QUEUE_ESTALE if not (requeued meanwhile; the tile is someone else's). */
static int save_tile(struct tile_task *t, const uint64_t *labels, const struct tb_tile_stats *st)
{
    int64_t give_up = clock_mono_ms() + t->pool->cfg.lease_ms + RECONNECT_GRACE_MS;
    int rc = QUEUE_EIO, tried = 0;

    for (;;) {
        if (!tried || revive(t->wstore, &t->revive, "worker")) {
            tried = 1;
            rc = queue_finish_tile(t->wstore, t->claim.job_id, t->claim.idx, t->claim.attempt,
                                   labels, t->claim.count, st->divergent, st->lane_steps,
                                   clock_now_ms(), &t->complete);
        }
        if (rc != QUEUE_EIO || store_connected(t->wstore) || atomic_load(&t->cancel) ||
            clock_mono_ms() >= give_up)
            return rc;
        uv_sleep(RECONNECT_POLL_MS);
    }
}

static void tile_work(uv_work_t *req)
{
    struct tile_task *t = req->data;
    struct pool *p = t->pool;
    const struct job_kind *kind = kind_by_name(t->claim.kind);
    struct tb_tile_stats stats;
    uint64_t *labels = NULL;
    int64_t t0 = clock_mono_us();
    int rc;

    t->started = 1;
    t->rc_core = 1;
    if (atomic_load(&t->cancel)) {
        t->rc_core = TB_ECANCELED;
        return;
    }
    if (!kind) {
        t->parse_failed = 1; /* a kind this binary does not know */
        return;
    }
    rc = worker_store(p, &t->wstore);
    if (rc != QUEUE_OK) {
        t->rc_queue = rc;
        return;
    }
    revive(t->wstore, &t->revive, "worker"); /* lost during an earlier task: one try */
    labels = xcalloc(tb_label_words(t->claim.count), sizeof *labels);
    t->next_beat_ms = clock_mono_ms() + BEAT_SPACING_MS;
    memset(&stats, 0, sizeof stats);
    t->rc_core = kind->run_tile(&t->claim, labels, &t->cancel, tile_progress, t, &stats);
    if (t->rc_core == KIND_ESPEC) {
        t->parse_failed = 1;
        t->rc_core = 1;
    }
    if (t->rc_core == TB_OK) {
        t->divergent = stats.divergent;
        t->lane_steps = stats.lane_steps;
        rc = save_tile(t, labels, &stats);
        t->rc_queue = rc;
        if (rc == QUEUE_ESTALE || rc == QUEUE_ENOENT)
            t->stale = 1;
        /* A unit of the job (a study cell) may be complete before the job. */
        if (rc == QUEUE_OK && !t->complete &&
            kind->tile_saved(t->wstore, &t->claim, &t->unit_complete) != QUEUE_OK)
            t->unit_complete = 0;
    }
    t->seconds = (double)(clock_mono_us() - t0) / 1e6;
    free(labels);
}

/* Ends a task's life on the loop thread: bookkeeping, then more work. */
static void task_finished(struct pool *p)
{
    p->in_flight--;
    if (p->draining) {
        if (p->in_flight == 0 && p->drain_done) {
            void (*done)(void *) = p->drain_done;
            p->drain_done = NULL;
            uv_timer_stop(&p->drain_timer);
            done(p->drain_user);
        }
        return;
    }
    dispatch(p);
}

/* Fails a job with a reason and logs it (loop thread). */
static void fail_job(struct pool *p, int64_t job_id, const char *reason)
{
    int rc = queue_fail(p->store, job_id, reason, clock_now_ms());

    if (rc == QUEUE_OK)
        log_event(LOG_ERROR, "job_state", "s:I, s:s, s:s", "job", (json_int_t)job_id, "status",
                  "failed", "error", reason);
    else
        log_event(LOG_ERROR, "job_fail_error", "s:I, s:s, s:s", "job", (json_int_t)job_id, "reason",
                  reason, "error", queue_strerror(rc));
    pool_cancel_job(p, job_id);
    changed(p, job_id, 0);
}

/* Gives a tile that a graceful shutdown stopped (or that never started)
 * back to the queue without using up one of its attempts (loop thread;
 * its worker no longer runs). A lease that is gone already is fine. */
static void release_tile(struct pool *p, const struct tile_claim *c)
{
    int rc = queue_release(p->store, c->job_id, c->idx, c->attempt, clock_now_ms());

    if (rc == QUEUE_OK)
        log_event(LOG_INFO, "tile_released", "s:I, s:I, s:i", "job", (json_int_t)c->job_id, "tile",
                  (json_int_t)c->idx, "attempt", c->attempt);
    else if (rc != QUEUE_ESTALE)
        log_event(LOG_WARN, "tile_release_error", "s:I, s:I, s:i, s:s", "job",
                  (json_int_t)c->job_id, "tile", (json_int_t)c->idx, "attempt", c->attempt, "error",
                  queue_strerror(rc));
}

static void tile_after(uv_work_t *req, int status)
{
    struct tile_task *t = req->data;
    struct pool *p = t->pool;
    const struct tile_claim *c = &t->claim;

    /* Unlink from the running list. */
    if (t->prev)
        t->prev->next = t->next;
    else
        p->tiles = t->next;
    if (t->next)
        t->next->prev = t->prev;

    if (status == UV_ECANCELED || !t->started) {
        log_event(LOG_DEBUG, "tile_skipped", "s:I, s:I, s:i", "job", (json_int_t)c->job_id, "tile",
                  (json_int_t)c->idx, "attempt", c->attempt);
        release_tile(p, c);
    } else if (p->draining && t->rc_core == TB_ECANCELED && !t->stale) {
        /* Stopped by the shutdown: hand the lease back, uncounted. */
        release_tile(p, c);
    } else if (t->parse_failed) {
        fail_job(p, c->job_id, "the stored spec no longer parses");
    } else if (t->rc_core == TB_ECANCELED || t->stale) {
        log_event(LOG_DEBUG, "tile_stopped", "s:I, s:I, s:i, s:s", "job", (json_int_t)c->job_id,
                  "tile", (json_int_t)c->idx, "attempt", c->attempt, "reason",
                  t->stale ? "lease lost" : "canceled");
    } else if (t->rc_core < 0) {
        char reason[160];
        snprintf(reason, sizeof reason, "tile %lld: %s", (long long)c->idx,
                 tb_strerror(t->rc_core));
        fail_job(p, c->job_id, reason);
    } else if (t->rc_queue != QUEUE_OK) {
        /* The lease will expire and the tile will be computed again. */
        log_event(LOG_ERROR, "tile_save_error", "s:I, s:I, s:i, s:s", "job", (json_int_t)c->job_id,
                  "tile", (json_int_t)c->idx, "attempt", c->attempt, "error",
                  queue_strerror(t->rc_queue));
    } else {
        log_event(LOG_DEBUG, "tile_done", "s:I, s:I, s:i, s:I, s:I, s:f", "job",
                  (json_int_t)c->job_id, "tile", (json_int_t)c->idx, "attempt", c->attempt,
                  "points", (json_int_t)c->count, "divergent", (json_int_t)t->divergent, "seconds",
                  t->seconds);
        changed(p, c->job_id, c->count);
        if (t->complete || t->unit_complete)
            start_analysis(p, c->job_id);
    }
    tile_claim_free(&t->claim);
    free(t);
    task_finished(p);
}

/* Claims tiles while there is room (loop thread): up to two per worker, so
 * that a worker finishing a tile starts the next one at once instead of
 * waiting for the loop thread to claim it (a fast tile lasts a few ms).
 * A claimed tile that waits keeps its lease through renew_silent(). */
static void dispatch(struct pool *p)
{
    /* The database is away: claim nothing until the tick reconnects. */
    p->claim_retry = 1;
    if (!store_connected(p->store))
        return;
    p->claim_retry = 0;
    while (!p->draining && !p->closing && p->in_flight < 2 * p->cfg.workers) {
        struct tile_task *t = xcalloc(1, sizeof *t);
        int rc = queue_claim(p->store, clock_now_ms(), p->cfg.lease_ms, &t->claim);

        if (rc != QUEUE_OK) {
            free(t);
            if (rc != QUEUE_ENOENT) {
                log_event(LOG_WARN, "claim_error", "s:s", "error", queue_strerror(rc));
                p->claim_retry = 1;
            }
            return;
        }
        t->pool = p;
        t->req.data = t;
        atomic_init(&t->cancel, 0);
        atomic_init(&t->last_beat_ms, clock_mono_ms());
        if (t->claim.idx == 0 && t->claim.attempt == 1)
            log_event(LOG_INFO, "job_state", "s:I, s:s", "job", (json_int_t)t->claim.job_id,
                      "status", "running");
        rc = uv_queue_work(p->loop, &t->req, tile_work, tile_after);
        if (rc != 0) {
            log_event(LOG_ERROR, "queue_work_error", "s:s", "error", uv_strerror(rc));
            tile_claim_free(&t->claim);
            free(t);
            return;
        }
        t->next = p->tiles;
        if (p->tiles)
            p->tiles->prev = t;
        p->tiles = t;
        p->in_flight++;
        if (t->claim.idx == 0 && t->claim.attempt == 1)
            changed(p, t->claim.job_id, 0); /* queued -> running */
    }
}

void pool_cancel_job(struct pool *p, int64_t job_id)
{
    struct tile_task *t;

    for (t = p->tiles; t; t = t->next)
        if (t->claim.job_id == job_id)
            atomic_store(&t->cancel, 1);
}

/* ---- analysis tasks ----------------------------------------------------- */

/* A real for JSON, or null when not finite. */
static json_t *jreal(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}


static void analysis_work(uv_work_t *req)
{
    struct analysis_task *a = req->data;
    struct pool *p = a->pool;
    const struct job_kind *kind;
    char name[QUEUE_KIND_MAX];
    struct kind_step st;
    struct store *s;
    int64_t t0 = clock_mono_us();
    int rc;

    struct revive rv = {0, 0};

    memset(&st, 0, sizeof st);
    rc = worker_store(p, &s);
    if (rc == QUEUE_OK && !revive(s, &rv, "worker"))
        rc = QUEUE_EIO; /* the recovery scan analyses it later */
    if (rc == QUEUE_OK)
        rc = queue_get_kind(s, a->job_id, name);
    if (rc != QUEUE_OK)
        goto out;
    kind = kind_by_name(name);
    if (!kind) {
        snprintf(a->reason, sizeof a->reason, "job kind \"%s\" is unknown to this binary", name);
        rc = queue_fail(s, a->job_id, a->reason, clock_now_ms());
        a->failed_job = rc == QUEUE_OK;
        goto out;
    }
    /* A sweep: the result once every tile is saved. A study: cell rows as
     * their tiles land, the result at the end. */
    rc = kind->step(s, a->job_id, &st);
    a->kind = kind;
    a->failed_job = st.failed_job;
    memcpy(a->reason, st.reason, sizeof a->reason);
    a->finished = st.finished;
    a->cells = st.units;
    a->dimension = st.dimension;
    a->se = st.se;
    a->fractal = st.fractal;
out:
    a->rc = rc;
    a->seconds = (double)(clock_mono_us() - t0) / 1e6;
}

static void analysis_after(uv_work_t *req, int status)
{
    struct analysis_task *a = req->data, **pp;
    struct pool *p = a->pool;

    for (pp = &p->analyses; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    /* A canceled analysis (UV_ECANCELED) is picked up again by the
     * recovery scan at the next start: nothing to log. */
    if (status == UV_ECANCELED)
        a->rc = QUEUE_ECONFLICT;
    if (a->failed_job)
        log_event(LOG_ERROR, "job_state", "s:I, s:s, s:s", "job", (json_int_t)a->job_id, "status",
                  "failed", "error", a->reason);
    else if (a->rc == QUEUE_OK && a->kind && a->kind->units) {
        /* a kind made of units (a study's cells): how many this step stored */
        char event[QUEUE_KIND_MAX + 8];
        snprintf(event, sizeof event, "%s_done", a->kind->units);
        log_event(a->finished ? LOG_INFO : LOG_DEBUG, a->finished ? "job_state" : event,
                  "s:I, s:s, s:s, s:i, s:f", "job", (json_int_t)a->job_id, "status",
                  a->finished ? "succeeded" : "running", "kind", a->kind->name, a->kind->units,
                  a->cells, "analysis_s", a->seconds);
    }
    else if (a->rc == QUEUE_OK)
        log_event(LOG_INFO, "job_state", "s:I, s:s, s:o, s:o, s:b, s:f", "job",
                  (json_int_t)a->job_id, "status", "succeeded", "dimension", jreal(a->dimension),
                  "stderr", jreal(a->se), "fractal", a->fractal, "analysis_s", a->seconds);
    else if (a->rc != QUEUE_ECONFLICT && a->rc != QUEUE_ENOENT)
        log_event(LOG_ERROR, "analysis_error", "s:I, s:s", "job", (json_int_t)a->job_id, "error",
                  queue_strerror(a->rc));
    changed(p, a->job_id, 0);
    /* Asked again while it ran (a study cell landed): one more step. */
    if (a->again && status != UV_ECANCELED && !p->draining)
        start_analysis(p, a->job_id);
    free(a);
    task_finished(p);
}

/* Queues the analysis of a job unless one is already in flight. It takes
 * a pool slot like a tile, so the pool threads are never oversubscribed
 * for long (at most one extra task). */
static void start_analysis(struct pool *p, int64_t job_id)
{
    struct analysis_task *a;
    int rc;

    if (p->closing)
        return;
    for (a = p->analyses; a; a = a->next)
        if (a->job_id == job_id) {
            a->again = 1; /* a study cell landed while its step ran */
            return;
        }
    a = xcalloc(1, sizeof *a);
    a->pool = p;
    a->job_id = job_id;
    a->req.data = a;
    rc = uv_queue_work(p->loop, &a->req, analysis_work, analysis_after);
    if (rc != 0) {
        log_event(LOG_ERROR, "queue_work_error", "s:s", "error", uv_strerror(rc));
        free(a);
        return;
    }
    a->next = p->analyses;
    p->analyses = a;
    p->in_flight++;
}

/* Finds running jobs whose tiles are all saved but that have no result. */
static void recover_finished(struct pool *p)
{
    const enum job_status running = JOB_RUNNING;
    struct job jobs[50];
    int64_t cursor = 0, next;
    int n, i, rc, pages = 0;

    do {
        rc = queue_list(p->store, &running, cursor, 50, jobs, &n, &next);
        if (rc != QUEUE_OK) {
            log_event(LOG_WARN, "recover_error", "s:s", "error", queue_strerror(rc));
            return;
        }
        for (i = 0; i < n; i++) {
            if (jobs[i].tiles_done == jobs[i].tiles_total && !p->draining)
                start_analysis(p, jobs[i].id);
            job_free(&jobs[i]);
        }
        cursor = next;
    } while (cursor > 0 && ++pages < 100);
}

/* ---- maintenance -------------------------------------------------------- */

/* Renews the leases of tiles whose worker has been silent for a third of
 * the lease (a tile of huge points reports progress rarely). */
static void renew_silent(struct pool *p)
{
    int64_t now = clock_mono_ms();
    struct tile_task *t;

    for (t = p->tiles; t; t = t->next) {
        int64_t last = atomic_load(&t->last_beat_ms);
        int rc;

        if (now - last < p->cfg.lease_ms / 3)
            continue;
        rc = queue_heartbeat(p->store, t->claim.job_id, t->claim.idx, t->claim.attempt,
                             clock_now_ms() + p->cfg.lease_ms);
        if (rc == QUEUE_OK)
            atomic_store(&t->last_beat_ms, now);
        else if (rc == QUEUE_ESTALE || rc == QUEUE_ENOENT)
            atomic_store(&t->cancel, 1);
    }
}

static void on_maint(uv_timer_t *timer)
{
    struct pool *p = timer->data;
    int n = 0, rc;

    p->ticks++;
    if (p->closing)
        return;
    /* A lost connection: no claims, renewals or requeues until it is back
     * (the running tiles compute on and save through their own). */
    if (!revive(p->store, &p->revive, "loop"))
        return;
    renew_silent(p);
    if (p->draining)
        return;
    if (p->ticks % REQUEUE_EVERY_TICKS == 0) {
        rc = queue_requeue_expired(p->store, clock_now_ms(), p->cfg.max_attempts, &n);
        if (rc != QUEUE_OK)
            log_event(LOG_WARN, "requeue_error", "s:s", "error", queue_strerror(rc));
        else if (n > 0)
            log_event(LOG_WARN, "leases_expired", "s:i", "tiles", n);
    }
    if (p->ticks % RECOVER_EVERY_TICKS == 0)
        recover_finished(p);
    /* With wake-ups, claimable work announces itself (pool_kick); the
     * tick claims only while they are off or after a failed claim. */
    if (!p->notified || p->claim_retry)
        dispatch(p);
}

static void on_kick(uv_timer_t *timer)
{
    dispatch(timer->data);
}

void pool_kick(struct pool *p)
{
    if (!p->draining && !p->closing)
        uv_timer_start(&p->kick, on_kick, 0, 0);
}

void pool_notified(struct pool *p, enum notify_what what)
{
    if (!p)
        return;
    if (what == NOTIFY_RESYNC)
        p->notified = 1;
    else if (what == NOTIFY_DOWN)
        p->notified = 0;
    if (what != NOTIFY_JOB)
        pool_kick(p); /* new work, or what was announced unheard */
}

void pool_analyze_job(struct pool *p, int64_t job_id)
{
    if (!p->draining && !p->closing)
        start_analysis(p, job_id);
}

int pool_in_flight(const struct pool *p)
{
    return p->in_flight;
}

/* ---- start / drain / close ---------------------------------------------- */

int pool_start(uv_loop_t *loop, struct store *loop_store, const struct pool_config *cfg,
               struct pool **out)
{
    struct pool *p = xcalloc(1, sizeof *p);
    int rc;

    p->loop = loop;
    p->store = loop_store;
    p->cfg = *cfg;
    p->db_path = xstrdup(cfg->db_path);
    p->cfg.db_path = p->db_path;
    rc = uv_key_create(&p->key);
    if (rc != 0) {
        free(p->db_path);
        free(p);
        return rc;
    }
    rc = uv_mutex_init(&p->stores_mu);
    if (rc != 0) {
        uv_key_delete(&p->key);
        free(p->db_path);
        free(p);
        return rc;
    }
    uv_timer_init(loop, &p->maint);
    uv_timer_init(loop, &p->kick);
    uv_timer_init(loop, &p->drain_timer);
    p->handles_open = 3;
    p->maint.data = p->kick.data = p->drain_timer.data = p;
    uv_timer_start(&p->maint, on_maint, MAINT_INTERVAL_MS, MAINT_INTERVAL_MS);
    recover_finished(p);
    dispatch(p);
    *out = p;
    return 0;
}

static void on_drain_deadline(uv_timer_t *timer)
{
    struct pool *p = timer->data;
    struct tile_task *t;

    p->drain_forced = 1;
    for (t = p->tiles; t; t = t->next)
        atomic_store(&t->cancel, 1);
    if (p->tiles)
        log_event(LOG_WARN, "shutdown_cancel_tiles", NULL);
}

void pool_drain(struct pool *p, int64_t timeout_ms, void (*done)(void *), void *user)
{
    struct tile_task *t;

    if (p->draining) {
        on_drain_deadline(&p->drain_timer);
        return;
    }
    p->draining = 1;
    p->drain_done = done;
    p->drain_user = user;
    uv_timer_stop(&p->kick);
    /* Tiles not started yet give their slot back at once. */
    for (t = p->tiles; t; t = t->next)
        uv_cancel((uv_req_t *)&t->req);
    if (p->in_flight == 0) {
        p->drain_done = NULL;
        done(user);
        return;
    }
    if (timeout_ms <= 0)
        on_drain_deadline(&p->drain_timer);
    else
        uv_timer_start(&p->drain_timer, on_drain_deadline, (uint64_t)timeout_ms, 0);
}

static void on_pool_handle_closed(uv_handle_t *h)
{
    struct pool *p = h->data;

    if (--p->handles_open == 0) {
        free(p->db_path);
        free(p);
    }
}

void pool_close(struct pool *p)
{
    int i;

    if (!p)
        return;
    p->closing = 1;
    /* No task runs now (the drain finished): the worker connections are
     * idle, and the mutex orders their last use before this close. */
    uv_mutex_lock(&p->stores_mu);
    for (i = 0; i < p->n_stores; i++)
        store_close(p->stores[i]);
    p->n_stores = 0;
    uv_mutex_unlock(&p->stores_mu);
    uv_mutex_destroy(&p->stores_mu);
    uv_key_delete(&p->key);
    uv_close((uv_handle_t *)&p->maint, on_pool_handle_closed);
    uv_close((uv_handle_t *)&p->kick, on_pool_handle_closed);
    uv_close((uv_handle_t *)&p->drain_timer, on_pool_handle_closed);
}
