/*
 * study.c - study specs (a base sweep spec plus a "vary" block), their
 * cells, and the study table as JSON and CSV. See study.h for the format.
 *
 * Owns: everything declared in study.h.
 * Threads: no global state; reentrant; runs on the caller's thread (the
 * CLI's main thread, the server's loop thread or a worker).
 *
 * RULES
 *   vary          object with 1 or 2 members, each a parameter name from
 *                 model.amplitude, model.wavelength, model.dim, x0, steps,
 *                 divergence.threshold; the first is the row axis.
 *   values        a non-empty list of up to 1000 numbers, or
 *                 {"linspace": [a, b, n]} (n points from a to b) or
 *                 {"logspace": [a, b, n]} (numpy's: 10^a .. 10^b), n an
 *                 integer 1..1000. model.dim and steps take integers only.
 *   combine       "product" (default: every pair) or "zip" (value i of each
 *                 axis together; the axes must have the same length).
 *   cells         at most 10000; each is the base spec with its values
 *                 written in, validated exactly like a sweep spec; a value
 *                 that makes a cell invalid is reported at
 *                 vary.<param>[i] with the codec's message.
 *   cost          the sum of (2^levels + 1) * steps over the cells is at
 *                 most lim->max_cost.
 *   size          the cells' canonical specs add up to at most 16 MiB, so a
 *                 small body cannot make the parser format millions of
 *                 numbers (10000 cells of a 1024-dimensional x0).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonfmt.h"
#include "study.h"
#include "tb.h"

static const struct {
    const char *name;
    enum study_param param;
    int integer;
} param_table[] = {
    {"model.amplitude", STUDY_AMPLITUDE, 0},
    {"model.wavelength", STUDY_WAVELENGTH, 0},
    {"model.dim", STUDY_DIM, 1},
    {"x0", STUDY_X0, 0},
    {"steps", STUDY_STEPS, 1},
    {"divergence.threshold", STUDY_THRESHOLD, 0},
};
#define N_PARAMS (sizeof param_table / sizeof param_table[0])

/* ---- errors ------------------------------------------------------------- */

/* Replaces what is not valid UTF-8, and control characters, by '?' in the C
 * string s: error texts carry user keys and may be cut mid-character, and
 * they go straight into problem+json bodies and terminals (as codec.c's). */
static void clean_text(char *s)
{
    size_t i = 0, k, len;
    unsigned char c;

    while (s[i]) {
        c = (unsigned char)s[i];
        len = c < 0x80                 ? 1
              : c >= 0xC2 && c <= 0xDF ? 2
              : c >= 0xE0 && c <= 0xEF ? 3
              : c >= 0xF0 && c <= 0xF4 ? 4
                                       : 0;
        for (k = 1; k < len; k++)
            if (((unsigned char)s[i + k] & 0xC0) != 0x80)
                len = 0; /* also stops at the NUL */
        if (len == 3 && ((c == 0xE0 && (unsigned char)s[i + 1] < 0xA0) ||
                         (c == 0xED && (unsigned char)s[i + 1] > 0x9F)))
            len = 0; /* overlong, or a surrogate */
        if (len == 4 && ((c == 0xF0 && (unsigned char)s[i + 1] < 0x90) ||
                         (c == 0xF4 && (unsigned char)s[i + 1] > 0x8F)))
            len = 0; /* overlong, or above U+10FFFF */
        if (len == 0 || c < 0x20 || c == 0x7F) {
            s[i++] = '?';
            continue;
        }
        i += len;
    }
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
add_err(struct codec_errors *errs, const char *path, const char *pointer, const char *fmt, ...)
{
    struct codec_error ne;
    va_list ap;
    int i;

    snprintf(ne.path, sizeof ne.path, "%s", path);
    snprintf(ne.pointer, sizeof ne.pointer, "%s", pointer);
    va_start(ap, fmt);
    vsnprintf(ne.message, sizeof ne.message, fmt, ap);
    va_end(ap);
    clean_text(ne.path);
    clean_text(ne.pointer);
    clean_text(ne.message);
    for (i = 0; i < errs->n; i++) /* cells repeat the same problem: report it once */
        if (strcmp(errs->e[i].path, ne.path) == 0 && strcmp(errs->e[i].message, ne.message) == 0)
            return;
    if (errs->n >= CODEC_MAX_ERRORS) {
        errs->truncated = 1;
        return;
    }
    errs->e[errs->n++] = ne;
}

/* The JSON pointer (RFC 6901) of vary member key: '~' is "~0", '/' "~1". */
static void vary_pointer(char *out, size_t cap, const char *key)
{
    size_t n = (size_t)snprintf(out, cap, "/vary/");

    for (; *key && n + 2 < cap; key++) {
        if (*key == '~' || *key == '/') {
            out[n++] = '~';
            out[n++] = *key == '~' ? '0' : '1';
        } else {
            out[n++] = *key;
        }
    }
    out[n] = '\0';
}

/* ---- detection ---------------------------------------------------------- */

int study_is_study_json(const json_t *root)
{
    return json_is_object(root) && json_object_get(root, "vary") != NULL;
}

int study_is_study(const char *buf, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    int yes = study_is_study_json(root);

    json_decref(root);
    return yes;
}

/* ---- parsing ------------------------------------------------------------ */

void study_free(struct study *st)
{
    size_t i;
    int a;

    if (!st)
        return;
    for (a = 0; a < st->n_axes; a++)
        free(st->axes[a].values);
    if (st->cells)
        for (i = 0; i < st->n_cells; i++)
            codec_spec_free(&st->cells[i]);
    free(st->cells);
    if (st->cell_canonical)
        for (i = 0; i < st->n_cells; i++)
            free(st->cell_canonical[i]);
    free(st->cell_canonical);
    free(st->canonical);
    free(st->name);
    memset(st, 0, sizeof *st);
}

/* Reads one axis' values. Returns 0; 1 after recording an error for each
 * list element of the wrong type (those values are NaN, the others kept, so
 * that their ranges can still be checked); or -1 after recording an error
 * (ax->values then need no checking). */
static int parse_values(const char *name, int integer, const json_t *v, struct study_axis *ax,
                        struct codec_errors *errs)
{
    char path[96], ptr[96];
    size_t i, n = 0;

    snprintf(path, sizeof path, "vary.%s", name);
    snprintf(ptr, sizeof ptr, "/vary/%s", name);
    if (json_is_array(v)) {
        int bad = 0;
        n = json_array_size(v);
        if (n < 1 || n > STUDY_MAX_VALUES) {
            add_err(errs, path, ptr, "must list 1..%d values", STUDY_MAX_VALUES);
            return -1;
        }
        ax->values = malloc(n * sizeof *ax->values);
        if (!ax->values)
            return -1;
        for (i = 0; i < n; i++) {
            const json_t *x = json_array_get(v, i);
            if (!json_is_number(x) || (integer && !json_is_integer(x))) {
                char p2[112], q2[112];
                snprintf(p2, sizeof p2, "%s[%zu]", path, i);
                snprintf(q2, sizeof q2, "%s/%zu", ptr, i);
                add_err(errs, p2, q2, integer ? "must be an integer" : "must be a number");
                ax->values[i] = NAN;
                bad = 1;
                continue;
            }
            ax->values[i] = json_number_value(x);
        }
        ax->n = n;
        if (bad)
            return 1;
    } else if (json_is_object(v) && json_object_size(v) == 1 &&
               (json_object_get(v, "linspace") || json_object_get(v, "logspace"))) {
        int is_log = json_object_get(v, "logspace") != NULL;
        const json_t *arr = json_object_get(v, is_log ? "logspace" : "linspace");
        double lo, hi;
        json_int_t cnt;

        if (!json_is_array(arr) || json_array_size(arr) != 3 ||
            !json_is_number(json_array_get(arr, 0)) || !json_is_number(json_array_get(arr, 1)) ||
            !json_is_integer(json_array_get(arr, 2))) {
            add_err(errs, path, ptr, "%s must be [start, stop, count] with an integer count",
                    is_log ? "logspace" : "linspace");
            return -1;
        }
        lo = json_number_value(json_array_get(arr, 0));
        hi = json_number_value(json_array_get(arr, 1));
        cnt = json_integer_value(json_array_get(arr, 2));
        if (cnt < 1 || cnt > STUDY_MAX_VALUES) {
            add_err(errs, path, ptr, "the count must be an integer in 1..%d", STUDY_MAX_VALUES);
            return -1;
        }
        n = (size_t)cnt;
        ax->values = malloc(n * sizeof *ax->values);
        if (!ax->values)
            return -1;
        for (i = 0; i < n; i++) {
            /* numpy.linspace: start + i * step, and the last point is stop */
            double t =
                n == 1 ? lo : (i + 1 == n ? hi : lo + (double)i * ((hi - lo) / (double)(n - 1)));
            ax->values[i] = is_log ? pow(10.0, t) : t;
            if (!isfinite(ax->values[i])) {
                add_err(errs, path, ptr, "gives a value that is not a finite number");
                return -1;
            }
            if (integer && ax->values[i] != floor(ax->values[i])) {
                add_err(errs, path, ptr, "must give integers (value %zu is %.17g)", i,
                        ax->values[i]);
                return -1;
            }
        }
    } else {
        add_err(
            errs, path, ptr,
            "must be a list of numbers, {\"linspace\": [a, b, n]} or {\"logspace\": [a, b, n]}");
        return -1;
    }
    ax->n = n;
    return 0;
}

/* Writes value into root at the dotted path name (one level of nesting at
 * most), creating the parent object when the base spec lacks it. */
static int put_param(json_t *root, const char *name, int integer, double value)
{
    char parent[64];
    const char *dot = strchr(name, '.');
    json_t *obj = root, *v;

    if (dot) {
        snprintf(parent, sizeof parent, "%.*s", (int)(dot - name), name);
        /* A cell shares its members with the base (see study_parse_json()):
         * write into a shallow copy of the parent, never into the base's. */
        obj = json_object_get(root, parent);
        obj = json_is_object(obj) ? json_copy(obj) : json_object();
        if (!obj || json_object_set_new(root, parent, obj) != 0)
            return -1;
    }
    /* An integer parameter out of every range the codec accepts (and of
     * json_int_t's) goes in as a real: the codec then rejects it as "must
     * be an integer in lo..hi" at vary.<param>[i]. */
    if (integer && !(fabs(value) < 9007199254740992.0)) /* 2^53 */
        integer = 0;
    v = integer ? json_integer((json_int_t)value) : json_real(value);
    return v ? json_object_set_new(obj, dot ? dot + 1 : name, v) : -1;
}

double study_cell_value(const struct study *st, size_t cell, int axis)
{
    size_t i;

    if (st->zip || st->n_axes == 1)
        i = cell;
    else if (axis == 0)
        i = cell / st->axes[1].n;
    else
        i = cell % st->axes[1].n;
    return st->axes[axis].values[i];
}

static size_t cell_axis_index(const struct study *st, size_t cell, int axis)
{
    if (st->zip || st->n_axes == 1)
        return cell;
    return axis == 0 ? cell / st->axes[1].n : cell % st->axes[1].n;
}

static int param_integer(enum study_param p)
{
    return p == STUDY_DIM || p == STUDY_STEPS;
}

/* The canonical study: the spec with the vary values written out as lists,
 * keys sorted, compact. Same meaning, same text. */
static char *study_canonical_text(const json_t *root, const struct study *st)
{
    json_t *copy = json_deep_copy(root), *vary, *vals;
    char *text = NULL;
    int a;
    size_t i;

    if (!copy)
        return NULL;
    vary = json_object();
    for (a = 0; vary && a < st->n_axes; a++) {
        vals = json_array();
        for (i = 0; vals && i < st->axes[a].n; i++)
            json_array_append_new(vals, param_integer(st->axes[a].param)
                                            ? json_integer((json_int_t)st->axes[a].values[i])
                                            : json_real(st->axes[a].values[i]));
        json_object_set_new(vary, st->axes[a].name, vals);
    }
    if (vary && json_object_set_new(copy, "vary", vary) == 0 &&
        json_object_set_new(copy, "combine", json_string(st->zip ? "zip" : "product")) == 0)
        text = jsonfmt_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    return text;
}

/* After an error in vary: checks each valid-typed value of each axis on
 * its own (the base spec with that one value put in), and records the
 * codec's errors at that axis as vary.NAME[j]. Returns 0 or CODEC_ENOMEM. */
static int check_axis_values(const json_t *root, const struct codec_limits *lim,
                             const struct study *st, struct codec_errors *errs)
{
    struct codec_errors *ce = malloc(sizeof *ce);
    json_t *base = json_deep_copy(root);
    int a, e, rc = 0;
    size_t j;

    if (!ce || !base) {
        rc = CODEC_ENOMEM;
        goto out;
    }
    json_object_del(base, "vary");
    json_object_del(base, "combine");
    for (a = 0; a < st->n_axes && !errs->truncated; a++) {
        const struct study_axis *ax = &st->axes[a];
        for (j = 0; j < ax->n && !errs->truncated; j++) {
            struct codec_spec spec;
            json_t *cell;

            if (isnan(ax->values[j]))
                continue; /* its type error is recorded already */
            cell = json_copy(base);
            if (!cell || put_param(cell, ax->name, param_integer(ax->param), ax->values[j]) < 0) {
                json_decref(cell);
                rc = CODEC_ENOMEM;
                goto out;
            }
            memset(&spec, 0, sizeof spec);
            if (codec_spec_from_json(cell, lim, &spec, ce) == CODEC_ENOMEM)
                rc = CODEC_ENOMEM;
            codec_spec_free(&spec);
            json_decref(cell);
            if (rc)
                goto out;
            for (e = 0; e < ce->n; e++) {
                char p2[112], q2[112];
                if (strcmp(ce->e[e].path, ax->name) != 0)
                    continue;
                snprintf(p2, sizeof p2, "vary.%s[%zu]", ax->name, j);
                snprintf(q2, sizeof q2, "/vary/%s/%zu", ax->name, j);
                add_err(errs, p2, q2, "%s", ce->e[e].message);
            }
        }
    }
out:
    json_decref(base);
    free(ce);
    return rc;
}

int study_parse_json(const json_t *root, const struct codec_limits *lim_in, struct study *out,
                     struct codec_errors *errs)
{
    struct codec_limits lim;
    struct codec_errors *cell_errs = NULL;
    const json_t *vary, *comb;
    json_t *base = NULL;
    const char *key;
    json_t *val;
    size_t i, k, spec_bytes = 0;
    int rc = CODEC_EINVALID, a;

    memset(out, 0, sizeof *out);
    memset(errs, 0, sizeof *errs);
    if (lim_in)
        lim = *lim_in;
    else
        codec_limits_default(&lim);
    if (!study_is_study_json(root)) {
        add_err(errs, "vary", "/vary", "a study needs a \"vary\" object");
        return CODEC_EINVALID;
    }
    vary = json_object_get(root, "vary");
    if (json_is_object(vary) && json_object_get(vary, "combine")) {
        add_err(errs, "vary.combine", "/vary/combine",
                "combine belongs at the top level of the study, beside vary, not inside it");
        return CODEC_EINVALID;
    }
    if (!json_is_object(vary) || json_object_size(vary) < 1 ||
        json_object_size(vary) > STUDY_MAX_AXES) {
        add_err(errs, "vary", "/vary", "must be an object naming 1 or 2 parameters");
        return CODEC_EINVALID;
    }
    comb = json_object_get(root, "combine");
    if (comb) {
        if (json_is_string(comb) && strcmp(json_string_value(comb), "zip") == 0)
            out->zip = 1;
        else if (!json_is_string(comb) || strcmp(json_string_value(comb), "product") != 0)
            add_err(errs, "combine", "/combine", "must be \"product\" or \"zip\"");
    }
    json_object_foreach((json_t *)vary, key, val)
    {
        struct study_axis *ax = &out->axes[out->n_axes];
        char path[96], ptr[96];

        for (k = 0; k < N_PARAMS; k++)
            if (strcmp(key, param_table[k].name) == 0)
                break;
        snprintf(path, sizeof path, "vary.%s", key);
        vary_pointer(ptr, sizeof ptr, key);
        if (k == N_PARAMS) {
            add_err(errs, path, ptr,
                    "unknown parameter (one of model.amplitude, model.wavelength, model.dim, x0, "
                    "steps, divergence.threshold)");
            continue;
        }
        ax->param = param_table[k].param;
        ax->name = param_table[k].name;
        if (parse_values(key, param_table[k].integer, val, ax, errs) >= 0) {
            out->n_axes++;
        } else {
            free(ax->values);
            ax->values = NULL;
        }
    }
    if (errs->n) {
        /* Report every bad value, not only the first kind of error. */
        if (check_axis_values(root, &lim, out, errs) == CODEC_ENOMEM)
            rc = CODEC_ENOMEM;
        goto fail;
    }
    if (out->zip && out->n_axes == 2 && out->axes[0].n != out->axes[1].n) {
        add_err(errs, "combine", "/combine", "zip needs axes of the same length (%zu and %zu)",
                out->axes[0].n, out->axes[1].n);
        goto fail;
    }
    out->n_cells = out->n_axes == 1 || out->zip ? out->axes[0].n : out->axes[0].n * out->axes[1].n;
    if (out->n_cells > STUDY_MAX_CELLS) {
        add_err(errs, "vary", "/vary", "makes %zu cells, more than the limit of %d", out->n_cells,
                STUDY_MAX_CELLS);
        goto fail;
    }

    base = json_deep_copy(root);
    cell_errs = malloc(sizeof *cell_errs);
    out->cells = calloc(out->n_cells, sizeof *out->cells);
    out->cell_canonical = calloc(out->n_cells, sizeof *out->cell_canonical);
    if (!base || !cell_errs || !out->cells || !out->cell_canonical) {
        rc = CODEC_ENOMEM;
        goto fail;
    }
    json_object_del(base, "vary");
    json_object_del(base, "combine");

    for (i = 0; i < out->n_cells; i++) {
        /* A shallow copy: the codec only reads the cell, and put_param()
         * replaces what it changes. (A deep copy per cell made a 60 KB
         * study body cost half a minute of CPU.) */
        json_t *cell = json_copy(base);
        int crc, e;

        if (!cell) {
            rc = CODEC_ENOMEM;
            goto fail;
        }
        for (a = 0; a < out->n_axes; a++)
            put_param(cell, out->axes[a].name, param_integer(out->axes[a].param),
                      study_cell_value(out, i, a));
        crc = codec_spec_from_json(cell, &lim, &out->cells[i], cell_errs);
        json_decref(cell);
        if (crc == CODEC_ENOMEM) {
            rc = CODEC_ENOMEM;
            goto fail;
        }
        if (crc != CODEC_OK) {
            for (e = 0; e < cell_errs->n; e++) {
                const struct codec_error *ce = &cell_errs->e[e];
                for (a = 0; a < out->n_axes; a++)
                    if (strcmp(ce->path, out->axes[a].name) == 0)
                        break;
                if (a < out->n_axes) {
                    char p2[112], q2[112];
                    size_t j = cell_axis_index(out, i, a);
                    snprintf(p2, sizeof p2, "vary.%s[%zu]", out->axes[a].name, j);
                    snprintf(q2, sizeof q2, "/vary/%s/%zu", out->axes[a].name, j);
                    add_err(errs, p2, q2, "%s", ce->message);
                } else if (strncmp(ce->path, "lr.levels", 9) == 0 && strstr(ce->message, "cost")) {
                    add_err(errs, ce->path, ce->pointer, "%s (in cell %zu)", ce->message, i);
                } else {
                    add_err(errs, ce->path, ce->pointer, "%s", ce->message);
                }
            }
            if (errs->truncated)
                break;
            continue;
        }
        out->cost += (ldexp(1.0, out->cells[i].core.axes[0].levels) + 1.0) *
                     (double)out->cells[i].core.steps;
        out->cell_canonical[i] = codec_spec_canonical(&out->cells[i]);
        if (!out->cell_canonical[i]) {
            rc = CODEC_ENOMEM;
            goto fail;
        }
        spec_bytes += strlen(out->cell_canonical[i]);
        /* cells differ only in a few numbers: the first one predicts the total */
        if (spec_bytes > STUDY_MAX_SPEC_BYTES ||
            (i == 0 && spec_bytes * out->n_cells > STUDY_MAX_SPEC_BYTES)) {
            add_err(errs, "vary", "/vary",
                    "the cells' specs add up to more than %d MiB (%zu cells); use fewer cells "
                    "or a smaller x0",
                    STUDY_MAX_SPEC_BYTES >> 20, out->n_cells);
            goto fail;
        }
    }
    if (errs->n)
        goto fail;
    if (out->cost > lim.max_cost) {
        add_err(errs, "vary", "/vary",
                "the study costs %.4g point-steps over %zu cells, more than the limit of %.4g",
                out->cost, out->n_cells, lim.max_cost);
        goto fail;
    }
    if (out->cells[0].name) {
        out->name = strdup(out->cells[0].name);
        if (!out->name) {
            rc = CODEC_ENOMEM;
            goto fail;
        }
    }
    out->canonical = study_canonical_text(root, out);
    if (!out->canonical) {
        rc = CODEC_ENOMEM;
        goto fail;
    }
    json_decref(base);
    free(cell_errs);
    return CODEC_OK;

fail:
    json_decref(base);
    free(cell_errs);
    study_free(out);
    if (rc == CODEC_ENOMEM)
        return rc;
    return CODEC_EINVALID;
}

int study_parse(const char *buf, size_t len, const struct codec_limits *lim, struct study *out,
                struct codec_errors *errs)
{
    json_t *root;
    int rc;

    memset(out, 0, sizeof *out);
    rc = codec_load_json(buf, len, &root, errs);
    if (rc != CODEC_OK)
        return rc;
    rc = study_parse_json(root, lim, out, errs);
    json_decref(root);
    return rc;
}

/* ---- the table ---------------------------------------------------------- */

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *param_json(const struct study *st, int a, double v)
{
    return param_integer(st->axes[a].param) ? json_integer((json_int_t)v) : json_real(v);
}

static json_t *row_json(const struct study *st, size_t i, const struct codec_analysis *an,
                        int reused)
{
    json_t *row = json_object(), *params = json_object(), *counts = json_array();
    int a, n;

    if (!row || !params || !counts) {
        json_decref(row);
        json_decref(params);
        json_decref(counts);
        return NULL;
    }
    for (a = 0; a < st->n_axes; a++)
        json_object_set_new(params, st->axes[a].name,
                            param_json(st, a, study_cell_value(st, i, a)));
    for (n = 0; n <= an->levels; n++)
        json_array_append_new(counts, json_integer((json_int_t)an->counts[n]));
    json_object_set_new(row, "index", json_integer((json_int_t)i));
    json_object_set_new(row, "params", params);
    json_object_set_new(row, "theta", num_or_null(an->roughness.theta));
    json_object_set_new(row, "critical", num_or_null(an->roughness.critical));
    json_object_set_new(row, "convex", json_boolean(an->roughness.convex));
    json_object_set_new(row, "D", json_real(an->fit.value));
    json_object_set_new(row, "stderr", json_real(an->fit.se));
    json_object_set_new(row, "r2", json_real(an->fit.r2));
    json_object_set_new(row, "fractal", json_boolean(codec_analysis_fractal(an)));
    json_object_set_new(row, "spread",
                        an->rep_fits ? codec_spread_json(an->rep_fits, an->replicates)
                                     : codec_spread_json(&an->fit, 1));
    json_object_set_new(row, "warnings",
                        an->rep_fits ? codec_reps_warnings(an->rep_fits, an->replicates)
                                     : codec_fit_warnings(&an->fit));
    json_object_set_new(row, "levels_used", json_integer(an->fit.levels_used));
    json_object_set_new(row, "transitions", json_integer((json_int_t)an->counts[an->levels]));
    json_object_set_new(row, "divergent_fraction",
                        json_real(an->points ? (double)an->divergent / (double)an->points : 0.0));
    json_object_set_new(row, "counts", counts);
    json_object_set_new(row, "reused", json_boolean(reused));
    return row;
}

char *study_row_encode(const struct study *st, size_t cell, const struct codec_analysis *an,
                       int reused)
{
    json_t *row = row_json(st, cell, an, reused);
    char *text;

    if (!row)
        return NULL;
    text = jsonfmt_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(row);
    return text;
}

char *study_result_encode(const struct study *st, const struct codec_analysis *an,
                          const int *reused, double elapsed_s)
{
    json_t *doc = json_object(), *spec, *axes = json_array(), *rows = json_array(), *sum;
    double trans = INFINITY, smooth = -INFINITY;
    size_t i, fractal = 0, convex = 0, nreused = 0;
    int a, additive = 1;
    json_error_t jerr;
    char *text = NULL;

    spec = json_loads(st->canonical, 0, &jerr);
    if (!doc || !spec || !axes || !rows)
        goto out;
    for (a = 0; a < st->n_axes; a++) {
        json_t *ax = json_object(), *vals = json_array();
        for (i = 0; i < st->axes[a].n; i++)
            json_array_append_new(vals, param_json(st, a, st->axes[a].values[i]));
        json_object_set_new(ax, "param", json_string(st->axes[a].name));
        json_object_set_new(ax, "values", vals);
        json_array_append_new(axes, ax);
    }
    for (i = 0; i < st->n_cells; i++) {
        json_t *row = row_json(st, i, &an[i], reused ? reused[i] : 0);
        if (!row || json_array_append_new(rows, row) != 0)
            goto out;
        if (codec_analysis_fractal(&an[i])) {
            fractal++;
            if (an[i].roughness.theta < trans)
                trans = an[i].roughness.theta;
        }
        convex += an[i].roughness.convex != 0;
        nreused += reused && reused[i];
        if (st->cells[i].core.model.family != TB_ADDITIVE)
            additive = 0;
    }
    /* the largest smooth roughness below the first fractal one brackets the
     * transition from below */
    for (i = 0; i < st->n_cells; i++)
        if (!codec_analysis_fractal(&an[i]) && an[i].roughness.theta < trans &&
            an[i].roughness.theta > smooth)
            smooth = an[i].roughness.theta;

    sum = json_object();
    json_object_set_new(sum, "cells", json_integer((json_int_t)st->n_cells));
    json_object_set_new(sum, "fractal_cells", json_integer((json_int_t)fractal));
    json_object_set_new(sum, "convex_cells", json_integer((json_int_t)convex));
    json_object_set_new(sum, "reused_cells", json_integer((json_int_t)nreused));
    json_object_set_new(sum, "theta_c", json_real(1.0 / (2.0 * M_PI * M_PI)));
    json_object_set_new(sum, "transition_theta", num_or_null(trans));
    json_object_set_new(sum, "largest_smooth_theta_below", num_or_null(smooth));
    json_object_set_new(sum, "transition_ratio",
                        additive && isfinite(trans) ? json_real(trans * 2.0 * M_PI * M_PI)
                                                    : json_null());

    if (st->name)
        json_object_set_new(doc, "name", json_string(st->name));
    json_object_set_new(doc, "kind", json_string("study"));
    json_object_set_new(doc, "spec", spec);
    spec = NULL;
    json_object_set_new(doc, "axes", axes);
    axes = NULL;
    json_object_set_new(doc, "combine", json_string(st->zip ? "zip" : "product"));
    json_object_set_new(doc, "summary", sum);
    json_object_set_new(doc, "cells", rows);
    rows = NULL;
    json_object_set_new(doc, "elapsed_s", json_real(elapsed_s));
    text = jsonfmt_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    json_decref(doc);
    json_decref(spec);
    json_decref(axes);
    json_decref(rows);
    return text;
}

/* ---- CSV ---------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int need;

    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        need = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (need < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->n + (size_t)need < b->cap) {
            b->n += (size_t)need;
            return;
        }
        {
            size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)need;
            char *q = realloc(b->p, cap);
            if (!q) {
                b->oom = 1;
                return;
            }
            b->p = q;
            b->cap = cap;
        }
    }
}

/* A CSV field: the shortest text that reads back as v, as in the JSON
 * (0.1, not 0.10000000000000001); empty when v is not finite. */
static void sb_num(struct sbuf *b, double v)
{
    char num[JSONFMT_NUMBER_MAX];

    if (isfinite(v)) {
        jsonfmt_number(v, num);
        sb_printf(b, ",%s", num);
    } else
        sb_printf(b, ",");
}

char *study_csv(const struct study *st, const struct codec_analysis *an, const int *reused)
{
    struct sbuf b = {0};
    struct codec_spread spread;
    size_t i;
    int a, n, levels = st->n_cells ? an[0].levels : 0;

    sb_printf(&b, "index");
    for (a = 0; a < st->n_axes; a++)
        sb_printf(&b, ",%s", st->axes[a].name);
    sb_printf(&b, ",theta,critical,convex,D,stderr,r2,fractal,levels_used,transitions,"
                  "divergent_fraction,reused,replicates,D_mean,D_std,D_min,D_max");
    for (n = 0; n <= levels; n++)
        sb_printf(&b, ",B%d", n);
    sb_printf(&b, "\n");
    for (i = 0; i < st->n_cells; i++) {
        const struct codec_analysis *c = &an[i];
        sb_printf(&b, "%zu", i);
        for (a = 0; a < st->n_axes; a++)
            sb_num(&b, study_cell_value(st, i, a));
        sb_num(&b, c->roughness.theta);
        sb_num(&b, c->roughness.critical);
        sb_printf(&b, ",%s", c->roughness.convex ? "true" : "false");
        sb_num(&b, c->fit.value);
        sb_num(&b, c->fit.se);
        sb_num(&b, c->fit.r2);
        sb_printf(&b, ",%s,%d,%llu", codec_analysis_fractal(c) ? "true" : "false",
                  c->fit.levels_used, (unsigned long long)c->counts[c->levels]);
        sb_num(&b, c->points ? (double)c->divergent / (double)c->points : 0.0);
        sb_printf(&b, ",%s", reused && reused[i] ? "true" : "false");
        codec_spread_of(c->rep_fits ? c->rep_fits : &c->fit, c->rep_fits ? c->replicates : 1,
                        &spread);
        sb_printf(&b, ",%d", spread.n);
        sb_num(&b, spread.mean);
        sb_num(&b, spread.std);
        sb_num(&b, spread.min);
        sb_num(&b, spread.max);
        for (n = 0; n <= levels; n++)
            sb_printf(&b, ",%llu", n <= c->levels ? (unsigned long long)c->counts[n] : 0ull);
        sb_printf(&b, "\n");
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- the analysis of every cell (the CLI's and the server's) ------------ */

ptrdiff_t study_dup_of(const struct study *st, size_t cell)
{
    size_t j;

    for (j = 0; j < cell; j++)
        if (strcmp(st->cell_canonical[j], st->cell_canonical[cell]) == 0)
            return (ptrdiff_t)j;
    return -1;
}

int study_analyze(const struct study *st, const struct study_source *src, char **result, char **csv,
                  char *reason, size_t cap)
{
    struct codec_analysis *an = calloc(st->n_cells ? st->n_cells : 1, sizeof *an);
    int *reused = calloc(st->n_cells ? st->n_cells : 1, sizeof *reused);
    unsigned char *shared = calloc(st->n_cells ? st->n_cells : 1, 1); /* 1: an[i] is a copy */
    int64_t dup;
    size_t i;
    int ret = 0;

    *result = NULL;
    if (csv)
        *csv = NULL;
    if (!an || !reused || !shared) {
        snprintf(reason, cap, "out of memory");
        ret = 1;
        goto out;
    }
    for (i = 0; i < st->n_cells; i++) {
        ret = src->cell(src->user, i, &dup, &reused[i]);
        if (ret != 0)
            goto out;
        if (dup >= 0 && (size_t)dup < i) { /* the same spec: share its analysis (freed once) */
            an[i] = an[dup];
            shared[i] = 1;
            continue;
        }
        ret = src->analyze(src->user, i, &an[i], reason, cap);
        if (ret != 0)
            goto out;
    }
    *result = study_result_encode(st, an, reused, src->elapsed_s(src->user));
    if (!*result || (csv && !(*csv = study_csv(st, an, reused)))) {
        free(*result);
        *result = NULL;
        snprintf(reason, cap, "out of memory while encoding the study result");
        ret = 1;
    }
out:
    for (i = 0; an && shared && i < st->n_cells; i++)
        if (!shared[i])
            codec_analysis_free(&an[i]);
    free(an);
    free(reused);
    free(shared);
    return ret;
}
