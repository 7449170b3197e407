/* sim_cluster.c - a Raft group in one process: faults, clients, the run, its liveness check. */
#include "sim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- faults ---- */

static void faults(sim *s) {
    if (s->part_until && s->now >= s->part_until) {
        memset(s->blocked, 0, sizeof(s->blocked));
        s->part_until = 0;
        sim_trace(s, "partition healed");
    }
    if (!s->part_until && pct(s, s->part_pct)) {
        s->st->partitions++;
        if (pct(s, 50)) { /* symmetric: a random split */
            uint32_t side = (uint32_t)rnd(s);
            for (int a = 0; a < s->n; a++)
                for (int b = 0; b < s->n; b++)
                    s->blocked[a][b] = ((side >> a) & 1) != ((side >> b) & 1);
            sim_trace(s, "partition: split %x", side & ((1u << s->n) - 1));
        } else { /* one-way links */
            for (int k = (int)rnd_in(s, 1, 3); k > 0; k--) {
                int a = (int)rnd_in(s, 0, s->n - 1), b = (int)rnd_in(s, 0, s->n - 1);
                s->blocked[a][b] = 1;
                sim_trace(s, "partition: n%d -/-> n%d", s->nodes[a].id, s->nodes[b].id);
            }
        }
        s->part_until = s->now + (s->flap ? rnd_in(s, 5, 100) : rnd_in(s, 50, 1500));
    }
    for (int i = 0; i < s->n; i++) {
        sim_node *nd = &s->nodes[i];
        if (nd->up && pct(s, s->crash_pct) && pct(s, 10)) sim_node_crash(s, nd);
        if (!nd->up && s->now >= nd->down_until) {
            sim_node_start(s, nd);
            sim_trace(s, "n%d RESTART log [%lld,%lld) durable %lld", nd->id,
                      (long long)nd->log.start, (long long)sim_log_end(&nd->log),
                      (long long)nd->durable);
        }
        if (pct(s, s->slow_pct) && pct(s, 10)) { /* a disk turns slow, or fast again */
            nd->disk_min = rnd_in(s, 1, 5);
            nd->disk_max = nd->disk_min + (pct(s, 50) ? rnd_in(s, 50, 300) : rnd_in(s, 0, 10));
        }
    }
}

static void heal(sim *s) {
    s->healed = 1;
    s->mute = -1;
    memset(s->blocked, 0, sizeof(s->blocked));
    s->part_until = 0;
    s->loss_pct = s->dup_pct = s->crash_pct = s->part_pct = s->slow_pct = 0;
    s->delay_max = s->delay_max > 5 ? 5 : s->delay_max;
    for (int i = 0; s->world && s->group > 0 && i < s->n; i++) {
        s->nodes[i].disk_min = 1; /* the nodes follow group 0's (sim_groups.c) */
        s->nodes[i].disk_max = 5;
    }
    if (s->world && s->group > 0) return;
    /* Sometimes a minority of the voters stays down for good: a stable,
     * connected majority must still elect a leader and commit. (Not with
     * membership changes, where "a majority" depends on the node asked.) */
    int stay_down = s->o.faults && s->change_pct == 0 && pct(s, 50) ? (s->n_voters - 1) / 2 : 0;
    for (int i = 0; i < s->n; i++) {
        sim_node *nd = &s->nodes[i];
        nd->disk_min = 1;
        nd->disk_max = 5;
        if (i < s->n_voters && stay_down > 0 && pct(s, 50)) {
            stay_down--;
            if (nd->up) sim_node_crash(s, nd);
            nd->down_until = INT64_MAX;
            sim_trace(s, "n%d stays down", nd->id);
            continue;
        }
        if (!nd->up) sim_node_start(s, nd);
    }
    sim_trace(s, "HEAL");
}

/* ---- the run ---- */

/* "1 2 3 (4)": voters, then learners in parentheses. */
static const char *conf_str(const bk_raft_membership *c, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < c->n && n + 8 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, c->members[i].voter ? "%s%d" : "%s(%d)",
                              i ? " " : "", c->members[i].id);
    return buf;
}

static sim_node *leader_now(sim *s) {
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].up && s->nodes[i].r.role == BK_RAFT_LEADER) return &s->nodes[i];
    return NULL;
}

static int64_t propose(sim *s, sim_node *nd) {
    int64_t count = rnd_in(s, 1, 4);
    int64_t base = bk_raft_propose(&nd->r, count, &s->out);
    if (base >= 0) {
        sim_log_push(&nd->log, (sim_entry){base, base + count - 1, nd->r.term, ++s->next_id, -1});
        sim_trace(s, "n%d propose [%lld,%lld] term %d", nd->id, (long long)base,
                  (long long)(base + count - 1), nd->r.term);
    }
    sim_do_out(s, nd, NULL, nd->r.term);
    return base >= 0 ? base + count : -1;
}

/* Moves a node's log start up to a batch boundary at or below its commit,
 * as retention does. Retention deletes only rolled segments, which Kafka
 * flushes when it rolls them: never past what is durable (else a crash
 * could bring back, below the new start, batches a truncation had cut). */
static void retain(sim *s, sim_node *nd) {
    int64_t bound = nd->r.commit < nd->durable ? nd->r.commit : nd->durable;
    int k = sim_log_find(&nd->log, bound - 1);
    if (k <= 0) return;
    k = (int)rnd_in(s, 1, k);
    int64_t start = nd->log.e[k].base;
    if (start <= nd->r.log_start) return;
    if (bk_raft_set_log_start(&nd->r, start) != 0) {
        sim_fail(s, "node %d: set_log_start(%lld) refused below commit %lld", nd->id,
                 (long long)start, (long long)nd->r.commit);
        return;
    }
    nd->log.start_term = nd->log.e[k - 1].term;
    nd->log.start = start;
    for (int i = 0; i < k; i++)
        if (nd->log.e[i].conf >= 0) nd->log.start_conf = nd->log.e[i].conf;
    memmove(nd->log.e, nd->log.e + k, sizeof(sim_entry) * (size_t)(nd->log.n - k));
    nd->log.n -= k;
    sim_trace(s, "n%d log start -> %lld", nd->id, (long long)start);
}

/* A random change of one member: flip a voter, drop a learner, add a
 * node as a learner. The core refuses what is not allowed. */
static int change(sim *s, sim_node *ld) {
    bk_raft_membership next = ld->r.conf;
    int32_t id = (int32_t)rnd_in(s, 1, s->n);
    int k = 0;
    while (k < next.n && next.members[k].id != id)
        k++;
    const char *what;
    if (k == next.n) {
        next.members[next.n++] = (bk_raft_member){.id = id, .voter = 0};
        what = "added as a learner";
    } else if (next.members[k].voter || pct(s, 50)) {
        next.members[k].voter = !next.members[k].voter;
        what = next.members[k].voter ? "now a voter" : "now a learner";
    } else {
        next.members[k] = next.members[--next.n];
        what = "removed";
    }
    int32_t term = ld->r.term;
    int rc = bk_raft_change(&ld->r, &next, &s->out);
    if (rc == 0) {
        s->st->changes++;
        sim_trace(s, "n%d change: n%d %s", ld->id, id, what);
    }
    sim_do_out(s, ld, NULL, term);
    return rc == 0;
}

static void step_time(sim *s) {
    for (int i = 0; i < s->n && !s->failed; i++) {
        sim_node *nd = &s->nodes[i];
        for (int guard = 0; nd->up && nd->next_tick <= s->now && guard < 8; guard++) {
            nd->next_tick += nd->tick_period;
            int32_t was_leader = nd->r.role == BK_RAFT_LEADER ? nd->r.term : 0;
            bk_raft_tick(&nd->r, &s->out);
            sim_do_out(s, nd, NULL, was_leader);
        }
        for (int f = 0; nd->up && f < nd->n_fl && !s->failed;) {
            if (nd->fl[f].at > s->now) {
                f++;
                continue;
            }
            int64_t end = nd->fl[f].cap;
            sim_ghost_flushed(nd, nd->fl[f].seq);
            nd->fl[f] = nd->fl[--nd->n_fl];
            int64_t log_end = sim_log_end(&nd->log);
            if (end > log_end) end = log_end;
            if (end > nd->durable) nd->durable = end;
            int32_t was_leader = nd->r.role == BK_RAFT_LEADER ? nd->r.term : 0;
            bk_raft_flushed(&nd->r, nd->durable, &s->out);
            sim_do_out(s, nd, NULL, was_leader);
        }
    }
    static sim_msg sm;
    for (int i = 0; i < s->n_msgs && !s->failed;) {
        if (s->msgs[i].at > s->now) {
            i++;
            continue;
        }
        sm = s->msgs[i];
        s->msgs[i] = s->msgs[--s->n_msgs];
        sim_deliver(s, &sm);
    }
}

/* Sets up a run of one seed in `s` (zeroed by the caller). */
void sim_begin(sim *s, const sim_opts *o, sim_stats *st, char *why, size_t why_len) {
    memset(st, 0, sizeof(*st));
    s->o = *o;
    s->st = st;
    s->why = why;
    s->why_len = why_len;
    why[0] = 0;
    s->rng = o->seed * 0x2545f4914f6cdd1dULL + 1;
    s->msgs = malloc(sizeof(sim_msg) * SIM_MSGS_MAX);
    s->confs = malloc(sizeof(bk_raft_membership) * SIM_CONFS_MAX);
    if (!s->msgs || !s->confs || sim_checks_init(s) != 0) abort();
    /* 40% of the seeds follow Figure 8's pattern (below), with 3 or 5
     * voters; the others have 2 to 5 (even counts too). */
    int fig8 = o->faults && pct(s, 40);
    /* 2% steer their faults into single-server changes' trap (sim_scenario.c). */
    s->mute = s->sc_l2 = -1;
    s->scenario = o->faults && !fig8 && !s->world && !o->n_nodes && o->learner < 0 &&
                  o->spare < 0 && pct(s, 3);
    s->n_voters = o->n_nodes    ? o->n_nodes
                  : fig8        ? (pct(s, 50) ? 3 : 5)
                  : s->scenario ? 4
                                : (int)rnd_in(s, 2, 5);
    int learner = o->learner >= 0 ? o->learner : s->scenario || pct(s, 30);
    /* With membership changes, one more node that is not a member at
     * first, to be added later. */
    int spare = o->spare >= 0 ? o->spare
                : s->scenario ? 0
                              : o->faults && s->n_voters + learner < SIM_NODES_MAX && pct(s, 50);
    s->n = s->n_voters + learner + spare;
    s->cfg = (bk_raft_config){.n_members = s->n_voters + learner,
                              .election_ticks = 10,
                              .heartbeat_ticks = 2,
                              .inflight_max = 8,
                              .inflight_offsets_max = 64,
                              .append_offsets_max = 16};
    for (int i = 0; i < s->n; i++) {
        if (i < s->cfg.n_members)
            s->cfg.members[i] = (bk_raft_member){.id = i + 1, .voter = i < s->n_voters};
        sim_node *nd = &s->nodes[i];
        nd->id = i + 1;
        nd->log.start_conf = -1;
        nd->p_vote = BK_RAFT_NONE;
        nd->tick_period = o->faults ? rnd_in(s, 5, 15) : 10;
        nd->disk_min = 1;
        nd->disk_max = o->faults ? rnd_in(s, 1, 30) : 3;
    }
    if (o->faults) {
        s->loss_pct = (int)rnd_in(s, 0, 20);
        s->dup_pct = (int)rnd_in(s, 0, 10);
        s->delay_max = (int)rnd_in(s, 1, 40);
        /* A third of the seeds are crash storms: many elections, logs cut
         * back to their durable prefix. */
        s->crash_pct = pct(s, 33) ? (int)rnd_in(s, 10, 40) : (int)rnd_in(s, 0, 8);
        /* Small appends and windows split a leader's no-op from the
         * entries before it, which is where commit rules are tested. */
        static const int64_t append_max[] = {1, 2, 4, 16};
        s->cfg.append_offsets_max = append_max[rnd(s) % 4];
        s->cfg.inflight_max = (uint32_t)rnd_in(s, 1, 8);
        s->part_pct = (int)rnd_in(s, 0, 2);
        /* Some networks flap: short partitions, one after the other. */
        s->flap = pct(s, 30);
        if (s->flap) s->part_pct = (int)rnd_in(s, 3, 15);
        s->slow_pct = (int)rnd_in(s, 0, 2);
        s->retain_pct = (int)rnd_in(s, 0, 1);
        s->transfer_pct = (int)rnd_in(s, 0, 2);
        s->change_pct = (int)rnd_in(s, 0, 2);
        s->down_max = 400;
        /* A node whose clock (or process: pauses, a starved CPU) runs
         * several times slower than the others. */
        if (!fig8 && pct(s, 30)) s->nodes[rnd_in(s, 0, s->n - 1)].tick_period = rnd_in(s, 30, 100);
        if (s->scenario) { /* the script draws the faults; the network is clean and quick */
            s->loss_pct = s->dup_pct = s->crash_pct = s->part_pct = s->slow_pct = 0;
            s->retain_pct = s->transfer_pct = s->change_pct = s->flap = 0;
            s->delay_max = (int)rnd_in(s, 1, 3);
            for (int i = 0; i < s->n; i++)
                s->nodes[i].disk_max = rnd_in(s, 1, 5);
        }
        if (fig8) {
            /* Figure 8 of the dissertation's chapter 3 wants a quick
             * sequence of leaders that each reach only part of the group:
             * frequent short crashes, slow disks, one-offset appends. */
            s->loss_pct = (int)rnd_in(s, 0, 5);
            s->delay_max = (int)rnd_in(s, 1, 10);
            s->crash_pct = (int)rnd_in(s, 3, 20);
            s->down_max = rnd_in(s, 20, 150);
            s->cfg.append_offsets_max = 1;
            s->cfg.inflight_max = (uint32_t)rnd_in(s, 1, 2);
            s->part_pct = s->retain_pct = s->transfer_pct = s->change_pct = 0;
            for (int i = 0; i < s->n; i++)
                s->nodes[i].disk_max = rnd_in(s, 10, 40);
        }
    } else {
        s->delay_max = 1;
    }
    s->proposed_after_heal = -1;
    for (int i = 0; i < SIM_NODES_MAX; i++)
        s->alone_since[i] = s->unheard_since[i] = -1;
}

/* Starts the nodes, once the caller has adjusted the run's knobs. */
void sim_start(sim *s) {
    sim_trace(s, "seed %llu: %d voters%s%s, loss %d%% dup %d%% delay<=%d crash %d part %d",
              (unsigned long long)s->o.seed, s->n_voters,
              s->cfg.n_members > s->n_voters ? " + 1 learner" : "",
              s->n > s->cfg.n_members ? " + 1 spare" : "", s->loss_pct, s->dup_pct, s->delay_max,
              s->crash_pct, s->part_pct);
    for (int i = 0; i < s->n; i++)
        sim_node_start(s, &s->nodes[i]);
}

/* One time unit of the run at s->now. Returns 1 when the run is over
 * (a check failed, or liveness was shown). */
int sim_unit(sim *s) {
    const sim_opts *o = &s->o;
    if (s->world && s->group > 0)
        sim_follow(s);
    else if (s->scenario && !s->healed)
        sim_scenario_step(s);
    else if (o->faults && !s->healed)
        faults(s);
    if (s->now == o->fault_time) heal(s);
    step_time(s);
    if (!o->bench) sim_check_connectivity(s);
    if (s->failed) return 1;
    sim_node *ld = leader_now(s);
    if (ld && !s->healed && pct(s, o->propose_pct)) propose(s, ld);
    /* Often a new leader has a change waiting (an operator's, or one
     * its predecessor could not finish) and makes it at the first
     * moment the core allows: right after its first commit, when a
     * change of its predecessor's may still linger in a minority's
     * logs (the bug in single-server changes of Ongaro's 2015
     * raft-dev post). */
    if (ld && ld->r.term != s->leader_term) {
        s->leader_term = ld->r.term;
        s->change_eager = s->change_pct && pct(s, 50);
    }
    if (ld && !s->healed && s->change_pct &&
        (s->change_eager || (pct(s, s->change_pct) && pct(s, 20))) && change(s, ld))
        s->change_eager = 0;
    if (ld && ld->r.role != BK_RAFT_LEADER) ld = leader_now(s);
    if (ld && !s->healed && s->transfer_pct && pct(s, s->transfer_pct) && pct(s, 10)) {
        /* Graceful handover, as at a broker's shutdown. */
        int32_t to = (int32_t)rnd_in(s, 1, s->n);
        int32_t term = ld->r.term;
        if (bk_raft_transfer(&ld->r, to, &s->out) == 0) {
            s->st->transfers++;
            sim_trace(s, "n%d transfer to n%d", ld->id, to);
        }
        sim_do_out(s, ld, NULL, term);
    }
    if (s->retain_pct && pct(s, s->retain_pct)) {
        sim_node *nd = &s->nodes[rnd_in(s, 0, s->n - 1)];
        if (nd->up) retain(s, nd);
    }
    if (!s->healed) return 0;
    /* Liveness: after the heal a leader is elected and a new entry
     * commits on every node. An entry proposed by a leader that then
     * loses its leadership may be lost: the next leader gets one. */
    if (ld && ld->r.term != s->live_term) {
        s->proposed_after_heal = propose(s, ld);
        if (s->proposed_after_heal >= 0) s->live_term = ld->r.term;
    }
    if (s->proposed_after_heal < 0 || !ld) return 0;
    int all = 1;
    for (int i = 0; i < s->n; i++) {
        const bk_raft *r = &s->nodes[i].r;
        int member = 0;
        for (int k = 0; k < ld->r.conf.n; k++)
            member |= ld->r.conf.members[k].id == s->nodes[i].id;
        if (member && s->nodes[i].up)
            all &= r->commit >= s->proposed_after_heal &&
                   bk_raft_term_at(r, s->proposed_after_heal) == s->live_term;
    }
    return all;
}

/* Ends the run (s->now is where it stopped): the liveness verdict, the
 * final state in the trace, and the run's memory. 0, or -1 on failure. */
int sim_end(sim *s) {
    const sim_opts *o = &s->o;
    if (!s->failed && s->now >= o->fault_time + o->heal_time)
        sim_fail(s, "liveness: %lld time units after the heal, %s", (long long)o->heal_time,
                 s->proposed_after_heal < 0 ? "no leader could take a proposal"
                                            : "the entry proposed after the heal did not commit "
                                              "on every node");
    s->st->time = s->now;
    char c1[64], c2[64];
    for (int i = 0; s->failed && i < s->n; i++) {
        const sim_node *nd = &s->nodes[i];
        const bk_raft *r = &nd->r;
        sim_trace(s,
                  "state n%d %s%s term %d leader %d log [%lld,%lld) core [%lld,%lld) "
                  "durable %lld flushed %lld commit %lld members@%lld %s before@%lld %s",
                  nd->id, nd->up ? "" : "DOWN ", bk_raft_role_name(r->role), r->term, r->leader,
                  (long long)nd->log.start, (long long)sim_log_end(&nd->log),
                  (long long)r->log_start, (long long)r->log_end, (long long)nd->durable,
                  (long long)r->flushed, (long long)r->commit, (long long)r->conf_offset,
                  conf_str(&r->conf, c1, sizeof(c1)), (long long)r->prev_conf_offset,
                  conf_str(&r->prev_conf, c2, sizeof(c2)));
        for (int k = 0; r->role == BK_RAFT_LEADER && k < r->conf.n; k++) {
            const bk_raft_progress *pr = &r->prog[k];
            sim_trace(s, "  progress n%d next %lld match %lld flushed %lld in %u probe %d snap %d",
                      pr->id, (long long)pr->next, (long long)pr->match, (long long)pr->flushed,
                      pr->in_n, pr->probing, pr->snapshot);
        }
    }
    for (int i = 0; i < s->n; i++) {
        free(s->nodes[i].log.e);
        free(s->nodes[i].ghost.e);
    }
    sim_checks_free(s);
    free(s->msgs);
    free(s->confs);
    return s->failed ? -1 : 0;
}

int sim_run(const sim_opts *o, sim_stats *st, char *why, size_t why_len) {
    if (o->groups > 1) return sim_run_groups(o, st, why, why_len);
    static sim s_; /* large; one run at a time */
    sim *s = &s_;
    memset(s, 0, sizeof(*s));
    sim_begin(s, o, st, why, why_len);
    sim_start(s);
    int64_t end_time = o->fault_time + o->heal_time;
    for (s->now = 0; s->now < end_time && !s->failed; s->now++)
        if (sim_unit(s)) break;
    return sim_end(s);
}
