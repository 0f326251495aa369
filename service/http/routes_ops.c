/*
 * routes_ops.c - the operational routes: GET /healthz and /livez
 * (liveness), GET /readyz (database writable, migrations applied, not
 * draining), GET /metrics (Prometheus text) and the live progress of a
 * job, GET /v1/jobs/{id}/events (Server-Sent Events, sse.h).
 *
 * Owns: nothing beyond a call; an event stream is the hub's (sse.h).
 * Threads: loop thread only.
 */
#include "routes_int.h"

#include <string.h>

#include "clock.h"
#include "metrics.h"
#include "pool.h"
#include "router.h"
#include "sse.h"

/* ---- health ------------------------------------------------------------- */

void get_healthz(struct app *app, const struct http_request *req, struct http_response *resp)
{
    (void)app;
    (void)req;
    http_response_json(resp, 200, CT_JSON, json_pack("{s:s}", "status", "ok"));
    http_response_header(resp, "Cache-Control", "no-store");
}

void get_readyz(struct app *app, const struct http_request *req, struct http_response *resp)
{
    int version = 0, rc;

    if (app->draining) {
        problem(resp, req, PROBLEM_NOT_READY, "the server is shutting down");
        return;
    }
    rc = store_schema_version(app->store, &version);
    if (rc != QUEUE_OK) {
        problem(resp, req, PROBLEM_NOT_READY, "the database does not answer: %s",
                queue_strerror(rc));
        return;
    }
    if (version != store_known_version()) {
        problem(resp, req, PROBLEM_NOT_READY, "database schema version %d, expected %d", version,
                store_known_version());
        return;
    }
    rc = store_check_writable(app->store);
    if (rc != QUEUE_OK) {
        problem(resp, req, rc == QUEUE_EBUSY ? PROBLEM_BUSY : PROBLEM_NOT_READY,
                "the database is not writable: %s", queue_strerror(rc));
        return;
    }
    http_response_json(resp, 200, CT_JSON,
                       json_pack("{s:s, s:i, s:i, s:i}", "status", "ready", "schema_version",
                                 version, "workers", app->cfg->workers, "in_flight",
                                 app->pool ? pool_in_flight(app->pool) : 0));
    http_response_header(resp, "Cache-Control", "no-store");
}

/* ---- live progress ------------------------------------------------------ */

void get_events(struct app *app, const struct http_request *req, struct http_response *resp,
                int64_t id)
{
    static const char *const params[] = {NULL};
    const char *lv = http_header(req, "Last-Event-ID");
    int64_t last = -1;
    struct job job;

    if (unknown_params(req, resp, params))
        return;
    if (lv && *lv && router_parse_int(lv, 0, INT64_MAX, &last) != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, "Last-Event-ID",
                      "Last-Event-ID must be an event id this server sent, got \"%.64s\"", lv);
        return;
    }
    if (load_job(app, req, resp, id, &job) != 0)
        return;
    job_free(&job);
    if (!app->sse || app->draining) {
        problem(resp, req, PROBLEM_NOT_READY, "event streams are not available now");
        return;
    }
    if (sse_open(app->sse, id, last, resp) != 0)
        problem(resp, req, PROBLEM_INTERNAL, "out of memory for an event stream");
}

/* ---- metrics ------------------------------------------------------------ */

void get_metrics(struct app *app, const struct http_request *req, struct http_response *resp)
{
    static const char *const params[] = {NULL};
    struct metrics_gauges g;
    size_t len = 0;
    char *text;

    if (unknown_params(req, resp, params))
        return;
    memset(&g, 0, sizeof g);
    g.have_jobs = queue_counts(app->store, g.jobs) == QUEUE_OK;
    g.running_tiles = app->pool ? pool_in_flight(app->pool) : 0;
    g.sse_clients = sse_clients(app->sse);
    g.shared = app->notify != NULL;
    g.listening = notify_live(app->notify);
    g.notifications = notify_count(app->notify);
    text = metrics_render(app->metrics, &g, clock_mono_ms(), &len);
    if (!text) {
        problem(resp, req, PROBLEM_INTERNAL, "no metrics in this process");
        return;
    }
    http_response_body(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    http_response_header(resp, "Cache-Control", "no-store");
}
