/* raft_log.c - the core's view of the log: term history (epoch -> start offset) and lookups. */
#include "replication/raft_internal.h"

#include <stddef.h>

#include "protocol/err.h"

/*
 * The history is Kafka's leader-epoch checkpoint: one entry per term that
 * has entries, with the offset where that term starts, oldest first. It is
 * all the core needs to know about terms at offsets (dissertation 3.5: the
 * consistency check compares the term of the entry before the new ones).
 * Batches never mix terms, so a term's entries are one contiguous run.
 */

/* Records that `term` starts at `base` (the log end). Returns 0, or
 * BK_ENOMEM when the history is full of uncommitted terms. */
int bk_raft__hist_push(bk_raft *r, int32_t term, int64_t base) {
    if (r->n_hist > 0 && r->hist[r->n_hist - 1].term == term) return 0;
    if (r->n_hist == BK_RAFT_HIST_MAX) bk_raft__hist_fold(r);
    if (r->n_hist == BK_RAFT_HIST_MAX) return BK_ENOMEM;
    r->hist[r->n_hist].term = term;
    r->hist[r->n_hist].base = base;
    r->hist[r->n_hist].last = base;
    r->hist[r->n_hist].conf = NULL;
    r->n_hist++;
    return 0;
}

/* Forgets the terms of offsets >= end (the log was truncated there). */
void bk_raft__hist_truncate(bk_raft *r, int64_t end) {
    while (r->n_hist > 0 && r->hist[r->n_hist - 1].base >= end)
        r->n_hist--;
}

/*
 * Makes room by forgetting the oldest term, when the whole of it is
 * committed: the core then treats its log as starting where the next term
 * starts (as if a snapshot covered the rest), so a follower that needs
 * those offsets gets a SNAPSHOT. Committed entries never change, so this
 * loses nothing the protocol relies on.
 */
void bk_raft__hist_fold(bk_raft *r) {
    if (r->n_hist < 2 || r->hist[1].base > r->commit) return;
    r->start_term = r->hist[0].term;
    r->log_start = r->hist[1].base;
    for (int i = 1; i < r->n_hist; i++)
        r->hist[i - 1] = r->hist[i];
    r->n_hist--;
}

int32_t bk_raft_term_at(const bk_raft *r, int64_t end) {
    if (end > r->log_end || end < r->log_start) return -1;
    if (end == r->log_start) return r->start_term;
    int64_t off = end - 1;
    for (int i = r->n_hist - 1; i >= 0; i--)
        if (r->hist[i].base <= off) return r->hist[i].term;
    return r->start_term; /* offsets before the first recorded term */
}

/* Where the term of the entry at end-1 starts (log_start when unknown). */
int64_t bk_raft__term_start(const bk_raft *r, int64_t end) {
    int64_t off = end - 1;
    for (int i = r->n_hist - 1; i >= 0; i--)
        if (r->hist[i].base <= off) return bk_raft__max(r->hist[i].base, r->log_start);
    return r->log_start;
}

void bk_raft_epoch_end(const bk_raft *r, int32_t term, int32_t *found, int64_t *end) {
    for (int i = r->n_hist - 1; i >= 0; i--) {
        if (r->hist[i].term <= term) {
            *found = r->hist[i].term;
            *end = i + 1 < r->n_hist ? r->hist[i + 1].base : r->log_end;
            return;
        }
    }
    /* No recorded term <= term: only the run before the history can match. */
    if (r->start_term <= term) {
        *found = r->start_term;
        *end = r->n_hist > 0 ? bk_raft__max(r->hist[0].base, r->log_start) : r->log_end;
    } else {
        *found = 0;
        *end = r->log_start;
    }
}

/* Election restriction (dissertation 3.6.1): grant only to a candidate
 * whose log is at least as up to date as ours. */
int bk_raft__up_to_date(const bk_raft *r, int32_t log_term, int64_t log_end) {
    int32_t mine = bk_raft_term_at(r, r->log_end);
#if defined(BK_RAFT_BUG_VOTE_STALE_LOG)
    (void)mine, (void)log_term, (void)log_end;
    return 1;
#elif defined(BK_RAFT_BUG_VOTE_LONGER_LOG)
    (void)mine, (void)log_term;
    return log_end >= r->log_end;
#endif
    return log_term > mine || (log_term == mine && log_end >= r->log_end);
}
