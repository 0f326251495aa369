/*
 * test_queue.c - unit tests of service/queue/queue.c: the job lifecycle on
 * each backend (dbfix.h: a real SQLite file, or a fresh database of the
 * throwaway PostgreSQL with TB_TEST_PG=1): enqueue with tiles,
 * fair claims, leases, heartbeats, lease expiry and bounded attempts,
 * idempotent tile results, labels round-trip, cancel, delete, list and
 * pagination, idempotency keys, max_queued, revisions, retention, and a
 * crash of a process holding a lease.
 *
 * White-box: dbfix.h's fx_int() reads rows the API does not expose on the
 * store's own connection. The clock is the tests' own (now_ms
 * arguments), so nothing here depends on timing. Single-threaded; one
 * test forks a child that dies holding a lease.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue.h"
#include "queue_study.h"
#include "dbfix.h"
#include "tb.h"

static void setup(void)
{
    fx_setup("queue");
}

static void teardown(void)
{
    fx_teardown();
}

/* synchronous = NORMAL keeps the suite quick; test_full_cycle uses FULL. */
static struct store *open_store(void)
{
    struct store *s = NULL;

    ck_assert_int_eq(store_open(dbpath, 1, 1000, 1, &s), QUEUE_OK);
    return s;
}

/* Enqueues a job of points points in tiles of tile_points; returns its id. */
static int64_t submit(struct store *s, uint64_t points, uint64_t tile_points, int64_t now_ms)
{
    struct queue_submit sub = {.spec_json = "{\"lr\":{\"levels\":4}}",
                               .name = "t",
                               .points = points,
                               .tile_points = tile_points};
    struct job j;
    int64_t id;

    ck_assert_int_eq(queue_enqueue(s, &sub, now_ms, &j, NULL), QUEUE_OK);
    id = j.id;
    job_free(&j);
    return id;
}

static struct job get(struct store *s, int64_t id)
{
    struct job j;

    ck_assert_int_eq(queue_get(s, id, &j), QUEUE_OK);
    return j;
}

static enum job_status status_of(struct store *s, int64_t id)
{
    struct job j = get(s, id);
    enum job_status st = j.status;

    job_free(&j);
    return st;
}

static int64_t revision_of(struct store *s, int64_t id)
{
    struct job j = get(s, id);
    int64_t r = j.revision;

    job_free(&j);
    return r;
}

/* The test's label of grid point p: a fixed pseudo-random bit. */
static int label_of(uint64_t p)
{
    uint64_t x = p * 0x9E3779B97F4A7C15u;

    return (int)((x ^ (x >> 29)) >> 63);
}

/* Computes a claimed tile's labels (the test's stand-in for tb_sweep_tile)
 * and saves them. */
static int finish(struct store *s, const struct tile_claim *c, int64_t now_ms, int *complete)
{
    uint64_t *w = calloc(tb_label_words(c->count), sizeof *w), i, div = 0;
    int ret;

    ck_assert_ptr_nonnull(w);
    for (i = 0; i < c->count; i++) {
        if (label_of(c->begin + i)) {
            w[i / 64] |= (uint64_t)1 << (i % 64);
            div++;
        }
    }
    ret = queue_finish_tile(s, c->job_id, c->idx, c->attempt, w, c->count, div, c->count * 10,
                            now_ms, complete);
    free(w);
    return ret;
}

static struct tile_claim claim(struct store *s, int64_t now_ms, int64_t lease_ms)
{
    struct tile_claim c;

    ck_assert_int_eq(queue_claim(s, now_ms, lease_ms, &c), QUEUE_OK);
    ck_assert_ptr_nonnull(c.spec_json);
    return c;
}

START_TEST(test_status_names)
{
    enum job_status st;
    int i;

    for (i = JOB_QUEUED; i <= JOB_CANCELED; i++) {
        ck_assert_int_eq(job_status_parse(job_status_name((enum job_status)i), &st), QUEUE_OK);
        ck_assert_int_eq(st, i);
    }
    ck_assert_str_eq(job_status_name(JOB_SUCCEEDED), "succeeded");
    ck_assert_int_eq(job_status_parse("done", &st), QUEUE_ENOENT);
    ck_assert_int_eq(job_status_parse(NULL, &st), QUEUE_ENOENT);
}
END_TEST

/* enqueue -> claim every tile -> finish -> labels -> complete -> result. */
START_TEST(test_full_cycle)
{
    struct store *s = NULL;
    struct tile_claim c[4], none;
    uint64_t bits[16], p;
    int64_t id, counts[5];
    char *result = NULL;
    int i, complete = -1;
    struct job j;
    unsigned char blob[64];

    ck_assert_int_eq(store_open(dbpath, 1, 1000, 0, &s), QUEUE_OK); /* synchronous FULL */
    id = submit(s, 1000, 256, 100);
    j = get(s, id);
    ck_assert_int_eq(j.status, JOB_QUEUED);
    ck_assert_str_eq(j.name, "t");
    ck_assert_str_eq(j.spec_json, "{\"lr\":{\"levels\":4}}");
    ck_assert_uint_eq(j.points_total, 1000);
    ck_assert_int_eq(j.tiles_total, 4);
    ck_assert_int_eq(j.created_ms, 100);
    ck_assert_int_eq(j.started_ms, 0);
    ck_assert_ptr_null(j.error);
    job_free(&j);

    for (i = 0; i < 4; i++) {
        c[i] = claim(s, 200 + i, 60000);
        ck_assert_int_eq(c[i].job_id, id);
        ck_assert_int_eq(c[i].idx, i);
        ck_assert_uint_eq(c[i].begin, (uint64_t)i * 256);
        ck_assert_uint_eq(c[i].count, i < 3 ? 256 : 1000 - 768);
        ck_assert_int_eq(c[i].attempt, 1);
        ck_assert_str_eq(c[i].spec_json, "{\"lr\":{\"levels\":4}}");
    }
    ck_assert_int_eq(queue_claim(s, 300, 60000, &none), QUEUE_ENOENT);
    j = get(s, id);
    ck_assert_int_eq(j.status, JOB_RUNNING);
    ck_assert_int_eq(j.started_ms, 200); /* the first claim, not a later one */
    job_free(&j);

    /* Out of order; only the last one completes the job. */
    for (i = 3; i >= 0; i--) {
        ck_assert_int_eq(finish(s, &c[i], 400, &complete), QUEUE_OK);
        ck_assert_int_eq(complete, i == 0);
        tile_claim_free(&c[i]);
    }
    j = get(s, id);
    ck_assert_uint_eq(j.points_done, 1000);
    ck_assert_int_eq(j.tiles_done, 4);
    ck_assert_int_eq(j.status, JOB_RUNNING); /* until queue_complete */
    job_free(&j);

    memset(bits, 0xff, sizeof bits);
    ck_assert_int_eq(queue_load_labels(s, id, bits), QUEUE_OK);
    for (p = 0; p < 1000; p++)
        ck_assert_int_eq(tb_label_get(bits, p), label_of(p));
    ck_assert_uint_eq(bits[15] >> (1000 - 960), 0); /* no bits past the grid */

    /* On disk: little-endian words, whatever the host. */
    ck_assert_int_eq(
        fx_blob(s, "SELECT labels FROM tiles WHERE job_id = ?1 AND idx = 3", id, blob, sizeof blob),
        4 * 8); /* 232 points = 4 words */
    for (i = 0; i < 32; i++)
        ck_assert_uint_eq(blob[i], (bits[12 + i / 8] >> (8 * (i % 8))) & 0xff);

    ck_assert_int_eq(queue_get_result(s, id, &result), QUEUE_ENOENT);
    ck_assert_int_eq(queue_complete(s, id, "{\"counts\":[1]}", "{\"dimension\":0.5}", 500),
                     QUEUE_OK);
    j = get(s, id);
    ck_assert_int_eq(j.status, JOB_SUCCEEDED);
    ck_assert_int_eq(j.finished_ms, 500);
    ck_assert_str_eq(j.summary_json, "{\"dimension\":0.5}");
    job_free(&j);
    ck_assert_int_eq(queue_get_result(s, id, &result), QUEUE_OK);
    ck_assert_str_eq(result, "{\"counts\":[1]}");
    free(result);
    ck_assert_int_eq(queue_complete(s, id, "{}", NULL, 600), QUEUE_ECONFLICT);
    ck_assert_int_eq(queue_fail(s, id, "late", 600), QUEUE_ECONFLICT);
    ck_assert_int_eq(queue_counts(s, counts), QUEUE_OK);
    ck_assert_int_eq(counts[JOB_SUCCEEDED], 1);
    ck_assert_int_eq(counts[JOB_QUEUED] + counts[JOB_RUNNING], 0);
    ck_assert_int_eq(queue_load_labels(s, id + 1, bits), QUEUE_ENOENT);
    ck_assert_int_eq(queue_get(s, id + 1, &j), QUEUE_ENOENT);
    store_close(s);
}
END_TEST

/* A grid of 2^32 + 1 points makes ceil(points / tile_points) rows, the last
 * tile one point long; too many tiles or a bad tile size is refused. */
START_TEST(test_tiling)
{
    struct queue_submit sub = {.spec_json = "{}"};
    struct store *s = open_store();
    uint64_t big = ((uint64_t)1 << 32) + 1;
    struct job j;
    int64_t id;

    id = submit(s, big, (uint64_t)1 << 26, 1);
    j = get(s, id);
    ck_assert_int_eq(j.tiles_total, 65);
    ck_assert_uint_eq(j.points_total, big);
    job_free(&j);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM tiles WHERE job_id = ?1", id), 65);
    ck_assert_int_eq(fx_int(s, "SELECT begin_pt FROM tiles WHERE job_id = ?1 AND idx = 64", id),
                     (int64_t)1 << 32);
    ck_assert_int_eq(fx_int(s, "SELECT count FROM tiles WHERE job_id = ?1 AND idx = 64", id), 1);
    ck_assert_int_eq(fx_int(s, "SELECT sum(count) FROM tiles WHERE job_id = ?1", id), (int64_t)big);

    sub.points = big;
    sub.tile_points = 64; /* 67 million rows: refused */
    ck_assert_int_eq(queue_enqueue(s, &sub, 1, &j, NULL), QUEUE_EINVAL);
    sub.tile_points = 100;
    ck_assert_int_eq(queue_enqueue(s, &sub, 1, &j, NULL), QUEUE_EINVAL);
    sub.tile_points = 0;
    ck_assert_int_eq(queue_enqueue(s, &sub, 1, &j, NULL), QUEUE_EINVAL);
    sub.points = 0;
    sub.tile_points = 64;
    ck_assert_int_eq(queue_enqueue(s, &sub, 1, &j, NULL), QUEUE_EINVAL);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM jobs", 0), 1);

    /* Exactly one full tile. */
    id = submit(s, 64, 64, 2);
    ck_assert_int_eq(fx_int(s, "SELECT count FROM tiles WHERE job_id = ?1", id), 64);
    store_close(s);
}
END_TEST

/* A 100-tile job, then a 2-tile job: the small one is served within the
 * first few claims instead of after the big one. */
START_TEST(test_fairness)
{
    struct store *s = open_store();
    int64_t big = submit(s, 6400, 64, 1), small = submit(s, 128, 64, 2);
    int i, small_seen = 0, last_small = -1;
    struct tile_claim c;

    for (i = 0; i < 10; i++) {
        c = claim(s, 10 + i, 60000);
        if (c.job_id == small) {
            small_seen++;
            last_small = i;
        } else {
            ck_assert_int_eq(c.job_id, big);
        }
        tile_claim_free(&c);
    }
    ck_assert_int_eq(small_seen, 2);
    ck_assert_int_le(last_small, 3); /* claims: big, small, big, small */
    ck_assert_int_eq(status_of(s, small), JOB_RUNNING);
    store_close(s);
}
END_TEST

START_TEST(test_lease_expiry_and_heartbeat)
{
    struct store *s = open_store();
    int64_t id = submit(s, 128, 64, 1);
    struct tile_attempt a[8];
    struct tile_claim c, d;
    int n = -1;

    c = claim(s, 1000, 500); /* lease until 1500 */
    ck_assert_int_eq(queue_requeue_expired(s, 1400, 3, &n), QUEUE_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(queue_heartbeat(s, id, c.idx, c.attempt, 3000), QUEUE_OK);
    ck_assert_int_eq(queue_requeue_expired(s, 2000, 3, &n), QUEUE_OK);
    ck_assert_int_eq(n, 0); /* the heartbeat kept it */
    ck_assert_int_eq(queue_requeue_expired(s, 3001, 3, &n), QUEUE_OK);
    ck_assert_int_eq(n, 1);

    /* The lost lease is gone for its holder ... */
    ck_assert_int_eq(queue_heartbeat(s, id, c.idx, c.attempt, 9000), QUEUE_ESTALE);
    /* ... and the tile is claimable again, as attempt 2 (before tile 1,
     * which was never leased: lowest index first). */
    d = claim(s, 3100, 500);
    ck_assert_int_eq(d.job_id, id);
    ck_assert_int_eq(d.idx, c.idx);
    ck_assert_int_eq(d.attempt, 2);

    ck_assert_int_eq(queue_tile_attempts(s, id, a, 8, &n), QUEUE_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(a[0].idx, 0);
    ck_assert_int_eq(a[0].attempt, 1);
    ck_assert_int_eq(a[0].outcome, ATTEMPT_EXPIRED);
    ck_assert_int_eq(a[0].leased_ms, 1000);
    ck_assert_int_eq(a[0].ended_ms, 3001);
    ck_assert_int_eq(a[1].attempt, 2);
    ck_assert_int_eq(a[1].outcome, ATTEMPT_LEASED);
    ck_assert_int_eq(a[1].ended_ms, 0);
    ck_assert_int_eq(queue_tile_attempts(s, id + 1, a, 8, &n), QUEUE_ENOENT);
    tile_claim_free(&c);
    tile_claim_free(&d);
    store_close(s);
}
END_TEST

/* A tile whose worker keeps dying fails its job after max_attempts, with
 * the reason stored; the job's other tiles are no longer handed out. */
START_TEST(test_attempts_exhausted)
{
    struct store *s = open_store();
    int64_t id = submit(s, 192, 64, 1), other;
    struct tile_claim c, keep;
    struct tile_attempt a[8];
    int attempt, n;
    struct job j;

    keep = claim(s, 10, 1000000); /* tile 0, held by a healthy worker */
    for (attempt = 1; attempt <= 3; attempt++) {
        c = claim(s, attempt * 1000, 100);
        ck_assert_int_eq(c.idx, 1);
        ck_assert_int_eq(c.attempt, attempt);
        tile_claim_free(&c);
        ck_assert_int_eq(queue_requeue_expired(s, attempt * 1000 + 200, 3, &n), QUEUE_OK);
        ck_assert_int_eq(n, attempt < 3 ? 1 : 0);
        ck_assert_int_eq(status_of(s, id), attempt < 3 ? JOB_RUNNING : JOB_FAILED);
    }
    j = get(s, id);
    ck_assert_str_eq(j.error, "tile 1 failed 3 attempts (worker lost)");
    ck_assert_int_eq(j.finished_ms, 3200);
    job_free(&j);

    /* The healthy worker's lease is void, and nothing is claimable. */
    ck_assert_int_eq(queue_heartbeat(s, id, keep.idx, keep.attempt, 2000000), QUEUE_ESTALE);
    ck_assert_int_eq(finish(s, &keep, 4000, NULL), QUEUE_ESTALE);
    ck_assert_int_eq(queue_claim(s, 5000, 100, &c), QUEUE_ENOENT);
    ck_assert_int_eq(queue_tile_attempts(s, id, a, 8, &n), QUEUE_OK);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(a[0].outcome, ATTEMPT_ABANDONED);
    ck_assert_int_eq(a[1].outcome, ATTEMPT_EXPIRED);
    ck_assert_int_eq(a[3].outcome, ATTEMPT_EXPIRED);
    tile_claim_free(&keep);

    /* Another job is unaffected; no limit with max_attempts <= 0. */
    other = submit(s, 64, 64, 6000);
    for (attempt = 1; attempt <= 5; attempt++) {
        c = claim(s, 6000 + attempt * 1000, 100);
        ck_assert_int_eq(c.job_id, other);
        ck_assert_int_eq(c.attempt, attempt);
        tile_claim_free(&c);
        ck_assert_int_eq(queue_requeue_expired(s, 6000 + attempt * 1000 + 200, 0, &n), QUEUE_OK);
        ck_assert_int_eq(n, 1);
    }
    ck_assert_int_eq(status_of(s, other), JOB_RUNNING);
    store_close(s);
}
END_TEST

/* queue_release (graceful shutdown) hands a lease back without using up an
 * attempt: max_attempts counts lost (expired) leases only; a released lease
 * is logged abandoned, the tile is claimed again with the next attempt
 * number, and releasing a lease no longer held is ESTALE. */
START_TEST(test_release)
{
    struct store *s = open_store();
    int64_t id = submit(s, 64, 64, 1);
    struct tile_claim c;
    struct tile_attempt a[8];
    int attempt, n;

    for (attempt = 1; attempt <= 3; attempt++) {
        c = claim(s, attempt * 1000, 100);
        ck_assert_int_eq(c.idx, 0);
        ck_assert_int_eq(c.attempt, attempt);
        ck_assert_int_eq(queue_release(s, id, c.idx, c.attempt, attempt * 1000 + 50), QUEUE_OK);
        /* Twice, or after the release, it is not held any more. */
        ck_assert_int_eq(queue_release(s, id, c.idx, c.attempt, attempt * 1000 + 60), QUEUE_ESTALE);
        ck_assert_int_eq(queue_heartbeat(s, id, c.idx, c.attempt, 999999), QUEUE_ESTALE);
        tile_claim_free(&c);
        /* Nothing is leased, so nothing expires and nothing fails. */
        ck_assert_int_eq(queue_requeue_expired(s, INT64_MAX, 1, &n), QUEUE_OK);
        ck_assert_int_eq(n, 0);
        ck_assert_int_eq(status_of(s, id), JOB_RUNNING);
    }
    /* With max_attempts 1, one lost lease after three releases fails it. */
    c = claim(s, 5000, 100);
    ck_assert_int_eq(c.attempt, 4);
    tile_claim_free(&c);
    ck_assert_int_eq(queue_requeue_expired(s, 6000, 1, &n), QUEUE_OK);
    ck_assert_int_eq(status_of(s, id), JOB_FAILED);
    ck_assert_int_eq(queue_tile_attempts(s, id, a, 8, &n), QUEUE_OK);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(a[0].outcome, ATTEMPT_ABANDONED);
    ck_assert_int_eq(a[0].ended_ms, 1050);
    ck_assert_int_eq(a[2].outcome, ATTEMPT_ABANDONED);
    ck_assert_int_eq(a[3].outcome, ATTEMPT_EXPIRED);
    ck_assert_int_eq(queue_release(s, id + 100, 0, 1, 7000), QUEUE_ESTALE);
    store_close(s);
}
END_TEST

/* A result from a lease that was lost changes nothing; the same attempt's
 * result twice counts once. */
START_TEST(test_stale_and_repeated_finish)
{
    struct store *s = open_store();
    int64_t id = submit(s, 128, 64, 1), rev;
    struct tile_claim old, cur;
    int n, complete = -1;
    struct job j;

    old = claim(s, 100, 100);
    ck_assert_int_eq(queue_requeue_expired(s, 1000, 5, &n), QUEUE_OK);
    ck_assert_int_eq(n, 1);
    cur = claim(s, 1100, 100000);
    ck_assert_int_eq(cur.idx, old.idx);
    ck_assert_int_eq(cur.attempt, 2);

    rev = revision_of(s, id);
    ck_assert_int_eq(finish(s, &old, 1200, &complete), QUEUE_ESTALE);
    ck_assert_int_eq(complete, 0);
    j = get(s, id);
    ck_assert_int_eq(j.revision, rev);
    ck_assert_uint_eq(j.points_done, 0);
    ck_assert_int_eq(j.tiles_done, 0);
    job_free(&j);
    ck_assert_int_eq(fx_int(s,
                            "SELECT count(*) FROM tiles WHERE job_id = ?1 AND labels IS NOT "
                            "NULL",
                            id),
                     0);
    ck_assert_int_eq(queue_heartbeat(s, id, old.idx, old.attempt, 5000), QUEUE_ESTALE);

    ck_assert_int_eq(finish(s, &cur, 1300, &complete), QUEUE_OK);
    ck_assert_int_eq(complete, 0);
    ck_assert_int_eq(finish(s, &cur, 1400, &complete), QUEUE_OK); /* a retried call */
    ck_assert_int_eq(finish(s, &old, 1500, &complete), QUEUE_ESTALE);
    j = get(s, id);
    ck_assert_uint_eq(j.points_done, 64);
    ck_assert_int_eq(j.tiles_done, 1);
    ck_assert_int_eq(j.revision, rev + 1);
    job_free(&j);
    ck_assert_int_eq(fx_int(s,
                            "SELECT count(*) FROM tile_attempts WHERE job_id = ?1 AND "
                            "outcome = 'done'",
                            id),
                     1);

    /* A count that is not the tile's is a caller bug. */
    tile_claim_free(&cur);
    cur = claim(s, 1600, 100000);
    cur.count = 63;
    ck_assert_int_eq(finish(s, &cur, 1700, &complete), QUEUE_EINVAL);
    cur.count = 64;
    ck_assert_int_eq(finish(s, &cur, 1700, &complete), QUEUE_OK);
    ck_assert_int_eq(complete, 1);
    ck_assert_int_eq(finish(s, &cur, 1800, &complete), QUEUE_OK);
    ck_assert_int_eq(complete, 1); /* still waiting for queue_complete */
    tile_claim_free(&old);
    tile_claim_free(&cur);
    store_close(s);
}
END_TEST

START_TEST(test_cancel_queued)
{
    struct store *s = open_store();
    int64_t id = submit(s, 128, 64, 1), rev = revision_of(s, id);
    struct tile_claim c;
    struct job j;

    ck_assert_int_eq(queue_cancel(s, id, 50, &j), QUEUE_OK);
    ck_assert_int_eq(j.status, JOB_CANCELED);
    ck_assert_int_eq(j.finished_ms, 50);
    ck_assert_int_eq(j.revision, rev + 1);
    job_free(&j);
    ck_assert_int_eq(queue_claim(s, 60, 100, &c), QUEUE_ENOENT);
    ck_assert_int_eq(queue_cancel(s, id, 70, &j), QUEUE_ECONFLICT);
    ck_assert_int_eq(queue_cancel(s, id + 1, 70, NULL), QUEUE_ENOENT);
    ck_assert_int_eq(queue_fail(s, id, "x", 80), QUEUE_ECONFLICT);
    ck_assert_int_eq(queue_fail(s, id + 1, "x", 80), QUEUE_ENOENT);
    store_close(s);
}
END_TEST

START_TEST(test_cancel_running)
{
    struct store *s = open_store();
    int64_t id = submit(s, 192, 64, 1);
    struct tile_claim c, done, d;
    struct tile_attempt a[4];
    int n;

    done = claim(s, 10, 1000);
    ck_assert_int_eq(finish(s, &done, 20, NULL), QUEUE_OK);
    c = claim(s, 30, 1000);
    ck_assert_int_eq(queue_cancel(s, id, 40, NULL), QUEUE_OK);
    ck_assert_int_eq(status_of(s, id), JOB_CANCELED);

    /* The worker notices on its next heartbeat or result. */
    ck_assert_int_eq(queue_heartbeat(s, id, c.idx, c.attempt, 5000), QUEUE_ESTALE);
    ck_assert_int_eq(finish(s, &c, 50, NULL), QUEUE_ESTALE);
    ck_assert_int_eq(queue_claim(s, 60, 1000, &d), QUEUE_ENOENT);
    ck_assert_int_eq(queue_requeue_expired(s, INT64_MAX, 3, &n), QUEUE_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(queue_tile_attempts(s, id, a, 4, &n), QUEUE_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(a[0].outcome, ATTEMPT_DONE);
    ck_assert_int_eq(a[1].outcome, ATTEMPT_ABANDONED);
    ck_assert_int_eq(a[1].ended_ms, 40);
    ck_assert_int_eq(queue_complete(s, id, "{}", NULL, 70), QUEUE_ECONFLICT);
    tile_claim_free(&c);
    tile_claim_free(&done);
    store_close(s);
}
END_TEST

START_TEST(test_fail)
{
    struct store *s = open_store();
    int64_t id = submit(s, 128, 64, 1);
    struct tile_claim c = claim(s, 10, 1000);
    struct job j;

    ck_assert_int_eq(queue_complete(s, id, "{}", NULL, 20), QUEUE_ECONFLICT); /* tiles missing */
    ck_assert_int_eq(queue_fail(s, id, "analysis failed: out of memory", 30), QUEUE_OK);
    j = get(s, id);
    ck_assert_int_eq(j.status, JOB_FAILED);
    ck_assert_str_eq(j.error, "analysis failed: out of memory");
    ck_assert_int_eq(j.finished_ms, 30);
    job_free(&j);
    ck_assert_int_eq(finish(s, &c, 40, NULL), QUEUE_ESTALE);
    tile_claim_free(&c);
    store_close(s);
}
END_TEST

START_TEST(test_delete)
{
    struct store *s = open_store();
    int64_t id = submit(s, 192, 64, 1), keep = submit(s, 64, 64, 2), done;
    struct tile_claim c = claim(s, 10, 1000), d;
    struct job j;
    int complete;

    ck_assert_int_eq(c.job_id, id);
    ck_assert_int_eq(queue_delete(s, id), QUEUE_OK);
    ck_assert_int_eq(queue_get(s, id, &j), QUEUE_ENOENT);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM tiles WHERE job_id = ?1", id), 0);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM tile_attempts WHERE job_id = ?1", id), 0);
    ck_assert_int_eq(queue_heartbeat(s, id, c.idx, c.attempt, 5000), QUEUE_ESTALE);
    ck_assert_int_eq(finish(s, &c, 20, NULL), QUEUE_ESTALE);
    ck_assert_int_eq(queue_delete(s, id), QUEUE_ENOENT);
    tile_claim_free(&c);

    /* The other job is untouched; a finished job goes with its result. */
    ck_assert_int_eq(status_of(s, keep), JOB_QUEUED);
    done = keep;
    d = claim(s, 30, 1000);
    ck_assert_int_eq(d.job_id, done);
    ck_assert_int_eq(finish(s, &d, 40, &complete), QUEUE_OK);
    ck_assert_int_eq(complete, 1);
    ck_assert_int_eq(queue_complete(s, done, "{\"r\":1}", "{}", 50), QUEUE_OK);
    ck_assert_int_eq(queue_delete(s, done), QUEUE_OK);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM results", 0), 0);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM tiles", 0), 0);
    tile_claim_free(&d);

    /* Ids are never reused. */
    ck_assert_int_gt(submit(s, 64, 64, 60), done);
    store_close(s);
}
END_TEST

static void expect_ids(const struct job *out, int n, const int64_t *want, int nwant)
{
    int i;

    ck_assert_int_eq(n, nwant);
    for (i = 0; i < n; i++)
        ck_assert_int_eq(out[i].id, want[i]);
}

static void free_jobs(struct job *out, int n)
{
    int i;

    for (i = 0; i < n; i++)
        job_free(&out[i]);
}

START_TEST(test_list)
{
    static const int64_t p1[] = {7, 6, 5}, p2[] = {4, 3, 2}, p3[] = {1};
    static const int64_t canceled[] = {5, 2}, queued[] = {7, 6, 4, 3, 1};
    enum job_status want = JOB_CANCELED;
    struct store *s = open_store();
    struct job out[10];
    int64_t next;
    int i, n;

    for (i = 1; i <= 7; i++)
        ck_assert_int_eq(submit(s, 64, 64, i), i);
    ck_assert_int_eq(queue_cancel(s, 2, 10, NULL), QUEUE_OK);
    ck_assert_int_eq(queue_cancel(s, 5, 10, NULL), QUEUE_OK);

    ck_assert_int_eq(queue_list(s, NULL, 0, 3, out, &n, &next), QUEUE_OK);
    expect_ids(out, n, p1, 3);
    ck_assert_int_eq(next, 5);
    ck_assert_str_eq(out[0].spec_json, "{\"lr\":{\"levels\":4}}");
    free_jobs(out, n);
    ck_assert_int_eq(queue_list(s, NULL, next, 3, out, &n, &next), QUEUE_OK);
    expect_ids(out, n, p2, 3);
    ck_assert_int_eq(next, 2);
    free_jobs(out, n);
    ck_assert_int_eq(queue_list(s, NULL, next, 3, out, &n, &next), QUEUE_OK);
    expect_ids(out, n, p3, 1);
    ck_assert_int_eq(next, 0);
    free_jobs(out, n);

    ck_assert_int_eq(queue_list(s, &want, 0, 10, out, &n, &next), QUEUE_OK);
    expect_ids(out, n, canceled, 2);
    ck_assert_int_eq(out[0].status, JOB_CANCELED);
    ck_assert_int_eq(next, 0);
    free_jobs(out, n);
    want = JOB_QUEUED;
    ck_assert_int_eq(queue_list(s, &want, 0, 5, out, &n, &next), QUEUE_OK);
    expect_ids(out, n, queued, 5);
    ck_assert_int_eq(next, 0); /* exactly a page: no next one */
    free_jobs(out, n);
    ck_assert_int_eq(queue_list(s, &want, 4, 2, out, &n, &next), QUEUE_OK);
    expect_ids(out, n, queued + 3, 2);
    ck_assert_int_eq(next, 0);
    free_jobs(out, n);
    want = JOB_SUCCEEDED;
    ck_assert_int_eq(queue_list(s, &want, 0, 10, out, &n, &next), QUEUE_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(queue_list(s, NULL, 0, 0, out, &n, &next), QUEUE_EINVAL);
    ck_assert_int_eq(queue_list(s, NULL, -1, 3, out, &n, &next), QUEUE_EINVAL);
    store_close(s);
}
END_TEST

START_TEST(test_idempotency)
{
    struct queue_submit sub = {.spec_json = "{\"a\":1}",
                               .points = 64,
                               .tile_points = 64,
                               .idem_key = "key-1",
                               .request_hash = "h1"};
    struct store *s = open_store();
    int64_t counts[5], first;
    int replayed = -1;
    struct job j;

    ck_assert_int_eq(queue_enqueue(s, &sub, 10, &j, &replayed), QUEUE_OK);
    ck_assert_int_eq(replayed, 0);
    first = j.id;
    job_free(&j);

    ck_assert_int_eq(queue_enqueue(s, &sub, 20, &j, &replayed), QUEUE_OK);
    ck_assert_int_eq(replayed, 1);
    ck_assert_int_eq(j.id, first);
    ck_assert_int_eq(j.created_ms, 10);
    job_free(&j);
    ck_assert_int_eq(queue_counts(s, counts), QUEUE_OK);
    ck_assert_int_eq(counts[JOB_QUEUED], 1);

    /* The same key for another body. */
    sub.request_hash = "h2";
    replayed = -1;
    ck_assert_int_eq(queue_enqueue(s, &sub, 30, &j, &replayed), QUEUE_ECONFLICT);
    ck_assert_int_eq(replayed, 0);

    /* A replay is answered even when the queue is full. */
    sub.request_hash = "h1";
    sub.max_queued = 1;
    ck_assert_int_eq(queue_enqueue(s, &sub, 40, NULL, &replayed), QUEUE_OK);
    ck_assert_int_eq(replayed, 1);

    /* Another key is another job; no key never collides. */
    sub.idem_key = "key-2";
    sub.max_queued = 0;
    ck_assert_int_eq(queue_enqueue(s, &sub, 50, &j, &replayed), QUEUE_OK);
    ck_assert_int_eq(replayed, 0);
    ck_assert_int_ne(j.id, first);
    job_free(&j);
    sub.idem_key = NULL;
    ck_assert_int_eq(queue_enqueue(s, &sub, 60, NULL, NULL), QUEUE_OK);
    ck_assert_int_eq(queue_enqueue(s, &sub, 60, NULL, NULL), QUEUE_OK);
    ck_assert_int_eq(queue_counts(s, counts), QUEUE_OK);
    ck_assert_int_eq(counts[JOB_QUEUED], 4);

    /* Deleting the job frees its key. */
    ck_assert_int_eq(queue_delete(s, first), QUEUE_OK);
    sub.idem_key = "key-1";
    sub.request_hash = "h9";
    ck_assert_int_eq(queue_enqueue(s, &sub, 70, NULL, &replayed), QUEUE_OK);
    ck_assert_int_eq(replayed, 0);
    store_close(s);
}
END_TEST

START_TEST(test_max_queued)
{
    struct queue_submit sub = {
        .spec_json = "{}", .points = 128, .tile_points = 64, .max_queued = 2};
    struct store *s = open_store();
    struct tile_claim c;
    struct job j;
    int64_t a, b;

    ck_assert_int_eq(queue_enqueue(s, &sub, 1, &j, NULL), QUEUE_OK);
    a = j.id;
    job_free(&j);
    ck_assert_int_eq(queue_enqueue(s, &sub, 2, &j, NULL), QUEUE_OK);
    b = j.id;
    job_free(&j);
    ck_assert_int_eq(queue_enqueue(s, &sub, 3, &j, NULL), QUEUE_EFULL);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM jobs", 0), 2);

    c = claim(s, 4, 1000); /* running still counts */
    ck_assert_int_eq(c.job_id, a);
    tile_claim_free(&c);
    ck_assert_int_eq(queue_enqueue(s, &sub, 5, &j, NULL), QUEUE_EFULL);

    ck_assert_int_eq(queue_cancel(s, b, 6, NULL), QUEUE_OK); /* drained: room again */
    ck_assert_int_eq(queue_enqueue(s, &sub, 7, &j, NULL), QUEUE_OK);
    job_free(&j);
    ck_assert_int_eq(queue_enqueue(s, &sub, 8, &j, NULL), QUEUE_EFULL);
    sub.max_queued = 0; /* no limit */
    ck_assert_int_eq(queue_enqueue(s, &sub, 9, NULL, NULL), QUEUE_OK);
    store_close(s);
}
END_TEST

/* Every change of the job row gives a new revision (the weak ETag); a
 * heartbeat does not change the job. */
START_TEST(test_revision)
{
    struct store *s = open_store();
    int64_t id = submit(s, 128, 64, 1), r[8];
    struct tile_claim c, d;
    int n;

    r[0] = revision_of(s, id);
    ck_assert_int_eq(r[0], 1);
    c = claim(s, 10, 100);
    r[1] = revision_of(s, id);
    ck_assert_int_gt(r[1], r[0]);
    ck_assert_int_eq(queue_heartbeat(s, id, c.idx, c.attempt, 200), QUEUE_OK);
    ck_assert_int_eq(revision_of(s, id), r[1]);
    ck_assert_int_eq(finish(s, &c, 20, NULL), QUEUE_OK);
    r[2] = revision_of(s, id);
    ck_assert_int_gt(r[2], r[1]);
    d = claim(s, 30, 100);
    r[3] = revision_of(s, id);
    ck_assert_int_gt(r[3], r[2]);
    ck_assert_int_eq(queue_requeue_expired(s, 1000, 1, &n), QUEUE_OK); /* fails the job */
    r[4] = revision_of(s, id);
    ck_assert_int_gt(r[4], r[3]);
    ck_assert_int_eq(status_of(s, id), JOB_FAILED);
    tile_claim_free(&c);
    tile_claim_free(&d);

    id = submit(s, 64, 64, 2);
    r[0] = revision_of(s, id);
    ck_assert_int_eq(queue_cancel(s, id, 3, NULL), QUEUE_OK);
    ck_assert_int_gt(revision_of(s, id), r[0]);
    store_close(s);
}
END_TEST

/* Makes a job that ends in status st at time t. */
static int64_t finished_job(struct store *s, enum job_status st, int64_t t)
{
    int64_t id = submit(s, 64, 64, t - 1);
    struct tile_claim c;

    if (st == JOB_CANCELED) {
        ck_assert_int_eq(queue_cancel(s, id, t, NULL), QUEUE_OK);
        return id;
    }
    ck_assert_int_eq(queue_claim(s, t - 1, 1000, &c), QUEUE_OK);
    ck_assert_int_eq(c.job_id, id);
    if (st == JOB_SUCCEEDED) {
        ck_assert_int_eq(finish(s, &c, t, NULL), QUEUE_OK);
        ck_assert_int_eq(queue_complete(s, id, "{}", "{}", t), QUEUE_OK);
    } else if (st == JOB_FAILED) {
        ck_assert_int_eq(queue_fail(s, id, "boom", t), QUEUE_OK);
    }
    tile_claim_free(&c);
    return id;
}

START_TEST(test_prune)
{
    struct store *s = open_store();
    int64_t succ_old = finished_job(s, JOB_SUCCEEDED, 100);
    int64_t failed = finished_job(s, JOB_FAILED, 200);
    int64_t canceled = finished_job(s, JOB_CANCELED, 300);
    int64_t running = finished_job(s, JOB_RUNNING, 400);
    int64_t succ_new = finished_job(s, JOB_SUCCEEDED, 1000);
    int64_t queued = submit(s, 64, 64, 1100); /* last: the claims above must not take it */
    struct job j;
    int n;

    /* Oldest first, batch by batch. */
    ck_assert_int_eq(queue_prune(s, 500, 250, 1, &n), QUEUE_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(queue_get(s, succ_old, &j), QUEUE_ENOENT);
    ck_assert_int_eq(queue_prune(s, 500, 250, 1, &n), QUEUE_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(queue_get(s, failed, &j), QUEUE_ENOENT);
    ck_assert_int_eq(queue_prune(s, 500, 250, 1, &n), QUEUE_OK);
    ck_assert_int_eq(n, 0); /* canceled at 300 is younger than 250 */
    ck_assert_int_eq(queue_prune(s, 0, 400, 10, &n), QUEUE_OK); /* succeeded kept */
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(queue_get(s, canceled, &j), QUEUE_ENOENT);
    ck_assert_int_eq(queue_prune(s, INT64_MAX, INT64_MAX, 10, &n), QUEUE_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(queue_get(s, succ_new, &j), QUEUE_ENOENT);

    /* Active jobs are never pruned; their data stays, the rest is gone. */
    ck_assert_int_eq(status_of(s, running), JOB_RUNNING);
    ck_assert_int_eq(status_of(s, queued), JOB_QUEUED);
    ck_assert_int_eq(fx_int(s,
                            "SELECT count(*) FROM tiles WHERE job_id NOT IN (SELECT id "
                            "FROM jobs)",
                            0),
                     0);
    ck_assert_int_eq(fx_int(s,
                            "SELECT count(*) FROM tile_attempts WHERE job_id NOT IN "
                            "(SELECT id FROM jobs)",
                            0),
                     0);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM results", 0), 0);
    ck_assert_int_eq(queue_prune(s, 1, 1, 0, &n), QUEUE_EINVAL);
    store_close(s);
}
END_TEST

/*
 * A worker process dies (SIGKILL) holding a lease, after finishing one tile.
 * The next process requeues every lease at start-up: the lost tile comes
 * back as attempt 2, the finished one is never leased again, and the lease
 * log tells it all. The child opens its own connection after fork(); the
 * parent has none open across it.
 */
START_TEST(test_crash_recovery)
{
    struct tile_attempt a[8];
    struct tile_claim c;
    struct store *s;
    uint64_t bits[3], p;
    int status, n, complete = 0, fds[2];
    char ready = 0;
    int64_t id;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct tile_claim t0, t1;

        close(fds[0]);
        s = NULL;
        if (store_open(dbpath, 1, 1000, 0, &s) != QUEUE_OK)
            _exit(2);
        submit(s, 40 + 64 * 2, 64, 1); /* 3 tiles: 64, 64, 40 */
        if (queue_claim(s, 10, 60000, &t0) != QUEUE_OK || finish(s, &t0, 20, NULL) != QUEUE_OK)
            _exit(3);
        if (queue_claim(s, 30, 60000, &t1) != QUEUE_OK)
            _exit(4);
        /* Holding tile 1: tell the parent, then wait for kill -9. */
        if (write(fds[1], "r", 1) != 1)
            _exit(5);
        for (;;)
            pause();
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &ready, 1), 1); /* 0 (EOF) if the child failed */
    close(fds[0]);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGKILL);

    s = open_store();
    id = 1;
    ck_assert_int_eq(status_of(s, id), JOB_RUNNING);
    ck_assert_int_eq(queue_requeue_expired(s, INT64_MAX, 3, &n), QUEUE_OK);
    ck_assert_int_eq(n, 1);

    c = claim(s, 100, 60000);
    ck_assert_int_eq(c.job_id, id);
    ck_assert_int_eq(c.idx, 1);
    ck_assert_int_eq(c.attempt, 2);
    ck_assert_int_eq(finish(s, &c, 110, &complete), QUEUE_OK);
    ck_assert_int_eq(complete, 0);
    tile_claim_free(&c);
    c = claim(s, 120, 60000);
    ck_assert_int_eq(c.idx, 2);
    ck_assert_int_eq(c.attempt, 1);
    ck_assert_int_eq(finish(s, &c, 130, &complete), QUEUE_OK);
    ck_assert_int_eq(complete, 1);
    tile_claim_free(&c);
    ck_assert_int_eq(queue_claim(s, 140, 60000, &c), QUEUE_ENOENT);

    ck_assert_int_eq(queue_tile_attempts(s, id, a, 8, &n), QUEUE_OK);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(a[0].idx, 0); /* finished before the crash: one attempt */
    ck_assert_int_eq(a[0].attempt, 1);
    ck_assert_int_eq(a[0].outcome, ATTEMPT_DONE);
    ck_assert_int_eq(a[1].idx, 1);
    ck_assert_int_eq(a[1].attempt, 1);
    ck_assert_int_eq(a[1].outcome, ATTEMPT_EXPIRED);
    ck_assert_int_eq(a[2].idx, 1);
    ck_assert_int_eq(a[2].attempt, 2);
    ck_assert_int_eq(a[2].outcome, ATTEMPT_DONE);
    ck_assert_int_eq(a[3].idx, 2);
    ck_assert_int_eq(a[3].outcome, ATTEMPT_DONE);
    /* No tile was saved twice. */
    ck_assert_int_eq(fx_int(s,
                            "SELECT count(*) FROM (SELECT idx FROM tile_attempts WHERE "
                            "job_id = ?1 AND outcome = 'done' GROUP BY idx HAVING "
                            "count(*) > 1) AS d",
                            id),
                     0);

    /* The labels of both processes assemble into one array. */
    ck_assert_int_eq(queue_load_labels(s, id, bits), QUEUE_OK);
    for (p = 0; p < 168; p++)
        ck_assert_int_eq(tb_label_get(bits, p), label_of(p));
    store_close(s);
}
END_TEST

/* The loop thread's store and a worker's store (migrate = 0) on one file:
 * what one connection commits, the other sees. */
START_TEST(test_two_connections)
{
    struct store *loop = open_store(), *worker = NULL;
    int64_t id = submit(loop, 64, 64, 1);
    struct tile_claim c;
    int complete = 0;
    struct job j;

    ck_assert_int_eq(store_open(dbpath, 0, 1000, 1, &worker), QUEUE_OK);
    c = claim(worker, 10, 1000);
    ck_assert_int_eq(c.job_id, id);
    ck_assert_int_eq(status_of(loop, id), JOB_RUNNING);
    ck_assert_int_eq(queue_cancel(loop, id, 20, NULL), QUEUE_OK);
    ck_assert_int_eq(finish(worker, &c, 30, &complete), QUEUE_ESTALE);
    tile_claim_free(&c);
    j = get(worker, id);
    ck_assert_int_eq(j.status, JOB_CANCELED);
    job_free(&j);
    store_close(worker);
    store_close(loop);
}
END_TEST

/* ---- studies (queue_study.h, issue 4) ----------------------------------- */

/* A study of 3 cells of 200 points in 64-point tiles (4 tiles each); cell
 * 2 duplicates cell 0. keys name the specs "A", "B". reuse as given. */
static int64_t submit_study(struct store *s, int reuse, int64_t now_ms, size_t *copied)
{
    static const char *const key_a = "aaaa", *const key_b = "bbbb";
    struct queue_cell_submit cells[3] = {
        {"{\"cell\":\"A\"}", key_a, NULL, 200, 64, -1},
        {"{\"cell\":\"B\"}", key_b, NULL, 200, 64, -1},
        {"{\"cell\":\"A\"}", key_a, NULL, 200, 64, 0},
    };
    struct queue_study_submit sub = {.spec_json = "{\"vary\":{}}",
                                     .name = "st",
                                     .source_json = "{\"vary\":{}}",
                                     .axes_json = "{}",
                                     .n_cells = 3,
                                     .cells = cells,
                                     .reuse = reuse};
    struct job j;
    int64_t id;

    ck_assert_int_eq(queue_enqueue_study(s, &sub, now_ms, &j, NULL, copied), QUEUE_OK);
    id = j.id;
    job_free(&j);
    return id;
}

/* Claims and finishes every pending tile; returns how many. */
static int run_all(struct store *s, int64_t now_ms)
{
    struct tile_claim c;
    int n = 0, complete;

    while (queue_claim(s, now_ms, 1000, &c) == QUEUE_OK) {
        ck_assert_int_eq(finish(s, &c, now_ms, &complete), QUEUE_OK);
        tile_claim_free(&c);
        n++;
    }
    return n;
}

START_TEST(test_study_cycle)
{
    struct store *s = open_store();
    struct study_info info;
    struct study_cell cell, page[4];
    struct tile_claim c;
    struct job j;
    int64_t id, ready[8], left;
    uint64_t bits[4], i;
    int n, complete, k;

    id = submit_study(s, 1, 1000, NULL);
    j = get(s, id);
    ck_assert_int_eq(j.status, JOB_QUEUED);
    ck_assert_uint_eq(j.points_total, 400); /* the duplicate has no tiles */
    ck_assert_int_eq(j.tiles_total, 8);
    job_free(&j);
    ck_assert_int_eq(queue_is_study(s, id), 1);
    ck_assert_int_eq(queue_study_get(s, id, &info), QUEUE_OK);
    ck_assert_int_eq(info.cells_total, 3);
    ck_assert_int_eq(info.cells_reused, 1);
    ck_assert_str_eq(info.source_json, "{\"vary\":{}}");
    study_info_free(&info);
    ck_assert_int_eq(queue_cell_get(s, id, 2, &cell), QUEUE_OK);
    ck_assert_int_eq(cell.dup_of, 0);
    ck_assert_int_eq(cell.reused, 1);
    ck_assert_int_eq(cell.tiles, 0);
    study_cell_free(&cell);

    /* A study's tile computes its cell's spec, in the cell's own grid. */
    c = claim(s, 2000, 1000);
    ck_assert_int_eq(c.cell, 0);
    ck_assert_int_eq(c.idx, 0);
    ck_assert_uint_eq(c.begin, 0);
    ck_assert_str_eq(c.spec_json, "{\"cell\":\"A\"}");
    ck_assert_int_eq(queue_cells_ready(s, id, ready, 8, &n), QUEUE_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(finish(s, &c, 2100, &complete), QUEUE_OK);
    tile_claim_free(&c);
    ck_assert_int_eq(queue_cell_tiles_left(s, id, 0, &left), QUEUE_OK);
    ck_assert_int_eq(left, 3);
    for (k = 1; k < 4; k++) {
        c = claim(s, 2200, 1000);
        ck_assert_int_eq(c.cell, 0);
        ck_assert_uint_eq(c.begin, (uint64_t)k * 64);
        ck_assert_uint_eq(c.count, k == 3 ? 8 : 64);
        ck_assert_int_eq(finish(s, &c, 2300, &complete), QUEUE_OK);
        ck_assert_int_eq(complete, 0);
        tile_claim_free(&c);
    }
    /* Cell 0 and its duplicate are ready; cell 1 is not. */
    ck_assert_int_eq(queue_cell_tiles_left(s, id, 2, &left), QUEUE_OK);
    ck_assert_int_eq(left, 0);
    ck_assert_int_eq(queue_cells_ready(s, id, ready, 8, &n), QUEUE_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ready[0], 0);
    ck_assert_int_eq(ready[1], 2);
    ck_assert_int_eq(queue_cell_labels(s, id, 2, bits), QUEUE_OK);
    for (i = 0; i < 200; i++)
        ck_assert_int_eq((int)(bits[i / 64] >> (i % 64) & 1), label_of(i));
    ck_assert_int_eq(queue_cell_labels(s, id, 1, bits), QUEUE_EIO); /* tiles missing */

    ck_assert_int_eq(queue_cell_finish(s, id, 0, "{\"row\":0}", 3000), QUEUE_OK);
    ck_assert_int_eq(queue_cell_finish(s, id, 0, "{\"row\":9}", 3001), QUEUE_OK); /* no change */
    ck_assert_int_eq(queue_cells_ready(s, id, ready, 8, &n), QUEUE_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(queue_cells_page(s, id, 0, 4, page, &n), QUEUE_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(page[0].done, 1);
    ck_assert_str_eq(page[0].row_json, "{\"row\":0}");
    ck_assert_int_eq(page[1].done, 0);
    ck_assert_ptr_null(page[1].row_json);
    for (k = 0; k < n; k++)
        study_cell_free(&page[k]);
    ck_assert_int_eq(queue_cells_page(s, id, 2, 4, page, &n), QUEUE_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(page[0].idx, 2);
    study_cell_free(&page[0]);
    ck_assert_int_eq(queue_study_get(s, id, &info), QUEUE_OK);
    ck_assert_int_eq(info.cells_done, 1);
    study_info_free(&info);

    /* The rest, the CSV, and completion like a sweep's. */
    ck_assert_int_eq(run_all(s, 4000), 4);
    ck_assert_int_eq(queue_cell_finish(s, id, 1, "{\"row\":1}", 5000), QUEUE_OK);
    ck_assert_int_eq(queue_cell_finish(s, id, 2, "{\"row\":2}", 5000), QUEUE_OK);
    ck_assert_int_eq(queue_study_put_csv(s, id, "a,b\n"), QUEUE_OK);
    ck_assert_int_eq(queue_complete(s, id, "{}", "{}", 6000), QUEUE_OK);
    {
        char *csv = NULL;
        ck_assert_int_eq(queue_study_get_csv(s, id, &csv), QUEUE_OK);
        ck_assert_str_eq(csv, "a,b\n");
        free(csv);
    }
    ck_assert_int_eq(queue_cell_finish(s, id, 1, "{\"row\":1}", 7000), QUEUE_ECONFLICT);

    /* Deleting the study takes its cells and tiles with it. */
    ck_assert_int_eq(queue_delete(s, id), QUEUE_OK);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM cells WHERE job_id = ?1", id), 0);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM studies WHERE job_id = ?1", id), 0);
    ck_assert_int_eq(queue_is_study(s, id), 0);
    store_close(s);
}
END_TEST

START_TEST(test_study_reuse)
{
    struct store *s = open_store();
    uint64_t a[4], b[4];
    struct job j;
    int64_t id1, id2, id3, sw;
    size_t copied = 9;
    struct tile_claim c;

    id1 = submit_study(s, 1, 1000, &copied);
    ck_assert_uint_eq(copied, 0);
    ck_assert_int_eq(run_all(s, 2000), 8);
    /* Not reusable until a cell is done. */
    id2 = submit_study(s, 1, 2500, &copied);
    ck_assert_uint_eq(copied, 0);
    ck_assert_int_eq(queue_delete(s, id2), QUEUE_OK);
    ck_assert_int_eq(queue_cell_finish(s, id1, 0, "{}", 3000), QUEUE_OK);
    ck_assert_int_eq(queue_cell_finish(s, id1, 1, "{}", 3000), QUEUE_OK);

    /* Every cell from the store: running at once, nothing to claim, no
     * attempt logged, the same labels. */
    id2 = submit_study(s, 1, 4000, &copied);
    ck_assert_uint_eq(copied, 2);
    j = get(s, id2);
    ck_assert_int_eq(j.status, JOB_RUNNING);
    ck_assert_int_eq(j.tiles_done, j.tiles_total);
    ck_assert_uint_eq(j.points_done, j.points_total);
    job_free(&j);
    ck_assert_int_eq(queue_claim(s, 4100, 1000, &c), QUEUE_ENOENT);
    ck_assert_int_eq(fx_int(s, "SELECT count(*) FROM tile_attempts WHERE job_id = ?1", id2), 0);
    ck_assert_int_eq(fx_int(s, "SELECT reused_from FROM cells WHERE job_id = ?1 AND idx = 1", id2),
                     id1);
    ck_assert_int_eq(queue_cell_labels(s, id1, 1, a), QUEUE_OK);
    ck_assert_int_eq(queue_cell_labels(s, id2, 1, b), QUEUE_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    /* Without reuse everything is computed again. */
    id3 = submit_study(s, 0, 5000, &copied);
    ck_assert_uint_eq(copied, 0);
    ck_assert_int_eq(run_all(s, 5100), 8);
    ck_assert_int_eq(queue_delete(s, id3), QUEUE_OK);

    /* A succeeded sweep with the same spec is a source too. */
    {
        struct queue_submit sub = {
            .spec_json = "{\"cell\":\"C\"}", .points = 200, .tile_points = 128};
        struct queue_cell_submit cell = {"{\"cell\":\"C\"}", "cccc", NULL, 200, 64, -1};
        struct queue_study_submit st = {.spec_json = "{\"vary\":1}",
                                        .source_json = "{}",
                                        .axes_json = "{}",
                                        .n_cells = 1,
                                        .cells = &cell,
                                        .reuse = 1};
        int complete;

        ck_assert_int_eq(queue_enqueue(s, &sub, 6000, &j, NULL), QUEUE_OK);
        sw = j.id;
        job_free(&j);
        c = claim(s, 6050, 1000);
        ck_assert_int_eq(c.cell, -1); /* a sweep's tile has no cell */
        ck_assert_str_eq(c.spec_json, "{\"cell\":\"C\"}");
        ck_assert_int_eq(finish(s, &c, 6060, &complete), QUEUE_OK);
        tile_claim_free(&c);
        ck_assert_int_eq(run_all(s, 6100), 1);
        ck_assert_int_eq(queue_complete(s, sw, "{}", "{}", 6200), QUEUE_OK);
        ck_assert_int_eq(queue_enqueue_study(s, &st, 6300, &j, NULL, &copied), QUEUE_OK);
        ck_assert_uint_eq(copied, 1);
        ck_assert_int_eq(j.tiles_total, 2); /* the sweep's tiling */
        ck_assert_int_eq(queue_cell_labels(s, j.id, 0, a), QUEUE_OK);
        ck_assert_int_eq(queue_load_labels(s, sw, b), QUEUE_OK);
        ck_assert_mem_eq(a, b, sizeof a);
        job_free(&j);
    }
    store_close(s);
}
END_TEST

static Suite *queue_suite(void)
{
    Suite *su = suite_create("service/queue");
    TCase *tc = tcase_create("queue");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_status_names);
    tcase_add_test(tc, test_full_cycle);
    tcase_add_test(tc, test_tiling);
    tcase_add_test(tc, test_fairness);
    tcase_add_test(tc, test_lease_expiry_and_heartbeat);
    tcase_add_test(tc, test_attempts_exhausted);
    tcase_add_test(tc, test_stale_and_repeated_finish);
    tcase_add_test(tc, test_cancel_queued);
    tcase_add_test(tc, test_cancel_running);
    tcase_add_test(tc, test_fail);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_idempotency);
    tcase_add_test(tc, test_max_queued);
    tcase_add_test(tc, test_revision);
    tcase_add_test(tc, test_prune);
    tcase_add_test(tc, test_two_connections);
    tcase_add_test(tc, test_crash_recovery);
    tcase_add_test(tc, test_release);
    tcase_add_test(tc, test_study_cycle);
    tcase_add_test(tc, test_study_reuse);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(queue_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
