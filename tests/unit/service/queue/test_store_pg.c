/*
 * test_store_pg.c - unit tests of service/queue/store_pg.c on a real
 * PostgreSQL 15 (dbfix.h: a fresh database of the throwaway server of
 * tests/lib/pg.sh per test; run by the Makefile's unit-pg with
 * TB_TEST_PG=1, and a no-op without it): the versioned migrations (fresh,
 * re-open, a worker connection, a newer schema refused, several processes
 * migrating one database at once under the advisory lock), and the mapping
 * of PostgreSQL failures to QUEUE_E* codes (a read-only database, a lock
 * held past the busy timeout).
 *
 * White-box: store_pg.h gives the tests the connection (s->pg). Check
 * forks per test; one test forks processes of its own.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dbfix.h"
#include "queue.h"

static void setup(void)
{
    fx_setup("storepg");
}

static void teardown(void)
{
    fx_teardown();
}

/* A second, raw connection to the test's database (PQfinish it). */
static PGconn *raw_open(void)
{
    PGconn *c = PQconnectdb(dbpath);

    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    return c;
}

static void raw_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static int64_t add_job(struct store *s, int *ret)
{
    struct queue_submit sub = {.spec_json = "{}", .points = 65, .tile_points = 64};
    struct job j;
    int64_t id;

    *ret = queue_enqueue(s, &sub, 1000, &j, NULL);
    id = *ret == QUEUE_OK ? j.id : 0;
    job_free(&j);
    return id;
}

START_TEST(test_migrate_fresh_and_reopen)
{
    struct store *s = NULL, *w = NULL;
    int v = -1, ret;

    if (!fx_pg)
        return; /* PostgreSQL only */
    /* A worker (migrate = 0) refuses a database nobody migrated yet. */
    ck_assert_int_eq(store_open(dbpath, 0, 1000, 1, &w), QUEUE_ESCHEMA);
    ck_assert_ptr_null(w);

    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_OK);
    ck_assert_ptr_eq(s->ops, &queue_backend_pg);
    ck_assert_int_eq(store_schema_version(s, &v), QUEUE_OK);
    ck_assert_int_eq(v, store_known_version());
    ck_assert_int_eq(fx_int(s,
                            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND "
                            "tablename IN ('jobs', 'tiles', 'tile_attempts', 'results', "
                            "'studies', 'cells', 'tb_schema')",
                            0),
                     7);
    ck_assert_int_eq(fx_int(s,
                            "SELECT count(*) FROM pg_indexes WHERE indexname IN "
                            "('jobs_status_id', 'jobs_claim', 'jobs_idem_key', "
                            "'tiles_pending', 'tiles_leased', 'cells_reuse')",
                            0),
                     6);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM tb_schema", 0), 1);
    ck_assert_int_eq(store_check_writable(s), QUEUE_OK);
    ck_assert_int_eq(add_job(s, &ret), 1);
    store_close(s);

    /* Re-opening applies nothing and keeps the data; a worker opens it. */
    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_OK);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM jobs", 0), 1);
    ck_assert_int_eq(store_open(dbpath, 0, 1000, 1, &w), QUEUE_OK);
    ck_assert_int_eq(fx_int(w, "SELECT count(*) FROM jobs", 0), 1);
    store_close(w);
    store_close(s);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
    struct store *s = NULL;
    PGconn *c;
    char sql[96];

    if (!fx_pg)
        return;
    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_OK);
    store_close(s);
    c = raw_open();
    snprintf(sql, sizeof sql, "UPDATE tb_schema SET version = %d", store_known_version() + 1);
    raw_exec(c, sql);
    PQfinish(c);
    s = NULL;
    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_ESCHEMA);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(store_open(dbpath, 0, 1000, 1, &s), QUEUE_ESCHEMA);
}
END_TEST

/* Processes starting at once on a fresh database: every one opens, and the
 * migrations were applied once (one version row, one set of tables). */
START_TEST(test_concurrent_migrate)
{
    enum { PROCS = 6 };
    struct store *s = NULL;
    pid_t pid[PROCS];
    int i, status, ret;

    if (!fx_pg)
        return;
    for (i = 0; i < PROCS; i++) {
        pid[i] = fork();
        ck_assert_int_ge(pid[i], 0);
        if (pid[i] == 0) {
            struct store *c = NULL;
            int rc = store_open(dbpath, 1, 1000, 1, &c);

            if (rc == QUEUE_OK)
                add_job(c, &rc);
            store_close(c);
            _exit(rc == QUEUE_OK ? 0 : 10 - rc);
        }
    }
    for (i = 0; i < PROCS; i++) {
        ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d: status %d", i,
                      status);
    }
    ck_assert_int_eq(store_open(dbpath, 0, 1000, 1, &s), QUEUE_OK);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM tb_schema", 0), 1);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM jobs", 0), PROCS);
    ck_assert_int_eq(fx_int(s, "SELECT count(DISTINCT id) FROM jobs", 0), PROCS);
    add_job(s, &ret);
    ck_assert_int_eq(ret, QUEUE_OK);
    store_close(s);
}
END_TEST

START_TEST(test_readonly_database)
{
    struct store *s = NULL;
    struct job j;
    int64_t counts[5];
    PGconn *c;
    char sql[160];
    int ret;

    if (!fx_pg)
        return;
    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_OK);
    add_job(s, &ret);
    store_close(s);
    c = raw_open();
    snprintf(sql, sizeof sql, "ALTER DATABASE %s SET default_transaction_read_only = on", fx_name);
    raw_exec(c, sql);
    PQfinish(c);

    /* Reads work; writes and readiness say read-only. */
    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_OK);
    ck_assert_int_eq(s->readonly, 1);
    ck_assert_int_eq(queue_get(s, 1, &j), QUEUE_OK);
    job_free(&j);
    ck_assert_int_eq(queue_counts(s, counts), QUEUE_OK);
    ck_assert_int_eq(counts[JOB_QUEUED], 1);
    ck_assert_int_eq(store_check_writable(s), QUEUE_EREADONLY);
    add_job(s, &ret);
    ck_assert_int_eq(ret, QUEUE_EREADONLY);
    ck_assert_int_eq(queue_cancel(s, 1, 2000, NULL), QUEUE_EREADONLY);
    ck_assert_ptr_nonnull(strstr(store_errmsg(s), "read-only"));
    store_close(s);
}
END_TEST

/* A lock held by another session past the busy timeout: QUEUE_EBUSY, and
 * the store works again once it is released. */
START_TEST(test_lock_timeout_is_busy)
{
    struct store *s = NULL;
    PGconn *c;
    int ret;

    if (!fx_pg)
        return;
    ck_assert_int_eq(store_open(dbpath, 1, 100, 1, &s), QUEUE_OK);
    c = raw_open();
    raw_exec(c, "BEGIN");
    raw_exec(c, "LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE");
    add_job(s, &ret);
    ck_assert_int_eq(ret, QUEUE_EBUSY);
    ck_assert_ptr_nonnull(strstr(store_errmsg(s), "lock"));
    raw_exec(c, "ROLLBACK");
    PQfinish(c);
    ck_assert_int_eq(add_job(s, &ret), 1);
    ck_assert_int_eq(ret, QUEUE_OK);
    store_close(s);
}
END_TEST

static Suite *store_pg_suite(void)
{
    Suite *s = suite_create("service/store_pg");
    TCase *tc = tcase_create("store_pg");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_migrate_fresh_and_reopen);
    tcase_add_test(tc, test_newer_schema_refused);
    tcase_add_test(tc, test_concurrent_migrate);
    tcase_add_test(tc, test_readonly_database);
    tcase_add_test(tc, test_lock_timeout_is_busy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_pg_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
