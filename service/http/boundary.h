/*
 * boundary.h - the heavy half of GET /v1/jobs/{id}/boundary: loads every
 * label of a job (queue_load_range) and encodes the representation
 * asked for (JSON page of flips, CSV page, PNG strip, packed words), or
 * keeps the labels for a NumPy body streamed a block at a time
 * (boundary_npy_read). routes_boundary.c checks the request and the job
 * before, and builds the HTTP answer, headers and problems from what
 * boundary_build() leaves in the struct after; this module knows no HTTP.
 *
 * Owns: the struct's outputs (bits, body) until boundary_work_free() or
 * until a caller takes them (and sets the member to NULL).
 * Threads: any one thread at a time, with a store of that thread: the
 * reader thread (reader.h), or the loop thread when no reader runs.
 */
#ifndef TB_BOUNDARY_H
#define TB_BOUNDARY_H

#include <stddef.h>
#include <stdint.h>

#include "npy.h"
#include "tb.h"

struct store;

enum boundary_format {
    BOUNDARY_JSON,  /* the page of flips, and with_labels the labels as base64 */
    BOUNDARY_CSV,   /* the page of flips as "index,lr" rows */
    BOUNDARY_NPY,   /* one bool byte per point: bits kept, body streamed */
    BOUNDARY_PNG,   /* the label strip */
    BOUNDARY_WORDS, /* the packed label words, little-endian */
};

/* What boundary_build() returns: 0 or a negative code. */
enum boundary_status {
    BOUNDARY_OK = 0,
    BOUNDARY_ELOAD = -1,   /* queue_load_range failed: queue_rc says how */
    BOUNDARY_ENOMEM = -2,  /* no memory for the labels */
    BOUNDARY_EPNG = -3,    /* the PNG could not be drawn or encoded */
    BOUNDARY_EENCODE = -4, /* the JSON document could not be built (ENOMEM) */
};

struct boundary_work {
    /* In, set by the caller: */
    int64_t job_id;
    struct tb_spec spec; /* a copy of the job's spec; x0 NULL (never read here) */
    enum boundary_format format;
    int with_labels; /* BOUNDARY_JSON: include every label */
    uint64_t offset; /* the page of flips (JSON, CSV) */
    size_t limit;    /* 1..100000 */
    /* Out, set by boundary_build(): */
    int queue_rc; /* BOUNDARY_ELOAD: the QUEUE_E* code */
    uint64_t points, words;
    uint64_t *bits; /* owned; kept for BOUNDARY_NPY only */
    char *body;     /* owned (malloc): the encoded body; NULL for NPY */
    size_t body_len;
    size_t got; /* flips in the page (JSON, CSV) */
    int more;   /* flips remain after the page */
    /* BOUNDARY_NPY: the header, and the bytes already streamed. */
    char npy_head[NPY_HEADER_MAX];
    size_t npy_head_len;
    uint64_t npy_pos;
};

/* Loads the labels of w->job_id through s (of replicate 0, the first grid,
 * when the job has several) and fills the outputs.
 * Returns 0 or a negative enum boundary_status. */
int boundary_build(struct store *s, struct boundary_work *w);

/* The length of the BOUNDARY_NPY body (header plus one byte per point). */
uint64_t boundary_npy_size(const struct boundary_work *w);

/* Copies the next at most max bytes of the BOUNDARY_NPY body into buf
 * and returns the count, 0 at the end. */
size_t boundary_npy_read(struct boundary_work *w, char *buf, size_t max);

/* Frees the outputs (not w itself). */
void boundary_work_free(struct boundary_work *w);

#endif /* TB_BOUNDARY_H */
