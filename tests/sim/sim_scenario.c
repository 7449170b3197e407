/* sim_scenario.c - seeds that steer the faults into one known trap: single-server changes. */
#include "sim_internal.h"

#include <stdio.h>

/*
 * Some traps need a sequence of faults that random search does not find
 * in any number of seeds worth running. These seeds steer the faults
 * (links, crashes, a clock, a link that loses appends) through one such
 * sequence, with the timing left to the seed, and every check runs as
 * usual: what must hold is that nothing breaks, whatever the core does.
 *
 * The trap: single-server membership changes from two leaders (Ongaro,
 * raft-dev, 2015). Four voters and a learner, C0. Leader L1 makes the
 * learner a voter (C1), which reaches the learner only; L1 crashes. L2 is
 * elected by the other three under C0; one of them, X, hears its vote
 * request but none of its appends. If L2 could change the membership
 * before committing an entry of its own term, it would make L1 a learner
 * (C2) and commit that with one follower F (2 of C2's 3 voters). Then,
 * with {L2, F} cut off, L1 comes back with C1 and wins with X and the old
 * learner (3 of C1's 5 voters), none of which holds C2: a committed entry
 * is lost (leader completeness). The core's rule, that a leader changes
 * the membership only after an entry of its term is committed, makes L2
 * wait for X's ack, which never comes.
 */

static sim_node *leader(sim *s) {
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].up && s->nodes[i].r.role == BK_RAFT_LEADER) return &s->nodes[i];
    return NULL;
}

/* Member `idx` made a voter (or a learner); 0 when the core took it. */
static int set_voter(sim *s, sim_node *ld, int idx, int voter) {
    bk_raft_membership next = ld->r.conf;
    for (int k = 0; k < next.n; k++)
        if (next.members[k].id == s->nodes[idx].id) next.members[k].voter = (uint8_t)voter;
    int32_t term = ld->r.term;
    int rc = bk_raft_change(&ld->r, &next, &s->out);
    if (rc == 0) {
        s->st->changes++;
        sim_trace(s, "n%d change: n%d now a %s (scenario)", ld->id, s->nodes[idx].id,
                  voter ? "voter" : "learner");
    }
    sim_do_out(s, ld, NULL, term);
    return rc;
}

static void cut(sim *s, int a, int b) {
    s->blocked[a][b] = s->blocked[b][a] = 1;
}

void sim_scenario_step(sim *s) {
    sim_node *ld = leader(s);
    const int learner = 4; /* voters are nodes 0..3 */
    switch (s->sc_phase) {
    case 0: /* L1 leads and has committed in its term: cut it off but for the learner, C1 */
        if (!ld || ld->r.commit == 0 || bk_raft_term_at(&ld->r, ld->r.commit) != ld->r.term) return;
        s->sc_l1 = (int)(ld - s->nodes);
        for (int j = 0; j < s->n; j++)
            if (j != s->sc_l1 && j != learner) cut(s, s->sc_l1, j);
        if (set_voter(s, ld, learner, 1) != 0) return;
        sim_trace(s, "scenario: n%d cut off but for n%d", ld->id, s->nodes[learner].id);
        s->sc_phase = 1;
        s->sc_t = s->now;
        return;
    case 1: { /* C1 durable on L1 and the learner: L1 crashes, the learner is cut off */
        sim_node *l1 = &s->nodes[s->sc_l1];
        int64_t c1 = l1->r.conf_offset;
        if (l1->durable <= c1 || s->nodes[learner].durable <= c1) {
            if (s->now - s->sc_t > 500) s->sc_phase = 9; /* did not get there: just run */
            return;
        }
        sim_node_crash(s, l1);
        l1->down_until = INT64_MAX;
        for (int j = 0; j < s->n; j++)
            if (j != learner) cut(s, learner, j);
        /* X: a voter with a slow clock (it will not campaign first) that
         * loses every append, heartbeat and snapshot sent to it. */
        s->sc_x = s->sc_l1 == 0 ? 1 : 0;
        s->nodes[s->sc_x].tick_period = 40;
        s->mute = s->sc_x;
        sim_trace(s, "scenario: n%d crashed, n%d cut off, n%d hears no appends", l1->id,
                  s->nodes[learner].id, s->nodes[s->sc_x].id);
        s->sc_phase = 2;
        s->sc_t = s->now;
        return;
    }
    case 2: /* L2 elected: it makes L1 a learner (C2) as soon as the core lets it */
        if (ld && ld->r.role == BK_RAFT_LEADER && (int)(ld - s->nodes) != s->sc_x) {
            int l2 = (int)(ld - s->nodes);
            int l1_votes = 0;
            for (int k = 0; k < ld->r.conf.n; k++)
                l1_votes |= ld->r.conf.members[k].id == s->nodes[s->sc_l1].id &&
                            ld->r.conf.members[k].voter;
            if (l1_votes)
                set_voter(s, ld, s->sc_l1, 0);
            else if (ld->r.commit > ld->r.conf_offset)
                s->sc_l2 = l2; /* C2 committed */
        }
        if (s->sc_l2 < 0 && s->now - s->sc_t < 800) return;
        /* {L2, F} on one side; L1 (back up), X and the learner on the other. */
        for (int a = 0; a < s->n; a++)
            for (int b = 0; b < s->n; b++) {
                int sa = a != s->sc_l1 && a != s->sc_x && a != learner;
                int sb = b != s->sc_l1 && b != s->sc_x && b != learner;
                s->blocked[a][b] = sa != sb;
            }
        s->mute = -1;
        sim_node_start(s, &s->nodes[s->sc_l1]);
        sim_trace(s, "scenario: n%d restarts with n%d and n%d; C2 %s", s->nodes[s->sc_l1].id,
                  s->nodes[s->sc_x].id, s->nodes[learner].id,
                  s->sc_l2 >= 0 ? "committed" : "never made");
        s->sc_phase = 3;
        return;
    default: /* the rest runs until the heal */
        return;
    }
}
