/* consumer_broker.c - the broker side of KIP-848 consumer groups: their
 * limits from the broker config (group.consumer.*), topics from the
 * broker's table, and the hooks store.c calls (init, timer, free). */
#include <stdlib.h>
#include <string.h>

#include "server/coord/consumer.h"
#include "server/coord/coord.h"

typedef struct cfg_find {
    const char *name;
    const char *val;
    char buf[128];
} cfg_find;

static int cfg_find_fn(void *ud, const bk_config_entry *e) {
    cfg_find *f = ud;
    if (strcmp(e->name, f->name) || !e->value) return 0;
    snprintf(f->buf, sizeof f->buf, "%s", e->value);
    f->val = f->buf;
    return 1;
}

static int32_t cfg_i32(const bk_config *cfg, const char *name, int32_t def) {
    cfg_find f = {name, NULL, {0}};
    bk_config_describe_broker(cfg, cfg_find_fn, &f);
    if (!f.val) return def;
    long long v = strtoll(f.val, NULL, 10);
    return v > 0 && v <= INT32_MAX ? (int32_t)v : def;
}

static int topic_fn(void *ud, const char *name, bk_uuid *id, int32_t *nparts) {
    bk_broker *b = ud;
    bk_topic *t = bk_topic_find(b, bk_str_c(name));
    if (!t || t->deleted) return -1;
    *id = t->id;
    *nparts = t->nparts;
    return 0;
}

static void each_topic_fn(void *ud, void (*fn)(void *arg, const char *name), void *arg) {
    bk_broker *b = ud;
    for (size_t i = 0; i < b->topics_by_name.cap; i++) {
        bk_map_slot *s = &b->topics_by_name.slots[i];
        if (!s->key || !s->val) continue;
        bk_topic *t = s->val;
        if (!t->deleted && !t->internal) fn(arg, t->name);
    }
}

int bk_coord_consumer_init(bk_broker *b) {
    const bk_config *cfg = b->cfg;
    bk_cg_limits l;
    bk_cg_limits_defaults(&l);
    l.heartbeat_interval_ms =
        cfg_i32(cfg, "group.consumer.heartbeat.interval.ms", l.heartbeat_interval_ms);
    l.session_timeout_ms = cfg_i32(cfg, "group.consumer.session.timeout.ms", l.session_timeout_ms);
    l.max_size = cfg_i32(cfg, "group.consumer.max.size", l.max_size);
    cfg_find f = {"group.consumer.assignors", NULL, {0}};
    bk_config_describe_broker(cfg, cfg_find_fn, &f);
    if (f.val && !strncmp(f.val, "range", 5)) {
        l.assignors[0] = "range";
        l.assignors[1] = "uniform";
    }
    bk_cg_ops ops = {topic_fn, each_topic_fn, b};
    b->groups->cgroups = bk_cgroups_new(&l, &ops);
    return b->groups->cgroups ? 0 : -1;
}

void bk_coord_consumer_free(bk_broker *b) {
    if (!b->groups) return;
    bk_cgroups_free(b->groups->cgroups);
    b->groups->cgroups = NULL;
}

void bk_coord_consumer_expire(bk_broker *b, int64_t now_ms) {
    bk_groups *gs = b->groups;
    bk_cgroups *cgs = gs ? gs->cgroups : NULL;
    if (!cgs || gs->unloaded) return;
    for (size_t i = 0; i < cgs->by_id.cap; i++) {
        bk_map_slot *s = &cgs->by_id.slots[i];
        if (!s->key || !s->val) continue;
        bk_cgroup *cg = s->val;
        if (cg->nmembers || now_ms - cg->empty_ms < gs->limits.offsets_retention_ms) continue;
        bk_group *g = bk_groups_find(gs, cg->id);
        if (g && (g->noffsets || g->nmembers)) continue;
        bk_logf(BK_LV_INFO, "consumer group %s: empty with no offsets, deleted", cg->id);
        bk_coord_consumer_delete(b, cg); /* the map slot is emptied, not moved */
    }
}
