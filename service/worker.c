/*
 * worker.c - `trainbound worker`: a process that only computes tiles of a
 * shared PostgreSQL queue (issue 15). No HTTP API: jobs are submitted to a
 * `trainbound serve` (--workers 0 for API only) on the same database, and
 * any number of workers, on any number of hosts, claim its tiles. Every log
 * line says "role":"worker"; --metrics-listen HOST:PORT serves GET
 * /metrics (with trainbound_process_info{role="worker"}), /healthz,
 * /livez and /readyz (503 while the database is unreachable).
 *
 * A SQLite --db is refused (exit 2): a SQLite file belongs to the one
 * `serve` process that runs its workers, and that process requeues every
 * lease in the file when it starts (serve.c), which would take the live
 * leases of a worker beside it.
 *
 * Start-up: settings (bad ones exit 2) -> UV_THREADPOOL_SIZE -> the
 * metrics listener, when asked (a bad address exits 2, a refused bind 1)
 * -> the store (migrations applied under their advisory lock; a database
 * that cannot be opened exits 1, with libpq's reason logged) -> log
 * "worker_started" -> requeue leases expired by the clock -> the pool ->
 * the notifier (notify.h: an idle worker claims when work is announced,
 * and polls each second only while the notifier is down) ->
 * SIGTERM/SIGINT -> uv_run(). Shutdown as serve's: no more claims, running
 * tiles get --shutdown-timeout seconds, then their leases are released;
 * a second signal cancels them at once. Exit 0.
 *
 * Threads: the main thread, which becomes the loop thread; the pool's
 * threads compute tiles (pool.c).
 */
#include "worker.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "clock.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pool.h"
#include "queue.h"

struct worker {
    struct serve_config cfg;
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    int signals_open, signals;
    struct store *store;      /* the loop's connection; owned */
    struct pool *pool;        /* owned; NULL once closed */
    struct http_server *http; /* the metrics listener; owned; NULL: none */
    struct metrics *metrics;  /* owned; may be NULL (ENOMEM: no /metrics) */
    struct notifier *notify;  /* the queue's wake-ups; owned; NULL once closed */
};

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

/* ---- the metrics listener ----------------------------------------------- */

static int64_t on_headers(void *user, const struct http_request *req, struct http_response *resp)
{
    (void)user;
    (void)req;
    (void)resp;
    return 0; /* no route takes a body */
}

/* GET /metrics: the shared counters, and which role this process has. */
static void answer_metrics(struct worker *w, struct http_response *resp)
{
    static const char info[] = "# HELP trainbound_process_info The role of this process.\n"
                               "# TYPE trainbound_process_info gauge\n"
                               "trainbound_process_info{role=\"worker\"} 1\n";
    struct metrics_gauges g;
    size_t len = 0;
    char *text, *all;

    memset(&g, 0, sizeof g);
    g.have_jobs = store_connected(w->store) && queue_counts(w->store, g.jobs) == QUEUE_OK;
    g.running_tiles = w->pool ? pool_in_flight(w->pool) : 0;
    g.shared = 1;
    g.listening = notify_live(w->notify);
    g.notifications = notify_count(w->notify);
    text = metrics_render(w->metrics, &g, clock_mono_ms(), &len);
    all = text ? malloc(sizeof info + len) : NULL;
    if (!all) {
        free(text);
        http_response_json(resp, 500, "application/json",
                           json_pack("{s:s}", "error", "no metrics in this process"));
        return;
    }
    memcpy(all, info, sizeof info - 1);
    memcpy(all + sizeof info - 1, text, len + 1);
    free(text);
    http_response_body(resp, 200, "text/plain; version=0.0.4; charset=utf-8", all,
                       sizeof info - 1 + len);
    http_response_header(resp, "Cache-Control", "no-store");
}

static void on_handle(void *user, const struct http_request *req, struct http_response *resp)
{
    struct worker *w = user;
    int up;

    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        http_response_json(resp, 405, "application/json", json_pack("{s:s}", "error", "GET only"));
        http_response_header(resp, "Allow", "GET, HEAD");
    } else if (strcmp(req->path, "/metrics") == 0) {
        answer_metrics(w, resp);
    } else if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/livez") == 0) {
        http_response_json(resp, 200, "application/json",
                           json_pack("{s:s, s:s}", "status", "ok", "role", "worker"));
    } else if (strcmp(req->path, "/readyz") == 0) {
        up = store_connected(w->store) && w->pool && !w->signals;
        http_response_json(resp, up ? 200 : 503, "application/json",
                           json_pack("{s:s, s:s, s:i, s:i}", "status", up ? "ready" : "not_ready",
                                     "role", "worker", "workers", w->cfg.workers, "in_flight",
                                     w->pool ? pool_in_flight(w->pool) : 0));
    } else {
        http_response_json(resp, 404, "application/json",
                           json_pack("{s:s}", "error",
                                     "a worker serves /metrics, /healthz, "
                                     "/livez and /readyz only"));
    }
}

static void on_completed(void *user, const char *route, int status, double seconds)
{
    struct worker *w = user;

    metrics_request(w->metrics, route, status, seconds);
}

/* ---- signals and shutdown ----------------------------------------------- */

/* The pool has nothing in flight any more: close everything. */
static void on_drained(void *user)
{
    struct worker *w = user;

    log_event(LOG_INFO, "drained", NULL);
    notify_close(w->notify); /* before the pool it kicks */
    w->notify = NULL;
    pool_close(w->pool);
    w->pool = NULL;
    http_close(w->http);
    w->http = NULL;
    if (w->signals_open) {
        w->signals_open = 0;
        uv_close((uv_handle_t *)&w->sigterm, NULL);
        uv_close((uv_handle_t *)&w->sigint, NULL);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct worker *w = h->data;

    w->signals++;
    log_event(LOG_INFO, "shutdown", "s:s, s:i, s:i", "signal",
              signum == SIGTERM ? "SIGTERM" : "SIGINT", "count", w->signals, "in_flight",
              w->pool ? pool_in_flight(w->pool) : 0);
    if (!w->pool)
        return;
    if (w->signals == 1 && w->http)
        http_quiesce(w->http);
    pool_drain(w->pool, w->signals > 1 ? 0 : (int64_t)w->cfg.shutdown_timeout_s * 1000, on_drained,
               w);
}

static void on_job_change(void *user, int64_t job_id, uint64_t points)
{
    struct worker *w = user;

    (void)job_id;
    if (points)
        metrics_points(w->metrics, points, clock_mono_ms());
}

/* The shared queue's notifier: new work kicks the pool. */
static void on_notify(void *user, enum notify_what what, int64_t job_id)
{
    struct worker *w = user;

    (void)job_id;
    pool_notified(w->pool, what);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Closes what start-up opened before a failure; returns the exit code. */
static int give_up(struct worker *w, int code)
{
    http_close(w->http);
    w->http = NULL;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    store_close(w->store);
    metrics_free(w->metrics);
    return code;
}

int worker_main(int argc, char **argv)
{
    static struct worker w; /* large (paths); lives for the whole run */
    static char db_shown[sizeof w.cfg.db];
    struct pool_config pc;
    struct http_handlers handlers;
    struct http_config hc;
    char err[512], bound[128] = "", threads[16];
    int rc, version = 0, requeued = 0;

    memset(&w, 0, sizeof w);
    config_defaults(&w.cfg);
    rc = config_parse_role(&w.cfg, CONFIG_ROLE_WORKER, argc, argv, env_lookup, err, sizeof err);
    if (rc == CONFIG_HELP) {
        config_usage_role(stdout, CONFIG_ROLE_WORKER);
        return 0;
    }
    if (rc == CONFIG_OK && w.cfg.workers < 1) {
        snprintf(err, sizeof err, "--workers: a worker needs at least 1");
        rc = CONFIG_EINVAL;
    }
    if (rc == CONFIG_OK && !store_target_shared(w.cfg.db)) {
        snprintf(err, sizeof err,
                 "--db: a worker needs a postgresql:// URI; a SQLite file belongs to the one "
                 "`trainbound serve` that runs its workers (see --help)");
        rc = CONFIG_EINVAL;
    }
    if (rc != CONFIG_OK) {
        fprintf(stderr, "trainbound worker: %s\n", err);
        return 2;
    }
    log_setup((enum log_level)w.cfg.log_level, 2);
    log_set_role("worker");

    snprintf(threads, sizeof threads, "%d", w.cfg.workers);
    setenv("UV_THREADPOOL_SIZE", threads, 1); /* before any libuv call */
    signal(SIGPIPE, SIG_IGN);
    json_object_seed(0); /* before any thread exists */
    rc = uv_loop_init(&w.loop);
    if (rc != 0) {
        log_event(LOG_ERROR, "loop_init_failed", "s:s", "error", uv_strerror(rc));
        return 1;
    }
    w.metrics = metrics_new();

    if (w.cfg.metrics_listen[0]) {
        memset(&handlers, 0, sizeof handlers);
        handlers.headers = on_headers;
        handlers.handle = on_handle;
        handlers.completed = on_completed;
        handlers.user = &w;
        hc.listen = w.cfg.metrics_listen;
        hc.conn_limit = 64;
        hc.conn_timeout_s = 30;
        rc = http_start(&w.loop, &hc, &handlers, &w.http, bound, sizeof bound, err, sizeof err);
        if (rc != 0) {
            log_event(LOG_ERROR, "listen_failed", "s:s, s:s", "listen", w.cfg.metrics_listen,
                      "error", err);
            return give_up(&w, rc == -EINVAL ? 2 : 1);
        }
    }

    store_target_redact(w.cfg.db, db_shown, sizeof db_shown);
    rc = store_open_why(w.cfg.db, 1, w.cfg.busy_timeout_ms, 1, &w.store, err, sizeof err);
    if (rc != QUEUE_OK) {
        log_event(LOG_ERROR, "store_open_failed", "s:s, s:s, s:s*, s:i", "db", db_shown, "error",
                  queue_strerror(rc), "reason", err[0] ? err : NULL, "known_version",
                  store_known_version());
        return give_up(&w, 1);
    }
    store_schema_version(w.store, &version);
    log_event(LOG_INFO, "worker_started", "s:s, s:i, s:i, s:i, s:s*", "db", db_shown,
              "schema_version", version, "workers", w.cfg.workers, "lease_s", w.cfg.lease_s,
              "metrics_addr", bound[0] ? bound : NULL);

    /* Other processes hold live leases in a shared database: only those
     * the clock says expired come back (serve.c does the same). */
    rc = queue_requeue_expired(w.store, clock_now_ms(), w.cfg.max_attempts, &requeued);
    if (rc != QUEUE_OK)
        log_event(LOG_ERROR, "recover_failed", "s:s", "error", queue_strerror(rc));
    else if (requeued > 0)
        log_event(LOG_INFO, "recovered", "s:i", "tiles_requeued", requeued);

    memset(&pc, 0, sizeof pc);
    pc.db_path = w.cfg.db;
    pc.workers = w.cfg.workers;
    pc.lease_ms = w.cfg.lease_s * 1000;
    pc.max_attempts = w.cfg.max_attempts;
    pc.busy_timeout_ms = w.cfg.busy_timeout_ms > 5000 ? w.cfg.busy_timeout_ms : 5000;
    pc.on_change = on_job_change;
    pc.on_change_user = &w;
    rc = pool_start(&w.loop, w.store, &pc, &w.pool);
    if (rc != 0) {
        log_event(LOG_ERROR, "pool_start_failed", "s:s", "error", uv_strerror(rc));
        return give_up(&w, 1);
    }

    rc = notify_start(&w.loop, w.cfg.db, NOTIFY_CH_WORK, on_notify, &w, &w.notify);
    if (rc != 0)
        log_event(LOG_ERROR, "notify_start_failed", "s:s", "error", queue_strerror(rc));

    uv_signal_init(&w.loop, &w.sigterm);
    uv_signal_init(&w.loop, &w.sigint);
    w.sigterm.data = w.sigint.data = &w;
    w.signals_open = 1;
    uv_signal_start(&w.sigterm, on_signal, SIGTERM);
    uv_signal_start(&w.sigint, on_signal, SIGINT);

    uv_run(&w.loop, UV_RUN_DEFAULT);

    if (uv_loop_close(&w.loop) == UV_EBUSY) {
        uv_walk(&w.loop, close_walk_cb, NULL);
        uv_run(&w.loop, UV_RUN_DEFAULT);
        uv_loop_close(&w.loop);
    }
    store_close(w.store);
    metrics_free(w.metrics);
    log_event(LOG_INFO, "stopped", NULL);
    uv_library_shutdown();
    return 0;
}
