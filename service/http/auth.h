/*
 * auth.h - bearer-token access control for the /v1 API (--token-file,
 * TRAINBOUND_TOKEN_FILE).
 *
 * The token file holds one token per line; a line "ro:TOKEN" makes TOKEN a
 * read-only token (GET and HEAD only). Blank lines and lines starting with
 * '#' are skipped; a token is 1..4096 visible ASCII characters. Only the
 * SHA-256 digests of the tokens are kept in memory, and a presented token
 * is compared against every stored digest with a constant-time comparison
 * that never exits early, so neither the position of a match nor the
 * length of a token leaks through timing. Tokens are never logged: errors
 * name the line, never its text.
 *
 * Policy (auth_decide): paths under /v1 need `Authorization: Bearer T`;
 * /healthz, /livez, /readyz, /openapi.yaml and every OPTIONS request (CORS
 * preflights carry no credentials) stay open. A read-only token may GET and
 * HEAD; any other method is forbidden.
 *
 * Threads: auth_load on the main thread before the server starts; the
 * result is read-only afterwards and auth_decide may run on any thread.
 */
#ifndef TB_AUTH_H
#define TB_AUTH_H

#include <stddef.h>

struct auth;

#define AUTH_MAX_TOKENS 1024
#define AUTH_MAX_TOKEN_LEN 4096

enum auth_decision {
    AUTH_ALLOW = 0,     /* open route, or a token that may do this */
    AUTH_MISSING = 1,   /* no (usable) Authorization: Bearer header: 401 */
    AUTH_INVALID = 2,   /* a bearer token that matches none: 401 */
    AUTH_FORBIDDEN = 3, /* a read-only token on a write method: 403 */
};

/*
 * Reads the token file at path (borrowed). 0 with *out owned by the caller
 * (auth_free), or -1 with a one-line reason in err (errlen bytes) that
 * never quotes a token: unreadable file, no token in it, more than
 * AUTH_MAX_TOKENS, or a line with a bad token.
 */
int auth_load(const char *path, struct auth **out, char *err, size_t errlen);
void auth_free(struct auth *a);

/* Read-write and read-only tokens loaded, for the start-up log. */
void auth_counts(const struct auth *a, int *rw, int *ro);

/*
 * The decision for a request: method and path (percent-decoded, no query)
 * and the Authorization header value (NULL when absent); all borrowed.
 * a == NULL (no token file) allows everything.
 */
enum auth_decision auth_decide(const struct auth *a, const char *method, const char *path,
                               const char *authorization);

#endif /* TB_AUTH_H */
