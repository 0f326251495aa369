/*
 * test_dash.c - unit tests for the dashboard-facing pieces that need no
 * server: the CORS allow-list (cors.c), the PNG writer and the boundary
 * strip (pngenc.c), the Prometheus text (metrics.c) and the new routes in
 * the route table (router.c).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cors.h"
#include "metrics.h"
#include "pngenc.h"
#include "router.h"

START_TEST(cors_list)
{
    const char *list = "http://a.example, https://b.example:8443,http://c.example";
    struct http_response r;

    ck_assert_int_eq(cors_allowed(list, "http://a.example"), 1);
    ck_assert_int_eq(cors_allowed(list, "https://b.example:8443"), 1);
    ck_assert_int_eq(cors_allowed(list, "http://c.example"), 1);
    ck_assert_int_eq(cors_allowed(list, "http://a.example.evil"), 0);
    ck_assert_int_eq(cors_allowed(list, "http://a.exampl"), 0);
    ck_assert_int_eq(cors_allowed(list, "https://b.example"), 0);
    ck_assert_int_eq(cors_allowed(list, NULL), 0);
    ck_assert_int_eq(cors_allowed(list, ""), 0);
    ck_assert_int_eq(cors_allowed("", "http://a.example"), 0);
    ck_assert_int_eq(cors_allowed(NULL, "http://a.example"), 0);
    ck_assert_int_eq(cors_allowed("*", "http://any.example"), 1);
    ck_assert_int_eq(cors_allowed(" , ,", "http://a.example"), 0);

    memset(&r, 0, sizeof r);
    cors_headers(list, "http://evil.example", &r);
    ck_assert_int_eq(r.n_headers, 1);
    ck_assert_str_eq(r.headers[0].name, "Vary");
    http_response_free(&r);
    cors_headers(list, "http://c.example", &r);
    cors_preflight(list, "http://c.example", "GET, OPTIONS", &r);
    ck_assert_int_eq(r.n_headers, 6);
    ck_assert_str_eq(r.headers[1].name, "Access-Control-Allow-Origin");
    ck_assert_str_eq(r.headers[1].value, "http://c.example");
    ck_assert_str_eq(r.headers[2].value, "Location, ETag, Retry-After");
    ck_assert_str_eq(r.headers[3].value, "GET, OPTIONS");
    ck_assert_ptr_nonnull(strstr(r.headers[4].value, "Last-Event-ID"));
    ck_assert_ptr_nonnull(strstr(r.headers[4].value, "Idempotency-Key"));
    http_response_free(&r);
    cors_headers("", "http://c.example", &r); /* no list: nothing at all */
    ck_assert_int_eq(r.n_headers, 0);
}
END_TEST

/* CRC-32 (PNG chunks), bit by bit: small and slow is fine here. */
static uint32_t crc32_png(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

START_TEST(png_roundtrip)
{
    uint64_t bits[2] = {0, 0};
    unsigned char *rgb = malloc(100 * 8 * 3), *png = NULL;
    size_t len = 0, pos = 8, idat_len = 0;
    int x, iend = 0;

    /* Points 50..99 divergent: one flip between 49 and 50. */
    for (x = 50; x < 100; x++)
        bits[x >> 6] |= (uint64_t)1 << (x & 63);
    ck_assert_int_eq(png_draw_strip(bits, 100, 100, 8, rgb), 0);
    /* Column 0 bounded (blue), column 99 divergent (red), flip row marks 50 only. */
    ck_assert_int_gt(rgb[2], rgb[0]);
    ck_assert_int_gt(rgb[99 * 3], rgb[99 * 3 + 2]);
    ck_assert_int_lt(rgb[(7 * 100 + 50) * 3], 0x20);
    ck_assert_int_gt(rgb[(7 * 100 + 49) * 3], 0xe0);
    ck_assert_int_gt(rgb[(7 * 100 + 51) * 3], 0xe0);
    ck_assert_int_eq(png_draw_strip(bits, 100, 101, 8, rgb), -1); /* wider than the points */

    ck_assert_int_eq(png_encode_rgb(rgb, 100, 8, &png, &len), 0);
    ck_assert_mem_eq(png, "\x89PNG\r\n\x1a\n", 8);
    ck_assert_mem_eq(png + 12, "IHDR", 4);
    ck_assert_uint_eq(be32(png + 16), 100);
    ck_assert_uint_eq(be32(png + 20), 8);
    while (pos + 12 <= len) {
        uint32_t n = be32(png + pos);
        if (memcmp(png + pos + 4, "IDAT", 4) == 0)
            idat_len += n;
        iend = memcmp(png + pos + 4, "IEND", 4) == 0;
        ck_assert_uint_eq(crc32_png(png + pos + 4, n + 4), be32(png + pos + 8 + n));
        pos += 12 + n;
    }
    ck_assert_uint_eq(pos, len);
    ck_assert_uint_gt(idat_len, 0);
    ck_assert_int_eq(iend, 1); /* tests/http/14-formats.sh inflates the rows */
    free(png);
    ck_assert_int_eq(png_encode_rgb(rgb, 0, 8, &png, &len), -1);
    ck_assert_int_eq(png_encode_rgb(rgb, 100, PNG_MAX_SIDE + 1, &png, &len), -1);
    free(rgb);
}
END_TEST

START_TEST(prometheus_text)
{
    struct metrics *m = metrics_new();
    struct metrics_gauges g = {{3, 1, 7, 0, 2}, 1, 4, 2};
    size_t len = 0;
    char *t;

    metrics_request(m, "/v1/jobs", 202, 0.003);
    metrics_request(m, "/v1/jobs", 202, 0.2);
    metrics_request(m, "/v1/jobs", 422, 30.0);
    metrics_request(m, NULL, 404, 0.0001);
    metrics_busy(m);
    metrics_points(m, 1000, 5000);
    metrics_points(m, 500, 6000);
    t = metrics_render(m, &g, 7500, &len);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(strlen(t), len);
    ck_assert_int_eq(t[len - 1], '\n');
    ck_assert_ptr_nonnull(strstr(t, "\ntrainbound_jobs{state=\"succeeded\"} 7\n"));
    ck_assert_ptr_nonnull(strstr(t, "\ntrainbound_queue_depth 3\n"));
    ck_assert_ptr_nonnull(strstr(t, "\ntrainbound_tiles_running 4\n"));
    ck_assert_ptr_nonnull(strstr(t, "\ntrainbound_sse_clients 2\n"));
    ck_assert_ptr_nonnull(strstr(t, "\ntrainbound_sqlite_busy_total 1\n"));
    ck_assert_ptr_nonnull(strstr(t, "\ntrainbound_points_computed_total 1500\n"));
    ck_assert_ptr_nonnull(strstr(t, "\ntrainbound_points_per_second 150\n"));
    ck_assert_ptr_nonnull(strstr(t, "\nhttp_requests_total{route=\"/v1/jobs\",code=\"202\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(t, "\nhttp_requests_total{route=\"unmatched\",code=\"404\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "\nhttp_request_duration_seconds_bucket{route=\"/v1/jobs\",le=\"0.005\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "\nhttp_request_duration_seconds_bucket{route=\"/v1/jobs\",le=\"0.25\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "\nhttp_request_duration_seconds_bucket{route=\"/v1/jobs\",le=\"10\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "\nhttp_request_duration_seconds_bucket{route=\"/v1/jobs\",le=\"+Inf\"} 3\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "\nhttp_request_duration_seconds_count{route=\"/v1/jobs\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(t, "# TYPE http_request_duration_seconds histogram\n"));
    free(t);
    g.have_jobs = 0; /* the store did not answer: no job gauges */
    t = metrics_render(m, &g, 7500, &len);
    ck_assert_ptr_null(strstr(t, "trainbound_jobs"));
    free(t);
    metrics_free(m);
    metrics_request(NULL, "/x", 200, 0.1); /* NULL is a no-op */
}
END_TEST

START_TEST(new_routes)
{
    struct route_match m;

    ck_assert_int_eq(router_match("GET", "/v1/jobs/7/events", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_JOB_EVENTS);
    ck_assert_int_eq(m.job_id, 7);
    ck_assert_int_eq(router_match("POST", "/v1/jobs/7/events", &m), ROUTER_EMETHOD);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/7/boundary.png", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_JOB_BOUNDARY);
    ck_assert_str_eq(m.name, "/v1/jobs/{id}/boundary.png");
    ck_assert_int_eq(router_match("GET", "/metrics", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_METRICS);
    ck_assert_int_eq(router_match("GET", "/openapi.json", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_OPENAPI_JSON);
    ck_assert_int_eq(router_match("GET", "/", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_WEB);
    ck_assert_int_eq(router_match("GET", "/web/app.js", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_WEB);
    ck_assert_str_eq(m.name, "/web/{file}");
    ck_assert_int_eq(router_match("POST", "/web/app.js", &m), ROUTER_EMETHOD);
    ck_assert_int_eq(router_match("GET", "/web/", &m), ROUTER_ENOTFOUND);
}
END_TEST

static const char *env_cors(const char *name)
{
    return strcmp(name, "TRAINBOUND_CORS_ORIGIN") == 0 ? "http://env.example" : NULL;
}

START_TEST(config_flags)
{
    struct serve_config c;
    char err[256];
    char *argv[] = {"serve",
                    "--cors-origin",
                    "http://a.example",
                    "--cors-origin=http://b.example,http://c.example",
                    "--sse-heartbeat",
                    "250"};
    char *bad[] = {"serve", "--sse-heartbeat", "5"};
    char *empty[] = {"serve", "--cors-origin", ""};

    config_defaults(&c);
    ck_assert_str_eq(c.cors_origin, "");
    ck_assert_int_eq(c.sse_heartbeat_ms, 15000);
    ck_assert_int_eq(config_parse(&c, 6, argv, env_cors, err, sizeof err), CONFIG_OK);
    /* The variable, then every flag, appended. */
    ck_assert_str_eq(c.cors_origin,
                     "http://env.example,http://a.example,http://b.example,http://c.example");
    ck_assert_int_eq(c.sse_heartbeat_ms, 250);
    config_defaults(&c);
    ck_assert_int_eq(config_parse(&c, 3, bad, NULL, err, sizeof err), CONFIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--sse-heartbeat"));
    config_defaults(&c);
    ck_assert_int_eq(config_parse(&c, 3, empty, NULL, err, sizeof err), CONFIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--cors-origin"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dash");
    TCase *tc = tcase_create("dash");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, cors_list);
    tcase_add_test(tc, png_roundtrip);
    tcase_add_test(tc, prometheus_text);
    tcase_add_test(tc, new_routes);
    tcase_add_test(tc, config_flags);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
