/* testutil.h - shared scaffolding for Check unit tests: each test_*.c is its own program. */
#ifndef BK_TESTUTIL_H
#define BK_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Defines main() running one suite; prints Check's summary and exits 0 only
 * when every test passed. */
#define BK_TEST_MAIN(suite_fn)                                                                     \
    int main(void) {                                                                               \
        SRunner *sr = srunner_create(suite_fn());                                                  \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        int failed = srunner_ntests_failed(sr);                                                    \
        int run = srunner_ntests_run(sr);                                                          \
        srunner_free(sr);                                                                          \
        printf("BK-RESULT %d %d\n", run - failed, failed);                                         \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                               \
    }

/* Deterministic PRNG for tests (splitmix64): same seed, same sequence. */
static inline unsigned long long bk_test_rand(unsigned long long *state) {
    unsigned long long z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
