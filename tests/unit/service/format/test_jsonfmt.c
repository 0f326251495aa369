/*
 * test_jsonfmt.c - unit tests for service/format/jsonfmt.c: reals come out in
 * their shortest exact form, strings and integers are untouched, and the
 * rewrite is lossless for random doubles.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonfmt.h"

START_TEST(examples)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"[0.20000000000000001,0.10000000000000001]", "[0.2,0.1]"},
        {"{\"t\":100000000.0,\"n\":1048577}", "{\"t\":1e8,\"n\":1048577}"},
        {"[1.430511474609375e-06,-2.5,3.0]", "[1.430511474609375e-6,-2.5,3.0]"},
        {"{\"s\":\"0.20000000000000001 \\\" 1.0\",\"x\":0.29999999999999999}",
         "{\"s\":\"0.20000000000000001 \\\" 1.0\",\"x\":0.3}"},
        {"[1e-300,5e-324,1.7976931348623157e308]", "[1e-300,5e-324,1.7976931348623157e308]"},
        {"[0.0,-0.0,12,-7]", "[0.0,-0.0,12,-7]"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = strdup(cases[i].in);
        jsonfmt_shorten(t);
        ck_assert_str_eq(t, cases[i].out);
        free(t);
    }
}
END_TEST

START_TEST(random_round_trip)
{
    uint64_t s = 88172645463325252ull;
    int i;

    for (i = 0; i < 200000; i++) {
        double v;
        json_t *a, *b;
        char *t;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        memcpy(&v, &s, sizeof v);
        if (!isfinite(v))
            continue;
        a = json_pack("[f]", v);
        t = jsonfmt_dumps(a, JSON_COMPACT);
        b = json_loads(t, 0, NULL);
        ck_assert_ptr_nonnull(b);
        ck_assert(json_is_real(json_array_get(b, 0)));
        ck_assert(json_real_value(json_array_get(b, 0)) == v);
        json_decref(a);
        json_decref(b);
        free(t);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonfmt");
    TCase *tc = tcase_create("shorten");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, examples);
    tcase_add_test(tc, random_round_trip);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
