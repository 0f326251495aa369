/*
 * config.c - defaults, TRAINBOUND_* environment variables and flags of
 * `trainbound serve` (see config.h). One table drives the parser, the
 * usage text and the environment names, so they cannot drift apart.
 *
 * Threads: main thread, before the server starts. No allocation.
 */
#include "config.h"

#include "queue.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum opt_kind {
    OPT_STR,
    OPT_DB,
    OPT_ADDR,
    OPT_LIST,
    OPT_INT,
    OPT_I64,
    OPT_BYTES,
    OPT_COST,
    OPT_TILE,
    OPT_SYNC,
    OPT_LEVEL
};

struct opt {
    const char *flag; /* without the leading "--" */
    const char *env;  /* environment variable */
    enum opt_kind kind;
    size_t off;      /* offset of the field in struct serve_config */
    size_t size;     /* buffer size for OPT_STR */
    double min, max; /* accepted range for numbers */
    const char *arg; /* metavariable in the usage text */
    const char *help;
};

#define F(field) offsetof(struct serve_config, field)
#define S(field) sizeof(((struct serve_config *)0)->field)

/* Ranges: the ceilings of the numeric core and of the libraries. */
static const struct opt opts[] = {
    {"listen", "TRAINBOUND_LISTEN", OPT_ADDR, F(listen), S(listen), 0, 0, "HOST:PORT",
     "address to listen on; port 0 picks a free port (default 127.0.0.1:8080)"},
    {"db", "TRAINBOUND_DB", OPT_DB, F(db), S(db), 0, 0, "PATH|URI",
     "SQLite database file, created if missing, or a postgresql:// URI\n"
     "                               (default ./data/trainbound.db)"},
    {"workers", "TRAINBOUND_WORKERS", OPT_INT, F(workers), 0, 0, 1024, "N",
     "worker threads = tiles computed at once (default: online CPUs);\n"
     "                               serve --workers 0: API only, no tile computed here"},
    {"max-body", "TRAINBOUND_MAX_BODY", OPT_BYTES, F(max_body), 0, 64, 1073741824.0, "BYTES",
     "largest request body, e.g. 1M (default 1 MiB)"},
    {"max-cost", "TRAINBOUND_MAX_COST", OPT_COST, F(max_cost), 0, 1, 1e30, "N",
     "largest (2^levels + 1) * steps of a job, e.g. 2^36 (default 2^36)"},
    {"max-levels", "TRAINBOUND_MAX_LEVELS", OPT_INT, F(max_levels), 0, 0, 32, "K",
     "largest lr.levels (default 26)"},
    {"max-steps", "TRAINBOUND_MAX_STEPS", OPT_INT, F(max_steps), 0, 1, INT_MAX, "N",
     "largest steps (default 100000)"},
    {"max-dim", "TRAINBOUND_MAX_DIM", OPT_INT, F(max_dim), 0, 1, 65536, "D",
     "largest model.dim (default 1024)"},
    {"max-queued", "TRAINBOUND_MAX_QUEUED", OPT_I64, F(max_queued), 0, 0, 1e15, "N",
     "queued + running jobs before POST answers 429; 0 = no limit (default 1000)"},
    {"tile-points", "TRAINBOUND_TILE_POINTS", OPT_TILE, F(tile_points), 0, 0, 4294967296.0, "N",
     "grid points per tile, a multiple of 64; 0 = automatic (default 0)"},
    {"max-attempts", "TRAINBOUND_MAX_ATTEMPTS", OPT_INT, F(max_attempts), 0, 1, 1000, "N",
     "leases of one tile before its job fails (default 5)"},
    {"lease", "TRAINBOUND_LEASE", OPT_INT, F(lease_s), 0, 2, 86400, "SECONDS",
     "tile lease, renewed by heartbeats (default 30)"},
    {"conn-limit", "TRAINBOUND_CONN_LIMIT", OPT_INT, F(conn_limit), 0, 1, 100000, "N",
     "concurrent HTTP connections (default 256)"},
    {"conn-timeout", "TRAINBOUND_CONN_TIMEOUT", OPT_INT, F(conn_timeout_s), 0, 1, 86400, "SECONDS",
     "idle HTTP connection timeout (default 30)"},
    {"shutdown-timeout", "TRAINBOUND_SHUTDOWN_TIMEOUT", OPT_INT, F(shutdown_timeout_s), 0, 0, 86400,
     "SECONDS", "on SIGTERM, time running tiles get to finish (default 10)"},
    {"busy-timeout", "TRAINBOUND_BUSY_TIMEOUT", OPT_INT, F(busy_timeout_ms), 0, 1, 600000, "MS",
     "lock wait (SQLite busy timeout, PostgreSQL lock_timeout) before a 503\n"
     "                               (default 2000)"},
    {"synchronous", "TRAINBOUND_SYNCHRONOUS", OPT_SYNC, F(synchronous_normal), 0, 0, 0,
     "full|normal", "SQLite synchronous mode of the connection that accepts jobs (default full);\n"
     "                               workers write tile results with normal"},
    {"log-level", "TRAINBOUND_LOG_LEVEL", OPT_LEVEL, F(log_level), 0, 0, 0, "debug|info|warn|error",
     "least severe log lines written (default info)"},
    {"token-file", "TRAINBOUND_TOKEN_FILE", OPT_STR, F(token_file), S(token_file), 0, 0, "PATH",
     "bearer tokens for /v1, one a line, \"ro:\" prefix = read-only (default: no auth)"},
    {"retention-succeeded", "TRAINBOUND_RETENTION_SUCCEEDED", OPT_I64, F(retention_succeeded_s), 0,
     0, 1e12, "SECONDS", "delete succeeded jobs finished this long ago; 0 = never (default 604800)"},
    {"retention-failed", "TRAINBOUND_RETENTION_FAILED", OPT_I64, F(retention_failed_s), 0, 0, 1e12,
     "SECONDS", "delete failed/canceled jobs finished this long ago; 0 = never (default 2592000)"},
    {"cors-origin", "TRAINBOUND_CORS_ORIGIN", OPT_LIST, F(cors_origin), S(cors_origin), 0, 0,
     "ORIGIN[,ORIGIN]", "browser origins allowed by CORS, repeatable; * = any (default: none)"},
    {"sse-heartbeat", "TRAINBOUND_SSE_HEARTBEAT", OPT_INT, F(sse_heartbeat_ms), 0, 10, 3600000,
     "MS", "event-stream heartbeat interval (default 15000)"},
    {"metrics-listen", "TRAINBOUND_METRICS_LISTEN", OPT_ADDR, F(metrics_listen), S(metrics_listen),
     0, 0, "HOST:PORT", "serve GET /metrics, /healthz and /readyz there (default: none)"},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

/* The flags of `trainbound worker` (no HTTP API: its limits, auth, CORS,
 * retention and SQLite tuning are the API's); --metrics-listen is its
 * alone. Every other flag is serve's. */
static const char *const worker_flags[] = {"db",           "workers",       "max-attempts",
                                           "lease",        "log-level",     "shutdown-timeout",
                                           "busy-timeout", "metrics-listen"};

/* 1 when option o is a flag of role. */
static int in_role(const struct opt *o, enum config_role role)
{
    size_t i;

    if (role == CONFIG_ROLE_SERVE)
        return strcmp(o->flag, "metrics-listen") != 0;
    for (i = 0; i < sizeof worker_flags / sizeof worker_flags[0]; i++)
        if (strcmp(o->flag, worker_flags[i]) == 0)
            return 1;
    return 0;
}

void config_defaults(struct serve_config *c)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    memset(c, 0, sizeof *c);
    strcpy(c->listen, "127.0.0.1:8080");
    strcpy(c->db, "./data/trainbound.db");
    c->workers = n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
    c->max_body = 1u << 20;
    c->max_cost = 68719476736.0; /* 2^36 */
    c->max_levels = 26;
    c->max_steps = 100000;
    c->max_dim = 1024;
    c->max_queued = 1000;
    c->tile_points = 0;
    c->max_attempts = 5;
    c->lease_s = 30;
    c->conn_limit = 256;
    c->conn_timeout_s = 30;
    c->shutdown_timeout_s = 10;
    c->busy_timeout_ms = 2000;
    c->synchronous_normal = 0;
    c->log_level = 1; /* info */
    c->token_file[0] = '\0';
    c->retention_succeeded_s = 7 * 86400;
    c->retention_failed_s = 30 * 86400;
    c->cors_origin[0] = '\0';
    c->sse_heartbeat_ms = 15000;
}

int config_parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v, mul = 1;

    if (!s || !isdigit((unsigned char)*s))
        return CONFIG_EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return CONFIG_EINVAL;
    switch (tolower((unsigned char)*end)) {
    case '\0':
        break;
    case 'k':
        mul = 1ull << 10;
        end++;
        break;
    case 'm':
        mul = 1ull << 20;
        end++;
        break;
    case 'g':
        mul = 1ull << 30;
        end++;
        break;
    case 'b':
        break;
    default:
        return CONFIG_EINVAL;
    }
    if (mul > 1 && (end[0] == 'i' || end[0] == 'I') && (end[1] == 'b' || end[1] == 'B'))
        end += 2;
    else if (end[0] == 'b' || end[0] == 'B')
        end++;
    if (*end)
        return CONFIG_EINVAL;
    if (v > ULLONG_MAX / mul)
        return CONFIG_EINVAL;
    *out = (uint64_t)(v * mul);
    return CONFIG_OK;
}

int config_parse_cost(const char *s, double *out)
{
    char *end;
    double v;

    if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
        return CONFIG_EINVAL;
    if (s[0] == '2' && s[1] == '^') {
        long e;
        if (!isdigit((unsigned char)s[2]))
            return CONFIG_EINVAL;
        errno = 0;
        e = strtol(s + 2, &end, 10);
        if (errno || *end || e > 100)
            return CONFIG_EINVAL;
        *out = ldexp(1.0, (int)e);
        return CONFIG_OK;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v <= 0)
        return CONFIG_EINVAL;
    *out = v;
    return CONFIG_OK;
}

/* Parses a decimal integer in [min, max] with nothing after it. */
static int parse_int_range(const char *s, double min, double max, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s || isspace((unsigned char)*s))
        return CONFIG_EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || (double)v < min || (double)v > max)
        return CONFIG_EINVAL;
    *out = v;
    return CONFIG_OK;
}

/*
 * Checks the shape of a listen address, as http.c reads it: HOST:PORT or
 * [IPv6]:PORT (an empty HOST = every address), with a decimal port in
 * 0..65535. Whether the host resolves is left to the bind, which serve.c
 * does before it opens the database.
 */
static int check_listen(const char *s, const char **why)
{
    const char *colon, *port;
    size_t i, n;
    long v = 0;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            *why = "expected [IPv6]:PORT";
            return CONFIG_EINVAL;
        }
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            *why = "expected HOST:PORT";
            return CONFIG_EINVAL;
        }
    }
    port = colon + 1;
    n = strlen(port);
    if (n == 0 || n > 5 || strspn(port, "0123456789") != n) {
        *why = "the port must be an integer in 0..65535";
        return CONFIG_EINVAL;
    }
    for (i = 0; i < n; i++)
        v = v * 10 + (port[i] - '0');
    if (v > 65535) {
        *why = "the port must be an integer in 0..65535";
        return CONFIG_EINVAL;
    }
    return CONFIG_OK;
}

/* Stores one value; `who` is "--flag" or "VAR" for the message. */
static int apply(struct serve_config *c, const struct opt *o, const char *val, const char *who,
                 char *err, size_t errlen)
{
    char *field = (char *)c + o->off;
    const char *why = "";
    long long iv;
    uint64_t u;
    double d;

    switch (o->kind) {
    case OPT_ADDR:
        if (strlen(val) < o->size && check_listen(val, &why) != CONFIG_OK) {
            snprintf(err, errlen, "%s: %s, got \"%s\"", who, why, val);
            return CONFIG_EINVAL;
        }
        /* fall through - stored as a string */
    case OPT_DB: /* a database this build has a backend for (store.c) */
        if (o->kind == OPT_DB && store_target_check(val)) {
            /* Not echoed: a database URI may hold a password. */
            snprintf(err, errlen, "%s: %s", who, store_target_check(val));
            return CONFIG_EINVAL;
        }
        /* fall through - stored as a string */
    case OPT_STR:
        if (!*val || strlen(val) >= o->size) {
            snprintf(err, errlen, "%s: must be a non-empty string of at most %zu bytes", who,
                     o->size - 1);
            return CONFIG_EINVAL;
        }
        memcpy(field, val, strlen(val) + 1);
        return CONFIG_OK;
    case OPT_LIST: /* appended, comma-separated: the flag may repeat */
        if (!*val || strlen(field) + 1 + strlen(val) >= o->size) {
            snprintf(err, errlen, "%s: the list must be non-empty and at most %zu bytes in all",
                     who, o->size - 1);
            return CONFIG_EINVAL;
        }
        if (*field)
            strcat(field, ",");
        strcat(field, val);
        return CONFIG_OK;
    case OPT_INT:
    case OPT_I64:
        if (parse_int_range(val, o->min, o->max, &iv) != CONFIG_OK) {
            snprintf(err, errlen, "%s: must be an integer in %.0f..%.0f, got \"%s\"", who, o->min,
                     o->max, val);
            return CONFIG_EINVAL;
        }
        if (o->kind == OPT_INT)
            *(int *)(void *)field = (int)iv;
        else
            *(int64_t *)(void *)field = (int64_t)iv;
        return CONFIG_OK;
    case OPT_BYTES:
        if (config_parse_bytes(val, &u) != CONFIG_OK || (double)u < o->min || (double)u > o->max) {
            snprintf(err, errlen,
                     "%s: must be a byte count in 64..1G (e.g. 1048576, 512K, 1M), "
                     "got \"%s\"",
                     who, val);
            return CONFIG_EINVAL;
        }
        *(uint64_t *)(void *)field = u;
        return CONFIG_OK;
    case OPT_COST:
        if (config_parse_cost(val, &d) != CONFIG_OK || d < o->min || d > o->max) {
            snprintf(err, errlen,
                     "%s: must be a positive number such as 68719476736, 6.9e10 or "
                     "2^36, got \"%s\"",
                     who, val);
            return CONFIG_EINVAL;
        }
        *(double *)(void *)field = d;
        return CONFIG_OK;
    case OPT_TILE:
        if (parse_int_range(val, o->min, o->max, &iv) != CONFIG_OK || iv % 64 != 0) {
            snprintf(err, errlen,
                     "%s: must be 0 (automatic) or a multiple of 64 up to 2^32, "
                     "got \"%s\"",
                     who, val);
            return CONFIG_EINVAL;
        }
        *(uint64_t *)(void *)field = (uint64_t)iv;
        return CONFIG_OK;
    case OPT_SYNC:
        if (strcasecmp(val, "full") == 0)
            *(int *)(void *)field = 0;
        else if (strcasecmp(val, "normal") == 0)
            *(int *)(void *)field = 1;
        else {
            snprintf(err, errlen, "%s: must be \"full\" or \"normal\", got \"%s\"", who, val);
            return CONFIG_EINVAL;
        }
        return CONFIG_OK;
    case OPT_LEVEL: {
        static const char *const names[] = {"debug", "info", "warn", "error"};
        int i;
        for (i = 0; i < 4; i++)
            if (strcasecmp(val, names[i]) == 0) {
                *(int *)(void *)field = i;
                return CONFIG_OK;
            }
        snprintf(err, errlen, "%s: must be debug, info, warn or error, got \"%s\"", who, val);
        return CONFIG_EINVAL;
    }
    }
    return CONFIG_EINVAL;
}

/* Finds the option of role named by a flag (name without "--", namelen bytes). */
static const struct opt *find_flag(const char *name, size_t namelen, enum config_role role)
{
    size_t i;

    for (i = 0; i < N_OPTS; i++)
        if (strlen(opts[i].flag) == namelen && memcmp(opts[i].flag, name, namelen) == 0)
            return in_role(&opts[i], role) ? &opts[i] : NULL;
    return NULL;
}

int config_parse(struct serve_config *c, int argc, char **argv, config_getenv_fn env, char *err,
                 size_t errlen)
{
    return config_parse_role(c, CONFIG_ROLE_SERVE, argc, argv, env, err, errlen);
}

int config_parse_role(struct serve_config *c, enum config_role role, int argc, char **argv,
                      config_getenv_fn env, char *err, size_t errlen)
{
    size_t i;
    int a;
    char who[64];

    if (errlen)
        err[0] = '\0';
    if (env) {
        for (i = 0; i < N_OPTS; i++) {
            const char *v = in_role(&opts[i], role) ? env(opts[i].env) : NULL;
            if (v && apply(c, &opts[i], v, opts[i].env, err, errlen) != CONFIG_OK)
                return CONFIG_EINVAL;
        }
    }
    for (a = 1; a < argc; a++) {
        const char *arg = argv[a], *name, *eq, *val;
        const struct opt *o;
        size_t namelen;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return CONFIG_HELP;
        if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
            snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", arg);
            return CONFIG_EINVAL;
        }
        name = arg + 2;
        eq = strchr(name, '=');
        namelen = eq ? (size_t)(eq - name) : strlen(name);
        o = find_flag(name, namelen, role);
        if (!o) {
            snprintf(err, errlen, "unknown flag \"--%.*s\" (see --help)", (int)namelen, name);
            return CONFIG_EINVAL;
        }
        if (eq) {
            val = eq + 1;
        } else {
            if (a + 1 >= argc) {
                snprintf(err, errlen, "--%s needs a value (%s)", o->flag, o->arg);
                return CONFIG_EINVAL;
            }
            val = argv[++a];
        }
        snprintf(who, sizeof who, "--%s", o->flag);
        if (apply(c, o, val, who, err, errlen) != CONFIG_OK)
            return CONFIG_EINVAL;
    }
    return CONFIG_OK;
}

void config_usage(FILE *f)
{
    config_usage_role(f, CONFIG_ROLE_SERVE);
}

void config_usage_role(FILE *f, enum config_role role)
{
    size_t i;

    if (role == CONFIG_ROLE_WORKER)
        fputs("usage: trainbound worker --db postgresql://USER@HOST:PORT/DB [flags]\n\n"
              "Computes tiles of the shared PostgreSQL queue: no HTTP API (run `trainbound\n"
              "serve` for that, --workers 0 for API only). Any number of workers, on any\n"
              "number of hosts, share one queue. A SQLite file is refused (exit 2): it\n"
              "belongs to the one `serve` process that runs its workers.\n"
              "Every flag can also be set by its environment variable; a flag wins.\n\n",
              f);
    else
        fputs("usage: trainbound serve [flags]\n\n"
              "Runs the REST server with its job queue (a SQLite file, or a shared\n"
              "PostgreSQL) and worker pool (--workers 0: API only).\n"
              "Every flag can also be set by its environment variable; a flag wins.\n\n",
              f);
    for (i = 0; i < N_OPTS; i++) {
        if (!in_role(&opts[i], role))
            continue;
        char left[64];
        snprintf(left, sizeof left, "--%s %s", opts[i].flag, opts[i].arg);
        fprintf(f, "  %-28s %s\n  %-28s [%s]\n", left, opts[i].help, "", opts[i].env);
    }
}
