/*
 * app.h - the state the HTTP routes share with the server's main loop:
 * settings, limits, the loop's store, the pool and the draining flag.
 * Built by serve.c; read and used by the route files (routes*.c).
 *
 * Threads: loop thread only. Every pointer is borrowed from serve.c,
 * which owns and outlives them all.
 */
#ifndef TB_APP_H
#define TB_APP_H

#include <uv.h>

#include "codec.h"
#include "config.h"

struct store;
struct pool;
struct http_server;
struct auth;
struct sse_hub;
struct metrics;
struct reader;
struct notifier;

struct app {
    const struct serve_config *cfg;
    struct codec_limits limits; /* from cfg: what POST /v1/jobs accepts */
    uv_loop_t *loop;
    struct store *store; /* the loop thread's connection */
    struct pool *pool;   /* NULL until the pool runs */
    struct http_server *http;
    int draining; /* SIGTERM seen: /readyz 503, no submits */
    struct auth *auth; /* bearer tokens (--token-file); NULL = no auth */
    struct sse_hub *sse;      /* event streams (sse.h); NULL until started */
    struct metrics *metrics;  /* /metrics counters (metrics.h); may be NULL */
    struct reader *reader;    /* long reads off the loop (reader.h); NULL: on the loop */
    struct notifier *notify;  /* a shared queue's wake-ups (notify.h); NULL: SQLite */
};

#endif /* TB_APP_H */
