/* raft_storage.c - the core's durable starting state, read from a partition log (storage/). */
#include "replication/raft.h"

#include "protocol/err.h"
#include "storage/storage.h"

/*
 * The partition log is the Raft log: its leader-epoch history is the term
 * history, its log start, end and flushed offset are the core's. Batches
 * of epochs below 1 were written before replication (a single-node broker
 * stamps epoch 0); they have no Raft term, so the core starts its log after
 * them and treats them as committed, like a snapshot. When the history has
 * more terms than the core keeps, the oldest count as committed too (the
 * core only ever forgets committed terms, see bk_raft__hist_fold).
 */
int bk_raft_restore_from_log(const bk_log *log, int32_t term, int32_t vote, bk_raft_entry *hist,
                             bk_raft_restore *rs) {
    const bk_epoch_entry *ep;
    int n = bk_log_epochs(log, &ep);
    int64_t start = bk_log_start_offset(log), end = bk_log_end_offset(log);
    int first = 0; /* first epoch >= 1 that has batches */
    while (first < n && (ep[first].epoch < 1 || ep[first].start_offset >= end))
        first++;
    int last = n; /* epochs starting at or past the end hold no batch */
    while (last > first && ep[last - 1].start_offset >= end)
        last--;
    if (last - first > BK_RAFT_HIST_MAX) first = last - BK_RAFT_HIST_MAX;
    int32_t start_term = 0;
    for (int i = 0; i < n && ep[i].start_offset < start; i++)
        start_term = ep[i].epoch > 0 ? ep[i].epoch : 0; /* the epoch of offset start-1 */
    int64_t commit = 0;
    if (first < last && ep[first].start_offset > start &&
        (first == 0 || ep[first - 1].epoch < 1 || last - first == BK_RAFT_HIST_MAX)) {
        /* Pre-replication batches, or terms folded away, before it. */
        start_term = first > 0 && ep[first - 1].epoch > 0 ? ep[first - 1].epoch : 0;
        start = ep[first].start_offset;
        commit = start;
    } else if (first == last) {
        /* No batch of any term: whatever the log holds came before Raft. */
        start = end;
        commit = end;
    }
    int32_t newest = first < last ? ep[last - 1].epoch : 0;
    if (newest > term) { /* a term file behind the log: its vote is for an older term */
        term = newest;
        vote = BK_RAFT_NONE;
    }
    int n_hist = 0;
    for (int i = first; i < last; i++)
        hist[n_hist++] = (bk_raft_entry){
            .base = ep[i].start_offset, .last = ep[i].start_offset, .term = ep[i].epoch};
    *rs = (bk_raft_restore){.term = term,
                            .vote = vote,
                            .log_start = start,
                            .start_term = start_term,
                            .log_end = end,
                            .flushed_end = bk_log_flushed_offset(log),
                            .commit = commit,
                            .n_hist = n_hist,
                            .hist = hist};
    return 0;
}
