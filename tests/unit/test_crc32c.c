/* test_crc32c.c - CRC-32C: published vectors, streaming, combine, hardware against portable. */
#include "crc32c.h"
#include "testutil.h"

#include <string.h>

/* Bit-at-a-time reference, independent of the tables and instructions. */
static uint32_t ref_crc32c(uint32_t crc, const uint8_t *p, size_t len) {
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int i = 0; i < 8; i++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

static void fill_random(uint8_t *p, size_t n, unsigned long long *seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)bk_test_rand(seed);
}

/* Runs the check under the best implementation, then under the portable one. */
#define FOR_BOTH_IMPLS(var) for (int var = 0; var < 2; bk_crc32c_force_portable(++var == 1))

START_TEST(test_vectors) {
    uint8_t buf[48];
    FOR_BOTH_IMPLS(portable) {
        ck_assert_uint_eq(bk_crc32c(0, "123456789", 9), 0xe3069283u);
        ck_assert_uint_eq(bk_crc32c(0, "", 0), 0);
        ck_assert_uint_eq(bk_crc32c(0, "a", 1), 0xc1d04330u);
        /* RFC 3720, appendix B.4 */
        memset(buf, 0, 32);
        ck_assert_uint_eq(bk_crc32c(0, buf, 32), 0x8a9136aau);
        memset(buf, 0xff, 32);
        ck_assert_uint_eq(bk_crc32c(0, buf, 32), 0x62a8ab43u);
        for (int i = 0; i < 32; i++)
            buf[i] = (uint8_t)i;
        ck_assert_uint_eq(bk_crc32c(0, buf, 32), 0x46dd794eu);
        for (int i = 0; i < 32; i++)
            buf[i] = (uint8_t)(31 - i);
        ck_assert_uint_eq(bk_crc32c(0, buf, 32), 0x113fdb5cu);
        static const uint8_t iscsi_read[48] = {
            0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
            0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
        ck_assert_uint_eq(bk_crc32c(0, iscsi_read, 48), 0xd9963a56u);
    }
}
END_TEST

START_TEST(test_impl_switch) {
    bk_crc32c_force_portable(1);
    ck_assert_str_eq(bk_crc32c_impl(), "portable");
    bk_crc32c_force_portable(0);
    const char *impl = bk_crc32c_impl();
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) ck_assert_str_eq(impl, "sse4.2");
#endif
    printf("crc32c implementation: %s\n", impl);
}
END_TEST

START_TEST(test_streaming) {
    unsigned long long seed = 1;
    uint8_t buf[1200];
    fill_random(buf, sizeof buf, &seed);
    FOR_BOTH_IMPLS(portable) {
        uint32_t whole = bk_crc32c(0, buf, sizeof buf);
        ck_assert_uint_eq(whole, ref_crc32c(0, buf, sizeof buf));
        for (size_t cut = 0; cut <= sizeof buf; cut++) {
            uint32_t c = bk_crc32c(0, buf, cut);
            ck_assert_uint_eq(bk_crc32c(c, buf + cut, sizeof buf - cut), whole);
        }
    }
}
END_TEST

/* Random lengths and alignments, across the 3-stream thresholds of the
 * hardware paths (768 and 24576 bytes), against the bitwise reference. */
START_TEST(test_random_lengths_alignments) {
    unsigned long long seed = 42;
    enum { MAX = 3 * 3 * 8192 + 64 };
    uint8_t *buf = malloc(MAX + 16);
    ck_assert_ptr_nonnull(buf);
    fill_random(buf, MAX + 16, &seed);
    static const size_t edges[] = {0,     1,     7,     8,     9,     767,   768,
                                   769,   1535,  1536,  1543,  24575, 24576, 24577,
                                   25344, 49152, 49159, 73727, 73728, MAX};
    for (int i = 0; i < 400; i++) {
        size_t len =
            i < (int)(sizeof edges / sizeof edges[0]) ? edges[i] : bk_test_rand(&seed) % MAX;
        size_t align = bk_test_rand(&seed) % 16;
        uint32_t init = (i & 1) ? (uint32_t)bk_test_rand(&seed) : 0;
        uint32_t want = ref_crc32c(init, buf + align, len);
        bk_crc32c_force_portable(0);
        uint32_t hw = bk_crc32c(init, buf + align, len);
        bk_crc32c_force_portable(1);
        uint32_t sw = bk_crc32c(init, buf + align, len);
        bk_crc32c_force_portable(0);
        ck_assert_msg(hw == want && sw == want,
                      "len %zu align %zu: best %08x portable %08x want %08x", len, align, hw, sw,
                      want);
    }
    free(buf);
}
END_TEST

START_TEST(test_combine) {
    unsigned long long seed = 7;
    uint8_t buf[5000];
    fill_random(buf, sizeof buf, &seed);
    for (int i = 0; i < 200; i++) {
        size_t len = bk_test_rand(&seed) % sizeof buf;
        size_t cut = len ? bk_test_rand(&seed) % (len + 1) : 0;
        uint32_t a = bk_crc32c(0, buf, cut), b = bk_crc32c(0, buf + cut, len - cut);
        ck_assert_uint_eq(bk_crc32c_combine(a, b, len - cut), bk_crc32c(0, buf, len));
    }
    /* A difference of a few bytes followed by zeros moves the CRC by the
     * shifted CRC of the difference: the identity the batch patch relies on. */
    uint8_t patched[5000];
    memcpy(patched, buf, sizeof buf);
    patched[10] ^= 0x5a;
    patched[11] ^= 0x01;
    uint8_t diff[2] = {0x5a, 0x01}, zeros[2] = {0, 0};
    uint32_t d = bk_crc32c(0, diff, 2) ^ bk_crc32c(0, zeros, 2);
    uint32_t moved =
        bk_crc32c(0, buf + 10, sizeof buf - 10) ^ bk_crc32c_combine(d, 0, sizeof buf - 12);
    ck_assert_uint_eq(moved, bk_crc32c(0, patched + 10, sizeof buf - 10));
}
END_TEST

static Suite *crc32c_suite(void) {
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_vectors);
    tcase_add_test(tc, test_impl_switch);
    tcase_add_test(tc, test_streaming);
    tcase_add_test(tc, test_random_lengths_alignments);
    tcase_add_test(tc, test_combine);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(crc32c_suite)
