/* offsets.c - committed offsets of a group: Kafka's OffsetCommit checks
 * (ClassicGroup.validateOffsetCommit), the (topic, partition) -> offset
 * map, subscriptions for OffsetDelete, and offsets retention. No I/O. */
#include <stdlib.h>
#include <string.h>

#include "server/coord/consumer.h"
#include "server/coord/coord.h"

int16_t bk_groups_commit_check(bk_groups *gs, const char *group_id, int32_t generation,
                               const char *member_id, const char *instance_id, int16_t version,
                               int64_t now_ms, bk_group **out) {
    *out = NULL;
    if (!group_id || !group_id[0]) return BK_KERR_INVALID_GROUP_ID;
    bk_group *g = bk_groups_find(gs, group_id);
    if (!g) {
        /* A simple group: the admin client or assign() consumers. */
        if (generation >= 0)
            return version >= 9 ? BK_KERR_GROUP_ID_NOT_FOUND : BK_KERR_ILLEGAL_GENERATION;
        g = bk_groups_get_or_create(gs, group_id, now_ms);
        if (!g) return BK_KERR_COORDINATOR_NOT_AVAILABLE;
        *out = g;
        return 0;
    }
    if (g->state == BK_GROUP_DEAD) return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    if (generation < 0 && g->state == BK_GROUP_EMPTY) {
        *out = g;
        return 0;
    }
    if (!member_id) member_id = "";
    if (generation >= 0 || member_id[0] || instance_id) {
        if (instance_id) {
            bk_gmember *s = bk_group_static_member(g, instance_id);
            if (!s) return BK_KERR_UNKNOWN_MEMBER_ID;
            if (strcmp(s->id, member_id)) return BK_KERR_FENCED_INSTANCE_ID;
        }
        if (!bk_group_member(g, member_id)) return BK_KERR_UNKNOWN_MEMBER_ID;
        if (generation != g->generation) return BK_KERR_ILLEGAL_GENERATION;
    } else if (g->state != BK_GROUP_EMPTY) {
        return BK_KERR_UNKNOWN_MEMBER_ID;
    }
    if (g->state == BK_GROUP_COMPLETING_REBALANCE) return BK_KERR_REBALANCE_IN_PROGRESS;
    *out = g;
    return 0;
}

static size_t make_key(char *buf, size_t cap, const char *topic, int32_t partition) {
    size_t n = strlen(topic);
    if (n + 5 > cap) return 0;
    memcpy(buf, topic, n + 1);
    memcpy(buf + n + 1, &partition, 4);
    return n + 5;
}

bk_goffset *bk_group_offset_get(bk_group *g, const char *topic, int32_t partition) {
    char key[400];
    size_t kl = make_key(key, sizeof key, topic, partition);
    return kl ? bk_map_get(&g->offsets, key, kl) : NULL;
}

int bk_group_offset_put(bk_group *g, const char *topic, int32_t partition, int64_t offset,
                        int32_t leader_epoch, const char *metadata, int32_t md_len,
                        int64_t commit_ms) {
    bk_goffset *o = bk_group_offset_get(g, topic, partition);
    /* Kafka keeps the metadata as the client sent it: librdkafka includes
     * a trailing NUL, and reads the string back up to it. */
    if (!metadata)
        md_len = 0;
    else if (md_len < 0)
        md_len = (int32_t)strlen(metadata);
    char *md = malloc((size_t)md_len + 1);
    if (!md) return BK_ENOMEM;
    if (md_len) memcpy(md, metadata, (size_t)md_len);
    md[md_len] = 0;
    if (!o) {
        o = calloc(1, sizeof *o);
        size_t n = strlen(topic);
        if (!o || !(o->key = malloc(n + 5))) {
            free(o);
            free(md);
            return BK_ENOMEM;
        }
        o->klen = make_key(o->key, n + 5, topic, partition);
        o->topic = o->key;
        o->partition = partition;
        if (bk_map_put(&g->offsets, o->key, o->klen, o)) {
            free(o->key);
            free(o);
            free(md);
            return BK_ENOMEM;
        }
        g->noffsets++;
    }
    free(o->metadata);
    o->metadata = md;
    o->metadata_len = md_len;
    o->offset = offset;
    o->leader_epoch = leader_epoch;
    o->commit_ms = commit_ms;
    return 0;
}

void bk_group_offset_del(bk_group *g, bk_goffset *o) {
    bk_map_del(&g->offsets, o->key, o->klen);
    g->noffsets--;
    free(o->key);
    free(o->metadata);
    free(o);
}

/* ConsumerProtocolSubscription: version int16, topics [string], ... */
static bool subscription_has(const bk_gproto *p, const char *topic) {
    bk_rd rd = bk_rd_init(p->meta, (size_t)p->len);
    (void)bk_rd_i16(&rd);
    int32_t n = bk_rd_i32(&rd);
    size_t tl = strlen(topic);
    for (int32_t i = 0; i < n && !rd.err; i++) {
        int16_t len = bk_rd_i16(&rd);
        if (len < 0 || (size_t)len > bk_rd_left(&rd)) return false;
        if ((size_t)len == tl && !memcmp(rd.p, topic, tl)) return true;
        rd.p += len;
    }
    return false;
}

bool bk_group_subscribed(bk_group *g, const char *topic) {
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer")) return false;
    for (bk_gmember *m = g->members; m; m = m->next) {
        const bk_gproto *p = g->protocol_name ? bk_gmember_proto(m, g->protocol_name) : NULL;
        if (!p && m->nprotos) p = &m->protos[0];
        if (p && subscription_has(p, topic)) return true;
    }
    return false;
}

void bk_groups_expire_offsets(bk_groups *gs, int64_t now_ms,
                              void (*fn)(void *ud, bk_group *g, const bk_goffset *o),
                              void (*gone)(void *ud, bk_group *g), void *ud) {
    int64_t keep = gs->limits.offsets_retention_ms;
    for (size_t i = 0; i < gs->by_id.cap; i++) {
        bk_group *g = gs->by_id.slots[i].val;
        if (!g || g == (void *)1 || g->state != BK_GROUP_EMPTY) continue;
        /* The offsets of a consumer group with members (they live in the
         * classic object of the same id) do not expire. */
        bk_cgroup *cg = gs->cgroups ? bk_cgroups_find(gs->cgroups, g->id) : NULL;
        if (cg && cg->nmembers) continue;
        for (size_t j = 0; j < g->offsets.cap; j++) {
            bk_goffset *o = g->offsets.slots[j].val;
            if (!o || o == (void *)1) continue;
            /* Kafka: offsets of an empty group expire `retention` after the
             * group became empty, or after their commit when later. */
            int64_t base = o->commit_ms > g->state_ms ? o->commit_ms : g->state_ms;
            if (now_ms - base < keep) continue;
            if (fn) fn(ud, g, o);
            bk_group_offset_del(g, o);
        }
        if (g->noffsets == 0 && g->nmembers == 0 && g->npending == 0 &&
            now_ms - g->state_ms >= keep) {
            if (gone) gone(ud, g);
            bk_groups_remove(gs, g);
        }
    }
}
