/*
 * http.c - libmicrohttpd 0.9.75 in external epoll mode on a libuv loop
 * (http.h).
 *
 * Owns: the MHD daemon, the uv_poll_t on MHD's epoll fd, the uv_timer_t
 * that follows MHD_get_timeout(), and one struct req_ctx per request
 * (created on the first access-handler call, freed in the completed
 * callback for every termination code). A deferred request (http_defer())
 * keeps its connection suspended, and its req_ctx alive, until
 * http_deferred_resume().
 *
 * Threads: loop thread only. MHD is started without an internal thread,
 * so all of its callbacks run inside MHD_run() on this thread.
 *
 * MHD rules followed here (service-notes.md section 3): upload data is
 * consumed in full on every call (*upload_data_size = 0); responses are
 * destroyed right after MHD_queue_response(); a connection timeout and a
 * connection limit are set (MHD's default timeout is "never"); MHD_run()
 * is called whenever the epoll fd is readable and no later than
 * MHD_get_timeout() says.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "jsonfmt.h"
#include "log.h"
#include "utf8.h"
#include "xalloc.h"

struct http_server {
    uv_loop_t *loop;
    struct MHD_Daemon *d;
    uv_poll_t poll;            /* on MHD's epoll fd */
    uv_timer_t timer;          /* MHD_get_timeout() */
    int poll_init, timer_init; /* the handles were initialised */
    int handles_open;          /* libuv handles not yet closed */
    int stopping;              /* http_close() began: streams end */
    struct http_handlers h;
    struct http_stream *streams; /* queued streamed responses */
    struct req_ctx *deferred;    /* suspended deferred requests */
};

/* One streamed response (http_response_stream()), owned by MHD's
 * response from MHD_queue_response() until its free callback. */
struct http_stream {
    struct http_server *s;
    struct MHD_Connection *c;
    http_stream_fn fn;
    void (*free_fn)(void *user);
    void *user;
    int suspended; /* the producer had nothing: MHD_suspend_connection() */
    int sized;     /* a body of known length: a 0 from fn is an error */
    struct http_stream *prev, *next;
};

/* Per request: the request view, the body buffer and the response. */
struct req_ctx {
    struct http_server *srv;
    struct http_request req;
    struct http_response resp;
    int64_t start_us;
    int64_t cap; /* body bytes accepted */
    char *buf;   /* owned body buffer (cap + 1 bytes, grown on demand) */
    size_t len, alloc;
    int too_large;
    int queued; /* a response was queued */
    int status; /* status queued, for the log */
    uint64_t bytes_out;
    int deferred;  /* http_defer() was called */
    int suspended; /* deferred and not yet resumed: on srv->deferred */
    struct req_ctx *dprev, *dnext;
};

/* ---- request accessors -------------------------------------------------- */

const char *http_header(const struct http_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->_conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *r, const char *name)
{
    const char *v;

    /* A key without a value is stored with a NULL value: report it as "". */
    if (MHD_lookup_connection_value_n(r->_conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v,
                                      NULL) != MHD_YES)
        return NULL;
    return v ? v : "";
}

struct query_iter {
    int (*fn)(void *user, const char *key, const char *value);
    void *user;
    int rc;
};

static enum MHD_Result query_iter_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct query_iter *it = cls;

    (void)kind;
    it->rc = it->fn(it->user, key, value ? value : "");
    return it->rc == 0 ? MHD_YES : MHD_NO;
}

int http_query_each(const struct http_request *r,
                    int (*fn)(void *user, const char *key, const char *value), void *user)
{
    struct query_iter it = {fn, user, 0};

    MHD_get_connection_values(r->_conn, MHD_GET_ARGUMENT_KIND, query_iter_cb, &it);
    return it.rc;
}

/* ---- responses ---------------------------------------------------------- */

void http_response_header(struct http_response *r, const char *name, const char *value)
{
    if (r->n_headers >= HTTP_MAX_HEADERS)
        return;
    r->headers[r->n_headers].name = name;
    r->headers[r->n_headers].value = xstrdup(value);
    r->n_headers++;
}

void http_response_body(struct http_response *r, int status, const char *content_type, char *body,
                        size_t len)
{
    free(r->body);
    r->status = status;
    r->content_type = content_type;
    r->body = body;
    r->body_len = body ? len : 0;
}

void http_response_json(struct http_response *r, int status, const char *content_type, json_t *doc)
{
    char *text = doc ? jsonfmt_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    json_decref(doc);
    if (!text) {
        static const char oom[] =
            "{\"type\":\"urn:trainbound:problem:internal-error\",\"title\":\"Internal server "
            "error\",\"status\":500,\"detail\":\"out of memory while encoding the answer\"}";
        text = xstrdup(oom);
        status = 500;
        content_type = "application/problem+json";
    }
    http_response_body(r, status, content_type, text, strlen(text));
}

void http_response_stream(struct http_response *r, int status, const char *content_type,
                          http_stream_fn fn, void (*free_fn)(void *user), void *user)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    if (r->stream && r->stream_free)
        r->stream_free(r->stream_user);
    r->status = status;
    r->content_type = content_type;
    r->stream = fn;
    r->stream_free = free_fn;
    r->stream_user = user;
    r->stream_sized = 0;
    r->stream_size = 0;
}

void http_response_stream_sized(struct http_response *r, int status, const char *content_type,
                                uint64_t size, http_stream_fn fn, void (*free_fn)(void *user),
                                void *user)
{
    http_response_stream(r, status, content_type, fn, free_fn, user);
    r->stream_sized = 1;
    r->stream_size = size;
}

void http_response_free(struct http_response *r)
{
    int i;

    if (r->stream && r->stream_free)
        r->stream_free(r->stream_user);
    free(r->body);
    for (i = 0; i < r->n_headers; i++)
        free(r->headers[i].value);
    memset(r, 0, sizeof *r);
}

static void on_timer(uv_timer_t *t);

/* MHD's content reader for a stream: the producer's bytes; nothing ready
 * means suspend first, then 0 (returning 0 without suspending would make
 * MHD poll again at once: service-notes.md section 3). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct http_stream *st = cls;
    long n;

    (void)pos;
    n = st->fn(st->user, st, buf, max);
    if (n > 0)
        return (ssize_t)n;
    if (st->sized) /* MHD asks no more once the length is reached */
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == HTTP_STREAM_END || (n == 0 && st->s->stopping))
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    st->suspended = 1;
    MHD_suspend_connection(st->c);
    return 0;
}

static void stream_free(void *cls)
{
    struct http_stream *st = cls;

    if (st->prev)
        st->prev->next = st->next;
    else
        st->s->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    if (st->free_fn)
        st->free_fn(st->user);
    free(st);
}

void http_stream_wake(struct http_stream *st)
{
    if (!st || !st->suspended)
        return;
    st->suspended = 0;
    MHD_resume_connection(st->c);
    /* Never MHD_run() from here: this may be inside an MHD callback. */
    if (st->s->timer_init)
        uv_timer_start(&st->s->timer, on_timer, 0, 0);
}

/* ---- deferred answers -------------------------------------------------- */

struct http_deferred *http_defer(const struct http_request *req)
{
    struct req_ctx *rc = req->_ctx;

    rc->deferred = 1; /* on_access() suspends once handle() returns */
    return (struct http_deferred *)rc;
}

const struct http_request *http_deferred_request(struct http_deferred *d)
{
    return &((struct req_ctx *)d)->req;
}

struct http_response *http_deferred_response(struct http_deferred *d)
{
    return &((struct req_ctx *)d)->resp;
}

/* Takes rc off the server's list of suspended deferred requests. */
static void deferred_unlink(struct req_ctx *rc)
{
    if (rc->dprev)
        rc->dprev->dnext = rc->dnext;
    else
        rc->srv->deferred = rc->dnext;
    if (rc->dnext)
        rc->dnext->dprev = rc->dprev;
    rc->dprev = rc->dnext = NULL;
    rc->suspended = 0;
}

void http_deferred_resume(struct http_deferred *d)
{
    struct req_ctx *rc = (struct req_ctx *)d;

    if (!rc->suspended)
        return; /* still inside handle(): on_access() queues the answer */
    deferred_unlink(rc);
    MHD_resume_connection(rc->req._conn);
    /* MHD calls on_access() again, which queues the answer; never
     * MHD_run() from here, this may be inside an MHD callback. */
    if (rc->srv->timer_init)
        uv_timer_start(&rc->srv->timer, on_timer, 0, 0);
}

/* Hands rc->resp to MHD. copy = 1 keeps rc->resp.body (MHD copies it),
 * so the answer can be queued again if MHD refuses it now; copy = 0 gives
 * the body to MHD. Returns MHD's verdict. */
static enum MHD_Result queue_response(struct MHD_Connection *c, struct req_ctx *rc, int copy)
{
    struct http_response *r = &rc->resp;
    struct MHD_Response *m;
    enum MHD_Result ok;
    int i;

    if (r->status == 0) {
        static const char msg[] =
            "{\"type\":\"urn:trainbound:problem:internal-error\",\"title\":\"Internal server "
            "error\",\"status\":500,\"detail\":\"no handler answered this request\"}";
        http_response_body(r, 500, "application/problem+json", xstrdup(msg), sizeof msg - 1);
    }
    if (r->stream) {
        struct http_stream *st = xcalloc(1, sizeof *st);
        st->c = c;
        st->fn = r->stream;
        st->free_fn = r->stream_free;
        st->user = r->stream_user;
        st->sized = r->stream_sized;
        m = MHD_create_response_from_callback(r->stream_sized ? r->stream_size : MHD_SIZE_UNKNOWN,
                                              r->stream_sized ? 256 * 1024 : 4096, stream_read, st,
                                              stream_free);
        if (!m) {
            free(st);
            return MHD_NO; /* r still owns the producer */
        }
        r->stream = NULL; /* the response owns it now */
        st->s = rc->srv;
        st->next = st->s->streams;
        if (st->next)
            st->next->prev = st;
        st->s->streams = st;
    } else if (r->body && copy) {
        m = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_COPY);
    } else if (r->body) {
        m = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE);
        if (m)
            r->body = NULL; /* MHD owns it now */
    } else {
        m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!m)
        return MHD_NO;
    if (r->content_type)
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    for (i = 0; i < r->n_headers; i++)
        MHD_add_response_header(m, r->headers[i].name, r->headers[i].value);
    rc->status = r->status;
    rc->bytes_out = r->stream_sized ? r->stream_size : r->body_len;
    ok = MHD_queue_response(c, (unsigned)r->status, m);
    MHD_destroy_response(m);
    if (ok == MHD_YES)
        rc->queued = 1;
    return ok;
}

/* ---- MHD callbacks ------------------------------------------------------ */

static int64_t parse_content_length(const char *v)
{
    int64_t n = 0;

    if (!v || !*v)
        return -1;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*v - '0');
    }
    return n;
}

/* Appends n bytes of upload data, up to the cap; past it, sets too_large. */
static void body_append(struct req_ctx *rc, const char *data, size_t n)
{
    if (rc->too_large)
        return;
    if ((int64_t)(rc->len + n) > rc->cap) {
        rc->too_large = 1;
        return;
    }
    if (rc->len + n + 1 > rc->alloc) {
        size_t want = rc->alloc ? rc->alloc * 2 : 4096;
        while (want < rc->len + n + 1)
            want *= 2;
        if ((int64_t)want > rc->cap + 1)
            want = (size_t)rc->cap + 1;
        rc->buf = xrealloc(rc->buf, want);
        rc->alloc = want;
    }
    memcpy(rc->buf + rc->len, data, n);
    rc->len += n;
    rc->buf[rc->len] = '\0';
}

/* Adds the bytes of one header or query key and value to *cls (a size_t). */
static enum MHD_Result count_bytes(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    size_t *n = cls;

    (void)kind;
    *n += (key ? strlen(key) : 0) + (value ? strlen(value) : 0);
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls)
{
    struct http_server *s = cls;
    struct req_ctx *rc = *con_cls;

    (void)version;
    if (!rc) {
        int64_t cap;

        rc = xcalloc(1, sizeof *rc);
        rc->srv = s;
        rc->start_us = clock_mono_us();
        rc->req.method = method;
        rc->req.path = url;
        rc->req._conn = c;
        rc->req._ctx = rc;
        rc->req.content_length = parse_content_length(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH));
        rc->req.target_bytes = strlen(url);
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, count_bytes, &rc->req.target_bytes);
        MHD_get_connection_values(c, MHD_HEADER_KIND, count_bytes, &rc->req.header_bytes);
        *con_cls = rc;
        cap = s->h.headers(s->h.user, &rc->req, &rc->resp);
        if (cap < 0) {
            /* Answer now. If MHD will not take a response at this stage,
             * it is sent after the body has been read and discarded. */
            queue_response(c, rc, 1);
            rc->cap = 0;
            return MHD_YES;
        }
        rc->cap = cap;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        /* Kept only while no answer is decided; otherwise discarded. */
        if (!rc->queued && rc->resp.status == 0 && rc->cap > 0)
            body_append(rc, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    /* The whole request is in. */
    if (rc->queued)
        return MHD_YES;
    if (rc->resp.status == 0 && !rc->deferred) {
        rc->req.body = rc->buf;
        rc->req.body_len = rc->len;
        rc->req.body_too_large = rc->too_large;
        s->h.handle(s->h.user, &rc->req, &rc->resp);
        if (rc->deferred && rc->resp.status == 0) {
            /* The answer comes with http_deferred_resume(). */
            rc->suspended = 1;
            rc->dnext = s->deferred;
            if (rc->dnext)
                rc->dnext->dprev = rc;
            s->deferred = rc;
            MHD_suspend_connection(c);
            return MHD_YES;
        }
    }
    return queue_response(c, rc, 0);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct req_ctx *rc = *con_cls;
    const char *route = NULL;
    char method[32], path[512];

    (void)c;
    if (!rc)
        return;
    if (s->h.route_name)
        route = s->h.route_name(s->h.user, rc->req.method, rc->req.path);
    log_event(rc->status >= 500 ? LOG_WARN : LOG_INFO, "request",
              "s:s, s:s, s:s*, s:i, s:f, s:I, s:I, s:s*", "method",
              utf8_sanitize(rc->req.method, method, sizeof method), "path",
              utf8_sanitize(rc->req.path, path, sizeof path), "route", route, "status", rc->status,
              "duration_ms", (double)(clock_mono_us() - rc->start_us) / 1000.0, "bytes_in",
              (json_int_t)rc->len, "bytes_out", (json_int_t)rc->bytes_out, "termination",
              toe == MHD_REQUEST_TERMINATED_COMPLETED_OK      ? NULL
              : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
              : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT    ? "client_abort"
              : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutdown"
                                                              : "error");
    if (s->h.completed)
        s->h.completed(s->h.user, route, rc->status,
                       (double)(clock_mono_us() - rc->start_us) / 1e6);
    http_response_free(&rc->resp);
    free(rc->buf);
    free(rc);
    *con_cls = NULL;
}

/* The value of a hex digit, or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes the path and query arguments in place, like MHD's own
 * decoder, except that "%00" stays as it is: handlers see C strings, and a
 * decoded NUL would cut "/v1/jobs/1%00" down to "/v1/jobs/1". Returns the
 * new length. */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *c, char *s)
{
    char *r = s, *w = s;

    (void)cls;
    (void)c;
    while (*r) {
        if (r[0] == '%' && hex_value(r[1]) >= 0 && hex_value(r[2]) >= 0) {
            int v = hex_value(r[1]) * 16 + hex_value(r[2]);
            if (v != 0) {
                *w++ = (char)v;
                r += 3;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512], clean[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_event(LOG_WARN, "http_error", "s:s", "message", utf8_sanitize(msg, clean, sizeof clean));
}

/* ---- libuv driving ------------------------------------------------------ */

/* Runs MHD and re-arms the timer from MHD_get_timeout(). */
static void run_mhd(struct http_server *s)
{
    MHD_UNSIGNED_LONG_LONG to = 0;

    if (!s->d)
        return;
    MHD_run(s->d);
    if (MHD_get_timeout(s->d, &to) == MHD_YES) {
        if (to > 60000)
            to = 60000;
        uv_timer_start(&s->timer, on_timer, (uint64_t)to, 0);
    } else {
        uv_timer_stop(&s->timer);
    }
}

static void on_timer(uv_timer_t *t)
{
    run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    run_mhd(p->data);
}

/* ---- start / stop ------------------------------------------------------- */

/* Resolves "host:port" / "[v6]:port" into ss (numeric or by name). */
static int resolve_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
                          char *err, size_t errlen)
{
    char host[128], port[16];
    const char *colon;
    struct addrinfo hints, *res = NULL;
    size_t hlen;
    int rc;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "--listen \"%s\": expected [IPv6]:PORT", listen);
            return -EINVAL;
        }
        hlen = (size_t)(close - listen - 1);
        if (hlen >= sizeof host)
            hlen = sizeof host - 1;
        memcpy(host, listen + 1, hlen);
        host[hlen] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon) {
            snprintf(err, errlen, "--listen \"%s\": expected HOST:PORT", listen);
            return -EINVAL;
        }
        hlen = (size_t)(colon - listen);
        if (hlen >= sizeof host)
            hlen = sizeof host - 1;
        memcpy(host, listen, hlen);
        host[hlen] = '\0';
    }
    if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof port ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) > 65535) {
        snprintf(err, errlen, "--listen \"%s\": the port must be 0..65535", listen);
        return -EINVAL;
    }
    snprintf(port, sizeof port, "%s", colon + 1);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "--listen \"%s\": %s", listen, gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* "ip:port" of a bound socket. */
static void format_bound(int fd, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(out, n, "?");
        return;
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(out, n, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(out, n, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    }
}

int http_start(uv_loop_t *loop, const struct http_config *cfg, const struct http_handlers *h,
               struct http_server **out, char *bound, size_t boundlen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    const union MHD_DaemonInfo *info;
    struct http_server *s;
    /* Suspend/resume (which implies an inter-thread channel, needed by
     * MHD_quiesce_daemon) is on for the event streams and the deferred
     * answers; http_close() resumes both before MHD_stop_daemon, which must
     * never meet a suspended connection. */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    int rc, epfd;

    *out = NULL;
    rc = resolve_listen(cfg->listen, &ss, &sslen, err, errlen);
    if (rc < 0)
        return rc;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->h = *h;
    /* The logger must be the first option, or MHD logs to stderr first. */
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER,
                            on_mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->conn_limit,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->conn_timeout_s,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape_keep_nul, s,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on %s (address in use, or not permitted)",
                 cfg->listen);
        free(s);
        return -EADDRINUSE;
    }
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
    epfd = info ? info->epoll_fd : -1;
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
    if (epfd < 0 || !info) {
        snprintf(err, errlen, "libmicrohttpd gave no epoll or listen fd");
        MHD_stop_daemon(s->d);
        free(s);
        return -EIO;
    }
    format_bound(info->listen_fd, bound, boundlen);
    rc = uv_poll_init(loop, &s->poll, epfd);
    if (rc == 0) {
        s->poll_init = 1;
        s->handles_open++;
        rc = uv_timer_init(loop, &s->timer);
        if (rc == 0) {
            s->timer_init = 1;
            s->handles_open++;
        }
    }
    s->poll.data = s;
    s->timer.data = s;
    if (rc == 0)
        rc = uv_poll_start(&s->poll, UV_READABLE, on_poll);
    if (rc != 0) {
        snprintf(err, errlen, "cannot watch the HTTP epoll fd: %s", uv_strerror(rc));
        http_close(s);
        return rc;
    }
    /* Accept whatever is already pending and arm the first timeout. */
    run_mhd(s);
    *out = s;
    return 0;
}

void http_quiesce(struct http_server *s)
{
    MHD_socket fd;

    if (!s || !s->d)
        return;
    fd = MHD_quiesce_daemon(s->d);
    /* In external polling mode the caller closes the old listen socket. */
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

unsigned http_connections(struct http_server *s)
{
    const union MHD_DaemonInfo *info;

    if (!s || !s->d)
        return 0;
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;

    if (--s->handles_open == 0)
        free(s);
}

void http_close(struct http_server *s)
{
    int had_handles;

    if (!s)
        return;
    had_handles = s->handles_open;
    /* Stop watching the epoll fd before MHD closes it: uv_close() takes
     * the fd out of libuv's epoll set at once. */
    if (s->poll_init) {
        s->poll_init = 0;
        uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    }
    if (s->timer_init) {
        s->timer_init = 0;
        uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    }
    if (s->d) {
        struct http_stream *st;
        /* MHD must not stop with suspended connections: resume every
         * stream (its producer now ends it) and let MHD process them. */
        s->stopping = 1;
        for (st = s->streams; st; st = st->next)
            if (st->suspended) {
                st->suspended = 0;
                MHD_resume_connection(st->c);
            }
        /* Deferred requests still waiting (their owner should have
         * answered them first): 503, and their handles are void. */
        while (s->deferred) {
            static const char msg[] =
                "{\"type\":\"urn:trainbound:problem:not-ready\",\"title\":\"Service not "
                "ready\",\"status\":503,\"detail\":\"the server is shutting down\"}";
            struct req_ctx *rc = s->deferred;
            deferred_unlink(rc);
            http_response_body(&rc->resp, 503, "application/problem+json", xstrdup(msg),
                               sizeof msg - 1);
            MHD_resume_connection(rc->req._conn);
        }
        MHD_run(s->d);
        MHD_stop_daemon(s->d);
        s->d = NULL;
    }
    if (had_handles == 0)
        free(s);
}
