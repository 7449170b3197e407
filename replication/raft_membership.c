/* raft_membership.c - membership changes one member at a time, learners (dissertation ch. 4). */
#include "replication/raft_internal.h"

#include <string.h>

#include "protocol/err.h"

/* A membership from the network or the caller: 1..NODES_MAX distinct ids,
 * at least one voter. */
int bk_raft__conf_valid(const bk_raft_membership *c) {
    if (!c || c->n < 1 || c->n > BK_RAFT_NODES_MAX) return 0;
    int voters = 0;
    for (int i = 0; i < c->n; i++) {
        if (c->members[i].id < 0 || c->members[i].voter > 1) return 0;
        voters += c->members[i].voter;
        for (int j = 0; j < i; j++)
            if (c->members[j].id == c->members[i].id) return 0;
    }
    return voters > 0;
}

static const bk_raft_member *find(const bk_raft_membership *c, int32_t id) {
    for (int i = 0; i < c->n; i++)
        if (c->members[i].id == id) return &c->members[i];
    return NULL;
}

/* How many members differ (added, removed, or voter flag flipped). */
static int differences(const bk_raft_membership *a, const bk_raft_membership *b) {
    int d = 0;
    for (int i = 0; i < a->n; i++) {
        const bk_raft_member *m = find(b, a->members[i].id);
        d += !m || m->voter != a->members[i].voter;
    }
    for (int i = 0; i < b->n; i++)
        d += !find(a, b->members[i].id);
    return d;
}

/* A leader's progress follows the membership: members that stay keep
 * theirs, new ones start probing at the log end. */
static void rebuild_progress(bk_raft *r, int n_old) {
    bk_raft_progress old[BK_RAFT_NODES_MAX];
    memcpy(old, r->prog, sizeof(old));
    for (int i = 0; i < r->conf.n; i++) {
        bk_raft_progress *pr = &r->prog[i];
        int32_t id = r->conf.members[i].id;
        int k = 0;
        while (k < n_old && old[k].id != id)
            k++;
        if (k < n_old) {
            *pr = old[k];
        } else {
            memset(pr, 0, sizeof(*pr));
            pr->id = id;
            pr->next = r->log_end;
            pr->probing = 1;
            pr->active = 1;
        }
        pr->voter = r->conf.members[i].voter;
    }
    for (int i = r->conf.n; i < BK_RAFT_NODES_MAX; i++)
        memset(&r->prog[i], 0, sizeof(r->prog[i]));
}

/* A membership batch entered the log at `offset`. */
void bk_raft__conf_apply(bk_raft *r, const bk_raft_membership *c, int64_t offset) {
    r->prev_conf = r->conf;
    r->prev_conf_offset = r->conf_offset;
    r->conf = *c;
    r->conf_offset = offset;
    r->votes = r->prevotes = r->refusals = 0; /* bitmaps index the old members */
    if (r->role == BK_RAFT_LEADER) rebuild_progress(r, r->prev_conf.n);
}

/* The log was cut at `end`: a membership batch cut with it no longer
 * holds. The one before it is committed, so it is never cut. */
void bk_raft__conf_truncate(bk_raft *r, int64_t end) {
    if (r->conf_offset < end) return;
    r->conf = r->prev_conf;
    r->conf_offset = r->prev_conf_offset;
    r->votes = r->prevotes = r->refusals = 0;
}

/* The membership in force at the log start (what a SNAPSHOT carries). */
const bk_raft_membership *bk_raft__conf_at_start(const bk_raft *r) {
    if (r->conf_offset < r->log_start) return &r->conf;
    if (r->prev_conf_offset < r->log_start) return &r->prev_conf;
    return &r->conf; /* two changes above the log start: cannot happen (start <= commit) */
}

/* A leader no longer a voter steps down once the change is committed
 * (dissertation 4.2.2); until then it leads without counting itself. */
void bk_raft__conf_committed(bk_raft *r, bk_raft_out *out) {
    if (r->role == BK_RAFT_LEADER && r->commit > r->conf_offset &&
        !bk_raft__is_voter(r, r->cfg.self))
        bk_raft__become_follower(r, r->term, BK_RAFT_NONE, out);
}

int bk_raft_change(bk_raft *r, const bk_raft_membership *next, bk_raft_out *out) {
    bk_raft__call_begin(r, out);
    int rc = BK_EINVAL;
    /* One change at a time, and only after this leader committed an entry
     * of its own term (the fix to single-server changes in Ongaro's
     * raft-dev post of 2015). */
    int pending = r->commit <= r->conf_offset;
    int own_term = bk_raft_term_at(r, r->commit) == r->term;
#ifdef BK_RAFT_BUG_CONCURRENT_CHANGES
    pending = 0;
#endif
#ifdef BK_RAFT_BUG_CHANGE_BEFORE_OWN_TERM
    own_term = 1;
#endif
    if (r->role != BK_RAFT_LEADER || r->transfer_to != BK_RAFT_NONE || pending || !own_term ||
        !bk_raft__conf_valid(next) || differences(&r->conf, next) != 1)
        goto done;
    int64_t offset = r->log_end;
    bk_raft__conf_apply(r, next, offset);
    r->log_end++;
    bk_raft_act *a = bk_raft__act(r, out, BK_RAFT_ACT_CONFIG, offset, r->term, 0, 1);
    a->conf = &r->conf;
    bk_raft__ask_flush(r, out);
    bk_raft__broadcast_append(r, out);
    rc = 0;
done:
    bk_raft__call_end(r, out);
    return rc;
}

int64_t bk_raft_match(const bk_raft *r, int32_t id) {
    int i = bk_raft__member(r, id);
    if (i < 0) return -1;
    if (id == r->cfg.self) return r->log_end;
    return r->role == BK_RAFT_LEADER ? r->prog[i].match : -1;
}
