/*
 * kind.c - the registry of job kinds (kind.h): which kinds exist, and
 * which one a parsed body or a name means.
 *
 * Threads: constant data; any thread.
 */
#include <string.h>

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
