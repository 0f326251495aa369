/*
 * test_auth.c - unit tests for service/http/auth.c: the token file (comments,
 * blanks, whitespace, "ro:" tokens, bad lines named by number without
 * their text, empty files), the bearer header syntax, the policy (open
 * routes, preflights, read-only tokens on writes), and that a token is
 * matched only whole (no prefix, no suffix, no case folding).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"

static char path[256];

static void write_file(const char *text)
{
    FILE *f;

    snprintf(path, sizeof path, "%s/tb-auth-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    close(mkstemp(path));
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static struct auth *load(const char *text, char *err)
{
    struct auth *a = NULL;
    int rc;

    write_file(text);
    rc = auth_load(path, &a, err, 256);
    unlink(path);
    ck_assert_int_eq(rc == 0, a != NULL);
    return a;
}

START_TEST(file_syntax)
{
    char err[256];
    int rw, ro;
    struct auth *a = load("# comment\n\n  tok-rw-1  \r\nro:tok-ro\ntok-rw-2", err);

    ck_assert_ptr_nonnull(a);
    auth_counts(a, &rw, &ro);
    ck_assert_int_eq(rw, 2);
    ck_assert_int_eq(ro, 1);
    auth_free(a);

    ck_assert_ptr_null(load("# only comments\n\n", err));
    ck_assert_ptr_nonnull(strstr(err, "no token"));
    ck_assert_ptr_null(load("good\nbad token with spaces\n", err));
    ck_assert_ptr_nonnull(strstr(err, "line 2"));
    ck_assert_ptr_null(strstr(err, "spaces")); /* never quotes a token */
    ck_assert_ptr_null(load("ro:\n", err));
    ck_assert_ptr_nonnull(strstr(err, "line 1"));
    ck_assert_int_eq(auth_load("/nonexistent/tokens", &a, err, sizeof err), -1);
    ck_assert_ptr_null(a);
}
END_TEST

START_TEST(policy)
{
    char err[256];
    struct auth *a = load("writer-token\nro:reader-token\n", err);

    ck_assert_ptr_nonnull(a);
    /* No auth configured: everything passes. */
    ck_assert_int_eq(auth_decide(NULL, "POST", "/v1/jobs", NULL), AUTH_ALLOW);
    /* Open routes and preflights. */
    ck_assert_int_eq(auth_decide(a, "GET", "/healthz", NULL), AUTH_ALLOW);
    ck_assert_int_eq(auth_decide(a, "GET", "/livez", NULL), AUTH_ALLOW);
    ck_assert_int_eq(auth_decide(a, "GET", "/readyz", NULL), AUTH_ALLOW);
    ck_assert_int_eq(auth_decide(a, "OPTIONS", "/v1/jobs", NULL), AUTH_ALLOW);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1x", NULL), AUTH_ALLOW); /* not /v1 */
    /* /v1 and below. */
    ck_assert_int_eq(auth_decide(a, "GET", "/v1", NULL), AUTH_MISSING);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", NULL), AUTH_MISSING);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", "Basic abc"), AUTH_MISSING);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", "Bearer"), AUTH_MISSING);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", "Bearer "), AUTH_MISSING);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", "Bearerwriter-token"), AUTH_MISSING);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", "Bearer wrong"), AUTH_INVALID);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", "Bearer writer-toke"), AUTH_INVALID);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", "Bearer writer-token2"), AUTH_INVALID);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", "Bearer WRITER-TOKEN"), AUTH_INVALID);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", "Bearer ro:reader-token"), AUTH_INVALID);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs",
                                 "Bearer a\x01"
                                 "b"),
                     AUTH_INVALID);
    /* Good tokens; the scheme is case-insensitive, whitespace is trimmed. */
    ck_assert_int_eq(auth_decide(a, "POST", "/v1/jobs", "Bearer writer-token"), AUTH_ALLOW);
    ck_assert_int_eq(auth_decide(a, "DELETE", "/v1/jobs/1", "bearer  writer-token "), AUTH_ALLOW);
    ck_assert_int_eq(auth_decide(a, "GET", "/v1/jobs", "Bearer reader-token"), AUTH_ALLOW);
    ck_assert_int_eq(auth_decide(a, "HEAD", "/v1/jobs/1", "Bearer reader-token"), AUTH_ALLOW);
    ck_assert_int_eq(auth_decide(a, "POST", "/v1/jobs", "Bearer reader-token"), AUTH_FORBIDDEN);
    ck_assert_int_eq(auth_decide(a, "DELETE", "/v1/jobs/1", "Bearer reader-token"), AUTH_FORBIDDEN);
    ck_assert_int_eq(auth_decide(a, "POST", "/v1/jobs/1/cancel", "Bearer reader-token"),
                     AUTH_FORBIDDEN);
    auth_free(a);
}
END_TEST

/* A token listed both read-only and read-write is read-write. */
START_TEST(duplicate_roles)
{
    char err[256];
    struct auth *a = load("ro:same\nsame\n", err);

    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(auth_decide(a, "POST", "/v1/jobs", "Bearer same"), AUTH_ALLOW);
    auth_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("service/auth");
    TCase *tc = tcase_create("auth");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, file_syntax);
    tcase_add_test(tc, policy);
    tcase_add_test(tc, duplicate_roles);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
