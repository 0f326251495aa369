/*
 * codec.c - the job spec and the result document as JSON (jansson): the
 * spec parser with field-level messages, the canonical spec, the analysis
 * of finished labels and the result encoder.
 *
 * Owns: everything declared in codec.h.
 * Threads: no global state; every function is reentrant and runs on the
 * thread that calls it (the CLI's main thread, the server's loop thread or
 * its workers). Only this file sees json_error_t.
 *
 * SPEC RULES (the contract of `trainbound run|validate` and POST /v1/jobs).
 * Every object rejects unknown members ("model.foo: unknown field"); JSON
 * null is a wrong type, never "use the default"; integers must be JSON
 * integers (20.0 is rejected); reals accept any JSON number. Every problem
 * is reported, up to CODEC_MAX_ERRORS (then `truncated` is set).
 *
 *   (top level)          must be an object. Members: name, model, x0, steps,
 *                        divergence, lr, fit, precision, replicates,
 *                        optimizer, output.
 *   name                 optional UTF-8 string of 1..200 bytes.
 *   model                required object.
 *   model.family         required: "quadratic" | "additive" | "multiplicative".
 *   model.dim            integer 1..lim->max_dim, default 1.
 *   model.amplitude      finite >= 0 (eps); model.wavelength finite > 0 (lam):
 *                        one cos term. Required for multiplicative and
 *                        additive unless model.terms is given; rejected for
 *                        quadratic.
 *   model.terms          a list of 1..16 (TB_MAX_TERMS) term objects, exactly
 *                        1 for multiplicative; excludes model.amplitude and
 *                        model.wavelength. term.type "cos" (default) | "poly"
 *                        | "gauss"; a member another type uses is an error.
 *                        cos: amplitude finite >= 0, wavelength finite > 0,
 *                        both required. poly (additive only): coefficients,
 *                        required, 1..9 finite numbers c_0..c_n of
 *                        sum c_j (x/scale)^j (degree at most 8,
 *                        TB_MAX_POLY_DEGREE); scale finite > 0, default 1.
 *                        gauss: amplitude finite (any sign) and width finite
 *                        > 0, both required; centre finite, default 0; for
 *                        multiplicative only with model.dim 1 (the error is
 *                        at model.dim). The tb_model always holds the terms
 *                        in terms[] (n_terms = 1 for amplitude/wavelength).
 *   x0                   finite number (every coordinate) or an array of
 *                        exactly model.dim finite numbers; default 1.0. An
 *                        array whose elements are all equal is stored (and
 *                        printed) as the scalar: it means the same run.
 *   steps                integer 1..lim->max_steps, default 1000.
 *   divergence.criterion "max_loss" (default) | "loss_sum" | "final_loss".
 *   divergence.threshold finite > 0; default 1e8 * dim for max_loss and
 *                        final_loss, 1e16 for loss_sum.
 *   divergence.nan       "divergent" (default) | "bounded".
 *   lr.min, lr.max       finite, min < max, max - min finite; defaults 0, 1.5.
 *   lr.levels            integer 0..min(lim->max_levels, 32), default 20.
 *   fit.min_level        integer, default 0; fit.max_level integer, default
 *                        lr.levels; 0 <= min_level <= max_level <= lr.levels.
 *   fit.min_levels       integer 3..33, default 3.
 *   precision            "fast" (default: SIMD lanes with FMA and our own sin/cos;
 *                        may differ from reference on chaotic labels only) or
 *                        "reference" (docs/science.md's evaluation order with
 *                        libm, bit for bit).
 *   replicates           integer 1..TB_MAX_REPLICATES (32), default 1: the
 *                        sweep runs once per replicate, replicate r from x0
 *                        moved r ulps up (tb_replicate_x0).
 *   optimizer            object, default {"name": "gd"}. optimizer.name
 *                        "gd" | "momentum" | "nesterov" | "adam".
 *                        momentum, nesterov: optimizer.beta, 0 <= beta < 1,
 *                        required. adam: beta1 (default 0.9), beta2 (default
 *                        0.999), both 0 <= b < 1, and eps finite > 0
 *                        (default 1e-8). A member another rule does not use
 *                        is an error. Runs on the reference path where the
 *                        fast path has no kernel for it (tb_fast_covers).
 *   output.max_flips     integer 0..10000000, default 10000.
 *   cost                 (2^levels + 1) * steps * replicates <= lim->max_cost,
 *                        else an error at lr.levels giving the cost and the limit.
 *
 * JSON that does not parse (including duplicate keys, and numbers that
 * overflow a double or a 64-bit integer, like 1e400: jansson refuses them
 * while lexing) is CODEC_EJSON with one error, path "", whose message gives
 * jansson's line and column. Any other JSON value than an object at the top
 * is CODEC_EINVALID. Paths and messages are always valid UTF-8 without
 * control characters (anything else becomes '?'), so they can go straight
 * into a JSON problem body or a terminal.
 *
 * The canonical spec has every member with its resolved default, in the
 * order of the table above; model has family, dim, then amplitude and
 * wavelength (one cos term: the same text as before terms had types) or
 * terms (any other list), each term with "type" first and every member
 * of its type (cos: amplitude, wavelength; poly: coefficients, scale;
 * gauss: amplitude, width, centre); quadratic has neither. x0 is a number when
 * scalar, an array otherwise. Reals are printed by jansson with 17
 * significant digits, so parsing the canonical text gives the same text.
 *
 * The result's flips are spliced into the dumped text rather than built as
 * up to 10^7 json_t values; each is still formatted by jansson.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "jsonfmt.h"
#include "tb.h"

#define NAME_MAX_BYTES 200
#define MIN_LEVELS_CEILING 33
#define MAX_FLIPS_CEILING 10000000
#define DEFAULT_STEPS 1000
#define DEFAULT_LEVELS 20
#define DEFAULT_MIN_LEVELS 3
#define DEFAULT_MAX_FLIPS 10000
#define DEFAULT_LR_MIN 0.0
#define DEFAULT_LR_MAX 1.5
#define DEFAULT_X0 1.0

static const char *const family_names[] = {"quadratic", "additive", "multiplicative", NULL};
static const char *const criterion_names[] = {"max_loss", "loss_sum", "final_loss", NULL};
static const char *const nan_names[] = {"divergent", "bounded", NULL};

static const char *const top_keys[] = {"name",       "model",     "x0",     "steps",
                                       "divergence", "lr",        "fit",    "precision",
                                       "replicates", "optimizer", "output", NULL};
static const char *const optimizer_names[] = {"gd", "momentum", "nesterov", "adam", NULL};
static const char *const optimizer_keys[] = {"name", "beta", "beta1", "beta2", "eps", NULL};
static const char *const model_keys[] = {"family", "dim", "amplitude", "wavelength", "terms", NULL};
static const char *const term_keys[] = {"type",  "amplitude",    "wavelength", "width",
                                        "centre", "coefficients", "scale",      NULL};
static const char *const term_type_names[] = {"cos", "poly", "gauss", NULL};
static const char *const divergence_keys[] = {"criterion", "threshold", "nan", NULL};
static const char *const lr_keys[] = {"min", "max", "levels", NULL};
static const char *const fit_keys[] = {"min_level", "max_level", "min_levels", NULL};
static const char *const output_keys[] = {"max_flips", NULL};

void codec_limits_default(struct codec_limits *lim)
{
    lim->max_levels = TB_MAX_LEVELS;
    lim->max_steps = 1000000;
    lim->max_dim = 4096;
    lim->max_cost = 1125899906842624.0; /* 2^50 */
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len, i;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

static int utf8_valid(const char *s, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        if (s[i] == '\0')
            return 0;
        k = utf8_seq((const unsigned char *)s + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* Replaces invalid UTF-8 and control characters of the C string s by '?'. */
static void sanitize(char *s)
{
    size_t n = strlen(s), i = 0, k;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        k = utf8_seq((const unsigned char *)s + i, n - i);
        if (!k || c < 0x20 || c == 0x7F) {
            s[i++] = '?';
            continue;
        }
        i += k;
    }
}

/* ---- error locations ---------------------------------------------------- */

/* Where a member is: the dotted path and the JSON pointer. */
struct loc {
    char path[96];
    char ptr[96];
};

/* Appends n bytes of src to the C string dst (capacity cap), cutting at a
 * UTF-8 character boundary when it does not fit. */
static void append(char *dst, size_t cap, const char *src, size_t n)
{
    size_t used = strlen(dst);

    if (used + 1 >= cap)
        return;
    if (n > cap - 1 - used) {
        n = cap - 1 - used;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst + used, src, n);
    dst[used + n] = '\0';
}

static void loc_root(struct loc *l)
{
    l->path[0] = '\0';
    l->ptr[0] = '\0';
}

/* out = parent's member key (out may not be parent). */
static void loc_key(struct loc *out, const struct loc *parent, const char *key)
{
    char esc[2 * sizeof out->ptr];
    size_t i, n = 0;

    memcpy(out, parent, sizeof *out);
    if (out->path[0])
        append(out->path, sizeof out->path, ".", 1);
    append(out->path, sizeof out->path, key, strlen(key));
    /* JSON pointer (RFC 6901): '~' is "~0", '/' is "~1". */
    for (i = 0; key[i] && n + 3 < sizeof esc; i++) {
        if (key[i] == '~' || key[i] == '/') {
            esc[n++] = '~';
            esc[n++] = key[i] == '~' ? '0' : '1';
        } else {
            esc[n++] = key[i];
        }
    }
    esc[n] = '\0';
    append(out->ptr, sizeof out->ptr, "/", 1);
    append(out->ptr, sizeof out->ptr, esc, n);
}

static void loc_index(struct loc *out, const struct loc *parent, size_t i)
{
    char num[32];
    int n;

    memcpy(out, parent, sizeof *out);
    n = snprintf(num, sizeof num, "[%zu]", i);
    append(out->path, sizeof out->path, num, (size_t)n);
    n = snprintf(num, sizeof num, "/%zu", i);
    append(out->ptr, sizeof out->ptr, num, (size_t)n);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
err_add(struct codec_errors *errs, const struct loc *l, const char *fmt, ...)
{
    struct codec_error *e;
    va_list ap;

    if (errs->n >= CODEC_MAX_ERRORS) {
        errs->truncated = 1;
        return;
    }
    e = &errs->e[errs->n++];
    memcpy(e->path, l->path, sizeof e->path);
    memcpy(e->pointer, l->ptr, sizeof e->pointer);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    sanitize(e->path);
    sanitize(e->pointer);
    sanitize(e->message);
}

/* ---- member readers ----------------------------------------------------- */

/* The readers return 1 when the member is present and valid, 0 when it is
 * present and wrong (an error was recorded), -1 when it is absent. */

static int in_list(const char *s, const char *const *list)
{
    int i;

    for (i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return i;
    return -1;
}

static void check_unknown(struct codec_errors *errs, const json_t *obj, const struct loc *at,
                          const char *const *allowed)
{
    const char *key;
    json_t *val;
    struct loc l;

    json_object_foreach((json_t *)obj, key, val)
    {
        (void)val;
        if (in_list(key, allowed) < 0) {
            loc_key(&l, at, key);
            err_add(errs, &l, "unknown field");
        }
    }
}

/* An object member; *l is set to its location in every case. */
static int get_object(struct codec_errors *errs, const json_t *parent, const char *key,
                      const struct loc *at, struct loc *l, const json_t **out)
{
    const json_t *v = json_object_get(parent, key);

    loc_key(l, at, key);
    *out = NULL;
    if (!v)
        return -1;
    if (!json_is_object(v)) {
        err_add(errs, l, "must be an object");
        return 0;
    }
    *out = v;
    return 1;
}

/* An integer member in lo..hi; note, when set, ends the message. */
static int get_int(struct codec_errors *errs, const json_t *obj, const char *key,
                   const struct loc *at, long long lo, long long hi, const char *note,
                   long long *out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    struct loc l;

    if (!v)
        return -1;
    if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi) {
        *out = json_integer_value(v);
        return 1;
    }
    loc_key(&l, at, key);
    err_add(errs, &l, "must be an integer in %lld..%lld%s%s", lo, hi, note ? " " : "",
            note ? note : "");
    return 0;
}

enum real_range { REAL_ANY, REAL_NONNEG, REAL_POS };

static int real_ok(const json_t *v, enum real_range r, double *out)
{
    double d;

    if (!json_is_number(v))
        return 0;
    d = json_number_value(v);
    if (!isfinite(d) || (r == REAL_NONNEG && !(d >= 0)) || (r == REAL_POS && !(d > 0)))
        return 0;
    *out = d;
    return 1;
}

static const char *real_msg(enum real_range r)
{
    switch (r) {
    case REAL_NONNEG:
        return "must be a finite number >= 0";
    case REAL_POS:
        return "must be a finite number > 0";
    default:
        return "must be a finite number";
    }
}

static int get_real(struct codec_errors *errs, const json_t *obj, const char *key,
                    const struct loc *at, enum real_range r, double *out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    struct loc l;

    if (!v)
        return -1;
    if (real_ok(v, r, out))
        return 1;
    loc_key(&l, at, key);
    err_add(errs, &l, "%s", real_msg(r));
    return 0;
}

/* A string member naming one of names; *out is its index. */
static int get_enum(struct codec_errors *errs, const json_t *obj, const char *key,
                    const struct loc *at, const char *const *names, int *out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    char list[160] = "";
    struct loc l;
    int i;

    if (!v)
        return -1;
    if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)) {
        i = in_list(json_string_value(v), names);
        if (i >= 0) {
            *out = i;
            return 1;
        }
    }
    for (i = 0; names[i]; i++) {
        if (i > 0)
            append(list, sizeof list, names[i + 1] ? ", " : " or ", names[i + 1] ? 2 : 4);
        append(list, sizeof list, "\"", 1);
        append(list, sizeof list, names[i], strlen(names[i]));
        append(list, sizeof list, "\"", 1);
    }
    loc_key(&l, at, key);
    err_add(errs, &l, "must be %s%s", i > 2 ? "one of " : "", list);
    return 0;
}

/* ---- the spec ------------------------------------------------------------ */

struct parse {
    struct codec_errors *errs;
    struct codec_limits lim;
    struct codec_spec *out;
    struct loc top;
    int nomem;
    /* what later members depend on: value and whether it is valid */
    int family; /* -1 when unknown */
    long long dim, steps, levels;
    int dim_ok, steps_ok, levels_ok;
};

/* One cos term's members (legacy spelling: model.amplitude/wavelength or a
 * term without "type"). */
static void parse_cos_term(struct parse *p, const json_t *t, const struct loc *el,
                           struct tb_term *out)
{
    struct loc al;

    if (get_real(p->errs, t, "amplitude", el, REAL_NONNEG, &out->amplitude) < 0) {
        loc_key(&al, el, "amplitude");
        err_add(p->errs, &al, "is required");
    }
    if (get_real(p->errs, t, "wavelength", el, REAL_POS, &out->wavelength) < 0) {
        loc_key(&al, el, "wavelength");
        err_add(p->errs, &al, "is required");
    }
}

static void parse_poly_term(struct parse *p, const json_t *t, const struct loc *el,
                            struct tb_term *out)
{
    const json_t *cf = json_object_get(t, "coefficients");
    struct loc cl, il;
    size_t i, n = json_is_array(cf) ? json_array_size(cf) : 0;

    out->scale = 1.0;
    get_real(p->errs, t, "scale", el, REAL_POS, &out->scale);
    loc_key(&cl, el, "coefficients");
    if (!cf) {
        err_add(p->errs, &cl, "is required: a list of 1..%d numbers c_j of sum c_j (x/scale)^j",
                TB_MAX_POLY_DEGREE + 1);
        return;
    }
    if (!json_is_array(cf) || n < 1 || n > TB_MAX_POLY_DEGREE + 1) {
        err_add(p->errs, &cl, "must be a list of 1..%d finite numbers (degree at most %d)",
                TB_MAX_POLY_DEGREE + 1, TB_MAX_POLY_DEGREE);
        return;
    }
    for (i = 0; i < n; i++) {
        if (!real_ok(json_array_get(cf, i), REAL_ANY, &out->coef[i])) {
            loc_index(&il, &cl, i);
            err_add(p->errs, &il, "must be a finite number");
        }
    }
    out->degree = (int)n - 1;
}

static void parse_gauss_term(struct parse *p, const json_t *t, const struct loc *el,
                             struct tb_term *out)
{
    struct loc al;

    if (get_real(p->errs, t, "amplitude", el, REAL_ANY, &out->amplitude) < 0) {
        loc_key(&al, el, "amplitude");
        err_add(p->errs, &al, "is required");
    }
    if (get_real(p->errs, t, "width", el, REAL_POS, &out->width) < 0) {
        loc_key(&al, el, "width");
        err_add(p->errs, &al, "is required");
    }
    out->centre = 0.0;
    get_real(p->errs, t, "centre", el, REAL_ANY, &out->centre);
}

static void parse_terms(struct parse *p, const json_t *terms, const struct loc *tl)
{
    /* the members each type takes (besides "type") */
    static const char *const used[][4] = {{"amplitude", "wavelength", NULL},
                                          {"coefficients", "scale", NULL},
                                          {"amplitude", "width", "centre", NULL}};
    struct tb_model *m = &p->out->core.model;
    size_t i, n = json_is_array(terms) ? json_array_size(terms) : 0;
    struct loc el, kl;
    int k, kind;

    if (!json_is_array(terms) || n < 1 || n > TB_MAX_TERMS) {
        err_add(p->errs, tl, "must be a list of 1..%d term objects (type cos, poly or gauss)",
                TB_MAX_TERMS);
        return;
    }
    if (p->family == TB_MULTIPLICATIVE && n != 1)
        err_add(p->errs, tl, "must hold exactly one term for the multiplicative family");
    for (i = 0; i < n; i++) {
        const json_t *t = json_array_get(terms, i);
        struct tb_term *out = &m->terms[i < TB_MAX_TERMS ? i : 0];

        loc_index(&el, tl, i);
        memset(out, 0, sizeof *out);
        if (!json_is_object(t)) {
            err_add(p->errs, &el, "must be an object: a cos, poly or gauss term");
            continue;
        }
        check_unknown(p->errs, t, &el, term_keys);
        kind = TB_TERM_COS;
        if (get_enum(p->errs, t, "type", &el, term_type_names, &kind) == 0)
            continue; /* without a type, its members cannot be judged */
        out->kind = (enum tb_term_kind)kind;
        loc_key(&kl, &el, "type");
        if (p->family == TB_MULTIPLICATIVE && kind == TB_TERM_POLY)
            err_add(p->errs, &kl,
                    "must be \"cos\" or \"gauss\" for the multiplicative family (x^2 times a "
                    "polynomial is a polynomial: use the additive family)");
        for (k = 0; term_keys[k]; k++) {
            const char *key = term_keys[k];
            struct loc ul;
            if (strcmp(key, "type") == 0 || !json_object_get(t, key) || in_list(key, used[kind]) >= 0)
                continue;
            loc_key(&ul, &el, key);
            err_add(p->errs, &ul, "not used by a %s term", term_type_names[kind]);
        }
        if (kind == TB_TERM_COS)
            parse_cos_term(p, t, &el, out);
        else if (kind == TB_TERM_POLY)
            parse_poly_term(p, t, &el, out);
        else
            parse_gauss_term(p, t, &el, out);
    }
    m->n_terms = (int)(n < TB_MAX_TERMS ? n : TB_MAX_TERMS);
}

/* A multiplicative gauss term is 1-D only (tb_spec_check): the error is at
 * model.dim. */
static void check_terms_dim(struct parse *p, const struct loc *ml)
{
    const struct tb_model *m = &p->out->core.model;
    struct loc l;

    if (p->family == TB_MULTIPLICATIVE && p->dim_ok && p->dim != 1 && m->n_terms >= 1 &&
        m->terms[0].kind == TB_TERM_GAUSS) {
        loc_key(&l, ml, "dim");
        err_add(p->errs, &l,
                "must be 1 with a multiplicative gauss term (its convexity check is 1-D)");
    }
}

static void parse_model(struct parse *p, const json_t *root)
{
    struct tb_model *m = &p->out->core.model;
    const json_t *model, *terms;
    struct loc ml, l, al, wl, tl;
    int r, has_amp, has_wl;
    double amp = 0, lam = 0;

    r = get_object(p->errs, root, "model", &p->top, &ml, &model);
    if (r < 0)
        err_add(p->errs, &ml, "is required");
    if (r <= 0)
        return;
    check_unknown(p->errs, model, &ml, model_keys);

    r = get_enum(p->errs, model, "family", &ml, family_names, &p->family);
    if (r < 0) {
        loc_key(&l, &ml, "family");
        err_add(p->errs, &l, "is required: \"quadratic\", \"additive\" or \"multiplicative\"");
    }
    if (r <= 0)
        p->family = -1;

    p->dim = 1;
    r = get_int(p->errs, model, "dim", &ml, 1, p->lim.max_dim, NULL, &p->dim);
    p->dim_ok = r != 0;

    loc_key(&al, &ml, "amplitude");
    loc_key(&wl, &ml, "wavelength");
    loc_key(&tl, &ml, "terms");
    has_amp = json_object_get(model, "amplitude") != NULL;
    has_wl = json_object_get(model, "wavelength") != NULL;
    terms = json_object_get(model, "terms");

    if (p->family == TB_QUADRATIC) {
        if (has_amp)
            err_add(p->errs, &al, "not used by the quadratic family");
        if (has_wl)
            err_add(p->errs, &wl, "not used by the quadratic family");
        if (terms)
            err_add(p->errs, &tl, "not used by the quadratic family");
        m->n_terms = 0;
        return;
    }
    if (terms) {
        if (has_amp)
            err_add(p->errs, &al,
                    "cannot be combined with model.terms: give amplitude and wavelength, "
                    "or terms");
        if (has_wl)
            err_add(p->errs, &wl,
                    "cannot be combined with model.terms: give amplitude and wavelength, "
                    "or terms");
        parse_terms(p, terms, &tl); /* family unknown: still checks their shape */
        check_terms_dim(p, &ml);
        return;
    }

    r = get_real(p->errs, model, "amplitude", &ml, REAL_NONNEG, &amp);
    if (r < 0 && p->family == TB_MULTIPLICATIVE)
        err_add(p->errs, &al, "is required for the multiplicative family (or give model.terms)");
    else if (r < 0 && p->family == TB_ADDITIVE)
        err_add(p->errs, &al, "is required for the additive family (or give model.terms)");
    r = get_real(p->errs, model, "wavelength", &ml, REAL_POS, &lam);
    if (r < 0 && p->family == TB_MULTIPLICATIVE)
        err_add(p->errs, &wl, "is required for the multiplicative family (or give model.terms)");
    else if (r < 0 && p->family == TB_ADDITIVE)
        err_add(p->errs, &wl, "is required for the additive family (or give model.terms)");
    if (p->family == TB_ADDITIVE || p->family == TB_MULTIPLICATIVE) {
        m->n_terms = 1;
        memset(&m->terms[0], 0, sizeof m->terms[0]);
        m->terms[0].amplitude = amp;
        m->terms[0].wavelength = lam;
    }
}

static void parse_x0(struct parse *p, const json_t *root)
{
    struct codec_spec *out = p->out;
    const json_t *v = json_object_get(root, "x0");
    struct loc l, el;
    size_t i, n;
    int ok = 1, same = 1;
    double d;

    out->core.x0_scalar = DEFAULT_X0;
    loc_key(&l, &p->top, "x0");
    if (!v)
        return;
    if (json_is_number(v)) {
        if (real_ok(v, REAL_ANY, &out->core.x0_scalar))
            return;
        err_add(p->errs, &l, "must be a finite number");
        return;
    }
    if (!json_is_array(v)) {
        err_add(p->errs, &l, "must be a finite number or an array of model.dim finite numbers");
        return;
    }
    n = json_array_size(v);
    if (p->dim_ok && n != (size_t)p->dim) {
        err_add(p->errs, &l, "must have exactly %lld element%s (model.dim), not %zu", p->dim,
                p->dim == 1 ? "" : "s", n);
        ok = 0;
    }
    for (i = 0; i < n; i++) {
        if (!real_ok(json_array_get(v, i), REAL_ANY, &d)) {
            loc_index(&el, &l, i);
            err_add(p->errs, &el, "must be a finite number");
            ok = 0;
        }
    }
    if (!ok || !p->dim_ok || n == 0)
        return;
    /* All coordinates equal: the scalar form means the same run. */
    real_ok(json_array_get(v, 0), REAL_ANY, &out->core.x0_scalar);
    for (i = 1; i < n && same; i++) {
        real_ok(json_array_get(v, i), REAL_ANY, &d);
        same = d == out->core.x0_scalar && !signbit(d) == !signbit(out->core.x0_scalar);
    }
    if (same)
        return;
    out->x0 = malloc(n * sizeof *out->x0);
    if (!out->x0) {
        p->nomem = 1;
        return;
    }
    for (i = 0; i < n; i++)
        real_ok(json_array_get(v, i), REAL_ANY, &out->x0[i]);
}

static void parse_divergence(struct parse *p, const json_t *root)
{
    struct tb_spec *c = &p->out->core;
    const json_t *div;
    struct loc dl;
    int crit = TB_MAX_LOSS, nan = TB_NAN_DIVERGENT;
    double th;

    if (get_object(p->errs, root, "divergence", &p->top, &dl, &div) == 0)
        return;
    if (div)
        check_unknown(p->errs, div, &dl, divergence_keys);
    get_enum(p->errs, div, "criterion", &dl, criterion_names, &crit);
    if (get_real(p->errs, div, "threshold", &dl, REAL_POS, &th) < 0)
        th = crit == TB_LOSS_SUM ? 1e16 : 1e8 * (double)(p->dim_ok ? p->dim : 1);
    get_enum(p->errs, div, "nan", &dl, nan_names, &nan);
    c->criterion = (enum tb_criterion)crit;
    c->threshold = th;
    c->nan_policy = (enum tb_nan_policy)nan;
}

/* A coefficient in [0, 1) at opt.key; 1 when set. */
static int get_unit(struct codec_errors *errs, const json_t *opt, const char *key,
                    const struct loc *at, double *out)
{
    double b;
    struct loc l;
    int r = get_real(errs, opt, key, at, REAL_NONNEG, &b);

    if (r == 0)
        return 0;
    if (r < 0)
        return -1;
    if (!(b < 1.0)) {
        loc_key(&l, at, key);
        err_add(errs, &l, "must be a number in [0, 1)");
        return 0;
    }
    *out = b;
    return 1;
}

static void parse_optimizer(struct parse *p, const json_t *root)
{
    struct tb_optimizer *o = &p->out->core.opt;
    static const char *const used[][5] = {{"name", NULL},
                                          {"name", "beta", NULL},
                                          {"name", "beta", NULL},
                                          {"name", "beta1", "beta2", "eps", NULL}};
    const json_t *opt;
    struct loc ol, l;
    int kind = TB_OPT_GD, k;

    memset(o, 0, sizeof *o);
    if (get_object(p->errs, root, "optimizer", &p->top, &ol, &opt) == 0 || !opt)
        return;
    check_unknown(p->errs, opt, &ol, optimizer_keys);
    k = get_enum(p->errs, opt, "name", &ol, optimizer_names, &kind);
    if (k < 0) {
        loc_key(&l, &ol, "name");
        err_add(p->errs, &l, "is required: \"gd\", \"momentum\", \"nesterov\" or \"adam\"");
    }
    if (k <= 0)
        return; /* without a rule, its members cannot be judged */
    o->kind = (enum tb_opt_kind)kind;
    for (k = 0; optimizer_keys[k]; k++) {
        if (json_object_get(opt, optimizer_keys[k]) && in_list(optimizer_keys[k], used[kind]) < 0) {
            loc_key(&l, &ol, optimizer_keys[k]);
            err_add(p->errs, &l, "not used by the %s optimizer", optimizer_names[kind]);
        }
    }
    if (kind == TB_OPT_MOMENTUM || kind == TB_OPT_NESTEROV) {
        if (get_unit(p->errs, opt, "beta", &ol, &o->beta) < 0) {
            loc_key(&l, &ol, "beta");
            err_add(p->errs, &l, "is required for the %s optimizer", optimizer_names[kind]);
        }
    } else if (kind == TB_OPT_ADAM) {
        o->beta1 = 0.9;
        o->beta2 = 0.999;
        o->eps = 1e-8;
        get_unit(p->errs, opt, "beta1", &ol, &o->beta1);
        get_unit(p->errs, opt, "beta2", &ol, &o->beta2);
        get_real(p->errs, opt, "eps", &ol, REAL_POS, &o->eps);
    }
}

static void parse_lr(struct parse *p, const json_t *root)
{
    struct tb_axis *a = &p->out->core.axes[0];
    const json_t *lr;
    struct loc ll, l;
    double mn = DEFAULT_LR_MIN, mx = DEFAULT_LR_MAX;
    int rmin, rmax, r;

    p->levels = DEFAULT_LEVELS;
    p->levels_ok = 1;
    if (get_object(p->errs, root, "lr", &p->top, &ll, &lr) == 0) {
        p->levels_ok = 0;
        return;
    }
    if (lr)
        check_unknown(p->errs, lr, &ll, lr_keys);
    rmin = get_real(p->errs, lr, "min", &ll, REAL_ANY, &mn);
    rmax = get_real(p->errs, lr, "max", &ll, REAL_ANY, &mx);
    if (rmin != 0 && rmax != 0) {
        loc_key(&l, &ll, "max");
        if (!(mn < mx))
            err_add(p->errs, &l, "must be greater than lr.min (min %.17g, max %.17g)", mn, mx);
        else if (!isfinite(mx - mn))
            err_add(p->errs, &l, "lr.max - lr.min must be a finite number");
    }
    r = get_int(p->errs, lr, "levels", &ll, 0, p->lim.max_levels, NULL, &p->levels);
    p->levels_ok = r != 0;
    a->kind = TB_AXIS_LR;
    a->min = mn;
    a->max = mx;
    a->levels = (int)p->levels;
}

static void parse_fit(struct parse *p, const json_t *root)
{
    struct tb_fit_opts *f = &p->out->fit;
    const json_t *fit;
    struct loc fl, l;
    long long hi = p->levels_ok ? p->levels : p->lim.max_levels;
    long long lo_v = 0, hi_v = hi, ml = DEFAULT_MIN_LEVELS;
    const char *note = p->levels_ok ? "(at most lr.levels)" : NULL;
    int r1, r2;

    if (get_object(p->errs, root, "fit", &p->top, &fl, &fit) == 0)
        return;
    if (fit)
        check_unknown(p->errs, fit, &fl, fit_keys);
    r1 = get_int(p->errs, fit, "min_level", &fl, 0, hi, note, &lo_v);
    r2 = get_int(p->errs, fit, "max_level", &fl, 0, hi, note, &hi_v);
    if (r1 != 0 && r2 != 0 && lo_v > hi_v) {
        loc_key(&l, &fl, "max_level");
        err_add(p->errs, &l, "must be >= fit.min_level (%lld)", lo_v);
    }
    get_int(p->errs, fit, "min_levels", &fl, 3, MIN_LEVELS_CEILING, NULL, &ml);
    f->min_level = (int)lo_v;
    f->max_level = (int)hi_v;
    f->min_levels = (int)ml;
}

static void parse_name(struct parse *p, const json_t *root)
{
    const json_t *v = json_object_get(root, "name");
    struct loc l;
    size_t n;

    if (!v)
        return;
    n = json_is_string(v) ? json_string_length(v) : 0;
    if (!json_is_string(v) || n < 1 || n > NAME_MAX_BYTES || !utf8_valid(json_string_value(v), n)) {
        loc_key(&l, &p->top, "name");
        err_add(p->errs, &l, "must be a UTF-8 string of 1..%d bytes", NAME_MAX_BYTES);
        return;
    }
    p->out->name = malloc(n + 1);
    if (!p->out->name) {
        p->nomem = 1;
        return;
    }
    memcpy(p->out->name, json_string_value(v), n + 1);
}

static void parse_tail(struct parse *p, const json_t *root)
{
    static const char *const precision_names[] = {"reference", "fast", NULL};
    const json_t *outp;
    struct loc ol, l;
    long long mf = DEFAULT_MAX_FLIPS, reps = 1;
    int prec = TB_PRECISION_FAST;

    get_enum(p->errs, root, "precision", &p->top, precision_names, &prec);
    p->out->core.precision = (enum tb_precision)prec;
    get_int(p->errs, root, "replicates", &p->top, 1, TB_MAX_REPLICATES, NULL, &reps);
    p->out->core.replicates = (int)reps;
    if (get_object(p->errs, root, "output", &p->top, &ol, &outp) > 0)
        check_unknown(p->errs, outp, &ol, output_keys);
    get_int(p->errs, outp, "max_flips", &ol, 0, MAX_FLIPS_CEILING, NULL, &mf);
    p->out->max_flips = (uint64_t)mf;

    if (p->levels_ok && p->steps_ok) {
        double cost = (ldexp(1.0, (int)p->levels) + 1.0) * (double)p->steps * (double)reps;
        if (cost > p->lim.max_cost) {
            struct loc ll;
            loc_key(&ll, &p->top, "lr");
            loc_key(&l, &ll, "levels");
            if (reps > 1)
                err_add(p->errs, &l,
                        "the sweep would cost (2^%lld + 1) * %lld steps * %lld replicates = "
                        "%.0f steps, over the limit of %.0f: lower lr.levels, steps or replicates",
                        p->levels, p->steps, reps, cost, p->lim.max_cost);
            else
                err_add(p->errs, &l,
                        "the sweep would cost (2^%lld + 1) * %lld steps = %.0f steps, over the "
                        "limit of %.0f: lower lr.levels or steps",
                        p->levels, p->steps, cost, p->lim.max_cost);
        }
    }
}

int codec_spec_from_json(const json_t *root, const struct codec_limits *lim, struct codec_spec *out,
                         struct codec_errors *errs)
{
    struct parse p;
    struct loc l;
    int r;

    memset(out, 0, sizeof *out);
    memset(errs, 0, sizeof *errs);
    memset(&p, 0, sizeof p);
    p.errs = errs;
    p.out = out;
    if (lim)
        p.lim = *lim;
    else
        codec_limits_default(&p.lim);
    if (p.lim.max_levels > TB_MAX_LEVELS)
        p.lim.max_levels = TB_MAX_LEVELS;
    if (p.lim.max_dim > TB_MAX_DIM)
        p.lim.max_dim = TB_MAX_DIM;
    loc_root(&p.top);
    p.family = -1;

    if (!root || !json_is_object(root)) {
        err_add(errs, &p.top, "the spec must be a JSON object");
        return CODEC_EINVALID;
    }
    check_unknown(errs, root, &p.top, top_keys);
    parse_name(&p, root);
    parse_model(&p, root);
    parse_x0(&p, root);
    p.steps = DEFAULT_STEPS;
    r = get_int(errs, root, "steps", &p.top, 1, p.lim.max_steps, NULL, &p.steps);
    p.steps_ok = r != 0;
    parse_divergence(&p, root);
    parse_lr(&p, root);
    parse_fit(&p, root);
    parse_optimizer(&p, root);
    parse_tail(&p, root);

    if (p.nomem) {
        codec_spec_free(out);
        memset(errs, 0, sizeof *errs);
        err_add(errs, &p.top, "out of memory");
        return CODEC_ENOMEM;
    }
    if (errs->n > 0) {
        codec_spec_free(out);
        return CODEC_EINVALID;
    }
    out->core.model.family = (enum tb_family)p.family;
    out->core.model.dim = (int)p.dim;
    out->core.x0 = out->x0;
    out->core.steps = (int)p.steps;
    out->core.n_axes = 1;
    if (tb_spec_check(&out->core) != TB_OK) {
        /* The rules above imply every check of the core: never reached. */
        codec_spec_free(out);
        loc_root(&l);
        err_add(errs, &l, "the spec is out of the numeric core's range");
        return CODEC_EINVALID;
    }
    return CODEC_OK;
}

int codec_load_json(const char *buf, size_t len, json_t **root, struct codec_errors *errs)
{
    json_error_t jerr;
    struct loc l;

    memset(errs, 0, sizeof *errs);
    loc_root(&l);
    *root = NULL;
    if (!buf && len > 0) {
        err_add(errs, &l, "no spec text");
        return CODEC_EINVALID;
    }
    *root = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!*root) {
        err_add(errs, &l, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                jerr.text);
        return CODEC_EJSON;
    }
    return CODEC_OK;
}

int codec_parse_spec(const char *buf, size_t len, const struct codec_limits *lim,
                     struct codec_spec *out, struct codec_errors *errs)
{
    json_t *root;
    int rc;

    memset(out, 0, sizeof *out);
    rc = codec_load_json(buf, len, &root, errs);
    if (rc != CODEC_OK)
        return rc;
    rc = codec_spec_from_json(root, lim, out, errs);
    json_decref(root);
    return rc;
}

void codec_spec_free(struct codec_spec *s)
{
    if (!s)
        return;
    free(s->x0);
    free(s->name);
    s->x0 = NULL;
    s->name = NULL;
    s->core.x0 = NULL;
}

/* ---- encoding helpers ---------------------------------------------------- */

/* A real, or null when it is not finite (JSON has no NaN or inf). */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* Adds val (stolen, even on failure) as obj's member key; non-zero on failure
 * (obj or val NULL, or no memory). */
static int put(json_t *obj, const char *key, json_t *val)
{
    return json_object_set_new(obj, key, val) != 0;
}

static int push(json_t *arr, json_t *val)
{
    return json_array_append_new(arr, val) != 0;
}

/* One term of the canonical spec: "type" first, then its members in the
 * order of the spec rules. */
static json_t *term_json(const struct tb_term *t)
{
    json_t *o = json_object(), *cf;
    int bad = 0, j;

    bad |= put(o, "type", json_string(term_type_names[t->kind]));
    switch (t->kind) {
    case TB_TERM_COS:
        bad |= put(o, "amplitude", jnum(t->amplitude));
        bad |= put(o, "wavelength", jnum(t->wavelength));
        break;
    case TB_TERM_POLY:
        cf = json_array();
        for (j = 0; j <= t->degree; j++)
            bad |= push(cf, jnum(t->coef[j]));
        bad |= put(o, "coefficients", cf);
        bad |= put(o, "scale", jnum(t->scale));
        break;
    case TB_TERM_GAUSS:
        bad |= put(o, "amplitude", jnum(t->amplitude));
        bad |= put(o, "width", jnum(t->width));
        bad |= put(o, "centre", jnum(t->centre));
        break;
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *codec_spec_to_json(const struct codec_spec *s)
{
    const struct tb_spec *c = &s->core;
    const struct tb_model *m = &c->model;
    json_t *o = json_object(), *model = json_object(), *x0, *div, *lr, *fit, *outp;
    int bad = 0, i;

    if (s->name)
        bad |= put(o, "name", json_string(s->name));
    bad |= put(model, "family", json_string(family_names[m->family]));
    bad |= put(model, "dim", json_integer(m->dim));
    if (m->family != TB_QUADRATIC && m->n_terms == 1 && m->terms[0].kind == TB_TERM_COS) {
        bad |= put(model, "amplitude", jnum(m->terms[0].amplitude));
        bad |= put(model, "wavelength", jnum(m->terms[0].wavelength));
    } else if (m->family != TB_QUADRATIC) {
        json_t *terms = json_array();
        for (i = 0; i < m->n_terms; i++)
            bad |= push(terms, term_json(&m->terms[i]));
        bad |= put(model, "terms", terms);
    }
    bad |= put(o, "model", model);

    if (c->x0) {
        x0 = json_array();
        for (i = 0; i < m->dim; i++)
            bad |= push(x0, jnum(c->x0[i]));
    } else {
        x0 = jnum(c->x0_scalar);
    }
    bad |= put(o, "x0", x0);
    bad |= put(o, "steps", json_integer(c->steps));

    div = json_object();
    bad |= put(div, "criterion", json_string(criterion_names[c->criterion]));
    bad |= put(div, "threshold", jnum(c->threshold));
    bad |= put(div, "nan", json_string(nan_names[c->nan_policy]));
    bad |= put(o, "divergence", div);

    lr = json_object();
    bad |= put(lr, "min", jnum(c->axes[0].min));
    bad |= put(lr, "max", jnum(c->axes[0].max));
    bad |= put(lr, "levels", json_integer(c->axes[0].levels));
    bad |= put(o, "lr", lr);

    fit = json_object();
    bad |= put(fit, "min_level", json_integer(s->fit.min_level));
    bad |= put(fit, "max_level", json_integer(s->fit.max_level));
    bad |= put(fit, "min_levels", json_integer(s->fit.min_levels));
    bad |= put(o, "fit", fit);

    bad |= put(o, "precision", json_string(c->precision == TB_PRECISION_FAST ? "fast" : "reference"));
    bad |= put(o, "replicates", json_integer(tb_replicates(c)));
    bad |= put(o, "optimizer", codec_optimizer_json(&c->opt));
    outp = json_object();
    bad |= put(outp, "max_flips", jint(s->max_flips));
    bad |= put(o, "output", outp);

    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *codec_spec_canonical(const struct codec_spec *s)
{
    json_t *o = codec_spec_to_json(s);
    char *text;

    if (!o)
        return NULL;
    text = jsonfmt_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* ---- analysis and the result --------------------------------------------- */

int codec_analyze(const struct codec_spec *s, const uint64_t *labels, struct codec_analysis *a)
{
    const struct tb_spec *c;
    uint64_t want, pos = 0;
    size_t got;
    int rc;

    memset(a, 0, sizeof *a);
    if (!s || !labels)
        return CODEC_EINVALID;
    c = &s->core;
    a->levels = c->axes[0].levels;
    a->points = tb_grid_points(c);
    a->divergent = tb_labels_popcount(labels, a->points);
    a->first_divergent = tb_first_set(labels, a->points);
    rc = tb_box_counts(labels, a->levels, a->counts);
    if (rc != TB_OK)
        return rc == TB_ENOMEM ? CODEC_ENOMEM : CODEC_EINVALID;
    a->fit_opts = s->fit;
    if (tb_fit_dimension(a->counts, a->levels, &a->fit_opts, &a->fit) != TB_OK)
        return CODEC_EINVALID;
    tb_roughness(&c->model, &a->roughness);
    a->replicates = tb_replicates(c);
    a->rep_counts = calloc((size_t)a->replicates, sizeof *a->rep_counts);
    a->rep_fits = calloc((size_t)a->replicates, sizeof *a->rep_fits);
    if (!a->rep_counts || !a->rep_fits)
        return CODEC_ENOMEM;
    memcpy(a->rep_counts[0], a->counts, sizeof a->counts);
    a->rep_fits[0] = a->fit;

    want = a->counts[a->levels] < s->max_flips ? a->counts[a->levels] : s->max_flips;
    if (want == 0)
        return CODEC_OK;
    a->flips = malloc((size_t)want * sizeof *a->flips);
    if (!a->flips)
        return CODEC_ENOMEM;
    while (a->n_flips < want) {
        got = tb_flips_next(labels, a->points, &pos, a->flips + a->n_flips,
                            (size_t)want - a->n_flips);
        if (got == 0)
            break;
        a->n_flips += got;
    }
    return CODEC_OK;
}

int codec_analyze_replicate(const struct codec_spec *s, int r, const uint64_t *labels,
                            struct codec_analysis *a)
{
    int rc;

    if (!s || !labels || !a->rep_counts || r < 1 || r >= a->replicates)
        return CODEC_EINVALID;
    rc = tb_box_counts(labels, a->levels, a->rep_counts[r]);
    if (rc != TB_OK)
        return rc == TB_ENOMEM ? CODEC_ENOMEM : CODEC_EINVALID;
    if (tb_fit_dimension(a->rep_counts[r], a->levels, &a->fit_opts, &a->rep_fits[r]) != TB_OK)
        return CODEC_EINVALID;
    return CODEC_OK;
}

void codec_analysis_free(struct codec_analysis *a)
{
    if (!a)
        return;
    free(a->flips);
    free(a->rep_counts);
    free(a->rep_fits);
    a->flips = NULL;
    a->n_flips = 0;
    a->rep_counts = NULL;
    a->rep_fits = NULL;
}

json_t *codec_fit_warnings(const struct tb_fit *fit)
{
    json_t *w = json_array();
    char msg[320];

    if (!w)
        return NULL;
    /* The boundary is a subset of the learning-rate line: a box-counting
     * dimension above 1 cannot be asymptotic, only a window too coarse. */
    if (fit->fractal && fit->value > 1.0) {
        snprintf(msg, sizeof msg,
                 "D = %.4g exceeds 1, the dimension of the learning-rate line: the fit window "
                 "(levels %d..%d) is pre-asymptotic; sweep finer levels or fit a later window",
                 fit->value, fit->first_used, fit->last_used);
        if (json_array_append_new(w, json_string(msg))) {
            json_decref(w);
            return NULL;
        }
    }
    return w;
}

json_t *codec_dimension_json(const struct tb_fit *fit, const struct tb_fit_opts *opts)
{
    json_t *d = json_object();
    int bad = 0;

    bad |= put(d, "value", jnum(fit->value));
    bad |= put(d, "stderr", jnum(fit->se));
    bad |= put(d, "r2", jnum(fit->r2));
    bad |= put(d, "intercept", jnum(fit->intercept));
    bad |= put(d, "min_level", json_integer(fit->min_level));
    bad |= put(d, "max_level", json_integer(fit->max_level));
    bad |= put(d, "min_levels", json_integer(opts->min_levels));
    bad |= put(d, "levels_used", json_integer(fit->levels_used));
    bad |= put(d, "first_level_used",
               fit->first_used < 0 ? json_null() : json_integer(fit->first_used));
    bad |=
        put(d, "last_level_used", fit->last_used < 0 ? json_null() : json_integer(fit->last_used));
    bad |= put(d, "fractal", json_boolean(fit->fractal));
    bad |= put(d, "warnings", codec_fit_warnings(fit));
    if (bad) {
        json_decref(d);
        return NULL;
    }
    return d;
}

void codec_spread_of(const struct tb_fit *fits, int n, struct codec_spread *out)
{
    double sum = 0.0, ss = 0.0;
    int r;

    memset(out, 0, sizeof *out);
    out->n = n;
    if (n < 1)
        return;
    out->min = out->max = fits[0].value;
    for (r = 0; r < n; r++) {
        sum += fits[r].value;
        out->min = fits[r].value < out->min ? fits[r].value : out->min;
        out->max = fits[r].value > out->max ? fits[r].value : out->max;
        out->fractal += fits[r].fractal != 0;
    }
    out->mean = sum / n;
    for (r = 0; r < n; r++)
        ss += (fits[r].value - out->mean) * (fits[r].value - out->mean);
    out->std = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
}

int codec_spread_fractal(const struct codec_spread *sp)
{
    if (sp->n <= 1)
        return sp->fractal == 1;
    /* most replicates fractal, and a mean D two standard errors above 0 */
    return 2 * sp->fractal > sp->n && sp->mean > 2.0 * sp->std / sqrt((double)sp->n);
}

json_t *codec_reps_warnings(const struct tb_fit *fits, int n)
{
    json_t *w = codec_fit_warnings(&fits[0]);
    struct codec_spread spread;
    char msg[320];

    codec_spread_of(fits, n, &spread);
    /* The OLS error is conditional on one rounding of every run; when the
     * replicates scatter more than it allows, it is not the error bar. */
    if (w && n > 1 && fits[0].fractal && spread.std > 2.0 * fits[0].se) {
        if (fits[0].se > 0)
            snprintf(msg, sizeof msg,
                     "the %d replicates scatter by std %.3g, %.1f times the fit's stderr %.3g: "
                     "quote the spread as the error bar",
                     n, spread.std, spread.std / fits[0].se, fits[0].se);
        else /* a perfect line through replicate 0's counts */
            snprintf(msg, sizeof msg,
                     "the %d replicates scatter by std %.3g while the fit's stderr is 0: quote "
                     "the spread as the error bar",
                     n, spread.std);
        if (json_array_append_new(w, json_string(msg))) {
            json_decref(w);
            return NULL;
        }
    }
    return w;
}

json_t *codec_spread_json(const struct tb_fit *fits, int n)
{
    json_t *sp = json_object();
    struct codec_spread spread;
    int bad = 0;

    codec_spread_of(fits, n, &spread);
    bad |= put(sp, "n", json_integer(spread.n));
    bad |= put(sp, "mean", jnum(spread.mean));
    bad |= put(sp, "std", jnum(spread.std));
    bad |= put(sp, "min", jnum(spread.min));
    bad |= put(sp, "max", jnum(spread.max));
    bad |= put(sp, "fractal_replicates", json_integer(spread.fractal));
    bad |= put(sp, "fractal", json_boolean(codec_spread_fractal(&spread)));
    if (bad) {
        json_decref(sp);
        return NULL;
    }
    return sp;
}

int codec_analysis_fractal(const struct codec_analysis *a)
{
    struct codec_spread spread;

    if (!a->rep_fits)
        return a->fit.fractal;
    codec_spread_of(a->rep_fits, a->replicates, &spread);
    return codec_spread_fractal(&spread);
}

json_t *codec_dimension_reps_json(const struct tb_fit *fits,
                                  const uint64_t (*counts)[TB_MAX_LEVELS + 1], int n, int levels,
                                  const struct tb_fit_opts *opts)
{
    json_t *d = codec_dimension_json(&fits[0], opts), *reps = json_array(), *sp;
    int bad = !d || !reps, r, k;

    for (r = 0; !bad && r < n; r++) {
        json_t *o = json_object(), *c = json_array();
        bad |= put(o, "value", jnum(fits[r].value));
        bad |= put(o, "stderr", jnum(fits[r].se));
        bad |= put(o, "r2", jnum(fits[r].r2));
        bad |= put(o, "fractal", json_boolean(fits[r].fractal));
        for (k = 0; c && k <= levels; k++)
            bad |= push(c, jint(counts[r][k]));
        bad |= put(o, "counts", c);
        bad |= push(reps, o);
    }
    sp = codec_spread_json(fits, n);
    if (!bad) {
        bad |= put(d, "replicates", reps);
        reps = NULL;
        bad |= put(d, "spread", sp);
        sp = NULL;
        bad |= put(d, "warnings", codec_reps_warnings(fits, n));
    }
    json_decref(reps);
    json_decref(sp);
    if (bad) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* counts[0..levels] from a JSON array of levels + 1 non-negative integers. */
static int counts_of(const json_t *arr, int levels, uint64_t *counts)
{
    int k;

    if (!json_is_array(arr) || json_array_size(arr) != (size_t)levels + 1)
        return CODEC_EINVALID;
    for (k = 0; k <= levels; k++) {
        const json_t *v = json_array_get(arr, (size_t)k);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return CODEC_EINVALID;
        counts[k] = (uint64_t)json_integer_value(v);
    }
    return CODEC_OK;
}

int codec_result_rep_counts(const char *text, int levels,
                            uint64_t (*counts)[TB_MAX_LEVELS + 1], int *n)
{
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    const json_t *reps = json_object_get(json_object_get(doc, "dimension"), "replicates");
    int rc = CODEC_OK;
    size_t r;

    *n = 0;
    if (!reps) /* a job summary has them as rows of numbers */
        reps = json_object_get(doc, "replicate_counts");
    if (!doc || levels < 0 || levels > TB_MAX_LEVELS) {
        rc = CODEC_EINVALID;
    } else if (!reps) {
        rc = counts_of(json_object_get(doc, "counts"), levels, counts[0]);
        *n = rc == CODEC_OK;
    } else if (!json_is_array(reps) || json_array_size(reps) < 1 ||
               json_array_size(reps) > TB_MAX_REPLICATES) {
        rc = CODEC_EINVALID;
    } else {
        for (r = 0; rc == CODEC_OK && r < json_array_size(reps); r++) {
            const json_t *e = json_array_get(reps, r);
            rc = counts_of(json_is_array(e) ? e : json_object_get(e, "counts"), levels, counts[r]);
        }
        *n = rc == CODEC_OK ? (int)json_array_size(reps) : 0;
    }
    json_decref(doc);
    return rc;
}

/* The flips member is dumped as "flips":[] and the numbers are written into
 * that gap here, each formatted by jansson. The key "flips" occurs once:
 * no other member has that name and a string value cannot hold an
 * unescaped quote. Takes text (freed); returns the new text or NULL. */
static char *splice_flips(char *text, const struct codec_spec *s, const struct codec_analysis *a)
{
    static const char marker[] = "\"flips\":[";
    const double lo = s->core.axes[0].min;
    const double h = (s->core.axes[0].max - lo) / (double)((uint64_t)1 << a->levels);
    char *at = strstr(text, "\"flips\":[]"), *res, *w;
    size_t head, tail, i, n;
    json_t *r;
    char num[64];

    if (!at)
        goto fail;
    r = json_real(0.0);
    if (!r)
        goto fail;
    head = (size_t)(at - text) + sizeof marker - 1;
    tail = strlen(at + sizeof marker - 1);
    /* A jansson real is at most 24 bytes, plus a comma. */
    res = malloc(head + a->n_flips * 26 + tail + 1);
    if (!res) {
        json_decref(r);
        goto fail;
    }
    memcpy(res, text, head);
    w = res + head;
    for (i = 0; i < a->n_flips; i++) {
        double v = lo + ((double)a->flips[i] + 0.5) * h;
        if (i > 0)
            *w++ = ',';
        if (isfinite(v) && json_real_set(r, v) == 0)
            n = json_dumpb(r, num, sizeof num, JSON_ENCODE_ANY | JSON_COMPACT);
        else
            n = (size_t)snprintf(num, sizeof num, "null");
        if (n == 0 || n > 25)
            n = (size_t)snprintf(num, sizeof num, "null");
        memcpy(w, num, n);
        w += n;
    }
    memcpy(w, at + sizeof marker - 1, tail + 1);
    json_decref(r);
    free(text);
    return res;
fail:
    free(text);
    return NULL;
}

json_t *codec_optimizer_json(const struct tb_optimizer *o)
{
    json_t *j = json_object();
    int bad = !j || put(j, "name", json_string(optimizer_names[o->kind]));

    if (o->kind == TB_OPT_MOMENTUM || o->kind == TB_OPT_NESTEROV) {
        bad |= put(j, "beta", jnum(o->beta));
    } else if (o->kind == TB_OPT_ADAM) {
        bad |= put(j, "beta1", jnum(o->beta1));
        bad |= put(j, "beta2", jnum(o->beta2));
        bad |= put(j, "eps", jnum(o->eps));
    }
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

json_t *codec_engine_json(const struct tb_spec *c)
{
    const int fast = tb_engine_precision(c) == TB_PRECISION_FAST;
    json_t *e = json_object();

    if (put(e, "precision", json_string(fast ? "fast" : "reference")) ||
        put(e, "isa", json_string(fast ? tb_fast_isa(c->isa_cap) : "libm"))) {
        json_decref(e);
        return NULL;
    }
    return e;
}

char *codec_result_encode_analysis(const struct codec_spec *s, const struct codec_analysis *a,
                                   double elapsed_s)
{
    const struct tb_spec *c = &s->core;
    const int K = a->levels;
    const double step = (c->axes[0].max - c->axes[0].min) / (double)((uint64_t)1 << K);
    const uint64_t transitions = a->counts[K];
    json_t *doc = json_object(), *lr = json_object(), *counts = json_array(), *b, *r;
    char *text;
    int bad = 0, n;

    if (s->name)
        bad |= put(doc, "name", json_string(s->name));
    bad |= put(doc, "spec", codec_spec_to_json(s));

    bad |= put(lr, "min", jnum(c->axes[0].min));
    bad |= put(lr, "max", jnum(c->axes[0].max));
    bad |= put(lr, "levels", json_integer(K));
    bad |= put(lr, "points", jint(a->points));
    bad |= put(lr, "step", jnum(step));
    bad |= put(doc, "lr", lr);

    bad |= put(doc, "points", jint(a->points));
    bad |= put(doc, "divergent_points", jint(a->divergent));
    bad |= put(doc, "divergent_fraction", jnum((double)a->divergent / (double)a->points));
    for (n = 0; n <= K; n++)
        bad |= push(counts, jint(a->counts[n]));
    bad |= put(doc, "counts", counts);
    bad |= put(doc, "dimension",
               a->rep_fits ? codec_dimension_reps_json(a->rep_fits,
                                                       (const uint64_t(*)[TB_MAX_LEVELS + 1])
                                                           a->rep_counts,
                                                       a->replicates, K, &a->fit_opts)
                           : codec_dimension_json(&a->fit, &a->fit_opts));

    b = json_object();
    bad |= put(b, "transitions", jint(transitions));
    bad |= put(b, "first_divergent_lr",
               a->first_divergent < 0 ? json_null()
                                      : jnum(tb_grid_lr(c, (uint64_t)a->first_divergent)));
    bad |= put(b, "flips", json_array()); /* filled by splice_flips() */
    bad |= put(b, "flips_total", jint(transitions));
    bad |= put(b, "flips_truncated", json_boolean(a->n_flips < transitions));
    bad |= put(doc, "boundary", b);

    r = json_object();
    bad |= put(r, "theta", jnum(a->roughness.theta));
    bad |= put(r, "critical", jnum(a->roughness.critical));
    bad |= put(r, "convex", json_boolean(a->roughness.convex));
    bad |= put(doc, "roughness", r);
    bad |= put(doc, "engine", codec_engine_json(c));
    bad |= put(doc, "elapsed_s", jnum(elapsed_s));

    if (bad) {
        json_decref(doc);
        return NULL;
    }
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (text && a->n_flips > 0)
        text = splice_flips(text, s, a);
    jsonfmt_shorten(text); /* shortest exact reals, flips included */
    return text;
}

char *codec_result_encode(const struct codec_spec *s, const uint64_t *labels, double elapsed_s)
{
    struct codec_analysis a;
    uint64_t *rep = NULL, n;
    char *text = NULL;
    int r, rc;

    rc = codec_analyze(s, labels, &a);
    n = rc == CODEC_OK ? a.points : 0;
    if (rc == CODEC_OK && a.replicates > 1) {
        rep = malloc(tb_label_words(n) * sizeof *rep);
        rc = rep ? CODEC_OK : CODEC_ENOMEM;
    }
    for (r = 1; rc == CODEC_OK && r < a.replicates; r++) {
        tb_labels_get(rep, labels, (uint64_t)r * n, n);
        rc = codec_analyze_replicate(s, r, rep, &a);
    }
    if (rc == CODEC_OK)
        text = codec_result_encode_analysis(s, &a, elapsed_s);
    free(rep);
    codec_analysis_free(&a);
    return text;
}
