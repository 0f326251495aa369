/*
 * reader.c - the reader thread (reader.h).
 *
 * Owns: the thread, its store (opened and closed on that thread), the
 * mutex-guarded lists of queued and finished tasks, and the uv_async_t
 * that wakes the loop. The tasks themselves are borrowed (reader.h).
 *
 * Threads: the loop thread runs the public functions and every done();
 * the reader thread runs reader_main() and every work(). The lists and
 * `stop` are shared under mu; `store` is the reader thread's alone
 * (reader_close() reads nothing of it: the thread closes it).
 */
#include "reader.h"

#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "xalloc.h"

struct reader {
    uv_async_t async; /* first member: the close callback frees the reader */
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;                         /* a task was queued, or stop */
    struct reader_task *todo, *todo_tail; /* mu: not started, FIFO */
    struct reader_task *done, *done_tail; /* mu: finished, not handed back */
    int stop;                             /* mu: reader_close() began */
    char *db_path;                        /* owned */
    int busy_timeout_ms;
    struct store *store; /* the reader thread's */
};

static void push(struct reader_task **head, struct reader_task **tail, struct reader_task *t)
{
    t->next = NULL;
    if (*tail)
        (*tail)->next = t;
    else
        *head = t;
    *tail = t;
}

static void reader_main(void *arg)
{
    struct reader *r = arg;

    for (;;) {
        struct reader_task *t;

        uv_mutex_lock(&r->mu);
        while (!r->stop && !r->todo)
            uv_cond_wait(&r->cv, &r->mu);
        if (r->stop) {
            uv_mutex_unlock(&r->mu);
            break;
        }
        t = r->todo;
        r->todo = t->next;
        if (!r->todo)
            r->todo_tail = NULL;
        uv_mutex_unlock(&r->mu);

        t->rc = 0;
        if (!r->store) {
            t->rc = store_open(r->db_path, 0, r->busy_timeout_ms, 1, &r->store);
            if (t->rc != QUEUE_OK)
                r->store = NULL; /* tried again at the next task */
        } else if (!store_connected(r->store)) {
            t->rc = store_reconnect(r->store); /* the server restarted: tried per task */
        }
        if (t->rc == QUEUE_OK)
            t->work(t, r->store);
        uv_mutex_lock(&r->mu);
        push(&r->done, &r->done_tail, t);
        uv_mutex_unlock(&r->mu);
        uv_async_send(&r->async);
    }
    store_close(r->store);
    r->store = NULL;
}

/* Hands every finished task back: their done(), on the loop thread. */
static void hand_back(struct reader *r)
{
    struct reader_task *t, *next;

    uv_mutex_lock(&r->mu);
    t = r->done;
    r->done = r->done_tail = NULL;
    uv_mutex_unlock(&r->mu);
    for (; t; t = next) {
        next = t->next;
        t->next = NULL;
        t->done(t, t->rc);
    }
}

static void on_async(uv_async_t *a)
{
    hand_back((struct reader *)a);
}

/* The handle closed: nothing of r is used any more. */
static void on_closed(uv_handle_t *h)
{
    struct reader *r = (struct reader *)h;

    uv_cond_destroy(&r->cv);
    uv_mutex_destroy(&r->mu);
    free(r->db_path);
    free(r);
}

int reader_start(uv_loop_t *loop, const char *db_path, int busy_timeout_ms, struct reader **out)
{
    struct reader *r = xcalloc(1, sizeof *r);
    int rc;

    *out = NULL;
    r->db_path = xstrdup(db_path);
    r->busy_timeout_ms = busy_timeout_ms;
    rc = uv_mutex_init(&r->mu);
    if (rc == 0) {
        rc = uv_cond_init(&r->cv);
        if (rc != 0)
            uv_mutex_destroy(&r->mu);
    }
    if (rc == 0) {
        rc = uv_async_init(loop, &r->async, on_async);
        if (rc != 0) {
            uv_cond_destroy(&r->cv);
            uv_mutex_destroy(&r->mu);
        }
    }
    if (rc != 0) {
        free(r->db_path);
        free(r);
        return rc;
    }
    rc = uv_thread_create(&r->thread, reader_main, r);
    if (rc != 0) {
        uv_close((uv_handle_t *)&r->async, on_closed); /* frees r */
        return rc;
    }
    *out = r;
    return 0;
}

int reader_submit(struct reader *r, struct reader_task *t)
{
    int rc = 0;

    uv_mutex_lock(&r->mu);
    if (r->stop) {
        rc = READER_ECANCELED;
    } else {
        push(&r->todo, &r->todo_tail, t);
        uv_cond_signal(&r->cv);
    }
    uv_mutex_unlock(&r->mu);
    return rc;
}

void reader_close(struct reader *r)
{
    struct reader_task *t, *next;

    if (!r)
        return;
    uv_mutex_lock(&r->mu);
    r->stop = 1;
    t = r->todo;
    r->todo = r->todo_tail = NULL;
    uv_cond_signal(&r->cv);
    uv_mutex_unlock(&r->mu);
    /* The running task, if any, finishes first: a SQLite read of one
     * job's tiles, bounded by the job's size. */
    uv_thread_join(&r->thread);
    hand_back(r);
    for (; t; t = next) {
        next = t->next;
        t->next = NULL;
        t->done(t, READER_ECANCELED);
    }
    uv_close((uv_handle_t *)&r->async, on_closed);
}
