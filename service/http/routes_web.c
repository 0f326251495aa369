/*
 * routes_web.c - the files embedded in the binary (embed.h): the
 * dashboard, GET / and /web/FILE, and the API's description,
 * GET /openapi.yaml and /openapi.json.
 *
 * Owns: nothing beyond a call (each answer copies its file).
 * Threads: loop thread only.
 */
#include "routes_int.h"

#include <stdio.h>
#include <string.h>

#include "embed.h"
#include "xalloc.h"

/* The embedded file whose name ends with suffix (after a '/'), or NULL. */
static const struct embed_file *asset(const char *suffix)
{
    size_t i, n = strlen(suffix);

    for (i = 0; i < assets_count && assets_files[i].name; i++) {
        size_t k = strlen(assets_files[i].name);
        if (k > n && strcmp(assets_files[i].name + k - n, suffix) == 0 &&
            assets_files[i].name[k - n - 1] == '/')
            return &assets_files[i];
    }
    return NULL;
}

static void send_asset(struct http_response *resp, const struct embed_file *f, const char *type)
{
    char *copy = xmalloc(f->len + 1);

    memcpy(copy, f->data, f->len + 1);
    http_response_body(resp, 200, type, copy, f->len);
    http_response_header(resp, "Cache-Control", "no-cache");
    http_response_header(resp, "X-Content-Type-Options", "nosniff");
}

/* ---- the API description ------------------------------------------------ */

void get_openapi(struct app *app, const struct http_request *req, struct http_response *resp)
{
    size_t i;

    (void)app;
    for (i = 0; i < assets_count && assets_files[i].name; i++) {
        if (strcmp(assets_files[i].name, "api/openapi.yaml") == 0) {
            char *copy = xmalloc(assets_files[i].len + 1);
            memcpy(copy, assets_files[i].data, assets_files[i].len + 1);
            http_response_body(resp, 200, CT_YAML, copy, assets_files[i].len);
            http_response_header(resp, "Cache-Control", "no-cache");
            return;
        }
    }
    problem(resp, req, PROBLEM_NOT_FOUND, "this build embeds no api/openapi.yaml");
}

void get_openapi_json(struct app *app, const struct http_request *req, struct http_response *resp)
{
    const struct embed_file *f = asset("gen/openapi.json");

    (void)app;
    if (f)
        send_asset(resp, f, CT_JSON);
    else
        problem(resp, req, PROBLEM_NOT_FOUND, "this build embeds no openapi.json");
}

/* ---- the dashboard ------------------------------------------------------ */

/* GET / and /web/FILE: service/web/index.html and service/web/FILE;
 * /web/examples/NAME.json is api/examples/NAME.json. */
void get_web(struct app *app, const struct http_request *req, struct http_response *resp)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".svg", "image/svg+xml"},
                 {".json", CT_JSON},
                 {".txt", "text/plain; charset=utf-8"}};
    char name[256];
    const struct embed_file *f = NULL;
    const char *type = CT_OCTETS;
    size_t i, n;

    (void)app;
    if (strcmp(req->path, "/") == 0)
        snprintf(name, sizeof name, "service/web/index.html");
    else if (strncmp(req->path, "/web/examples/", 14) == 0 && strlen(req->path) < 200 &&
             !strchr(req->path + 14, '/'))
        snprintf(name, sizeof name, "api/examples/%s", req->path + 14); /* the presets */
    else if (strlen(req->path) < 200 && !strstr(req->path, ".."))
        snprintf(name, sizeof name, "service/web/%s", req->path + 5);
    else
        name[0] = '\0';
    for (i = 0; name[0] && i < assets_count && assets_files[i].name; i++)
        if (strcmp(assets_files[i].name, name) == 0)
            f = &assets_files[i];
    if (!f) {
        problem(resp, req, PROBLEM_NOT_FOUND, "no file %.200s", req->path);
        return;
    }
    n = strlen(name);
    for (i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t k = strlen(types[i].ext);
        if (n > k && strcmp(name + n - k, types[i].ext) == 0)
            type = types[i].type;
    }
    send_asset(resp, f, type);
    http_response_header(resp, "Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data: blob:; "
                         "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
}
