/*
 * routes.c - the REST API's dispatch (routes.h): the size limits of the
 * request target and headers, the bearer-token gate, the route match
 * (404, 405 + Allow, a bad {id}, OPTIONS), the body's media type and
 * size, CORS on every answer, and the switch to the handlers, which live
 * in one file per resource (routes_int.h lists them).
 *
 * Owns: nothing beyond a call; every answer is built into the struct
 * http_response that http.c hands in.
 * Threads: loop thread only (inside MHD_run()); a deferred answer
 * (routes_boundary.c, routes_cells.c) adds its CORS headers itself.
 */
#include "routes.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "cors.h"
#include "metrics.h"
#include "router.h"
#include "routes_int.h"
#include "utf8.h"

/* ---- dispatch ----------------------------------------------------------- */

/* Answers 404 / 405 / OPTIONS for a request whose route did not match or
 * whose method is not allowed. Returns 1 after answering. */
static int route_or_answer(const struct http_request *req, struct http_response *resp,
                           struct route_match *m)
{
    int rc = router_match(req->method, req->path, m);

    if (rc == ROUTER_ENOTFOUND) {
        problem(resp, req, PROBLEM_NOT_FOUND, "no route %.200s", req->path);
        return 1;
    }
    if (rc == ROUTER_EBADID || rc == ROUTER_EIDRANGE) {
        const char *seg = req->path + strlen("/v1/jobs/");
        int n = (int)strcspn(seg, "/");
        char safe[72];
        char cut[65];

        snprintf(cut, sizeof cut, "%.*s", n < 64 ? n : 64, seg);
        utf8_sanitize(cut, safe, sizeof safe);
        if (rc == ROUTER_EBADID) {
            json_t *doc = problem_new(PROBLEM_INVALID_PARAMETER, req->path,
                                      "the job id must be a positive integer (1..2^53, decimal, no "
                                      "sign or leading zero), got \"%s\"",
                                      safe);
            if (doc)
                json_object_set_new(doc, "parameter", json_string("id"));
            http_response_json(resp, 400, CT_PROBLEM, doc);
        } else {
            problem(resp, req, PROBLEM_NOT_FOUND,
                    "no job %s: a job id is a positive integer up to 2^53 = 9007199254740992",
                    safe);
        }
        return 1;
    }
    if (rc == ROUTER_EMETHOD) {
        problem(resp, req, PROBLEM_METHOD_NOT_ALLOWED, "%.16s is not allowed on %.200s; use %s",
                req->method, m->name, m->allow);
        http_response_header(resp, "Allow", m->allow);
        return 1;
    }
    if (strcmp(req->method, "OPTIONS") == 0) {
        http_response_body(resp, 204, NULL, NULL, 0);
        http_response_header(resp, "Allow", m->allow);
        return 1;
    }
    return 0;
}

/* The bearer-token gate (auth.h), before routing so that an anonymous
 * client learns nothing about /v1. Returns 1 after answering 401/403. */
static int auth_refused(struct app *app, const struct http_request *req,
                        struct http_response *resp)
{
    switch (auth_decide(app->auth, req->method, req->path, http_header(req, "Authorization"))) {
    case AUTH_ALLOW:
        return 0;
    case AUTH_MISSING:
        problem(resp, req, PROBLEM_UNAUTHORIZED,
                "this route needs an Authorization: Bearer token (--token-file)");
        return 1;
    case AUTH_INVALID:
        problem(resp, req, PROBLEM_UNAUTHORIZED, "the bearer token is not valid");
        return 1;
    case AUTH_FORBIDDEN:
        problem(resp, req, PROBLEM_FORBIDDEN, "a read-only token may only GET; %.16s is a write",
                req->method);
        return 1;
    }
    return 0;
}

static int64_t on_headers(void *user, const struct http_request *req, struct http_response *resp)
{
    struct app *app = user;
    struct route_match m;

    if (req->target_bytes > HTTP_MAX_TARGET) {
        problem(resp, req, PROBLEM_URI_TOO_LONG, "the request target has %zu bytes; at most %d",
                req->target_bytes, HTTP_MAX_TARGET);
        return -1;
    }
    if (req->header_bytes > HTTP_MAX_HEADER_BYTES) {
        problem(resp, req, PROBLEM_HEADERS_TOO_LARGE,
                "the header fields have %zu bytes; at most %d",
                req->header_bytes, HTTP_MAX_HEADER_BYTES);
        return -1;
    }
    if (auth_refused(app, req, resp))
        return -1;
    if (route_or_answer(req, resp, &m))
        return -1;
    if (!m.has_body)
        return 0;
    if (!router_is_json_type(http_header(req, "Content-Type"))) {
        const char *ct = http_header(req, "Content-Type");
        problem(resp, req, PROBLEM_UNSUPPORTED_MEDIA,
                "send the spec as application/json (UTF-8), not %.100s",
                ct ? ct : "a body without Content-Type");
        return -1;
    }
    if (req->content_length >= 0 && (uint64_t)req->content_length > app->cfg->max_body) {
        problem(resp, req, PROBLEM_BODY_TOO_LARGE,
                "the body is %" PRId64 " bytes, over the limit of %" PRIu64 " bytes (--max-body)",
                req->content_length, app->cfg->max_body);
        return -1;
    }
    return (int64_t)app->cfg->max_body;
}

static void on_handle(void *user, const struct http_request *req, struct http_response *resp)
{
    struct app *app = user;
    struct route_match m;
    const int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;

    if (route_or_answer(req, resp, &m))
        return;
    switch (m.id) {
    case ROUTE_HEALTHZ:
        get_healthz(app, req, resp);
        return;
    case ROUTE_READYZ:
        get_readyz(app, req, resp);
        return;
    case ROUTE_OPENAPI:
        get_openapi(app, req, resp);
        return;
    case ROUTE_JOBS:
        if (get)
            get_jobs(app, req, resp);
        else
            post_jobs(app, req, resp);
        return;
    case ROUTE_JOB:
        if (get)
            get_job(app, req, resp, m.job_id);
        else
            delete_job(app, req, resp, m.job_id);
        return;
    case ROUTE_JOB_RESULT:
        get_result(app, req, resp, m.job_id);
        return;
    case ROUTE_JOB_DIMENSION:
        get_dimension(app, req, resp, m.job_id);
        return;
    case ROUTE_JOB_BOUNDARY:
        get_boundary(app, req, resp, m.job_id);
        return;
    case ROUTE_JOB_CANCEL:
        post_cancel(app, req, resp, m.job_id);
        return;
    case ROUTE_JOB_EVENTS:
        get_events(app, req, resp, m.job_id);
        return;
    case ROUTE_METRICS:
        get_metrics(app, req, resp);
        return;
    case ROUTE_OPENAPI_JSON:
        get_openapi_json(app, req, resp);
        return;
    case ROUTE_WEB:
        get_web(app, req, resp);
        return;
    case ROUTE_JOB_CELLS:
        get_cells(app, req, resp, m.job_id);
        return;
    case ROUTE_NONE:
        break;
    }
    problem(resp, req, PROBLEM_NOT_FOUND, "no route %.200s", req->path);
}

static const char *on_route_name(void *user, const char *method, const char *path)
{
    struct route_match m;

    (void)user;
    router_match(method, path, &m);
    return m.name;
}

/* CORS (cors.h) on every answer, and the preflight extras on OPTIONS. */
void add_cors(struct app *app, const struct http_request *req, struct http_response *resp)
{
    const char *origin = http_header(req, "Origin");

    if (!app->cfg->cors_origin[0])
        return;
    cors_headers(app->cfg->cors_origin, origin, resp);
    if (strcmp(req->method, "OPTIONS") == 0 && resp->status == 204) {
        struct route_match m;
        router_match(req->method, req->path, &m);
        if (m.allow)
            cors_preflight(app->cfg->cors_origin, origin, m.allow, resp);
    }
}

static int64_t on_headers_cors(void *user, const struct http_request *req,
                               struct http_response *resp)
{
    int64_t cap = on_headers(user, req, resp);

    if (cap < 0)
        add_cors(user, req, resp);
    return cap;
}

static void on_handle_cors(void *user, const struct http_request *req, struct http_response *resp)
{
    on_handle(user, req, resp);
    if (resp->status != 0) /* else deferred (http_defer()): added with the answer */
        add_cors(user, req, resp);
}

static void on_completed(void *user, const char *route, int status, double seconds)
{
    struct app *app = user;

    metrics_request(app->metrics, route, status, seconds);
}

void routes_handlers(struct app *app, struct http_handlers *h)
{
    route_metrics = app->metrics;
    h->headers = on_headers_cors;
    h->handle = on_handle_cors;
    h->route_name = on_route_name;
    h->completed = on_completed;
    h->user = app;
}
