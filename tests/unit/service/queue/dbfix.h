/*
 * dbfix.h - the database fixture of the queue's unit tests (test_queue,
 * test_store, test_backend, test_store_pg, and the reader's): a fresh store
 * target per test on the backend the run asks for, and raw SQL on a
 * store's own connection for the rows the API does not expose.
 *
 *  - SQLite (the default): a real file in its own mkdtemp directory, never
 *    :memory: (WAL, locking and file modes only exist on files).
 *  - PostgreSQL when TB_TEST_PG=1 (the Makefile's unit-pg, under
 *    tests/lib/pg.sh, which sets TB_PG_URI to a throwaway server): a
 *    fresh database per test, t_<pid>_<n>, created in setup and dropped
 *    (WITH (FORCE)) in teardown.
 *
 * dbpath is the --db value of the test (a file path or a URI). Tests that
 * only make sense on a SQLite file (pragmas, file modes, a schema-2 file
 * upgrading in place) call fx_sqlite_only() first, which ends them as
 * passed on PostgreSQL. SQL given to fx_int()/fx_blob() uses ?1 for its
 * one argument on either backend.
 *
 * Header-only (static); every test binary has its own copy. Check forks per
 * test: setup and teardown run in the test's process. Failures go through
 * ck_assert*.
 */
#ifndef TB_DBFIX_H
#define TB_DBFIX_H

#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"
#include "store_pg.h"

static char fx_dir[512]; /* SQLite: the test's directory */
static char dbpath[700]; /* the test's --db value */
static char fx_name[64]; /* PostgreSQL: the test's database */
static int fx_pg;        /* 1: this run is on PostgreSQL */

static inline int fx_is_pg(void)
{
    const char *v = getenv("TB_TEST_PG");

    return v && strcmp(v, "1") == 0;
}

/* Runs one statement (no values: names are ours) on the server's postgres
 * database; ck_assert on failure. */
static inline void fx_pg_admin(const char *sql)
{
    const char *base = getenv("TB_PG_URI");
    char uri[600];
    PGconn *c;
    PGresult *r;

    ck_assert_msg(base && *base, "TB_TEST_PG=1 needs TB_PG_URI (run under tests/lib/pg.sh)");
    snprintf(uri, sizeof uri, "%s/postgres", base);
    c = PQconnectdb(uri);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect %s: %s", uri, PQerrorMessage(c));
    r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* A fresh target for this test; tag names the SQLite file and directory. */
static inline void fx_setup(const char *tag)
{
    static int n;
    const char *base = getenv("TMPDIR");
    char sql[128];

    fx_pg = fx_is_pg();
    if (fx_pg) {
        snprintf(fx_name, sizeof fx_name, "t_%ld_%d", (long)getpid(), n++);
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", fx_name);
        fx_pg_admin(sql);
        snprintf(dbpath, sizeof dbpath, "%s/%s", getenv("TB_PG_URI"), fx_name);
        return;
    }
    snprintf(fx_dir, sizeof fx_dir, "%s/tb-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    ck_assert_ptr_nonnull(mkdtemp(fx_dir));
    snprintf(dbpath, sizeof dbpath, "%s/%s.db", fx_dir, tag);
}

static inline void fx_teardown(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[800];
    size_t i;

    if (fx_pg) {
        snprintf(p, sizeof p, "DROP DATABASE IF EXISTS %s WITH (FORCE)", fx_name);
        fx_pg_admin(p);
        return;
    }
    for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", dbpath, suffix[i]);
        chmod(p, 0644);
        unlink(p);
    }
    rmdir(fx_dir);
}

/* Returns 1 (and the test should return) when the run is on PostgreSQL:
 * the test is about a SQLite file. */
#define fx_sqlite_only()                                                                           \
    do {                                                                                           \
        if (fx_pg)                                                                                 \
            return;                                                                                \
    } while (0)

/* sql with every "?1" written "$1" (PostgreSQL's placeholder). */
static inline void fx_pg_sql(const char *sql, char *out, size_t cap)
{
    size_t i = 0;

    for (; *sql && i + 1 < cap; sql++)
        out[i++] = *sql == '?' ? '$' : *sql;
    out[i] = '\0';
}

/*
 * Runs sql with ?1 = a on s's own connection (any backend). fx_int: column
 * 0 of the first row as an integer, -1 when there is no row. fx_blob: the
 * bytes of column 0 into buf (at most cap), their count; -1: no row.
 */
static inline int64_t fx_int(struct store *s, const char *sql, int64_t a)
{
    int64_t v = -1;

    if (s->ops == &queue_backend_pg) {
        char q[1024], arg[24];
        const char *vals[1] = {arg};
        PGresult *r;

        fx_pg_sql(sql, q, sizeof q);
        snprintf(arg, sizeof arg, "%lld", (long long)a);
        r = PQexecParams(s->pg, q, strstr(q, "$1") ? 1 : 0, NULL, vals, NULL, NULL, 0);
        ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q, PQerrorMessage(s->pg));
        if (PQntuples(r) > 0)
            v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return v;
    }
    sqlite3_stmt *st = NULL;

    ck_assert_int_eq(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, a);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static inline long fx_blob(struct store *s, const char *sql, int64_t a, unsigned char *buf,
                           size_t cap)
{
    long len = -1;

    if (s->ops == &queue_backend_pg) {
        char q[1024], arg[24];
        const char *vals[1] = {arg};
        PGresult *r;

        fx_pg_sql(sql, q, sizeof q);
        snprintf(arg, sizeof arg, "%lld", (long long)a);
        r = PQexecParams(s->pg, q, 1, NULL, vals, NULL, NULL, 1); /* binary: the raw bytes */
        ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q, PQerrorMessage(s->pg));
        if (PQntuples(r) > 0) {
            len = PQgetlength(r, 0, 0);
            memcpy(buf, PQgetvalue(r, 0, 0), (size_t)len < cap ? (size_t)len : cap);
        }
        PQclear(r);
        return len;
    }
    sqlite3_stmt *st = NULL;

    ck_assert_int_eq(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_step(st) == SQLITE_ROW) {
        len = sqlite3_column_bytes(st, 0);
        memcpy(buf, sqlite3_column_blob(st, 0), (size_t)len < cap ? (size_t)len : cap);
    }
    sqlite3_finalize(st);
    return len;
}

#endif /* TB_DBFIX_H */
