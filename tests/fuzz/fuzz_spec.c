/*
 * fuzz_spec.c - libFuzzer driver for the sweep spec parser (service/format/codec.c)
 * and the study parser (service/work/study.c), the two parsers that read bytes
 * sent by anyone who can reach `trainbound run` or POST /v1/jobs.
 *
 * Each input is parsed twice by codec_parse_spec(): with the CLI's default
 * limits and with tight ones (levels <= 6, steps <= 50, dim <= 4), so that
 * both the limit messages and small, runnable specs are reached. When the
 * input is a study (an object with "vary") it also goes to study_parse()
 * under both limits. Besides the sanitizers, the driver aborts on any broken
 * contract of those modules:
 *
 *   - an error list is non-empty on failure, and every path, pointer and
 *     message is valid UTF-8 without control characters (codec.c promises
 *     this so that errors go straight into problem+json bodies);
 *   - a study is never a valid sweep spec (its "vary" is an unknown field);
 *   - the canonical text of a parsed spec parses again, under the same
 *     limits, to the same canonical text; the same holds for a study's
 *     canonical text, and each cell's stored canonical text equals the
 *     canonical text of its parsed spec;
 *   - for tiny grids (levels <= 6, steps <= 50, dim <= 4), a sweep by
 *     tb_sweep_tile() succeeds on both precisions, does not depend on the
 *     tile split, and codec_result_encode() gives JSON whose "spec" member
 *     is the canonical spec; for studies of tiny cells, study_result_encode(),
 *     study_row_encode() and study_csv() give a document and a table with
 *     one row per cell.
 *
 * Everything is freed, so LeakSanitizer stays quiet. The same function runs
 * without libFuzzer through replay_main.c (make fuzz-regress).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "jsonfmt.h"
#include "study.h"
#include "tb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sweeps are only run below these sizes, so one input stays fast. */
#define TINY_LEVELS 6
#define TINY_STEPS 50
#define TINY_DIM 4
/* Studies are encoded only up to this many tiny cells. */
#define TINY_CELLS 32
/* Cells whose canonical text is checked against a fresh parse. */
#define CHECK_CELLS 8

static const struct codec_limits tight_limits = {TINY_LEVELS, TINY_STEPS, TINY_DIM, 3000.0};

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static void
broken(const char *fmt, ...)
{
    va_list ap;

    fputs("fuzz_spec: broken invariant: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* 1 when the cap-byte field s is a NUL-terminated, valid UTF-8 string
 * without control characters. jansson's json_string() checks the UTF-8. */
static int clean_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap), i;
    json_t *j;

    if (n == cap)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7F)
            return 0;
    j = json_string(s);
    if (!j)
        return 0;
    json_decref(j);
    return 1;
}

static void check_errors(const char *who, int rc, const struct codec_errors *e)
{
    int i;

    if (rc == CODEC_OK)
        return;
    if (rc != CODEC_EJSON && rc != CODEC_EINVALID)
        broken("%s: unexpected return code %d", who, rc);
    if (e->n < 1 || e->n > CODEC_MAX_ERRORS)
        broken("%s: failed (rc %d) with %d errors", who, rc, e->n);
    for (i = 0; i < e->n; i++) {
        if (!clean_text(e->e[i].path, sizeof e->e[i].path) ||
            !clean_text(e->e[i].pointer, sizeof e->e[i].pointer) ||
            !clean_text(e->e[i].message, sizeof e->e[i].message))
            broken("%s: error %d has a path, pointer or message that is not clean UTF-8 "
                   "(message \"%.*s\")",
                   who, i, (int)sizeof e->e[i].message, e->e[i].message);
    }
}

static int is_tiny(const struct codec_spec *s)
{
    return s->core.axes[0].levels <= TINY_LEVELS && s->core.steps <= TINY_STEPS &&
           s->core.model.dim <= TINY_DIM;
}

/* The canonical text of s; it must exist (no allocation fails here). */
static char *canonical(const struct codec_spec *s)
{
    char *c = codec_spec_canonical(s);

    if (!c)
        broken("codec_spec_canonical() returned NULL");
    return c;
}

/* Labels of the whole sweep of spec (every replicate), swept in two tiles
 * split at cut (any value; it is reduced to the sweep). Caller frees. */
static uint64_t *sweep(const struct tb_spec *spec, uint64_t cut)
{
    uint64_t n = tb_sweep_points(spec), words = tb_label_words(n);
    uint64_t *all = calloc(words, sizeof *all);
    struct tb_tile_stats st;
    int rc;

    if (!all)
        broken("out of memory for %llu labels", (unsigned long long)n);
    rc = tb_sweep_tile(spec, 0, n, all, NULL, NULL, NULL, &st);
    if (rc != TB_OK)
        broken("tb_sweep_tile() failed on a valid spec: %s", tb_strerror(rc));
    if (st.points != n || st.divergent != tb_labels_popcount(all, n))
        broken("tile stats disagree with the labels");

    /* The same grid in two tiles gives the same labels. */
    cut %= n + 1;
    {
        uint64_t *tile = calloc(words, sizeof *tile), *full = calloc(words, sizeof *full);
        if (!tile || !full)
            broken("out of memory");
        if (tb_sweep_tile(spec, 0, cut, tile, NULL, NULL, NULL, NULL) != TB_OK)
            broken("tb_sweep_tile() failed on the first tile");
        tb_labels_put(full, 0, tile, cut);
        memset(tile, 0, words * sizeof *tile);
        if (tb_sweep_tile(spec, cut, n - cut, tile, NULL, NULL, NULL, NULL) != TB_OK)
            broken("tb_sweep_tile() failed on the second tile");
        tb_labels_put(full, cut, tile, n - cut);
        if (memcmp(full, all, words * sizeof *all) != 0)
            broken("labels depend on the tile split (cut %llu of %llu)", (unsigned long long)cut,
                   (unsigned long long)n);
        free(tile);
        free(full);
    }
    return all;
}

/* Sweeps s on both precisions and checks the result documents. */
static void run_tiny(const struct codec_spec *s, uint64_t cut)
{
    int prec;

    for (prec = TB_PRECISION_REFERENCE; prec <= TB_PRECISION_FAST; prec++) {
        struct codec_spec c = *s; /* shallow: borrows x0 and name */
        uint64_t *labels;
        char *text, *canon, *spec_text;
        json_error_t jerr;
        json_t *doc;

        c.core.precision = (enum tb_precision)prec;
        labels = sweep(&c.core, cut);
        text = codec_result_encode(&c, labels, 0.0);
        if (!text)
            broken("codec_result_encode() returned NULL");
        doc = json_loads(text, 0, &jerr);
        if (!doc)
            broken("the result is not JSON (%s): %.200s", jerr.text, text);
        if (json_integer_value(json_object_get(doc, "points")) !=
            (json_int_t)tb_grid_points(&c.core))
            broken("the result's points member is wrong");
        canon = canonical(&c);
        spec_text = jsonfmt_dumps(json_object_get(doc, "spec"), JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!spec_text || strcmp(spec_text, canon) != 0)
            broken("the result's spec is not the canonical spec:\n  %s\n  %s",
                   spec_text ? spec_text : "(none)", canon);
        if (!strstr(text, canon)) /* byte for byte inside the result, too */
            broken("the result text does not hold the canonical spec:\n  %s\n  %s", text, canon);
        free(spec_text);
        free(canon);
        json_decref(doc);
        free(text);
        free(labels);
    }
}

/* Parses the canonical text of s again under lim: same canonical text. */
static void check_canonical(const struct codec_spec *s, const struct codec_limits *lim,
                            const char *stored)
{
    char *c1 = canonical(s), *c2;
    struct codec_spec again;
    struct codec_errors errs;
    int rc;

    if (stored && strcmp(stored, c1) != 0)
        broken("a study cell's stored canonical text differs:\n  %s\n  %s", stored, c1);
    rc = codec_parse_spec(c1, strlen(c1), lim, &again, &errs);
    if (rc != CODEC_OK)
        broken("the canonical spec does not parse (%s: %s): %s", errs.n ? errs.e[0].path : "",
               errs.n ? errs.e[0].message : "", c1);
    c2 = canonical(&again);
    if (strcmp(c1, c2) != 0)
        broken("the canonical spec is not stable:\n  %s\n  %s", c1, c2);
    free(c2);
    free(c1);
    codec_spec_free(&again);
}

static void fuzz_spec(const char *buf, size_t len, const struct codec_limits *lim, int is_study,
                      uint64_t cut)
{
    struct codec_spec s;
    struct codec_errors errs;
    int rc = codec_parse_spec(buf, len, lim, &s, &errs);

    check_errors("codec_parse_spec", rc, &errs);
    if (rc != CODEC_OK)
        return;
    if (is_study)
        broken("a study parsed as a sweep spec");
    check_canonical(&s, lim, NULL);
    if (is_tiny(&s))
        run_tiny(&s, cut);
    codec_spec_free(&s);
}

/* Runs every cell of a tiny study and checks its documents. */
static void run_tiny_study(const struct study *st, uint64_t cut)
{
    struct codec_analysis *an = calloc(st->n_cells, sizeof *an);
    int *reused = calloc(st->n_cells, sizeof *reused);
    char *text, *csv, *row;
    json_error_t jerr;
    json_t *doc;
    size_t i, lines = 0;

    if (!an || !reused)
        broken("out of memory");
    for (i = 0; i < st->n_cells; i++) {
        uint64_t *labels = sweep(&st->cells[i].core, cut + i);
        if (codec_analyze(&st->cells[i], labels, &an[i]) != CODEC_OK)
            broken("codec_analyze() failed on cell %zu", i);
        reused[i] = (int)(i & 1);
        free(labels);
    }
    text = study_result_encode(st, an, reused, 0.0);
    if (!text)
        broken("study_result_encode() returned NULL");
    doc = json_loads(text, 0, &jerr);
    if (!doc)
        broken("the study result is not JSON (%s)", jerr.text);
    if (json_array_size(json_object_get(doc, "cells")) != st->n_cells)
        broken("the study result has %zu rows for %zu cells",
               json_array_size(json_object_get(doc, "cells")), st->n_cells);
    json_decref(doc);
    free(text);

    row = study_row_encode(st, st->n_cells - 1, &an[st->n_cells - 1], 1);
    if (!row)
        broken("study_row_encode() returned NULL");
    doc = json_loads(row, 0, &jerr);
    if (!doc)
        broken("a study row is not JSON (%s)", jerr.text);
    json_decref(doc);
    free(row);

    csv = study_csv(st, an, reused);
    if (!csv)
        broken("study_csv() returned NULL");
    for (i = 0; csv[i]; i++)
        lines += csv[i] == '\n';
    if (lines != st->n_cells + 1)
        broken("the CSV has %zu lines for %zu cells", lines, st->n_cells);
    free(csv);

    for (i = 0; i < st->n_cells; i++)
        codec_analysis_free(&an[i]);
    free(an);
    free(reused);
}

static void fuzz_study(const char *buf, size_t len, const struct codec_limits *lim, uint64_t cut)
{
    struct study st, again;
    struct codec_errors errs;
    size_t i;
    int rc = study_parse(buf, len, lim, &st, &errs), a, tiny = 1;

    check_errors("study_parse", rc, &errs);
    if (rc != CODEC_OK)
        return;
    if (st.n_axes < 1 || st.n_axes > STUDY_MAX_AXES || st.n_cells < 1 ||
        st.n_cells > STUDY_MAX_CELLS || !st.canonical || !st.cells || !st.cell_canonical)
        broken("a parsed study is malformed (%d axes, %zu cells)", st.n_axes, st.n_cells);

    /* The canonical study parses again to itself. */
    rc = study_parse(st.canonical, strlen(st.canonical), lim, &again, &errs);
    if (rc != CODEC_OK)
        broken("the canonical study does not parse (%s: %s): %s", errs.n ? errs.e[0].path : "",
               errs.n ? errs.e[0].message : "", st.canonical);
    if (strcmp(again.canonical, st.canonical) != 0 || again.n_cells != st.n_cells)
        broken("the canonical study is not stable:\n  %s\n  %s", st.canonical, again.canonical);
    study_free(&again);

    for (i = 0; i < st.n_cells; i++) {
        for (a = 0; a < st.n_axes; a++)
            (void)study_cell_value(&st, i, a);
        if (i < CHECK_CELLS || i + 1 == st.n_cells)
            check_canonical(&st.cells[i], lim, st.cell_canonical[i]);
        tiny &= is_tiny(&st.cells[i]);
    }
    if (tiny && st.n_cells <= TINY_CELLS)
        run_tiny_study(&st, cut);
    study_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct codec_limits def;
    uint64_t cut = 0;
    size_t i;
    int is_study;

    /* A split point for the tile check that varies with the input. */
    for (i = 0; i < size; i++)
        cut = cut * 31 + data[i];
    codec_limits_default(&def);
    is_study = study_is_study(buf, size);

    fuzz_spec(buf, size, &def, is_study, cut);
    fuzz_spec(buf, size, &tight_limits, is_study, cut);
    if (is_study) {
        fuzz_study(buf, size, &def, cut);
        fuzz_study(buf, size, &tight_limits, cut);
    }
    return 0;
}
