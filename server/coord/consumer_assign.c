/* consumer_assign.c - the server-side assignors of KIP-848 consumer groups:
 * "uniform" (balanced and sticky, Kafka's UniformAssignor in spirit: every
 * member within one partition of every other member that could take it,
 * keeping partitions where they are) and "range" (per topic, contiguous
 * ranges over the subscribed members sorted by id, as Kafka's RangeAssignor
 * without its stickiness). Pure functions over the topic table. */
#include <stdlib.h>
#include <string.h>

#include "server/coord/consumer.h"

typedef struct slot {
    int topic;
    int32_t partition;
    int owner; /* member index, -1 none */
} slot;

static int build_slots(const bk_cga_topic *topics, int nt, const bk_cga_member *ms, int nm,
                       slot **out, int *nout) {
    int64_t n = 0;
    for (int t = 0; t < nt; t++) {
        bool any = false;
        for (int m = 0; m < nm && !any; m++)
            any = ms[m].subscribed[t];
        if (any && topics[t].nparts > 0) n += topics[t].nparts;
    }
    if (n > INT32_MAX / 2) return BK_ENOMEM;
    slot *s = calloc((size_t)(n ? n : 1), sizeof *s);
    if (!s) return BK_ENOMEM;
    int k = 0;
    for (int t = 0; t < nt; t++) {
        bool any = false;
        for (int m = 0; m < nm && !any; m++)
            any = ms[m].subscribed[t];
        for (int32_t p = 0; any && p < topics[t].nparts; p++)
            s[k++] = (slot){t, p, -1};
    }
    *out = s;
    *nout = k;
    return 0;
}

static int fill_outputs(const bk_cga_topic *topics, const slot *s, int ns, bk_cga_member *ms,
                        int nm) {
    for (int m = 0; m < nm; m++)
        ms[m].out->n = 0;
    for (int i = 0; i < ns; i++)
        if (s[i].owner >= 0 &&
            bk_cgset_add(ms[s[i].owner].out, &topics[s[i].topic].id, s[i].partition))
            return BK_ENOMEM;
    return 0;
}

/* The eligible member with the fewest partitions (lowest index on ties). */
static int least_loaded(const bk_cga_member *ms, int nm, const int *count, int topic) {
    int best = -1;
    for (int m = 0; m < nm; m++)
        if (ms[m].subscribed[topic] && (best < 0 || count[m] < count[best])) best = m;
    return best;
}

int bk_cg_assign_uniform(const bk_cga_topic *topics, int ntopics, bk_cga_member *members,
                         int nmembers) {
    slot *s = NULL;
    int ns = 0;
    int rc = build_slots(topics, ntopics, members, nmembers, &s, &ns);
    if (rc) return rc;
    int *count = calloc((size_t)(nmembers ? nmembers : 1), sizeof *count);
    if (!count) {
        free(s);
        return BK_ENOMEM;
    }
    /* Stickiness: a partition stays with its previous owner while that
     * member still subscribes to the topic. */
    for (int i = 0; i < ns; i++) {
        const bk_cga_topic *t = &topics[s[i].topic];
        for (int m = 0; m < nmembers; m++) {
            if (!members[m].subscribed[s[i].topic] || !members[m].prev) continue;
            if (bk_cgset_has(members[m].prev, &t->id, s[i].partition)) {
                s[i].owner = m;
                count[m]++;
                break;
            }
        }
    }
    /* The rest to the least loaded member that can take them. */
    for (int i = 0; i < ns; i++) {
        if (s[i].owner >= 0) continue;
        int m = least_loaded(members, nmembers, count, s[i].topic);
        if (m < 0) continue;
        s[i].owner = m;
        count[m]++;
    }
    /* Balance: always from the most loaded member that has a partition an
     * eligible member with at least two fewer can take, to that member.
     * Every partition that moves leaves a member above its share for one
     * below it, so a member joining takes only what it needs and nobody
     * else trades (moving between two existing members costs a revocation
     * and a heartbeat more). The sum of squared counts falls with every
     * move, so this ends. */
    bool *stuck = calloc((size_t)(nmembers ? nmembers : 1), sizeof *stuck);
    if (!stuck) {
        free(count);
        free(s);
        return BK_ENOMEM;
    }
    for (;;) {
        int r = -1;
        for (int m = 0; m < nmembers; m++)
            if (!stuck[m] && (r < 0 || count[m] > count[r])) r = m;
        if (r < 0) break;
        bool moved = false;
        for (int i = ns - 1; i >= 0 && !moved; i--) {
            if (s[i].owner != r) continue;
            int m = least_loaded(members, nmembers, count, s[i].topic);
            if (m >= 0 && count[r] > count[m] + 1) {
                s[i].owner = m;
                count[r]--;
                count[m]++;
                moved = true;
            }
        }
        if (moved)
            memset(stuck, 0, (size_t)nmembers * sizeof *stuck);
        else
            stuck[r] = true; /* nothing of r can go: try the next richest */
    }
    free(stuck);
    rc = fill_outputs(topics, s, ns, members, nmembers);
    free(count);
    free(s);
    return rc;
}

int bk_cg_assign_range(const bk_cga_topic *topics, int ntopics, bk_cga_member *members,
                       int nmembers) {
    for (int m = 0; m < nmembers; m++)
        members[m].out->n = 0;
    for (int t = 0; t < ntopics; t++) {
        int k = 0;
        for (int m = 0; m < nmembers; m++)
            k += members[m].subscribed[t];
        if (!k || topics[t].nparts <= 0) continue;
        int32_t per = topics[t].nparts / k, extra = topics[t].nparts % k;
        int32_t p = 0;
        int i = 0;
        for (int m = 0; m < nmembers; m++) {
            if (!members[m].subscribed[t]) continue;
            int32_t n = per + (i < extra ? 1 : 0);
            for (int32_t j = 0; j < n; j++, p++)
                if (bk_cgset_add(members[m].out, &topics[t].id, p)) return BK_ENOMEM;
            i++;
        }
    }
    return 0;
}
