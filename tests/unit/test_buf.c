/* test_buf.c - wire primitives: bounds, varints, strings, array counts, the writer. */
#include <string.h>

#include "protocol/arena.h"
#include "protocol/buf.h"
#include "testutil.h"

START_TEST(fixed_width_and_sticky_error) {
    static const uint8_t b[] = {0x80, 0x01, 0x02, 0x03, 0x04, 0x05};
    bk_rd rd = bk_rd_init(b, sizeof b);
    ck_assert_int_eq(bk_rd_i8(&rd), -128);
    ck_assert_int_eq(bk_rd_i16(&rd), 0x0102);
    ck_assert_int_eq(bk_rd_i32(&rd), 0); /* only 3 bytes left */
    ck_assert_int_eq(rd.err, BK_ETRUNC);
    ck_assert_uint_eq(bk_rd_left(&rd), 0);
    ck_assert_int_eq(bk_rd_i8(&rd), 0); /* sticky */
    ck_assert_int_eq(rd.err, BK_ETRUNC);
}
END_TEST

START_TEST(varints) {
    bk_wr wr;
    bk_wr_init(&wr, 0);
    static const int64_t vals[] = {0,   1,         -1,        63,        -64,      64,
                                   300, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        bk_wr_varlong(&wr, vals[i]);
    bk_wr_varint(&wr, INT32_MIN);
    bk_wr_uvarint(&wr, UINT32_MAX);
    bk_rd rd = bk_rd_init(wr.buf, wr.len);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        ck_assert(bk_rd_varlong(&rd) == vals[i]);
    ck_assert_int_eq(bk_rd_varint(&rd), INT32_MIN);
    ck_assert_uint_eq(bk_rd_uvarint(&rd), UINT32_MAX);
    ck_assert_int_eq(rd.err, 0);
    ck_assert_uint_eq(bk_rd_left(&rd), 0);
    ck_assert_uint_eq(bk_varint_size(-1), 1);
    ck_assert_uint_eq(bk_varint_size(64), 2);
    ck_assert_uint_eq(bk_uvarint_size(UINT32_MAX), 5);
    ck_assert_uint_eq(bk_varlong_size(INT64_MIN), 10);
    bk_wr_free(&wr);

    /* Too long: a sixth byte for a 32-bit varint, and bits above 32. */
    static const uint8_t long6[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    rd = bk_rd_init(long6, sizeof long6);
    bk_rd_uvarint(&rd);
    ck_assert_int_eq(rd.err, BK_EINVAL);
    static const uint8_t high[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    rd = bk_rd_init(high, sizeof high);
    bk_rd_uvarint(&rd);
    ck_assert_int_eq(rd.err, BK_EINVAL);
    static const uint8_t trunc[] = {0x80, 0x80};
    rd = bk_rd_init(trunc, sizeof trunc);
    bk_rd_uvarlong(&rd);
    ck_assert_int_eq(rd.err, BK_ETRUNC);
}
END_TEST

START_TEST(strings_and_bytes) {
    bk_wr wr;
    bk_wr_init(&wr, 0);
    bk_wr_str(&wr, BK_STR_LIT("abc"));
    bk_wr_str(&wr, BK_STR_NULL);
    bk_wr_cstr(&wr, BK_STR_LIT(""));
    bk_wr_cstr(&wr, BK_STR_NULL);
    bk_wr_bytes(&wr, (bk_bytes){(const uint8_t *)"xy", 2});
    bk_wr_cbytes(&wr, BK_BYTES_NULL);
    static const uint8_t want[] = {0, 3, 'a', 'b', 'c', 0xff, 0xff, 1, 0, 0, 0, 0, 2, 'x', 'y', 0};
    ck_assert_uint_eq(wr.len, sizeof want);
    ck_assert_mem_eq(wr.buf, want, sizeof want);
    bk_rd rd = bk_rd_init(wr.buf, wr.len);
    ck_assert(bk_str_eq(bk_rd_str(&rd), BK_STR_LIT("abc")));
    ck_assert_int_eq(bk_rd_str(&rd).len, -1);
    bk_str e = bk_rd_cstr(&rd);
    ck_assert_int_eq(e.len, 0);
    ck_assert_int_eq(bk_rd_cstr(&rd).len, -1);
    ck_assert_int_eq(bk_rd_bytes(&rd).len, 2);
    ck_assert_int_eq(bk_rd_cbytes(&rd).len, -1);
    ck_assert_int_eq(rd.err, 0);
    bk_wr_free(&wr);

    /* A length beyond the buffer, a negative length other than -1. */
    static const uint8_t lie[] = {0x00, 0x09, 'a'};
    rd = bk_rd_init(lie, sizeof lie);
    bk_rd_str(&rd);
    ck_assert_int_eq(rd.err, BK_ETRUNC);
    static const uint8_t neg[] = {0xff, 0xfe};
    rd = bk_rd_init(neg, sizeof neg);
    bk_rd_str(&rd);
    ck_assert_int_eq(rd.err, BK_EINVAL);
    static const uint8_t negb[] = {0xff, 0xff, 0xff, 0x00};
    rd = bk_rd_init(negb, sizeof negb);
    bk_rd_bytes(&rd);
    ck_assert_int_eq(rd.err, BK_EINVAL);
}
END_TEST

START_TEST(array_counts_are_bounded) {
    static const uint8_t big[] = {0x00, 0x00, 0x01, 0x00, 1, 2, 3};
    bk_rd rd = bk_rd_init(big, sizeof big);
    bk_rd_array_len(&rd); /* 256 elements in 3 bytes */
    ck_assert_int_eq(rd.err, BK_ETRUNC);
    static const uint8_t null[] = {0xff, 0xff, 0xff, 0xff};
    rd = bk_rd_init(null, sizeof null);
    ck_assert_int_eq(bk_rd_array_len(&rd), -1);
    ck_assert_int_eq(rd.err, 0);
    static const uint8_t bad[] = {0xff, 0xff, 0xff, 0xfe};
    rd = bk_rd_init(bad, sizeof bad);
    bk_rd_array_len(&rd);
    ck_assert_int_eq(rd.err, BK_EINVAL);
    static const uint8_t compact[] = {0x03, 1, 2};
    rd = bk_rd_init(compact, sizeof compact);
    ck_assert_int_eq(bk_rd_carray_len(&rd), 2);
}
END_TEST

START_TEST(writer_grows_and_hands_over) {
    bk_wr wr;
    bk_wr_init(&wr, 1);
    for (int i = 0; i < 10000; i++)
        bk_wr_i32(&wr, i);
    ck_assert_int_eq(wr.err, 0);
    ck_assert_uint_eq(wr.len, 40000);
    ck_assert_uint_eq(bk_load_be32(wr.buf + 4 * 9999), 9999);
    size_t len;
    uint8_t *buf = bk_wr_take(&wr, &len);
    ck_assert_uint_eq(len, 40000);
    ck_assert_ptr_null(wr.buf);
    free(buf);
}
END_TEST

START_TEST(arena_cap) {
    bk_arena a;
    bk_arena_init(&a, 10000);
    ck_assert_ptr_nonnull(bk_arena_alloc(&a, 5000));
    ck_assert_ptr_null(bk_arena_alloc(&a, 6000));
    void *p = bk_arena_alloc(&a, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 16, 0);
    bk_arena_reset(&a);
    ck_assert_ptr_nonnull(bk_arena_alloc(&a, 9000));
    bk_arena_free(&a);
}
END_TEST

static Suite *buf_suite(void) {
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, fixed_width_and_sticky_error);
    tcase_add_test(tc, varints);
    tcase_add_test(tc, strings_and_bytes);
    tcase_add_test(tc, array_counts_are_bounded);
    tcase_add_test(tc, writer_grows_and_hands_over);
    tcase_add_test(tc, arena_cap);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(buf_suite)
