/*
 * log.c - one JSON object per line (log.h). The object is built with
 * jansson so every string is escaped correctly, then written with a single
 * write(2) while holding a mutex.
 *
 * Threads: any thread. Globals: the level and fd, set before threads
 * start, and the mutex.
 */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

static enum log_level min_level = LOG_INFO;
static int log_fd = 2;
static const char *log_role; /* "worker": a "role" key on every line; NULL: none */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level level, int fd)
{
    min_level = level;
    log_fd = fd;
}

void log_set_role(const char *role)
{
    log_role = role;
}

/* Writes all of buf, retrying short writes and EINTR. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void log_event(enum log_level level, const char *event, const char *fmt, ...)
{
    char ts[CLOCK_ISO_LEN], *fmtbuf = NULL, *line;
    json_t *obj, *extra = NULL;
    size_t len;

    if (level < min_level)
        return;
    obj = json_object();
    if (!obj)
        return;
    json_object_set_new(obj, "ts", json_string(clock_iso8601(clock_now_ms(), ts)));
    json_object_set_new(obj, "level", json_string(level_names[level]));
    json_object_set_new(obj, "event", json_string(event));
    if (log_role)
        json_object_set_new(obj, "role", json_string(log_role));
    if (fmt && *fmt) {
        va_list ap;
        json_error_t jerr;
        size_t n = strlen(fmt) + 3;

        fmtbuf = malloc(n);
        if (fmtbuf) {
            snprintf(fmtbuf, n, "{%s}", fmt);
            va_start(ap, fmt);
            extra = json_vpack_ex(&jerr, 0, fmtbuf, ap);
            va_end(ap);
            if (extra)
                json_object_update(obj, extra);
            else
                json_object_set_new(obj, "log_format_error", json_string(jerr.text));
        }
    }
    line = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (line) {
        len = strlen(line);
        line[len] = '\n'; /* overwrite the NUL: written by length */
        pthread_mutex_lock(&log_mu);
        write_all(log_fd, line, len + 1);
        pthread_mutex_unlock(&log_mu);
        free(line);
    }
    json_decref(extra);
    json_decref(obj);
    free(fmtbuf);
}
