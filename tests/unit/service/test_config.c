/*
 * test_config.c - unit tests for service/config.c: defaults, flags in both
 * forms, environment variables, flags over variables, every kind of bad
 * value (with the flag or variable named in the message), the shape of
 * --listen (port 0..65535), byte and cost syntaxes.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* A fake environment: pairs of name, value; NULL-terminated. */
static const char *const *fake_env;

static const char *env_fn(const char *name)
{
    size_t i;

    for (i = 0; fake_env && fake_env[i]; i += 2)
        if (strcmp(fake_env[i], name) == 0)
            return fake_env[i + 1];
    return NULL;
}

static int parse(struct serve_config *c, const char *const *env, int argc, const char **argv,
                 char *err)
{
    fake_env = env;
    config_defaults(c);
    return config_parse(c, argc, (char **)argv, env_fn, err, 256);
}

START_TEST(defaults)
{
    struct serve_config c;
    char err[256];
    const char *argv[] = {"serve"};

    ck_assert_int_eq(parse(&c, NULL, 1, argv, err), CONFIG_OK);
    ck_assert_str_eq(c.listen, "127.0.0.1:8080");
    ck_assert_str_eq(c.db, "./data/trainbound.db");
    ck_assert_int_ge(c.workers, 1);
    ck_assert_uint_eq(c.max_body, 1048576);
    ck_assert(c.max_cost == ldexp(1.0, 36));
    ck_assert_int_eq(c.max_levels, 26);
    ck_assert_int_eq(c.max_steps, 100000);
    ck_assert_int_eq(c.max_dim, 1024);
    ck_assert_int_eq(c.max_queued, 1000);
    ck_assert_uint_eq(c.tile_points, 0);
    ck_assert_int_eq(c.conn_timeout_s, 30);
    ck_assert_int_eq(c.synchronous_normal, 0);
    ck_assert_int_eq(c.log_level, 1);
}
END_TEST

START_TEST(flags_both_forms)
{
    struct serve_config c;
    char err[256];
    const char *argv[] = {"serve", "--listen", "127.0.0.1:0", "--db=/tmp/x.db", "--workers", "3",
                          "--max-body=64K", "--max-cost", "2^30", "--max-levels=20",
                          "--max-steps", "5000", "--max-dim", "8", "--max-queued", "0",
                          "--tile-points", "128", "--synchronous", "normal", "--log-level", "debug"};

    ck_assert_int_eq(parse(&c, NULL, sizeof argv / sizeof argv[0], argv, err), CONFIG_OK);
    ck_assert_str_eq(c.listen, "127.0.0.1:0");
    ck_assert_str_eq(c.db, "/tmp/x.db");
    ck_assert_int_eq(c.workers, 3);
    ck_assert_uint_eq(c.max_body, 65536);
    ck_assert(c.max_cost == ldexp(1.0, 30));
    ck_assert_int_eq(c.max_levels, 20);
    ck_assert_int_eq(c.max_steps, 5000);
    ck_assert_int_eq(c.max_dim, 8);
    ck_assert_int_eq(c.max_queued, 0);
    ck_assert_uint_eq(c.tile_points, 128);
    ck_assert_int_eq(c.synchronous_normal, 1);
    ck_assert_int_eq(c.log_level, 0);
}
END_TEST

START_TEST(env_and_precedence)
{
    static const char *const env[] = {"TRAINBOUND_LISTEN", "0.0.0.0:9",  "TRAINBOUND_WORKERS",
                                      "7",                 "TRAINBOUND_MAX_COST", "1e9",
                                      NULL};
    struct serve_config c;
    char err[256];
    const char *argv[] = {"serve", "--workers", "2"};

    ck_assert_int_eq(parse(&c, env, 3, argv, err), CONFIG_OK);
    ck_assert_str_eq(c.listen, "0.0.0.0:9");
    ck_assert_int_eq(c.workers, 2); /* the flag wins */
    ck_assert(c.max_cost == 1e9);
}
END_TEST

/* Issue 7's settings: token file and retention TTLs (flags, variables,
 * defaults 7 and 30 days, 0 = keep, negatives refused). */
START_TEST(auth_and_retention)
{
    static const char *const env[] = {"TRAINBOUND_TOKEN_FILE", "/etc/tb/tokens",
                                      "TRAINBOUND_RETENTION_FAILED", "0", NULL};
    struct serve_config c;
    char err[256];
    const char *none[] = {"serve"};
    const char *argv[] = {"serve", "--retention-succeeded=60", "--token-file", "/x/t"};
    const char *bad[] = {"serve", "--retention-failed", "-1"};
    const char *empty[] = {"serve", "--token-file", ""};

    ck_assert_int_eq(parse(&c, NULL, 1, none, err), CONFIG_OK);
    ck_assert_str_eq(c.token_file, "");
    ck_assert_int_eq(c.retention_succeeded_s, 7 * 86400);
    ck_assert_int_eq(c.retention_failed_s, 30 * 86400);
    ck_assert_int_eq(parse(&c, env, 1, none, err), CONFIG_OK);
    ck_assert_str_eq(c.token_file, "/etc/tb/tokens");
    ck_assert_int_eq(c.retention_failed_s, 0);
    ck_assert_int_eq(parse(&c, env, 4, argv, err), CONFIG_OK);
    ck_assert_str_eq(c.token_file, "/x/t");
    ck_assert_int_eq(c.retention_succeeded_s, 60);
    ck_assert_int_eq(parse(&c, NULL, 3, bad, err), CONFIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--retention-failed"));
    ck_assert_int_eq(parse(&c, NULL, 3, empty, err), CONFIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--token-file"));
}
END_TEST

START_TEST(worker_role)
{
    /* `trainbound worker` takes the queue's flags and --metrics-listen;
     * serve's API flags are unknown to it, and --metrics-listen to serve. */
    const char *wargv[] = {"worker",     "--db", "postgresql://tb@127.0.0.1:5432/tb",
                           "--workers",  "2",    "--metrics-listen",
                           "127.0.0.1:0"};
    const char *bad_w[] = {"worker", "--listen", "127.0.0.1:0"};
    const char *bad_s[] = {"serve", "--metrics-listen", "127.0.0.1:0"};
    const char *api_only[] = {"serve", "--workers", "0"};
    struct serve_config c;
    char err[256];

    config_defaults(&c);
    ck_assert_int_eq(
        config_parse_role(&c, CONFIG_ROLE_WORKER, 7, (char **)wargv, NULL, err, sizeof err),
        CONFIG_OK);
    ck_assert_str_eq(c.metrics_listen, "127.0.0.1:0");
    ck_assert_int_eq(c.workers, 2);
    ck_assert_int_eq(
        config_parse_role(&c, CONFIG_ROLE_WORKER, 3, (char **)bad_w, NULL, err, sizeof err),
        CONFIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--listen"));
    config_defaults(&c);
    ck_assert_int_eq(config_parse(&c, 3, (char **)bad_s, NULL, err, sizeof err), CONFIG_EINVAL);
    ck_assert_int_eq(config_parse(&c, 3, (char **)api_only, NULL, err, sizeof err), CONFIG_OK);
    ck_assert_int_eq(c.workers, 0);
}
END_TEST

START_TEST(bad_values)
{
    static const struct {
        const char *flag, *value, *needle;
    } cases[] = {
        {"--workers", "-1", "--workers"},      {"--workers", "1025", "--workers"},
        {"--workers", "2x", "--workers"},      {"--workers", "", "--workers"},
        {"--max-body", "1T", "--max-body"},    {"--max-body", "10", "--max-body"},
        {"--max-cost", "-5", "--max-cost"},    {"--max-cost", "2^", "--max-cost"},
        {"--max-cost", "nan", "--max-cost"},   {"--max-levels", "33", "--max-levels"},
        {"--tile-points", "100", "multiple of 64"}, {"--synchronous", "off", "full"},
        {"--log-level", "loud", "debug"},      {"--max-dim", "65537", "--max-dim"},
        {"--listen", "127.0.0.1:99999", "0..65535"}, {"--listen", "127.0.0.1:65536", "0..65535"},
        {"--listen", "127.0.0.1", "HOST:PORT"}, {"--listen", "127.0.0.1:", "0..65535"},
        {"--listen", "127.0.0.1:80x", "0..65535"}, {"--listen", "127.0.0.1:-1", "0..65535"},
        {"--listen", "[::1]8080", "[IPv6]:PORT"}, {"--listen", "[::1", "[IPv6]:PORT"},
    };
    size_t k;

    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct serve_config c;
        char err[256];
        const char *argv[] = {"serve", cases[k].flag, cases[k].value};

        ck_assert_int_eq(parse(&c, NULL, 3, argv, err), CONFIG_EINVAL);
        ck_assert_msg(strstr(err, cases[k].needle), "%s %s: \"%s\"", cases[k].flag,
                      cases[k].value, err);
    }
}
END_TEST

/* Good --listen shapes pass the check (resolution is the bind's job). */
START_TEST(listen_shapes)
{
    static const char *const good[] = {"127.0.0.1:0", "127.0.0.1:65535", "localhost:8080",
                                       ":8080", "[::1]:0", "[::]:443"};
    static const char *const env[] = {"TRAINBOUND_LISTEN", "127.0.0.1:70000", NULL};
    const char *none[] = {"serve"};
    struct serve_config c;
    char err[256];
    size_t k;

    for (k = 0; k < sizeof good / sizeof good[0]; k++) {
        const char *argv[] = {"serve", "--listen", good[k]};
        ck_assert_msg(parse(&c, NULL, 3, argv, err) == CONFIG_OK, "%s: %s", good[k], err);
        ck_assert_str_eq(c.listen, good[k]);
    }
    ck_assert_int_eq(parse(&c, env, 1, none, err), CONFIG_EINVAL);
    ck_assert(strstr(err, "TRAINBOUND_LISTEN"));
}
END_TEST

START_TEST(bad_usage)
{
    static const char *const env[] = {"TRAINBOUND_MAX_STEPS", "many", NULL};
    struct serve_config c;
    char err[256];
    const char *unknown[] = {"serve", "--colour", "red"};
    const char *missing[] = {"serve", "--db"};
    const char *positional[] = {"serve", "extra"};
    const char *none[] = {"serve"};
    const char *help[] = {"serve", "--help"};

    ck_assert_int_eq(parse(&c, NULL, 3, unknown, err), CONFIG_EINVAL);
    ck_assert(strstr(err, "--colour"));
    ck_assert_int_eq(parse(&c, NULL, 2, missing, err), CONFIG_EINVAL);
    ck_assert(strstr(err, "--db"));
    ck_assert_int_eq(parse(&c, NULL, 2, positional, err), CONFIG_EINVAL);
    ck_assert_int_eq(parse(&c, env, 1, none, err), CONFIG_EINVAL);
    ck_assert(strstr(err, "TRAINBOUND_MAX_STEPS"));
    ck_assert_int_eq(parse(&c, NULL, 2, help, err), CONFIG_HELP);
}
END_TEST

START_TEST(bytes_and_cost)
{
    uint64_t b;
    double d;

    ck_assert_int_eq(config_parse_bytes("1048576", &b), 0);
    ck_assert_uint_eq(b, 1048576);
    ck_assert_int_eq(config_parse_bytes("1M", &b), 0);
    ck_assert_uint_eq(b, 1048576);
    ck_assert_int_eq(config_parse_bytes("2MiB", &b), 0);
    ck_assert_uint_eq(b, 2097152);
    ck_assert_int_eq(config_parse_bytes("3kb", &b), 0);
    ck_assert_uint_eq(b, 3072);
    ck_assert_int_eq(config_parse_bytes("1G", &b), 0);
    ck_assert_uint_eq(b, 1073741824);
    ck_assert_int_eq(config_parse_bytes("1.5M", &b), CONFIG_EINVAL);
    ck_assert_int_eq(config_parse_bytes("-1", &b), CONFIG_EINVAL);
    ck_assert_int_eq(config_parse_bytes("99999999999999999999", &b), CONFIG_EINVAL);
    ck_assert_int_eq(config_parse_cost("2^36", &d), 0);
    ck_assert(d == 68719476736.0);
    ck_assert_int_eq(config_parse_cost("6.9e10", &d), 0);
    ck_assert(d == 6.9e10);
    ck_assert_int_eq(config_parse_cost("0", &d), CONFIG_EINVAL);
    ck_assert_int_eq(config_parse_cost("inf", &d), CONFIG_EINVAL);
    ck_assert_int_eq(config_parse_cost("2^101", &d), CONFIG_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, defaults);
    tcase_add_test(tc, flags_both_forms);
    tcase_add_test(tc, env_and_precedence);
    tcase_add_test(tc, bad_values);
    tcase_add_test(tc, worker_role);
    tcase_add_test(tc, bad_usage);
    tcase_add_test(tc, listen_shapes);
    tcase_add_test(tc, bytes_and_cost);
    tcase_add_test(tc, auth_and_retention);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
