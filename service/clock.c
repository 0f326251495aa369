/*
 * clock.c - wall and monotonic clocks and RFC 3339 formatting (clock.h).
 *
 * Threads: any thread; reentrant (gmtime_r).
 */
#include "clock.h"

#include <stdio.h>
#include <time.h>

int64_t clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
    return clock_mono_us() / 1000;
}

int64_t clock_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *clock_iso8601(int64_t ms, char *out)
{
    time_t secs;
    struct tm tm;
    int64_t frac;

    if (ms < 0)
        ms = 0;
    secs = (time_t)(ms / 1000);
    frac = ms % 1000;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, CLOCK_ISO_LEN, "1970-01-01T00:00:00.000Z");
        return out;
    }
    snprintf(out, CLOCK_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    return out;
}
