/*
 * store.c - the connection calls of queue.h, backend-neutral: which
 * backend serves a --db value, and the dispatch of store_open, store_close,
 * store_schema_version, store_known_version, store_check_writable and
 * store_errmsg through the store's ops table (queue_backend.h). Also
 * queue_strerror.
 *
 * Backends: a --db value is matched against the prefixes below, first
 * match wins: a postgresql:// (or postgres://) URI is PostgreSQL (libpq,
 * issue 15), a plain path is SQLite. store_target_check() refuses what no
 * backend takes (today: only a missing value), before anything opens.
 *
 * Threads: any; no state but the constant table.
 */
#include <stddef.h>
#include <string.h>

#include "queue_backend.h"

static const struct {
    const char *prefix;              /* what the value starts with; "" = anything */
    const struct queue_backend *ops; /* NULL: not in this build */
} backends[] = {
    {"postgresql://", &queue_backend_pg},
    {"postgres://", &queue_backend_pg},
    {"", &queue_backend_sqlite}, /* a file path, as --db always took */
};

/* The entry that serves target (never NULL: the last one takes anything). */
static size_t backend_for(const char *target)
{
    size_t i, n = sizeof backends / sizeof backends[0];

    for (i = 0; i + 1 < n; i++)
        if (strncmp(target, backends[i].prefix, strlen(backends[i].prefix)) == 0)
            break;
    return i;
}

const char *store_target_check(const char *target)
{
    if (!target)
        return "the database must be named";
    return backends[backend_for(target)].ops ? NULL : "no backend for this database";
}

const char *store_target_redact(const char *target, char *buf, size_t cap)
{
    const char *p = target ? target : "", *auth = strstr(p, "://"), *at, *colon, *key;
    size_t n = 0;

    if (cap == 0)
        return buf;
    buf[0] = '\0';
    /* Appends the bytes [from, to) of the target, or a string. */
#define PUT(from, len)                                                                             \
    do {                                                                                           \
        size_t k_ = (len) < cap - 1 - n ? (len) : cap - 1 - n;                                     \
        memcpy(buf + n, (from), k_);                                                               \
        n += k_;                                                                                   \
        buf[n] = '\0';                                                                             \
    } while (0)
    if (auth) {
        auth += 3;
        at = strchr(auth, '@');
        colon = strchr(auth, ':');
        if (at && colon && colon < at && !memchr(auth, '/', (size_t)(at - auth))) {
            PUT(p, (size_t)(colon + 1 - p));
            PUT("***", 3);
            p = at;
        }
    }
    while ((key = strstr(p, "password=")) != NULL) {
        PUT(p, (size_t)(key + 9 - p));
        PUT("***", 3);
        p = key + 9 + strcspn(key + 9, "&");
    }
    PUT(p, strlen(p));
#undef PUT
    return buf;
}

int store_open(const char *path, int migrate, int busy_timeout_ms, int synchronous_normal,
               struct store **out)
{
    return store_open_why(path, migrate, busy_timeout_ms, synchronous_normal, out, NULL, 0);
}

int store_open_why(const char *path, int migrate, int busy_timeout_ms, int synchronous_normal,
                   struct store **out, char *why, size_t why_cap)
{
    struct store_options o = {migrate, busy_timeout_ms, !synchronous_normal, why, why_cap};

    if (why && why_cap)
        why[0] = '\0';
    if (!out)
        return QUEUE_EINVAL;
    *out = NULL;
    if (store_target_check(path))
        return QUEUE_EINVAL; /* no path, or no backend for it in this build */
    return backends[backend_for(path)].ops->open(path, &o, out);
}

int store_shared(struct store *s)
{
    return s && s->ops->shared;
}

int store_target_shared(const char *target)
{
    return target && backends[backend_for(target)].ops && backends[backend_for(target)].ops->shared;
}

int store_connected(struct store *s)
{
    return !s->ops->connected || s->ops->connected(s);
}

int store_reconnect(struct store *s)
{
    return s->ops->reconnect ? s->ops->reconnect(s) : QUEUE_OK;
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

int store_schema_version(struct store *s, int *version)
{
    return s->ops->schema_version(s, version);
}

/* The default backend's (a plain path's): what a fresh database gets.
 * Every backend numbers its migrations alike (queue_backend.h), so this is
 * the version of any store this binary opens. */
int store_known_version(void)
{
    return backends[backend_for("")].ops->known_version();
}

int store_check_writable(struct store *s)
{
    return s->ops->check_writable(s);
}

const char *store_errmsg(struct store *s)
{
    if (!s || !s->ops)
        return "no database";
    return s->ops->errmsg(s);
}

const char *queue_strerror(int code)
{
    switch (code) {
    case QUEUE_OK:
        return "success";
    case QUEUE_ENOENT:
        return "no such job, or nothing to claim";
    case QUEUE_EFULL:
        return "the queue is full";
    case QUEUE_ECONFLICT:
        return "conflict with the job's state or idempotency key";
    case QUEUE_EBUSY:
        return "the database is busy";
    case QUEUE_EIO:
        return "database I/O error (I/O failure or corrupt file)";
    case QUEUE_ENOSPC:
        return "disk full: the database cannot grow";
    case QUEUE_EREADONLY:
        return "the database is read-only";
    case QUEUE_ESCHEMA:
        return "the database schema does not match this binary";
    case QUEUE_ENOMEM:
        return "out of memory";
    case QUEUE_ESTALE:
        return "the lease was lost";
    case QUEUE_EINVAL:
        return "invalid argument";
    default:
        return "unknown queue error";
    }
}
