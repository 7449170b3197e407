/* raft.h - the Raft core: one group's consensus as a pure state machine (no I/O, no clock). */
#ifndef BK_RAFT_H
#define BK_RAFT_H

#include <stdint.h>

/*
 * One bk_raft is one replica of one Raft group (a partition's replica set,
 * or the controller quorum). It never reads a clock, a socket or a file and
 * never allocates: the caller owns the bk_raft and the bk_raft_out it hands
 * to every call, and feeds it three kinds of input:
 *
 *   - messages from peers          bk_raft_step
 *   - the passage of time          bk_raft_tick (one tick, the caller's unit)
 *   - completions of storage work  bk_raft_flushed (a durable prefix)
 *
 * plus requests from its own node (bk_raft_propose, bk_raft_transfer,
 * bk_raft_change, bk_raft_set_log_start). Every call fills `out` afresh with what the caller must
 * do, in this order:
 *
 *   1. out->persist: write term and vote durably (before anything is sent);
 *   2. out->acts[]: change the log (truncate, append, install), in order;
 *   3. out->flush_to: request a flush of everything below it (group commit;
 *      report the result with bk_raft_flushed, possibly much later);
 *   4. out->msgs[]: send (or drop: the network may lose anything);
 *   5. out->commit, out->role: the high watermark and leadership for the
 *      broker.
 *
 * The log. Entries are record batches: an offset range [base, last] and a
 * term (the batch's partitionLeaderEpoch). The core keeps only the term
 * history (term -> start offset, the leader-epoch checkpoint), the log's
 * start and end and the durable end; batch bytes stay with the caller. The
 * core assumes that an append or truncate in out->acts has happened (in the
 * page cache at least) when the next input arrives; durability is only what
 * bk_raft_flushed reports.
 *
 * Offsets: a log holds [log_start, log_end); "end" is always exclusive.
 * Terms start at 1; term 0 is "before any entry".
 */

#define BK_RAFT_NODES_MAX    8  /* voters + learners of one group */
#define BK_RAFT_HIST_MAX     64 /* term history entries kept (older, committed ones fold) */
#define BK_RAFT_INFLIGHT_MAX 32 /* pipelined appends per follower */
#define BK_RAFT_OUT_MSGS_MAX 48 /* messages per call */
#define BK_RAFT_OUT_ACTS_MAX 4  /* log changes per call */
#define BK_RAFT_NONE         (-1)
#define BK_RAFT_TERM_MAX     (INT32_MAX / 2) /* no real group gets there: larger is nonsense */

typedef enum bk_raft_role {
    BK_RAFT_FOLLOWER = 0,
    BK_RAFT_PRECANDIDATE, /* pre-vote round (dissertation 9.6): term unchanged */
    BK_RAFT_CANDIDATE,
    BK_RAFT_LEADER,
} bk_raft_role;

/* Membership: voters count toward elections and commit; learners only
 * receive the log (dissertation 4.2.1). */
typedef struct bk_raft_member {
    int32_t id;
    uint8_t voter;
} bk_raft_member;

typedef struct bk_raft_membership {
    int n;
    bk_raft_member members[BK_RAFT_NODES_MAX];
} bk_raft_membership;

typedef struct bk_raft_entry {
    int64_t base; /* first offset of the batch */
    int64_t last; /* last offset, >= base */
    int32_t term;
    /* A membership change (a one-offset control batch), else NULL; the
     * shell decodes it from the batch (dissertation 4.1: it takes effect
     * as soon as it is in the log). */
    const bk_raft_membership *conf;
} bk_raft_entry;

typedef enum bk_raft_msg_type {
    BK_RAFT_MSG_NONE = 0,
    BK_RAFT_MSG_PREVOTE,
    BK_RAFT_MSG_PREVOTE_RESP,
    BK_RAFT_MSG_VOTE,
    BK_RAFT_MSG_VOTE_RESP,
    BK_RAFT_MSG_APPEND,
    BK_RAFT_MSG_APPEND_RESP,
    BK_RAFT_MSG_HEARTBEAT, /* term and commit only: the shell may coalesce per peer */
    BK_RAFT_MSG_HEARTBEAT_RESP,
    BK_RAFT_MSG_TIMEOUT_NOW, /* leadership transfer: campaign at once */
    BK_RAFT_MSG_SNAPSHOT,    /* the receiver's log restarts at snap_end */
    BK_RAFT_MSG_TYPES
} bk_raft_msg_type;

/*
 * A message. Only the fields of its type mean anything; the others are 0.
 * Nothing in a received message is trusted: a malformed or nonsensical one
 * is ignored.
 */
typedef struct bk_raft_msg {
    uint8_t type;
    uint8_t ok;       /* *_RESP: granted / accepted */
    uint8_t transfer; /* VOTE: sent after TIMEOUT_NOW, so the leader lease does not apply */
    int32_t from, to;
    int32_t term;     /* sender's term (PREVOTE: the term it would campaign in) */
    int64_t log_end;  /* (PRE)VOTE: candidate's log end */
    int32_t log_term; /* (PRE)VOTE: term of the candidate's last entry */
    /* APPEND: the shell attaches the batches covering [prev_end, to_end)
     * (from the one holding prev_end); prev_term is the term at prev_end-1.
     * SNAPSHOT: the sender's log start as prev_end, its term as prev_term. */
    int64_t prev_end;
    int32_t prev_term;
    int64_t to_end;
    int64_t commit;      /* APPEND, HEARTBEAT: commit index, never past what matches */
    int64_t match_end;   /* APPEND_RESP ok: end of the prefix known to match the leader */
    int64_t flushed_end; /* APPEND_RESP ok: durable part of that prefix */
    /* APPEND_RESP refused: the receiver's term at hint_end-1, where that
     * term starts in its log, and min(prev_end, its log end). */
    int32_t hint_term;
    int64_t hint_start;
    int64_t hint_end;
    uint32_t n_entries;             /* APPEND as received */
    const bk_raft_entry *entries;   /* borrowed for the duration of bk_raft_step */
    const bk_raft_membership *conf; /* SNAPSHOT: membership at prev_end (borrowed) */
} bk_raft_msg;

typedef enum bk_raft_act_type {
    BK_RAFT_ACT_TRUNCATE = 1, /* remove every offset >= offset */
    BK_RAFT_ACT_APPEND,       /* append entries[first, first+count) of the message just stepped */
    BK_RAFT_ACT_NOOP,         /* leader: append an empty (control) batch at offset with term */
    BK_RAFT_ACT_INSTALL,      /* drop the whole log; it restarts empty at offset (snapshot) */
    BK_RAFT_ACT_CONFIG,       /* leader: append a membership batch `conf` at offset with term */
} bk_raft_act_type;

typedef struct bk_raft_act {
    uint8_t type;
    int32_t term;
    int64_t offset;
    uint32_t first, count;
    const bk_raft_membership *conf; /* CONFIG, INSTALL: valid until the next call */
} bk_raft_act;

typedef struct bk_raft_out {
    uint8_t persist; /* term/vote changed */
    int32_t term, vote;
    int n_acts;
    bk_raft_act acts[BK_RAFT_OUT_ACTS_MAX];
    int64_t flush_to; /* -1: none */
    int64_t commit;
    uint8_t commit_changed;
    uint8_t role_changed;
    bk_raft_role role;
    int32_t leader; /* BK_RAFT_NONE when unknown */
    int n_msgs;
    bk_raft_msg msgs[BK_RAFT_OUT_MSGS_MAX];
} bk_raft_out;

typedef struct bk_raft_config {
    int32_t self;
    int n_members; /* the initial membership (before any change in the log) */
    bk_raft_member members[BK_RAFT_NODES_MAX];
    int32_t election_ticks;       /* timeouts are drawn from [election_ticks, 2*election_ticks) */
    int32_t heartbeat_ticks;      /* < election_ticks */
    uint32_t inflight_max;        /* appends in flight per follower (<= BK_RAFT_INFLIGHT_MAX) */
    int64_t inflight_offsets_max; /* offsets in flight per follower */
    int64_t append_offsets_max;   /* offsets asked for in one APPEND */
    uint64_t seed;                /* the caller's seeded randomness for timeouts */
} bk_raft_config;

/* Durable state found at start: the term/vote file, the log's extent, its
 * leader-epoch history (oldest first) and what of it is known durable. */
typedef struct bk_raft_restore {
    int32_t term;
    int32_t vote;
    int64_t log_start;
    int32_t start_term; /* term at log_start-1 (0 when log_start is 0) */
    int64_t log_end;
    int64_t flushed_end;
    int64_t commit; /* a persisted commit index, or 0 */
    int n_hist;
    const bk_raft_entry *hist; /* base = epoch start offset; last unused */
    /* The newest membership batch in the log (or in force at its start)
     * and the one before it; NULL: the initial membership of the config. */
    const bk_raft_membership *conf;
    int64_t conf_offset;
    const bk_raft_membership *prev_conf;
    int64_t prev_conf_offset;
} bk_raft_restore;

typedef struct bk_raft_progress {
    int32_t id;
    uint8_t voter;
    uint8_t active;   /* heard from in this check-quorum round */
    uint8_t probing;  /* one append at a time until an ack says where it is */
    uint8_t snapshot; /* a SNAPSHOT is on its way */
    int64_t next;     /* next offset to send */
    int64_t match;    /* prefix known to match */
    int64_t flushed;  /* durable part of match: what counts toward commit */
    int32_t stall_ticks;
    uint32_t in_head, in_n;
    int64_t inflight[BK_RAFT_INFLIGHT_MAX]; /* to_end of each append in flight */
} bk_raft_progress;

typedef struct bk_raft {
    bk_raft_config cfg;
    /* membership: the newest in the log, and the one before it (to go
     * back to if the newest is truncated; it is committed) */
    bk_raft_membership conf, prev_conf;
    int64_t conf_offset, prev_conf_offset; /* -1: the initial one */
    /* persistent */
    int32_t term, vote;
    /* volatile */
    bk_raft_role role;
    int32_t leader;
    int64_t commit;
    int64_t log_start, log_end, flushed, flush_asked;
    int32_t start_term;
    int n_hist;
    bk_raft_entry hist[BK_RAFT_HIST_MAX];
    int64_t verified_end; /* follower: prefix known to match the current leader */
    int32_t elapsed, timeout, hb_elapsed;
    uint32_t votes, prevotes, refusals; /* bitmaps over members[] */
    int32_t transfer_to;                /* leader: transferring leadership */
    int32_t transfer_elapsed;
    uint64_t rng;
    bk_raft_progress prog[BK_RAFT_NODES_MAX];
    uint64_t steps; /* inputs processed, for the caller's traces */
} bk_raft;

/* Starts a replica from its durable state (restore may be NULL: a new empty
 * log). Returns 0 or BK_EINVAL for a config it cannot run. */
int bk_raft_init(bk_raft *r, const bk_raft_config *cfg, const bk_raft_restore *rs);

/* A message from a peer. Malformed or stale messages are ignored. */
void bk_raft_step(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out);

/* One tick of the caller's clock. */
void bk_raft_tick(bk_raft *r, bk_raft_out *out);

/* Everything below `end` in the current log is durable. */
void bk_raft_flushed(bk_raft *r, int64_t end, bk_raft_out *out);

/* Leader only: reserves `count` offsets for a batch of the current term
 * at the log end; the caller appends it, stamped with r->term. Returns the
 * base offset, or BK_EINVAL (not the leader, transferring, bad count). */
int64_t bk_raft_propose(bk_raft *r, int64_t count, bk_raft_out *out);

/* Leader only: hands leadership to `target` once it has caught up
 * (dissertation 3.10); proposals are refused meanwhile. 0 or BK_EINVAL. */
int bk_raft_transfer(bk_raft *r, int32_t target, bk_raft_out *out);

/* The caller moved its log start up to `start` (retention, DeleteRecords,
 * a snapshot taken), never past the commit index. Followers that need
 * offsets below it get a SNAPSHOT. 0 or BK_EINVAL. */
int bk_raft_set_log_start(bk_raft *r, int64_t start);

/*
 * Leader only: a membership change, one member at a time (dissertation
 * 4.1, 4.3): add or remove one member, or flip one member between learner
 * and voter. Takes effect at once; refused (BK_EINVAL) while an earlier
 * change is uncommitted, before the leader committed an entry of its own
 * term, during a transfer, or for anything else than one change. Promote a
 * learner once it has caught up (bk_raft_match).
 */
int bk_raft_change(bk_raft *r, const bk_raft_membership *next, bk_raft_out *out);

/* Leader: the end of the prefix `id` is known to hold (-1: not a member). */
int64_t bk_raft_match(const bk_raft *r, int32_t id);

/* The term at offset-1 (0 before any entry), or -1 when that offset is
 * below what the history still knows. */
int32_t bk_raft_term_at(const bk_raft *r, int64_t offset_end);

/* Kafka's OffsetForLeaderEpoch on the core's history: the largest term <=
 * `term` with an entry, and where it ends (start of the next term or the
 * log end). */
void bk_raft_epoch_end(const bk_raft *r, int32_t term, int32_t *found, int64_t *end);

/*
 * The durable state of a partition's replica, read from its log
 * (storage/): log start, end and flushed offset, and the leader-epoch
 * history as the term history, into the caller's `hist` (room for
 * BK_RAFT_HIST_MAX entries, borrowed by `rs`). `term` and `vote` are the
 * persisted ones (raised to the log's newest epoch if behind it). Batches
 * stamped with epochs below 1 (written before replication) count as a
 * committed prefix. The membership is left to the caller. Returns 0.
 */
struct bk_log;
int bk_raft_restore_from_log(const struct bk_log *log, int32_t term, int32_t vote,
                             bk_raft_entry *hist, bk_raft_restore *rs);

const char *bk_raft_role_name(bk_raft_role role);
const char *bk_raft_msg_name(int type);

#endif
