/*
 * notify_pg.c - LISTEN on the shared PostgreSQL queue (notify.h).
 *
 * Owns: struct notifier, its connection (PGconn), its retry timer and its
 * uv_poll on the connection's socket (allocated per socket: libpq may
 * change sockets while it connects, and a poll handle watches one fd).
 * The poll is stopped before its socket is closed (PQfinish()).
 *
 * States: IDLE (no connection; the retry timer runs), CONNECTING
 * (PQconnectPoll() driven by the poll), SENT (LISTEN sent, its answer not
 * read), LIVE (listening). Any failure goes back to IDLE and retries.
 *
 * Threads: loop thread only.
 */
#include "notify.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "queue.h"

#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 5000
#define CH_WORK "trainbound_work"
#define CH_JOBS "trainbound_jobs"
#define BATCH_JOBS 64 /* distinct jobs remembered per read; more: a resync */

enum { ST_IDLE, ST_CONNECTING, ST_SENT, ST_LIVE };

struct notifier {
    uv_loop_t *loop;
    char *target; /* owned copy */
    notify_fn *cb;
    void *user;
    unsigned channels; /* NOTIFY_CH_* */
    PGconn *pg;    /* owned; NULL when IDLE */
    uv_poll_t *poll; /* owned; NULL when none; freed by its close callback */
    int poll_fd;
    uv_timer_t retry;
    int state;
    int delay_ms;   /* the next retry's delay */
    int down_logged; /* this outage was logged */
    int closing;
    int handles; /* open uv handles (the timer, a poll being closed) */
    uint64_t received;
};

static void on_poll(uv_poll_t *h, int status, int events);

static void maybe_free(struct notifier *n)
{
    if (n->closing && n->handles == 0) {
        free(n->target);
        free(n);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct notifier *n = h->data;

    if ((uv_handle_t *)&n->retry != h)
        free(h); /* a poll */
    n->handles--;
    maybe_free(n);
}

/* Stops watching the socket (before libpq may close it). */
static void drop_poll(struct notifier *n)
{
    if (!n->poll)
        return;
    uv_poll_stop(n->poll);
    uv_close((uv_handle_t *)n->poll, on_handle_closed);
    n->poll = NULL;
}

/* Watches the connection's socket for events. 0 or a libuv error. */
static int watch(struct notifier *n, int events)
{
    int fd = PQsocket(n->pg), rc;

    if (fd < 0)
        return UV_EBADF;
    if (n->poll && n->poll_fd != fd)
        drop_poll(n);
    if (!n->poll) {
        uv_poll_t *p = calloc(1, sizeof *p);

        if (!p)
            return UV_ENOMEM;
        rc = uv_poll_init(n->loop, p, fd);
        if (rc != 0) {
            free(p);
            return rc;
        }
        p->data = n;
        n->poll = p;
        n->poll_fd = fd;
        n->handles++;
    }
    return uv_poll_start(n->poll, events, on_poll);
}

/* Drops the connection and tries again after the backoff. */
static void fail(struct notifier *n, const char *why)
{
    int was_live;

    if (!n->down_logged) {
        char msg[256];
        size_t k;

        msg[0] = '\0';
        if (n->pg && PQerrorMessage(n->pg)[0])
            snprintf(msg, sizeof msg, "%s", PQerrorMessage(n->pg));
        k = strlen(msg);
        while (k > 0 && (msg[k - 1] == '\n' || msg[k - 1] == ' '))
            msg[--k] = '\0';
        log_event(LOG_WARN, "notify_down", "s:s, s:s, s:i", "reason", why, "error",
                  msg[0] ? msg : why, "retry_ms", n->delay_ms);
        n->down_logged = 1;
    }
    drop_poll(n);
    if (n->pg) {
        PQfinish(n->pg);
        n->pg = NULL;
    }
    was_live = n->state == ST_LIVE;
    n->state = ST_IDLE;
    if (was_live && !n->closing)
        n->cb(n->user, NOTIFY_DOWN, 0);
}

static void on_retry(uv_timer_t *t);

static void schedule_retry(struct notifier *n)
{
    uv_timer_start(&n->retry, on_retry, (uint64_t)n->delay_ms, 0);
    n->delay_ms = n->delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : n->delay_ms * 2;
}

static void fail_and_retry(struct notifier *n, const char *why)
{
    fail(n, why);
    if (!n->closing && n->state == ST_IDLE && !n->pg)
        schedule_retry(n);
}

/* Starts a connection without blocking. */
static void connect_start(struct notifier *n)
{
    /* Our defaults first: what the URI itself sets (after them) wins. */
    static const char *const keys[] = {"connect_timeout",  "fallback_application_name",
                                       "keepalives",       "keepalives_idle",
                                       "keepalives_interval", "keepalives_count",
                                       "dbname",           NULL};
    const char *values[] = {"10", "trainbound-listen", "1", "10", "5", "3", n->target, NULL};

    n->pg = PQconnectStartParams(keys, values, 1);
    if (!n->pg) {
        fail_and_retry(n, "out of memory");
        return;
    }
    if (PQstatus(n->pg) == CONNECTION_BAD) {
        fail_and_retry(n, "cannot connect");
        return;
    }
    n->state = ST_CONNECTING;
    /* libpq: start as if PQconnectPoll() had said "writing". */
    if (watch(n, UV_WRITABLE) != 0)
        fail_and_retry(n, "cannot watch the socket");
}

static void on_retry(uv_timer_t *t)
{
    struct notifier *n = t->data;

    if (!n->closing && n->state == ST_IDLE)
        connect_start(n);
}

/* The connection is up: LISTEN on it. */
static void send_listen(struct notifier *n)
{
    const char *q = n->channels == (NOTIFY_CH_WORK | NOTIFY_CH_JOBS)
                        ? "LISTEN " CH_WORK "; LISTEN " CH_JOBS
                        : n->channels == NOTIFY_CH_JOBS ? "LISTEN " CH_JOBS : "LISTEN " CH_WORK;
    int f;

    if (PQsetnonblocking(n->pg, 1) != 0 || !PQsendQuery(n->pg, q)) {
        fail_and_retry(n, "cannot send LISTEN");
        return;
    }
    n->state = ST_SENT;
    f = PQflush(n->pg);
    if (f < 0 || watch(n, f == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE) != 0)
        fail_and_retry(n, "cannot send LISTEN");
}

/* What one read brought, delivered once each: several saves of one job
 * make one look at it. */
struct batch {
    int work, overflow, n;
    int64_t jobs[BATCH_JOBS];
};

/* A notification of the triggers (migrations/pg/0004_notify.sql). */
static void collect(struct batch *b, const PGnotify *nt)
{
    char *end;
    long long id;
    int i;

    if (strcmp(nt->relname, CH_WORK) == 0) {
        b->work = 1;
        return;
    }
    if (strcmp(nt->relname, CH_JOBS) != 0)
        return;
    id = strtoll(nt->extra, &end, 10);
    if (end == nt->extra || *end != '\0' || id <= 0)
        return;
    for (i = 0; i < b->n; i++)
        if (b->jobs[i] == (int64_t)id)
            return;
    if (b->n < BATCH_JOBS)
        b->jobs[b->n++] = (int64_t)id;
    else
        b->overflow = 1;
}

static void on_readable(struct notifier *n)
{
    struct batch b = {0};
    PGresult *res;
    PGnotify *nt;
    int i;

    if (!PQconsumeInput(n->pg)) {
        fail_and_retry(n, "connection lost");
        return;
    }
    /* LISTEN's answers (one per channel) while SENT; none after. */
    while (!PQisBusy(n->pg) && (res = PQgetResult(n->pg)) != NULL) {
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

        PQclear(res);
        if (n->state == ST_SENT && !ok) {
            fail_and_retry(n, "LISTEN refused");
            return;
        }
    }
    if (n->state == ST_SENT && !PQisBusy(n->pg)) {
        n->state = ST_LIVE; /* every LISTEN acknowledged */
        n->delay_ms = RETRY_MIN_MS;
        n->down_logged = 0;
        log_event(LOG_INFO, "notify_listening", "s:s, s:s", "work",
                  n->channels & NOTIFY_CH_WORK ? CH_WORK : "", "jobs",
                  n->channels & NOTIFY_CH_JOBS ? CH_JOBS : "");
        n->cb(n->user, NOTIFY_RESYNC, 0);
        if (n->closing || !n->pg)
            return;
    }
    while ((nt = PQnotifies(n->pg)) != NULL) {
        n->received++;
        collect(&b, nt);
        PQfreemem(nt);
    }
    if (b.overflow) {
        n->cb(n->user, NOTIFY_RESYNC, 0);
    } else {
        if (b.work)
            n->cb(n->user, NOTIFY_WORK, 0);
        for (i = 0; i < b.n && !n->closing; i++)
            n->cb(n->user, NOTIFY_JOB, b.jobs[i]);
    }
    if (!n->closing && n->pg && PQstatus(n->pg) == CONNECTION_BAD)
        fail_and_retry(n, "connection lost");
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct notifier *n = h->data;

    if (n->closing || h != n->poll)
        return;
    if (status < 0) {
        fail_and_retry(n, "socket error");
        return;
    }
    if (n->state == ST_CONNECTING) {
        switch (PQconnectPoll(n->pg)) {
        case PGRES_POLLING_READING:
            if (watch(n, UV_READABLE) != 0)
                fail_and_retry(n, "cannot watch the socket");
            return;
        case PGRES_POLLING_WRITING:
            if (watch(n, UV_WRITABLE) != 0)
                fail_and_retry(n, "cannot watch the socket");
            return;
        case PGRES_POLLING_OK:
            send_listen(n);
            return;
        default:
            fail_and_retry(n, "cannot connect");
            return;
        }
    }
    if (events & UV_WRITABLE) {
        int f = PQflush(n->pg);

        if (f < 0) {
            fail_and_retry(n, "connection lost");
            return;
        }
        if (f == 0 && watch(n, UV_READABLE) != 0) {
            fail_and_retry(n, "cannot watch the socket");
            return;
        }
    }
    if (events & UV_READABLE)
        on_readable(n);
}

int notify_start(uv_loop_t *loop, const char *target, unsigned channels, notify_fn *cb,
                 void *user, struct notifier **out)
{
    struct notifier *n = calloc(1, sizeof *n);

    *out = NULL;
    if (!n)
        return QUEUE_ENOMEM;
    n->target = strdup(target);
    if (!n->target) {
        free(n);
        return QUEUE_ENOMEM;
    }
    n->loop = loop;
    n->cb = cb;
    n->user = user;
    n->channels = channels & (NOTIFY_CH_WORK | NOTIFY_CH_JOBS) ? channels : NOTIFY_CH_WORK;
    n->delay_ms = RETRY_MIN_MS;
    uv_timer_init(loop, &n->retry);
    n->retry.data = n;
    n->handles = 1;
    /* The timer alone must not keep a finished loop running. */
    uv_unref((uv_handle_t *)&n->retry);
    connect_start(n);
    *out = n;
    return 0;
}

int notify_live(const struct notifier *n)
{
    return n && n->state == ST_LIVE;
}

uint64_t notify_count(const struct notifier *n)
{
    return n ? n->received : 0;
}

void notify_close(struct notifier *n)
{
    if (!n)
        return;
    n->closing = 1;
    drop_poll(n);
    if (n->pg) {
        PQfinish(n->pg);
        n->pg = NULL;
    }
    uv_timer_stop(&n->retry);
    uv_close((uv_handle_t *)&n->retry, on_handle_closed);
}
