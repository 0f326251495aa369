/*
 * test_backend.c - unit tests of the storage seam of issue 13 on each
 * backend (dbfix.h: a SQLite file, or PostgreSQL with TB_TEST_PG=1; the
 * schema-2 upgrade is SQLite-only): which backend a --db value gets (a
 * postgresql:// URI is PostgreSQL's, and logged without its password), the upgrade of a
 * database written by the release before (schema 2, from a dump of one
 * made by commit 1feaae2's server: tests/unit/service/queue/fixtures/) to the
 * kind column of migrations/0003, every job of it readable and the
 * unfinished ones running to the end, job kinds, and the one labels
 * loader (queue_labels) over replicates, tiles that straddle a range, and
 * study cells with and without a duplicate.
 *
 * White-box: dbfix.h gives the tests raw SQL on the store's connection. The clock
 * is the tests' own (now_ms arguments). Single-threaded. Run from the
 * repository root (the fixture path is relative to it).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "queue.h"
#include "queue_study.h"
#include "dbfix.h"
#include "tb.h"

#define FIXTURE "tests/unit/service/queue/fixtures/schema2-1feaae2.sql"

static void setup(void)
{
    fx_setup("backend");
}

static void teardown(void)
{
    fx_teardown();
}

static struct store *open_store(int migrate)
{
    struct store *s = NULL;

    ck_assert_int_eq(store_open(dbpath, migrate, 1000, 1, &s), QUEUE_OK);
    return s;
}

/* The first column of the first row of sql on a raw SQLite db (-1: none). */
static int64_t sqlite_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static char *sql_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;

    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    ck_assert_ptr_nonnull(v);
    return v;
}

static uint64_t popcount(const uint64_t *bits, uint64_t n)
{
    uint64_t i, c = 0;

    for (i = 0; i < n; i++)
        c += (bits[i / 64] >> (i % 64)) & 1;
    return c;
}

/* The test pattern: point p of a tile's own numbering (begin + i). */
static int label_of(uint64_t p)
{
    return p % 7 == 3 || p % 11 == 0;
}

/* Saves claim c with label_of(begin + i) (offset: added to the point). */
static void finish(struct store *s, const struct tile_claim *c, uint64_t offset, int64_t now_ms)
{
    uint64_t *w = calloc(tb_label_words(c->count), sizeof *w), i, div = 0;
    int complete;

    ck_assert_ptr_nonnull(w);
    for (i = 0; i < c->count; i++)
        if (label_of(offset + c->begin + i)) {
            w[i / 64] |= (uint64_t)1 << (i % 64);
            div++;
        }
    ck_assert_int_eq(
        queue_finish_tile(s, c->job_id, c->idx, c->attempt, w, c->count, div, 0, now_ms, &complete),
        QUEUE_OK);
    free(w);
}

/* Claims and saves every pending tile with the pattern; how many. */
static int run_all(struct store *s, int64_t now_ms)
{
    struct tile_claim c;
    int n = 0;

    while (queue_claim(s, now_ms, 1000, &c) == QUEUE_OK) {
        finish(s, &c, 0, now_ms);
        tile_claim_free(&c);
        n++;
    }
    return n;
}

/* ---- backend selection -------------------------------------------------- */

START_TEST(test_backend_selection)
{
    /* Port 1 of loopback: nothing listens, the connection is refused at once. */
    static const char *const pg[] = {"postgresql://u:secret@127.0.0.1:1/tb",
                                     "postgres://127.0.0.1:1/tb?password=secret&sslmode=disable"};
    struct store *s = (struct store *)1;
    char shown[128], why[256];
    size_t i;

    /* A SQLite file is one process's; a PostgreSQL server is shared. */
    ck_assert_int_eq(store_target_shared("./data/trainbound.db"), 0);
    ck_assert_ptr_null(store_target_check(dbpath));
    ck_assert_ptr_null(store_target_check("./data/trainbound.db"));
    ck_assert_ptr_null(store_target_check("postgresql.db")); /* a file name, not a URI */
    ck_assert_ptr_nonnull(store_target_check(NULL));
    for (i = 0; i < sizeof pg / sizeof pg[0]; i++) {
        ck_assert_ptr_null(store_target_check(pg[i])); /* PostgreSQL serves it (issue 15) */
        s = (struct store *)1;
        ck_assert_int_eq(store_open(pg[i], 1, 1000, 1, &s), QUEUE_EIO); /* no server there */
        ck_assert_ptr_null(s);
        /* libpq's own reason comes back, on one line, for the log. */
        ck_assert_int_eq(store_open_why(pg[i], 1, 1000, 1, &s, why, sizeof why), QUEUE_EIO);
        ck_assert_ptr_nonnull(strstr(why, "refused"));
        ck_assert_ptr_null(strchr(why, '\n'));
        ck_assert_int_eq(store_target_shared(pg[i]), 1);
        store_target_redact(pg[i], shown, sizeof shown);
        ck_assert_ptr_null(strstr(shown, "secret")); /* logs never show the password */
        ck_assert_ptr_nonnull(strstr(shown, "127.0.0.1:1/tb"));
    }
    ck_assert_str_eq(store_target_redact(pg[0], shown, sizeof shown),
                     "postgresql://u:***@127.0.0.1:1/tb");
    ck_assert_str_eq(store_target_redact(pg[1], shown, sizeof shown),
                     "postgres://127.0.0.1:1/tb?password=***&sslmode=disable");
    ck_assert_str_eq(store_target_redact(dbpath, shown, sizeof shown), dbpath);
    /* Nothing was created for the URI (SQLite would have made a file). */
    ck_assert_int_ne(access("postgresql:", F_OK), 0);
    ck_assert_int_ne(access("postgres:", F_OK), 0);

    /* A path is SQLite; the test's URI (TB_TEST_PG=1) PostgreSQL. */
    s = open_store(1);
    ck_assert_ptr_eq(s->ops, fx_pg ? &queue_backend_pg : &queue_backend_sqlite);
    ck_assert_str_eq(s->ops->name, fx_pg ? "postgresql" : "sqlite");
    ck_assert_ptr_nonnull(s->ops->sql); /* the statements the shared SQL runs on */
    ck_assert_ptr_nonnull(s->ops->cell_finish);
    store_close(s);
    ck_assert_str_eq(queue_backend_pg.name, "postgresql");
    ck_assert_int_eq(queue_backend_pg.known_version(), queue_backend_sqlite.known_version());
}
END_TEST

static const char *env_pg(const char *name)
{
    return strcmp(name, "TRAINBOUND_DB") == 0 ? "postgres://u:secret@db/tb" : NULL;
}

/* The config takes a postgresql:// --db (and TRAINBOUND_DB) as it is. */
START_TEST(test_config_takes_postgresql)
{
    struct serve_config c;
    char err[256];
    char *argv[] = {"serve", "--db", "postgresql://u:secret@db.example/tb"};
    char *ok[] = {"serve", "--db=data/x.db"};

    config_defaults(&c);
    ck_assert_int_eq(config_parse(&c, 3, argv, NULL, err, sizeof err), CONFIG_OK);
    ck_assert_str_eq(c.db, "postgresql://u:secret@db.example/tb");
    config_defaults(&c);
    ck_assert_int_eq(config_parse(&c, 1, argv, env_pg, err, sizeof err), CONFIG_OK);
    ck_assert_str_eq(c.db, "postgres://u:secret@db/tb");
    config_defaults(&c);
    ck_assert_int_eq(config_parse(&c, 2, ok, NULL, err, sizeof err), CONFIG_OK);
    ck_assert_str_eq(c.db, "data/x.db");
}
END_TEST

/* Writes the fixture (a dump of 1feaae2's database) into dbpath, as that
 * release left it: user_version 2, no kind column. */
static void load_fixture(void)
{
    FILE *f = fopen(FIXTURE, "rb");
    sqlite3 *db = NULL;
    char *sql;
    long n;

    ck_assert_msg(f != NULL, "%s: run from the repository root", FIXTURE);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    sql = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(sql);
    ck_assert_uint_eq(fread(sql, 1, (size_t)n, f), (size_t)n);
    sql[n] = '\0';
    fclose(f);
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite_int(db, "PRAGMA user_version"), 2);
    ck_assert_int_eq(sqlite_int(db, "SELECT count(*) FROM pragma_table_info('jobs') "
                                    "WHERE name = 'kind'"),
                     0);
    sqlite3_close(db);
    free(sql);
}

START_TEST(test_upgrade_from_schema2)
{
    struct store *s;
    struct study_info info;
    struct study_cell cells[4];
    struct tile_claim c;
    struct job j, list[8];
    uint64_t *b0, *b2, *lab;
    int64_t counts[5], next;
    char kind[QUEUE_KIND_MAX], *result, *csv, *old_result, *old_csv;
    int n, requeued, v, i;

    fx_sqlite_only(); /* a SQLite file of the release before, upgraded in place */

    load_fixture();
    /* A worker connection does not migrate: it refuses the old schema. */
    s = (struct store *)1;
    ck_assert_int_eq(store_open(dbpath, 0, 1000, 1, &s), QUEUE_ESCHEMA);
    ck_assert_ptr_null(s);

    s = open_store(1);
    ck_assert_int_eq(store_schema_version(s, &v), QUEUE_OK);
    ck_assert_int_eq(v, store_known_version()); /* every migration applied */
    ck_assert_int_eq(store_check_writable(s), QUEUE_OK);
    old_result = sql_text(s->db, "SELECT result_json FROM results WHERE job_id = 1");
    old_csv = sql_text(s->db, "SELECT csv FROM studies WHERE job_id = 2");

    /* Every job kept its row and got its kind from what it had. */
    ck_assert_int_eq(queue_counts(s, counts), QUEUE_OK);
    ck_assert_int_eq(counts[JOB_SUCCEEDED], 2);
    ck_assert_int_eq(counts[JOB_RUNNING], 2);
    ck_assert_int_eq(counts[JOB_QUEUED], 1);
    ck_assert_int_eq(queue_list(s, NULL, 0, 8, list, &n, &next), QUEUE_OK);
    ck_assert_int_eq(n, 5);
    for (i = 0; i < n; i++) {
        ck_assert_str_eq(list[i].kind, list[i].id == 2 ? "study" : "sweep");
        job_free(&list[i]);
    }

    /* The finished sweep: status, summary, result and labels. */
    ck_assert_int_eq(queue_get(s, 1, &j), QUEUE_OK);
    ck_assert_int_eq(j.status, JOB_SUCCEEDED);
    ck_assert_str_eq(j.kind, QUEUE_KIND_SWEEP);
    ck_assert_str_eq(j.name, "old sweep");
    ck_assert_uint_eq(j.points_total, 257);
    ck_assert_ptr_nonnull(j.summary_json);
    ck_assert_ptr_nonnull(strstr(j.summary_json, "dimension"));
    ck_assert_int_eq(queue_is_study(s, 1), 0);
    ck_assert_int_eq(queue_get_result(s, 1, &result), QUEUE_OK);
    ck_assert_str_eq(result, old_result);
    free(result);
    lab = calloc(tb_label_words(257), sizeof *lab);
    ck_assert_ptr_nonnull(lab);
    ck_assert_int_eq(queue_load_labels(s, 1, lab), QUEUE_OK);
    ck_assert_int_eq((int64_t)popcount(lab, 257),
                     fx_int(s, "SELECT sum(divergent) FROM tiles WHERE job_id = 1", 0));
    free(lab);
    job_free(&j);

    /* The finished study: kind, its studies row, cells, rows and CSV. */
    ck_assert_int_eq(queue_get(s, 2, &j), QUEUE_OK);
    ck_assert_int_eq(j.status, JOB_SUCCEEDED);
    ck_assert_str_eq(j.kind, QUEUE_KIND_STUDY);
    job_free(&j);
    ck_assert_int_eq(queue_is_study(s, 2), 1);
    ck_assert_int_eq(queue_get_kind(s, 2, kind), QUEUE_OK);
    ck_assert_str_eq(kind, "study");
    ck_assert_int_eq(queue_study_get(s, 2, &info), QUEUE_OK);
    ck_assert_int_eq(info.cells_total, 3);
    ck_assert_int_eq(info.cells_done, 3);
    study_info_free(&info);
    ck_assert_int_eq(queue_cells_page(s, 2, 0, 4, cells, &n), QUEUE_OK);
    ck_assert_int_eq(n, 3);
    for (i = 0; i < n; i++) {
        ck_assert(cells[i].done);
        ck_assert_ptr_nonnull(cells[i].row_json);
    }
    ck_assert_int_eq(cells[2].dup_of, 0);
    ck_assert_uint_eq(cells[0].points, 129);
    for (i = 0; i < n; i++)
        study_cell_free(&cells[i]);
    ck_assert_int_eq(queue_study_get_csv(s, 2, &csv), QUEUE_OK);
    ck_assert_str_eq(csv, old_csv);
    free(csv);
    b0 = calloc(tb_label_words(129), sizeof *b0);
    b2 = calloc(tb_label_words(129), sizeof *b2);
    ck_assert_ptr_nonnull(b0);
    ck_assert_ptr_nonnull(b2);
    ck_assert_int_eq(queue_cell_labels(s, 2, 0, b0), QUEUE_OK);
    ck_assert_int_eq(queue_cell_labels(s, 2, 2, b2), QUEUE_OK); /* the duplicate */
    ck_assert_mem_eq(b0, b2, tb_label_words(129) * sizeof *b0);
    ck_assert_int_eq(
        (int64_t)popcount(b0, 129),
        fx_int(s, "SELECT sum(divergent) FROM tiles WHERE job_id = 2 AND cell = 0", 0));
    free(b0);
    free(b2);

    /* The unfinished jobs: the killed server's leases come back, then
     * every tile runs and each job completes. */
    ck_assert_int_eq(queue_requeue_expired(s, INT64_MAX, 5, &requeued), QUEUE_OK);
    ck_assert_int_eq(requeued, 2);
    ck_assert_int_eq(queue_claim(s, 5000, 1000, &c), QUEUE_OK);
    ck_assert_str_eq(c.kind, QUEUE_KIND_SWEEP);
    ck_assert_int_eq(c.cell, -1);
    ck_assert_int_eq(c.job_id, 5); /* fair: the queued job had no lease yet */
    ck_assert_int_eq(c.attempt, 1);
    finish(s, &c, 0, 5000);
    tile_claim_free(&c);
    ck_assert_int_eq(run_all(s, 5000), 2);
    for (i = 3; i <= 5; i++) {
        ck_assert_int_eq(queue_complete(s, i, "{}", "{}", 6000), QUEUE_OK);
        ck_assert_int_eq(queue_get(s, i, &j), QUEUE_OK);
        ck_assert_int_eq(j.status, JOB_SUCCEEDED);
        ck_assert_int_eq(j.tiles_done, j.tiles_total);
        job_free(&j);
    }
    store_close(s);

    /* Re-opened, it is a schema-3 database like any: workers open it too. */
    s = open_store(0);
    ck_assert_int_eq(queue_get(s, 5, &j), QUEUE_OK);
    ck_assert_str_eq(j.kind, "sweep");
    job_free(&j);
    store_close(s);
    free(old_result);
    free(old_csv);
}
END_TEST

/* ---- kinds --------------------------------------------------------------- */

START_TEST(test_kinds)
{
    struct store *s = open_store(1);
    struct queue_submit sub = {.spec_json = "{}", .points = 100, .tile_points = 64};
    struct tile_claim c;
    struct job j;
    char kind[QUEUE_KIND_MAX];

    ck_assert_int_eq(queue_enqueue(s, &sub, 1000, &j, NULL), QUEUE_OK);
    ck_assert_str_eq(j.kind, QUEUE_KIND_SWEEP);
    ck_assert_int_eq(queue_is_study(s, j.id), 0);
    job_free(&j);
    ck_assert_int_eq(queue_enqueue_kind(s, "nn_map", &sub, 1001, &j, NULL), QUEUE_OK);
    ck_assert_str_eq(j.kind, "nn_map");
    ck_assert_int_eq(queue_get_kind(s, j.id, kind), QUEUE_OK);
    ck_assert_str_eq(kind, "nn_map");
    ck_assert_int_eq(queue_is_study(s, j.id), 0);
    job_free(&j);
    ck_assert_int_eq(queue_enqueue_kind(s, "Bad kind", &sub, 1002, NULL, NULL), QUEUE_EINVAL);
    ck_assert_int_eq(queue_enqueue_kind(s, "", &sub, 1002, NULL, NULL), QUEUE_EINVAL);
    ck_assert_int_eq(queue_enqueue_kind(s, "a_kind_name_too_long", &sub, 1002, NULL, NULL),
                     QUEUE_EINVAL);
    ck_assert_int_eq(queue_get_kind(s, 999, kind), QUEUE_ENOENT);
    ck_assert_int_eq(queue_is_study(s, 999), 0);

    /* A claim says the kind of its job. */
    ck_assert_int_eq(queue_claim(s, 2000, 1000, &c), QUEUE_OK);
    ck_assert_str_eq(c.kind, "sweep");
    tile_claim_free(&c);
    ck_assert_int_eq(queue_claim(s, 2000, 1000, &c), QUEUE_OK);
    ck_assert_str_eq(c.kind, "nn_map");
    tile_claim_free(&c);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM jobs WHERE kind = 'nn_map'", 0), 1);
    store_close(s);
}
END_TEST

/* ---- the one labels loader --------------------------------------------- */

/* bits (bit 0 = point first) hold label_of(first + i) for i < n. */
static void check_pattern(const uint64_t *bits, uint64_t first, uint64_t n, uint64_t period)
{
    uint64_t i;

    for (i = 0; i < n; i++)
        ck_assert_msg((int)((bits[i / 64] >> (i % 64)) & 1) == label_of((first + i) % period),
                      "point %llu", (unsigned long long)(first + i));
}

/* A sweep of 2 replicates of 257 points in tiles of 64: tile 4 holds points
 * 256..319, the end of replicate 0 and the start of replicate 1. Each
 * replicate gets the pattern of its own grid. */
START_TEST(test_labels_replicates_and_straddling)
{
    struct store *s = open_store(1);
    struct queue_submit sub = {.spec_json = "{}", .points = 514, .tile_points = 64};
    struct tile_claim c;
    struct job j;
    uint64_t bits[16], grid = 257;
    int64_t id;
    int saved = 0;

    ck_assert_int_eq(queue_enqueue(s, &sub, 1000, &j, NULL), QUEUE_OK);
    id = j.id;
    ck_assert_int_eq(j.tiles_total, 9);
    job_free(&j);
    while (queue_claim(s, 2000, 1000, &c) == QUEUE_OK) {
        uint64_t *w = calloc(tb_label_words(c.count), sizeof *w), i;
        int complete;

        ck_assert_ptr_nonnull(w);
        for (i = 0; i < c.count; i++)
            if (label_of((c.begin + i) % grid))
                w[i / 64] |= (uint64_t)1 << (i % 64);
        ck_assert_int_eq(
            queue_finish_tile(s, c.job_id, c.idx, c.attempt, w, c.count, 0, 0, 2000, &complete),
            QUEUE_OK);
        free(w);
        tile_claim_free(&c);
        if (++saved == 3) {
            /* Tiles not saved yet read as bounded (0). */
            memset(bits, 0xff, sizeof bits);
            ck_assert_int_eq(queue_load_range(s, id, 150, 100, bits), QUEUE_OK);
            check_pattern(bits, 150, 42, grid);                         /* points 150..191: saved */
            ck_assert_uint_eq(popcount(bits, 100), popcount(bits, 42)); /* 192..249: 0 */
        }
    }
    ck_assert_int_eq(saved, 9);

    /* Each replicate on its own: bit 0 is the replicate's point 0. */
    ck_assert_int_eq(queue_load_range(s, id, 0, grid, bits), QUEUE_OK);
    check_pattern(bits, 0, grid, grid);
    ck_assert_int_eq(queue_load_range(s, id, grid, grid, bits), QUEUE_OK);
    check_pattern(bits, 0, grid, grid);
    /* A range inside one tile, and one across three tiles and the seam. */
    ck_assert_int_eq(queue_labels(s, id, -1, 70, 20, bits), QUEUE_OK);
    check_pattern(bits, 70, 20, grid);
    ck_assert_int_eq(queue_labels(s, id, -1, 200, 150, bits), QUEUE_OK);
    check_pattern(bits, 200, 57, grid);
    {
        uint64_t tail[4];

        tb_labels_get(tail, bits, 57, 93); /* points 257..349: replicate 1 */
        check_pattern(tail, 0, 93, grid);
    }
    /* Everything (first = n = 0) is the two grids. */
    ck_assert_int_eq(queue_load_labels(s, id, bits), QUEUE_OK);
    check_pattern(bits, 0, grid, grid);
    /* Out of range, no such job. */
    ck_assert_int_eq(queue_load_range(s, id, 500, 15, bits), QUEUE_EINVAL);
    ck_assert_int_eq(queue_load_range(s, id, 515, 0, bits), QUEUE_EINVAL);
    ck_assert_int_eq(queue_load_range(s, id, 514, 0, bits), QUEUE_OK);
    ck_assert_int_eq(queue_load_range(s, 999, 0, 0, bits), QUEUE_ENOENT);
    store_close(s);
}
END_TEST

/* A study of two cells of 150 points (3 tiles each, 64 + 64 + 22) and a
 * duplicate of cell 0: a cell's labels, or a part of them, in its own
 * numbering; missing tiles are an error for a cell. */
START_TEST(test_labels_cells)
{
    struct store *s = open_store(1);
    struct queue_cell_submit cells[3] = {
        {"{\"cell\":\"A\"}", "aaaa", NULL, 150, 64, -1},
        {"{\"cell\":\"B\"}", "bbbb", NULL, 150, 64, -1},
        {"{\"cell\":\"A\"}", "aaaa", NULL, 150, 64, 0},
    };
    struct queue_study_submit sub = {.spec_json = "{\"vary\":{}}",
                                     .source_json = "{\"vary\":{}}",
                                     .axes_json = "{}",
                                     .n_cells = 3,
                                     .cells = cells};
    struct tile_claim c;
    struct job j;
    uint64_t bits[4], dup[4];
    int64_t id;

    ck_assert_int_eq(queue_enqueue_study(s, &sub, 1000, &j, NULL, NULL), QUEUE_OK);
    id = j.id;
    ck_assert_str_eq(j.kind, QUEUE_KIND_STUDY);
    ck_assert_int_eq(j.tiles_total, 6);
    job_free(&j);

    /* Cell 0's first tile only: its labels are not all there. */
    ck_assert_int_eq(queue_claim(s, 2000, 1000, &c), QUEUE_OK);
    ck_assert_int_eq(c.cell, 0);
    ck_assert_str_eq(c.kind, "study");
    finish(s, &c, 0, 2000);
    tile_claim_free(&c);
    ck_assert_int_eq(queue_cell_labels(s, id, 0, bits), QUEUE_EIO);
    ck_assert_int_eq(queue_labels(s, id, 0, 10, 50, bits), QUEUE_OK); /* the saved part */
    check_pattern(bits, 10, 50, UINT64_MAX);
    ck_assert_int_eq(queue_labels(s, id, 0, 60, 10, bits), QUEUE_EIO); /* straddles a gap */

    /* Cell 1's tiles hold the pattern shifted by 1000, to tell them apart. */
    while (queue_claim(s, 2000, 1000, &c) == QUEUE_OK) {
        finish(s, &c, c.cell == 1 ? 1000 : 0, 2000);
        tile_claim_free(&c);
    }
    ck_assert_int_eq(queue_cell_labels(s, id, 0, bits), QUEUE_OK);
    check_pattern(bits, 0, 150, UINT64_MAX);
    ck_assert_int_eq(queue_cell_labels(s, id, 1, bits), QUEUE_OK);
    check_pattern(bits, 1000, 150, UINT64_MAX);
    ck_assert_int_eq(queue_cell_labels(s, id, 2, dup), QUEUE_OK); /* the duplicate's */
    ck_assert_int_eq(queue_cell_labels(s, id, 0, bits), QUEUE_OK);
    ck_assert_mem_eq(dup, bits, tb_label_words(150) * sizeof *bits);
    /* A range of a cell across its tiles (points 100..139 of cell 1). */
    ck_assert_int_eq(queue_labels(s, id, 1, 100, 40, bits), QUEUE_OK);
    check_pattern(bits, 1100, 40, UINT64_MAX);
    /* Out of the cell, no such cell, no such job. */
    ck_assert_int_eq(queue_labels(s, id, 1, 140, 11, bits), QUEUE_EINVAL);
    ck_assert_int_eq(queue_cell_labels(s, id, 3, bits), QUEUE_ENOENT);
    ck_assert_int_eq(queue_cell_labels(s, 999, 0, bits), QUEUE_ENOENT);
    store_close(s);
}
END_TEST

static Suite *backend_suite(void)
{
    Suite *su = suite_create("service/backend");
    TCase *tc = tcase_create("backend");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_backend_selection);
    tcase_add_test(tc, test_config_takes_postgresql);
    tcase_add_test(tc, test_upgrade_from_schema2);
    tcase_add_test(tc, test_kinds);
    tcase_add_test(tc, test_labels_replicates_and_straddling);
    tcase_add_test(tc, test_labels_cells);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(backend_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
