/*
 * log.h - structured logs: one JSON object per line on stderr, e.g.
 *   {"ts":"2026-11-29T06:45:00.123Z","level":"info","event":"listening","addr":"127.0.0.1:41235"}
 * The keys ts, level and event come first, in that order; the rest are the
 * event's fields.
 *
 * Threads: any thread; a line is written with one write(2) under a mutex,
 * so lines of different threads never interleave.
 */
#ifndef TB_LOG_H
#define TB_LOG_H

#include <stdio.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Sets the minimum level written (default LOG_INFO) and the output fd
 * (default 2). Call before any thread logs. */
void log_setup(enum log_level min_level, int fd);

/* Adds "role": role (static, e.g. "worker") after "event" on every line
 * from now on; NULL for none (the default). Call before any thread logs. */
void log_set_role(const char *role);

/*
 * Writes one line for event (a static lower_snake name). fmt is a jansson
 * json_pack() format for the extra fields, written as "s:s, s:I, ..."
 * without the surrounding braces, or NULL for none; the varargs follow
 * json_pack's rules (use "s:s*" to omit a string that may be NULL). Reals
 * are written with 10 significant digits. A format
 * error is reported as a "log_format_error" field instead of losing the line.
 */
void log_event(enum log_level level, const char *event, const char *fmt, ...);

#endif /* TB_LOG_H */
