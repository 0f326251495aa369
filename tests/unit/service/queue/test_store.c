/*
 * test_store.c - unit tests of service/queue/store.c: opening, pragmas, the
 * user_version migrations (fresh, re-open, newer schema refused, a failed
 * migration leaves nothing behind), and the mapping of SQLite failures to
 * QUEUE_E* codes (busy, read-only, not a database).
 *
 * Every test uses a real database file in its own mkdtemp directory
 * (dbfix.h), never :memory:, because WAL, locking and file modes only
 * exist on files.
 * White-box: store_int.h gives the tests the connection (s->db) to read
 * pragmas and tables directly. Single-threaded; Check forks per test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "embed.h"
#include "queue.h"
#include "dbfix.h"

/* SQLite-only (its pragmas, file modes and result codes): the Makefile
 * runs it without TB_TEST_PG; test_store_pg.c is PostgreSQL's. */
static void setup(void)
{
    fx_setup("store");
}

static void teardown(void)
{
    fx_teardown();
}

/* Opens a second, raw connection to the test database (owned by the caller:
 * sqlite3_close). */
static sqlite3 *raw_open(void)
{
    sqlite3 *db = NULL;

    ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    return db;
}

/* The first column of the first row of sql, as an integer (-1: no row). */
static int64_t sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void sql_text(sqlite3 *db, const char *sql, char *buf, size_t cap)
{
    sqlite3_stmt *st = NULL;

    buf[0] = '\0';
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static struct store *open_ok(int migrate)
{
    struct store *s = NULL;

    ck_assert_int_eq(store_open(dbpath, migrate, 1000, 1, &s), QUEUE_OK);
    ck_assert_ptr_nonnull(s);
    return s;
}

static int64_t add_job(struct store *s)
{
    struct queue_submit sub = {.spec_json = "{}", .points = 65, .tile_points = 64};
    struct job j;
    int64_t id;

    ck_assert_int_eq(queue_enqueue(s, &sub, 1000, &j, NULL), QUEUE_OK);
    id = j.id;
    job_free(&j);
    return id;
}

START_TEST(test_known_version)
{
    ck_assert_int_ge(store_known_version(), 1);
    ck_assert_int_eq((int)migrations_count, store_known_version());
    ck_assert_str_eq(migrations_files[0].name, "migrations/0001_init.sql");
}
END_TEST

START_TEST(test_migrate_fresh_and_reopen)
{
    struct store *s = open_ok(1);
    int v = -1;

    ck_assert_int_eq(store_schema_version(s, &v), QUEUE_OK);
    ck_assert_int_eq(v, store_known_version());
    ck_assert_int_eq(sql_int(s->db, "SELECT count(*) FROM pragma_table_list WHERE strict = 1 "
                                    "AND name IN ('jobs', 'tiles', 'tile_attempts', 'results')"),
                     4);
    ck_assert_int_eq(sql_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                                    "AND name IN ('jobs_status_id', 'jobs_claim', "
                                    "'jobs_idem_key', 'tiles_pending', 'tiles_leased')"),
                     5);
    ck_assert_int_eq(store_check_writable(s), QUEUE_OK);
    add_job(s);
    store_close(s);

    /* Re-opening applies nothing and keeps the data. */
    s = open_ok(1);
    ck_assert_int_eq(store_schema_version(s, &v), QUEUE_OK);
    ck_assert_int_eq(v, store_known_version());
    ck_assert_int_eq(sql_int(s->db, "SELECT count(*) FROM jobs"), 1);
    store_close(s);

    /* A worker connection opens a migrated database without migrating. */
    s = open_ok(0);
    ck_assert_int_eq(sql_int(s->db, "SELECT count(*) FROM jobs"), 1);
    store_close(s);
}
END_TEST

START_TEST(test_worker_refuses_unmigrated)
{
    struct store *s = NULL;

    ck_assert_int_eq(store_open(dbpath, 0, 1000, 1, &s), QUEUE_ESCHEMA);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_refuses_newer_schema)
{
    struct store *s = open_ok(1);
    char sql[64];
    sqlite3 *db;

    store_close(s);
    db = raw_open();
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", store_known_version() + 1);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    s = (struct store *)1;
    ck_assert_int_eq(store_open(dbpath, 1, 1000, 0, &s), QUEUE_ESCHEMA);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(store_open(dbpath, 0, 1000, 0, &s), QUEUE_ESCHEMA);
    ck_assert_ptr_null(s);

    /* ... and left it as it was. */
    db = raw_open();
    ck_assert_int_eq(sql_int(db, "PRAGMA user_version"), store_known_version() + 1);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_pragmas)
{
    struct store *s = NULL;
    char mode[16];
    sqlite3 *db;

    ck_assert_int_eq(store_open(dbpath, 1, 1234, 0, &s), QUEUE_OK);
    ck_assert_int_eq(sql_int(s->db, "PRAGMA synchronous"), 2); /* FULL */
    ck_assert_int_eq(sql_int(s->db, "PRAGMA foreign_keys"), 1);
    ck_assert_int_eq(s->busy_timeout_ms, 1234); /* our busy handler's limit */
    sql_text(s->db, "PRAGMA journal_mode", mode, sizeof mode);
    ck_assert_str_eq(mode, "wal");

    /* WAL is a property of the file: a fresh raw connection sees it. */
    db = raw_open();
    sql_text(db, "PRAGMA journal_mode", mode, sizeof mode);
    ck_assert_str_eq(mode, "wal");
    sqlite3_close(db);
    store_close(s);

    s = NULL;
    ck_assert_int_eq(store_open(dbpath, 0, 10, 1, &s), QUEUE_OK);
    ck_assert_int_eq(sql_int(s->db, "PRAGMA synchronous"), 1); /* NORMAL */
    ck_assert_int_eq(store__light(s, 1), QUEUE_OK);            /* no-op: already NORMAL */
    ck_assert_int_eq(sql_int(s->db, "PRAGMA synchronous"), 1);
    store_close(s);

    /* store__light switches a FULL connection to NORMAL and back. */
    s = NULL;
    ck_assert_int_eq(store_open(dbpath, 0, 10, 0, &s), QUEUE_OK);
    ck_assert_int_eq(store__light(s, 1), QUEUE_OK);
    ck_assert_int_eq(sql_int(s->db, "PRAGMA synchronous"), 1);
    ck_assert_int_eq(store__light(s, 0), QUEUE_OK);
    ck_assert_int_eq(sql_int(s->db, "PRAGMA synchronous"), 2);
    store_close(s);
}
END_TEST

/* The busy handler waits out a short lock, and answers QUEUE_EBUSY after
 * about the busy timeout when the lock stays. */
START_TEST(test_busy_wait)
{
    struct store *s = NULL;
    struct timespec t0, t1;
    double waited;
    sqlite3 *db;

    ck_assert_int_eq(store_open(dbpath, 1, 150, 0, &s), QUEUE_OK);
    db = raw_open();
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(store__begin(s), QUEUE_EBUSY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waited = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    ck_assert_msg(waited >= 0.14, "gave up after %.3f s, before the 150 ms timeout", waited);
    ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(store__begin(s), QUEUE_OK);
    store__rollback(s);
    sqlite3_close(db);
    store_close(s);
}
END_TEST

/* A migration that fails half-way leaves neither its tables nor its
 * user_version behind, and the migrations before it stay applied: each runs
 * in its own transaction. */
START_TEST(test_failed_migration_is_invisible)
{
    static const char good1[] = "CREATE TABLE extra1 (x INTEGER) STRICT;";
    static const char bad2[] = "CREATE TABLE extra2 (x INTEGER) STRICT;\n"
                               "INSERT INTO no_such_table VALUES (1);";
    static const char good2[] = "CREATE TABLE extra2 (x INTEGER) STRICT;";
    int known = store_known_version(), v = 0;
    size_t n = migrations_count + 2;
    struct embed_file *files = calloc(n, sizeof *files);
    char name1[64], name2[64], name3[64];
    struct store *s = open_ok(1);

    /* The embedded migrations, then two of the test's own. */
    ck_assert_ptr_nonnull(files);
    memcpy(files, migrations_files, migrations_count * sizeof *files);
    snprintf(name1, sizeof name1, "migrations/%04d_extra1.sql", known + 1);
    snprintf(name2, sizeof name2, "migrations/%04d_extra2.sql", known + 2);
    files[n - 2] = (struct embed_file){name1, (const unsigned char *)good1, sizeof good1 - 1};
    files[n - 1] = (struct embed_file){name2, (const unsigned char *)bad2, sizeof bad2 - 1};

    ck_assert_int_eq(store__migrate(s, files, n), QUEUE_EIO);
    ck_assert_int_eq(store_schema_version(s, &v), QUEUE_OK);
    ck_assert_int_eq(v, known + 1);
    ck_assert_int_eq(sql_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'extra1'"), 1);
    ck_assert_int_eq(sql_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'extra2'"), 0);
    ck_assert_int_eq(sqlite3_get_autocommit(s->db), 1); /* no transaction left open */
    ck_assert_ptr_nonnull(strstr(store_errmsg(s), "no_such_table"));

    files[n - 1].data = (const unsigned char *)good2;
    files[n - 1].len = sizeof good2 - 1;
    ck_assert_int_eq(store__migrate(s, files, n), QUEUE_OK);
    ck_assert_int_eq(store_schema_version(s, &v), QUEUE_OK);
    ck_assert_int_eq(v, known + 2);
    ck_assert_int_eq(sql_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'extra2'"), 1);

    /* A gap in the numbering is a broken build, refused before any work. */
    snprintf(name3, sizeof name3, "migrations/%04d_gap.sql", known + 3);
    files[n - 1].name = name3;
    ck_assert_int_eq(store__migrate(s, files, n), QUEUE_ESCHEMA);
    store_close(s);
    free(files);

    /* The file is now newer than this binary's migrations. */
    s = NULL;
    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_ESCHEMA);
}
END_TEST

/* Another connection holds the write lock: with a short busy timeout every
 * write answers QUEUE_EBUSY (the server's 503), and reads still work (WAL). */
START_TEST(test_busy)
{
    struct queue_submit sub = {.spec_json = "{}", .points = 64, .tile_points = 64};
    struct tile_claim c;
    struct store *s = NULL;
    struct job j;
    int64_t id;
    sqlite3 *db;
    int n;

    ck_assert_int_eq(store_open(dbpath, 1, 50, 1, &s), QUEUE_OK);
    id = add_job(s);
    db = raw_open();
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    ck_assert_int_eq(queue_enqueue(s, &sub, 2000, &j, NULL), QUEUE_EBUSY);
    ck_assert_int_eq(queue_claim(s, 2000, 1000, &c), QUEUE_EBUSY);
    ck_assert_int_eq(queue_cancel(s, id, 2000, NULL), QUEUE_EBUSY);
    ck_assert_int_eq(queue_requeue_expired(s, 2000, 3, &n), QUEUE_EBUSY);
    ck_assert_int_eq(queue_delete(s, id), QUEUE_EBUSY); /* a lone statement too */
    ck_assert_int_eq(store_check_writable(s), QUEUE_EBUSY);
    ck_assert_ptr_nonnull(strstr(store_errmsg(s), "locked"));
    ck_assert_int_eq(queue_get(s, id, &j), QUEUE_OK);
    ck_assert_int_eq(j.status, JOB_QUEUED);
    job_free(&j);

    ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(queue_enqueue(s, &sub, 2000, &j, NULL), QUEUE_OK);
    job_free(&j);
    ck_assert_int_eq(store_check_writable(s), QUEUE_OK);
    sqlite3_close(db);
    store_close(s);
}
END_TEST

/*
 * Read-only databases. Tests run as root here, and root may write any file
 * whatever its mode, so a chmod alone proves nothing about SQLite. store_open
 * therefore honours the mode bits itself: a file without any write bit is
 * opened SQLITE_OPEN_READONLY (for root and everybody else). That is the
 * operator's way to freeze a database, and the test below exercises it
 * end to end: SQLite itself answers SQLITE_READONLY, mapped to
 * QUEUE_EREADONLY, while reads keep working.
 */
START_TEST(test_readonly_file)
{
    struct queue_submit sub = {.spec_json = "{}", .points = 64, .tile_points = 64};
    struct tile_claim c;
    struct store *s = open_ok(1);
    struct job j;
    int64_t id = add_job(s);

    store_close(s);
    ck_assert_int_eq(chmod(dbpath, 0444), 0);

    s = open_ok(1); /* schema current: opens, nothing to migrate */
    ck_assert_int_eq(s->readonly, 1);
    ck_assert_int_eq(store_check_writable(s), QUEUE_EREADONLY);
    ck_assert_int_eq(queue_enqueue(s, &sub, 2000, &j, NULL), QUEUE_EREADONLY);
    ck_assert_int_eq(queue_claim(s, 2000, 1000, &c), QUEUE_EREADONLY);
    ck_assert_int_eq(queue_delete(s, id), QUEUE_EREADONLY);
    ck_assert_int_eq(queue_get(s, id, &j), QUEUE_OK); /* reads are served */
    ck_assert_int_eq(j.status, JOB_QUEUED);
    job_free(&j);
    store_close(s);
}
END_TEST

START_TEST(test_readonly_unmigrated)
{
    struct store *s = NULL;
    sqlite3 *db = raw_open();

    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert_int_eq(chmod(dbpath, 0444), 0);
    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_EREADONLY);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_not_a_database)
{
    struct store *s = NULL;
    FILE *f = fopen(dbpath, "wb");

    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 512; i++)
        fputs("not a database file ", f);
    fclose(f);
    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_EIO);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_error_names)
{
    int code;

    for (code = QUEUE_OK; code >= QUEUE_ENOSPC; code--)
        ck_assert_str_ne(queue_strerror(code), "unknown queue error");
    ck_assert_str_eq(queue_strerror(-100), "unknown queue error");
    ck_assert_int_eq(store__map(SQLITE_BUSY), QUEUE_EBUSY);
    ck_assert_int_eq(store__map(SQLITE_BUSY_SNAPSHOT), QUEUE_EBUSY);
    ck_assert_int_eq(store__map(SQLITE_READONLY_DBMOVED), QUEUE_EREADONLY);
    ck_assert_int_eq(store__map(SQLITE_FULL), QUEUE_ENOSPC);
    ck_assert_int_eq(store__map(SQLITE_IOERR_FSYNC), QUEUE_EIO);
    ck_assert_int_eq(store__map(SQLITE_CORRUPT), QUEUE_EIO);
    ck_assert_int_eq(store__map(SQLITE_NOMEM), QUEUE_ENOMEM);
    ck_assert_int_eq(store__map(SQLITE_DONE), QUEUE_OK);
    ck_assert_str_eq(store_errmsg(NULL), "no database");
}
END_TEST

/* A database that cannot grow (SQLite's own SQLITE_FULL, forced here with
 * max_page_count, as a full disk gives it) is QUEUE_ENOSPC, not EIO, and
 * nothing of the failed write stays; reads still work. */
START_TEST(test_full)
{
    struct store *s = open_ok(1);
    struct queue_submit sub = {.spec_json = "{}", .points = 64 * 4096, .tile_points = 64};
    int64_t id = add_job(s), pages;
    struct job j;
    char sql[64];

    pages = sql_int(s->db, "PRAGMA page_count");
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages + 2);
    ck_assert_int_eq(sqlite3_exec(s->db, sql, NULL, NULL, NULL), SQLITE_OK);
    /* 4096 tiles need far more than two more pages. */
    ck_assert_int_eq(queue_enqueue(s, &sub, 2000, &j, NULL), QUEUE_ENOSPC);
    ck_assert_int_eq(sql_int(s->db, "SELECT count(*) FROM jobs"), 1);
    ck_assert_int_eq(queue_get(s, id, &j), QUEUE_OK);
    job_free(&j);
    store_close(s);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *su = suite_create("service/store");
    TCase *tc = tcase_create("store");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_known_version);
    tcase_add_test(tc, test_migrate_fresh_and_reopen);
    tcase_add_test(tc, test_worker_refuses_unmigrated);
    tcase_add_test(tc, test_refuses_newer_schema);
    tcase_add_test(tc, test_pragmas);
    tcase_add_test(tc, test_busy_wait);
    tcase_add_test(tc, test_failed_migration_is_invisible);
    tcase_add_test(tc, test_busy);
    tcase_add_test(tc, test_readonly_file);
    tcase_add_test(tc, test_readonly_unmigrated);
    tcase_add_test(tc, test_not_a_database);
    tcase_add_test(tc, test_error_names);
    tcase_add_test(tc, test_full);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
