/* test_raft_storage.c - a Raft replica's starting state read from a real partition log. */
#include "logutil.h"
#include "raft_fixture.h"
#include "testutil.h"

#include "protocol/err.h"

typedef struct fixture {
    char *dir;
    bk_storage *st;
    bk_log *log;
    bk_log_config cfg;
} fixture;

static void setup(fixture *f, const char *name) {
    f->dir = bk_tmpdir_make(name);
    f->st = bk_test_storage(f->dir, 0);
    ck_assert_ptr_nonnull(f->st);
    bk_log_config_defaults(&f->cfg);
    ck_assert_int_eq(bk_log_open(f->st, f->dir, "raft", 0, &f->cfg, &f->log), 0);
}

static void teardown(fixture *f) {
    bk_storage_close(f->st);
    bk_tmpdir_remove(f->dir);
}

/* Appends one batch of `records` records stamped with `epoch`; returns its base offset. */
static int64_t append(fixture *f, int records, int32_t epoch) {
    bk_wr w;
    bk_wr_init(&w, 0);
    bk_test_batch(&w, records, 16, 1000, 0, (unsigned)records);
    bk_append_result r;
    ck_assert_int_eq(bk_log_append(f->log, w.buf, w.len, epoch, &r), 0);
    bk_wr_free(&w);
    return r.first_offset;
}

static void start_from(fixture *f, bk_raft *r, int32_t term, int32_t vote, bk_raft_restore *rs) {
    static bk_raft_entry hist[BK_RAFT_HIST_MAX];
    ck_assert_int_eq(bk_raft_restore_from_log(f->log, term, vote, hist, rs), 0);
    bk_raft_config c = config(1, 3, 0);
    ck_assert_int_eq(bk_raft_init(r, &c, rs), 0);
}

START_TEST(test_empty_log) {
    fixture f;
    setup(&f, "raft_empty");
    bk_raft r;
    bk_raft_restore rs;
    start_from(&f, &r, 0, BK_RAFT_NONE, &rs);
    ck_assert_int_eq(rs.n_hist, 0);
    ck_assert_int_eq(r.log_start, 0);
    ck_assert_int_eq(r.log_end, 0);
    ck_assert_int_eq(r.commit, 0);
    ck_assert_int_eq(bk_raft_term_at(&r, 0), 0);
    teardown(&f);
}
END_TEST

START_TEST(test_pre_replication_prefix_and_terms) {
    fixture f;
    setup(&f, "raft_epochs");
    ck_assert_int_eq(append(&f, 5, 0), 0); /* a single-node broker's batches: epoch 0 */
    ck_assert_int_eq(append(&f, 5, 0), 5);
    ck_assert_int_eq(append(&f, 5, 1), 10);
    ck_assert_int_eq(append(&f, 5, 3), 15);
    ck_assert_int_eq(bk_test_flush(f.st, f.log, 20), 0);
    bk_raft r;
    bk_raft_restore rs;
    start_from(&f, &r, 2, 2, &rs); /* a term file behind the log */
    ck_assert_int_eq(r.term, 3);
    ck_assert_int_eq(r.vote, BK_RAFT_NONE);
    ck_assert_int_eq(r.log_start, 10); /* epoch-0 batches: a committed prefix */
    ck_assert_int_eq(r.commit, 10);
    ck_assert_int_eq(r.log_end, 20);
    ck_assert_int_eq(r.flushed, 20);
    ck_assert_int_eq(rs.n_hist, 2);
    ck_assert_int_eq(bk_raft_term_at(&r, 10), 0);
    ck_assert_int_eq(bk_raft_term_at(&r, 11), 1);
    ck_assert_int_eq(bk_raft_term_at(&r, 15), 1);
    ck_assert_int_eq(bk_raft_term_at(&r, 16), 3);
    ck_assert_int_eq(bk_raft_term_at(&r, 20), 3);
    int32_t found;
    int64_t end;
    bk_raft_epoch_end(&r, 2, &found, &end); /* what OffsetForLeaderEpoch answers */
    int32_t kfound;
    int64_t kend;
    bk_log_end_offset_for_epoch(f.log, 2, &kfound, &kend);
    ck_assert_int_eq(found, kfound);
    ck_assert_int_eq(end, kend);

    /* Elected, the replica's no-op is a batch of its term at the log end. */
    bk_raft_tick(&r, &out);
    tick_until(&r, BK_RAFT_PRECANDIDATE, 100);
    bk_raft_msg m = reply(BK_RAFT_MSG_PREVOTE_RESP, 2, 1, 4);
    m.ok = 1;
    bk_raft_step(&r, &m, &out);
    m = reply(BK_RAFT_MSG_VOTE_RESP, 2, 1, 4);
    m.ok = 1;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(r.role, BK_RAFT_LEADER);
    ck_assert_int_eq(out.acts[0].type, BK_RAFT_ACT_NOOP);
    ck_assert_int_eq(append(&f, 1, out.acts[0].term), out.acts[0].offset);
    ck_assert_int_eq(bk_log_end_offset(f.log), r.log_end);
    int64_t base = bk_raft_propose(&r, 3, &out);
    ck_assert_int_eq(append(&f, 3, r.term), base);
    ck_assert_int_eq(bk_log_end_offset(f.log), r.log_end);

    /* A restart reads the same history back. */
    bk_raft r2;
    start_from(&f, &r2, r.term, r.vote, &rs);
    ck_assert_int_eq(r2.log_end, 24);
    ck_assert_int_eq(r2.n_hist, 3);
    for (int64_t o = 10; o <= 24; o++)
        ck_assert_int_eq(bk_raft_term_at(&r2, o), bk_raft_term_at(&r, o));

    /* The follower's truncation, done by the log, is seen by the next start. */
    ck_assert_int_eq(bk_log_truncate(f.log, 15), 0);
    start_from(&f, &r2, 4, 1, &rs);
    ck_assert_int_eq(r2.log_end, 15);
    ck_assert_int_eq(rs.n_hist, 1);
    ck_assert_int_eq(bk_raft_term_at(&r2, 15), 1);
    teardown(&f);
}
END_TEST

START_TEST(test_only_pre_replication) {
    fixture f;
    setup(&f, "raft_prerepl");
    append(&f, 7, 0);
    bk_raft r;
    bk_raft_restore rs;
    start_from(&f, &r, 0, BK_RAFT_NONE, &rs);
    ck_assert_int_eq(r.log_start, 7);
    ck_assert_int_eq(r.log_end, 7);
    ck_assert_int_eq(r.commit, 7);
    ck_assert_int_eq(bk_raft_term_at(&r, 7), 0);
    teardown(&f);
}
END_TEST

START_TEST(test_more_terms_than_kept) {
    fixture f;
    setup(&f, "raft_manyterms");
    int terms = BK_RAFT_HIST_MAX + 6;
    for (int t = 1; t <= terms; t++)
        append(&f, 1, t);
    bk_raft r;
    bk_raft_restore rs;
    start_from(&f, &r, terms, 1, &rs);
    ck_assert_int_eq(rs.n_hist, BK_RAFT_HIST_MAX);
    ck_assert_int_eq(r.log_start, 6); /* the 6 oldest terms fold into a committed prefix */
    ck_assert_int_eq(r.commit, 6);
    ck_assert_int_eq(bk_raft_term_at(&r, 6), 6);
    ck_assert_int_eq(bk_raft_term_at(&r, 7), 7);
    ck_assert_int_eq(bk_raft_term_at(&r, terms), terms);
    ck_assert_int_eq(r.vote, 1);
    teardown(&f);
}
END_TEST

static Suite *raft_storage_suite(void) {
    Suite *s = suite_create("raft_storage");
    TCase *tc = tcase_create("restore");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_empty_log);
    tcase_add_test(tc, test_pre_replication_prefix_and_terms);
    tcase_add_test(tc, test_only_pre_replication);
    tcase_add_test(tc, test_more_terms_than_kept);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(raft_storage_suite)
