/*
 * test_encoding.c - unit tests for service/format/base64.c and service/format/sha256.c
 * against the RFC 4648 and FIPS 180-4 test vectors.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "sha256.h"

START_TEST(base64_vectors)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char out[32];
    unsigned char back[32];
    size_t k;

    for (k = 0; k < 7; k++) {
        size_t n = strlen(in[k]);
        ck_assert_uint_eq(base64_encode(in[k], n, 0, out), strlen(std[k]));
        ck_assert_str_eq(out, std[k]);
        ck_assert_uint_eq(base64_encoded_len(n, 0), strlen(std[k]));
        ck_assert_uint_eq(base64_encode(in[k], n, 1, out), strlen(url[k]));
        ck_assert_str_eq(out, url[k]);
        ck_assert_uint_eq(base64_encoded_len(n, 1), strlen(url[k]));
        ck_assert_int_eq(base64url_decode(url[k], strlen(url[k]), back, sizeof back), (long)n);
        ck_assert(memcmp(back, in[k], n) == 0);
    }
    ck_assert_int_eq(base64url_decode("Zg=", 3, back, sizeof back), -1);
    ck_assert_int_eq(base64url_decode("Z", 1, back, sizeof back), -1);
    ck_assert_int_eq(base64url_decode("Zh", 2, back, sizeof back), -1); /* stray bits */
    ck_assert_int_eq(base64url_decode("Zm9vYmFy", 8, back, 5), -1);
    base64_encode("\xfb\xff", 2, 1, out);
    ck_assert_str_eq(out, "-_8");
}
END_TEST

START_TEST(sha256_vectors)
{
    char hex[SHA256_HEX_LEN];
    char *million = malloc(1000000);

    sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    ck_assert_ptr_nonnull(million);
    memset(million, 'a', 1000000);
    sha256_hex(million, 1000000, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("encoding");
    TCase *tc = tcase_create("encoding");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, base64_vectors);
    tcase_add_test(tc, sha256_vectors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
