/*
 * http.h - libmicrohttpd glue: an HTTP/1.1 server driven by a libuv loop.
 *
 * MHD runs in "external polling" mode with epoll: its epoll fd is watched
 * by a uv_poll_t and a uv_timer_t follows MHD_get_timeout(), so every MHD
 * callback, and therefore every handler, runs on the loop thread inside
 * MHD_run() (service-notes.md section 5, "one owner thread"). MHD starts
 * no threads.
 *
 * A request reaches the application in two calls: headers() as soon as
 * the headers are in (it may answer at once, e.g. 404/405/413/415, or
 * accept a body up to a cap), then handle() once the whole body is in.
 * Bodies are buffered here up to the cap; past it the rest is discarded
 * and handle() sees body_too_large = 1.
 *
 * Threads: loop thread only.
 */
#ifndef TB_HTTP_H
#define TB_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct MHD_Connection;
struct http_server;

/* What a handler sees. Every pointer is borrowed for the call. */
struct http_request {
    const char *method;
    const char *path; /* percent-decoded, without the query string */
    const char *body; /* NUL-terminated copy of the body; NULL when none */
    size_t body_len;
    int body_too_large;     /* the body passed the cap: answer 413 */
    int64_t content_length; /* the Content-Length header, or -1 when absent/bad */
    size_t target_bytes;    /* path plus query keys and values, decoded */
    size_t header_bytes;    /* header names plus values */
    struct MHD_Connection *_conn;
    void *_ctx; /* http.c's request state (http_defer()) */
};

/* A header or query value (case-insensitive name for headers); NULL when
 * absent. A query key without '=' has an "" value here. Borrowed until
 * the request completes. */
const char *http_header(const struct http_request *r, const char *name);
const char *http_query(const struct http_request *r, const char *name);

/* Calls fn for every query key (in order); stops at the first non-zero
 * return, which is returned. value is "" when the key has none. */
int http_query_each(const struct http_request *r,
                    int (*fn)(void *user, const char *key, const char *value), void *user);

#define HTTP_MAX_HEADERS 16

/* Requests over these are answered 414 / 431 problem+json by the handler;
 * MHD itself refuses what does not fit HTTP_CONN_MEMORY (its own 4xx). */
#define HTTP_MAX_TARGET (16 * 1024)
#define HTTP_MAX_HEADER_BYTES (32 * 1024)
#define HTTP_CONN_MEMORY (256 * 1024)

/*
 * Streamed bodies (e.g. Server-Sent Events). The producer copies at most
 * max bytes into buf and returns the count; it returns 0 when nothing is
 * ready now (the connection is suspended until http_stream_wake()),
 * HTTP_STREAM_END to finish the body, HTTP_STREAM_ERROR to abort it.
 * st identifies the stream for http_stream_wake(); it stays valid until
 * the stream's free function runs. Both run on the loop thread.
 */
struct http_stream;
#define HTTP_STREAM_END (-1L)
#define HTTP_STREAM_ERROR (-2L)
typedef long (*http_stream_fn)(void *user, struct http_stream *st, char *buf, size_t max);

struct http_response {
    int status;               /* 0 = not filled */
    const char *content_type; /* static string, or NULL for no body */
    char *body;               /* owned (malloc); NULL for none */
    size_t body_len;
    int n_headers;
    struct {
        const char *name; /* static */
        char *value;      /* owned */
    } headers[HTTP_MAX_HEADERS];
    /* A streamed body instead of body (http_response_stream()): */
    http_stream_fn stream;
    int stream_sized;     /* http_response_stream_sized(): stream_size bytes */
    uint64_t stream_size;
    void (*stream_free)(void *user); /* releases stream_user; may be NULL */
    void *stream_user;               /* owned by the response until queued */
};

/* Adds a header (name static, value copied). Extra headers past
 * HTTP_MAX_HEADERS are dropped. */
void http_response_header(struct http_response *r, const char *name, const char *value);

/* Sets status and a compact JSON body from doc (stolen; NULL = 500
 * internal problem). content_type is static, e.g. "application/json". */
void http_response_json(struct http_response *r, int status, const char *content_type, json_t *doc);

/* Sets status and body (taken: malloc'd, len bytes; may be NULL). */
void http_response_body(struct http_response *r, int status, const char *content_type, char *body,
                        size_t len);

/* Sets status and a streamed body of unknown length (chunked): fn
 * produces it, free_fn(user) runs once the stream ends or is never sent.
 * user is owned by the response from here on. */
void http_response_stream(struct http_response *r, int status, const char *content_type,
                          http_stream_fn fn, void (*free_fn)(void *user), void *user);

/* As http_response_stream(), but the body has exactly size bytes and is
 * sent with Content-Length, like a buffered one: fn must produce them all
 * (a 0 before the end aborts the body). For large bodies made on the fly
 * from a compact form (the labels of /boundary?format=npy). */
void http_response_stream_sized(struct http_response *r, int status, const char *content_type,
                                uint64_t size, http_stream_fn fn, void (*free_fn)(void *user),
                                void *user);

/* A stream whose producer returned 0 has data again: resume it (MHD runs
 * on the next loop iteration). Harmless when it is not waiting. */
void http_stream_wake(struct http_stream *st);

/*
 * Deferred answers, for work too long for the loop thread (reader.h).
 * From handle(), http_defer() says the answer comes later and leaves resp
 * empty: the connection is suspended (MHD reads, writes and times out
 * nothing on it) and the request view stays valid. Later, on the loop
 * thread, fill http_deferred_response(d) and call http_deferred_resume(d)
 * to send it; d is invalid after that. Every deferred request must be
 * resumed before http_close(), which answers any still waiting with a
 * 503 problem and invalidates them.
 */
struct http_deferred;
struct http_deferred *http_defer(const struct http_request *req);
const struct http_request *http_deferred_request(struct http_deferred *d);
struct http_response *http_deferred_response(struct http_deferred *d);
void http_deferred_resume(struct http_deferred *d);

/* Releases the body and header values; r can be reused after. */
void http_response_free(struct http_response *r);

struct http_handlers {
    /*
     * Headers are in, no body yet. Return the largest body to accept
     * (> 0), 0 to accept none (any body is discarded), or -1 after
     * filling resp to answer now (the body, if any, is discarded).
     */
    int64_t (*headers)(void *user, const struct http_request *req, struct http_response *resp);
    /* The whole request is in: fill resp (status 0 becomes a 500). */
    void (*handle)(void *user, const struct http_request *req, struct http_response *resp);
    /* The route template of a path for logs, e.g. "/v1/jobs/{id}"; may be NULL. */
    const char *(*route_name)(void *user, const char *method, const char *path);
    /* A request ended (any termination): its route template (may be NULL),
     * the status sent and its duration. May be NULL. */
    void (*completed)(void *user, const char *route, int status, double seconds);
    void *user;
};

struct http_config {
    const char *listen; /* "host:port", "[v6]:port"; port 0 = any free port */
    int conn_limit;     /* MHD_OPTION_CONNECTION_LIMIT */
    int conn_timeout_s; /* MHD_OPTION_CONNECTION_TIMEOUT */
};

/*
 * Binds and starts serving on loop. On success *out is owned by the
 * caller (http_close()), and bound (boundlen bytes) holds "ip:port" as
 * actually bound. On failure returns a negative errno-style code and a
 * message in err. handlers is copied.
 */
int http_start(uv_loop_t *loop, const struct http_config *cfg, const struct http_handlers *h,
               struct http_server **out, char *bound, size_t boundlen, char *err, size_t errlen);

/* Stops accepting new connections; open ones are still served. */
void http_quiesce(struct http_server *s);

/* Number of open connections. */
unsigned http_connections(struct http_server *s);

/* Closes every connection and the daemon, and frees s once its libuv
 * handles are closed (during the next loop iteration). */
void http_close(struct http_server *s);

#endif /* TB_HTTP_H */
