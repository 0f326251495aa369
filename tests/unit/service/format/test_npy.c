/*
 * test_npy.c - unit tests for service/format/npy.c: the .npy preamble is what
 * NumPy's format 1.0 requires (magic, version, header length, 64-byte
 * alignment, dict text), and the bit/uint64 encoders are exact.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

START_TEST(header_layout)
{
    static const struct {
        const char *descr;
        uint64_t n;
    } cases[] = {{"|b1", 0}, {"|b1", 1}, {"|b1", 1048577}, {"<u8", 33}, {"<u8", 4294967297ull}};
    size_t k;

    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char buf[NPY_HEADER_MAX], want[96];
        size_t len = 0, hl;

        ck_assert_int_eq(npy_header(buf, sizeof buf, cases[k].descr, cases[k].n, &len), 0);
        ck_assert_uint_eq(len % 64, 0);
        ck_assert(memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0);
        hl = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8);
        ck_assert_uint_eq(hl + 10, len);
        ck_assert_int_eq(buf[len - 1], '\n');
        snprintf(want, sizeof want, "{'descr': '%s', 'fortran_order': False, 'shape': (%llu,), }",
                 cases[k].descr, (unsigned long long)cases[k].n);
        ck_assert(memcmp(buf + 10, want, strlen(want)) == 0);
        /* only spaces between the dict and the newline */
        for (size_t i = 10 + strlen(want); i < len - 1; i++)
            ck_assert_int_eq(buf[i], ' ');
    }
}
END_TEST

START_TEST(header_too_small)
{
    char buf[32];
    size_t len;

    ck_assert_int_eq(npy_header(buf, sizeof buf, "|b1", 5, &len), -1);
}
END_TEST

START_TEST(unpack_and_u64)
{
    uint64_t bits[2] = {0x8000000000000001ull, 0x5ull};
    unsigned char out[70];
    uint64_t v[2] = {0x0102030405060708ull, 1};
    unsigned char le[16];

    npy_unpack_bits(bits, 0, 70, out);
    for (int i = 0; i < 70; i++) {
        int want = i == 0 || i == 63 || i == 64 || i == 66;
        ck_assert_int_eq(out[i], want);
    }
    npy_unpack_bits(bits, 63, 4, out);
    ck_assert(out[0] == 1 && out[1] == 1 && out[2] == 0 && out[3] == 1);
    npy_put_u64le(v, 2, le);
    ck_assert(le[0] == 8 && le[7] == 1 && le[8] == 1 && le[15] == 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("encode");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, header_layout);
    tcase_add_test(tc, header_too_small);
    tcase_add_test(tc, unpack_and_u64);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
