/*
 * view.c - the job resource as JSON (view.h).
 *
 * Threads: any thread; no state.
 */
#include "view.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

void view_job_path(int64_t id, char *out)
{
    snprintf(out, VIEW_PATH_LEN, "/v1/jobs/%lld", (long long)id);
}

void view_etag(const struct job *j, char *out)
{
    snprintf(out, VIEW_ETAG_LEN, "W/\"%lld-%lld\"", (long long)j->id, (long long)j->revision);
}

/* An RFC 3339 string for ms, or null when ms is 0 (not yet). */
static json_t *jtime(int64_t ms)
{
    char buf[CLOCK_ISO_LEN];

    if (ms <= 0)
        return json_null();
    return json_string(clock_iso8601(ms, buf));
}

/* Milliseconds between two times, or null when the start is unknown. */
static json_t *jspan(int64_t from_ms, int64_t to_ms)
{
    if (from_ms <= 0 || to_ms < from_ms)
        return json_null();
    return json_integer((json_int_t)(to_ms - from_ms));
}

/* Parses stored JSON text, or null when absent or unreadable. */
static json_t *jstored(const char *text)
{
    json_t *v;

    if (!text)
        return json_null();
    v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_null();
}

json_t *view_job(const struct job *j, int with_spec, int64_t now_ms)
{
    char path[VIEW_PATH_LEN], link[VIEW_PATH_LEN + 16];
    json_t *o, *progress, *timings, *links;
    int64_t run_end = j->finished_ms > 0 ? j->finished_ms : now_ms;
    int64_t wait_end = j->started_ms > 0 ? j->started_ms : run_end;
    int bad = 0;

    view_job_path(j->id, path);
    o = json_object();
    progress = json_pack("{s:I, s:I, s:f, s:I, s:I}", "done", (json_int_t)j->points_done, "total",
                         (json_int_t)j->points_total, "fraction",
                         j->points_total ? (double)j->points_done / (double)j->points_total : 0.0,
                         "tiles_done", (json_int_t)j->tiles_done, "tiles_total",
                         (json_int_t)j->tiles_total);
    timings = json_object();
    links = json_object();
    if (!o || !progress || !timings || !links) {
        json_decref(o);
        json_decref(progress);
        json_decref(timings);
        json_decref(links);
        return NULL;
    }
    bad |= json_object_set_new(o, "id", json_integer(j->id));
    bad |= json_object_set_new(o, "status", json_string(job_status_name(j->status)));
    bad |= json_object_set_new(o, "name", j->name ? json_string(j->name) : json_null());
    bad |= json_object_set_new(o, "revision", json_integer(j->revision));
    bad |= json_object_set_new(o, "progress", progress);
    bad |= json_object_set_new(o, "created_at", jtime(j->created_ms));
    bad |= json_object_set_new(o, "started_at", jtime(j->started_ms));
    bad |= json_object_set_new(o, "finished_at", jtime(j->finished_ms));
    bad |= json_object_set_new(timings, "wait_ms", jspan(j->created_ms, wait_end));
    bad |= json_object_set_new(timings, "run_ms", jspan(j->started_ms, run_end));
    bad |= json_object_set_new(o, "timings", timings);
    if (with_spec)
        bad |= json_object_set_new(o, "spec", jstored(j->spec_json));
    if (j->summary_json)
        bad |= json_object_set_new(o, "summary", jstored(j->summary_json));
    if (j->error)
        bad |= json_object_set_new(o, "error", json_string(j->error));
    bad |= json_object_set_new(links, "self", json_string(path));
    snprintf(link, sizeof link, "%s/result", path);
    bad |= json_object_set_new(links, "result", json_string(link));
    snprintf(link, sizeof link, "%s/dimension", path);
    bad |= json_object_set_new(links, "dimension", json_string(link));
    snprintf(link, sizeof link, "%s/boundary", path);
    bad |= json_object_set_new(links, "boundary", json_string(link));
    snprintf(link, sizeof link, "%s/cancel", path);
    bad |= json_object_set_new(links, "cancel", json_string(link));
    bad |= json_object_set_new(o, "links", links);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
