/*
 * router.c - the route table and the request-parsing helpers (router.h).
 * Pure functions over borrowed strings.
 *
 * Threads: any thread; the table is constant.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base64.h"

#define MAX_JOB_ID 9007199254740992LL /* 2^53: exact in a JSON number */

int router_check_id(const char *s, size_t n, int64_t *id)
{
    int64_t v = 0;
    size_t i;

    if (n == 0 || s[0] == '0')
        return -1;
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    if (n > 16)
        return -2;
    for (i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    if (v > MAX_JOB_ID)
        return -2;
    *id = v;
    return 0;
}

int router_parse_id(const char *s, size_t n, int64_t *id)
{
    return router_check_id(s, n, id) == 0 ? 0 : -1;
}

int router_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    int neg = 0;
    int64_t v = 0;
    size_t i = 0;

    if (!s || !*s)
        return -1;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (!s[i])
        return -1;
    for (; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (neg)
        v = -v;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int router_parse_bool(const char *s, int *out)
{
    if (!s)
        return -1;
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = 1;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* ---- routes ------------------------------------------------------------- */

struct route_def {
    enum route_id id;
    const char *name;
    const char *suffix; /* after /v1/jobs/{id}, or the full path when !has_id */
    int has_id;
    const char *methods[3]; /* allowed methods besides HEAD and OPTIONS */
    const char *allow;
};

static const struct route_def routes[] = {
    {ROUTE_HEALTHZ, "/healthz", "/healthz", 0, {"GET"}, "GET, HEAD, OPTIONS"},
    {ROUTE_HEALTHZ, "/livez", "/livez", 0, {"GET"}, "GET, HEAD, OPTIONS"},
    {ROUTE_READYZ, "/readyz", "/readyz", 0, {"GET"}, "GET, HEAD, OPTIONS"},
    {ROUTE_OPENAPI, "/openapi.yaml", "/openapi.yaml", 0, {"GET"}, "GET, HEAD, OPTIONS"},
    {ROUTE_JOBS, "/v1/jobs", "/v1/jobs", 0, {"GET", "POST"}, "GET, HEAD, POST, OPTIONS"},
    {ROUTE_JOB, "/v1/jobs/{id}", "", 1, {"GET", "DELETE"}, "GET, HEAD, DELETE, OPTIONS"},
    {ROUTE_JOB_RESULT, "/v1/jobs/{id}/result", "/result", 1, {"GET"}, "GET, HEAD, OPTIONS"},
    {ROUTE_JOB_DIMENSION,
     "/v1/jobs/{id}/dimension",
     "/dimension",
     1,
     {"GET"},
     "GET, HEAD, OPTIONS"},
    {ROUTE_JOB_BOUNDARY, "/v1/jobs/{id}/boundary", "/boundary", 1, {"GET"}, "GET, HEAD, OPTIONS"},
    {ROUTE_JOB_CANCEL, "/v1/jobs/{id}/cancel", "/cancel", 1, {"POST"}, "POST, OPTIONS"},
    {ROUTE_JOB_CELLS, "/v1/jobs/{id}/cells", "/cells", 1, {"GET"}, "GET, HEAD, OPTIONS"},
    {ROUTE_JOB_BOUNDARY,
     "/v1/jobs/{id}/boundary.png",
     "/boundary.png",
     1,
     {"GET"},
     "GET, HEAD, OPTIONS"},
    {ROUTE_JOB_EVENTS, "/v1/jobs/{id}/events", "/events", 1, {"GET"}, "GET, OPTIONS"},
    {ROUTE_METRICS, "/metrics", "/metrics", 0, {"GET"}, "GET, HEAD, OPTIONS"},
    {ROUTE_OPENAPI_JSON, "/openapi.json", "/openapi.json", 0, {"GET"}, "GET, HEAD, OPTIONS"},
    {ROUTE_WEB, "/", "/", 0, {"GET"}, "GET, HEAD, OPTIONS"},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static int method_allowed(const struct route_def *r, const char *method)
{
    size_t i;

    if (strcmp(method, "OPTIONS") == 0)
        return 1;
    for (i = 0; i < 3 && r->methods[i]; i++) {
        if (strcmp(method, r->methods[i]) == 0)
            return 1;
        if (strcmp(r->methods[i], "GET") == 0 && strcmp(method, "HEAD") == 0)
            return 1;
    }
    return 0;
}

int router_match(const char *method, const char *path, struct route_match *m)
{
    static const char prefix[] = "/v1/jobs/";
    const size_t plen = sizeof prefix - 1;
    const struct route_def *hit = NULL;
    int64_t id = 0;
    size_t i;

    memset(m, 0, sizeof *m);
    if (!method || !path)
        return ROUTER_ENOTFOUND;
    if (strncmp(path, prefix, plen) == 0) {
        const char *seg = path + plen, *slash = strchr(seg, '/');
        size_t seglen = slash ? (size_t)(slash - seg) : strlen(seg);
        const char *rest = seg + seglen;

        int bad = seglen == 0 ? 0 : router_check_id(seg, seglen, &id);

        if (seglen == 0)
            return ROUTER_ENOTFOUND;
        for (i = 0; i < N_ROUTES; i++)
            if (routes[i].has_id && strcmp(rest, routes[i].suffix) == 0) {
                hit = &routes[i];
                break;
            }
        if (hit && bad != 0) {
            /* A known route with an id that is no job's: a problem that
             * says what an id is, not "no route". */
            m->id = hit->id;
            m->name = hit->name;
            m->allow = hit->allow;
            if (!method_allowed(hit, method))
                return ROUTER_EMETHOD;
            if (strcmp(method, "OPTIONS") == 0)
                return ROUTER_OK;
            return bad == -2 ? ROUTER_EIDRANGE : ROUTER_EBADID;
        }
        if (bad != 0)
            return ROUTER_ENOTFOUND;
    } else if (strncmp(path, "/web/", 5) == 0 && path[5]) {
        static const struct route_def web = {ROUTE_WEB, "/web/{file}", "",
                                             0,         {"GET"},       "GET, HEAD, OPTIONS"};
        hit = &web;
    } else {
        for (i = 0; i < N_ROUTES; i++)
            if (!routes[i].has_id && strcmp(path, routes[i].suffix) == 0) {
                hit = &routes[i];
                break;
            }
    }
    if (!hit)
        return ROUTER_ENOTFOUND;
    m->id = hit->id;
    m->name = hit->name;
    m->allow = hit->allow;
    m->job_id = id;
    m->has_body = hit->id == ROUTE_JOBS && strcmp(method, "POST") == 0;
    return method_allowed(hit, method) ? ROUTER_OK : ROUTER_EMETHOD;
}

/* ---- headers ------------------------------------------------------------ */

/* Skips optional whitespace. */
static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Length of s up to one of the stop characters or the end, with trailing
 * whitespace removed. */
static size_t token_len(const char *s, const char *stops)
{
    size_t n = strcspn(s, stops);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

int router_is_json_type(const char *ct)
{
    size_t n;
    const char *p;

    if (!ct)
        return 0;
    ct = skip_ows(ct);
    n = token_len(ct, ";");
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0) {
        /* ok */
    } else if (n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
               strncasecmp(ct + n - 5, "+json", 5) == 0 && !memchr(ct + 12, '/', n - 12)) {
        /* ok: a structured-syntax suffix */
    } else {
        return 0;
    }
    /* Parameters: only charset is checked. */
    for (p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
        const char *q = skip_ows(p + 1);
        if (strncasecmp(q, "charset=", 8) == 0) {
            const char *v = q + 8;
            size_t vn;
            if (*v == '"')
                v++;
            vn = token_len(v, ";\"");
            if (!((vn == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
                  (vn == 4 && strncasecmp(v, "utf8", 4) == 0)))
                return 0;
        }
    }
    return 1;
}

int router_accepts(const char *accept, const char *type)
{
    const char *p = accept;
    size_t tlen;

    if (!accept || !type)
        return 0;
    tlen = strlen(type);
    while (*p) {
        const char *item = skip_ows(p), *end = strchr(item, ','), *semi;
        size_t n = token_len(item, ";,");
        int q_zero = 0;

        if (!end)
            end = item + strlen(item);
        for (semi = memchr(item, ';', (size_t)(end - item)); semi && semi < end;
             semi = memchr(semi + 1, ';', (size_t)(end - semi - 1))) {
            const char *q = skip_ows(semi + 1);
            if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                const char *v = q + 2;
                /* q=0, q=0.0, q=0.00, q=0.000 mean "not acceptable". */
                if (v[0] == '0') {
                    size_t k = 1;
                    if (v[1] == '.')
                        for (k = 2; v[k] == '0'; k++)
                            ;
                    if (v + k >= end || v[k] == ',' || v[k] == ';' || v[k] == ' ')
                        q_zero = 1;
                }
            }
        }
        if (n == tlen && strncasecmp(item, type, tlen) == 0 && !q_zero)
            return 1;
        if (!*end)
            break;
        p = end + 1;
    }
    return 0;
}

/* Compares entity tags weakly: strips W/ from both, then the quoted
 * opaque parts must be byte-equal. a has alen bytes. */
static int etag_weak_eq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);

    if (alen >= 2 && a[0] == 'W' && a[1] == '/') {
        a += 2;
        alen -= 2;
    }
    if (blen >= 2 && b[0] == 'W' && b[1] == '/') {
        b += 2;
        blen -= 2;
    }
    return alen == blen && memcmp(a, b, alen) == 0;
}

int router_etag_match(const char *inm, const char *etag)
{
    const char *p = inm;

    if (!inm || !etag)
        return 0;
    while (*p) {
        const char *item = skip_ows(p);
        size_t n = token_len(item, ",");
        if (n == 1 && item[0] == '*')
            return 1;
        if (n > 0 && etag_weak_eq(item, n, etag))
            return 1;
        p = item + strcspn(item, ",");
        if (*p == ',')
            p++;
    }
    return 0;
}

/* ---- cursors ------------------------------------------------------------ */

void router_cursor_encode(int64_t next, char *out)
{
    char plain[32];
    int n = snprintf(plain, sizeof plain, "jobs<%lld", (long long)next);

    base64_encode(plain, (size_t)n, 1, out);
}

int router_cursor_decode(const char *s, int64_t *next)
{
    unsigned char plain[32];
    size_t len;
    long n;

    if (!s)
        return -1;
    len = strlen(s);
    if (len == 0 || len >= ROUTER_CURSOR_LEN)
        return -1;
    n = base64url_decode(s, len, plain, sizeof plain);
    if (n <= 5 || memcmp(plain, "jobs<", 5) != 0)
        return -1;
    return router_parse_id((const char *)plain + 5, (size_t)n - 5, next);
}

/* ---- content negotiation ------------------------------------------------ */

/* The q of one Accept item's parameters (between semi and end) in
 * thousandths: 1000 when absent or unreadable. */
static int item_q(const char *p, const char *end)
{
    while (p && p < end) {
        const char *q = skip_ows(p + 1);
        if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
            const char *v = q + 2;
            int val, scale = 100;
            if (v[0] != '0' && v[0] != '1')
                return 1000;
            val = (v[0] - '0') * 1000;
            if (v[1] == '.')
                for (v += 2; *v >= '0' && *v <= '9' && v < end && scale > 0; v++, scale /= 10)
                    val += (*v - '0') * scale;
            return val > 1000 ? 1000 : val;
        }
        p = memchr(p + 1, ';', (size_t)(end - p - 1));
    }
    return 1000;
}

/* The q (thousandths) that Accept gives `type` by its most specific
 * matching range (type/sub over type/x-wildcard over the full wildcard),
 * -1 when no range matches. */
static int accept_q(const char *accept, const char *type)
{
    const char *p = accept, *slash = strchr(type, '/');
    size_t tlen = strlen(type), major = slash ? (size_t)(slash - type) : tlen;
    int best_spec = 0, best_q = -1;

    while (*p) {
        const char *item = skip_ows(p), *end = strchr(item, ','), *semi;
        size_t n = token_len(item, ";,");
        int spec = 0, q;

        if (!end)
            end = item + strlen(item);
        semi = memchr(item, ';', (size_t)(end - item));
        q = item_q(semi, end);
        if (n == tlen && strncasecmp(item, type, tlen) == 0)
            spec = 3;
        else if (n == major + 2 && strncasecmp(item, type, major + 1) == 0 &&
                 item[major + 1] == '*')
            spec = 2;
        else if (n == 3 && strncmp(item, "*/*", 3) == 0)
            spec = 1;
        if (spec > best_spec || (spec == best_spec && spec > 0 && q > best_q)) {
            best_spec = spec;
            best_q = q;
        }
        if (!*end)
            break;
        p = end + 1;
    }
    return best_spec ? best_q : -1;
}

int router_negotiate(const char *accept, const char *const *offered, size_t n)
{
    int best = -1, best_q = 0;
    size_t i;

    if (!accept || !*skip_ows(accept) || n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        int q = accept_q(accept, offered[i]);
        if (q > best_q) {
            best_q = q;
            best = (int)i;
        }
    }
    return best;
}
