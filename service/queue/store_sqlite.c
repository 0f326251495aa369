/*
 * store_sqlite.c - the SQLite backend's connection (queue_backend.h):
 * opening with the pragmas the queue relies on (WAL, an explicit
 * synchronous, busy timeout, foreign keys), the user_version migrations
 * embedded from migrations/NNNN_name.sql, the prepared-statement cache,
 * bound arguments, transactions, and the mapping of SQLite result codes to
 * QUEUE_E* codes.
 *
 * Owns: the open/close/schema_version/known_version/check_writable/errmsg
 * ops of queue_backend_sqlite (queue_sqlite.c lists them in its table),
 * the backend's statement primitives (store__exec, store__rows, store__tx:
 * its struct sq_ops) and column readers (struct sq_cols), and the other
 * store__* helpers and sq_open of store_int.h.
 *
 * Threads: a store is one connection used by one thread at a time, opened
 * SQLITE_OPEN_NOMUTEX. The loop thread's store migrates (migrate = 1);
 * worker threads open their own with migrate = 0. No global state.
 *
 * Invariants: a migration and its `PRAGMA user_version = N` commit together
 * in one BEGIN IMMEDIATE transaction, so no reader ever sees half of one;
 * a database newer than the embedded migrations is refused before anything
 * touches it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "embed.h"
#include "store_int.h"

int store__map(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return QUEUE_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return QUEUE_EBUSY;
    case SQLITE_READONLY:
        return QUEUE_EREADONLY;
    case SQLITE_NOMEM:
        return QUEUE_ENOMEM;
    case SQLITE_FULL:
        return QUEUE_ENOSPC;
    default:
        /* IOERR, CORRUPT, NOTADB, CANTOPEN, PROTOCOL, and the
         * "cannot happen" codes (a CHECK that fired, ERROR, MISUSE): all mean
         * the store cannot do its job, which callers answer the same way. */
        return QUEUE_EIO;
    }
}

const char *store_sqlite_errmsg(struct store *s)
{
    return s->errmsg[0] ? s->errmsg : sqlite3_errmsg(s->db);
}

int store__stmt(struct store *s, int id, const char *sql, sqlite3_stmt **out)
{
    int rc;

    *out = NULL;
    s->errmsg[0] = '\0';
    if (id < 0 || id >= STORE_MAX_STMTS)
        return QUEUE_EINVAL;
    if (!s->stmt[id]) {
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
        if (rc != SQLITE_OK)
            return store__map(rc);
    }
    *out = s->stmt[id];
    return QUEUE_OK;
}

void store__reset(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/* Runs a statement that returns no rows to completion. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? QUEUE_OK : store__map(rc == SQLITE_ROW ? SQLITE_ERROR : rc);
}

int store__begin(struct store *s)
{
    s->errmsg[0] = '\0';
    return step_done(s->begin);
}

void store__rollback(struct store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return;
    /* Keep the message of the failure that led here for store_errmsg(). */
    if (sqlite3_errcode(s->db) != SQLITE_OK)
        snprintf(s->errmsg, sizeof s->errmsg, "%s", sqlite3_errmsg(s->db));
    step_done(s->rollback);
}

int store__commit(struct store *s)
{
    int ret = step_done(s->commit);

    if (ret != QUEUE_OK)
        store__rollback(s);
    return ret;
}

/* Runs fixed SQL text (no values in it) through sqlite3_exec. */
static int exec_sql(struct store *s, const char *sql)
{
    return store__map(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

int store__light(struct store *s, int light)
{
    if (!s->sync_full)
        return QUEUE_OK;
    return exec_sql(s, light ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
}

/* Runs a one-row pragma and copies its first column as an integer, or as
 * text into buf (NUL-terminated, cap bytes) when buf is not NULL. */
static int pragma_value(struct store *s, const char *sql, int *value, char *buf, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        ret = store__map(rc);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ret = rc == SQLITE_DONE ? QUEUE_EIO : store__map(rc);
        goto out;
    }
    if (value)
        *value = sqlite3_column_int(st, 0);
    if (buf) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(buf, cap, "%s", t ? (const char *)t : "");
    }
    ret = QUEUE_OK;
out:
    sqlite3_finalize(st);
    return ret;
}

int store_sqlite_schema_version(struct store *s, int *version)
{
    return pragma_value(s, "PRAGMA user_version", version, NULL, 0);
}

int store_sqlite_known_version(void)
{
    if (migrations_count == 0)
        return 0;
    return queue__migration_number(migrations_files[migrations_count - 1].name);
}

int store__migrate(struct store *s, const struct embed_file *files, size_t n)
{
    char sql[64];
    size_t i;
    int ret = QUEUE_OK, v, cur;

    if (queue__migrations_check(files, n) != QUEUE_OK)
        return QUEUE_ESCHEMA;
    for (i = 0; i < n; i++) {
        v = (int)i + 1;
        ret = store_sqlite_schema_version(s, &cur);
        if (ret != QUEUE_OK)
            goto out;
        if (cur > (int)n) {
            ret = QUEUE_ESCHEMA;
            goto out;
        }
        if (cur >= v)
            continue;
        ret = store__begin(s);
        if (ret != QUEUE_OK)
            goto out;
        /* Read again under the write lock: another process may have
         * migrated between the two reads. */
        ret = store_sqlite_schema_version(s, &cur);
        if (ret == QUEUE_OK && cur >= v) {
            store__rollback(s);
            continue;
        }
        if (ret == QUEUE_OK)
            ret = exec_sql(s, (const char *)files[i].data);
        if (ret == QUEUE_OK) {
            /* user_version is not bindable; v is an int we computed. */
            snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
            ret = exec_sql(s, sql);
        }
        if (ret == QUEUE_OK)
            ret = store__commit(s);
        if (ret != QUEUE_OK)
            goto out;
    }
out:
    store__rollback(s);
    return ret;
}

/* A file the operator made read-only (no write bit at all, or not writable
 * for us) is opened SQLITE_OPEN_READONLY. Root ignores file modes, so the
 * mode bits are checked explicitly: chmod 0444 means read-only for root too. */
static int file_is_readonly(const char *path)
{
    struct stat sb;

    if (stat(path, &sb) != 0)
        return 0; /* does not exist yet: it will be created */
    return (sb.st_mode & 0222) == 0 || access(path, W_OK) != 0;
}

/*
 * The busy handler (SQLite calls it with the number of earlier calls for
 * the same lock). SQLite's own sleeps 1 ms at first and then longer; the
 * tiles of a fast job commit every few milliseconds from every worker, so
 * a lock held for tens of microseconds cost a whole millisecond or more.
 * This one backs off from 20 us to 1 ms, and gives up (SQLITE_BUSY) once
 * it has waited the busy timeout in all.
 */
static int busy_wait(void *arg, int count)
{
    static const long step_us[] = {20, 50, 100, 200, 500};
    const int nsteps = (int)(sizeof step_us / sizeof step_us[0]);
    const struct store *s = arg;
    long waited = 0, us;
    struct timespec ts;
    int i;

    for (i = 0; i < count && i < nsteps; i++)
        waited += step_us[i];
    if (count > nsteps)
        waited += (long)(count - nsteps) * 1000;
    if (waited >= (long)s->busy_timeout_ms * 1000)
        return 0;
    us = count < nsteps ? step_us[count] : 1000;
    ts.tv_sec = 0;
    ts.tv_nsec = us * 1000;
    nanosleep(&ts, NULL);
    return 1;
}

int store_sqlite_open(const char *path, const struct store_options *o, struct store **out)
{
    struct store *s = NULL;
    char mode[16];
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc, ret, version, fk = 0;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return QUEUE_ENOMEM;
    s->ops = &queue_backend_sqlite;
    s->readonly = file_is_readonly(path);
    flags |= s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        ret = s->db ? store__map(rc) : QUEUE_ENOMEM;
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    s->busy_timeout_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 0;
    sqlite3_busy_handler(s->db, busy_wait, s);

    /* WAL is persistent in the file; a read-only connection cannot switch
     * it and reads whatever mode the file has. */
    if (!s->readonly) {
        ret = pragma_value(s, "PRAGMA journal_mode = WAL", NULL, mode, sizeof mode);
        if (ret != QUEUE_OK)
            goto out;
        if (strcmp(mode, "wal") != 0) {
            ret = QUEUE_EIO; /* e.g. a file system without shared memory */
            goto out;
        }
    }
    s->sync_full = o->sync_full;
    ret = exec_sql(s, o->sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    if (ret == QUEUE_OK)
        ret = exec_sql(s, "PRAGMA foreign_keys = ON");
    if (ret == QUEUE_OK)
        ret = pragma_value(s, "PRAGMA foreign_keys", &fk, NULL, 0);
    if (ret == QUEUE_OK && fk != 1)
        ret = QUEUE_EIO; /* a build without foreign keys would break deletes */
    if (ret != QUEUE_OK)
        goto out;

    rc = sqlite3_prepare_v3(s->db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT, &s->begin,
                            NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(s->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &s->commit, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(s->db, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT, &s->rollback,
                                NULL);
    if (rc != SQLITE_OK) {
        ret = store__map(rc);
        goto out;
    }

    ret = store_sqlite_schema_version(s, &version);
    if (ret != QUEUE_OK)
        goto out;
    if (version > store_sqlite_known_version()) {
        ret = QUEUE_ESCHEMA;
        goto out;
    }
    if (o->migrate)
        ret = store__migrate(s, migrations_files, migrations_count);
    else if (version < store_sqlite_known_version())
        ret = QUEUE_ESCHEMA; /* workers never migrate: the loop thread must first */
    if (ret != QUEUE_OK)
        goto out;
    *out = s;
    s = NULL;
out:
    store_sqlite_close(s);
    return ret;
}

void store_sqlite_close(struct store *s)
{
    int i;

    if (!s)
        return;
    for (i = 0; i < STORE_MAX_STMTS; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    sqlite3_finalize(s->rollback);
    sqlite3_close_v2(s->db);
    free(s);
}

int store_sqlite_check_writable(struct store *s)
{
    int ret, version = 0;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = store_sqlite_schema_version(s, &version);
    if (ret == QUEUE_OK && version != store_sqlite_known_version())
        ret = QUEUE_ESCHEMA;
    /* BEGIN IMMEDIATE succeeds even on a read-only connection; a write
     * statement, even one that changes no row, does not. */
    if (ret == QUEUE_OK)
        ret = exec_sql(s, "DELETE FROM results WHERE 0");
    store__rollback(s);
    return ret;
}

/* ---- statement helpers (store_int.h) ------------------------------------ */

/* ---- column readers (struct sq_cols) ------------------------------------ */

static int col_null(const struct sq_row *r, int col)
{
    return sqlite3_column_type((sqlite3_stmt *)r->res, col) == SQLITE_NULL;
}

static int64_t col_int64(const struct sq_row *r, int col)
{
    return sqlite3_column_int64((sqlite3_stmt *)r->res, col);
}

/* A blob as stored, anything else as its text (NUL-terminated by SQLite). */
static int col_bytes(const struct sq_row *r, int col, const void **p, size_t *len)
{
    sqlite3_stmt *st = (sqlite3_stmt *)r->res;
    int type = sqlite3_column_type(st, col);

    *p = NULL;
    *len = 0;
    if (type == SQLITE_NULL)
        return QUEUE_OK;
    *p = type == SQLITE_BLOB ? sqlite3_column_blob(st, col)
                             : (const void *)sqlite3_column_text(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    if (!*p && type == SQLITE_BLOB && *len == 0)
        *p = ""; /* an empty blob */
    return *p ? QUEUE_OK : QUEUE_ENOMEM;
}

static const struct sq_cols sqlite_cols = {col_null, col_int64, col_bytes};

int sq_open(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            sqlite3_stmt **out)
{
    sqlite3_stmt *st = NULL;
    size_t i;
    int rc = SQLITE_OK, ret;

    *out = NULL;
    ret = store__stmt(s, id, sql, &st);
    if (ret != QUEUE_OK)
        return ret;
    for (i = 0; i < n && rc == SQLITE_OK; i++) {
        int k = (int)i + 1;

        switch (a[i].type) {
        case SQ_INT:
            rc = sqlite3_bind_int64(st, k, a[i].i);
            break;
        case SQ_TEXT:
            rc = a[i].p ? sqlite3_bind_text(st, k, a[i].p, -1, SQLITE_STATIC)
                        : sqlite3_bind_null(st, k);
            break;
        case SQ_BLOB:
            rc = sqlite3_bind_blob64(st, k, a[i].p, a[i].len, SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(st, k);
            break;
        }
    }
    if (rc != SQLITE_OK) {
        store__reset(st);
        return store__map(rc);
    }
    *out = st;
    return QUEUE_OK;
}

int store__exec(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
                int *changes)
{
    sqlite3_stmt *st;
    int ret, rc;

    if (changes)
        *changes = 0;
    ret = sq_open(s, id, sql, a, n, &st);
    if (ret != QUEUE_OK)
        return ret;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ; /* a RETURNING statement runs to its end */
    ret = rc == SQLITE_DONE ? QUEUE_OK : store__map(rc);
    if (ret == QUEUE_OK && changes)
        *changes = sqlite3_changes(s->db);
    store__reset(st);
    return ret;
}

int store__rows(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
                sq_row_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    struct sq_row row = {&sqlite_cols, NULL, 0};
    int ret = sq_open(s, id, sql, a, n, &st), rc;

    row.res = st;
    while (ret == QUEUE_OK) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
            ret = rc == SQLITE_DONE ? QUEUE_OK : store__map(rc);
            break;
        }
        ret = fn(&row, ctx);
    }
    if (st)
        store__reset(st);
    return ret == SQ_STOP ? QUEUE_OK : ret;
}

int store__tx(struct store *s, sq_tx_fn fn, void *ctx)
{
    int ret = store__begin(s);

    if (ret != QUEUE_OK)
        return ret;
    ret = fn(s, ctx);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
    store__rollback(s);
    return ret;
}
