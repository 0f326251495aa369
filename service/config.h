/*
 * config.h - the settings of `trainbound serve`: defaults, environment
 * variables (TRAINBOUND_*) and command-line flags, in that order of
 * precedence (a flag wins over its variable, which wins over the default).
 *
 * Threads: parsed once on the main thread before anything starts; the
 * result is read-only afterwards and may be read from any thread.
 * Errors: 0, or CONFIG_EINVAL with a one-line message in err.
 * No allocation: every string is copied into fixed buffers.
 */
#ifndef TB_CONFIG_H
#define TB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum config_status {
    CONFIG_OK = 0,
    CONFIG_HELP = 1,    /* --help was given: print config_usage() and exit 0 */
    CONFIG_EINVAL = -1, /* a bad flag, value or variable: err says which */
};

/* Whose flags: `trainbound serve` (the API and its workers) or
 * `trainbound worker` (tiles only: the queue's flags and --metrics-listen). */
enum config_role { CONFIG_ROLE_SERVE = 0, CONFIG_ROLE_WORKER = 1 };

struct serve_config {
    char listen[128];       /* "host:port"; port 0 picks a free port */
    char db[4096];          /* SQLite file path, or a postgresql:// URI */
    int workers;            /* pool threads = tiles in flight; default: CPUs; serve: 0 = API only */
    uint64_t max_body;      /* request body bytes */
    double max_cost;        /* (2^levels + 1) * steps */
    int max_levels;         /* lr.levels */
    int max_steps;          /* steps */
    int max_dim;            /* model.dim */
    int64_t max_queued;     /* queued + running jobs; 0 = unlimited */
    uint64_t tile_points;   /* points per tile, a multiple of 64; 0 = automatic */
    int max_attempts;       /* leases of one tile before its job fails */
    int lease_s;            /* tile lease length; heartbeats renew it */
    int conn_limit;         /* concurrent HTTP connections */
    int conn_timeout_s;     /* idle HTTP connection timeout */
    int shutdown_timeout_s; /* SIGTERM: let running tiles finish this long */
    int busy_timeout_ms;    /* SQLite busy timeout of the API connection */
    int synchronous_normal; /* 1: PRAGMA synchronous=NORMAL; 0: FULL */
    int log_level;          /* enum log_level: 0 debug .. 3 error */
    char token_file[4096];  /* bearer tokens, one a line ("ro:" = read-only); "" = no auth */
    int64_t retention_succeeded_s; /* prune succeeded jobs this old; 0 = keep forever */
    int64_t retention_failed_s;    /* prune failed and canceled jobs this old; 0 = keep */
    char cors_origin[2048];        /* CORS allow-list, comma-separated ("*" any); "" = no CORS */
    int sse_heartbeat_ms;          /* event-stream heartbeat interval */
    char metrics_listen[128];      /* worker: "host:port" of /metrics; "" = none */
};

/* Returns the value of an environment variable or NULL (e.g. getenv). */
typedef const char *(*config_getenv_fn)(const char *name);

/* Fills the built-in defaults (workers from the online CPU count). */
void config_defaults(struct serve_config *c);

/*
 * Applies the environment (through env, which may be NULL for none) and
 * then the flags argv[1..argc-1] (argv[0] is the subcommand) on top of
 * whatever c holds. Flags are `--name value` or `--name=value`. On
 * CONFIG_EINVAL, err (errlen bytes, borrowed) names the flag or variable
 * and the accepted range; c may be partly updated.
 */
int config_parse(struct serve_config *c, int argc, char **argv, config_getenv_fn env, char *err,
                 size_t errlen);

/* config_parse() for role: a flag of the other role is unknown, and its
 * variable is not read. */
int config_parse_role(struct serve_config *c, enum config_role role, int argc, char **argv,
                      config_getenv_fn env, char *err, size_t errlen);

/* Prints the flags, their variables and defaults to f. */
void config_usage(FILE *f);
/* The same for role. */
void config_usage_role(FILE *f, enum config_role role);

/*
 * Parses a size with an optional binary suffix: "1048576", "512K", "1M",
 * "2G" (case-insensitive, optional trailing "iB"/"B"). 0 or CONFIG_EINVAL.
 */
int config_parse_bytes(const char *s, uint64_t *out);

/* Parses a positive cost: an integer, a decimal such as "6.9e10", or a
 * power of two "2^36". 0 or CONFIG_EINVAL. */
int config_parse_cost(const char *s, double *out);

#endif /* TB_CONFIG_H */
