/*
 * kind.c - the registry of job kinds (kind.h): which kinds exist, which
 * one a parsed body or a name means, and the two steps every kind shares:
 * a body parsed once and handed to its kind, and the job resource with
 * its kind's additions.
 *
 * Threads: constant data; any thread (kind_view_job(): the thread of s).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kind.h"

/* In matching order: the first kind whose matches() accepts a body wins;
 * the sweep, which matches anything, is the fallback. */
static const struct job_kind *const kinds[] = {&kind_study, &kind_sweep, NULL};

const struct job_kind *kind_by_name(const char *name)
{
    size_t i;

    for (i = 0; name && kinds[i]; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

const struct job_kind *kind_of_body(const struct json_t *root)
{
    size_t i;

    for (i = 0; kinds[i]; i++)
        if (kinds[i]->matches(root))
            return kinds[i];
    return &kind_sweep;
}

int kind_parse_body(const char *body, size_t len, const struct codec_limits *lim,
                    const struct job_kind **kind, struct kind_spec **spec,
                    struct codec_errors *errs)
{
    json_t *root = NULL;
    int rc;

    *spec = NULL;
    rc = codec_load_json(body, len, &root, errs);
    *kind = rc == CODEC_OK ? kind_of_body(root) : &kind_sweep;
    if (rc == CODEC_OK)
        rc = (*kind)->parse(root, lim, spec, errs);
    json_decref(root);
    return rc;
}

json_t *kind_view_job(struct store *s, const struct job *job, json_t *doc)
{
    const struct job_kind *kind = kind_by_name(job->kind);

    if (!doc)
        return NULL;
    if (job->kind[0])
        json_object_set_new(doc, "kind", json_string(job->kind));
    return kind ? kind->view(s, job, doc) : doc;
}
