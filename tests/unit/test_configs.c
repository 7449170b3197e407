/* test_configs.c - IncrementalAlterConfigs' list APPEND and SUBTRACT
 * (server/handlers/configs.c) with Kafka's semantics: the value starts from
 * the current list (or the default), APPEND adds only what is missing, in
 * order, SUBTRACT removes one occurrence of each item, empty parts vanish. */
#include <string.h>

#include "testutil.h"

/* Not in a header: the handler keeps it internal; declared here for the test. */
int bk_config_list_apply(const char *cur, const char *items, int op, char *out, size_t outlen);

enum { APPEND = 2, SUBTRACT = 3 };

static const char *apply(const char *cur, const char *items, int op) {
    static char out[256];
    ck_assert_int_eq(bk_config_list_apply(cur, items, op, out, sizeof out), 0);
    return out;
}

START_TEST(append_adds_missing_items_in_order) {
    /* Kafka 4.0: cleanup.policy with no override, APPEND compact -> "delete,compact" */
    ck_assert_str_eq(apply("delete", "compact", APPEND), "delete,compact");
    ck_assert_str_eq(apply("delete,compact", "compact", APPEND), "delete,compact");
    ck_assert_str_eq(apply("a", "b,a,c", APPEND), "a,b,c");
    ck_assert_str_eq(apply("a", "b,b", APPEND), "a,b");
    ck_assert_str_eq(apply(NULL, "x", APPEND), "x");
    ck_assert_str_eq(apply("", "x,y", APPEND), "x,y");
}
END_TEST

START_TEST(subtract_removes_one_occurrence_each) {
    ck_assert_str_eq(apply("delete,compact", "delete", SUBTRACT), "compact");
    ck_assert_str_eq(apply("delete,compact", "compact,delete", SUBTRACT), "");
    ck_assert_str_eq(apply("a,b,a", "a", SUBTRACT), "b,a");
    ck_assert_str_eq(apply("a,b", "zzz", SUBTRACT), "a,b");
    ck_assert_str_eq(apply(NULL, "a", SUBTRACT), "");
}
END_TEST

START_TEST(empty_parts_are_dropped) {
    ck_assert_str_eq(apply("a,,b,", "", APPEND), "a,b");
    ck_assert_str_eq(apply(",a", ",c,", APPEND), "a,c");
    ck_assert_str_eq(apply("a,,b", ",", SUBTRACT), "a,b");
}
END_TEST

START_TEST(too_small_output_fails) {
    char out[5];
    ck_assert_int_eq(bk_config_list_apply("abc", "def", APPEND, out, sizeof out), -1);
    ck_assert_int_eq(bk_config_list_apply("ab", "c", APPEND, out, sizeof out), 0);
    ck_assert_str_eq(out, "ab,c");
    ck_assert_int_eq(bk_config_list_apply("a", "b", APPEND, out, 0), -1);
}
END_TEST

static Suite *configs_suite(void) {
    Suite *s = suite_create("configs");
    TCase *tc = tcase_create("list_ops");
    tcase_add_test(tc, append_adds_missing_items_in_order);
    tcase_add_test(tc, subtract_removes_one_occurrence_each);
    tcase_add_test(tc, empty_parts_are_dropped);
    tcase_add_test(tc, too_small_output_fails);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(configs_suite)
