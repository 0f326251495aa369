/*
 * kind_sweep.c - the `sweep` job kind (kind.h): one spec (codec.h), its
 * learning-rate grid once per replicate, cut into tiles of the queue.
 *
 * Threads: as kind.h (the loop thread in the server).
 */
#include <stdlib.h>
#include <string.h>

#include "kind.h"
#include "pool.h"
#include "sha256.h"

struct kind_spec {
    struct codec_spec spec;
};

static int sweep_matches(const struct json_t *root)
{
    (void)root;
    return 1;
}

static int sweep_parse(const struct json_t *root, const struct codec_limits *lim,
                       struct kind_spec **out, struct codec_errors *errs)
{
    struct kind_spec *k = malloc(sizeof *k);
    int rc;

    *out = NULL;
    if (!k) {
        memset(errs, 0, sizeof *errs);
        return CODEC_ENOMEM;
    }
    rc = codec_spec_from_json(root, lim, &k->spec, errs);
    if (rc != CODEC_OK) {
        free(k);
        return rc;
    }
    *out = k;
    return CODEC_OK;
}

static void sweep_free(struct kind_spec *k)
{
    if (!k)
        return;
    codec_spec_free(&k->spec);
    free(k);
}

static int sweep_submit(struct store *s, struct kind_spec *k, const struct kind_submit_opts *o,
                        int64_t now_ms, struct kind_submitted *out)
{
    char hash[SHA256_HEX_LEN], *canonical = codec_spec_canonical(&k->spec);
    struct queue_submit sub;
    int rc;

    memset(out, 0, sizeof *out);
    if (!canonical)
        return QUEUE_ENOMEM;
    sha256_hex(canonical, strlen(canonical), hash);
    memset(&sub, 0, sizeof sub);
    sub.spec_json = canonical;
    sub.name = k->spec.name;
    sub.points = tb_sweep_points(&k->spec.core);
    sub.tile_points = pool_tile_points(&k->spec.core, o->workers, o->tile_points);
    sub.idem_key = o->idem_key;
    sub.request_hash = hash;
    sub.max_queued = o->max_queued;
    rc = queue_enqueue(s, &sub, now_ms, &out->job, &out->replayed);
    free(canonical);
    out->units = 1;
    return rc;
}

static struct json_t *sweep_view(struct store *s, const struct job *job, struct json_t *doc)
{
    (void)s;
    (void)job;
    return doc;
}

const struct job_kind kind_sweep = {
    .name = "sweep",
    .noun = "spec",
    .matches = sweep_matches,
    .parse = sweep_parse,
    .free_spec = sweep_free,
    .submit = sweep_submit,
    .view = sweep_view,
};
