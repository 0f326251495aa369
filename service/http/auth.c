/*
 * auth.c - the token file and the per-request access decision (auth.h).
 *
 * Owns: struct auth (the SHA-256 digests of the tokens and their roles),
 * built once by auth_load() and read-only afterwards.
 *
 * Threads: auth_load/auth_free on the main thread; auth_decide on any
 * thread (no state is written).
 *
 * Constant time: the presented token is hashed once (so its length does
 * not shape the comparison), then its digest is compared byte by byte with
 * every stored digest; the loop always runs over every token and every
 * byte and folds the outcome with bit operations, never a branch on a
 * secret byte.
 */
#include "auth.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sha256.h"

struct auth_token {
    char digest[SHA256_HEX_LEN]; /* lowercase hex of SHA-256(token) */
    unsigned read_only;          /* 1 for an "ro:" token */
};

struct auth {
    int n;
    struct auth_token tokens[AUTH_MAX_TOKENS];
};

/* 1 if every byte is visible ASCII (no space, no control). */
static int token_chars_ok(const char *t, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
            return 0;
    return 1;
}

int auth_load(const char *path, struct auth **out, char *err, size_t errlen)
{
    struct auth *a = NULL;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, ret = -1;

    *out = NULL;
    f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "--token-file %s: %s", path, strerror(errno));
        goto out;
    }
    a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "--token-file: out of memory");
        goto out;
    }
    while ((got = getline(&line, &cap, f)) >= 0) {
        char *t = line;
        size_t n = (size_t)got;
        unsigned ro = 0;

        lineno++;
        while (n > 0 &&
               (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' ' || t[n - 1] == '\t'))
            n--;
        while (n > 0 && (*t == ' ' || *t == '\t')) {
            t++;
            n--;
        }
        if (n == 0 || t[0] == '#')
            continue;
        if (n >= 3 && strncmp(t, "ro:", 3) == 0) {
            ro = 1;
            t += 3;
            n -= 3;
        }
        if (n == 0 || n > AUTH_MAX_TOKEN_LEN || !token_chars_ok(t, n)) {
            snprintf(err, errlen,
                     "--token-file %s: line %d: a token must be 1..%d visible ASCII characters",
                     path, lineno, AUTH_MAX_TOKEN_LEN);
            goto out;
        }
        if (a->n >= AUTH_MAX_TOKENS) {
            snprintf(err, errlen, "--token-file %s: more than %d tokens", path, AUTH_MAX_TOKENS);
            goto out;
        }
        sha256_hex(t, n, a->tokens[a->n].digest);
        a->tokens[a->n].read_only = ro;
        a->n++;
        /* Do not leave the token in the line buffer. */
        memset(line, 0, cap);
    }
    if (ferror(f)) {
        snprintf(err, errlen, "--token-file %s: read error", path);
        goto out;
    }
    if (a->n == 0) {
        snprintf(err, errlen, "--token-file %s: no token in the file", path);
        goto out;
    }
    *out = a;
    a = NULL;
    ret = 0;
out:
    if (line) {
        memset(line, 0, cap);
        free(line);
    }
    if (f)
        fclose(f);
    free(a);
    return ret;
}

void auth_free(struct auth *a)
{
    if (a)
        memset(a, 0, sizeof *a);
    free(a);
}

void auth_counts(const struct auth *a, int *rw, int *ro)
{
    int i;

    *rw = *ro = 0;
    for (i = 0; a && i < a->n; i++) {
        if (a->tokens[i].read_only)
            (*ro)++;
        else
            (*rw)++;
    }
}

/* The token of an "Authorization: Bearer TOKEN" value: *tok and *n, or -1
 * when the header is absent or not a bearer credential. */
static int bearer_token(const char *h, const char **tok, size_t *n)
{
    size_t len;

    if (!h)
        return -1;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return -1;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    len = strlen(h);
    while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    if (len == 0)
        return -1;
    *tok = h;
    *n = len;
    return 0;
}

/* 1 when the request needs a token: /v1 and below, except preflights. */
static int protected_path(const char *method, const char *path)
{
    if (!path || strncmp(path, "/v1", 3) != 0 || (path[3] != '\0' && path[3] != '/'))
        return 0;
    return !(method && strcmp(method, "OPTIONS") == 0);
}

enum auth_decision auth_decide(const struct auth *a, const char *method, const char *path,
                               const char *authorization)
{
    char digest[SHA256_HEX_LEN];
    const char *tok;
    size_t n;
    unsigned match_rw = 0, match_ro = 0;
    int i, k;

    if (!a || !protected_path(method, path))
        return AUTH_ALLOW;
    if (bearer_token(authorization, &tok, &n) != 0)
        return AUTH_MISSING;
    if (n > AUTH_MAX_TOKEN_LEN || !token_chars_ok(tok, n))
        return AUTH_INVALID;
    sha256_hex(tok, n, digest);
    for (i = 0; i < a->n; i++) {
        unsigned diff = 0, eq;
        for (k = 0; k < SHA256_HEX_LEN - 1; k++)
            diff |= (unsigned)(unsigned char)(digest[k] ^ a->tokens[i].digest[k]);
        eq = ((diff - 1u) >> 8) & 1u; /* 1 iff diff == 0 (diff <= 255) */
        match_rw |= eq & (a->tokens[i].read_only ^ 1u);
        match_ro |= eq & a->tokens[i].read_only;
    }
    memset(digest, 0, sizeof digest);
    if (match_rw)
        return AUTH_ALLOW;
    if (!match_ro)
        return AUTH_INVALID;
    if (method && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
        return AUTH_ALLOW;
    return AUTH_FORBIDDEN;
}
