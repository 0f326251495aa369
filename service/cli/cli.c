/*
 * cli.c - `trainbound run` and `trainbound validate`: read a spec file (or
 * stdin), parse it as its kind (kind.h kind_parse_body()), run it with the
 * kind's run_local() on the libuv thread pool, print the result. The kind
 * plans the grids and analyses them; this file only computes the points of
 * each grid it is handed, tile by tile, with the kind's tile function, and
 * draws the progress. No queue and no store.
 *
 * Owns: cli_run_main(), cli_validate_main(), cli_usage().
 * Threads: everything here runs on the main thread, which runs a private
 * libuv loop for the sweep, except tile_work() and tile_progress(), which
 * run on libuv pool threads. A pool thread touches only its own struct tile,
 * the kind's read-only tile data, three atomics of the sweep (the cancel flag, the
 * progress counter and the next tile to claim) and the label words of the
 * tiles it claimed; the main thread reads the labels once every worker is
 * back (libuv orders tile_done() after tile_work()).
 *
 * The sweep is cut into tiles of a multiple of 64 points, so every tile
 * starts on a label word and no two tiles share one: about 16 tiles per
 * thread, at least TILE_MIN points each. Each pool thread claims tiles from
 * an atomic counter and writes their labels straight into the label array
 * (its own words only) until none is left, so a finished tile costs no trip
 * through the loop thread (which, on a machine with as many threads as
 * cores, had to preempt a worker to hand out the next tile). Labels depend
 * only on the spec and the point index, so the result is the same for any
 * thread count and tile size.
 *
 * Exit codes: 0 ok; 2 bad spec or usage (nothing on stdout); 1 runtime
 * failure; 130 when SIGINT cancelled the sweep.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "cli.h"
#include "codec.h"
#include "kind.h"
#include "npy.h"
#include "tb.h"

#define SPEC_MAX_BYTES ((size_t)16 << 20) /* 16 MiB */
#define MAX_THREADS 1024                  /* libuv's own pool ceiling */
#define TILES_PER_THREAD 16
/* A smaller tile spends too much of its time draining: its last runs keep
 * a few SIMD lanes busy while the others idle (about 3% at 1024 points). */
#define TILE_MIN 2048
#define PROGRESS_MS 100
#define BAR_WIDTH 30

/* Every flag parse_args() accepts is in run_usage and in cli_usage()'s run
 * lines; tests/cli/13-usage-flags.sh checks it against the parser. */
static const char run_usage[] =
    "usage: trainbound run [--threads N] [--quiet] [--precision reference|fast]\n"
    "                      [--labels OUT.npy] [--csv OUT.csv] [--stats] SPEC.json|-\n";
static const char validate_usage[] = "usage: trainbound validate SPEC.json|-\n";

void cli_usage(FILE *f)
{
    fputs("usage: trainbound <command> [options]\n"
          "\n"
          "commands:\n"
          "  run [--threads N] [--quiet] [--precision reference|fast] [--labels OUT.npy]\n"
          "      [--csv OUT.csv] [--stats] SPEC.json|-\n"
          "        run the sweep a spec describes and print the result JSON on stdout;\n"
          "        - reads the spec from stdin. --threads: worker threads (1..1024,\n"
          "        default: the online cores). --quiet: no progress bar on stderr.\n"
          "        --precision: override the spec's precision (reference or fast).\n"
          "        --labels: also write every label to OUT.npy (numpy bool array).\n"
          "        --stats: print one JSON line of run statistics on stderr.\n"
          "        A study spec (one with \"vary\") runs every cell and prints the\n"
          "        study table; --csv: also write the table to OUT.csv (studies only).\n"
          "  validate SPEC.json|-\n"
          "        check a spec and print it with every default filled in\n"
          "  serve [options]\n"
          "        start the REST server (see trainbound serve --help)\n"
          "  worker --db postgresql://... [options]\n"
          "        compute tiles of a shared PostgreSQL queue, with no HTTP API\n"
          "        (see trainbound worker --help)\n"
          "\n"
          "options:\n"
          "  --help        print this text\n"
          "  --version     print the version\n"
          "\n"
          "exit codes: 0 ok, 1 runtime failure, 2 bad spec or usage, 130 interrupted\n",
          f);
}

/* ---- arguments and input ------------------------------------------------- */

struct run_args {
    const char *spec; /* file name or "-" (borrowed from argv) */
    int threads;      /* 0: not given */
    int quiet;
    int stats;              /* --stats */
    int precision;          /* -1: as the spec says, else a tb_precision */
    const char *labels_out; /* --labels file (borrowed from argv), or NULL */
    const char *csv_out;    /* --csv file for a study's table, or NULL */
};

static int parse_threads(const char *s, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > MAX_THREADS) {
        fprintf(stderr, "trainbound: --threads: must be an integer in 1..%d\n", MAX_THREADS);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/*
 * Parses a subcommand's arguments; with_run_opts allows --threads and
 * --quiet. Returns 0 when a command should run, 1 when --help was printed,
 * -1 after printing a usage error.
 */
static int parse_args(int argc, char **argv, int with_run_opts, struct run_args *a)
{
    const char *usage = with_run_opts ? run_usage : validate_usage;
    int i, only_files = 0;

    memset(a, 0, sizeof *a);
    a->precision = -1;
    for (i = 1; i < argc; i++) {
        const char *s = argv[i];

        if (!only_files && strcmp(s, "--") == 0) {
            only_files = 1;
        } else if (!only_files && (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0)) {
            fputs(usage, stdout);
            return 1;
        } else if (!only_files && with_run_opts && strcmp(s, "--quiet") == 0) {
            a->quiet = 1;
        } else if (!only_files && with_run_opts && strcmp(s, "--stats") == 0) {
            a->stats = 1;
        } else if (!only_files && with_run_opts &&
                   (strcmp(s, "--precision") == 0 || strcmp(s, "--labels") == 0 ||
                    strcmp(s, "--csv") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "trainbound: %s: needs a value\n%s", s, usage);
                return -1;
            }
            if (s[2] == 'l') {
                a->labels_out = argv[++i];
            } else if (s[2] == 'c') {
                a->csv_out = argv[++i];
            } else if (strcmp(argv[i + 1], "reference") == 0 || strcmp(argv[i + 1], "fast") == 0) {
                a->precision = argv[++i][0] == 'f' ? TB_PRECISION_FAST : TB_PRECISION_REFERENCE;
            } else {
                fprintf(stderr, "trainbound: --precision: must be reference or fast\n%s", usage);
                return -1;
            }
        } else if (!only_files && with_run_opts && strcmp(s, "--threads") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "trainbound: --threads: needs a value\n%s", usage);
                return -1;
            }
            if (parse_threads(argv[++i], &a->threads) < 0)
                return -1;
        } else if (!only_files && with_run_opts && strncmp(s, "--threads=", 10) == 0) {
            if (parse_threads(s + 10, &a->threads) < 0)
                return -1;
        } else if (!only_files && s[0] == '-' && s[1] != '\0') {
            fprintf(stderr, "trainbound: %s: unknown option '%s'\n%s", argv[0], s, usage);
            return -1;
        } else if (a->spec) {
            fprintf(stderr, "trainbound: %s: unexpected argument '%s'\n%s", argv[0], s, usage);
            return -1;
        } else {
            a->spec = s;
        }
    }
    if (!a->spec) {
        fprintf(stderr, "trainbound: %s: missing SPEC.json (or - for stdin)\n%s", argv[0], usage);
        return -1;
    }
    return 0;
}

/* Reads all of path ("-": stdin) into a new buffer *out (caller frees) of
 * *len bytes. Returns 0, or -1 after printing why. */
static int read_spec(const char *path, char **out, size_t *len)
{
    const int is_stdin = strcmp(path, "-") == 0;
    const char *shown = is_stdin ? "stdin" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    struct stat st;
    char *buf = NULL, *nb;
    size_t used = 0, cap = 0, n;
    int rc = -1;

    *out = NULL;
    *len = 0;
    if (!f) {
        fprintf(stderr, "trainbound: %s: cannot open: %s\n", shown, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > SPEC_MAX_BYTES)
        goto too_big;
    for (;;) {
        if (used == cap) {
            if (cap > SPEC_MAX_BYTES)
                goto too_big;
            cap = cap ? 2 * cap : 64 * 1024;
            if (cap > SPEC_MAX_BYTES + 1)
                cap = SPEC_MAX_BYTES + 1;
            nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "trainbound: %s: out of memory\n", shown);
                goto out;
            }
            buf = nb;
        }
        n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (used > SPEC_MAX_BYTES)
            goto too_big;
        if (n == 0) {
            if (ferror(f)) {
                fprintf(stderr, "trainbound: %s: cannot read: %s\n", shown, strerror(errno));
                goto out;
            }
            break;
        }
    }
    *out = buf;
    *len = used;
    buf = NULL;
    rc = 0;
    goto out;
too_big:
    fprintf(stderr, "trainbound: %s: the spec is larger than 16 MiB (%zu bytes); refusing it\n",
            shown, SPEC_MAX_BYTES);
out:
    free(buf);
    if (!is_stdin)
        fclose(f);
    return rc;
}

/* One stderr line per problem: "trainbound: <path>: <message>". */
static void print_errors(const struct codec_errors *errs)
{
    int i;

    for (i = 0; i < errs->n; i++) {
        if (errs->e[i].path[0])
            fprintf(stderr, "trainbound: %s: %s\n", errs->e[i].path, errs->e[i].message);
        else
            fprintf(stderr, "trainbound: %s\n", errs->e[i].message);
    }
    if (errs->truncated)
        fprintf(stderr, "trainbound: more problems were found; only the first %d are listed\n",
                CODEC_MAX_ERRORS);
}

/*
 * Parses buf (len bytes, borrowed) as the kind of spec it is (kind.h:
 * parsed as JSON once, then by its kind), into *kind and *spec (owned by
 * the caller on CLI_EXIT_OK: (*kind)->free_spec()). Prints the problems
 * on failure. Returns an exit code.
 */
static int load_spec(const char *buf, size_t len, const struct job_kind **kind,
                     struct kind_spec **spec)
{
    struct codec_limits lim;
    struct codec_errors *errs;
    int rc;

    errs = malloc(sizeof *errs);
    if (!errs) {
        fputs("trainbound: out of memory\n", stderr);
        return CLI_EXIT_FAILURE;
    }
    codec_limits_default(&lim);
    rc = kind_parse_body(buf, len, &lim, kind, spec, errs);
    if (rc != CODEC_OK)
        print_errors(errs);
    free(errs);
    if (rc == CODEC_ENOMEM)
        return CLI_EXIT_FAILURE;
    return rc == CODEC_OK ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static int print_doc(const char *text)
{
    if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
        fprintf(stderr, "trainbound: cannot write the result: %s\n", strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* ---- the sweep on the libuv pool ------------------------------------------ */

struct sweep;

struct tile {
    uv_work_t req;       /* req.data points back here */
    struct sweep *sw;    /* the sweep this slot serves */
    uint64_t begin;      /* first point of the current tile: a multiple of 64 */
    uint64_t count;      /* points in the current tile */
    uint64_t reported;   /* progress already added to sw->done (pool thread only) */
    int rc;              /* the first failing tile code (TB_E*), read in tile_done() */
    uint64_t lane_steps; /* summed over this thread's tiles, read in tile_done() */
};

struct sweep {
    uv_loop_t loop;
    uv_timer_t timer;   /* progress bar; only when show_progress */
    uv_signal_t sigint; /* raises cancel */
    kind_tile_fn *tile; /* the kind's tile runner (kind.h) */
    void *tile_user;    /* borrowed, read-only for every thread */
    uint64_t *labels;   /* borrowed: all labels; each tile's words are
                           written by the pool thread that ran it */
    uint64_t first;     /* point of labels bit 0 (a replicate's start) */
    uint64_t points, tile_points, n_tiles;
    atomic_uint_fast64_t next_tile; /* the next tile to claim (pool threads) */
    struct tile *slots;             /* owned: one per tile in flight */
    int n_slots, in_flight;
    int show_progress, drawn, finished, interrupted;
    int rc;              /* first tile failure (a TB_E* code), 0 when none */
    uint64_t lane_steps; /* summed over finished tiles (loop thread) */
    atomic_int cancel;
    atomic_uint_fast64_t done; /* points finished, for the progress bar */
};

/* Pool thread: adds this tile's new progress to the shared counter. */
static void tile_progress(void *user, uint64_t done_in_tile)
{
    struct tile *t = user;

    atomic_fetch_add_explicit(&t->sw->done, done_in_tile - t->reported, memory_order_relaxed);
    t->reported = done_in_tile;
}

/* Pool thread: runs tiles until none is left, a tile fails or cancel. */
static void tile_work(uv_work_t *req)
{
    struct tile *t = req->data;
    struct sweep *sw = t->sw;
    struct tb_tile_stats st;

    t->rc = TB_OK;
    t->lane_steps = 0;
    for (;;) {
        uint64_t k = atomic_fetch_add_explicit(&sw->next_tile, 1, memory_order_relaxed), at;

        if (k >= sw->n_tiles || atomic_load_explicit(&sw->cancel, memory_order_relaxed))
            return;
        at = k * sw->tile_points; /* a multiple of 64 */
        t->begin = sw->first + at;
        t->count = sw->points - at < sw->tile_points ? sw->points - at : sw->tile_points;
        t->reported = 0;
        t->rc = sw->tile(sw->tile_user, t->begin, t->count, sw->labels + at / 64, &sw->cancel,
                         sw->show_progress ? tile_progress : NULL, t, &st);
        if (t->rc != TB_OK)
            return;
        t->lane_steps += st.lane_steps;
    }
}

static void draw_progress(struct sweep *sw)
{
    uint64_t done = atomic_load_explicit(&sw->done, memory_order_relaxed);
    double frac = sw->points ? (double)done / (double)sw->points : 1.0;
    char bar[BAR_WIDTH + 1];
    int fill = (int)(frac * BAR_WIDTH);

    if (fill > BAR_WIDTH)
        fill = BAR_WIDTH;
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %5.1f%%  %llu/%llu points", bar, 100.0 * frac, (unsigned long long)done,
            (unsigned long long)sw->points);
    fflush(stderr);
    sw->drawn = 1;
}

static void progress_tick(uv_timer_t *h)
{
    draw_progress(h->data);
}

static void on_sigint(uv_signal_t *h, int signum)
{
    struct sweep *sw = h->data;

    (void)signum;
    sw->interrupted = 1;
    atomic_store(&sw->cancel, 1);
}

/* Loop thread: the last tile is in; close the handles so uv_run() returns. */
static void finish(struct sweep *sw)
{
    if (sw->finished)
        return;
    sw->finished = 1;
    if (sw->show_progress) {
        uv_timer_stop(&sw->timer);
        uv_close((uv_handle_t *)&sw->timer, NULL);
        if (sw->drawn) {
            fputs("\r\033[K", stderr); /* erase the bar */
            fflush(stderr);
        }
    }
    uv_signal_stop(&sw->sigint);
    uv_close((uv_handle_t *)&sw->sigint, NULL);
}

static void tile_done(uv_work_t *req, int status);

/* Loop thread: starts slot t's worker. Returns 0 or a TB_E* code. */
static int submit(struct sweep *sw, struct tile *t)
{
    t->rc = TB_OK;
    if (uv_queue_work(&sw->loop, &t->req, tile_work, tile_done) != 0)
        return TB_EINVAL;
    sw->in_flight++;
    return TB_OK;
}

/* Loop thread: a worker ran out of tiles (or failed). */
static void tile_done(uv_work_t *req, int status)
{
    struct tile *t = req->data;
    struct sweep *sw = t->sw;

    sw->in_flight--;
    if (status == 0 && t->rc == TB_OK) {
        sw->lane_steps += t->lane_steps;
    } else if (!(t->rc == TB_ECANCELED && atomic_load(&sw->cancel))) {
        if (!sw->rc)
            sw->rc = status ? TB_EINVAL : t->rc;
        atomic_store(&sw->cancel, 1); /* stop the other tiles too */
    }
    if (sw->in_flight == 0)
        finish(sw);
}

/*
 * Runs points [first, first + points) with tile(tile_user, ...) into labels
 * (tb_label_words(points) words, owned by the caller) on `threads` pool
 * threads. Returns 0, a TB_E* code, or TB_ECANCELED with *interrupted = 1
 * after SIGINT.
 */
static int run_sweep(kind_tile_fn *tile, void *tile_user, uint64_t first, uint64_t points,
                     int threads, int show_progress, uint64_t *labels, int *interrupted,
                     uint64_t *lane_steps)
{
    struct sweep *sw;
    uint64_t per;
    int i, rc = TB_OK;

    *interrupted = 0;
    sw = calloc(1, sizeof *sw);
    if (!sw)
        return TB_ENOMEM;
    sw->tile = tile;
    sw->tile_user = tile_user;
    sw->labels = labels;
    sw->points = points;
    sw->first = first;
    per = (sw->points + (uint64_t)threads * TILES_PER_THREAD - 1) /
          ((uint64_t)threads * TILES_PER_THREAD);
    sw->tile_points = (per + 63) / 64 * 64;
    if (sw->tile_points < TILE_MIN)
        sw->tile_points = TILE_MIN;
    sw->n_tiles = (sw->points + sw->tile_points - 1) / sw->tile_points;
    sw->n_slots = (uint64_t)threads < sw->n_tiles ? threads : (int)sw->n_tiles;
    sw->show_progress = show_progress;
    atomic_init(&sw->cancel, 0);
    atomic_init(&sw->done, 0);
    atomic_init(&sw->next_tile, 0);

    sw->slots = calloc((size_t)sw->n_slots, sizeof *sw->slots);
    if (!sw->slots) {
        free(sw);
        return TB_ENOMEM;
    }
    for (i = 0; i < sw->n_slots; i++) {
        sw->slots[i].sw = sw;
        sw->slots[i].req.data = &sw->slots[i];
    }

    if (uv_loop_init(&sw->loop) != 0) {
        rc = TB_ENOMEM;
        goto out;
    }
    sw->sigint.data = sw;
    uv_signal_init(&sw->loop, &sw->sigint);
    uv_signal_start(&sw->sigint, on_sigint, SIGINT);
    if (show_progress) {
        sw->timer.data = sw;
        uv_timer_init(&sw->loop, &sw->timer);
        uv_timer_start(&sw->timer, progress_tick, PROGRESS_MS, PROGRESS_MS);
    }
    for (i = 0; i < sw->n_slots; i++) {
        rc = submit(sw, &sw->slots[i]);
        if (rc != TB_OK) {
            sw->rc = rc;
            atomic_store(&sw->cancel, 1);
            break;
        }
    }
    if (sw->in_flight == 0)
        finish(sw);
    uv_run(&sw->loop, UV_RUN_DEFAULT);
    uv_loop_close(&sw->loop);

    *interrupted = sw->interrupted;
    *lane_steps = sw->lane_steps;
    rc = sw->interrupted ? TB_ECANCELED : sw->rc;
out:
    free(sw->slots);
    free(sw);
    return rc;
}

/* What the kinds' run_local() runs on (kind.h struct kind_local): the
 * pool above, its progress bar, and the SIGINT that interrupted it. */
struct runner {
    int threads, show;
};

static int runner_run(void *user, kind_tile_fn *tile, void *tile_user, uint64_t first, uint64_t n,
                      uint64_t *labels, uint64_t *lane_steps)
{
    struct runner *r = user;
    uint64_t ls = 0;
    int interrupted, rc;

    rc = run_sweep(tile, tile_user, first, n, r->threads, r->show, labels, &interrupted, &ls);
    *lane_steps += ls;
    return rc;
}

static void runner_note(void *user, const char *line)
{
    struct runner *r = user;

    if (r->show)
        fprintf(stderr, "\r%s\n", line);
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Writes n labels to path as a NumPy bool array. Returns an exit code. */
static int write_labels_npy(const char *path, const uint64_t *labels, uint64_t n)
{
    char head[NPY_HEADER_MAX];
    unsigned char buf[1 << 16];
    size_t hlen;
    uint64_t i;
    FILE *f;

    if (npy_header(head, sizeof head, "|b1", n, &hlen) != 0)
        return CLI_EXIT_FAILURE;
    f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "trainbound: --labels: cannot write %s: %s\n", path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    fwrite(head, 1, hlen, f);
    for (i = 0; i < n; i += sizeof buf) {
        size_t k = n - i < sizeof buf ? (size_t)(n - i) : sizeof buf;
        npy_unpack_bits(labels, i, k, buf);
        fwrite(buf, 1, k, f);
    }
    if (ferror(f) + fclose(f) != 0) {
        fprintf(stderr, "trainbound: --labels: cannot write %s\n", path);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* Writes text to path. Returns an exit code. */
static int write_text(const char *flag, const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    if (!f || fputs(text, f) < 0 || ferror(f) + fclose(f) != 0) {
        fprintf(stderr, "trainbound: %s: cannot write %s: %s\n", flag, path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* ---- subcommands --------------------------------------------------------- */

static void pool_noop(uv_work_t *req)
{
    (void)req;
}

/*
 * Starts libuv's pool threads with one no-op, so that they are waiting
 * when the first tiles arrive. libuv creates them on its first work item
 * and waits until each has started; when that first item is a tile, the
 * worker that took it already computes while the next thread is still
 * being placed, and on two cores that thread could start a scheduler tick
 * (about 4 ms) late: a tenth of a levels-16 sweep. Best effort: a failure
 * here only means the pool starts with the first tile, as before.
 */
static void pool_warm(void)
{
    uv_loop_t loop;
    uv_work_t req;

    if (uv_loop_init(&loop) != 0)
        return;
    if (uv_queue_work(&loop, &req, pool_noop, NULL) == 0)
        uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

int cli_run_main(int argc, char **argv)
{
    struct run_args a;
    const struct job_kind *kind;
    struct kind_spec *spec = NULL;
    struct kind_local env;
    struct kind_local_out *out;
    struct runner runner;
    char num[16], *buf;
    size_t len;
    int rc, ex;

    rc = parse_args(argc, argv, 1, &a);
    if (rc != 0)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (!a.threads)
        a.threads = default_threads();
    /* Before the first libuv call: the pool reads it once, when it starts. */
    snprintf(num, sizeof num, "%d", a.threads);
    setenv("UV_THREADPOOL_SIZE", num, 1);
    pool_warm();

    if (read_spec(a.spec, &buf, &len) < 0)
        return CLI_EXIT_USAGE;
    ex = load_spec(buf, len, &kind, &spec);
    free(buf);
    if (ex != CLI_EXIT_OK)
        return ex;
    out = calloc(1, sizeof *out);
    if (!out) {
        fputs("trainbound: out of memory\n", stderr);
        kind->free_spec(spec);
        return CLI_EXIT_FAILURE;
    }
    /* The kind runs the whole spec on this process's pool, without the
     * queue, and analyses it as the server does. */
    runner.threads = a.threads;
    runner.show = !a.quiet && isatty(STDERR_FILENO);
    memset(&env, 0, sizeof env);
    env.run = runner_run;
    env.note = runner_note;
    env.user = &runner;
    env.precision = a.precision;
    env.threads = a.threads;
    env.want_csv = a.csv_out != NULL;
    env.want_labels = a.labels_out != NULL;
    rc = kind->run_local(spec, &env, out);
    if (rc == KIND_ENOCSV) {
        fputs("trainbound: --csv: only a study spec (one with \"vary\") has a table\n", stderr);
        ex = CLI_EXIT_USAGE;
    } else if (rc == TB_ECANCELED) {
        fputs("trainbound: interrupted\n", stderr);
        ex = CLI_EXIT_INTERRUPTED;
    } else if (rc != 0) {
        fprintf(stderr, "trainbound: %s\n", out->error);
        ex = CLI_EXIT_FAILURE;
    } else {
        ex = print_doc(out->result);
        if (ex == CLI_EXIT_OK && out->csv)
            ex = write_text("--csv", a.csv_out, out->csv);
        if (ex == CLI_EXIT_OK && out->labels && a.labels_out)
            ex = write_labels_npy(a.labels_out, out->labels, out->n_labels);
        if (a.stats)
            fprintf(stderr, "%s\n", out->stats);
    }
    free(out->result);
    free(out->csv);
    free(out->labels);
    free(out);
    kind->free_spec(spec);
    uv_library_shutdown();
    return ex;
}

int cli_validate_main(int argc, char **argv)
{
    struct run_args a;
    const struct job_kind *kind;
    struct kind_spec *spec = NULL;
    char *text, *buf;
    size_t len;
    int rc, ex;

    rc = parse_args(argc, argv, 0, &a);
    if (rc != 0)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (read_spec(a.spec, &buf, &len) < 0)
        return CLI_EXIT_USAGE;
    ex = load_spec(buf, len, &kind, &spec);
    free(buf);
    if (ex != CLI_EXIT_OK)
        return ex;
    text = kind->canonical(spec);
    kind->free_spec(spec);
    if (!text) {
        fputs("trainbound: out of memory\n", stderr);
        return CLI_EXIT_FAILURE;
    }
    ex = print_doc(text);
    free(text);
    return ex;
}
