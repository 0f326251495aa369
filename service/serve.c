/*
 * serve.c - `trainbound serve`: wires the settings, the store, the HTTP
 * server, the worker pool and the signals onto one libuv loop, runs it,
 * and shuts it down gracefully (serve.h).
 *
 * Start-up order: settings and the token file (bad ones exit 2) ->
 * UV_THREADPOOL_SIZE (before any libuv call) -> bind (a bad address exits
 * 2, a refused bind 1, before any file is created) -> the loop's store
 * (migrations applied) -> log "listening" (always the first log line, so
 * tests and users can read the bound address) and then "auth" -> requeue
 * the leases of a previous process (its tiles resume from the saved ones;
 * with a SQLite file every lease, with a shared PostgreSQL only expired
 * ones, since the others may be live processes') -> the reader thread (reader.h) -> the pool ->
 * the event streams -> with a shared PostgreSQL, the notifier (notify.h:
 * other processes' new work kicks the pool, their job changes move the
 * event streams) -> SIGTERM/SIGINT handlers -> uv_run().
 *
 * Shutdown (first SIGTERM/SIGINT): /readyz answers 503 and submits 503,
 * the listener stops accepting, no more tiles are claimed, running tiles
 * get --shutdown-timeout seconds to finish and are then canceled (their
 * leases are handed back with queue_release(), so a graceful stop never
 * uses up an attempt; a crash's leases are recovered at the next start),
 * then the reader thread (its deferred requests answered: 503 for those
 * not started), the HTTP server and every handle close, the loop ends and the process exits 0. A
 * second signal cancels the running tiles at once.
 *
 * Exit codes: 0 after a graceful shutdown (or --help); 1 runtime failure
 * (the address is in use or not permitted, the database cannot be opened);
 * 2 usage (a bad flag, value, variable, --listen address or token file).
 *
 * Threads: the main thread, which becomes the loop thread.
 */
#include "serve.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "app.h"
#include "auth.h"
#include "clock.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pool.h"
#include "queue.h"
#include "reader.h"
#include "retention.h"
#include "routes.h"
#include "sse.h"

struct server {
    struct serve_config cfg;
    struct app app;
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    int signals_open;
    int signals;                 /* signals seen */
    struct retention *retention; /* NULL when both TTLs are 0 */
};

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

/* Creates the parent directory of the database file when it is missing
 * (one level, like `make run`'s data/). Errors surface at store_open(). */
static void make_parent_dir(const char *path)
{
    char dir[4096];
    char *slash;

    if (strlen(path) >= sizeof dir)
        return;
    strcpy(dir, path);
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return;
    *slash = '\0';
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return;
}

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

/* The pool has nothing in flight any more: close everything. */
static void on_drained(void *user)
{
    struct server *srv = user;

    log_event(LOG_INFO, "drained", NULL);
    notify_close(srv->app.notify); /* before the pool and the streams it feeds */
    srv->app.notify = NULL;
    retention_close(srv->retention);
    srv->retention = NULL;
    pool_close(srv->app.pool);
    srv->app.pool = NULL;
    /* Before http_close(): the reader answers every deferred /boundary
     * request (503 for those not started) while their connections live. */
    reader_close(srv->app.reader);
    srv->app.reader = NULL;
    http_close(srv->app.http);
    srv->app.http = NULL;
    sse_hub_close(srv->app.sse); /* after http_close(): the streams ended */
    srv->app.sse = NULL;
    if (srv->signals_open) {
        srv->signals_open = 0;
        uv_close((uv_handle_t *)&srv->sigterm, on_signal_closed);
        uv_close((uv_handle_t *)&srv->sigint, on_signal_closed);
    }
}

/* The pool changed a job: event streams and the points counter. */
static void on_job_change(void *user, int64_t job_id, uint64_t points)
{
    struct app *app = user;

    if (points)
        metrics_points(app->metrics, points, clock_mono_ms());
    sse_job_changed(app->sse, job_id);
}

/* The shared queue's notifier: work for the pool, changes for the streams. */
static void on_notify(void *user, enum notify_what what, int64_t job_id)
{
    struct app *app = user;

    pool_notified(app->pool, what);
    if (what == NOTIFY_JOB)
        sse_job_changed(app->sse, job_id);
    else if (what == NOTIFY_RESYNC)
        sse_refresh_all(app->sse);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;

    srv->signals++;
    log_event(LOG_INFO, "shutdown", "s:s, s:i, s:i", "signal",
              signum == SIGTERM ? "SIGTERM" : "SIGINT", "count", srv->signals, "in_flight",
              srv->app.pool ? pool_in_flight(srv->app.pool) : 0);
    if (srv->signals > 1) {
        if (srv->app.pool)
            pool_drain(srv->app.pool, 0, on_drained, srv); /* cancel now */
        return;
    }
    srv->app.draining = 1;
    http_quiesce(srv->app.http);
    if (srv->app.pool)
        pool_drain(srv->app.pool, (int64_t)srv->cfg.shutdown_timeout_s * 1000, on_drained, srv);
    else
        on_drained(srv);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int serve_main(int argc, char **argv)
{
    static struct server srv;                /* large (paths); lives for the whole run */
    static char db_shown[sizeof srv.cfg.db]; /* srv.cfg.db as logged (no password) */
    struct pool_config pc;
    struct http_handlers handlers;
    struct http_config hc;
    struct store *store = NULL;
    char err[512], bound[128], threads[16];
    int rc, version = 0, requeued = 0;

    memset(&srv, 0, sizeof srv);
    config_defaults(&srv.cfg);
    rc = config_parse(&srv.cfg, argc, argv, env_lookup, err, sizeof err);
    if (rc == CONFIG_HELP) {
        config_usage(stdout);
        return 0;
    }
    if (rc != CONFIG_OK) {
        fprintf(stderr, "trainbound serve: %s\n", err);
        return 2;
    }
    log_setup((enum log_level)srv.cfg.log_level, 2);
    /* Loaded now, so a bad token file is a usage error before anything is
     * bound or created; logged after "listening", which stays line one. */
    if (srv.cfg.token_file[0] &&
        auth_load(srv.cfg.token_file, &srv.app.auth, err, sizeof err) != 0) {
        fprintf(stderr, "trainbound serve: %s\n", err);
        return 2;
    }

    /* The libuv pool reads this once, at its first use: before any call. */
    /* --workers 0 (API only): no tile is claimed, but the pool's one
     * thread still analyses jobs whose last tile a worker saved. */
    snprintf(threads, sizeof threads, "%d", srv.cfg.workers > 0 ? srv.cfg.workers : 1);
    setenv("UV_THREADPOOL_SIZE", threads, 1);
    signal(SIGPIPE, SIG_IGN);
    json_object_seed(0); /* before any thread exists (jansson threadsafety) */

    rc = uv_loop_init(&srv.loop);
    if (rc != 0) {
        log_event(LOG_ERROR, "loop_init_failed", "s:s", "error", uv_strerror(rc));
        auth_free(srv.app.auth);
        return 1;
    }
    srv.app.cfg = &srv.cfg;
    srv.app.limits.max_levels = srv.cfg.max_levels;
    srv.app.limits.max_steps = srv.cfg.max_steps;
    srv.app.limits.max_dim = srv.cfg.max_dim;
    srv.app.limits.max_cost = srv.cfg.max_cost;
    srv.app.loop = &srv.loop;

    /* Bind before the database is opened: an address that cannot be used
     * leaves no file behind. Nothing is served before uv_run(), by which
     * time app.store is set. A malformed or unresolvable address is a usage
     * error (2); a refused bind (in use, not permitted) a runtime one (1). */
    srv.app.metrics = metrics_new(); /* NULL (ENOMEM) only loses /metrics */
    routes_handlers(&srv.app, &handlers);
    hc.listen = srv.cfg.listen;
    hc.conn_limit = srv.cfg.conn_limit;
    hc.conn_timeout_s = srv.cfg.conn_timeout_s;
    rc = http_start(&srv.loop, &hc, &handlers, &srv.app.http, bound, sizeof bound, err, sizeof err);
    if (rc != 0) {
        log_event(LOG_ERROR, "listen_failed", "s:s, s:s", "listen", srv.cfg.listen, "error", err);
        uv_run(&srv.loop, UV_RUN_NOWAIT);
        uv_loop_close(&srv.loop);
        metrics_free(srv.app.metrics);
        auth_free(srv.app.auth);
        return rc == -EINVAL ? 2 : 1;
    }

    make_parent_dir(srv.cfg.db);
    /* A database URI may hold a password: logs name the database redacted. */
    store_target_redact(srv.cfg.db, db_shown, sizeof db_shown);
    rc = store_open_why(srv.cfg.db, 1, srv.cfg.busy_timeout_ms, srv.cfg.synchronous_normal, &store,
                        err, sizeof err);
    if (rc != QUEUE_OK) {
        /* "reason": the engine's own words (libpq: connection refused,
         * password authentication failed), when it has any. */
        log_event(LOG_ERROR, "store_open_failed", "s:s, s:s, s:s*, s:i", "db", db_shown, "error",
                  rc == QUEUE_ESCHEMA ? "the database was written by a newer trainbound "
                                        "(schema version above what this binary knows)"
                                      : queue_strerror(rc),
                  "reason", err[0] ? err : NULL, "known_version", store_known_version());
        http_close(srv.app.http);
        srv.app.http = NULL;
        uv_run(&srv.loop, UV_RUN_DEFAULT);
        uv_loop_close(&srv.loop);
        metrics_free(srv.app.metrics);
        auth_free(srv.app.auth);
        return 1;
    }
    store_schema_version(store, &version);
    srv.app.store = store;

    log_event(LOG_INFO, "listening", "s:s, s:s, s:i, s:i, s:I, s:i, s:i, s:i, s:f, s:s", "addr",
              bound, "db", db_shown, "schema_version", version, "workers", srv.cfg.workers,
              "max_body", (json_int_t)srv.cfg.max_body, "max_levels", srv.cfg.max_levels,
              "max_steps", srv.cfg.max_steps, "max_dim", srv.cfg.max_dim, "max_cost",
              srv.cfg.max_cost, "role", srv.cfg.workers > 0 ? "serve" : "api");
    if (srv.app.auth) {
        int rw, ro;
        auth_counts(srv.app.auth, &rw, &ro);
        log_event(LOG_INFO, "auth", "s:i, s:i", "tokens", rw, "read_only_tokens", ro);
    }

    /* A SQLite file is this process's alone: every lease in it belongs to
     * a previous process, so requeue them all and their tiles run again
     * (saved tiles are kept). A shared server (PostgreSQL) also holds the
     * live leases of other processes: only those the clock says expired
     * are requeued (the pool's maintenance tick goes on doing that), and
     * this process's own crashed leases come back when they expire. */
    rc = queue_requeue_expired(store, store_shared(store) ? clock_now_ms() : INT64_MAX,
                               srv.cfg.max_attempts, &requeued);
    if (rc != QUEUE_OK)
        log_event(LOG_ERROR, "recover_failed", "s:s", "error", queue_strerror(rc));
    else if (requeued > 0)
        log_event(LOG_INFO, "recovered", "s:i", "tiles_requeued", requeued);

    memset(&pc, 0, sizeof pc);
    pc.db_path = srv.cfg.db;
    pc.workers = srv.cfg.workers;
    pc.lease_ms = srv.cfg.lease_s * 1000;
    pc.max_attempts = srv.cfg.max_attempts;
    pc.busy_timeout_ms = srv.cfg.busy_timeout_ms > 5000 ? srv.cfg.busy_timeout_ms : 5000;
    pc.on_change = on_job_change;
    pc.on_change_user = &srv.app;
    /* /boundary reads a job's labels on this thread, not the loop's. Without
     * it (no thread) they are read on the loop, as before. */
    rc = reader_start(&srv.loop, srv.cfg.db, srv.cfg.busy_timeout_ms, &srv.app.reader);
    if (rc != 0)
        log_event(LOG_ERROR, "reader_start_failed", "s:s", "error", uv_strerror(rc));

    rc = pool_start(&srv.loop, store, &pc, &srv.app.pool);
    if (rc != 0) {
        log_event(LOG_ERROR, "pool_start_failed", "s:s", "error", uv_strerror(rc));
        reader_close(srv.app.reader);
        srv.app.reader = NULL;
        http_close(srv.app.http);
        srv.app.http = NULL;
        uv_run(&srv.loop, UV_RUN_DEFAULT);
        uv_loop_close(&srv.loop);
        store_close(store);
        auth_free(srv.app.auth);
        return 1;
    }

    rc = sse_hub_new(&srv.loop, store, srv.cfg.sse_heartbeat_ms, &srv.app.sse);
    if (rc != 0)
        log_event(LOG_ERROR, "sse_start_failed", "s:s", "error", uv_strerror(rc));

    if (store_shared(store)) {
        /* The API's event streams need every job change; claiming, only
         * with local workers. */
        rc = notify_start(&srv.loop, srv.cfg.db,
                          NOTIFY_CH_JOBS | (srv.cfg.workers > 0 ? NOTIFY_CH_WORK : 0u), on_notify,
                          &srv.app, &srv.app.notify);
        if (rc != 0)
            log_event(LOG_ERROR, "notify_start_failed", "s:s", "error", queue_strerror(rc));
    }

    rc = retention_start(&srv.loop, store, srv.cfg.retention_succeeded_s,
                         srv.cfg.retention_failed_s, &srv.retention);
    if (rc != 0)
        log_event(LOG_ERROR, "retention_start_failed", "s:s", "error", uv_strerror(rc));

    uv_signal_init(&srv.loop, &srv.sigterm);
    uv_signal_init(&srv.loop, &srv.sigint);
    srv.sigterm.data = srv.sigint.data = &srv;
    srv.signals_open = 1;
    uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
    uv_signal_start(&srv.sigint, on_signal, SIGINT);

    uv_run(&srv.loop, UV_RUN_DEFAULT);

    /* Everything closed itself; anything left is closed here. */
    if (uv_loop_close(&srv.loop) == UV_EBUSY) {
        uv_walk(&srv.loop, close_walk_cb, NULL);
        uv_run(&srv.loop, UV_RUN_DEFAULT);
        uv_loop_close(&srv.loop);
    }
    store_close(store);
    auth_free(srv.app.auth);
    srv.app.auth = NULL;
    metrics_free(srv.app.metrics);
    srv.app.metrics = NULL;
    log_event(LOG_INFO, "stopped", NULL);
    uv_library_shutdown();
    return 0;
}
