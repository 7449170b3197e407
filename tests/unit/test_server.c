/* test_server.c - the server's small pieces: the handler table against the
 * codec's API table, topic name rules, topic id text, and the hash map. */
#include <string.h>

#include "server/server.h"
#include "testutil.h"

START_TEST(test_handler_table) {
    int n;
    const bk_handler *hs = bk_handlers(&n);
    ck_assert_int_gt(n, 10);
    for (int i = 0; i < n; i++) {
        const bk_api *api = bk_api_by_key[hs[i].key];
        ck_assert_ptr_nonnull(api);
        /* Served versions are ones the codec can decode, and the newest
         * version Kafka marks unstable is never served. */
        ck_assert_int_ge(hs[i].min_version, api->valid.lo);
        ck_assert_int_le(hs[i].max_version, api->valid.hi - (api->unstable_latest ? 1 : 0));
        ck_assert_int_le(hs[i].advertised_min, hs[i].min_version);
        if (i) ck_assert_int_lt(hs[i - 1].key, hs[i].key); /* key order, no duplicates */
        ck_assert_ptr_eq(bk_handler_find(hs[i].key), &hs[i]);
        if (hs[i].key != BK_API_PRODUCE) ck_assert_int_eq(hs[i].advertised_min, hs[i].min_version);
    }
    /* The librdkafka quirk: Produce advertised from v0, served from v3. */
    const bk_handler *p = bk_handler_find(BK_API_PRODUCE);
    ck_assert_int_eq(p->advertised_min, 0);
    ck_assert_int_eq(p->min_version, 3);
    ck_assert_ptr_null(bk_handler_find(BK_API_SHARE_GROUP_HEARTBEAT)); /* not implemented: not advertised */
}
END_TEST

START_TEST(test_topic_names) {
    ck_assert_ptr_null(bk_topic_name_invalid(BK_STR_LIT("orders.v1_EU-2")));
    ck_assert_ptr_nonnull(bk_topic_name_invalid(BK_STR_LIT("")));
    ck_assert_ptr_nonnull(bk_topic_name_invalid(BK_STR_LIT(".")));
    ck_assert_ptr_nonnull(bk_topic_name_invalid(BK_STR_LIT("..")));
    ck_assert_ptr_null(bk_topic_name_invalid(BK_STR_LIT("...")));
    ck_assert_ptr_nonnull(bk_topic_name_invalid(BK_STR_LIT("a/b")));
    ck_assert_ptr_nonnull(bk_topic_name_invalid(BK_STR_LIT("a b")));
    char longname[251];
    memset(longname, 'x', sizeof longname);
    ck_assert_ptr_null(bk_topic_name_invalid((bk_str){longname, 249}));
    ck_assert_ptr_nonnull(bk_topic_name_invalid((bk_str){longname, 250}));
}
END_TEST

START_TEST(test_uuid_text) {
    /* Kafka prints ids as unpadded base64url of the 16 bytes. */
    bk_uuid u;
    for (int i = 0; i < 16; i++)
        u.b[i] = (uint8_t)(i * 17);
    char s[23];
    bk_uuid_str(&u, s);
    ck_assert_str_eq(s, "ABEiM0RVZneImaq7zN3u_w");
    for (int i = 0; i < 1000; i++) {
        bk_uuid_random(&u);
        bk_uuid_str(&u, s);
        ck_assert_int_eq(strlen(s), 22);
        ck_assert_int_ne(s[0], '-');
        static const bk_uuid zero;
        ck_assert_int_ne(memcmp(&u, &zero, sizeof u), 0);
    }
}
END_TEST

START_TEST(test_map) {
    bk_map m = {0};
    enum { N = 5000 };
    static char keys[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "key-%d", i);
        ck_assert_int_eq(bk_map_put(&m, keys[i], strlen(keys[i]), keys[i]), 0);
    }
    ck_assert_uint_eq(m.n, N);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_eq(bk_map_get(&m, keys[i], strlen(keys[i])), keys[i]);
    ck_assert_ptr_null(bk_map_get(&m, "key-x", 5));
    for (int i = 0; i < N; i += 2)
        bk_map_del(&m, keys[i], strlen(keys[i]));
    for (int i = 0; i < N; i++)
        ck_assert_ptr_eq(bk_map_get(&m, keys[i], strlen(keys[i])), i % 2 ? keys[i] : NULL);
    /* Churn: deletes and re-inserts must not fill the table with tombstones. */
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i += 2)
            ck_assert_int_eq(bk_map_put(&m, keys[i], strlen(keys[i]), keys[i]), 0);
        for (int i = 0; i < N; i += 2)
            bk_map_del(&m, keys[i], strlen(keys[i]));
    }
    ck_assert_uint_eq(m.n, N / 2);
    ck_assert_uint_le(m.cap, 4 * N);
    int replaced = 7;
    ck_assert_int_eq(bk_map_put(&m, keys[1], strlen(keys[1]), &replaced), 0);
    ck_assert_ptr_eq(bk_map_get(&m, keys[1], strlen(keys[1])), &replaced);
    ck_assert_uint_eq(m.n, N / 2);
    bk_map_free(&m);
}
END_TEST

static Suite *server_suite(void) {
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_handler_table);
    tcase_add_test(tc, test_topic_names);
    tcase_add_test(tc, test_uuid_text);
    tcase_add_test(tc, test_map);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(server_suite)
