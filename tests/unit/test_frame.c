/* test_frame.c - frame size checks and request/response header versions. */
#include <string.h>

#include "protocol/frame.h"
#include "protocol/gen/messages.h"
#include "testutil.h"

START_TEST(frame_sizes) {
    size_t n;
    uint8_t b[4] = {0, 0, 1, 0};
    ck_assert_int_eq(bk_frame_check(b, 3, 1 << 20, &n), BK_ETRUNC);
    ck_assert_int_eq(bk_frame_check(b, 4, 1 << 20, &n), 0);
    ck_assert_uint_eq(n, 256 + 4);
    ck_assert_int_eq(bk_frame_check(b, 4, 255, &n), BK_ETOOBIG);
    ck_assert_int_eq(bk_frame_check(b, 4, 256, &n), 0);
    uint8_t neg[4] = {0x80, 0, 0, 0};
    ck_assert_int_eq(bk_frame_check(neg, 4, 1 << 20, &n), BK_EINVAL);
    uint8_t zero[4] = {0};
    ck_assert_int_eq(bk_frame_check(zero, 4, 1 << 20, &n), 0);
    ck_assert_uint_eq(n, 4);
}
END_TEST

START_TEST(header_versions) {
    const bk_api *av = bk_api_find(BK_API_API_VERSIONS);
    const bk_api *md = bk_api_find(BK_API_METADATA);
    ck_assert_int_eq(bk_req_header_version(av, 2), 1);
    ck_assert_int_eq(bk_req_header_version(av, 3), 2);
    ck_assert_int_eq(bk_req_header_version(av, 99), 2); /* too new: still flexible */
    ck_assert_int_eq(bk_resp_header_version(av, 3), 0); /* ApiVersions: always v0 */
    ck_assert_int_eq(bk_req_header_version(md, 8), 1);
    ck_assert_int_eq(bk_req_header_version(md, 9), 2);
    ck_assert_int_eq(bk_resp_header_version(md, 8), 0);
    ck_assert_int_eq(bk_resp_header_version(md, 9), 1);
}
END_TEST

/* librdkafka opens with ApiVersions v3 (header v2, client software name in
 * the body); these are the bytes after the size prefix. */
START_TEST(decode_flexible_request_header) {
    static const uint8_t frame[] = {
        0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07, /* key 18, v3, corr 7 */
        0x00, 0x04, 'k',  'c',  'a',  't',              /* client id, int16 length */
        0x00,                                           /* header tagged fields */
        0x05, 'k',  'c',  'a',  't',                    /* ClientSoftwareName */
        0x04, '1',  '.',  '7',                          /* ClientSoftwareVersion */
        0x00,                                           /* body tagged fields */
    };
    bk_arena arena;
    bk_arena_init(&arena, 0);
    bk_rd rd = bk_rd_init(frame, sizeof frame);
    bk_req_header h;
    ck_assert_int_eq(bk_req_header_decode(&rd, &arena, &h), 0);
    ck_assert_int_eq(h.api_key, 18);
    ck_assert_int_eq(h.api_version, 3);
    ck_assert_int_eq(h.correlation_id, 7);
    ck_assert_int_eq(h.header_version, 2);
    ck_assert(bk_str_eq(h.client_id, BK_STR_LIT("kcat")));
    ck_assert_ptr_eq(h.api, bk_api_find(18));
    bk_ApiVersionsRequest req;
    ck_assert_int_eq(bk_msg_decode(h.api->req, h.api_version, &rd, &arena, &req), 0);
    ck_assert(bk_str_eq(req.ClientSoftwareName, BK_STR_LIT("kcat")));
    ck_assert(bk_str_eq(req.ClientSoftwareVersion, BK_STR_LIT("1.7")));
    ck_assert_uint_eq(bk_rd_left(&rd), 0);

    /* Re-encoding the header gives the same bytes. */
    bk_wr wr;
    bk_wr_init(&wr, 0);
    ck_assert_int_eq(bk_req_header_encode(&wr, &h), 0);
    ck_assert_uint_eq(wr.len, 15);
    ck_assert_mem_eq(wr.buf, frame, 15);
    bk_wr_free(&wr);
    bk_arena_free(&arena);
}
END_TEST

START_TEST(unknown_api_and_short_headers) {
    static const uint8_t frame[] = {0x03, 0xe7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0xff, 0xff};
    bk_arena arena;
    bk_arena_init(&arena, 0);
    bk_req_header h;
    bk_rd rd = bk_rd_init(frame, sizeof frame);
    ck_assert_int_eq(bk_req_header_decode(&rd, &arena, &h), BK_EUNKNOWN_API);
    ck_assert_int_eq(h.api_key, 999);
    ck_assert_int_eq(h.correlation_id, 42);
    ck_assert_ptr_null(h.api);
    /* Every prefix of a valid v1 header fails cleanly. */
    static const uint8_t v1[] = {0x00, 0x03, 0x00, 0x08, 0x00, 0x00,
                                 0x00, 0x01, 0x00, 0x02, 'i',  'd'};
    for (size_t n = 0; n < sizeof v1; n++) {
        bk_rd prd = bk_rd_init(v1, n);
        ck_assert_int_ne(bk_req_header_decode(&prd, &arena, &h), 0);
    }
    bk_rd full = bk_rd_init(v1, sizeof v1);
    ck_assert_int_eq(bk_req_header_decode(&full, &arena, &h), 0);
    ck_assert_int_eq(h.header_version, 1);
    bk_arena_free(&arena);
}
END_TEST

START_TEST(response_frames) {
    bk_wr wr;
    bk_wr_init(&wr, 0);
    size_t start = bk_frame_begin(&wr);
    ck_assert_int_eq(bk_resp_header_encode(&wr, bk_api_find(BK_API_API_VERSIONS), 3, 5), 0);
    ck_assert_int_eq(bk_frame_end(&wr, start), 0);
    static const uint8_t want[] = {0, 0, 0, 4, 0, 0, 0, 5};
    ck_assert_uint_eq(wr.len, sizeof want);
    ck_assert_mem_eq(wr.buf, want, sizeof want);

    wr.len = 0;
    start = bk_frame_begin(&wr);
    ck_assert_int_eq(bk_resp_header_encode(&wr, bk_api_find(BK_API_METADATA), 12, 6), 0);
    ck_assert_int_eq(bk_frame_end(&wr, start), 0);
    static const uint8_t want_flex[] = {0, 0, 0, 5, 0, 0, 0, 6, 0};
    ck_assert_uint_eq(wr.len, sizeof want_flex);
    ck_assert_mem_eq(wr.buf, want_flex, sizeof want_flex);
    bk_wr_free(&wr);
}
END_TEST

static Suite *frame_suite(void) {
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("frame");
    tcase_add_test(tc, frame_sizes);
    tcase_add_test(tc, header_versions);
    tcase_add_test(tc, decode_flexible_request_header);
    tcase_add_test(tc, unknown_api_and_short_headers);
    tcase_add_test(tc, response_frames);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(frame_suite)
