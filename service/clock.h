/*
 * clock.h - the time sources of the service and the one timestamp format
 * of its JSON (RFC 3339, UTC, milliseconds: "2026-11-29T06:45:00.123Z").
 *
 * Threads: any thread; no state.
 */
#ifndef TB_CLOCK_H
#define TB_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, milliseconds since the Unix epoch (what the queue stores). */
int64_t clock_now_ms(void);

/* Monotonic clock in milliseconds, for durations and heartbeat spacing. */
int64_t clock_mono_ms(void);

/* Monotonic clock in microseconds. */
int64_t clock_mono_us(void);

/* Formats ms as RFC 3339 UTC with milliseconds into out (at least
 * CLOCK_ISO_LEN bytes, borrowed). Returns out. */
#define CLOCK_ISO_LEN 80
char *clock_iso8601(int64_t ms, char *out);

#endif /* TB_CLOCK_H */
