/*
 * store_pg.c - the PostgreSQL backend's connection (queue_backend.h,
 * issue 15): connecting with libpq to a postgresql:// URI, the session
 * settings the queue relies on (lock_timeout = the busy timeout,
 * synchronous_commit by the store's durability), the versioned migrations
 * embedded from migrations/pg/NNNN_name.sql and applied once under an
 * advisory lock, prepared statements with bound arguments, transactions,
 * and the mapping of SQLSTATEs to QUEUE_E* codes.
 *
 * Owns: the open/close/schema_version/known_version/check_writable/errmsg
 * ops of queue_backend_pg (queue_pg.c lists them in its table), and the
 * pq_* helpers of store_pg.h.
 *
 * Threads: a store is one connection used by one thread at a time (libpq
 * connections are not shared between threads). The loop thread's store
 * migrates (migrate = 1); worker threads open their own with migrate = 0.
 * No global state.
 *
 * Invariants: a migration and its `UPDATE tb_schema SET version = N`
 * commit together in one transaction, taken under pg_advisory_lock so that
 * processes starting at once apply each migration once; a database newer
 * than the embedded migrations is refused before anything touches it.
 * Every value reaches SQL through a bound parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "store_pg.h"

/* Type OIDs (server/catalog/pg_type_d.h, stable since PostgreSQL 7). */
enum { OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25 };

/* The advisory-lock key of migrations: "tbmigr" in ASCII. */
#define MIGRATE_LOCK_KEY INT64_C(0x74626d696772)

/* Tries of a transaction that hit a deadlock or a serialization failure. */
#define TX_TRIES 4

/* ---- errors ------------------------------------------------------------- */

/* Maps a SQLSTATE to a QUEUE_E* code. */
static int map_state(const char *st)
{
    if (strcmp(st, "55P03") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "40001") == 0 ||
        strcmp(st, "57014") == 0 || strcmp(st, "53300") == 0)
        return QUEUE_EBUSY; /* lock_timeout, deadlock, serialization, canceled, no slot */
    if (strcmp(st, "25006") == 0 || strcmp(st, "42501") == 0)
        return QUEUE_EREADONLY; /* read-only transaction, or no write privilege */
    if (strcmp(st, "53100") == 0)
        return QUEUE_ENOSPC;
    if (strcmp(st, "53200") == 0)
        return QUEUE_ENOMEM;
    return QUEUE_EIO; /* a lost connection (class 08), a broken check, anything else */
}

/* Records r's failure (r may be NULL: no result at all) for errmsg() and
 * pq_tx(), and returns its code. */
static int fail(struct store *s, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(s->pg);
    size_t len;

    snprintf(s->pg_state, sizeof s->pg_state, "%s", st ? st : "");
    snprintf(s->errmsg, sizeof s->errmsg, "%s", msg && *msg ? msg : "no result from the server");
    len = strlen(s->errmsg);
    while (len > 0 && s->errmsg[len - 1] == '\n')
        s->errmsg[--len] = '\0';
    if (PQstatus(s->pg) != CONNECTION_OK)
        return QUEUE_EIO;
    if (!r)
        return PQerrorMessage(s->pg)[0] && strstr(PQerrorMessage(s->pg), "out of memory")
                   ? QUEUE_ENOMEM
                   : QUEUE_EIO;
    return st ? map_state(st) : QUEUE_EIO;
}

const char *store_pg_errmsg(struct store *s)
{
    return s->errmsg[0] ? s->errmsg : PQerrorMessage(s->pg);
}

/* Runs fixed SQL text (no values in it, one or more statements). */
static int exec_sql(struct store *s, const char *sql)
{
    PGresult *r = PQexec(s->pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int ret = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? QUEUE_OK : fail(s, r);

    PQclear(r);
    return ret;
}

/* ---- column readers (struct sq_cols) ------------------------------------ */

static int col_null(const struct sq_row *row, int col)
{
    return PQgetisnull(row->res, row->row, col);
}

/* bigint, integer, smallint or boolean, 0 for NULL. */
static int64_t col_int64(const struct sq_row *row, int col)
{
    const PGresult *r = row->res;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row->row, col);
    int len = PQgetlength(r, row->row, col), i;
    uint64_t v = 0;

    if (PQgetisnull(r, row->row, col))
        return 0;
    switch (PQftype(r, col)) {
    case OID_BOOL:
        return len == 1 && p[0] != 0;
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        for (i = 0; i < len && i < 8; i++)
            v = (v << 8) | p[i];
        if (len < 8 && len > 0 && (p[0] & 0x80))
            v |= ~(uint64_t)0 << (8 * len); /* sign-extend */
        return (int64_t)v;
    default:
        return 0; /* not an integer column: a broken query, caught by its tests */
    }
}

/* text or bytea in binary: the bytes as stored (libpq ends them with a NUL). */
static int col_bytes(const struct sq_row *row, int col, const void **p, size_t *len)
{
    *p = NULL;
    *len = 0;
    if (PQgetisnull(row->res, row->row, col))
        return QUEUE_OK;
    *p = PQgetvalue(row->res, row->row, col);
    *len = (size_t)PQgetlength(row->res, row->row, col);
    return QUEUE_OK;
}

static const struct sq_cols pg_cols = {col_null, col_int64, col_bytes};

/* ---- statements --------------------------------------------------------- */

/* Prepares sql as statement `name` on the connection, its ?N arguments
 * (the shared SQL's form, queue_sql.h) written $N: SQL text here has no
 * other ? before a digit. */
static int prepare(struct store *s, const char *name, const char *sql, int n, const Oid *types)
{
    size_t i, len = strlen(sql);
    char *text = malloc(len + 1);
    PGresult *r;
    int ret;

    if (!text)
        return QUEUE_ENOMEM;
    for (i = 0; i <= len; i++)
        text[i] = sql[i] == '?' && sql[i + 1] >= '0' && sql[i + 1] <= '9' ? '$' : sql[i];
    r = PQprepare(s->pg, name, text, n, types);
    free(text);
    ret = PQresultStatus(r) == PGRES_COMMAND_OK ? QUEUE_OK : fail(s, r);
    PQclear(r);
    return ret;
}

/* Runs statement (id, sql) with args; *out (the caller PQclear()s it) holds
 * its rows. */
static int run(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
               PGresult **out)
{
    enum { MAX_ARGS = 16 };
    Oid types[MAX_ARGS];
    const char *values[MAX_ARGS];
    int lengths[MAX_ARGS], formats[MAX_ARGS];
    unsigned char ints[MAX_ARGS][8];
    char name[16];
    PGresult *r;
    ExecStatusType st;
    size_t i;
    int k;

    *out = NULL;
    s->errmsg[0] = '\0';
    s->pg_state[0] = '\0';
    if (id < 0 || id >= STORE_MAX_STMTS || n > MAX_ARGS)
        return QUEUE_EINVAL;
    for (i = 0; i < n; i++) {
        switch (a[i].type) {
        case SQ_INT:
            for (k = 0; k < 8; k++)
                ints[i][k] = (unsigned char)((uint64_t)a[i].i >> (56 - 8 * k));
            types[i] = OID_INT8;
            values[i] = (const char *)ints[i];
            lengths[i] = 8;
            formats[i] = 1;
            break;
        case SQ_TEXT:
            types[i] = OID_TEXT;
            values[i] = a[i].p;
            lengths[i] = 0;
            formats[i] = 0;
            break;
        case SQ_BLOB:
            if (a[i].len > (size_t)INT32_MAX)
                return QUEUE_EINVAL;
            types[i] = OID_BYTEA;
            values[i] = a[i].p ? a[i].p : "";
            lengths[i] = (int)a[i].len;
            formats[i] = 1;
            break;
        default: /* an integer's NULL (SQ_OPT) */
            types[i] = OID_INT8;
            values[i] = NULL;
            lengths[i] = 0;
            formats[i] = 1;
            break;
        }
    }
    snprintf(name, sizeof name, "tb%d", id);
    if (!(s->pg_prepared[id / 64] & ((uint64_t)1 << (id % 64)))) {
        int ret = prepare(s, name, sql, (int)n, types);

        if (ret != QUEUE_OK)
            return ret;
        s->pg_prepared[id / 64] |= (uint64_t)1 << (id % 64);
    }
    r = PQexecPrepared(s->pg, name, (int)n, values, lengths, formats, 1);
    st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int ret = fail(s, r);

        PQclear(r);
        return ret;
    }
    *out = r;
    return QUEUE_OK;
}

int pq_exec(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            int *changes)
{
    PGresult *r;
    int ret = run(s, id, sql, a, n, &r);

    if (changes)
        *changes = ret == QUEUE_OK ? atoi(PQcmdTuples(r)) : 0;
    PQclear(r);
    return ret;
}

int pq_rows(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            sq_row_fn fn, void *ctx)
{
    PGresult *r;
    int ret = run(s, id, sql, a, n, &r), rows = ret == QUEUE_OK ? PQntuples(r) : 0;
    struct sq_row row = {&pg_cols, r, 0};

    for (; ret == QUEUE_OK && row.row < rows; row.row++)
        ret = fn(&row, ctx);
    PQclear(r);
    return ret == SQ_STOP ? QUEUE_OK : ret;
}

/* ---- transactions ------------------------------------------------------- */

/* Rolls back the open transaction, if any, keeping the message of the
 * failure that led here. */
static void rollback(struct store *s)
{
    char msg[sizeof s->errmsg], state[sizeof s->pg_state];
    PGresult *r;

    if (PQtransactionStatus(s->pg) == PQTRANS_IDLE)
        return;
    memcpy(msg, s->errmsg, sizeof msg);
    memcpy(state, s->pg_state, sizeof state);
    r = PQexec(s->pg, "ROLLBACK");
    PQclear(r);
    memcpy(s->errmsg, msg, sizeof msg);
    memcpy(s->pg_state, state, sizeof state);
}

/* 1 when the failure just recorded is worth a new try of the transaction. */
static int retryable(const struct store *s)
{
    return strcmp(s->pg_state, "40P01") == 0 || strcmp(s->pg_state, "40001") == 0 ||
           strcmp(s->pg_state, "23505") == 0;
}

int pq_tx(struct store *s, sq_tx_fn fn, void *ctx)
{
    int ret = QUEUE_EIO, tries;

    for (tries = 0; tries < TX_TRIES; tries++) {
        s->pg_state[0] = '\0';
        ret = exec_sql(s, "BEGIN");
        if (ret != QUEUE_OK)
            return ret;
        ret = fn(s, ctx);
        if (ret == QUEUE_OK)
            ret = exec_sql(s, "COMMIT");
        rollback(s);
        if (ret == QUEUE_OK || !retryable(s))
            break;
    }
    return ret;
}

/* ---- schema ------------------------------------------------------------- */

int store_pg_known_version(void)
{
    if (pg_migrations_count == 0)
        return 0;
    return queue__migration_number(pg_migrations_files[pg_migrations_count - 1].name);
}

/* Statement ids of this file: the top of the cache, clear of queue_pg.c's
 * and queue_study_pg.c's. */
enum {
    P_HAS_SCHEMA = STORE_MAX_STMTS - 6,
    P_VERSION,
    P_SET_VERSION,
    P_LOCK,
    P_SETTINGS,
    P_READONLY
};

int store_pg_schema_version(struct store *s, int *version)
{
    int64_t has = 0, v = 0;
    int ret;

    *version = 0;
    ret = sq_int(s, P_HAS_SCHEMA, "SELECT to_regclass('tb_schema') IS NOT NULL", SQ_NOARGS, &has);
    if (ret == QUEUE_OK && has)
        ret = sq_int(s, P_VERSION, "SELECT version FROM tb_schema", SQ_NOARGS, &v);
    if (ret == QUEUE_ENOENT)
        ret = QUEUE_ESCHEMA; /* the table without its row */
    *version = (int)v;
    return ret;
}

/* One migration (the body of its transaction). */
struct step {
    const struct embed_file *file;
    int version;
};

static int apply_step(struct store *s, void *ctx)
{
    const struct step *m = ctx;
    int ret, cur;

    /* Read again inside the transaction: cheap, and exact under the lock. */
    ret = store_pg_schema_version(s, &cur);
    if (ret != QUEUE_OK || cur >= m->version)
        return ret;
    if (m->version == 1)
        ret = exec_sql(s, "CREATE TABLE tb_schema (version integer NOT NULL); "
                          "INSERT INTO tb_schema VALUES (0)");
    if (ret == QUEUE_OK)
        ret = exec_sql(s, (const char *)m->file->data);
    if (ret == QUEUE_OK)
        ret = pq_exec(s, P_SET_VERSION, "UPDATE tb_schema SET version = $1",
                      SQ_ARGS(SQ_I(m->version)), NULL);
    return ret;
}

/* Applies files[0..n) (file i numbered i + 1) above the current version,
 * each in its own transaction, under the migrations' advisory lock. */
static int migrate(struct store *s, const struct embed_file *files, size_t n)
{
    struct step m;
    size_t i;
    int ret, unlock, cur = 0;

    if (queue__migrations_check(files, n) != QUEUE_OK)
        return QUEUE_ESCHEMA;
    /* A session lock: held across the transactions, waited for (no
     * lock_timeout: another process may take a while to migrate). */
    ret = exec_sql(s, "SET lock_timeout = 0");
    if (ret == QUEUE_OK)
        ret = pq_exec(s, P_LOCK, "SELECT pg_advisory_lock($1)", SQ_ARGS(SQ_I(MIGRATE_LOCK_KEY)),
                      NULL);
    if (ret != QUEUE_OK)
        return ret;
    ret = store_pg_schema_version(s, &cur);
    if (ret == QUEUE_OK && cur > (int)n)
        ret = QUEUE_ESCHEMA;
    for (i = (size_t)(cur > 0 ? cur : 0); ret == QUEUE_OK && i < n; i++) {
        m.file = &files[i];
        m.version = (int)i + 1;
        ret = pq_tx(s, apply_step, &m);
    }
    unlock = exec_sql(s, "SELECT pg_advisory_unlock_all()");
    return ret != QUEUE_OK ? ret : unlock;
}

/* ---- open and close ----------------------------------------------------- */

/* Copies msg into buf (cap bytes) as one line: libpq's connection errors
 * span lines ("...failed: Connection refused\n\tIs the server running"). */
static void one_line(char *buf, size_t cap, const char *msg)
{
    size_t i, n = 0;

    for (i = 0; msg && msg[i] && n + 1 < cap; i++) {
        char c = msg[i] == '\n' || msg[i] == '\t' ? ' ' : msg[i];
        if (c == ' ' && (n == 0 || buf[n - 1] == ' '))
            continue;
        buf[n++] = c;
    }
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
}

/* The session settings: lock waits give up after the busy timeout, and
 * commits are durable (synchronous_commit = on) on a sync_full store. */
static int configure(struct store *s, const struct store_options *o)
{
    char ms[24];
    int ret;

    s->busy_timeout_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 0;
    s->sync_full = o->sync_full;
    /* lock_timeout 0 would mean "wait forever"; a zero busy timeout means
     * "do not wait", as near as PostgreSQL goes. */
    snprintf(ms, sizeof ms, "%d", s->busy_timeout_ms > 0 ? s->busy_timeout_ms : 1);
    ret = pq_exec(s, P_SETTINGS,
                  "SELECT set_config('lock_timeout', $1, false), "
                  "set_config('synchronous_commit', $2, false), "
                  "set_config('client_min_messages', 'warning', false)",
                  SQ_ARGS(SQ_T(ms), SQ_T(o->sync_full ? "on" : "off")), NULL);
    return ret;
}

int store_pg_open(const char *target, const struct store_options *o, struct store **out)
{
    static const char *const keys[] = {"dbname", "connect_timeout", "fallback_application_name",
                                       "client_encoding", NULL};
    const char *values[] = {target, "10", "trainbound", "UTF8", NULL};
    struct store *s;
    int64_t ro = 0;
    int ret, version = 0;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return QUEUE_ENOMEM;
    s->ops = &queue_backend_pg;
    s->pg = PQconnectdbParams(keys, values, 1);
    if (!s->pg) {
        free(s);
        return QUEUE_ENOMEM;
    }
    if (PQstatus(s->pg) != CONNECTION_OK) {
        ret = QUEUE_EIO;     /* no server there, refused, or bad credentials */
        s->errmsg[0] = '\0'; /* errmsg() is libpq's text then */
        goto out;
    }
    ret = sq_int(s, P_READONLY, "SELECT current_setting('transaction_read_only') = 'on'", SQ_NOARGS,
                 &ro);
    s->readonly = ro != 0;
    if (ret == QUEUE_OK && o->migrate && !s->readonly)
        ret = migrate(s, pg_migrations_files, pg_migrations_count);
    if (ret == QUEUE_OK)
        ret = configure(s, o);
    if (ret == QUEUE_OK)
        ret = store_pg_schema_version(s, &version);
    if (ret == QUEUE_OK && version != store_pg_known_version())
        ret = QUEUE_ESCHEMA; /* newer, or not migrated yet: the loop thread migrates first */
    if (ret != QUEUE_OK)
        goto out;
    *out = s;
    s = NULL;
out:
    if (s && o->why && o->why_cap)
        one_line(o->why, o->why_cap, store_pg_errmsg(s));
    store_pg_close(s);
    return ret;
}

int store_pg_connected(struct store *s)
{
    return PQstatus(s->pg) == CONNECTION_OK;
}

int store_pg_reconnect(struct store *s)
{
    struct store_options o = {0, s->busy_timeout_ms, s->sync_full, NULL, 0};

    PQreset(s->pg); /* the same parameters; blocks up to connect_timeout */
    if (PQstatus(s->pg) != CONNECTION_OK) {
        one_line(s->errmsg, sizeof s->errmsg, PQerrorMessage(s->pg));
        return QUEUE_EIO;
    }
    /* A new session: nothing is prepared on it, and the settings are gone. */
    memset(s->pg_prepared, 0, sizeof s->pg_prepared);
    return configure(s, &o);
}

void store_pg_close(struct store *s)
{
    if (!s)
        return;
    PQfinish(s->pg);
    free(s);
}

/* check_writable's transaction: the schema this binary knows, and a write
 * statement (one that changes no row fails on a read-only server all the
 * same). Rolled back: it never commits. */
static int writable_probe(struct store *s, void *ctx)
{
    int ret, version = 0;

    (void)ctx;
    ret = store_pg_schema_version(s, &version);
    if (ret == QUEUE_OK && version != store_pg_known_version())
        ret = QUEUE_ESCHEMA;
    if (ret == QUEUE_OK)
        ret = exec_sql(s, "DELETE FROM results WHERE false");
    return ret == QUEUE_OK ? QUEUE_ENOENT : ret; /* roll back */
}

int store_pg_check_writable(struct store *s)
{
    int ret = pq_tx(s, writable_probe, NULL);

    return ret == QUEUE_ENOENT ? QUEUE_OK : ret;
}
