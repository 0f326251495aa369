/*
 * metrics.c - Prometheus counters and their text exposition (metrics.h).
 *
 * Owns: struct metrics: fixed tables of (route, code) counters and of
 * per-route histograms (routes are the router's static templates, so at
 * most a few dozen), and a ring of per-second point counts.
 *
 * Threads: loop thread only.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 64
#define MAX_CODES 256
#define RATE_WINDOW_S 10

static const double buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

struct route_hist {
    const char *route;
    uint64_t le[N_BUCKETS]; /* cumulative at render time; per bucket here */
    uint64_t count;
    double sum;
};

struct code_count {
    const char *route;
    int code;
    uint64_t n;
};

struct metrics {
    struct route_hist hist[MAX_ROUTES];
    int n_hist;
    struct code_count codes[MAX_CODES];
    int n_codes;
    uint64_t busy, points;
    int64_t ring_sec[RATE_WINDOW_S + 1]; /* the second each slot counts */
    uint64_t ring_pts[RATE_WINDOW_S + 1];
};

struct metrics *metrics_new(void)
{
    return calloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
    free(m);
}

void metrics_request(struct metrics *m, const char *route, int status, double seconds)
{
    int i;
    size_t b;

    if (!m)
        return;
    if (!route)
        route = "unmatched";
    for (i = 0; i < m->n_codes; i++)
        if (m->codes[i].code == status && strcmp(m->codes[i].route, route) == 0)
            break;
    if (i == m->n_codes && m->n_codes < MAX_CODES) {
        m->codes[i].route = route;
        m->codes[i].code = status;
        m->n_codes++;
    }
    if (i < m->n_codes)
        m->codes[i].n++;
    for (i = 0; i < m->n_hist; i++)
        if (strcmp(m->hist[i].route, route) == 0)
            break;
    if (i == m->n_hist && m->n_hist < MAX_ROUTES)
        m->hist[m->n_hist++].route = route;
    if (i < m->n_hist) {
        for (b = 0; b < N_BUCKETS; b++)
            if (seconds <= buckets[b]) {
                m->hist[i].le[b]++;
                break;
            }
        m->hist[i].count++;
        m->hist[i].sum += seconds;
    }
}

void metrics_busy(struct metrics *m)
{
    if (m)
        m->busy++;
}

void metrics_points(struct metrics *m, uint64_t n, int64_t now_ms)
{
    int64_t sec = now_ms / 1000;
    int slot;

    if (!m)
        return;
    m->points += n;
    slot = (int)(sec % (RATE_WINDOW_S + 1));
    if (m->ring_sec[slot] != sec) {
        m->ring_sec[slot] = sec;
        m->ring_pts[slot] = 0;
    }
    m->ring_pts[slot] += n;
}

/* A growing text buffer; on ENOMEM it stays failed. */
struct out {
    char *p;
    size_t len, cap;
    int failed;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void outf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        {
            size_t want = (o->cap + (size_t)n + 1) * 2;
            char *q = realloc(o->p, want);
            if (!q) {
                o->failed = 1;
                return;
            }
            o->p = q;
            o->cap = want;
        }
    }
}

/* Label values here are route templates: escape \ " and newline anyway. */
static const char *esc(const char *s, char *buf, size_t n)
{
    size_t j = 0;

    for (; *s && j + 3 < n; s++) {
        if (*s == '\\' || *s == '"') {
            buf[j++] = '\\';
            buf[j++] = *s;
        } else if (*s == '\n') {
            buf[j++] = '\\';
            buf[j++] = 'n';
        } else {
            buf[j++] = *s;
        }
    }
    buf[j] = '\0';
    return buf;
}

char *metrics_render(struct metrics *m, const struct metrics_gauges *g, int64_t now_ms, size_t *len)
{
    static const char *const states[5] = {"queued", "running", "succeeded", "failed", "canceled"};
    struct out o = {NULL, 0, 0, 0};
    int64_t sec = now_ms / 1000;
    uint64_t recent = 0;
    char r[256];
    int i;
    size_t b;

    o.cap = 4096;
    o.p = malloc(o.cap);
    if (!o.p || !m)
        return free(o.p), NULL;
    o.p[0] = '\0';
    if (g->have_jobs) {
        outf(&o, "# HELP trainbound_jobs Jobs in the store by state.\n"
                 "# TYPE trainbound_jobs gauge\n");
        for (i = 0; i < 5; i++)
            outf(&o, "trainbound_jobs{state=\"%s\"} %" PRId64 "\n", states[i], g->jobs[i]);
        outf(&o,
             "# HELP trainbound_queue_depth Jobs waiting to start (queued).\n"
             "# TYPE trainbound_queue_depth gauge\ntrainbound_queue_depth %" PRId64 "\n",
             g->jobs[0]);
    }
    outf(&o,
         "# HELP trainbound_tiles_running Tile and analysis tasks in flight (running, or claimed "
         "one ahead per worker).\n"
         "# TYPE trainbound_tiles_running gauge\ntrainbound_tiles_running %d\n",
         g->running_tiles);
    outf(&o,
         "# HELP trainbound_points_computed_total Grid points computed (tiles saved).\n"
         "# TYPE trainbound_points_computed_total counter\n"
         "trainbound_points_computed_total %" PRIu64 "\n",
         m->points);
    for (i = 0; i <= RATE_WINDOW_S; i++)
        if (m->ring_sec[i] < sec && m->ring_sec[i] >= sec - RATE_WINDOW_S)
            recent += m->ring_pts[i];
    outf(&o,
         "# HELP trainbound_points_per_second Points computed per second over the last %d "
         "whole seconds.\n"
         "# TYPE trainbound_points_per_second gauge\ntrainbound_points_per_second %.6g\n",
         RATE_WINDOW_S, (double)recent / RATE_WINDOW_S);
    outf(&o,
         "# HELP trainbound_sqlite_busy_total Store calls that stayed busy past the busy "
         "timeout.\n"
         "# TYPE trainbound_sqlite_busy_total counter\ntrainbound_sqlite_busy_total %" PRIu64 "\n",
         m->busy);
    outf(&o,
         "# HELP trainbound_sse_clients Open event streams.\n"
         "# TYPE trainbound_sse_clients gauge\ntrainbound_sse_clients %d\n",
         g->sse_clients);
    if (g->shared)
        outf(&o,
             "# HELP trainbound_notify_listening 1 while this process listens for the shared "
             "queue's notifications (0: it polls).\n"
             "# TYPE trainbound_notify_listening gauge\ntrainbound_notify_listening %d\n"
             "# HELP trainbound_notifications_total Notifications received from the shared "
             "queue (new work, job changes).\n"
             "# TYPE trainbound_notifications_total counter\n"
             "trainbound_notifications_total %" PRIu64 "\n",
             g->listening, g->notifications);
    outf(&o, "# HELP http_requests_total HTTP requests by route template and status code.\n"
             "# TYPE http_requests_total counter\n");
    for (i = 0; i < m->n_codes; i++)
        outf(&o, "http_requests_total{route=\"%s\",code=\"%d\"} %" PRIu64 "\n",
             esc(m->codes[i].route, r, sizeof r), m->codes[i].code, m->codes[i].n);
    outf(&o, "# HELP http_request_duration_seconds HTTP request durations by route template.\n"
             "# TYPE http_request_duration_seconds histogram\n");
    for (i = 0; i < m->n_hist; i++) {
        uint64_t cum = 0;
        esc(m->hist[i].route, r, sizeof r);
        for (b = 0; b < N_BUCKETS; b++) {
            cum += m->hist[i].le[b];
            outf(&o, "http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                 r, buckets[b], cum);
        }
        outf(&o,
             "http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64 "\n"
             "http_request_duration_seconds_sum{route=\"%s\"} %.9g\n"
             "http_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n",
             r, m->hist[i].count, r, m->hist[i].sum, r, m->hist[i].count);
    }
    if (o.failed) {
        free(o.p);
        return NULL;
    }
    *len = o.len;
    return o.p;
}
