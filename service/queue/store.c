/*
 * store.c - the connection calls of queue.h, backend-neutral: which
 * backend serves a --db value, and the dispatch of store_open, store_close,
 * store_schema_version, store_known_version, store_check_writable and
 * store_errmsg through the store's ops table (queue_backend.h). Also
 * queue_strerror.
 *
 * Backends: a --db value is matched against the prefixes below, first
 * match wins; a plain path is SQLite. A postgresql:// (or postgres://) URI
 * names a backend this build does not have (issue 15): store_target_check()
 * says so, and the config refuses it before anything opens.
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
    {"postgresql://", NULL},
    {"postgres://", NULL},
    {"", &queue_backend_sqlite}, /* a file path, as --db always took */
};

static const char pg_missing[] =
    "PostgreSQL is not available in this build (postgresql:// comes with issue 15); "
    "give a SQLite file path";

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
    return backends[backend_for(target)].ops ? NULL : pg_missing;
}

int store_open(const char *path, int migrate, int busy_timeout_ms, int synchronous_normal,
               struct store **out)
{
    struct store_options o = {migrate, busy_timeout_ms, !synchronous_normal};

    if (!out)
        return QUEUE_EINVAL;
    *out = NULL;
    if (store_target_check(path))
        return QUEUE_EINVAL; /* no path, or no backend for it in this build */
    return backends[backend_for(path)].ops->open(path, &o, out);
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

/* The default backend's (a plain path's): what a fresh database gets. */
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
