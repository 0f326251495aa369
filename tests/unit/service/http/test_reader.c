/*
 * test_reader.c - unit tests of service/http/reader.c and service/http/boundary.c:
 * reader tasks run off the loop thread with the reader's own store and
 * come back on the loop thread, each done() exactly once (0 after work,
 * READER_ECANCELED when closed first, the store's code when the database
 * cannot be opened); boundary_build() loads a job's labels as
 * queue_load_labels() saved them, and the streamed NumPy body equals the
 * whole one (npy_header + npy_unpack_bits) whatever the block sizes.
 *
 * Real SQLite file in a mkdtemp directory; a real libuv loop. No timing:
 * the loop runs until every task came back.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "boundary.h"
#include "npy.h"
#include "queue.h"
#include "reader.h"
#include "tb.h"

static char tmpdir[512];
static char dbpath[600];

static void setup(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(tmpdir, sizeof tmpdir, "%s/tb-reader-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/reader.db", tmpdir);
}

static void teardown(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[700];
    size_t i;

    for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", dbpath, suffix[i]);
        unlink(p);
    }
    rmdir(tmpdir);
}

/* A task that records where it ran and what it saw. */
struct probe {
    struct reader_task task; /* first member */
    uv_thread_t loop_thread;
    int worked, work_on_loop, version;
    int done_calls, done_rc, done_on_loop;
    int *left; /* tasks not yet back */
};

static void probe_work(struct reader_task *t, struct store *s)
{
    struct probe *p = (struct probe *)t;
    uv_thread_t self = uv_thread_self();

    p->worked++;
    p->work_on_loop = uv_thread_equal(&self, &p->loop_thread);
    if (store_schema_version(s, &p->version) != QUEUE_OK)
        p->version = -1;
}

static void probe_done(struct reader_task *t, int rc)
{
    struct probe *p = (struct probe *)t;
    uv_thread_t self = uv_thread_self();

    p->done_calls++;
    p->done_rc = rc;
    p->done_on_loop = uv_thread_equal(&self, &p->loop_thread);
    (*p->left)--;
}

static void make_db(void)
{
    struct store *s = NULL;

    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_OK);
    store_close(s);
}

START_TEST(test_tasks_run_off_the_loop)
{
    enum { N = 8 };
    struct probe p[N];
    struct reader *r = NULL;
    uv_loop_t loop;
    int i, left = N;

    make_db();
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(reader_start(&loop, dbpath, 1000, &r), 0);
    memset(p, 0, sizeof p);
    for (i = 0; i < N; i++) {
        p[i].task.work = probe_work;
        p[i].task.done = probe_done;
        p[i].loop_thread = uv_thread_self();
        p[i].left = &left;
        ck_assert_int_eq(reader_submit(r, &p[i].task), 0);
    }
    while (left > 0)
        uv_run(&loop, UV_RUN_ONCE);
    for (i = 0; i < N; i++) {
        ck_assert_int_eq(p[i].worked, 1);
        ck_assert_int_eq(p[i].work_on_loop, 0);
        ck_assert_int_eq(p[i].version, store_known_version());
        ck_assert_int_eq(p[i].done_calls, 1);
        ck_assert_int_eq(p[i].done_rc, 0);
        ck_assert_int_eq(p[i].done_on_loop, 1);
    }
    reader_close(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Closing with tasks queued: each comes back once, either run (rc 0) or
 * dropped unrun (READER_ECANCELED), and none after reader_close(). */
START_TEST(test_close_with_queued_tasks)
{
    enum { N = 64 };
    struct probe p[N];
    struct reader *r = NULL;
    uv_loop_t loop;
    int i, left = N;

    make_db();
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(reader_start(&loop, dbpath, 1000, &r), 0);
    memset(p, 0, sizeof p);
    for (i = 0; i < N; i++) {
        p[i].task.work = probe_work;
        p[i].task.done = probe_done;
        p[i].loop_thread = uv_thread_self();
        p[i].left = &left;
        ck_assert_int_eq(reader_submit(r, &p[i].task), 0);
    }
    reader_close(r);
    ck_assert_int_eq(left, 0);
    for (i = 0; i < N; i++) {
        ck_assert_int_eq(p[i].done_calls, 1);
        ck_assert_int_eq(p[i].done_on_loop, 1);
        if (p[i].done_rc == 0)
            ck_assert_int_eq(p[i].worked, 1);
        else
            ck_assert_int_eq(p[i].done_rc, READER_ECANCELED);
        if (p[i].done_rc == READER_ECANCELED)
            ck_assert_int_eq(p[i].worked, 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* A database that cannot be opened: done() gets the store's code, work
 * never runs, and the process goes on. */
START_TEST(test_store_cannot_open)
{
    struct probe p;
    struct reader *r = NULL;
    uv_loop_t loop;
    char bad[700];
    int left = 1;

    snprintf(bad, sizeof bad, "%s/missing/dir/x.db", tmpdir);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(reader_start(&loop, bad, 100, &r), 0);
    memset(&p, 0, sizeof p);
    p.task.work = probe_work;
    p.task.done = probe_done;
    p.loop_thread = uv_thread_self();
    p.left = &left;
    ck_assert_int_eq(reader_submit(r, &p.task), 0);
    while (left > 0)
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert_int_eq(p.worked, 0);
    ck_assert_int_lt(p.done_rc, 0);
    ck_assert_int_ne(p.done_rc, READER_ECANCELED);
    reader_close(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* A quadratic spec over [0, 1.5] at `levels`. */
static struct tb_spec quad_spec(int levels)
{
    struct tb_spec s;

    memset(&s, 0, sizeof s);
    s.model.family = TB_QUADRATIC;
    s.model.dim = 1;
    s.x0_scalar = 1.0;
    s.steps = 20;
    s.threshold = 1e8;
    s.n_axes = 1;
    s.axes[0].min = 0.0;
    s.axes[0].max = 1.5;
    s.axes[0].levels = levels;
    return s;
}

/* Saves a job of 2^levels + 1 points in tiles of 64 whose labels are a
 * fixed pseudo-random pattern; returns the job id and fills want. */
static int64_t save_job(struct store *s, int levels, uint64_t *want)
{
    const uint64_t points = ((uint64_t)1 << levels) + 1, tile = 64;
    struct queue_submit sub = {"{}", NULL, points, tile, NULL, NULL, 0};
    struct job j;
    struct tile_claim c;
    uint64_t x = 0x9e3779b97f4a7c15ull, i;
    int replayed = 0, complete = 0;
    int64_t id;

    memset(want, 0, (size_t)tb_label_words(points) * 8);
    for (i = 0; i < points; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (x & 1)
            want[i / 64] |= (uint64_t)1 << (i % 64);
    }
    memset(&j, 0, sizeof j);
    ck_assert_int_eq(queue_enqueue(s, &sub, 1, &j, &replayed), QUEUE_OK);
    id = j.id;
    job_free(&j);
    while (queue_claim(s, 2, 60000, &c) == QUEUE_OK) {
        uint64_t words = tb_label_words(c.count);
        uint64_t *w = calloc((size_t)words, 8);
        for (i = 0; i < c.count; i++)
            if ((want[(c.begin + i) / 64] >> ((c.begin + i) % 64)) & 1)
                w[i / 64] |= (uint64_t)1 << (i % 64);
        ck_assert_int_eq(
            queue_finish_tile(s, c.job_id, c.idx, c.attempt, w, c.count, 0, 0, 3, &complete),
            QUEUE_OK);
        free(w);
        tile_claim_free(&c);
    }
    ck_assert_int_eq(complete, 1);
    return id;
}

START_TEST(test_npy_stream_equals_whole_body)
{
    static const size_t blocks[] = {1, 3, 7, 8, 13, 64, 100, 129, 4096, 1 << 20};
    const int levels = 10;
    const uint64_t points = ((uint64_t)1 << levels) + 1;
    uint64_t *want = calloc((size_t)tb_label_words(points), 8);
    unsigned char *whole, *got;
    struct store *s = NULL;
    size_t hl = 0, total, b;
    int64_t id;

    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_OK);
    id = save_job(s, levels, want);
    whole = malloc(NPY_HEADER_MAX + points);
    npy_header((char *)whole, NPY_HEADER_MAX, "|b1", points, &hl);
    npy_unpack_bits(want, 0, (size_t)points, whole + hl);
    total = hl + (size_t)points;
    got = malloc(total + 16);
    for (b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        struct boundary_work w;
        size_t n = 0, k;

        memset(&w, 0, sizeof w);
        w.job_id = id;
        w.spec = quad_spec(levels);
        w.format = BOUNDARY_NPY;
        w.limit = 1000;
        ck_assert_int_eq(boundary_build(s, &w), BOUNDARY_OK);
        ck_assert_uint_eq(boundary_npy_size(&w), total);
        while ((k = boundary_npy_read(&w, (char *)got + n, blocks[b])) > 0) {
            ck_assert_uint_le(k, blocks[b]);
            n += k;
            ck_assert_uint_le(n, total);
        }
        ck_assert_uint_eq(n, total);
        ck_assert(memcmp(got, whole, total) == 0);
        boundary_work_free(&w);
    }
    {
        /* The packed words, and a job that does not exist. */
        struct boundary_work w;
        memset(&w, 0, sizeof w);
        w.job_id = id;
        w.spec = quad_spec(levels);
        w.format = BOUNDARY_WORDS;
        w.limit = 1000;
        ck_assert_int_eq(boundary_build(s, &w), BOUNDARY_OK);
        ck_assert_uint_eq(w.body_len, tb_label_words(points) * 8);
        for (size_t i = 0; i < w.body_len; i++)
            ck_assert_uint_eq((unsigned char)w.body[i],
                              (unsigned char)(want[i / 8] >> (8 * (i % 8))));
        boundary_work_free(&w);
        memset(&w, 0, sizeof w);
        w.job_id = id + 100;
        w.spec = quad_spec(levels);
        w.format = BOUNDARY_JSON;
        w.limit = 10;
        ck_assert_int_eq(boundary_build(s, &w), BOUNDARY_ELOAD);
        ck_assert_int_eq(w.queue_rc, QUEUE_ENOENT);
        boundary_work_free(&w);
    }
    store_close(s);
    free(want);
    free(whole);
    free(got);
}
END_TEST

static Suite *reader_suite(void)
{
    Suite *su = suite_create("service/reader");
    TCase *tc = tcase_create("reader");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_tasks_run_off_the_loop);
    tcase_add_test(tc, test_close_with_queued_tasks);
    tcase_add_test(tc, test_store_cannot_open);
    tcase_add_test(tc, test_npy_stream_equals_whole_body);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(reader_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
