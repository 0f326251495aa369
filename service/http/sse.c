/*
 * sse.c - the event-stream hub (sse.h).
 *
 * Owns: struct sse_hub (until sse_hub_close() and its timer's close
 * callback), and one struct sse_client per open stream. A client is
 * created by sse_open(), handed to http.c as the producer of a streamed
 * response, and freed by that response's free callback; the hub outlives
 * its clients (serve.c closes the HTTP server first).
 *
 * Events are appended to a client's buffer on the loop thread; the
 * producer (called by MHD on the loop thread) drains it and returns 0
 * when it is empty, which suspends the connection until the next event
 * or heartbeat wakes it (http_stream_wake()).
 *
 * Threads: loop thread only.
 */
#include "sse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jsonfmt.h"
#include "queue.h"
#include "view.h"
#include "xalloc.h"

#define SSE_RETRY_MS 3000

struct sse_client {
    struct sse_hub *hub;
    int64_t job_id;
    int64_t last_id; /* the last revision sent (or resumed from) */
    int last_status; /* enum job_status sent last, -1 none */
    char *buf;       /* pending bytes [off, len) (owned) */
    size_t off, len, cap;
    int done;               /* the terminal event is queued: end after it */
    struct http_stream *st; /* set by the first producer call */
    struct sse_client *prev, *next;
};

struct sse_hub {
    uv_loop_t *loop;
    struct store *store; /* borrowed */
    uv_timer_t beat;
    int heartbeat_ms;
    int closed, timer_open;
    int n_clients;
    struct sse_client *clients;
};

static void hub_maybe_free(struct sse_hub *h)
{
    if (h->closed && !h->timer_open && h->n_clients == 0)
        free(h);
}

static void append(struct sse_client *c, const char *s, size_t n)
{
    if (c->off > 0 && c->off == c->len)
        c->off = c->len = 0;
    if (c->len + n > c->cap) {
        size_t want = c->cap ? c->cap * 2 : 1024;
        while (want < c->len + n)
            want *= 2;
        c->buf = xrealloc(c->buf, want);
        c->cap = want;
    }
    memcpy(c->buf + c->len, s, n);
    c->len += n;
}

static int is_terminal(enum job_status s)
{
    return s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELED;
}

/* Queues the event for job j if the client has not seen its revision. */
static void emit(struct sse_client *c, const struct job *j)
{
    const char *type;
    char head[96];
    json_t *doc;
    char *text;
    int n;

    if (c->done || j->revision <= c->last_id) {
        if (!c->done && is_terminal(j->status))
            c->done = 1; /* the client saw the terminal revision already */
        return;
    }
    type = (int)j->status != c->last_status ? "state" : "progress";
    doc = view_job(j, 0, clock_now_ms());
    text = doc ? jsonfmt_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        return; /* ENOMEM: the next change or heartbeat tries again */
    n = snprintf(head, sizeof head, "id: %" PRId64 "\nevent: %s\ndata: ", j->revision, type);
    append(c, head, (size_t)n);
    append(c, text, strlen(text)); /* compact JSON has no newline */
    append(c, "\n\n", 2);
    free(text);
    c->last_id = j->revision;
    c->last_status = (int)j->status;
    if (is_terminal(j->status))
        c->done = 1;
}

static void emit_deleted(struct sse_client *c)
{
    char line[128];
    int n;

    if (c->done)
        return;
    n = snprintf(line, sizeof line, "event: deleted\ndata: {\"id\":%" PRId64 "}\n\n", c->job_id);
    append(c, line, (size_t)n);
    c->done = 1;
}

void sse_job_changed(struct sse_hub *h, int64_t job_id)
{
    struct sse_client *c;
    struct job job;
    int rc, any = 0;

    if (!h)
        return;
    for (c = h->clients; c; c = c->next)
        if (c->job_id == job_id && !c->done)
            any = 1;
    if (!any)
        return;
    memset(&job, 0, sizeof job);
    rc = queue_get(h->store, job_id, &job);
    if (rc != QUEUE_OK && rc != QUEUE_ENOENT)
        return; /* busy: the heartbeat looks again */
    for (c = h->clients; c; c = c->next) {
        if (c->job_id != job_id || c->done)
            continue;
        if (rc == QUEUE_ENOENT)
            emit_deleted(c);
        else
            emit(c, &job);
        http_stream_wake(c->st);
    }
    job_free(&job);
}

int sse_clients(const struct sse_hub *h)
{
    return h ? h->n_clients : 0;
}

static void on_beat(uv_timer_t *t)
{
    struct sse_hub *h = t->data;
    struct sse_client *c;

    /* A comment line to every client (it also finds dead peers: a write
     * to a closed socket ends the connection), and a look at each job
     * in case a change was missed. */
    for (c = h->clients; c; c = c->next) {
        append(c, ": heartbeat\n\n", 13);
        http_stream_wake(c->st);
    }
    sse_refresh_all(h);
}

void sse_refresh_all(struct sse_hub *h)
{
    struct sse_client *c, *d;

    if (!h)
        return;
    for (c = h->clients; c; c = c->next) {
        for (d = h->clients; d != c; d = d->next)
            if (d->job_id == c->job_id)
                break;
        if (d == c)
            sse_job_changed(h, c->job_id);
    }
}

/* http.c's producer: drains the buffer; 0 = suspend until woken. */
static long client_read(void *user, struct http_stream *st, char *buf, size_t max)
{
    struct sse_client *c = user;
    size_t n = c->len - c->off;

    c->st = st;
    if (n == 0)
        return c->done ? HTTP_STREAM_END : 0;
    if (n > max)
        n = max;
    memcpy(buf, c->buf + c->off, n);
    c->off += n;
    return (long)n;
}

static void client_free(void *user)
{
    struct sse_client *c = user;
    struct sse_hub *h = c->hub;

    if (c->prev)
        c->prev->next = c->next;
    else
        h->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->n_clients--;
    free(c->buf);
    free(c);
    hub_maybe_free(h);
}

int sse_open(struct sse_hub *h, int64_t job_id, int64_t last_id, struct http_response *resp)
{
    struct sse_client *c = calloc(1, sizeof *c);
    char line[32];
    int n;

    if (!c)
        return -1;
    c->hub = h;
    c->job_id = job_id;
    c->last_id = last_id;
    c->last_status = -1;
    n = snprintf(line, sizeof line, "retry: %d\n\n", SSE_RETRY_MS);
    append(c, line, (size_t)n);
    c->next = h->clients;
    if (c->next)
        c->next->prev = c;
    h->clients = c;
    h->n_clients++;
    sse_job_changed(h, job_id); /* the current state, unless seen */
    http_response_stream(resp, 200, "text/event-stream", client_read, client_free, c);
    http_response_header(resp, "Cache-Control", "no-cache");
    http_response_header(resp, "X-Accel-Buffering", "no");
    return 0;
}

static void on_beat_closed(uv_handle_t *handle)
{
    struct sse_hub *h = handle->data;

    h->timer_open = 0;
    hub_maybe_free(h);
}

int sse_hub_new(uv_loop_t *loop, struct store *store, int heartbeat_ms, struct sse_hub **out)
{
    struct sse_hub *h = xcalloc(1, sizeof *h);
    int rc;

    h->loop = loop;
    h->store = store;
    h->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 15000;
    rc = uv_timer_init(loop, &h->beat);
    if (rc != 0) {
        free(h);
        return rc;
    }
    h->timer_open = 1;
    h->beat.data = h;
    uv_timer_start(&h->beat, on_beat, (uint64_t)h->heartbeat_ms, (uint64_t)h->heartbeat_ms);
    /* The heartbeat alone must not keep the loop running at shutdown. */
    uv_unref((uv_handle_t *)&h->beat);
    *out = h;
    return 0;
}

void sse_hub_close(struct sse_hub *h)
{
    if (!h || h->closed)
        return;
    h->closed = 1;
    uv_close((uv_handle_t *)&h->beat, on_beat_closed);
}
