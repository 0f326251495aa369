/*
 * fuzz_http.c - libFuzzer driver for the HTTP request path below
 * libmicrohttpd: routing (service/http/router.c), the query and header parsers,
 * the list cursor, and the bearer-token gate (service/http/auth.c).
 *
 * An input is read as a request: the first line is the method, the second
 * the target (path and query), then "Name: value" header lines. The driver
 * routes the path, parses every query value with the parsers the handlers
 * use (ids, bounded integers, booleans, cursors), feeds Content-Type,
 * Accept, If-None-Match and Authorization to their parsers, and aborts on
 * any broken contract:
 *
 *   - a matched route with an {id} carries an id in 1..2^53, and the id
 *     segment printed back is the path's (router_parse_id is canonical);
 *   - a cursor that decodes encodes back to the same text (the cursor is
 *     opaque: decoding refuses anything the encoder did not produce);
 *   - router_parse_int's result is within its bounds;
 *   - a read-only token is never allowed to write, a wrong token never
 *     passes, and /healthz stays open whatever the header says.
 *
 * Tokens: one read-write and one read-only, from a token file written to
 * a temporary directory on first use. The same function runs without
 * libFuzzer through replay_main.c (make fuzz-regress).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "router.h"

#define RW_TOKEN "rw-token-0123456789abcdef"
#define RO_TOKEN "ro-token-fedcba9876543210"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what)
{
    fprintf(stderr, "fuzz_http: broken invariant: %s\n", what);
    abort();
}

static struct auth *tokens(void)
{
    static struct auth *a;
    static int tried;
    char dir[] = "/tmp/fuzz-http-XXXXXX", path[64], err[128];
    FILE *f;

    if (tried)
        return a;
    tried = 1;
    if (!mkdtemp(dir))
        broken("mkdtemp");
    snprintf(path, sizeof path, "%s/tokens", dir);
    f = fopen(path, "w");
    if (!f)
        broken("token file");
    fputs("# test tokens\n" RW_TOKEN "\nro:" RO_TOKEN "\n", f);
    fclose(f);
    if (auth_load(path, &a, err, sizeof err) != 0)
        broken(err);
    unlink(path);
    rmdir(dir);
    return a;
}

static void check_query_value(const char *key, const char *val)
{
    int64_t v, id;
    int b;
    char again[ROUTER_CURSOR_LEN];

    if (router_parse_int(val, 1, 100, &v) == 0 && (v < 1 || v > 100))
        broken("router_parse_int out of bounds");
    if (router_parse_int(val, INT64_MIN, INT64_MAX, &v) == 0 && strcmp(key, "x") == 0)
        (void)v;
    if (router_parse_bool(val, &b) == 0 && b != 0 && b != 1)
        broken("router_parse_bool");
    if (router_cursor_decode(val, &v) == 0) {
        router_cursor_encode(v, again);
        if (strcmp(again, val) != 0)
            broken("cursor decodes but does not encode back");
    }
    if (router_parse_id(val, strlen(val), &id) == 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRId64, id);
        if (id < 1 || id > ((int64_t)1 << 53) || strcmp(buf, val) != 0)
            broken("router_parse_id is not canonical");
    }
}

/* The token of an Authorization value as RFC 9110 reads it: the scheme
 * "Bearer" in any case, then blanks, the token, optional trailing blanks.
 * Writes it to out (cap bytes); 0, or -1 when the value is not that. */
static int bearer_token(const char *h, char *out, size_t cap)
{
    size_t n;

    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return -1;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    n = strlen(h);
    while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, h, n);
    out[n] = '\0';
    return 0;
}

static void check_auth(const char *method, const char *path, const char *authz)
{
    char tok[256];
    int has_rw, has_ro;
    struct auth *a = tokens();
    enum auth_decision d = auth_decide(a, method, path, authz);
    int write = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
                strcmp(method, "OPTIONS") != 0;

    has_rw = authz && bearer_token(authz, tok, sizeof tok) == 0 && strcmp(tok, RW_TOKEN) == 0;
    has_ro = authz && bearer_token(authz, tok, sizeof tok) == 0 && strcmp(tok, RO_TOKEN) == 0;
    if (strcmp(path, "/healthz") == 0 && d != AUTH_ALLOW)
        broken("/healthz must stay open");
    if (d == AUTH_ALLOW && has_ro && write && strncmp(path, "/v1/", 4) == 0)
        broken("a read-only token wrote");
    if (d == AUTH_ALLOW && strncmp(path, "/v1/", 4) == 0 && strcmp(method, "OPTIONS") != 0 &&
        !has_rw && !has_ro)
        broken("a /v1 route passed without a valid token");
    if (has_rw && d != AUTH_ALLOW)
        broken("the read-write token was refused");
    /* the decision never depends on anything but its arguments */
    if (auth_decide(a, method, path, authz) != d)
        broken("auth_decide is not a function of its arguments");
    if (auth_decide(NULL, method, path, authz) != AUTH_ALLOW)
        broken("no token file must allow everything");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *line, *save = NULL, *method, *target, *q, *path;
    struct route_match m;
    int rc, n = 0;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    method = strtok_r(buf, "\n", &save);
    target = method ? strtok_r(NULL, "\n", &save) : NULL;
    if (!method || !target) {
        free(buf);
        return 0;
    }
    q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    path = target;

    memset(&m, 0, sizeof m);
    rc = router_match(method, path, &m);
    if (rc == 0 && m.job_id != 0 && (m.job_id < 1 || m.job_id > ((int64_t)1 << 53)))
        broken("route id out of range");
    if (rc == 0 && (!m.name || !m.allow))
        broken("a matched route without name or Allow");

    while (q && *q && n++ < 64) {
        char *amp = strchr(q, '&'), *eq;
        if (amp)
            *amp = '\0';
        eq = strchr(q, '=');
        if (eq) {
            *eq = '\0';
            check_query_value(q, eq + 1);
        } else {
            check_query_value(q, "");
        }
        q = amp ? amp + 1 : NULL;
    }

    check_auth(method, path, NULL);
    while ((line = strtok_r(NULL, "\n", &save)) != NULL && n++ < 128) {
        char *colon = strchr(line, ':'), *val;
        if (!colon)
            continue;
        *colon = '\0';
        val = colon + 1;
        while (*val == ' ')
            val++;
        if (strcmp(line, "Content-Type") == 0)
            (void)router_is_json_type(val);
        else if (strcmp(line, "Accept") == 0)
            (void)router_accepts(val, "application/octet-stream");
        else if (strcmp(line, "If-None-Match") == 0)
            (void)router_etag_match(val, "W/\"7-3\"");
        else if (strcmp(line, "Authorization") == 0)
            check_auth(method, path, val);
        else
            check_query_value(line, val);
    }
    free(buf);
    return 0;
}
